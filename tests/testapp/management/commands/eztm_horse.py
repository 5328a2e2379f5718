import logging
import os
import sys

from django.db import DatabaseError, connection
from django.db.backends.signals import connection_created
from django.utils import timezone, translation

from eztaskmanager.services.logger import LoggerEnabledCommand

HELD = []  # memory grown by --grow stays with the process
OPENED = [0]  # database connections this process opened since this module was imported


def count_connection(sender, **kwargs):
    OPENED[0] += 1


connection_created.connect(count_connection, dispatch_uid="eztm_horse_count_connection")


class Command(LoggerEnabledCommand):
    help = "Log the process it runs in and what a run may leave behind (test command)."

    def add_arguments(self, parser):
        parser.add_argument("--leak", action="store_true", help="change the process's state")
        parser.add_argument("--exit", type=int, default=None, help="os._exit with this code")
        parser.add_argument("--grow", type=int, default=0, help="hold this many MB more")
        parser.add_argument("--db-error", action="store_true", help="run a statement that fails")

    def handle(self, *args, **options):
        root = logging.getLogger()
        self.logger.warning("pid=%s", os.getpid())
        self.logger.warning("connection=%s", OPENED[0])
        if options["db_error"]:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT * FROM eztm_no_such_table")
            except DatabaseError as exc:
                self.logger.warning("database error: %s", exc)
        self.logger.warning(
            "language=%s tz=%s root_handlers=%s argv0=%s",
            translation.get_language(),
            timezone.get_current_timezone_name(),
            len(root.handlers),
            sys.argv[:1],
        )
        if options["grow"]:
            HELD.append(bytearray(os.urandom(1024)) * (options["grow"] * 1024))
        if options["leak"]:
            translation.activate("it")
            timezone.activate("Asia/Tokyo")
            root.addHandler(logging.NullHandler())
            sys.argv[:] = ["leaked"]
        if options["exit"] is not None:
            os._exit(options["exit"])
