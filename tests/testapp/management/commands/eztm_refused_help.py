from django.core.management.base import BaseCommand


class Command(BaseCommand):
    """Only ever refused by the tests (inactive row, excluded): its help must not be imported."""

    help = "A command the tests refuse (test command)."

    def handle(self, *args, **options):
        pass
