"""``manage.py taskmanager <subcommand>``: operate django-eztaskmanager from the shell.

The work is done in ``eztaskmanager.cli``, ``eztaskmanager.cli.tasks_as_code`` and
``eztaskmanager.cli.devserver``; this command parses options and prints.
"""

import argparse
import json

from django.core.management.base import BaseCommand, CommandError

from eztaskmanager import cli, conf
from eztaskmanager.backends import BackendError
from eztaskmanager.cli import tasks_as_code
from eztaskmanager.scheduler.sync import sync_schedules


def scheduling_parsers(sub) -> None:
    """``scheduler`` and ``sync``."""
    scheduler = sub.add_parser(
        "scheduler",
        help="Run the scheduler: punctual, safe to run twice, synced with the database.",
    )
    scheduler.add_argument("--queue", default=None, help="RQ queue (default: the setting).")
    scheduler.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="Longest wait between checks when nothing comes due sooner (default 1).",
    )
    scheduler.add_argument(
        "--sync-interval",
        type=float,
        default=60.0,
        help="Seconds between syncs of Redis with the Task table (default 60; 0 disables).",
    )
    scheduler.add_argument("--burst", action="store_true", help="One pass, then exit.")

    sub.add_parser("sync", help="Make the scheduled jobs in Redis match the Task table.")


def task_parsers(sub) -> None:
    """``list``, ``status``, ``run``, ``stop``, ``resume`` and ``logs``."""
    listing = sub.add_parser("list", help="Tasks with status, last result and next run.")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table.")

    status = sub.add_parser(
        "status", help="Queues, workers, schedulers, scheduled jobs and recent runs."
    )
    status.add_argument("--json", action="store_true", help="JSON instead of text.")

    run = sub.add_parser("run", help="Launch a task (by id or name) now.")
    run.add_argument("task", help="The task's id or exact name.")
    run.add_argument(
        "--sync",
        action="store_true",
        help="Run it here, in the foreground, echoing its log (the report is stored); "
        "the exit status is 1 when the run ends with errors or fails.",
    )
    run.add_argument(
        "--args",
        default=None,
        dest="arguments",
        help="Run it once with these arguments instead of the task's own (which stay as they "
        "are), written as in the task's arguments field; checked against the command's parser.",
    )

    stop = sub.add_parser(
        "stop", help="Stop a task (by id or name): pause its schedule, stop its runs."
    )
    stop.add_argument("task", help="The task's id or exact name.")
    resume = sub.add_parser(
        "resume", help="Resume a stopped task's schedule (by id or name) and apply it."
    )
    resume.add_argument("task", help="The task's id or exact name.")
    for subparser in (run, stop, resume):
        subparser.add_argument(
            "--user",
            default=None,
            help="Act as this user (who must be allowed to launch tasks) in the task's history; "
            "by default the command line's own actor.",
        )

    logs = sub.add_parser("logs", help="Print the log lines of a launch report.")
    logs.add_argument("report", type=int, help="The launch report's id.")
    logs.add_argument(
        "--follow", action="store_true", help="Keep printing new lines until the run ends."
    )
    logs.add_argument("--json", action="store_true", help="One JSON object per line.")


def declaration_and_devserver_parsers(sub) -> None:
    """``load``, ``export`` and ``devserver``."""
    load = sub.add_parser(
        "load",
        help="Create or update tasks from a YAML / JSON file, or from EZTASKMANAGER_TASKS.",
    )
    load.add_argument("file", nargs="?", help="A .json, .yaml or .yml file (default: the setting).")
    load.add_argument(
        "--dry-run", action="store_true", help="Show what would change; change nothing."
    )
    load.add_argument("--json", action="store_true", help="JSON instead of text.")
    load.add_argument(
        "--reactivate",
        action="store_true",
        help="Switch on again a command that was switched off, when a declaration names it.",
    )

    export = sub.add_parser("export", help="Write the tasks as declarations for `load`.")
    export.add_argument("--format", choices=["json", "yaml"], default="json")
    export.add_argument("--output", "-o", help="A file to write (default: standard output).")

    devserver = sub.add_parser(
        "devserver",
        help="Start the web server, an RQ worker and the scheduler together (for demos "
        "and development); Ctrl-C stops them all.",
    )
    devserver.add_argument(
        "addrport", nargs="?", default="127.0.0.1:8000", help="Web server address:port."
    )
    devserver.add_argument(
        "--embedded-redis",
        action="store_true",
        help="Use an in-memory fakeredis server even when the configured Redis answers.",
    )
    devserver.add_argument("--queue", default=None, help="RQ queue (default: the setting).")
    devserver.add_argument(
        "--banner", default="", help="A line printed with the address once all is up."
    )


