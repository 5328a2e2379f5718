"""System checks: a bad setting is explained by ``manage.py check`` before anything runs."""

from django.core.checks import Error, register
from django.utils.module_loading import import_string

from eztaskmanager import conf


@register()
def check_queue_service(app_configs, **kwargs):
    from eztaskmanager.services.queues import SERVICES

    kind = conf.get("QUEUE_SERVICE_TYPE")
    if kind in SERVICES:
        return []
    try:
        import_string(kind)
    except ImportError:
        return [
            Error(
                f"EZTASKMANAGER_QUEUE_SERVICE_TYPE is {kind!r}: not one of "
                f"{sorted(SERVICES)} nor an importable class.",
                id="eztaskmanager.E001",
            )
        ]
    return []
