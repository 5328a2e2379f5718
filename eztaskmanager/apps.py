from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EztaskmanagerConfig(AppConfig):
    name = "eztaskmanager"
    verbose_name = _("Task manager")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the checks and the receivers (follow-up tasks, missed-run recoveries).
        from eztaskmanager import alerts, checks, followups, signals  # noqa: F401
