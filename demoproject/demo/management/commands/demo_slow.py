import time

from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "A slow job that logs a line every second for over a minute, with progress."

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, default=75, help="Number of one-second steps.")
        parser.add_argument("--pause", type=float, default=1.0, help="Seconds between steps.")

    def handle(self, *args, **options):
        steps = options["steps"]
        self.logger.info("Starting %d steps", steps)
        for step in range(1, steps + 1):
            time.sleep(options["pause"])
            self.logger.info("step %d of %d done", step, steps)
            self.progress(step, steps)
        self.logger.info("All steps done")
