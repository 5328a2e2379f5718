from django.core.management.base import CommandError

from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Log a line, then fail (test command)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--how", default="exception", choices=["exception", "commanderror", "exit"]
        )

    def handle(self, *args, **options):
        self.logger.warning("about to fail")
        if options["how"] == "commanderror":
            raise CommandError("bad input given")
        if options["how"] == "exit":
            raise SystemExit(3)
        raise ValueError("boom")
