"""Contract tests: what eztaskmanager uses of other libraries' internals is still there.

Each coupling (docs/internals.rst lists them) lives in one module, ``eztaskmanager/internals/``
for Django and argparse, ``eztaskmanager/backends/internals/`` for rq, rq-scheduler, redis-py and
fakeredis. Each test below checks one of them, by signature, attribute or behaviour, against
the installed library, and fails naming the library, its version and what changed.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
import threading
import time
import tomllib
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import django
import fakeredis
import pytest
import redis
import rq
from django.contrib import admin as django_admin
from django.contrib.admin.utils import quote
from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet
from django.db.models.sql import InsertQuery
from django.urls import reverse
from rq import Queue, Worker
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq_scheduler import Scheduler

from eztaskmanager.backends import Job
from eztaskmanager.backends import rq as rq_backend
from eztaskmanager.backends.internals import fakeredis as fakeredis_internals
from eztaskmanager.backends.internals import redis as redis_internals
from eztaskmanager.backends.internals import rq as rq_internals
from eztaskmanager.backends.internals import rq_scheduler as rq_scheduler_internals
from eztaskmanager.core import arguments
from eztaskmanager.internals import argparse as argparse_internals
from eztaskmanager.internals import django as django_internals

ROOT = Path(__file__).resolve().parent.parent
RQ = f"rq {rq.__version__}"
RQ_SCHEDULER = f"rq-scheduler {metadata.version('rq-scheduler')}"
REDIS_PY = f"redis-py {redis.__version__}"
FAKEREDIS = f"fakeredis {metadata.version('fakeredis')}"
DJANGO = f"Django {django.__version__}"
ARGPARSE = f"argparse of Python {sys.version.split()[0]}"


def broken(library: str, what: str, where: str) -> None:
    pytest.fail(f"{library}: {what}; see eztaskmanager/{where}", pytrace=False)


def parameters(function) -> list[str]:
    """The names of ``function``'s parameters after ``self``."""
    return list(inspect.signature(function).parameters)[1:]


def takes(function, names: list[str]) -> bool:
    """Whether ``function`` takes ``names`` first, in this order (or anything, by *args)."""
    params = list(inspect.signature(function).parameters.values())[1:]
    if params and params[0].kind is inspect.Parameter.VAR_POSITIONAL:
        return True
    return [p.name for p in params[: len(names)]] == names


# -- rq: the worker's methods that HookedWorker overrides or calls ------------------------------

RQ_WORKER_METHODS = {
    # name: the leading parameters its callers pass (rq 2 and 3 alike; rq 3 added `execution`
    # to maintain_heartbeats, which HookedWorker passes on untouched)
    "check_for_suspension": ["burst"],
    "run_maintenance_tasks": [],
    "set_state": ["state"],
    "maintain_heartbeats": ["job"],
    "execute_job": ["job", "queue"],
    "heartbeat": [],
    "fork_work_horse": ["job", "queue"],
    "handle_warm_shutdown_request": [],
    "request_force_stop": ["signum", "frame"],
    "kill_horse": [],
    "get_current_job_id": [],
    "handle_job_failure": ["job", "queue"],
    # the resident horse (WarmTaskWorker)
    "wait_for_horse": [],
    "perform_job": ["job", "queue"],
    "setup_work_horse_signals": [],
    "teardown": [],
}


@pytest.mark.parametrize("name", sorted(RQ_WORKER_METHODS))
def test_rq_worker_methods_that_hooked_worker_builds_on(name):
    method = getattr(Worker, name, None)
    if not callable(method):
        broken(RQ, f"Worker.{name} is gone", "backends/internals/rq.py")
    wanted = RQ_WORKER_METHODS[name]
    if not takes(method, wanted):
        broken(
            RQ,
            f"Worker.{name} takes {parameters(method)}, no longer {wanted}",
            "backends/internals/rq.py",
        )


