from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "A plain command writing to stdout and stderr (test command)."

    def handle(self, *args, **options):
        self.stdout.write("hello from stdout")
        self.stderr.write("complaint on stderr")
