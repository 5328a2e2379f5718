from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Log N INFO lines with progress, as README's example does (benchmark command)."

    def add_arguments(self, parser):
        parser.add_argument("n", type=int)

    def handle(self, *args, **options):
        total = options["n"]
        for i in self.track(range(1, total + 1)):
            self.logger.info("imported row %d of %d", i, total)