def test_rq_execution_fetch_for_the_resident_horse():
    from rq.executions import Execution

    found = list(inspect.signature(Execution.fetch).parameters)  # a classmethod: no cls
    if found[:3] != ["id", "job_id", "connection"]:
        broken(RQ, f"Execution.fetch takes {found}", "backends/internals/rq.py")


def test_hooked_worker_wraps_every_step_it_names():
    for name in (*rq_internals.OUTLIVED_STEPS, "heartbeat"):
        if name not in vars(rq_internals.HookedWorker):
            pytest.fail(f"HookedWorker does not wrap {name}")


# Workers are built on the real Redis: rq 2.0 reads CLIENT LIST at start, which fakeredis answers
# without the client addresses rq expects.
def test_rq_worker_properties_horse_pid_and_dequeue_timeout(real_redis):
    for name in ("horse_pid", "dequeue_timeout"):
        if not isinstance(inspect.getattr_static(Worker, name, None), property):
            broken(RQ, f"Worker.{name} is no longer a property", "backends/internals/rq.py")
    worker = Worker([Queue("default", connection=real_redis)], connection=real_redis)
    if worker.horse_pid != 0 or not isinstance(worker.dequeue_timeout, int):
        broken(
            RQ,
            f"an idle worker's horse_pid is {worker.horse_pid!r} and its dequeue_timeout "
            f"{worker.dequeue_timeout!r} (expected 0 and an int)",
            "backends/internals/rq.py",
        )


def test_rq_worker_takes_a_work_horse_killed_handler(real_redis):
    if "work_horse_killed_handler" not in inspect.signature(Worker.__init__).parameters:
        broken(RQ, "Worker() takes no work_horse_killed_handler any more", "worker.py")
    from eztaskmanager.worker import TaskWorker

    seen = []
    worker = TaskWorker(
        [Queue("default", connection=real_redis)],
        connection=real_redis,
        work_horse_killed_handler=lambda *args: seen.append(args),
    )
    job = RQJob.create("eztaskmanager.tests.nothing", connection=real_redis, id="eztm-0-x")
    worker.handle_work_horse_killed(job, 1, 9, None)  # rq's own call of the handler
    if len(seen) != 1:
        broken(RQ, "the work_horse_killed_handler is not called with (job, ...)", "worker.py")


def test_hooked_worker_steps_miss_their_turn_while_redis_is_away(monkeypatch, real_redis):
    worker = rq_internals.HookedWorker(
        [Queue("default", connection=real_redis)], connection=real_redis
    )
    skipped = []
    monkeypatch.setattr(worker, "step_skipped", lambda step, exc: skipped.append(step))
    # Redis goes away: nothing listens on port 1.
    worker.connection = redis.Redis(port=1, socket_connect_timeout=0.2)
    worker.heartbeat()
    worker.set_state("idle")
    if skipped != ["heartbeat", "set_state"]:
        broken(
            RQ,
            f"Worker.heartbeat / set_state no longer reach Redis the way wrapped ({skipped})",
            "backends/internals/rq.py",
        )


# -- rq: job hashes, through the public Job.fetch_many -------------------------------------------


def test_rq_jobs_read_back_with_their_status_and_times(fake_redis):
    started = datetime.now(UTC) - timedelta(seconds=5)
    saved = RQJob.create(
        "eztaskmanager.tests.nothing",
        connection=fake_redis,
        id="eztm-1-started",
        status=JobStatus.STARTED,
    )
    saved.started_at = started
    saved.save()
    fake_redis.hset(RQJob.key_for("eztm-1-husk"), "last_heartbeat", "2026-01-01T00:00:00Z")
    found = rq_backend.fetch_jobs(fake_redis, ["eztm-1-started", "eztm-1-gone", "eztm-1-husk"])
    if found[1:] != [None, None]:
        broken(
            RQ,
            f"Job.fetch_many reads a missing or half-written job as {found[1:]}",
            "backends/rq.py",
        )
    job = found[0]
    if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
        broken(RQ, "Job.fetch_many no longer restores a job's status", "backends/rq.py")
    if not rq_backend._after(job.started_at, started - timedelta(seconds=1)):
        broken(RQ, f"a fetched job's started_at reads {job.started_at!r}", "backends/rq.py")


