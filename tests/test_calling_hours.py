"""Calling hours, policy IT (code of conduct): every boundary of issue 15, in Rome time.

Instants are written as Rome wall-clock time and turned into the naive UTC the library
takes, so each test reads like the rule it checks; none depends on today's date.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.core.errors import ConfigError
from gatekeeper.core.timeutil import UTC
from gatekeeper.jurisdictions import IT
from gatekeeper.jurisdictions.calling_hours import CallingHours, Window

ROME = ZoneInfo(IT.timezone_name)

HOURS = CallingHours.from_table({}, None, IT)
# The clocks change at 01:00 UTC on the last Sunday of March and of October.
_DST_CHANGES = [dt.datetime(2026, 3, 29, 1), dt.datetime(2026, 10, 25, 1),
                dt.datetime(2027, 3, 28, 1), dt.datetime(2027, 10, 31, 1)]


def rome(text: str, fold: int = 0) -> dt.datetime:
    """'2026-11-20 19:59' (Rome wall clock) as naive UTC."""
    local = dt.datetime.fromisoformat(text).replace(tzinfo=ROME, fold=fold)
    return local.astimezone(UTC).replace(tzinfo=None)


def hours_from(tmp_path: Path, text: str) -> CallingHours:
    """A real gatekeeper.toml's [calling_hours] table, parsed as the config will."""
    file = tmp_path / "gatekeeper.toml"
    file.write_text(text, encoding="utf-8")
    table = tomllib.loads(file.read_text(encoding="utf-8")).get("calling_hours", {})
    return CallingHours.from_table(table, file, IT)


# --- the defaults -------------------------------------------------------------------------

def test_defaults_are_the_code_of_conducts() -> None:
    assert HOURS.weekday == Window(9 * 60, 20 * 60)
    assert HOURS.saturday == HOURS.pre_holiday == Window(10 * 60, 19 * 60)
    assert HOURS.sunday is None and HOURS.holiday is None
    assert HOURS.extra_holidays == ()
    assert HOURS.country == IT.holidays_country
    assert str(HOURS.weekday) == "09:00-20:00"


@pytest.mark.parametrize(("local", "open_"), [
    # a weekday (Friday 20 Nov 2026): half-open 09:00-20:00
    ("2026-11-20 08:59:59", False),
    ("2026-11-20 09:00", True),
    ("2026-11-20 19:59", True),
    ("2026-11-20 19:59:59.999999", True),
    ("2026-11-20 20:00", False),
    # a Saturday (21 Nov 2026): 10:00-19:00
    ("2026-11-21 09:59", False),
    ("2026-11-21 10:00", True),
    ("2026-11-21 18:59", True),
    ("2026-11-21 19:00", False),
    # a Sunday: never
    ("2026-11-22 12:00", False),
    # the day before Christmas (Thursday) and before New Year (Thursday): pre_holiday
    ("2026-12-24 09:30", False),
    ("2026-12-24 10:00", True),
    ("2026-12-24 18:59", True),
    ("2026-12-24 19:00", False),
    ("2026-12-31 09:59", False),
    ("2026-12-31 10:00", True),
    ("2026-12-31 19:00", False),
    # national holidays on weekdays: never
    ("2026-12-25 12:00", False),
    ("2026-12-26 12:00", False),  # Santo Stefano
    ("2026-04-25 12:00", False),  # a Saturday in 2026
    ("2027-04-25 12:00", False),  # a Sunday in 2027
    ("2026-06-02 12:00", False),  # a Tuesday
    ("2026-12-08 12:00", False),  # a Tuesday
    ("2027-03-29 12:00", False),  # Easter Monday 2027
    ("2027-03-27 10:00", True),  # Holy Saturday: the day before Easter, 10:00-19:00
    ("2027-03-27 19:00", False),
    # the days before 2 Jun and 8 Dec 2026 are Mondays: pre_holiday hours
    ("2026-06-01 09:30", False),
    ("2026-06-01 10:00", True),
    ("2026-06-01 19:30", False),
    ("2026-12-07 09:30", False),
    ("2026-12-07 19:30", False),
    ("2026-12-09 19:59", True),  # and the day after is a plain weekday again
])
def test_is_open(local: str, open_: bool) -> None:
    assert HOURS.is_open(rome(local)) is open_


