"""``manage.py taskmanager <subcommand>``: operate django-eztaskmanager from the shell."""

from django.core.management.base import BaseCommand, CommandError

from eztaskmanager import conf


class Command(BaseCommand):
    help = "Operate django-eztaskmanager: run the scheduler, sync schedules with Redis."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)

        scheduler = sub.add_parser(
            "scheduler",
            help="Run the scheduler: punctual, safe to run twice, synced with the database.",
        )
        scheduler.add_argument("--queue", default=None, help="RQ queue (default: the setting).")
        scheduler.add_argument(
            "--interval", type=float, default=0.2, help="Seconds between checks (default 0.2)."
        )
        scheduler.add_argument(
            "--sync-interval",
            type=float,
            default=60.0,
            help="Seconds between syncs of Redis with the Task table (default 60; 0 disables).",
        )
        scheduler.add_argument("--burst", action="store_true", help="One pass, then exit.")

        sub.add_parser("sync", help="Make the scheduled jobs in Redis match the Task table.")

    def handle(self, *args, **options):
        handler = getattr(self, f"handle_{options['subcommand']}")
        return handler(**options)

    def handle_scheduler(self, queue, interval, sync_interval, burst, **options):
        from rq_scheduler.utils import setup_loghandlers

        from eztaskmanager.services.scheduler import run_scheduler

        if interval <= 0:
            raise CommandError("--interval must be positive.")
        setup_loghandlers("DEBUG" if options["verbosity"] >= 2 else "INFO")
        run_scheduler(
            queue_name=queue or conf.get("QUEUE_NAME"),
            interval=interval,
            sync_interval=sync_interval,
            burst=burst,
        )

    def handle_sync(self, **options):
        from eztaskmanager.services.queues import TaskQueueException
        from eztaskmanager.services.sync import sync_schedules

        try:
            result = sync_schedules()
        except TaskQueueException as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Schedules synced: {result}.")
