from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from eztaskmanager.models import AppCommand, Task, TaskCategory

DEMO_TASKS = [
    ("Quick count", "demo_quick", "--records 40, --verbosity 2", "Demo"),
    ("Slow job with progress", "demo_slow", "--verbosity 2", "Demo"),
    ("Import with warnings", "demo_warnings", "--rows 12, --verbosity 2", "Imports"),
    ("Failing job", "demo_fail", "--verbosity 2", "Demo"),
    # A @task function (demo/tasks.py) instead of a command: JSON arguments.
    ("Summarise numbers", "demo.tasks.summarise", '{"args": [[3, 5, 8, 13]]}', "Demo"),
]


class Command(BaseCommand):
    help = "Create the demo admin user and demo tasks (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")

    def handle(self, *args, **options):
        call_command("collectcommands", "--excludecore", stdout=self.stdout)
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=options["username"],
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"},
        )
        if created:
            user.set_password(options["password"])
            user.save()
        made = 0
        for name, command, arguments, category in DEMO_TASKS:
            if not AppCommand.objects.filter(name=command, active=True).exists():
                continue  # a function without Django's task API installed
            category_row, _ = TaskCategory.objects.get_or_create(name=category)
            _, was_created = Task.objects.get_or_create(
                name=name,
                defaults={
                    "command": AppCommand.objects.get(name=command, active=True),
                    "arguments": arguments,
                    "category": category_row,
                },
            )
            made += was_created
        self.stdout.write(
            f"Demo ready: user {options['username']!r} "
            f"({'created' if created else 'kept'}), {made} task(s) created."
        )