def test_rq_job_is_gone_once_its_hash_is_deleted(fake_redis):
    service_backend = rq_backend.RQBackend("default", connection=fake_redis)
    job = Job(job_id="eztm-6-cancelled", task_id=6, description="cancelled")
    service_backend.schedule_at(job, datetime.now(UTC) + timedelta(hours=1))
    service_backend.cancel(job.job_id)  # ZREM and DEL of Job.key_for(id), one round trip
    if RQJob.exists(job.job_id, connection=fake_redis):
        broken(RQ, "a job whose Job.key_for(id) hash is deleted still exists", "backends/rq.py")
    if service_backend.due_time(job.job_id) is not None:
        broken(RQ_SCHEDULER, "a cancelled job is still in the scheduled set", "backends/rq.py")


# -- rq-scheduler --------------------------------------------------------------------------------

RQ_SCHEDULER_METHODS = {
    "run": ["burst"],
    "heartbeat": [],
    "enqueue_jobs": [],
    "enqueue_job": ["job"],
    "register_birth": [],
    "register_death": [],
    "acquire_lock": [],
    "remove_lock": [],
    "cancel": ["job"],
}


@pytest.mark.parametrize("name", sorted(RQ_SCHEDULER_METHODS))
def test_rq_scheduler_methods_that_task_scheduler_overrides_or_calls(name):
    method = getattr(Scheduler, name, None)
    if not callable(method):
        broken(RQ_SCHEDULER, f"Scheduler.{name} is gone", "services/scheduler.py")
    wanted = RQ_SCHEDULER_METHODS[name]
    if not takes(method, wanted):
        broken(
            RQ_SCHEDULER,
            f"Scheduler.{name} takes {parameters(method)}, no longer {wanted}",
            "services/scheduler.py",
        )


def test_rq_scheduler_attributes_task_scheduler_reads(fake_redis):
    from rq_scheduler.utils import setup_loghandlers

    scheduler = Scheduler(queue=Queue("default", connection=fake_redis), connection=fake_redis)
    for name in ("key", "job_class", "queue_name", "log", "scheduled_jobs_key", "connection"):
        if not hasattr(scheduler, name):
            broken(RQ_SCHEDULER, f"a Scheduler has no {name} any more", "services/scheduler.py")
    if scheduler.job_class is not RQJob or scheduler.queue_name != "default":
        broken(RQ_SCHEDULER, "Scheduler.job_class / queue_name changed", "services/scheduler.py")
    if list(inspect.signature(setup_loghandlers).parameters)[:1] != ["level"]:
        broken(
            RQ_SCHEDULER,
            "rq_scheduler.utils.setup_loghandlers(level) changed",
            "services/scheduler.py",
        )


def test_rq_scheduler_keeps_its_interval_as__interval(fake_redis):
    scheduler = Scheduler(connection=fake_redis, interval=7)
    if getattr(scheduler, "_interval", None) != 7:
        broken(
            RQ_SCHEDULER,
            "Scheduler(interval=7) no longer keeps it as _interval",
            "backends/internals/rq_scheduler.py",
        )
    assert rq_scheduler_internals.interval_of(scheduler) == 7


def test_rq_scheduler_remove_lock_releases_only_a_lock_it_holds():
    server = fakeredis.FakeServer()
    connection = fakeredis.FakeRedis(server=server)
    holder, other = Scheduler(connection=connection), Scheduler(connection=connection)
    where = "backends/internals/rq_scheduler.py (used by services/outage.py)"
    assert holder.acquire_lock()
    other.remove_lock()
    if not connection.exists(Scheduler.scheduler_lock_key):
        broken(RQ_SCHEDULER, "remove_lock() releases a lock another scheduler holds", where)
    server.connected = False
    with pytest.raises(redis.ConnectionError):
        holder.remove_lock()
    server.connected = True
    holder.remove_lock()
    if connection.exists(Scheduler.scheduler_lock_key):
        broken(RQ_SCHEDULER, "after a failed release, remove_lock() no longer retries it", where)


