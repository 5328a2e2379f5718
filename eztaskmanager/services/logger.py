"""The 0.5.x import path of the run logger: ``eztaskmanager.runs.logger``.

Commands written for 0.5.x import ``LoggerEnabledCommand`` (and ``DatabaseLogHandler``) from
here; they keep working.
"""

from eztaskmanager.runs.logger import (  # noqa: F401 - the 0.5.x path
    DatabaseLogHandler,
    LoggerEnabledCommand,
    LogWriter,
    verbosity2loglevel,
)

__all__ = ["DatabaseLogHandler", "LogWriter", "LoggerEnabledCommand", "verbosity2loglevel"]
