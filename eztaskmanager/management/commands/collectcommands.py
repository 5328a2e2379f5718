"""Bring the AppCommand table in step with the project's management commands."""

from django.core.management.base import BaseCommand

from eztaskmanager.core import policy
from eztaskmanager.operations.commands import collect_commands


class Command(BaseCommand):
    help = (
        "Add the project's management commands as AppCommand rows, mark vanished ones inactive "
        "(history is kept) and leave out commands unsafe to start from a web page."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--excludecore",
            action="store_true",
            help="Leave out Django's own commands (django.core and django.contrib apps), "
            "except those EZTASKMANAGER_ALLOWED_COMMANDS names.",
        )

    def handle(self, *args, **options):
        for name in policy.overridden_allowed():
            self.stderr.write(
                f"{name!r} is in EZTASKMANAGER_ALLOWED_COMMANDS, but the built-in deny list "
                "refuses it all the same: it is not collected, and no task may run it."
            )
        outcome = collect_commands(exclude_core=options["excludecore"])
        for label, names in outcome.items():
            if names:
                self.stdout.write(f"{label}: {', '.join(sorted(names))}")
        self.stdout.write(
            "Commands: {} added, {} reactivated, {} deactivated, {} unchanged.".format(
                *(len(outcome[k]) for k in ("added", "reactivated", "deactivated", "unchanged"))
            )
        )