def test_4_october_is_a_national_holiday_again_from_2026() -> None:
    """L. 151/2025: San Francesco, patron saint of Italy. 4 Oct 2026 is a Sunday, so the
    holidays package is what makes the Saturday before a pre_holiday; 2027's is a Monday."""
    assert HOURS.is_holiday(dt.date(2026, 10, 4))
    assert HOURS.kind_of(dt.date(2026, 10, 4)) == "holiday"
    assert HOURS.kind_of(dt.date(2026, 10, 3)) == "pre_holiday"
    assert not HOURS.is_holiday(dt.date(2025, 10, 4))  # not before the law
    assert HOURS.is_holiday(dt.date(2027, 10, 4))
    assert not HOURS.is_open(rome("2027-10-04 12:00"))
    assert HOURS.kind_of(dt.date(2027, 10, 2)) == "saturday"
    assert HOURS.kind_of(dt.date(2027, 10, 3)) == "sunday"  # a Sunday eve stays a Sunday
    assert not HOURS.is_open(rome("2026-10-04 12:00"))


def test_precedence_holiday_over_sunday_over_pre_holiday_over_saturday(tmp_path: Path) -> None:
    hours = hours_from(tmp_path, """
[calling_hours]
weekday = "09:00-20:00"
saturday = "10:00-19:00"
pre_holiday = "11:00-12:00"
sunday = "15:00-16:00"
holiday = "17:00-18:00"
""")
    assert hours.kind_of(dt.date(2027, 3, 28)) == "holiday"  # Easter Sunday
    assert hours.is_open(rome("2027-03-28 17:30")) and not hours.is_open(rome("2027-03-28 15:30"))
    assert hours.kind_of(dt.date(2026, 11, 29)) == "sunday"
    assert hours.is_open(rome("2026-11-29 15:30"))
    # Saturday 5 Dec 2026 is before a Sunday, not a holiday; Saturday 3 Oct 2026 is before
    # 4 October, which outranks Saturday
    assert hours.window_of(dt.date(2026, 12, 5)) == Window(600, 1140)
    assert hours.window_of(dt.date(2026, 10, 3)) == Window(660, 720)
    assert hours.window_of(dt.date(2026, 12, 7)) == Window(660, 720)  # Monday before 8 Dec


# --- extra_holidays ------------------------------------------------------------------------

def test_an_extra_holiday_is_a_holiday_and_its_eve_a_pre_holiday(tmp_path: Path) -> None:
    """Sant'Ambrogio (Milan, Monday 7 Dec 2026): closed; Sunday 6 Dec stays closed. In 2027
    7 Dec is a Tuesday: Monday 6 Dec 2027 gets pre_holiday hours."""
    hours = hours_from(tmp_path, """
[calling_hours]
extra_holidays = ["2026-12-07", 2027-12-07]
""")
    assert hours.extra_holidays == (dt.date(2026, 12, 7), dt.date(2027, 12, 7))
    assert not hours.is_open(rome("2026-12-07 12:00"))
    assert not hours.is_open(rome("2026-12-06 12:00"))
    assert hours.kind_of(dt.date(2027, 12, 7)) == "holiday"
    assert hours.kind_of(dt.date(2027, 12, 6)) == "pre_holiday"
    assert not hours.is_open(rome("2027-12-06 09:30"))
    assert hours.is_open(rome("2027-12-06 10:00"))
    assert not hours.is_open(rome("2027-12-06 19:00"))
    assert HOURS.is_open(rome("2027-12-06 09:30"))  # without it: a plain Monday
    assert hours.next_open(rome("2027-12-06 19:00")) == rome("2027-12-09 09:00")


def test_a_patron_saint_listed_once_is_a_holiday_every_year(tmp_path: Path) -> None:
    """"--12-07" is Sant'Ambrogio in every year, with its eve a pre_holiday, as the dated
    form is for its one year; --02-29 only exists in leap years."""
    hours = hours_from(tmp_path, """
[calling_hours]
extra_holidays = ["--12-07", "--02-29"]
""")
    dated = hours_from(tmp_path, """
[calling_hours]
extra_holidays = ["2026-12-07", "2027-12-07", "2031-12-07", "2028-02-29"]
""")
    for year in (2026, 2027, 2031):
        for day in (dt.date(year, 12, 6), dt.date(year, 12, 7), dt.date(year, 12, 8)):
            assert hours.kind_of(day) == dated.kind_of(day), day
        assert hours.kind_of(dt.date(year, 12, 7)) == "holiday"
    assert hours.kind_of(dt.date(2028, 2, 29)) == "holiday"
    assert hours.kind_of(dt.date(2028, 2, 28)) == "pre_holiday"
    assert hours.kind_of(dt.date(2027, 2, 28)) == "sunday"  # no 29th: an ordinary Sunday
    assert hours.kind_of(dt.date(2027, 3, 1)) == "weekday"
    assert hours.next_open(rome("2027-12-06 19:00")) == rome("2027-12-09 09:00")


