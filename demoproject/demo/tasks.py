"""A ``@task`` function of the demo, run through eztaskmanager (see settings.TASKS)."""

import logging
import time

try:  # Django 6
    from django.tasks import task
except ImportError:  # Django 5.2 with django-tasks
    from django_tasks import task

logger = logging.getLogger(__name__)


@task
def summarise(numbers, pause=0.5):
    """Add up ``numbers``, one a step, and return the total with the largest."""
    total = 0
    for number in numbers:
        total += number
        logger.info("added %s: %s so far", number, total)
        time.sleep(pause)
    if not numbers:
        logger.warning("no numbers given")
    return {"total": total, "largest": max(numbers, default=None)}
