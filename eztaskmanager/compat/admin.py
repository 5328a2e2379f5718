"""0.5.x's change-form buttons: a POST with ``_start-task`` or ``_stop-task`` saves the task,
then launches or stops it, with the permission checks of the Launch and Stop buttons."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from eztaskmanager.compat import deprecated
from eztaskmanager.internals.django import unquote

BUTTONS = {"_start-task": "launch", "_stop-task": "stop"}


def pressed_button(model_admin, request, object_id) -> str | None:
    """The 0.5.x button a change-form POST carries, if any (None on the add form)."""
    if request.method != "POST" or object_id is None:
        return None
    button = next((name for name in BUTTONS if name in request.POST), None)
    if button is not None and not model_admin.has_launch_permission(request):
        raise PermissionDenied  # before anything is saved
    return button


def press(model_admin, request, object_id, button: str, response):
    """After ``response`` (a redirect) to the form's POST: launch or stop the saved task and go
    back to its change page; ``response`` itself when there is no such task."""
    deprecated(
        f"the admin POST name {button!r}",
        f"the task's {BUTTONS[button]} URL (admin:eztaskmanager_task_{BUTTONS[button]})",
    )
    task = model_admin.get_object(request, unquote(object_id))
    if task is None:
        return response  # the admin's own "does not exist" redirect
    if not model_admin.has_view_or_change_permission(request, task):
        raise PermissionDenied
    getattr(model_admin, BUTTONS[button])(request, [task])
    return redirect(model_admin.admin_url("change", task.pk))


class LegacyButtonsMixin:
    """Goes before ``TaskOperationsMixin`` in the task admin's bases: the task is saved (and its
    schedule applied) by the change form first, then launched or stopped."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        button = pressed_button(self, request, object_id)
        response = super().changeform_view(request, object_id, form_url, extra_context)
        if button and response.status_code == 302:  # saved
            return press(self, request, object_id, button, response)
        return response