# --- next_open -----------------------------------------------------------------------------

@pytest.mark.parametrize(("at", "expected"), [
    ("2026-11-20 12:34:56", "2026-11-20 12:34:56"),  # inside a window: `at` itself
    ("2026-11-20 07:00", "2026-11-20 09:00"),  # before the morning opening
    ("2026-11-20 20:00", "2026-11-21 10:00"),  # Friday evening: Saturday's opening
    ("2026-11-21 19:00", "2026-11-23 09:00"),  # across a Sunday
    ("2026-11-22 03:00", "2026-11-23 09:00"),
    # 24 Dec 2026 is a Thursday: 25 and 26 (Santo Stefano) holidays, 27 a Sunday
    ("2026-12-24 19:30", "2026-12-28 09:00"),
    ("2026-12-31 19:00", "2027-01-02 10:00"),  # 2 Jan 2027 is a Saturday
    ("2027-01-05 21:00", "2027-01-07 09:00"),  # the Epiphany
    ("2027-03-27 19:00", "2027-03-30 09:00"),  # Easter Sunday and Monday
])
def test_next_open(at: str, expected: str) -> None:
    assert HOURS.next_open(rome(at)) == rome(expected)


def test_next_open_across_the_dst_changes() -> None:
    """The windows stay on Rome's wall clock; the UTC instant moves by the hour."""
    # Saturday 24 Oct 2026 (CEST, +2) closes; Sunday the clocks go back; Monday is CET (+1)
    after = HOURS.next_open(rome("2026-10-24 19:00"))
    assert after == rome("2026-10-26 09:00") == dt.datetime(2026, 10, 26, 8, 0)
    assert HOURS.next_open(dt.datetime(2026, 10, 24, 17, 0)) == dt.datetime(2026, 10, 26, 8, 0)
    assert not HOURS.is_open(dt.datetime(2026, 10, 26, 7, 59, 59))
    # Saturday 27 Mar 2027 (CET) closes; Sunday is Easter and the clocks go forward;
    # Monday is Easter Monday; Tuesday 30 opens at 09:00 CEST = 07:00 UTC
    assert HOURS.next_open(rome("2027-03-27 19:00")) == dt.datetime(2027, 3, 30, 7, 0)
    assert HOURS.is_open(dt.datetime(2027, 3, 30, 7, 0))
    assert not HOURS.is_open(dt.datetime(2027, 3, 30, 6, 59, 59))
    # a plain spring week: Friday 26 Mar 2027 is CET, Monday 29 would be CEST
    assert HOURS.is_open(dt.datetime(2027, 3, 26, 18, 59))  # 19:59 CET
    assert not HOURS.is_open(dt.datetime(2027, 3, 26, 19, 0))  # 20:00 CET


def test_windows_inside_the_hour_the_clocks_change(tmp_path: Path) -> None:
    """Sundays open 02:15-02:45 only: on 25 Oct 2026 that wall-clock half hour happens twice
    (both are open); on 29 Mar 2026 it never happens (02:00 CET jumps to 03:00 CEST)."""
    hours = hours_from(tmp_path, """
[calling_hours]
weekday = ""
saturday = ""
pre_holiday = ""
sunday = "02:15-02:45"
""")
    first, second = rome("2026-10-25 02:15", fold=0), rome("2026-10-25 02:15", fold=1)
    assert second - first == dt.timedelta(hours=1)
    assert hours.next_open(rome("2026-10-25 01:00")) == first
    assert hours.next_open(first + dt.timedelta(minutes=30)) == second
    assert hours.is_open(second + dt.timedelta(minutes=29))
    # no 02:15 on 29 Mar 2026; 5 Apr is Easter (a holiday, closed): the next is 12 Apr
    assert hours.next_open(rome("2026-03-29 01:00")) == rome("2026-04-12 02:15")


