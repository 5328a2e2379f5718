"""Template filters of django-eztaskmanager: ``{% load eztaskmanager %}``."""

from django import template

from eztaskmanager.models import LaunchReport

register = template.Library()


@register.filter
def result_label(result: str | None) -> str:
    """The translated label of a run result; "running" for a run without one, "queued" for a
    launch no worker has started yet."""
    return LaunchReport.state_label(result)
