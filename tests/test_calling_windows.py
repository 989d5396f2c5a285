"""Several calling windows a day (France's 10-13 and 14-20, décret 2022-1313): the gap
between them is closed like the night, and the next opening after the morning is the
afternoon's start the same day.

Instants are written as local wall-clock time of the jurisdiction and turned into the
naive UTC the library takes; none depends on today's date.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.config import Workspace
from gatekeeper.core.errors import ConfigError
from gatekeeper.jurisdictions import IT
from gatekeeper.jurisdictions.calling_hours import CallingHours, Window

from .conftest import AS_OF, copy_demo, gk

ZONE = ZoneInfo(IT.timezone_name)
TWO = """
[calling_hours]
weekday = "10:00-13:00, 14:00-20:00"
saturday = "14:00-18:00,  09:00-12:30"
sunday = ""
"""


def local(text: str, fold: int = 0) -> dt.datetime:
    """'2026-11-20 12:00' (wall clock of the jurisdiction) as naive UTC."""
    aware = dt.datetime.fromisoformat(text).replace(tzinfo=ZONE, fold=fold)
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def hours_from(tmp_path: Path, text: str) -> CallingHours:
    """A real gatekeeper.toml's [calling_hours], parsed as the config parses it."""
    file = tmp_path / "gatekeeper.toml"
    file.write_text(text, encoding="utf-8")
    table = tomllib.loads(file.read_text(encoding="utf-8")).get("calling_hours", {})
    return CallingHours.from_table(table, file, IT)


@pytest.fixture
def two(tmp_path: Path) -> CallingHours:
    return hours_from(tmp_path, TWO)


def test_two_windows_are_one_day_with_a_break(two: CallingHours) -> None:
    assert two.weekday == Window(600, 1200, ((780, 840),))
    assert two.weekday is not None and two.weekday.spans == ((600, 780), (840, 1200))
    assert str(two.weekday) == "10:00-13:00, 14:00-20:00"
    # written in any order, read in order
    assert str(two.saturday) == "09:00-12:30, 14:00-18:00"
    assert two.sunday is None


@pytest.mark.parametrize(("at", "open_"), [
    # Friday 20 Nov 2026: before, inside each, at each edge, in the gap, after the last
    ("2026-11-20 09:59:59", False),
    ("2026-11-20 10:00", True),
    ("2026-11-20 12:59:59.999999", True),
    ("2026-11-20 13:00", False),
    ("2026-11-20 13:30", False),
    ("2026-11-20 13:59:59", False),
    ("2026-11-20 14:00", True),
    ("2026-11-20 19:59:59", True),
    ("2026-11-20 20:00", False),
    ("2026-11-20 23:00", False),
    # Saturday 21 Nov 2026
    ("2026-11-21 09:00", True),
    ("2026-11-21 12:30", False),
    ("2026-11-21 14:00", True),
    ("2026-11-21 18:00", False),
])
def test_inside_each_window_at_each_edge_and_in_the_gap(two: CallingHours, at: str,
                                                        open_: bool) -> None:
    assert two.is_open(local(at)) is open_


@pytest.mark.parametrize(("at", "opens"), [
    ("2026-11-20 08:00", "2026-11-20 10:00"),
    ("2026-11-20 12:00", "2026-11-20 12:00"),  # open: now
    ("2026-11-20 13:00", "2026-11-20 14:00"),  # the gap: the afternoon, the same day
    ("2026-11-20 13:59:59", "2026-11-20 14:00"),
    ("2026-11-20 20:00", "2026-11-21 09:00"),  # after the last: Saturday's first window
    ("2026-11-21 12:30", "2026-11-21 14:00"),
    ("2026-11-21 18:00", "2026-11-23 10:00"),  # Sunday closed: Monday
])
def test_next_open_crosses_the_gap_the_same_day(two: CallingHours, at: str,
                                                opens: str) -> None:
    assert two.next_open(local(at)) == local(opens)


def test_a_lunch_break_on_the_day_summer_time_starts(tmp_path: Path) -> None:
    """29 March 2026: 02:00 becomes 03:00. A window the clocks skip opens nothing; the next
    opening is the first wall-clock start that exists."""
    hours = hours_from(tmp_path, """
[calling_hours]
sunday = "01:00-02:30, 03:30-05:00"
""")
    assert hours.is_open(local("2026-03-29 01:59:59"))
    assert not hours.is_open(local("2026-03-29 03:00"))  # the instant after 01:59:59.999
    assert hours.next_open(local("2026-03-29 03:00")) == local("2026-03-29 03:30")
    assert hours.is_open(local("2026-03-29 03:30"))
    skipped = hours_from(tmp_path, """
[calling_hours]
sunday = "02:15-02:45, 04:00-05:00"
""")
    assert skipped.next_open(local("2026-03-29 00:00")) == local("2026-03-29 04:00")


