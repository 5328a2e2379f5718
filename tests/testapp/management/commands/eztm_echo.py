from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Log back the arguments it received (test command)."

    def add_arguments(self, parser):
        parser.add_argument("items", nargs="*")
        parser.add_argument("--title", default="")
        parser.add_argument("--tag", action="append", default=[])
        parser.add_argument("--pair", nargs=2)
        parser.add_argument("--count", type=int, default=0)
        parser.add_argument("--shout", action="store_true")

    def handle(self, *args, **options):
        self.logger.warning("items=%r", options["items"])
        self.logger.warning("title=%r", options["title"])
        self.logger.warning("tags=%r", options["tag"])
        self.logger.warning("pair=%r", options["pair"])
        self.logger.warning("count=%r shout=%r", options["count"], options["shout"])
