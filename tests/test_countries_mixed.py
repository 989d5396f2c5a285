"""A list of Italian, Romanian, French, Spanish, British and German numbers (and a Swiss
one, a country not called) decided in one `gatekeeper run`, each by its own country's
rules, each row recording the version that decided it, each basis citing its own law;
and `gatekeeper check` of each at one instant answering by the callee's clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from .test_countries_workspace import (
    DE_MOBILE,
    ES_CUSTOMER,
    ES_FIXED,
    FR_MOBILE,
    IT_MOBILE,
    MIXED_DECISIONS,
    MIXED_RULES,
    RO_MOBILE,
    UK_FIXED,
    UK_MOBILE,
    mixed_workspace,
    reason_at,
)

LAW = {"+39": "art. 130", "+40": "L. 506/2004", "+33": "L. 2025-594", "+34": "Ley 11/2022",
       "+44": "PECR 2003", "+49": "UWG"}


def test_one_run_decides_each_number_by_its_own_country(tmp_path: Path) -> None:
    ws = mixed_workspace(tmp_path / "ws")
    decided = pl.read_parquet(ws.report_dir("c") / "decisions.parquet")
    got = {p: (r, b) for p, r, b in decided.select("phone", "reason", "basis").iter_rows()}
    assert got == MIXED_DECISIONS
    assert {p: v for p, v in decided.select("phone", "rules").iter_rows()} == {
        p: MIXED_RULES[p[:3]] for p in MIXED_DECISIONS}
    dialable = pl.read_csv(ws.report_dir("c") / "dialable.csv", infer_schema=False)
    assert set(dialable["phone"]) == {p for p, (r, _) in MIXED_DECISIONS.items() if r is None}
    for phone, text in dialable.select("phone", "basis_text").iter_rows():
        assert LAW[phone[:3]] in text, (phone, text)
    # Each register's validity: the RPO's 15 days, the Robinson's 30, the TPS's 28; no
    # register, no end (Romania, Germany, consent in Spain and the UK, France after the
    # switch).
    until = {p: v and dt.datetime.fromisoformat(v) for p, v in
             dialable.select("phone", "valid_until").iter_rows()}
    assert until[IT_MOBILE] == dt.datetime.fromisoformat("2026-10-02T10:00:00+02:00")
    assert until[ES_CUSTOMER] == dt.datetime.fromisoformat("2026-10-17T08:00:00Z")
    assert until[UK_FIXED] == dt.datetime.fromisoformat("2026-10-15T08:00:00Z")
    assert until[RO_MOBILE] is None and until[DE_MOBILE] is None
    assert until[FR_MOBILE] is None and until[ES_FIXED] is None and until[UK_MOBILE] is None


def test_check_at_one_instant_answers_by_each_callees_clock(tmp_path: Path) -> None:
    ws = mixed_workspace(tmp_path / "ws")
    closed = "OUTSIDE_CALLING_HOURS"
    consented = (IT_MOBILE, RO_MOBILE, FR_MOBILE, ES_FIXED, UK_MOBILE, DE_MOBILE)
    # Friday 06:30 UTC: 09:30 in Bucharest, 08:30 in Berlin (open); 08:30 in Rome, Paris
    # and Madrid, 07:30 in London (closed).
    assert {p: reason_at(ws, p, "2026-09-18T06:30:00Z") for p in consented} == {
        IT_MOBILE: closed, RO_MOBILE: None, FR_MOBILE: closed, ES_FIXED: closed,
        UK_MOBILE: closed, DE_MOBILE: None}
    # 11:00 UTC: 13:00 in Paris is France's midday break; every other line is open.
    assert {p: reason_at(ws, p, "2026-09-18T11:00:00Z") for p in consented} == {
        IT_MOBILE: None, RO_MOBILE: None, FR_MOBILE: closed, ES_FIXED: None,
        UK_MOBILE: None, DE_MOBILE: None}
    # 18:30 UTC: 19:30 in London and 20:30 in Madrid (open); 20:30 in Rome, Paris and
    # Berlin and 21:30 in Bucharest (closed).
    assert {p: reason_at(ws, p, "2026-09-18T18:30:00Z") for p in consented} == {
        IT_MOBILE: closed, RO_MOBILE: closed, FR_MOBILE: closed, ES_FIXED: None,
        UK_MOBILE: None, DE_MOBILE: closed}
    # Saturday 19 September, 09:30 UTC: Germany (11:30) and the UK (10:30) call on
    # Saturdays, Italy (11:30) too; Romania, France and Spain never.
    assert {p: reason_at(ws, p, "2026-09-19T09:30:00Z") for p in consented} == {
        IT_MOBILE: None, RO_MOBILE: closed, FR_MOBILE: closed, ES_FIXED: closed,
        UK_MOBILE: None, DE_MOBILE: None}
    # Suppressed numbers answer with their own country's reason.
    for phone, (reason, _) in MIXED_DECISIONS.items():
        if reason is not None:
            assert reason_at(ws, phone, "2026-09-18T09:30:00Z") == reason, phone
