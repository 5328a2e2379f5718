"""fakeredis's TCP server, made to pass for a real Redis in front of rq (``taskmanager devserver``).

fakeredis is an optional dependency (the ``devserver`` extra): only the devserver's embedded
Redis uses it, and ``tcp_server`` says how to install it when it is missing.

Why internals: fakeredis documents ``TcpFakeServer`` (a ``socketserver.ThreadingTCPServer``)
but not its request handler. Two of its answers differ from a real Redis server's, and rq
trips on them; ``redis_like_handler`` wraps the handler to fix them, reaching into:

* the handler's ``current_client`` (a ``FakeRedisConnection``, built in ``setup()``) and its
  socket's ``_client_info`` dict: fakeredis stores client addresses as Python tuples, and
  ``CLIENT INFO`` then writes ``addr=('127.0.0.1', 5000)``, whose blank breaks redis-py's
  parser of the reply (every RQ worker asks for it at start); here they are ``host:port``;
* ``current_client.read_response``: older fakeredis versions closed the connection after an
  error reply (an unknown command such as ``INFO``, which RQ tries; ``NOSCRIPT``). A real Redis
  keeps it open, and clients expect it to; so does the wrapped handler.

``tests/test_internals.py`` checks both answers against the installed fakeredis.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

MISSING = (
    "No Redis is reachable and fakeredis is not installed: start Redis, or "
    "pip install 'django-eztaskmanager[devserver]' (or 'fakeredis[lua]') for an embedded one."
)


def tcp_server(address: tuple[str, int]):
    """A fakeredis ``TcpFakeServer`` on ``address``, answering as a real Redis does.

    Raises ImportError, with ``MISSING`` as its message, when fakeredis is not installed.
    """
    try:
        from fakeredis import TcpFakeServer
    except ImportError as exc:
        raise ImportError(MISSING) from exc
    server = TcpFakeServer(address)
    server.RequestHandlerClass = redis_like_handler(server.RequestHandlerClass)
    return server


def client_infos(client) -> list[dict]:
    """The ``CLIENT INFO`` dicts of a fakeredis connection (where the versions keep them)."""
    found = []
    for holder in (client, getattr(client, "_sock", None)):
        info = getattr(holder, "_client_info", None)
        if info is not None:
            found.append(info)
    get_socket = getattr(client, "get_socket", None)
    if get_socket is not None:
        info = getattr(get_socket(), "_client_info", None)
        if info is not None and all(info is not other for other in found):
            found.append(info)
    return found


def redis_like_handler(base):
    """fakeredis's request handler ``base``, answering ``CLIENT INFO`` and errors as Redis does."""

    class RedisLikeHandler(base):
        def setup(self):
            super().setup()
            client = self.current_client
            for info in client_infos(client):
                for key in ("addr", "laddr"):
                    value = info.get(key)
                    if isinstance(value, tuple | list):
                        info[key] = f"{value[0]}:{value[1]}"
            read_response = client.read_response

            def read_reply(**kwargs):
                try:
                    return read_response(**kwargs)
                except RedisConnectionError:
                    raise
                except Exception as exc:  # an error reply: sent to the client as it is
                    return exc

            client.read_response = read_reply

    return RedisLikeHandler
