"""Each country's calling hours through `gatekeeper check --at`, on the callee's wall
clock: every window edge in local time (France's midday break, Spain's 21:00, Germany's
and the UK's Saturdays, Romania's closed Saturday), each country's holidays (Romania's
Orthodox Easter, England's bank holidays), Spain's Canary Islands an hour behind Madrid,
and the change to and from summer time (PRODUCT.md "Countries", hours and holidays rows).

One workspace calls the six countries (Italy, whose numbers need an RPO answer younger
than 15 days, is left to test_countries_mixed.py); its customers consented with every piece of
evidence each law asks, so that the hours are the only thing a check can refuse. Two
runs of one campaign: January (France is still opt-out and has no Bloctel answer here, so
French numbers are asked only after the second run, of 11 August)."""

from __future__ import annotations

import datetime as dt

import pytest

from gatekeeper.config import Workspace

from .test_countries_workspace import (
    DE_MOBILE,
    ES_CANARY,
    ES_FIXED,
    FR_MOBILE,
    RO_MOBILE,
    UK_MOBILE,
    check,
    load,
    run,
    source,
    workspace,
)

CLOSED = "OUTSIDE_CALLING_HOURS"
CONSENTED = {"consent_marketing": "yes", "consent_date": "2025-12-01", "consent_proof": "P1",
             "consent_method": "web_form", "consent_text_id": "T1"}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = workspace(tmp_path_factory.mktemp("hours") / "ws")
    source(ws, "crm", "internal_archive", [
        {"phone": p, **CONSENTED} for p in (RO_MOBILE, FR_MOBILE, ES_FIXED, ES_CANARY,
                                            UK_MOBILE, DE_MOBILE)])
    load(ws)
    january = run(ws, "2026-01-05T12:00Z")
    assert set(january.filter(january["basis"].is_null())["phone"]) == {FR_MOBILE}
    august = run(ws, "2026-08-11T09:00+02:00")
    assert august["reason"].is_null().all(), august
    return ws


def said(ws: Workspace, phone: str, at: str) -> object:
    return check(ws, phone, at, "--campaign", "c")["reason"]


def same_instant(a: object, b: str) -> bool:
    return isinstance(a, str) and dt.datetime.fromisoformat(a) == dt.datetime.fromisoformat(b)


# (number, instant on its wall clock with its offset, dialable)
EDGES = [
    # France, décret 2022-1313: Monday-Friday 10-13 and 14-20 (Friday 18 Sept 2026, CEST)
    (FR_MOBILE, "2026-09-18T09:59:59+02:00", False),
    (FR_MOBILE, "2026-09-18T10:00:00+02:00", True),
    (FR_MOBILE, "2026-09-18T12:59:59+02:00", True),
    (FR_MOBILE, "2026-09-18T13:00:00+02:00", False),
    (FR_MOBILE, "2026-09-18T13:59:59+02:00", False),
    (FR_MOBILE, "2026-09-18T14:00:00+02:00", True),
    (FR_MOBILE, "2026-09-18T19:59:59+02:00", True),
    (FR_MOBILE, "2026-09-18T20:00:00+02:00", False),
    (FR_MOBILE, "2026-09-19T11:00:00+02:00", False),  # Saturday: never
    # Spain, TRLGDCU art. 96.2: Monday-Friday 09-21
    (ES_FIXED, "2026-09-18T08:59:59+02:00", False),
    (ES_FIXED, "2026-09-18T09:00:00+02:00", True),
    (ES_FIXED, "2026-09-18T20:59:00+02:00", True),
    (ES_FIXED, "2026-09-18T20:59:59+02:00", True),
    (ES_FIXED, "2026-09-18T21:00:00+02:00", False),
    (ES_FIXED, "2026-09-19T11:00:00+02:00", False),  # Saturday: never
    # The Canary Islands keep their own clock: 20:30 there is 21:30 in Madrid.
    (ES_CANARY, "2026-09-18T20:30:00+01:00", True),
    (ES_FIXED, "2026-09-18T20:30:00+01:00", False),
    (ES_CANARY, "2026-09-18T21:00:00+01:00", False),
    # Germany, industry code: Monday-Friday 08-20, Saturday 09-18
    (DE_MOBILE, "2026-09-18T07:59:59+02:00", False),
    (DE_MOBILE, "2026-09-18T08:00:00+02:00", True),
    (DE_MOBILE, "2026-09-18T19:59:59+02:00", True),
    (DE_MOBILE, "2026-09-18T20:00:00+02:00", False),
    (DE_MOBILE, "2026-09-19T08:59:59+02:00", False),
    (DE_MOBILE, "2026-09-19T09:00:00+02:00", True),
    (DE_MOBILE, "2026-09-19T17:59:59+02:00", True),
    (DE_MOBILE, "2026-09-19T18:00:00+02:00", False),
    (DE_MOBILE, "2026-09-20T10:00:00+02:00", False),  # Sunday
    # The UK, company default: Monday-Friday 09-20, Saturday 10-17 (BST)
    (UK_MOBILE, "2026-09-18T08:59:59+01:00", False),
    (UK_MOBILE, "2026-09-18T09:00:00+01:00", True),
    (UK_MOBILE, "2026-09-18T19:59:59+01:00", True),
    (UK_MOBILE, "2026-09-18T20:00:00+01:00", False),
    (UK_MOBILE, "2026-09-19T09:59:59+01:00", False),
    (UK_MOBILE, "2026-09-19T10:00:00+01:00", True),
    (UK_MOBILE, "2026-09-19T16:59:59+01:00", True),
    (UK_MOBILE, "2026-09-19T17:00:00+01:00", False),
    # Romania, company default: Monday-Friday 09-20, Saturday closed (EEST)
    (RO_MOBILE, "2026-09-18T08:59:59+03:00", False),
    (RO_MOBILE, "2026-09-18T09:00:00+03:00", True),
    (RO_MOBILE, "2026-09-18T19:59:59+03:00", True),
    (RO_MOBILE, "2026-09-18T20:00:00+03:00", False),
    (RO_MOBILE, "2026-09-19T10:00:00+03:00", False),
    (RO_MOBILE, "2026-09-19T12:00:00+03:00", False),
    # A Saturday before a holiday stays a Saturday where no rule makes eves a day kind
    # (Italy's code of conduct does): Romania's Pentecost Sunday 2026-05-31, France's All
    # Saints' Sunday 2026-11-01. A weekday eve stays a weekday.
    (RO_MOBILE, "2026-05-30T11:00:00+03:00", False),
    (FR_MOBILE, "2026-10-31T11:00:00+01:00", False),
    (FR_MOBILE, "2026-11-10T19:30:00+01:00", True),  # the eve of 11 November
]


