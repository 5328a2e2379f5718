import time

from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Sleep some seconds, logging before and after (test command)."

    def add_arguments(self, parser):
        parser.add_argument("seconds", type=float)

    def handle(self, *args, **options):
        self.logger.warning("sleeping %s s", options["seconds"])
        time.sleep(options["seconds"])
        self.logger.warning("woke up")
