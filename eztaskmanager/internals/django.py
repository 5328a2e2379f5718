"""Django internals: its SQL compiler, two management helpers and one admin helper.

Django documents the ORM's public API, not the query classes and compilers under it, nor
``django.core.management``'s command registry or ``django.contrib.admin.utils``. What
eztaskmanager uses of them is here only, each with why, and ``tests/test_internals.py`` checks
each against the installed Django:

* ``delete_sql`` / ``raw_delete``: ``QuerySet._raw_delete(using)`` deletes the rows of a
  queryset in one ``DELETE`` without collecting them, sending signals or cascading (the ORM's
  public ``delete()`` reads every row first); ``statements`` compiles that statement once per
  process and runs it again with other ids, which needs its SQL: a ``DeleteQuery`` compiled by
  ``query.get_compiler(using).as_sql()`` is what ``_raw_delete`` runs.
* ``insert_sql``: the ``INSERT`` that saving a new object runs, compiled without running it
  (``sql.InsertQuery``, ``insert_values``), so that a warm worker has its compiler ready
  (``warmup``); ``Model.save`` has no way to compile only.
* ``get_commands`` and ``load_command_class``: the names of the installed management commands
  with their apps, and a command's instance. ``call_command`` is the only documented entry; the
  admin lists, checks and parses commands without running them.
* ``unquote``: the admin's decoding of an object id taken from its URLs, as its own views do
  before ``ModelAdmin.get_object``.
* ``in_atomic_block`` and ``open_connections``: ``connection.in_atomic_block`` and
  ``connections.all(initialized_only=True)``, read to close broken connections after a database
  outage and to defer a Redis write to the commit. The documented ``get_autocommit()`` opens a
  connection (what must not happen while the database is away) and cannot tell an atomic block
  from autocommit turned off by hand; a plain ``connections.all()`` makes a connection object
  for every database of the settings, used or not, in the calling thread.
* ``connection_worn`` and ``recheck_at_next_use``: what Django's
  ``close_if_unusable_or_obsolete()`` reads of a connection between two requests (autocommit
  left changed, ``errors_occurred``, ``close_at`` from ``CONN_MAX_AGE``) and the flag
  (``health_check_done``) that has ``CONN_HEALTH_CHECKS`` check it at its next use. A
  ``WarmTaskWorker``'s horse applies them between two runs, except ``CONN_MAX_AGE = 0``
  (closed after every request: the horse keeps its connection), which only that function
  knows as a whole.
* ``quote_name`` and ``db_datetime``: the database backend's ``connection.ops.quote_name`` and
  ``adapt_datetimefield_value``, for the log rows written with one ``executemany`` (the ORM's
  ``bulk_create`` caps a statement at the backend's parameter limit).
* ``missing_object_redirect``: ``ModelAdmin._get_obj_does_not_exist_redirect``, what the
  admin's own views answer for an object id with no object (a warning, in the admin's words
  and translations, and the admin's index); the task's launch and stop buttons answer alike.
"""

from __future__ import annotations

import time

from django.core.management import get_commands, load_command_class
from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.sql import DeleteQuery, InsertQuery

__all__ = [
    "delete_sql",
    "get_commands",
    "db_datetime",
    "in_atomic_block",
    "insert_sql",
    "load_command_class",
    "missing_object_redirect",
    "open_connections",
    "quote_name",
    "raw_delete",
    "unquote",
]


def unquote(object_id: str) -> str:
    """An object id as the admin's URLs carry it, decoded (``django.contrib.admin.utils``)."""
    from django.contrib.admin.utils import unquote as admin_unquote  # the admin, when used

    return admin_unquote(object_id)


def in_atomic_block(connection) -> bool:
    """Whether ``connection`` is inside ``transaction.atomic()`` (it is not opened to tell)."""
    return connection.in_atomic_block


def open_connections() -> list:
    """The connections this thread has used (databases it never touched are left alone)."""
    return connections.all(initialized_only=True)


def connection_worn(connection) -> bool:
    """Whether open ``connection`` may not serve more work: autocommit left changed, an error
    that may have broken it (``errors_occurred``: not a data or integrity error), or older than
    a positive ``CONN_MAX_AGE``."""
    max_age = connection.settings_dict.get("CONN_MAX_AGE")
    return (
        connection.get_autocommit() != connection.settings_dict["AUTOCOMMIT"]
        or connection.errors_occurred
        or bool(
            max_age and connection.close_at is not None and time.monotonic() >= connection.close_at
        )
    )


def recheck_at_next_use(connection) -> None:
    """Have ``CONN_HEALTH_CHECKS`` (when on) check ``connection`` again before its next query."""
    connection.health_check_done = False


def quote_name(connection, name: str) -> str:
    """``name`` quoted as a table or column name for ``connection``'s database."""
    return connection.ops.quote_name(name)


def db_datetime(connection, value):
    """An aware datetime as ``connection``'s driver takes it for a datetime column."""
    return connection.ops.adapt_datetimefield_value(value)


def missing_object_redirect(model_admin, request, object_id: str):
    """The admin's own answer to ``object_id`` naming no object of ``model_admin``'s model."""
    return model_admin._get_obj_does_not_exist_redirect(request, model_admin.opts, object_id)


def raw_delete(queryset: QuerySet, using: str) -> int:
    """Delete the rows of ``queryset`` in one statement, without signals; the rows deleted."""
    return queryset._raw_delete(using)


def delete_sql(queryset: QuerySet, using: str) -> tuple[str, list]:
    """The SQL and parameters of the statement ``raw_delete(queryset, using)`` runs."""
    query = queryset.query.clone()
    query.__class__ = DeleteQuery
    sql, params = query.get_compiler(using).as_sql()
    return sql, list(params)


def insert_sql(obj) -> list[tuple[str, tuple]]:
    """The ``(sql, params)`` of the ``INSERT`` that saving the new ``obj`` runs (compiled, not
    run)."""
    model = type(obj)
    meta = model._meta
    fields = [
        f
        for f in meta.local_concrete_fields
        if f is not meta.auto_field and not getattr(f, "generated", False)
    ]
    query = InsertQuery(model)
    query.insert_values(fields, [obj])
    return query.get_compiler(using=router.db_for_write(model)).as_sql()
