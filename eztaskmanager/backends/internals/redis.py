"""redis-py connection pool attributes read to describe a client or build one like it.

redis-py documents how to build a client, not how to read back what a client was built with.
``ConnectionPool.connection_kwargs`` (where a client points, its time-outs) and
``ConnectionPool.connection_class`` are undocumented attributes (and, for a Sentinel client,
``SentinelConnectionPool.service_name``, ``sentinel_manager``, ``is_master`` and
``check_connection``); this module is the only place that reads them, and
``tests/test_internals.py`` checks them against the installed redis-py.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool


def pool_settings(client) -> dict:
    """The keyword arguments ``client``'s connections are opened with (host, port, time-outs)."""
    return client.connection_pool.connection_kwargs


def quick_client(client, timeout: float):
    """A client like ``client`` that tries once and gives up after ``timeout`` seconds."""
    pool = client.connection_pool
    kwargs = {
        **pool.connection_kwargs,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),  # a status must not wait seconds on a Redis that is down
    }
    if isinstance(pool, SentinelConnectionPool):
        # Its master's address comes from the sentinels: a pool of its own kind, on the same
        # sentinels (the pool's proxy, in its connection_kwargs, is made anew).
        kwargs.pop("connection_pool", None)
        quick = SentinelConnectionPool(
            pool.service_name,
            pool.sentinel_manager,
            is_master=pool.is_master,
            check_connection=pool.check_connection,
            connection_class=pool.connection_class,
            **kwargs,
        )
    else:
        quick = pool.__class__(connection_class=pool.connection_class, **kwargs)
    return redis.Redis(connection_pool=quick)
