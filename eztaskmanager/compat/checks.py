"""System checks for what a 0.5.x project still writes the old way (warnings, not errors)."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.urls import URLPattern, URLResolver, get_resolver

from eztaskmanager import conf
from eztaskmanager.compat import OBSOLETE_SETTINGS, REMOVED_IN, levels, used_names
from eztaskmanager.compat.views import LegacyReportView


def level_problem(where: str, value) -> CheckMessage | None:
    """None for a level of this version; a warning for a 0.5.x spelling; else an error."""
    if value in levels.LEVELS:
        return None
    hint = f"Use one of {', '.join(levels.LEVELS)}."
    name = levels.level_name(value)
    if name is None:
        return Error(f"{where}: unknown level {value!r}.", hint=hint, id="eztaskmanager.E012")
    return Warning(
        f"{where}: level {value!r} is the 0.5.x spelling of {name!r}; it is read as {name!r} "
        f"until django-eztaskmanager {REMOVED_IN}.",
        hint=f'Write "level": "{name}".',
        id="eztaskmanager.W012",
    )


@register()
def check_obsolete_settings(app_configs, **kwargs):
    return [
        Warning(
            f"{conf.PREFIX}{key} is a 0.5.x setting this version does not use.",
            hint="Remove it from the settings.",
            id="eztaskmanager.W021",
        )
        for key in OBSOLETE_SETTINGS
        if hasattr(django_settings, conf.PREFIX + key)
    ]


@register()
def check_deprecated_names(app_configs, **kwargs):
    """Deprecated names the project used so far in this process, and URLs on 0.5.x views."""
    uses = used_names()
    for route, view_class in legacy_url_views():
        name = f"eztaskmanager.views.{view_class.__name__}"
        uses.pop(name, None)  # said below, with the URL that uses it
        uses[f"{name} (URL {route!r})"] = f"eztaskmanager.views.{view_class.function_name}"
    return [
        Warning(
            f"{name} is deprecated and goes away in django-eztaskmanager {REMOVED_IN}.",
            hint=f"Use {replacement}.",
            id="eztaskmanager.W020",
        )
        for name, replacement in sorted(uses.items())
    ]


def legacy_url_views() -> list[tuple[str, type]]:
    """``(route, view class)`` of every URL pattern served by a 0.5.x view class."""
    try:
        patterns = get_resolver().url_patterns
    except Exception:  # a broken URLconf is reported by Django's own checks
        return []
    return list(_walk(patterns, ""))


def _walk(patterns, prefix: str):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if isinstance(view_class, type) and issubclass(view_class, LegacyReportView):
                yield route, view_class
