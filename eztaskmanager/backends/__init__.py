"""Transports: how a run reaches a worker. No ORM here: a backend moves jobs, nothing else.

A backend enqueues a job now, stores one for a due time, cancels and stops jobs, holds the
per-task run lock and reports on the queue's health. ``RQBackend`` uses RQ and rq-scheduler;
``ImmediateBackend`` runs a job in the calling process. The setting
``EZTASKMANAGER_QUEUE_SERVICE_TYPE`` picks one (``"RQ"``, ``"immediate"`` or a dotted path).
Capability flags say what a backend can do, as Django's task backends do.
"""

from __future__ import annotations

from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from eztaskmanager import conf
from eztaskmanager.backends.base import (
    JOB_PREFIX,
    RETRY_PREFIX,
    RUN_FUNCTION,
    STOPPED_CALLBACK,
    Backend,
    BackendError,
    Job,
    cannot_schedule,
    job_id_for,
    task_id_of,
)
from eztaskmanager.backends.immediate import ImmediateBackend
from eztaskmanager.backends.rq import RQBackend

BACKENDS = {"RQ": RQBackend, "immediate": ImmediateBackend}


def backend_class(kind: str | None = None) -> type:
    """The class named by ``EZTASKMANAGER_QUEUE_SERVICE_TYPE`` (a backend or a queue service)."""
    kind = kind or conf.get("QUEUE_SERVICE_TYPE")
    if kind in BACKENDS:
        return BACKENDS[kind]
    try:
        return import_string(kind)
    except ImportError as exc:
        raise BackendError(
            _("Unknown EZTASKMANAGER_QUEUE_SERVICE_TYPE %(kind)r.") % {"kind": kind}
        ) from exc


def get_backend() -> Backend:
    """The backend the settings name; a queue-service class given by path brings its own."""
    found = backend_class()
    if isinstance(found, type) and issubclass(found, Backend):
        return found()
    backend = getattr(found(), "backend", None)
    if not isinstance(backend, Backend):
        raise BackendError(
            _("EZTASKMANAGER_QUEUE_SERVICE_TYPE %(kind)r is neither a backend nor a queue service.")
            % {"kind": conf.get("QUEUE_SERVICE_TYPE")}
        )
    return backend


__all__ = [
    "BACKENDS",
    "JOB_PREFIX",
    "RETRY_PREFIX",
    "RUN_FUNCTION",
    "STOPPED_CALLBACK",
    "Backend",
    "BackendError",
    "ImmediateBackend",
    "Job",
    "RQBackend",
    "backend_class",
    "cannot_schedule",
    "get_backend",
    "job_id_for",
    "task_id_of",
]
