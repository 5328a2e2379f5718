from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Imports rows, some of which are skipped with a warning."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=10)
        parser.add_argument("--skip-every", type=int, default=4)

    def handle(self, *args, **options):
        for row in range(1, options["rows"] + 1):
            if row % options["skip_every"] == 0:
                self.logger.warning("row %d skipped: missing postcode", row)
            else:
                self.logger.info("row %d imported", row)
        self.logger.info("Import finished")
