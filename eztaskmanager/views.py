"""The 0.5.x import path of the views: ``eztaskmanager.web.views``.

0.5.x's view classes (``LogViewerView``, ``LiveLogViewerView``, ``AjaxReadLogLines``) are served,
with a deprecation warning, by ``compat.views`` over the functions of ``web.views``.
"""

from eztaskmanager.web import views as _views


def __getattr__(name: str):
    from eztaskmanager.compat import views as legacy_views

    if not name.startswith("_") and hasattr(_views, name):
        return getattr(_views, name)
    return legacy_views.module_attribute(name, vars(_views))
