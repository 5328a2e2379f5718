from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from eztaskmanager.compat import deprecated


class EztaskmanagerConfig(AppConfig):
    name = "eztaskmanager"
    verbose_name = _("Task manager")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the checks and the receivers (follow-up tasks, missed-run recoveries).
        from eztaskmanager import checks, signals  # noqa: F401

        # The models import nothing above them: what they hand over to the logger and to the
        # 0.5.x notification handlers is registered here.
        from eztaskmanager.compat import handlers, levels, logs

        handlers.register()
        levels.register()
        logs.register()


class EZTaskmanagerConfig(EztaskmanagerConfig):
    """Deprecated: 0.5.x's name of the app config, for ``INSTALLED_APPS`` that spell it out."""

    default = False  # "eztaskmanager" alone keeps choosing EztaskmanagerConfig

    def ready(self):
        super().ready()
        deprecated("eztaskmanager.apps.EZTaskmanagerConfig", '"eztaskmanager" in INSTALLED_APPS')
