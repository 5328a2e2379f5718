import argparse

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Write a line to the file --out names (test command with a FileType option)."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=argparse.FileType("w"))

    def handle(self, *args, **options):
        if options["out"] is not None:
            options["out"].write("written\n")
            options["out"].close()
