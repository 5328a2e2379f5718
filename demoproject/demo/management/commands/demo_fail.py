from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Starts fine, then fails with an exception (to show failed runs)."

    def handle(self, *args, **options):
        self.logger.info("Connecting to the remote service")
        self.logger.error("The remote service answered 503")
        raise ConnectionError("remote service unavailable after 3 attempts")
