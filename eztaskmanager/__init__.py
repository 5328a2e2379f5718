"""Launch, schedule, stop and watch Django management commands from the admin."""

__version__ = "0.6.0.dev0"