@pytest.mark.parametrize(("phone", "at", "dialable"), EDGES)
def test_every_window_edge_in_the_callees_local_time(ws: Workspace, phone: str, at: str,
                                                     dialable: bool) -> None:
    assert said(ws, phone, at) == (None if dialable else CLOSED)


HOLIDAYS = [
    # Romania: Orthodox Good Friday and Easter Monday, 2026 and 2027; the Western Easter
    # Monday is a working day there (and a holiday in France, the UK and Germany).
    (RO_MOBILE, "2026-04-10T11:00:00+03:00", False),
    (RO_MOBILE, "2026-04-13T11:00:00+03:00", False),
    (RO_MOBILE, "2026-04-14T11:00:00+03:00", True),
    (RO_MOBILE, "2026-04-06T11:00:00+03:00", True),
    (RO_MOBILE, "2026-06-01T11:00:00+03:00", False),  # Orthodox Whit Monday
    (RO_MOBILE, "2027-04-30T11:00:00+03:00", False),  # Good Friday 2027
    (RO_MOBILE, "2027-05-03T11:00:00+03:00", False),  # Easter Monday 2027
    (RO_MOBILE, "2027-05-04T11:00:00+03:00", True),
    (UK_MOBILE, "2026-04-06T11:00:00+01:00", False),
    (DE_MOBILE, "2026-04-06T11:00:00+02:00", False),
    # England's bank holidays: the late summer one (31 August), not Scotland's (3 August)
    (UK_MOBILE, "2026-08-31T11:00:00+01:00", False),
    (UK_MOBILE, "2026-08-03T11:00:00+01:00", True),
    (UK_MOBILE, "2026-05-04T11:00:00+01:00", False),  # Early May bank holiday
    (UK_MOBILE, "2026-12-28T11:00:00+00:00", False),  # Boxing Day observed
    (RO_MOBILE, "2026-12-28T11:00:00+02:00", True),
    # France: Armistice Day (a Wednesday); Spain: its National Day (a Monday)
    (FR_MOBILE, "2026-11-11T11:00:00+01:00", False),
    (FR_MOBILE, "2026-11-12T11:00:00+01:00", True),
    (ES_FIXED, "2026-10-12T11:00:00+02:00", False),
    (ES_FIXED, "2026-10-13T11:00:00+02:00", True),
    # Germany: German Unity Day falls on a Saturday in 2026: no Saturday hours then
    (DE_MOBILE, "2026-10-03T11:00:00+02:00", False),
    (DE_MOBILE, "2026-10-10T11:00:00+02:00", True),
]


@pytest.mark.parametrize(("phone", "at", "dialable"), HOLIDAYS)
def test_each_countrys_holidays_close_its_lines_only(ws: Workspace, phone: str, at: str,
                                                    dialable: bool) -> None:
    assert said(ws, phone, at) == (None if dialable else CLOSED)


