"""Instants and dates as the brief defines them.

All instants are stored as naive UTC (microseconds); a date alone means 00:00
Europe/Rome, because Italian consent forms and contracts are dated in local time.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from .errors import InputError

ROME = ZoneInfo("Europe/Rome")
UTC = dt.UTC


def now_utc() -> dt.datetime:
    """The current instant, naive UTC, truncated to the second for stable reports."""
    return dt.datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def parse_instant(text: str, *, what: str = "time") -> dt.datetime:
    """Parse ISO 8601 (date alone = 00:00 Rome, no offset = Rome) into naive UTC."""
    value = text.strip()
    try:
        if len(value) == 10:
            local = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), ROME)
        else:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            local = parsed if parsed.tzinfo else parsed.replace(tzinfo=ROME)
    except ValueError:
        raise InputError(
            f"{what} '{text}' is not ISO 8601; use e.g. 2026-11-20 or 2026-11-20T09:30+01:00"
        ) from None
    return local.astimezone(UTC).replace(tzinfo=None)


def date_start_utc(day: dt.date) -> dt.datetime:
    """00:00 Europe/Rome of a calendar day, as naive UTC."""
    return dt.datetime.combine(day, dt.time(), ROME).astimezone(UTC).replace(tzinfo=None)


def rome_date(instant: dt.datetime) -> dt.date:
    """The calendar day in Rome of a naive-UTC instant (date rules count Rome days)."""
    return instant.replace(tzinfo=UTC).astimezone(ROME).date()


def iso(instant: dt.datetime | None) -> str | None:
    """Naive-UTC instant rendered as ISO 8601 with a Z, for files people and tools read."""
    return None if instant is None else instant.strftime("%Y-%m-%dT%H:%M:%SZ")
