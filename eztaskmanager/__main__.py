"""``python -m eztaskmanager [--redis-url URL] <management command> [args]``: run one of the
project's management commands, first pointing every queue of ``RQ_QUEUES`` at the Redis at
``URL``. ``taskmanager devserver`` starts its children this way on its embedded Redis; this
module imports nothing that needs Django set up first."""

from __future__ import annotations

import sys

# Keys of an RQ_QUEUES entry that say where Redis is; they give way to the embedded URL.
CONNECTION_KEYS = {
    "URL",
    "HOST",
    "PORT",
    "DB",
    "USERNAME",
    "PASSWORD",
    "UNIX_SOCKET_PATH",
    "SENTINELS",
    "MASTER_NAME",
    "SENTINEL_KWARGS",
    "SOCKET_TIMEOUT",
    "SSL",
    "SSL_CERT_REQS",
    "USE_REDIS_CACHE",
    "CONNECTION_KWARGS",
    "REDIS_CLIENT_KWARGS",
}


def point_queues_at(queues: dict, url: str) -> dict:
    """``RQ_QUEUES`` with every queue on the Redis at ``url`` (other options kept)."""
    return {
        name: {**{k: v for k, v in config.items() if k not in CONNECTION_KEYS}, "URL": url}
        for name, config in (queues or {}).items()
    }


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--redis-url"]:
        from django.conf import settings

        settings.RQ_QUEUES = point_queues_at(getattr(settings, "RQ_QUEUES", {}), args[1])
        args = args[2:]
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *args])


if __name__ == "__main__":
    main()
