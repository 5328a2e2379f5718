project = "django-eztaskmanager"
author = "django-eztaskmanager developers"
extensions = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
