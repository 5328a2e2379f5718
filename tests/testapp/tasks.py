"""@task functions of the test project, run through eztaskmanager.tasks.Backend."""

import asyncio
import logging
import os
import time

from eztaskmanager.internals.djangotasks import AVAILABLE

logger = logging.getLogger(__name__)

if AVAILABLE:
    from eztaskmanager.internals import djangotasks

    if djangotasks.SOURCE == "django.tasks":
        from django.tasks import task
    else:
        from django_tasks import task

    @task
    def add(a, b=0):
        """Add two numbers, saying so."""
        print(f"adding {a} and {b}")
        logger.info("sum is %s", a + b)
        return a + b

    @task
    def fail(message="it went wrong"):
        logger.warning("about to fail")
        raise ValueError(message)

    @task
    def returns_a_set():
        return {1, 2}

    @task(takes_context=True)
    def attempt_number(context, fail_before=1):
        """Fail until attempt ``fail_before``; return the attempt number."""
        if context.attempt < fail_before:
            raise RuntimeError(f"attempt {context.attempt} fails")
        return {"attempt": context.attempt, "id": context.task_result.id}

    @task
    async def async_double(n):
        await asyncio.sleep(0)
        logger.info("doubling %s", n)
        return n * 2

    @task(queue_name="high")
    def on_high(word):
        return word.upper()

    @task
    def sleep_for(seconds):
        logger.info("sleeping %s s in %s", seconds, os.getpid())
        time.sleep(seconds)
        return seconds

    @task
    def count_lines(n, pause=0.1):
        """Log ``n`` lines, one every ``pause`` seconds, with progress."""
        from eztaskmanager.tasks import track

        for i in track(range(1, n + 1)):
            logger.info("line %s of %s", i, n)
            time.sleep(pause)
        return n

    def plain_function():
        return "not a task"
