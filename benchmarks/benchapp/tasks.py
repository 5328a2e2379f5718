"""``@task`` functions of the benchmarks (Django's task API, see benchmarks/task_calls.py)."""

try:  # Django 6.0 and later
    from django.tasks import task
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import task


@task
def noop():
    """Does nothing: the cost of a call through a task backend and nothing else."""
