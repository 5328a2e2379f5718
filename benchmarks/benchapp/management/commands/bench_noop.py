from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Do nothing (benchmark command)."

    def handle(self, *args, **options):
        pass
