"""0.5.x's class-based log views, as thin wrappers around the function views.

Each wrapper calls the view function with the same request, so the login, permission and method
checks are the function's own. ``eztaskmanager.views`` hands its functions over when a class is
asked for (``module_attribute``): this module does not import it back.
"""

from __future__ import annotations

from django.views import View

from eztaskmanager.compat import deprecated


class LegacyReportView(View):
    """Base of the wrappers: ``function_name`` names the view function in ``views``."""

    function_name = ""
    view_functions: dict = {}  # the functions of ``eztaskmanager.views``, by name

    def dispatch(self, request, *args, **kwargs):
        return self.view_functions[self.function_name](request, pk=kwargs["pk"])


class LogViewerView(LegacyReportView):
    function_name = "log_viewer"


class LiveLogViewerView(LegacyReportView):
    function_name = "live_log_viewer"


class AjaxReadLogLines(LegacyReportView):
    function_name = "ajax_read_log_lines"


CLASSES = {cls.__name__: cls for cls in (LogViewerView, LiveLogViewerView, AjaxReadLogLines)}


def module_attribute(name: str, view_functions: dict):
    """The deprecated view class ``name`` of ``eztaskmanager.views`` (warns once), calling the
    functions of ``view_functions`` (that module's namespace)."""
    if name not in CLASSES:
        raise AttributeError(f"module 'eztaskmanager.views' has no attribute {name!r}")
    cls = CLASSES[name]
    LegacyReportView.view_functions = view_functions
    deprecated(
        f"eztaskmanager.views.{name}",
        f"eztaskmanager.views.{cls.function_name} (URL name eztaskmanager:{cls.function_name})",
        stacklevel=4,
    )
    return cls
