"""Fill what 0004 added for rows written by 0.5.x: line numbers, counters, start times."""

from django.db import migrations
from django.db.models import Count, F, Q


def fill(apps, schema_editor):
    LaunchReport = apps.get_model("eztaskmanager", "LaunchReport")
    Log = apps.get_model("eztaskmanager", "Log")

    counts = (
        Log.objects.values("launch_report_id")
        .annotate(
            lines=Count("id"),
            errors=Count("id", filter=Q(level__in=["ERROR", "CRITICAL"])),
            warnings=Count("id", filter=Q(level="WARNING")),
        )
        .order_by()
    )
    for row in counts.iterator():
        LaunchReport.objects.filter(pk=row["launch_report_id"]).update(
            n_lines=row["lines"], n_errors=row["errors"], n_warnings=row["warnings"]
        )
    LaunchReport.objects.filter(started_at__isnull=True).update(
        started_at=F("invocation_datetime")
    )

    report_ids = (
        Log.objects.filter(lineno__isnull=True)
        .values_list("launch_report_id", flat=True)
        .distinct()
        .order_by()
    )
    for report_id in list(report_ids):
        logs = Log.objects.filter(launch_report_id=report_id).order_by("timestamp", "id")
        batch = []
        for number, log in enumerate(logs.only("id").iterator(), start=1):
            log.lineno = number
            batch.append(log)
            if len(batch) >= 2000:
                Log.objects.bulk_update(batch, ["lineno"])
                batch = []
        Log.objects.bulk_update(batch, ["lineno"])


class Migration(migrations.Migration):
    dependencies = [("eztaskmanager", "0004_reports_timing_counters_lineno")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