def test_a_lunch_break_inside_the_hour_the_clocks_repeat(tmp_path: Path) -> None:
    """25 October 2026: 03:00 summer time becomes 02:00 again. The gap 02:30-02:45 happens
    twice, and each time the next opening is 02:45 of the same pass."""
    hours = hours_from(tmp_path, """
[calling_hours]
sunday = "01:00-02:30, 02:45-04:00"
""")
    first, second = local("2026-10-25 02:35", 0), local("2026-10-25 02:35", 1)
    assert second - first == dt.timedelta(hours=1)
    for at in (first, second):
        assert not hours.is_open(at)
    assert hours.next_open(first) == local("2026-10-25 02:45", 0)
    assert hours.next_open(second) == local("2026-10-25 02:45", 1)
    assert hours.is_open(local("2026-10-25 02:50", 0)) and hours.is_open(
        local("2026-10-25 02:50", 1))


@pytest.mark.parametrize(("value", "words"), [
    ('"10:00-14:00, 13:00-20:00"', "the windows 10:00-14:00 and 13:00-20:00 overlap"),
    ('"10:00-13:00, 14:00"', "'14:00' is not a time window"),
    ('"10:00-13:00,"', "'' is not a time window"),
    ('"10:00-13:00, 20:00-14:00"', "'20:00-14:00' ends before it starts"),
])
def test_a_wrong_list_of_windows_names_the_window_and_the_fix(tmp_path: Path, value: str,
                                                              words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        hours_from(tmp_path, f"[calling_hours]\nweekday = {value}\n")
    assert caught.value.key == "calling_hours.weekday"
    assert words in str(caught.value)
    assert '"10:00-13:00, 14:00-20:00"' in str(caught.value)  # the fix shows the form


def test_windows_that_touch_are_one(tmp_path: Path) -> None:
    hours = hours_from(tmp_path, '[calling_hours]\nweekday = "14:00-20:00, 09:00-14:00"\n')
    assert hours.weekday == Window(540, 1200)


def test_italys_defaults_are_one_window_a_day() -> None:
    hours = CallingHours.from_table({}, None, IT)
    assert hours.weekday == Window(540, 1200) and hours.weekday.breaks == ()
    assert hours.zone == IT.timezone_name


_WINDOWS = st.lists(st.tuples(st.integers(0, 1439), st.integers(1, 240)), min_size=1,
                    max_size=4)


@settings(max_examples=100, deadline=None)
@given(_WINDOWS, st.datetimes(dt.datetime(2026, 3, 27), dt.datetime(2026, 11, 2)))
def test_next_open_is_open_and_nothing_before_it_is(spans: list[tuple[int, int]],
                                                   at: dt.datetime) -> None:
    """Any set of windows (overlaps merged by hand: the parser refuses them) on every day:
    next_open is open, and every minute between `at` and it is closed."""
    minutes: set[int] = set()
    for start, length in spans:
        minutes.update(range(start, min(start + length, 1440)))
    runs: list[tuple[int, int]] = []
    for minute in sorted(minutes):
        if runs and runs[-1][1] == minute:
            runs[-1] = (runs[-1][0], minute + 1)
        else:
            runs.append((minute, minute + 1))
    text = ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in runs)
    hours = CallingHours.from_table({kind: text for kind in
                                     ("weekday", "saturday", "pre_holiday", "sunday",
                                      "holiday")}, None, IT)
    after = hours.next_open(at)
    assert after is not None and after >= at and hours.is_open(after)
    probe = at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while probe < after:
        assert not hours.is_open(probe), (text, at, probe)
        probe += dt.timedelta(minutes=1)


def test_check_answers_the_afternoon_in_the_lunch_break(tmp_path: Path) -> None:
    """End to end: a workspace configured with two windows, `gatekeeper check` at 13:30
    says no and names 14:00 the same day."""
    ws: Workspace = copy_demo(tmp_path / "two")
    config = ws.root / "gatekeeper.toml"
    config.write_text(config.read_text() + TWO)
    for step in (("load",), ("run", "--campaign", "sat", "--purpose", "survey", "--as-of",
                             AS_OF)):
        assert gk(ws, *step).exit_code == 0
    phone = _a_dialable_phone(ws)
    lunch = gk(ws, "check", phone, "--purpose", "survey", "--campaign", "sat", "--at",
               "2026-11-24T13:30", "--json")
    answer = json.loads(lunch.stdout)
    assert (answer["reason"], answer["next_allowed_at"]) == (
        "OUTSIDE_CALLING_HOURS", "2026-11-24T14:00:00+01:00"), answer
    words = gk(ws, "check", phone, "--purpose", "survey", "--campaign", "sat", "--at",
               "2026-11-24T13:30")
    assert "24/11/2026 14:00" in words.output, words.output
    assert json.loads(gk(ws, "check", phone, "--purpose", "survey", "--campaign", "sat",
                         "--at", "2026-11-24T14:00", "--json").stdout)["dialable"]


def _a_dialable_phone(ws: Workspace) -> str:
    import polars as pl

    phone: str = pl.read_csv(ws.report_dir("sat") / "dialable.csv",
                             infer_schema=False)["phone"][0]
    return phone