def test_rq_scheduler_reads_our_exact_due_times_from_its_scheduled_set(fake_redis):
    where = "backends/internals/rq_scheduler.py"
    if rq_scheduler_internals.SCHEDULED_KEY != Scheduler.scheduled_jobs_key:
        broken(RQ_SCHEDULER, "Scheduler.scheduled_jobs_key changed", where)
    when = datetime.now(UTC).replace(microsecond=250_000) - timedelta(seconds=2)
    job = Job(job_id="eztm-5-due", task_id=5, description="due")
    rq_backend.write_scheduled(fake_redis, "default", [(job, when)])
    scheduler = Scheduler(queue=Queue("default", connection=fake_redis), connection=fake_redis)
    if job.job_id not in scheduler:
        broken(RQ_SCHEDULER, "a job in scheduled_jobs_key is not `in` the scheduler", where)
    [(listed, due)] = scheduler.get_jobs(with_times=True)
    if listed.id != job.job_id or abs(due.replace(tzinfo=UTC) - when) > timedelta(seconds=1):
        broken(RQ_SCHEDULER, f"get_jobs reads our due time {when} as {due}", where)
    scheduler.enqueue_jobs()
    if Queue("default", connection=fake_redis).job_ids != [job.job_id]:
        broken(RQ_SCHEDULER, "enqueue_jobs() does not enqueue a job we scheduled", where)


def test_rq_scheduler_instance_key_is_what_a_live_scheduler_writes(real_redis):
    where = "backends/internals/rq_scheduler.py (read by backends/rq.py _schedulers)"
    scheduler = Scheduler(connection=real_redis, interval=5, name="contract-test")
    scheduler.register_birth()
    try:
        keys = [key.decode() for key in real_redis.scan_iter(match="*contract-test*")]
        prefix = rq_scheduler_internals.INSTANCE_KEY_PREFIX
        if keys != [prefix + "contract-test"]:
            broken(RQ_SCHEDULER, f"a live scheduler is at {keys}, not {prefix}<name>", where)
        birth = real_redis.hget(keys[0], "birth")
        if birth is None or abs(float(birth) - time.time()) > 60:
            broken(RQ_SCHEDULER, f"register_birth() writes birth={birth!r}", where)
        if [s["name"] for s in rq_backend._schedulers(real_redis)] != ["contract-test"]:
            broken(RQ_SCHEDULER, "taskmanager status does not see a live scheduler", where)
    finally:
        scheduler.register_death()
    if rq_backend._schedulers(real_redis) != []:
        broken(RQ_SCHEDULER, "register_death() no longer writes a death field", where)


# -- redis-py ------------------------------------------------------------------------------------


def test_redis_pool_settings_and_a_quick_client_like_it(real_redis):
    where = "backends/internals/redis.py"
    kwargs = real_redis.connection_pool.connection_kwargs
    client = redis.Redis(connection_pool=redis.ConnectionPool(socket_timeout=7, **kwargs))
    try:
        settings = redis_internals.pool_settings(client)
        quick = redis_internals.quick_client(client, 1.5)
    except (AttributeError, TypeError) as exc:
        broken(REDIS_PY, f"ConnectionPool.connection_kwargs / connection_class: {exc!r}", where)
    if settings.get("socket_timeout") != 7 or "host" not in settings:
        broken(REDIS_PY, f"ConnectionPool.connection_kwargs reads {settings}", where)
    try:
        if redis_internals.pool_settings(quick).get("socket_timeout") != 1.5:
            broken(REDIS_PY, "a pool built from connection_kwargs ignores socket_timeout", where)
        if quick.connection_pool.connection_class is not client.connection_pool.connection_class:
            broken(REDIS_PY, "ConnectionPool.connection_class is not kept", where)
        if not quick.ping():
            broken(REDIS_PY, "a client built from connection_kwargs does not answer", where)
        if rq_backend.location(quick) != rq_backend.location(real_redis):
            broken(REDIS_PY, "connection_kwargs no longer say host, port and db", where)
    finally:
        quick.connection_pool.disconnect()