def django_options(parser) -> None:
    """Django's own options, accepted after the subcommand too (``status --settings x``).

    Given here, they replace the value given before the subcommand; not given, they leave it.
    """
    keep = argparse.SUPPRESS  # no default: the value before the subcommand stays
    parser.add_argument(
        "-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=keep, help=keep
    )
    parser.add_argument("--settings", default=keep, help=keep)
    parser.add_argument("--pythonpath", default=keep, help=keep)
    for flag in ("--traceback", "--no-color", "--force-color", "--skip-checks"):
        parser.add_argument(flag, action="store_true", default=keep, help=keep)


class Command(BaseCommand):
    help = (
        "Operate django-eztaskmanager: list tasks, show status, run, stop, resume, read logs, "
        "load and "
        "export task declarations, run the scheduler, sync schedules, start the devserver."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        scheduling_parsers(sub)
        task_parsers(sub)
        declaration_and_devserver_parsers(sub)
        for subparser in sub.choices.values():
            django_options(subparser)

    def handle(self, *args, **options):
        if options["subcommand"] != "devserver":  # the devserver waits for what is missing
            cli.require_database()
        handler = getattr(self, f"handle_{options['subcommand']}")
        return handler(**options)

    def handle_scheduler(self, queue, interval, sync_interval, burst, **options):
        from eztaskmanager.scheduler.process import run_scheduler

        if interval <= 0:
            raise CommandError("--interval must be positive.")
        if burst:  # one pass: no waiting for Redis to come back
            cli.require_redis(queue or conf.get("QUEUE_NAME"))
        run_scheduler(
            queue_name=queue or conf.get("QUEUE_NAME"),
            interval=interval,
            sync_interval=sync_interval,
            burst=burst,
            verbose=options["verbosity"] >= 2,
        )

    def handle_sync(self, **options):
        cli.require_redis(conf.get("QUEUE_NAME"))
        try:
            result = sync_schedules()
        except BackendError as exc:
            raise CommandError(str(exc), returncode=cli.exit_code(exc)) from exc
        self.stdout.write(f"Schedules synced: {result}.")

    def handle_list(self, **options):
        tasks = cli.task_list()
        self.stdout.write(cli.to_json(tasks) if options["json"] else cli.format_task_list(tasks))

    def handle_status(self, **options):
        data = cli.status()
        self.stdout.write(cli.to_json(data) if options["json"] else cli.format_status(data))
        if not data["redis"]["reachable"] and cli.uses_redis():
            raise cli.unreachable(f"Redis at {data['redis']['location']} is not reachable.")

    def handle_run(self, task, sync, user, arguments=None, **options):
        if not sync:
            self.stdout.write(cli.launch(task, user, arguments=arguments))
            return
        cli.require_redis()  # the run lock is taken in Redis
        report = cli.run_in_foreground(task, self.stdout.write, user=user, arguments=arguments)
        self.stdout.write(cli.report_summary(report))
        if report.invocation_result in ("errors", "failed"):
            raise CommandError(f"The run ended with result {report.invocation_result!r}.")

    def handle_stop(self, task, user, **options):
        self.stdout.write(cli.stop(task, user))

    def handle_resume(self, task, user, **options):
        self.stdout.write(cli.resume(task, user))

    def handle_logs(self, report, follow, **options):
        cli.logs(report, self.stdout.write, follow=follow, as_json=options["json"])

    def handle_load(self, file, dry_run, **options):
        try:
            declarations = tasks_as_code.read_file(file) if file else tasks_as_code.from_settings()
            result = tasks_as_code.load_tasks(
                declarations, dry_run=dry_run, reactivate=options.get("reactivate", False)
            )
        except tasks_as_code.DeclarationError as exc:
            raise CommandError(
                "No task was changed:\n" + "\n".join(f"  {e}" for e in exc.errors)
            ) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        else:
            for line in result.lines():
                self.stdout.write(line)
        if result.schedule_errors:
            raise CommandError("The tasks were saved, but some schedules were not applied.")

    def handle_export(self, format, output, **options):
        try:
            text = tasks_as_code.dump(tasks_as_code.export_tasks(), format)
        except tasks_as_code.DeclarationError as exc:
            raise CommandError(str(exc)) from exc
        if output:
            with open(output, "w", encoding="utf-8") as stream:
                stream.write(text)
            self.stderr.write(f"Tasks written to {output}.")
        else:
            self.stdout.write(text, ending="")

    def handle_devserver(self, addrport, embedded_redis, queue, banner, **options):
        from eztaskmanager.cli.devserver import DevServer

        DevServer(
            addrport=addrport,
            queue_name=queue or conf.get("QUEUE_NAME"),
            embedded_redis=embedded_redis,
            write=self.stdout.write,
            banner=banner,
        ).run()
