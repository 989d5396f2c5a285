"""When a person may be called: the `[calling_hours]` of gatekeeper.toml over a jurisdiction's
defaults and its national public holidays (rule 9, OUTSIDE_CALLING_HOURS).

Every day is one kind, in this precedence: holiday (national or `extra_holidays`), Sunday,
pre_holiday (the day before a holiday), Saturday, weekday. Each kind has half-open windows
[start, end) of wall-clock time in the jurisdiction's zone, so 19:59:59 is inside
09:00-20:00 and 20:00 is not; a day may have several ("10:00-13:00, 14:00-20:00": France's
décret 2022-1313 closes the lines at lunch), and the gap between them is closed like the
night. Instants are naive UTC everywhere else in Gatekeeper; they are turned into local time
here with zoneinfo, so the DST changes move the UTC hours, never the local ones.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import itertools
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from gatekeeper.core.errors import ConfigError
from gatekeeper.core.timeutil import UTC
from gatekeeper.jurisdictions import Jurisdiction

TABLE = "calling_hours"
DAY_KINDS = ("weekday", "saturday", "pre_holiday", "sunday", "holiday")
KEYS = (*DAY_KINDS, "extra_holidays")
_WINDOW_FIX = ('use HH:MM-HH:MM, e.g. 09:00-20:00, or several separated by commas, e.g. '
               '"10:00-13:00, 14:00-20:00" (or "" for no calls that day)')
_DATE_FIX = ('use ISO dates, e.g. extra_holidays = ["2026-12-07"], or "--12-07" (ISO month '
             'and day) for 7 December every year')
# 09:00-20:00; an en dash as PRODUCT.md prints it is the same window. 24:00 ends the day.
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A patron saint's day every year: ISO 8601's --MM-DD. "07-12" alone is refused: Italians
# write the day first, and reading it as 12 July would open the lines on 7 December.
_MONTH_DAY = re.compile(r"^--(\d{2})-(\d{2})$")
_DAY = dt.timedelta(days=1)
# A configuration with any open day opens within a year (every year has Saturdays, Sundays,
# holidays and their eves); the margin covers a window that only a rare day kind has.
_SEARCH_DAYS = 3 * 366


@dataclass(frozen=True)
class Window:
    """One day's hours: calls allowed from `start` to before `end`, minutes after local
    midnight (end <= 1440), except inside `breaks` ((from, to) pairs, in order, between
    start and end). France's 10-13 and 14-20 is Window(600, 1200, ((780, 840),)): a day
    stays one value, so a day kind with one window reads and compares as it always did."""

    start: int
    end: int
    breaks: tuple[tuple[int, int], ...] = ()

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """The windows themselves, (start, end) in order: what people configure and read."""
        bounds = [self.start, *(edge for gap in self.breaks for edge in gap), self.end]
        return tuple(zip(bounds[::2], bounds[1::2], strict=True))

    def __str__(self) -> str:
        return ", ".join(f"{_hhmm(start)}-{_hhmm(end)}" for start, end in self.spans)

    def contains(self, local: dt.datetime) -> bool:
        since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
        return any(dt.timedelta(minutes=start) <= since_midnight < dt.timedelta(minutes=end)
                   for start, end in self.spans)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class CallingHours:
    """The hours of one workspace; None for a day kind means no calls on such days."""

    weekday: Window | None
    saturday: Window | None
    pre_holiday: Window | None
    sunday: Window | None
    holiday: Window | None
    extra_holidays: tuple[dt.date, ...]  # local holidays on one date, sorted
    country: str  # the `holidays` package's country code for the national holidays
    zone: str  # the IANA zone the windows are wall-clock times of (the jurisdiction's)
    every_year: tuple[tuple[int, int], ...] = ()  # (month, day): a patron saint, yearly
    subdivision: str | None = None  # the `holidays` package's (GB: "ENG")
    # The day before a holiday is a kind of its own (Italy's code of conduct). Where no
    # rule says so (the other countries, unless [calling_hours] sets pre_holiday) an eve
    # is the weekday or Saturday it is: a Saturday eve stays closed where Saturdays are.
    eves: bool = True
    # The hours a statute sets (France, Spain, Germany): the company's may only narrow
    # them, so a call must be inside both. None: the company's hours are the rule.
    law: CallingHours | None = None

    @classmethod
    def from_table(cls, table: Any, file: Path | None,
                   jurisdiction: Jurisdiction) -> CallingHours:
        """The `[calling_hours]` table over the jurisdiction's defaults; an unknown key or a
        malformed value is a ConfigError naming the file, the key and the fix, because a
        silently ignored knob would let calls through at hours the law forbids."""
        if not isinstance(table, dict):
            raise ConfigError(f"[{TABLE}] must be a table; write it as [{TABLE}] with keys "
                              + ", ".join(KEYS), file=file, key=TABLE)
        for key in table:
            if key not in KEYS:
                close = difflib.get_close_matches(key, KEYS, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ConfigError(f"unknown key; {hint}accepted: {', '.join(KEYS)}",
                                  file=file, key=f"{TABLE}.{key}")
        values: dict[str, Any] = {**dict(jurisdiction.calling_hours), **table}
        windows = {kind: _window(values.get(kind, ""), file, kind) for kind in DAY_KINDS}
        dates, every_year = _dates(values.get("extra_holidays", []), file)
        law = (cls.from_table({}, None, replace(jurisdiction, hours_law=""))
               if jurisdiction.hours_law and table else None)
        return cls(**windows, extra_holidays=dates, every_year=every_year,
                   country=jurisdiction.holidays_country, zone=jurisdiction.timezone_name,
                   subdivision=jurisdiction.holidays_subdivision, law=law,
                   eves="pre_holiday" in values)

    def in_zone(self, zone: str) -> CallingHours:
        """The same hours on another wall clock (Spain's Canary Islands)."""
        if zone == self.zone:
            return self
        return replace(self, zone=zone,
                       law=self.law.in_zone(zone) if self.law is not None else None)

    def is_holiday(self, day: dt.date) -> bool:
        """A national public holiday of the country or one of `extra_holidays`."""
        return (day in self.extra_holidays or (day.month, day.day) in self.every_year
                or day in _national(self.country, day.year, self.subdivision))

    def kind_of(self, day: dt.date) -> str:
        """Which of DAY_KINDS a local calendar day is, holidays first (see the module)."""
        if self.is_holiday(day):
            return "holiday"
        if day.weekday() == 6:
            return "sunday"
        if self.eves and self.is_holiday(day + _DAY):
            return "pre_holiday"
        return "saturday" if day.weekday() == 5 else "weekday"

    def window_of(self, day: dt.date) -> Window | None:
        """The hours that apply on a local calendar day (None: no calls)."""
        window: Window | None = getattr(self, self.kind_of(day))
        return window

    def is_open(self, at: dt.datetime) -> bool:
        """May a person be called at this instant (naive UTC)?"""
        local = _local(at, self.zone)
        window = self.window_of(local.date())
        return (window is not None and window.contains(local.replace(tzinfo=None))
                and (self.law is None or self.law.is_open(at)))

    def next_open(self, at: dt.datetime) -> dt.datetime | None:
        """The first instant at or after `at` (naive UTC) inside the hours, naive UTC; None
        when no day has any hours (every kind configured empty)."""
        if self.is_open(at):
            return at
        if all(getattr(self, kind) is None for kind in DAY_KINDS):
            return None
        day = _local(at, self.zone).date()
        for _ in range(_SEARCH_DAYS):
            found = self._opening_on(day, at)
            if found is not None:
                return found
            day += _DAY
        return None

    def _opening_on(self, day: dt.date, at: dt.datetime) -> dt.datetime | None:
        """The first instant >= at of `day`'s windows. Wall-clock time only jumps at a DST
        change, so an opening is either a window's start (either side of an autumn fold)
        or the instant of a change that jumps into a window. The end of a lunch break is a
        window's start like the morning's, so at 12:00 on a 10-13/14-20 day this is 14:00."""
        window = self.window_of(day)
        if window is None:
            return None
        midnight = dt.datetime.combine(day, dt.time())
        spans = list(window.spans)
        law_window = self.law.window_of(day) if self.law is not None else None
        if law_window is not None:  # inside both: an opening may be either's start
            spans += law_window.spans
        starts = [midnight + dt.timedelta(minutes=start) for start, _ in spans]
        candidates = [*(_utc(start.replace(fold=fold), self.zone)
                        for start in starts for fold in (0, 1)),
                      *_offset_changes(day, self.zone)]
        opening = [c for c in candidates if c >= at and self.is_open(c)]
        return min(opening, default=None)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(at: dt.datetime, zone: str) -> dt.datetime:
    if at.tzinfo is not None:
        raise ValueError(f"instants are naive UTC in Gatekeeper, got {at!r}; drop the tzinfo "
                         "after converting to UTC")
    return at.replace(tzinfo=UTC).astimezone(_zone(zone))


def _utc(local: dt.datetime, zone: str) -> dt.datetime:
    """Naive local wall-clock time (fold chooses the side of an autumn repeat) to naive UTC."""
    return local.replace(tzinfo=_zone(zone)).astimezone(UTC).replace(tzinfo=None)


def _offset_changes(day: dt.date, zone: str) -> list[dt.datetime]:
    """The instants (naive UTC) at which the zone's UTC offset changes during `day`."""
    low = _utc(dt.datetime.combine(day, dt.time()), zone)
    high = _utc(dt.datetime.combine(day + _DAY, dt.time()), zone)
    if _local(low, zone).utcoffset() == _local(high, zone).utcoffset():
        return []
    before = _local(low, zone).utcoffset()
    seconds = int((high - low).total_seconds())
    while seconds > 1:  # zones change offset on a whole second: bisect to the first one after
        middle = low + dt.timedelta(seconds=seconds // 2)
        if _local(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
        seconds = int((high - low).total_seconds())
    return [high]


@functools.cache
def _national(country: str, year: int, subdivision: str | None = None) -> frozenset[dt.date]:
    """The country's national public holidays of one year, as the `holidays` package keeps
    them (it follows new laws, e.g. Italy's 4 October again from 2026; Romania's Orthodox
    Easter), for a subdivision where the calendar has one (England's bank holidays)."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def _window(value: Any, file: Path | None, key: str) -> Window | None:
    """A day kind's value: "" (no calls), one window, or several separated by commas, in
    any order; windows that overlap are refused (a typo such as 10:00-14:00, 13:00-20:00
    would otherwise silently mean something), windows that touch are one."""
    where = f"{TABLE}.{key}"
    if not isinstance(value, str):
        raise ConfigError(f"must be text in quotes, got {value!r}; {_WINDOW_FIX}",
                          file=file, key=where)
    text = value.strip()
    if not text:
        return None
    parts = [part.strip() for part in text.split(",")]
    spans = sorted(_span(part if len(parts) > 1 else value, file, where) for part in parts)
    merged = [spans[0]]
    for start, end in spans[1:]:
        last_start, last_end = merged[-1]
        if start < last_end:
            raise ConfigError(f"{value!r}: the windows {_hhmm(last_start)}-{_hhmm(last_end)} "
                              f"and {_hhmm(start)}-{_hhmm(end)} overlap; {_WINDOW_FIX}",
                              file=file, key=where)
        merged[-1:] = [(last_start, end)] if start == last_end else [merged[-1], (start, end)]
    breaks = tuple((a_end, b_start) for (_, a_end), (b_start, _) in itertools.pairwise(merged))
    return Window(merged[0][0], merged[-1][1], breaks)


def _span(value: str, file: Path | None, where: str) -> tuple[int, int]:
    """One HH:MM-HH:MM window as minutes after midnight; `value` is what the error quotes."""
    match = _WINDOW.match(value.strip())
    if match is None:
        raise ConfigError(f"{value!r} is not a time window; {_WINDOW_FIX}", file=file, key=where)
    sh, sm, eh, em = (int(part) for part in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ConfigError(f"{value!r} is not a time of day; {_WINDOW_FIX} (24:00 ends the day)",
                          file=file, key=where)
    start, end = sh * 60 + sm, eh * 60 + em
    if start >= end:
        raise ConfigError(f"{value!r} ends before it starts; a window cannot pass midnight, "
                          f"{_WINDOW_FIX}", file=file, key=where)
    return start, end


def _dates(value: Any, file: Path | None
           ) -> tuple[tuple[dt.date, ...], tuple[tuple[int, int], ...]]:
    """The dates, and the month-days that recur every year (listing a patron saint once
    for every year, rather than once per year, so no year is forgotten)."""
    where = f"{TABLE}.extra_holidays"
    if not isinstance(value, list):
        raise ConfigError(f"must be a list, got {value!r}; {_DATE_FIX}", file=file, key=where)
    days: set[dt.date] = set()
    yearly: set[tuple[int, int]] = set()
    for item in value:
        recurring = _MONTH_DAY.match(item.strip()) if isinstance(item, str) else None
        if recurring:
            month, day = int(recurring[1]), int(recurring[2])
            try:
                dt.date(2000, month, day)  # a leap year: 02-29 is a day (in leap years)
            except ValueError:
                raise ConfigError(f"{item!r} is not a day of the year; {_DATE_FIX}",
                                  file=file, key=where) from None
            yearly.add((month, day))
        else:
            days.add(_date(item, file, where))
    return tuple(sorted(days)), tuple(sorted(yearly))


def _date(item: Any, file: Path | None, where: str) -> dt.date:
    if isinstance(item, dt.datetime):  # a TOML date-time: a holiday is a whole day
        raise ConfigError(f"{item.isoformat()} is a date and time; {_DATE_FIX}",
                          file=file, key=where)
    if isinstance(item, dt.date):
        return item
    if isinstance(item, str) and _ISO_DATE.match(item.strip()):
        try:
            return dt.date.fromisoformat(item.strip())
        except ValueError:
            pass
    raise ConfigError(f"{item!r} is not a date; {_DATE_FIX}", file=file, key=where)
