"""The 0.5.x import path of the notification handlers: ``eztaskmanager.notifications``.

Settings that name a handler by this path (``...services.notifications.EmailNotificationHandler``)
keep working; the 0.5.x names that are gone are served, with a deprecation warning, by
``compat.notifications``.
"""

from eztaskmanager import notifications
from eztaskmanager.compat import notifications as legacy_notifications
from eztaskmanager.notifications import *  # noqa: F403 - the 0.5.x path of every public name

# 0.5.x names (deprecated), served on first use.
__getattr__ = legacy_notifications.module_attribute

__all__ = list(notifications.__all__)
