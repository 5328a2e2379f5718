import json
import resource
from pathlib import Path

from django.core.management.base import BaseCommand

from eztaskmanager.models import LaunchReport
from eztaskmanager.services import run_management_command


def reset_peak() -> bool:
    """Reset this process's peak RSS (Linux 4.0+), so that it measures the run alone."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Command(BaseCommand):
    help = "Run a task in this process, then print its report and the peak RSS as JSON."

    def add_arguments(self, parser):
        parser.add_argument("task_id", type=int)

    def handle(self, *args, **options):
        reset = reset_peak()
        before = rss_kib("VmRSS")
        report = run_management_command(options["task_id"])
        peak = rss_kib("VmHWM")
        report = LaunchReport.objects.get(pk=report.pk)
        self.stdout.write(
            json.dumps(
                {
                    "report": report.pk,
                    "result": report.invocation_result,
                    "n_lines": report.n_lines,
                    "peak_was_reset": reset,
                    "rss_before_kib": before,
                    "peak_rss_kib": peak,
                }
            )
        )