def test_redis_quick_client_of_a_sentinel_client(tmp_path):
    from redis.sentinel import Sentinel, SentinelConnectionPool

    from tests.integration.sentinel import MASTER_NAME, SentinelCluster, missing_binaries

    if missing_binaries():
        pytest.skip(f"no {', '.join(missing_binaries())} on this machine")
    where = "backends/internals/redis.py"
    for name in ("service_name", "sentinel_manager", "is_master", "check_connection"):
        pool = SentinelConnectionPool(MASTER_NAME, Sentinel([("127.0.0.1", 1)]))
        if not hasattr(pool, name):
            broken(REDIS_PY, f"SentinelConnectionPool.{name} is gone", where)
    cluster = SentinelCluster(tmp_path)
    cluster.start()
    try:
        client = Sentinel(cluster.sentinels, socket_timeout=5).master_for(MASTER_NAME)
        client.set("contract", "1")
        try:
            quick = redis_internals.quick_client(client, 1.5)
            answer = quick.get("contract")
        except (TypeError, redis.RedisError) as exc:
            broken(REDIS_PY, f"a quick client of a Sentinel client fails: {exc!r}", where)
        if answer != b"1" or redis_internals.pool_settings(quick)["socket_timeout"] != 1.5:
            broken(REDIS_PY, "a quick client of a Sentinel client is not on its master", where)
    finally:
        cluster.stop()


# -- fakeredis (the devserver's embedded Redis) --------------------------------------------------


def test_fakeredis_embedded_server_answers_as_redis_does():
    from eztaskmanager.cli.devserver import EmbeddedRedis

    where = "backends/internals/fakeredis.py"
    server = EmbeddedRedis().start()
    client = redis.Redis(port=server.port, single_connection_client=True, socket_timeout=5)
    try:
        client.ping()
        infos = [
            info
            for connection in server.server.clients.values()
            for info in fakeredis_internals.client_infos(connection)
        ]
        if not infos:
            broken(FAKEREDIS, "no _client_info where redis_like_handler looks for it", where)
        try:
            addr = client.client_info()["addr"]
        except (ValueError, redis.RedisError) as exc:
            broken(FAKEREDIS, f"CLIENT INFO cannot be parsed by redis-py: {exc!r}", where)
        if " " in str(addr) or ":" not in str(addr):
            broken(FAKEREDIS, f"CLIENT INFO gives addr={addr!r}, not host:port", where)
        with pytest.raises(redis.ResponseError):
            client.execute_command("NO-SUCH-COMMAND")
        try:
            client.ping()
        except redis.ConnectionError:
            broken(FAKEREDIS, "the connection is closed after an error reply", where)
    finally:
        client.close()
        server.stop()


def test_fakeredis_missing_says_how_to_install_it(monkeypatch):
    from eztaskmanager.cli.devserver import EmbeddedRedis

    monkeypatch.setitem(sys.modules, "fakeredis", None)
    with pytest.raises(CommandError, match=r"django-eztaskmanager\[devserver\]"):
        EmbeddedRedis()


# -- argparse ------------------------------------------------------------------------------------


def test_argparse_lists_a_parsers_actions_in__actions():
    parser = argparse.ArgumentParser()
    option = parser.add_argument("--title")
    positional = parser.add_argument("name")
    found = getattr(parser, "_actions", None)
    if not isinstance(found, list) or found[-2:] != [option, positional]:
        broken(
            ARGPARSE,
            "ArgumentParser._actions is no longer its actions in order",
            "internals/argparse.py",
        )
    assert argparse_internals.actions(parser)[-2:] == [option, positional]
    assert arguments.option_actions(parser)["--title"] is option