def test_a_window_that_starts_in_the_spring_gap_opens_when_the_clocks_jump(
        tmp_path: Path) -> None:
    hours = hours_from(tmp_path, '[calling_hours]\nsunday = "02:30-04:00"\n')
    jump = dt.datetime(2026, 3, 29, 1, 0)  # 02:00 CET becomes 03:00 CEST
    assert hours.next_open(rome("2026-03-29 00:30")) == jump
    assert not hours.is_open(jump - dt.timedelta(microseconds=1))


def test_every_window_around_the_clock_changes_against_a_minute_by_minute_scan() -> None:
    """Sunday windows on a 15-minute grid across the hour the clocks change (spring gap,
    autumn fold), asked from every quarter hour of the night: next_open is the first open
    minute a plain scan finds (openings fall on whole minutes, the changes included)."""
    grid = range(90, 211, 15)  # 01:30 .. 03:30
    quarter = dt.timedelta(minutes=15)
    for start, end in ((a, b) for a in grid for b in grid if a < b):
        window = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
        hours = CallingHours.from_table(
            {"weekday": "", "saturday": "", "pre_holiday": "", "sunday": window}, None, IT)
        for change in _DST_CHANGES[:2]:
            for at in (change - 4 * quarter + i * quarter for i in range(16)):
                scan = [at + dt.timedelta(minutes=m) for m in range(6 * 60)]
                first = next((t for t in scan if hours.is_open(t)), None)
                found = hours.next_open(at)
                assert found == first or (first is None and found and found > scan[-1]), (
                    window, at, found, first)


def test_no_hours_at_all_means_no_next_open(tmp_path: Path) -> None:
    hours = hours_from(tmp_path, """
[calling_hours]
weekday = ""
saturday = ""
pre_holiday = ""
""")
    assert hours.next_open(rome("2026-11-20 12:00")) is None
    assert not hours.is_open(rome("2026-11-20 12:00"))


def test_only_pre_holidays_open_still_finds_the_next_one(tmp_path: Path) -> None:
    hours = hours_from(tmp_path, '[calling_hours]\nweekday = ""\nsaturday = ""\n')
    assert hours.next_open(rome("2026-11-20 12:00")) == rome("2026-12-07 10:00")


def test_an_aware_instant_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="naive UTC"):
        HOURS.is_open(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))


# --- the property --------------------------------------------------------------------------

_MINUTES = st.integers(0, 24 * 60)


@st.composite
def windows(draw: st.DrawFn) -> str:
    """A window as a person writes it, often empty, often near the DST hour."""
    if draw(st.booleans()):
        return ""
    start = draw(st.one_of(st.integers(0, 1439), st.integers(100, 200)))
    end = draw(st.integers(start + 1, 1440))
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    table: dict[str, Any] = {key: draw(windows()) for key in
                             ("weekday", "saturday", "pre_holiday", "sunday", "holiday")}
    table["extra_holidays"] = draw(st.lists(
        st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)), max_size=5))
    return table


# Any instant of two years, or one of the hours around a change of the clocks, where
# wall-clock time jumps.
_INSTANTS = st.one_of(
    st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2027, 12, 31)),
    st.builds(lambda change, seconds: change + dt.timedelta(seconds=seconds),
              st.sampled_from(_DST_CHANGES), st.integers(-4 * 3600, 3 * 3600)),
)


def _closed_between(hours: CallingHours, at: dt.datetime, until: dt.datetime) -> None:
    """Sampled: evenly spaced instants, each Rome midnight, each window's opening (either
    side of an autumn fold) on the days between, and the last microsecond before `until`."""
    span = until - at
    samples = [at + span * (i / 97) for i in range(97)]
    samples.append(until - dt.timedelta(microseconds=1))
    day = at.replace(tzinfo=UTC).astimezone(ROME).date()
    while (midnight := rome(day.isoformat())) < until:
        samples.append(midnight)
        window = hours.window_of(day)
        if window is not None:
            start = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=window.start)
            samples += [rome(start.isoformat(), fold) for fold in (0, 1)]
        day += dt.timedelta(days=1)
    for sample in samples:
        if at <= sample < until:
            assert not hours.is_open(sample), sample


@settings(max_examples=150, deadline=None)
@given(_INSTANTS)
def test_next_open_is_the_first_open_instant_with_the_defaults(at: dt.datetime) -> None:
    after = HOURS.next_open(at)
    assert after is not None
    assert after >= at
    assert HOURS.is_open(after)
    assert after - at < dt.timedelta(days=5)  # the longest closure: Easter or Christmas
    _closed_between(HOURS, at, after)


