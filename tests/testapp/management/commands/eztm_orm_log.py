from eztaskmanager.models import Log
from eztaskmanager.runs.logger import current_handler
from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Mix logger lines with Log rows saved through the ORM, as 0.5.x handlers did (test)."

    def add_arguments(self, parser):
        parser.add_argument("n", type=int)

    def handle(self, *args, **options):
        report_id = current_handler().launch_report_id
        for i in range(1, options["n"] + 1):
            self.logger.warning("logger line %d", i)
            Log.objects.create(launch_report_id=report_id, level="ERROR", message=f"orm row {i}")
