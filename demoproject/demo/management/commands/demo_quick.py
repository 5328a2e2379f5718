from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "A quick job: counts some records and reports them."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=25, help="How many records to count.")

    def handle(self, *args, **options):
        total = options["records"]
        self.logger.info("Counting %d records", total)
        for n in self.track(range(1, total + 1), total=total):
            self.logger.debug("record %d ok", n)
        self.logger.info("Done: %d records counted", total)