@settings(max_examples=150, deadline=None)
@given(configs(), _INSTANTS)
def test_next_open_is_the_first_open_instant(table: dict[str, Any], at: dt.datetime) -> None:
    hours = CallingHours.from_table(table, None, IT)
    after = hours.next_open(at)
    if after is None:
        assert all(getattr(hours, kind) is None for kind in
                   ("weekday", "saturday", "pre_holiday", "sunday", "holiday"))
        return
    assert after >= at
    assert hours.is_open(after)
    _closed_between(hours, at, after)


# --- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "key", "words"), [
    ('weekdays = "09:00-20:00"', "calling_hours.weekdays",
     "did you mean 'weekday'? accepted: weekday, saturday"),
    ('holidays = ["2026-12-07"]', "calling_hours.holidays", "did you mean 'holiday'?"),
    ('extra_holiday = ["2026-12-07"]', "calling_hours.extra_holiday",
     "did you mean 'extra_holidays'?"),
    ('weekday = "9-20"', "calling_hours.weekday", "use HH:MM-HH:MM, e.g. 09:00-20:00"),
    ('weekday = "09:00 to 20:00"', "calling_hours.weekday", "use HH:MM-HH:MM"),
    ('saturday = "10:00-25:00"', "calling_hours.saturday", "not a time of day"),
    ('saturday = "10:60-19:00"', "calling_hours.saturday", "not a time of day"),
    ('sunday = "20:00-09:00"', "calling_hours.sunday", "cannot pass midnight"),
    ('sunday = "10:00-10:00"', "calling_hours.sunday", "ends before it starts"),
    ("weekday = 9", "calling_hours.weekday", "must be text in quotes"),
    ('pre_holiday = ["10:00-19:00"]', "calling_hours.pre_holiday", "must be text"),
    ('extra_holidays = "2026-12-07"', "calling_hours.extra_holidays", "must be a list"),
    ('extra_holidays = ["07/12/2026"]', "calling_hours.extra_holidays",
     'use ISO dates, e.g. extra_holidays = ["2026-12-07"]'),
    ('extra_holidays = ["2026-02-30"]', "calling_hours.extra_holidays", "not a date"),
    ('extra_holidays = ["--02-30"]', "calling_hours.extra_holidays", "not a day of the year"),
    # Day first, as Italians write it: never read as 12 July.
    ('extra_holidays = ["07-12"]', "calling_hours.extra_holidays",
     'or "--12-07" (ISO month and day) for 7 December every year'),
    ("extra_holidays = [2026-12-07T00:00:00]", "calling_hours.extra_holidays",
     "is a date and time"),
    ("extra_holidays = [20261207]", "calling_hours.extra_holidays", "not a date"),
])
def test_a_wrong_value_names_the_file_the_key_and_the_fix(
        tmp_path: Path, body: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        hours_from(tmp_path, f"[calling_hours]\n{body}\n")
    error = caught.value
    assert error.key == key
    assert error.file == str(tmp_path / "gatekeeper.toml")
    assert words in str(error)
    assert str(error).startswith(f"{tmp_path / 'gatekeeper.toml'}, key '{key}': ")
    assert "\n" not in str(error)


def test_the_table_itself_must_be_a_table(tmp_path: Path) -> None:
    file = tmp_path / "gatekeeper.toml"
    with pytest.raises(ConfigError, match=r"\[calling_hours\] must be a table"):
        CallingHours.from_table("09:00-20:00", file, IT)


def test_accepted_spellings(tmp_path: Path) -> None:
    hours = hours_from(tmp_path, """
[calling_hours]
weekday = " 9:30 – 24:00 "
saturday = "10:00 - 13:00"
sunday = "00:00-24:00"
extra_holidays = ["2026-12-07", "2026-12-07"]
""")
    assert hours.weekday == Window(9 * 60 + 30, 24 * 60)
    assert hours.saturday == Window(600, 780)
    assert hours.extra_holidays == (dt.date(2026, 12, 7),)
    assert hours.is_open(rome("2026-11-20 23:59:59.999999"))
    assert hours.is_open(rome("2026-11-22 00:00"))  # a Sunday open all day
    assert str(hours.weekday) == "09:30-24:00"
