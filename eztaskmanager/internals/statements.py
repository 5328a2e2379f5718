"""Statements compiled once per process: the ORM writes their SQL once, later calls only run it.

A run ends with the same two DELETE statements every time (pruning its task's old reports);
building and compiling them through the ORM costs more than running them. ``raw_delete``
compiles a statement once per key and database, with a stand-in id, and afterwards runs the
SQL with the real id in place of the stand-in (other parameters, constants of the statement,
are kept as compiled). When no parameter is the stand-in (a database backend that inlines
values, say), it keeps using the ORM every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from eztaskmanager.internals import django as django_internals

STAND_IN = -7_364_519  # an id no row has: it marks the parameters that carry the real id

_compiled: dict[tuple[Any, str], tuple[str, tuple] | None] = {}


def compile_delete(queryset: QuerySet, using: str) -> tuple[str, tuple] | None:
    """The SQL of ``django_internals.raw_delete(queryset, using)`` and its parameters, or None.

    None when no parameter is the stand-in id (the id was written into the SQL): then the SQL
    cannot be reused.
    """
    sql, params = django_internals.delete_sql(queryset, using)
    if STAND_IN not in params:
        return None
    return sql, tuple(params)


def raw_delete(key: Any, build: Callable[[int], QuerySet], ident: int, using: str) -> int:
    """``raw_delete(build(ident), using)``, compiled once per ``key``; return the rows deleted.

    ``build`` must give querysets of the same shape whatever the id: ``key`` names that shape.
    """
    if (key, using) not in _compiled:
        _compiled[(key, using)] = compile_delete(build(STAND_IN), using)
    compiled = _compiled[(key, using)]
    if compiled is None:
        return django_internals.raw_delete(build(ident), using)
    sql, params = compiled
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [ident if param == STAND_IN else param for param in params])
        return cursor.rowcount
