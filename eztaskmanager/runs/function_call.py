"""The run of a ``@task`` function: its call in the work horse, its log, its signals.

A function runs where a command runs (``runs.Run``), with the same report, heartbeat, lock,
timeout, stop and ending; only the call differs. The function gets the arguments its launch
recorded (JSON, checked again against its signature), a ``TaskContext`` first when it takes
one, and runs through ``Task.call`` (a coroutine function in an event loop of its own). What it
prints goes to the report's log (stdout at INFO, stderr at ERROR), and so does what it logs
through Python's ``logging`` at INFO and above, from any logger but this package's own. What
it returns is stored as JSON with the outcome; an exception it raises fails the run, its class
and traceback kept for ``TaskResult.errors``. Django's ``task_started`` and ``task_finished``
signals fire in the work horse around the call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import traceback

from eztaskmanager.core import functions
from eztaskmanager.internals import djangotasks
from eztaskmanager.records import calls
from eztaskmanager.runs.logger import LogWriter, current_handler

logger = logging.getLogger(__name__)

OWN_LOGGERS = ("eztaskmanager.", "rq.", "rq_scheduler.")


class ReturnValueError(TypeError):
    """What a function returned cannot be stored as JSON."""


class CallLogCapture(logging.Handler):
    """On the root logger during a call: the call's records, from any logger but this
    package's, passed on to the run's handler."""

    def __init__(self, handler):
        super().__init__(logging.INFO)
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if current_handler() is not self.handler:
            return False  # another thread's record (the heartbeat's, a worker's)
        return not record.name.startswith(OWN_LOGGERS)

    def emit(self, record: logging.LogRecord) -> None:
        self.handler.handle(record)


@contextlib.contextmanager
def captured_logging(handler):
    """Python's logging of the call, at INFO and above, into the run's ``handler``."""
    root = logging.getLogger()
    level = root.level
    capture = CallLogCapture(handler)
    root.addHandler(capture)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def as_json(value) -> str:
    """``value`` as JSON text; ``ReturnValueError`` when it is no JSON value."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ReturnValueError(f"the function returned a value JSON cannot hold: {exc}") from exc


def exception_of(exc: BaseException) -> tuple[str, str]:
    """``(class path, traceback)`` of ``exc``, as ``TaskError`` keeps them."""
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}", "".join(traceback.format_exception(exc))


class FunctionCall:
    """The call of the function a run's launch recorded."""

    def __init__(self, run, name: str):
        self.run = run
        self.task = functions.load(name)
        self.value = None

    def sender(self):
        try:
            return type(self.task.get_backend())
        except Exception:  # the function's backend alias is not configured on this worker
            return djangotasks.BaseTaskBackend

    def result(self):
        report = self.run.report
        reports = calls.reports_of(report.call_id) or [report]
        return calls.result_from(reports, self.task.backend, self.task)

    def __call__(self) -> None:
        run = self.run
        args, kwargs = functions.check(self.task, run.report.ran_arguments)
        result = self.result()
        djangotasks.task_started.send(sender=self.sender(), task_result=result)
        if self.task.takes_context:
            args = [djangotasks.TaskContext(task_result=result), *args]
        stdout = LogWriter(run.log, logging.INFO)
        stderr = LogWriter(run.log, logging.ERROR)
        try:
            with (
                captured_logging(run.handler),
                contextlib.redirect_stdout(stdout),
                contextlib.redirect_stderr(stderr),
            ):
                returned = self.task.call(*args, **kwargs)
        finally:
            stdout.flush()
            stderr.flush()
        self.value = as_json(returned)

    def finished(self) -> None:
        """Send ``task_finished`` with the call's result as stored."""
        try:
            result = self.result()
        except Exception:
            logger.exception("Report %s: the call's result cannot be read", self.run.report.pk)
            return
        djangotasks.task_finished.send(sender=self.sender(), task_result=result)
