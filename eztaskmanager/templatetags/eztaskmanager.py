"""Template filters of django-eztaskmanager: ``{% load eztaskmanager %}``."""

from django import template
from django.utils.translation import gettext as _

from eztaskmanager.models import LaunchReport

register = template.Library()


@register.filter
def result_label(result: str | None) -> str:
    """The translated label of a run result; "running" for a run without one, "queued" for a
    launch no worker has started yet."""
    if result == "queued":
        return _("queued")
    if not result or result == "running":
        return _("running")
    return str(dict(LaunchReport.RESULT_CHOICES).get(result, result))
