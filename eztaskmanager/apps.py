from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EztaskmanagerConfig(AppConfig):
    name = "eztaskmanager"
    verbose_name = _("Task manager")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from eztaskmanager import checks, signals  # noqa: F401  (registers checks and receivers)