@pytest.mark.parametrize(("at", "next_open"), [
    # Orthodox Easter Sunday 2026: Monday is Easter Monday, the lines open on Tuesday.
    ("2026-04-12T10:00:00+03:00", "2026-04-14T09:00:00+03:00"),
    # Orthodox Easter Sunday 2027 (2 May), after Labour Day on the Saturday.
    ("2027-05-01T10:00:00+03:00", "2027-05-04T09:00:00+03:00"),
    ("2027-05-02T10:00:00+03:00", "2027-05-04T09:00:00+03:00"),
])
def test_romanias_orthodox_easter_moves_the_next_opening(ws: Workspace, at: str,
                                                         next_open: str) -> None:
    answer = check(ws, RO_MOBILE, at, "--campaign", "c")
    assert answer["reason"] == CLOSED
    assert same_instant(answer["next_allowed_at"], next_open), answer


@pytest.mark.parametrize(("phone", "at", "dialable", "next_open"), [
    # Bucharest, the last Sunday of March: 09:00 is 07:00 UTC on the Friday before (EET),
    # 06:00 UTC on the Monday after (EEST).
    (RO_MOBILE, "2026-03-27T06:00:00Z", False, "2026-03-27T09:00:00+02:00"),
    (RO_MOBILE, "2026-03-27T07:00:00Z", True, None),
    (RO_MOBILE, "2026-03-30T06:00:00Z", True, None),
    (RO_MOBILE, "2026-03-30T05:59:59Z", False, "2026-03-30T09:00:00+03:00"),
    # Asked on the Saturday before the change, the next opening is after it.
    (RO_MOBILE, "2026-03-28T12:00:00Z", False, "2026-03-30T06:00:00Z"),
    # And back in October (the last Sunday is the 25th).
    (RO_MOBILE, "2026-10-24T12:00:00Z", False, "2026-10-26T07:00:00Z"),
    (RO_MOBILE, "2026-10-26T06:59:59Z", False, "2026-10-26T09:00:00+02:00"),
    (RO_MOBILE, "2026-10-26T07:00:00Z", True, None),
    (RO_MOBILE, "2026-10-23T06:00:00Z", True, None),  # the Friday before: 09:00 EEST
    # London closes on Saturday at 17:00 GMT after the October change.
    (UK_MOBILE, "2026-10-24T16:30:00Z", False, "2026-10-26T09:00:00+00:00"),  # 17:30 BST
    (UK_MOBILE, "2026-10-31T16:30:00Z", True, None),  # 16:30 GMT
])
def test_summer_time_days_move_the_hours_with_the_local_clock(
        ws: Workspace, phone: str, at: str, dialable: bool, next_open: str | None) -> None:
    answer = check(ws, phone, at, "--campaign", "c")
    assert answer["dialable"] is dialable, answer
    if next_open is None:
        assert answer["next_allowed_at"] is None
    else:
        assert same_instant(answer["next_allowed_at"], next_open), answer


def test_one_instant_is_answered_by_each_callees_clock(ws: Workspace) -> None:
    """Monday 21 September 2026, 06:30 UTC: 09:30 in Bucharest and 08:30 in Berlin (open),
    08:30 in Paris and Madrid and 07:30 in London (closed); 18:30 UTC: 20:30 in Paris and
    Berlin (closed) and Madrid (open), 19:30 in London (open), 21:30 in Bucharest
    (closed). (Italy's numbers need an RPO answer younger than 15 days: they are asked
    beside these in test_countries_mixed.py.)"""
    morning = {p: said(ws, p, "2026-09-21T06:30:00Z") for p in (
        RO_MOBILE, DE_MOBILE, FR_MOBILE, ES_FIXED, UK_MOBILE)}
    assert morning == {RO_MOBILE: None, DE_MOBILE: None, FR_MOBILE: CLOSED, ES_FIXED: CLOSED,
                       UK_MOBILE: CLOSED}
    evening = {p: said(ws, p, "2026-09-21T18:30:00Z") for p in (
        RO_MOBILE, DE_MOBILE, FR_MOBILE, ES_FIXED, UK_MOBILE)}
    assert evening == {RO_MOBILE: CLOSED, DE_MOBILE: CLOSED, FR_MOBILE: CLOSED, ES_FIXED: None,
                       UK_MOBILE: None}


def test_the_paris_midday_break_says_when_the_afternoon_opens(ws: Workspace) -> None:
    answer = check(ws, FR_MOBILE, "2026-09-18T13:00:00+02:00", "--campaign", "c")
    assert same_instant(answer["next_allowed_at"], "2026-09-18T14:00:00+02:00"), answer