def test_argparse_prints_a_version_through__print_message(capsys):
    parser = argparse.ArgumentParser(prog="cmd")
    parser.add_argument("-V", action="version", version="1.0")
    for name in argparse_internals.QUIET_METHODS:
        if not callable(getattr(parser, name, None)):
            broken(ARGPARSE, f"ArgumentParser.{name} is gone", "internals/argparse.py")
    with pytest.raises(arguments.ArgumentsError):
        arguments.validate(["-V"], parser)  # -V is not --version: it reaches the parser
    with pytest.raises(arguments.ArgumentsError):
        arguments.validate(["--nope"], parser)
    printed = capsys.readouterr()
    if printed.out or printed.err:
        broken(
            ARGPARSE,
            f"a parser printed {printed.out + printed.err!r} past error/print_help/_print_message",
            "internals/argparse.py",
        )
    assert not {"error", "print_help", "_print_message"} & set(vars(parser))  # put back


# -- Django --------------------------------------------------------------------------------------


def test_django_queryset_raw_delete_and_its_sql(db, make_task):
    where = "internals/django.py"
    if parameters(getattr(QuerySet, "_raw_delete", None) or (lambda self: None)) != ["using"]:
        broken(DJANGO, "QuerySet._raw_delete(using) is gone or changed", where)
    from eztaskmanager.models import Task

    task = make_task(name="doomed")
    queryset = Task.objects.filter(pk=task.pk)
    sql, params = django_internals.delete_sql(queryset, "default")
    if not sql.lstrip().upper().startswith("DELETE") or task.pk not in params:
        broken(DJANGO, f"a DeleteQuery compiles to {sql!r} {params!r}", where)
    if django_internals.raw_delete(queryset, "default") != 1 or Task.objects.filter(pk=task.pk):
        broken(DJANGO, "QuerySet._raw_delete no longer deletes the rows", where)


def test_django_insert_query_compiles_without_running(db):
    where = "internals/django.py (used by warmup.py)"
    if parameters(InsertQuery.insert_values)[:2] != ["fields", "objs"]:
        broken(DJANGO, "InsertQuery.insert_values(fields, objs) changed", where)
    from eztaskmanager.models import Task, TaskCategory

    for name in ("local_concrete_fields", "auto_field"):
        if not hasattr(Task._meta, name):
            broken(DJANGO, f"Options.{name} is gone", where)
    [(sql, _params)] = django_internals.insert_sql(TaskCategory(name="never saved"))
    if "INSERT" not in sql.upper() or TaskCategory.objects.exists():
        broken(DJANGO, f"an InsertQuery compiles to {sql!r}", where)


def test_django_command_registry():
    where = "internals/django.py"
    commands = django_internals.get_commands()
    if not isinstance(commands, dict) or commands.get("check") != "django.core":
        broken(DJANGO, "get_commands() no longer maps names to their apps", where)
    command = django_internals.load_command_class("django.core", "check")
    if not isinstance(command, BaseCommand):
        broken(DJANGO, f"load_command_class(app, name) gives {command!r}", where)


def test_django_admin_unquote_and_missing_object_redirect(admin_client):
    where = "internals/django.py"
    if django_internals.unquote(quote("a/b_c")) != "a/b_c":
        broken(DJANGO, "django.contrib.admin.utils.unquote no longer undoes quote", where)
    method = getattr(django_admin.ModelAdmin, "_get_obj_does_not_exist_redirect", None)
    if method is None or parameters(method) != ["request", "opts", "object_id"]:
        broken(DJANGO, "ModelAdmin._get_obj_does_not_exist_redirect changed", where)
    response = admin_client.post(
        reverse("admin:eztaskmanager_task_launch", args=[999_999]), follow=True
    )
    messages = [str(m) for m in response.context["messages"]]
    if response.redirect_chain[0][0] != reverse("admin:index") or "999999" not in messages[0]:
        broken(DJANGO, f"a missing task's button gives {response.redirect_chain} {messages}", where)


