"""Datetimes as people read them: in the site's time zone, for JSON, text and pages."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.formats import date_format


def local_iso(value: datetime | None) -> str | None:
    """An aware datetime in the site's time zone, ISO 8601 with its offset, to the second."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return timezone.localtime(value).isoformat(timespec="seconds")


def local_text(value: datetime | None, zone: bool = True, none: str = "-") -> str:
    """A datetime for plain text (emails, alerts, the command line): the site's time zone, to
    the second, with the zone's name unless ``zone`` is false; ``none`` for None."""
    if value is None:
        return none
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S" + (" %Z" if zone else ""))


def local_display(value: datetime) -> str:
    """A datetime for pages: the site's time zone, in the active language's DATETIME_FORMAT."""
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")
