from eztaskmanager.services.logger import LoggerEnabledCommand


class Command(LoggerEnabledCommand):
    help = "Allocate about N MB of small and large objects, log a line, free them (benchmark)."

    def add_arguments(self, parser):
        parser.add_argument("megabytes", type=int, nargs="?", default=8)

    def handle(self, *args, **options):
        size = options["megabytes"] * 1024 * 1024
        blob = bytearray(size // 2)  # one large block
        pieces = [str(i) * 8 for i in range(size // 2 // 64)]  # many small objects
        table = {i: piece for i, piece in enumerate(pieces[:10_000])}
        self.logger.info("held %s bytes in %s objects", len(blob), len(pieces) + len(table))
        del blob, pieces, table