def test_django_connection_state_read_without_connecting(transactional_db):
    from django.db import connection, connections, transaction

    where = "internals/django.py"
    seen = {}

    def in_a_new_thread():
        seen["before"] = list(django_internals.open_connections())
        connections["default"].alias  # noqa: B018 (its wrapper is made for this thread)
        seen["after"] = [c.alias for c in django_internals.open_connections()]
        connections.close_all()

    thread = threading.Thread(target=in_a_new_thread)
    thread.start()
    thread.join()
    if seen != {"before": [], "after": ["default"]}:
        broken(DJANGO, f"connections.all(initialized_only=True) lists {seen}", where)
    connection.close()
    if django_internals.in_atomic_block(connection) is not False or connection.connection:
        broken(DJANGO, "connection.in_atomic_block is not False, or reading it connects", where)
    with transaction.atomic():
        if django_internals.in_atomic_block(connection) is not True:
            broken(DJANGO, "connection.in_atomic_block is not True inside atomic()", where)


@pytest.mark.django_db(transaction=True)
def test_django_connection_reuse_between_runs(monkeypatch):
    from django.db import DatabaseError, connection

    where = "internals/django.py (used by worker/horse.py)"
    connection.ensure_connection()
    if django_internals.connection_worn(connection):
        broken(DJANGO, "a fresh connection reads as worn", where)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM eztm_no_such_table")
    except DatabaseError:
        pass
    if not django_internals.connection_worn(connection):
        broken(DJANGO, "errors_occurred is not set by a failed statement", where)
    connection.close()
    connection.ensure_connection()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setattr(connection, "close_at", time.monotonic() - 1)
    if not django_internals.connection_worn(connection):
        broken(DJANGO, "close_at past a positive CONN_MAX_AGE does not read as worn", where)
    django_internals.recheck_at_next_use(connection)
    from django.db.backends.base.base import BaseDatabaseWrapper

    source = inspect.getsource(BaseDatabaseWrapper.close_if_health_check_failed)
    if connection.health_check_done is not False or "health_check_done" not in source:
        broken(DJANGO, "health_check_done no longer decides the health check", where)


def test_django_backend_operations_for_the_log_rows(db):
    from django.db import connection

    where = "internals/django.py (used by services/logger.py)"
    quoted = django_internals.quote_name(connection, "eztaskmanager_log")
    if "eztaskmanager_log" not in quoted or quoted == "eztaskmanager_log":
        broken(DJANGO, f"connection.ops.quote_name gives {quoted!r}", where)
    value = django_internals.db_datetime(connection, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    if value is None or "2026" not in str(value):
        broken(DJANGO, f"connection.ops.adapt_datetimefield_value gives {value!r}", where)


# -- dependencies: every third-party import is declared -----------------------------------------


def imported_distributions() -> dict[str, bool]:
    """``{distribution: imported at module level somewhere}`` for the package's imports."""
    dists = metadata.packages_distributions()
    found: dict[str, bool] = {}
    for path in (ROOT / "eztaskmanager").rglob("*.py"):
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root in sys.stdlib_module_names or root == "eztaskmanager":
                    continue
                for dist in dists.get(root, [root]):
                    key = dist.lower().replace("_", "-")
                    found[key] = found.get(key, False) or id(node) in top
    return found


def declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements):
        return {
            req.split(";")[0]
            .split("[")[0]
            .split(">")[0]
            .split("<")[0]
            .split("=")[0]
            .strip()
            .lower()
            for req in requirements
        }

    extras = project.get("optional-dependencies", {})
    optional = set().union(*(names(reqs) for extra, reqs in extras.items() if extra != "dev"))
    return names(project["dependencies"]), optional


def test_every_imported_package_is_declared():
    required, optional = declared()
    missing = []
    for dist, at_module_level in sorted(imported_distributions().items()):
        if dist in required or (dist in optional and not at_module_level):
            continue
        missing.append(f"{dist} ({'module level' if at_module_level else 'lazy'})")
    assert missing == [], f"imported but not declared in pyproject.toml: {missing}"
