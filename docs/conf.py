"""Sphinx configuration of the django-eztaskmanager documentation."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

project = "django-eztaskmanager"
author = "django-eztaskmanager developers"
copyright = "django-eztaskmanager developers"
release = re.search(
    r'__version__ = "([^"]+)"', (ROOT / "eztaskmanager" / "__init__.py").read_text()
)[1]
version = release

extensions = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"description": "Django management commands as tasks, on RQ workers"}
