"""Benchmarks of django-eztaskmanager: ``python benchmarks/run.py``, see docs/benchmarks.rst."""
