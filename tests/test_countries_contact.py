"""How often a number may be called, per country, through `gatekeeper calls import` and
`gatekeeper check --at` (PRODUCT.md "Countries", attempts and caller-id rows): France's 4
attempts in 30 days and 60 days' rest after a refusal, Germany's 3 a day and 15 a week,
the UK's 72 hours after an abandoned call, Spain's refusal of a Spanish mobile caller id;
and the company's [contact.FR] and [calling_hours.FR] winning where stricter than the
law, never where looser."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gatekeeper.config import Workspace

from .test_countries_workspace import (
    DE_MOBILE,
    ES_FIXED,
    FR_MOBILE,
    RO_MOBILE,
    UK_MOBILE,
    calls,
    load,
    reason_at,
    run,
    source,
    workspace,
)

CONSENTED = {"consent_marketing": "yes", "consent_date": "2026-06-01", "consent_proof": "P1",
             "consent_method": "web_form", "consent_text_id": "T1"}


def called(root: Path, extra: str = "") -> Workspace:
    """Customers of four countries with every consent evidence, decided on 11 August."""
    ws = workspace(root, extra=extra)
    source(ws, "crm", "internal_archive", [
        {"phone": p, **CONSENTED} for p in (FR_MOBILE, DE_MOBILE, UK_MOBILE, ES_FIXED,
                                            RO_MOBILE)])
    load(ws)
    assert run(ws, "2026-08-11T09:00+02:00")["reason"].is_null().all()
    return ws


def at_paris(day: str, time: str = "11:00") -> str:
    return f"2026-{day}T{time}:00+02:00"


def test_france_four_attempts_in_thirty_days_whatever_the_company_allows(
        tmp_path: Path) -> None:
    # A company that allows ten attempts: France's law still stops at four.
    ws = called(tmp_path / "ws", "[contact]\nmax_attempts = 10\nattempt_window_days = 30\n")
    calls(ws, [(FR_MOBILE, at_paris(f"09-0{d}", "10:00"), "no_answer") for d in (1, 2, 3)],
          "first")
    assert reason_at(ws, FR_MOBILE, at_paris("09-10")) is None  # three: one more allowed
    calls(ws, [(FR_MOBILE, at_paris("09-04", "10:00"), "busy")], "fourth")
    assert reason_at(ws, FR_MOBILE, at_paris("09-10")) == "ATTEMPT_LIMIT"
    assert reason_at(ws, FR_MOBILE, at_paris("09-30")) == "ATTEMPT_LIMIT"  # 29 days on
    # 1 October 10:00 is 30 days after the first: it leaves the window.
    assert reason_at(ws, FR_MOBILE, at_paris("10-01", "10:30")) is None
    # A failed attempt (the network's, not a call) does not count.
    calls(ws, [(FR_MOBILE, at_paris("09-29", "10:00"), "failed")], "failed")
    assert reason_at(ws, FR_MOBILE, at_paris("10-01", "10:30")) is None
    # Other countries follow the company's ten here (no law of theirs limits attempts).
    calls(ws, [(RO_MOBILE, f"2026-09-0{d}T10:00:00+03:00", "no_answer") for d in range(1, 8)],
          "ro")
    assert reason_at(ws, RO_MOBILE, "2026-09-10T11:00:00+03:00") is None


def test_a_stricter_company_limit_for_france_wins(tmp_path: Path) -> None:
    ws = called(tmp_path / "ws", "[contact.FR]\nmax_attempts = 2\n")
    calls(ws, [(FR_MOBILE, at_paris("09-01", "10:00"), "no_answer")], "one")
    assert reason_at(ws, FR_MOBILE, at_paris("09-10")) is None
    calls(ws, [(FR_MOBILE, at_paris("09-02", "10:00"), "no_answer"),
               (DE_MOBILE, at_paris("09-01", "10:00"), "no_answer"),
               (DE_MOBILE, at_paris("09-02", "10:00"), "no_answer")], "two")
    assert reason_at(ws, FR_MOBILE, at_paris("09-10")) == "ATTEMPT_LIMIT"
    assert reason_at(ws, DE_MOBILE, at_paris("09-10")) is None  # [contact.FR] is France's


def test_france_rests_sixty_days_after_a_refusal_even_when_the_company_says_thirty(
        tmp_path: Path) -> None:
    ws = called(tmp_path / "ws", "[contact]\nrefusal_cooldown_days = 30\n")
    calls(ws, [(FR_MOBILE, at_paris("09-01", "10:00"), "refused"),
               (RO_MOBILE, "2026-09-01T10:00:00+03:00", "refused")])
    assert reason_at(ws, FR_MOBILE, at_paris("10-06")) == "COOLDOWN"  # 35 days
    assert reason_at(ws, RO_MOBILE, "2026-10-06T11:00:00+03:00") is None  # the company's 30
    assert reason_at(ws, FR_MOBILE, "2026-10-30T11:00:00+01:00") == "COOLDOWN"  # 59 days
    assert reason_at(ws, FR_MOBILE, "2026-11-02T11:00:00+01:00") is None  # 62 days


def test_a_longer_company_rest_for_france_wins(tmp_path: Path) -> None:
    ws = called(tmp_path / "ws", "[contact.FR]\nrefusal_cooldown_days = 90\n")
    calls(ws, [(FR_MOBILE, at_paris("09-01", "10:00"), "refused")])
    assert reason_at(ws, FR_MOBILE, "2026-11-02T11:00:00+01:00") == "COOLDOWN"
    assert reason_at(ws, FR_MOBILE, "2026-12-01T11:00:00+01:00") is None


def test_france_company_hours_narrow_the_law_and_never_widen_it(tmp_path: Path) -> None:
    ws = called(tmp_path / "ws", textwrap.dedent("""\
        [calling_hours.FR]
        weekday = "10:00-12:00, 14:00-19:00"
        """))
    friday = "09-18"
    assert reason_at(ws, FR_MOBILE, at_paris(friday, "11:59")) is None
    assert reason_at(ws, FR_MOBILE, at_paris(friday, "12:00")) == "OUTSIDE_CALLING_HOURS"
    assert reason_at(ws, FR_MOBILE, at_paris(friday, "19:00")) == "OUTSIDE_CALLING_HOURS"
    assert reason_at(ws, DE_MOBILE, at_paris(friday, "12:30")) is None  # Germany's own
    wide = called(tmp_path / "wide", textwrap.dedent("""\
        [calling_hours.FR]
        weekday = "08:00-21:00"
        saturday = "09:00-18:00"
        """))
    assert reason_at(wide, FR_MOBILE, at_paris(friday, "09:00")) == "OUTSIDE_CALLING_HOURS"
    assert reason_at(wide, FR_MOBILE, at_paris(friday, "13:30")) == "OUTSIDE_CALLING_HOURS"
    assert reason_at(wide, FR_MOBILE, at_paris(friday, "20:30")) == "OUTSIDE_CALLING_HOURS"
    assert reason_at(wide, FR_MOBILE, at_paris("09-19", "11:00")) == "OUTSIDE_CALLING_HOURS"
    assert reason_at(wide, FR_MOBILE, at_paris(friday, "10:00")) is None


def test_romania_hours_are_a_company_default_the_company_may_replace(tmp_path: Path) -> None:
    ws = called(tmp_path / "ws", '[calling_hours.RO]\nweekday = "08:00-21:00"\n')
    assert reason_at(ws, RO_MOBILE, "2026-09-18T08:30:00+03:00") is None
    assert reason_at(ws, RO_MOBILE, "2026-09-18T20:30:00+03:00") is None


def test_germany_three_a_day_and_fifteen_a_week(tmp_path: Path) -> None:
    # The company's own limit set high, so that the industry code's are the ones tested.
    ws = called(tmp_path / "ws", "[contact.DE]\nmax_attempts = 100\n")
    monday = [(DE_MOBILE, f"2026-09-14T{h}:00:00+02:00", "no_answer") for h in ("08", "09")]
    calls(ws, monday, "two")
    assert reason_at(ws, DE_MOBILE, "2026-09-14T11:00:00+02:00") is None
    calls(ws, [(DE_MOBILE, "2026-09-14T10:00:00+02:00", "no_answer")], "third")
    assert reason_at(ws, DE_MOBILE, "2026-09-14T11:00:00+02:00") == "ATTEMPT_LIMIT"
    # The day's count is of the last day: 24 hours after the first, one has left it.
    assert reason_at(ws, DE_MOBILE, "2026-09-15T08:30:00+02:00") is None
    # Three a day Tuesday to Friday too: 15 in the week, the day's own limit untouched.
    calls(ws, [(DE_MOBILE, f"2026-09-{d}T{h}:00:00+02:00", "no_answer")
               for d in (15, 16, 17, 18) for h in ("08", "09", "10")], "week")
    assert reason_at(ws, DE_MOBILE, "2026-09-19T12:00:00+02:00") == "ATTEMPT_LIMIT"  # Sat
    # The Monday's three leave the week on the next Monday at 10:00.
    assert reason_at(ws, DE_MOBILE, "2026-09-21T10:30:00+02:00") is None


def test_the_uk_waits_72_hours_after_an_abandoned_call(tmp_path: Path) -> None:
    ws = called(tmp_path / "ws")
    calls(ws, [(UK_MOBILE, "2026-09-14T10:00:00+01:00", "abandoned"),
               (FR_MOBILE, at_paris("09-14", "10:00"), "abandoned")])
    assert reason_at(ws, UK_MOBILE, "2026-09-17T09:59:00+01:00") == "ABANDONED_RECENTLY"
    assert reason_at(ws, UK_MOBILE, "2026-09-17T09:59:59+01:00") == "ABANDONED_RECENTLY"
    assert reason_at(ws, UK_MOBILE, "2026-09-17T10:00:00+01:00") is None
    assert reason_at(ws, FR_MOBILE, at_paris("09-15")) is None  # Ofcom's rule is the UK's


def test_spain_refuses_a_spanish_mobile_caller_id(tmp_path: Path) -> None:
    ws = called(tmp_path / "ws")
    (ws.root / "agencies" / "madrid.toml").write_text(textwrap.dedent("""\
        id = "madrid"
        name = "Llamadas Madrid S.L."
        vat = "ESB12345678"
        authorised_from = 2026-01-01
        caller_ids = ["+34612000111", "+34910000111"]
        campaigns = []
        """))
    at = "2026-09-18T11:00:00+02:00"
    by = ("--agency", "madrid", "--caller-id")
    assert reason_at(ws, ES_FIXED, at, *by, "+34612000111") == "CALLER_ID_NOT_ALLOWED"
    assert reason_at(ws, ES_FIXED, at, *by, "+34910000111") is None
    assert reason_at(ws, ES_FIXED, at, "--agency", "madrid") is None  # none shown
    # Orden TDF/149/2025 is Spain's: France's callee may see the Spanish mobile.
    assert reason_at(ws, FR_MOBILE, at, *by, "+34612000111") is None
    # An undeclared caller id is the agency's fault first.
    assert reason_at(ws, ES_FIXED, at, *by, "+34612999999") == "CALLER_ID_UNDECLARED"
