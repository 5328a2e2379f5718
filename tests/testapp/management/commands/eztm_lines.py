import time

from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Log N lines at a level, optionally pausing between them (test command)."

    def add_arguments(self, parser):
        parser.add_argument("n", type=int)
        parser.add_argument(
            "--level", default="info", choices=["debug", "info", "warning", "error"]
        )
        parser.add_argument("--pause", type=float, default=0.0)
        parser.add_argument("--fail-at", type=int, default=0)

    def handle(self, *args, **options):
        log = getattr(self.logger, options["level"])
        total = options["n"]
        for i in range(1, total + 1):
            log("line %d of %d", i, total)
            self.progress(i, total)
            if options["fail_at"] and i == options["fail_at"]:
                raise RuntimeError(f"failed at line {i}")
            if options["pause"]:
                time.sleep(options["pause"])
