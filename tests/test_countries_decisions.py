"""Each country's list rules through `gatekeeper run` (and `check --at` where the answer
is the call's): France's dated switch from Bloctel to opt-in on 11 August 2026 and the
version each row records, energy renovation, register validity (Bloctel 30 days, the
Lista Robinson 30, the TPS 28) and registration, Spain's 365 days of legitimate interest,
Germany's and Romania's consent and its evidence (PRODUCT.md "Countries")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from gatekeeper.config import Workspace

from .test_countries_workspace import (
    DE_FIXED,
    DE_MOBILE,
    ES_CANARY,
    ES_FIXED,
    ES_MOBILE,
    FR_FIXED,
    FR_MOBILE,
    IT_MOBILE,
    RO_FIXED,
    RO_MOBILE,
    UK_FIXED,
    UK_MOBILE,
    bloctel,
    check,
    decision,
    load,
    reason_at,
    register_answers,
    run,
    source,
    workspace,
)

EVIDENCE = {"consent_proof": "P1", "consent_method": "web_form", "consent_text_id": "T1"}


def consented(phone: str, date: str = "2026-06-01", **fields: str) -> dict[str, str]:
    return {"phone": phone, "consent_marketing": "yes", "consent_date": date, **EVIDENCE,
            **fields}


# --- France: the dated switch ---------------------------------------------------------

BEFORE, AFTER = "2026-08-10T18:00+02:00", "2026-08-11T10:00+02:00"
FR_CUSTOMER = "+33145678901"  # a contract in force, no consent to calls


@pytest.fixture(scope="module")
def france(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = workspace(tmp_path_factory.mktemp("fr") / "ws", ("IT", "FR"))
    source(ws, "annuaire", "public_directory", [{"phone": FR_FIXED}])
    source(ws, "crm", "internal_archive", [
        consented(FR_MOBILE),
        {"phone": FR_CUSTOMER, "contract_status": "active"},
        consented("+33687654321", consent_method=""),  # no method: France asks it
    ])
    load(ws)
    bloctel(ws, [FR_FIXED, FR_MOBILE, FR_CUSTOMER], ["+33687654321"],
            "2026-08-01T10:00+02:00")
    return ws


def test_the_same_directory_number_before_and_after_the_switch(france: Workspace) -> None:
    before = run(france, BEFORE, "early")
    after = run(france, AFTER, "late")
    assert decision(before, FR_FIXED) == (None, "PUBLIC_DIRECTORY")
    assert decision(after, FR_FIXED) == ("CONSENT_REQUIRED", None)
    # Each row records the version of France's rules that decided it.
    assert set(before["rules"]) == {"FR until 2026-08-10"}
    assert set(after["rules"]) == {"FR from 2026-08-11"}
    # Consent to us and a contract in force stay bases on both sides of the switch.
    for decided in (before, after):
        assert decision(decided, FR_MOBILE) == (None, "OWN_CONSENT")
        assert decision(decided, FR_CUSTOMER) == (None, "CUSTOMER_CONTRACT")
        assert decision(decided, "+33687654321")[0] == "CONSENT_UNPROVEN"
    # The early run's list is valid no later than the version it was decided by.
    dialable = pl.read_csv(france.report_dir("early") / "dialable.csv", infer_schema=False)
    ends = dt.datetime.fromisoformat("2026-08-11T00:00:00+02:00")
    assert all(dt.datetime.fromisoformat(v) <= ends for v in dialable["valid_until"])


def test_a_call_after_the_switch_on_the_earlier_run_is_rules_changed(
        france: Workspace) -> None:
    run(france, BEFORE, "early")
    early = ("--campaign", "early")
    assert reason_at(france, FR_FIXED, "2026-08-10T18:30:00+02:00", *early) is None
    assert reason_at(france, FR_FIXED, AFTER, *early) == "RULES_CHANGED"
    assert reason_at(france, FR_MOBILE, AFTER, *early) == "RULES_CHANGED"
    answer = check(france, FR_FIXED, AFTER, *early)
    assert "non più in vigore" in str(answer["reason_text"])
    # Run again under the rules in force: the answer is the new rules' own.
    run(france, AFTER, "early")
    assert reason_at(france, FR_FIXED, AFTER, *early) == "CONSENT_REQUIRED"
    assert reason_at(france, FR_MOBILE, AFTER, *early) is None


def test_bloctel_registration_and_its_thirty_days(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", ("IT", "FR"))
    source(ws, "annuaire", "public_directory", [{"phone": FR_FIXED}, {"phone": FR_MOBILE}])
    load(ws)
    bloctel(ws, [FR_FIXED], [FR_MOBILE], "2026-07-01T10:00+02:00")
    fresh = run(ws, "2026-07-31T09:59:59+02:00")
    assert decision(fresh, FR_FIXED) == (None, "PUBLIC_DIRECTORY")
    assert decision(fresh, FR_MOBILE) == ("REGISTERED", None)
    dialable = pl.read_csv(ws.report_dir("c") / "dialable.csv", infer_schema=False)
    assert [dt.datetime.fromisoformat(v) for v in dialable["valid_until"]] == [
        dt.datetime.fromisoformat("2026-07-31T10:00:00+02:00")]
    stale = run(ws, "2026-07-31T10:00+02:00")
    assert decision(stale, FR_FIXED) == ("REGISTER_NOT_CHECKED", None)


def test_energy_renovation_is_never_called_without_a_contract(france: Workspace) -> None:
    decided = run(france, AFTER, "reno", "--sector", "renovation_energetique")
    assert decision(decided, FR_MOBILE) == ("SECTOR_BANNED", None)
    assert decision(decided, FR_CUSTOMER) == (None, "CUSTOMER_CONTRACT")
    # Before the switch too: the ban is not the opt-in's.
    early = run(france, BEFORE, "reno-early", "--sector", "renovation_energetique")
    assert decision(early, FR_FIXED) == ("SECTOR_BANNED", None)
    assert decision(early, FR_CUSTOMER) == (None, "CUSTOMER_CONTRACT")
    # Another sector is not banned.
    other = run(france, AFTER, "energy", "--sector", "energia")
    assert decision(other, FR_MOBILE) == (None, "OWN_CONSENT")


# --- Spain: the Lista Robinson and legitimate interest ----------------------------------

def test_spain_robinson_thirty_days_and_legitimate_interest_365_days(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", ("IT", "ES"))
    source(ws, "clientes", "internal_archive", [
        {"phone": ES_FIXED, "contract_status": "ceased", "contract_end": "2025-09-15"},
        {"phone": ES_CANARY, "contract_status": "ceased", "contract_end": "2025-09-14"},
        {"phone": "+34913456789", "contract_status": "active"},
        {"phone": "+34914567890", "contract_status": "active"},  # in the Lista Robinson
        consented(ES_MOBILE),  # consent to us: no Robinson needed
        {"phone": "+34915678901"},  # neither a customer nor a consent to us
        consented("+34916789012", date=""),  # a consent without its date
    ])
    load(ws)
    register_answers(ws, {ES_FIXED: False, ES_CANARY: False, "+34913456789": False,
                          "+34914567890": True}, "2026-08-16T12:00:00Z")
    decided = run(ws, "2026-09-15T11:59:59Z")
    assert decision(decided, ES_FIXED) == (None, "CUSTOMER_CONTRACT")  # 365 days ago
    assert decision(decided, ES_CANARY) == ("NO_RELATIONSHIP", None)  # 366 days ago
    assert decision(decided, "+34913456789") == (None, "CUSTOMER_CONTRACT")
    assert decision(decided, "+34914567890") == ("REGISTERED", None)
    assert decision(decided, ES_MOBILE) == (None, "OWN_CONSENT")
    assert decision(decided, "+34915678901") == ("CONSENT_MISSING", None)
    assert decision(decided, "+34916789012") == ("CONSENT_MISSING", None)
    later = run(ws, "2026-09-15T12:00:00Z")  # 30 days after the Robinson answer
    assert decision(later, "+34913456789") == ("REGISTER_NOT_CHECKED", None)
    assert decision(later, ES_MOBILE) == (None, "OWN_CONSENT")


def test_spain_bought_lists_need_the_robinson_check(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", ("IT", "ES"))
    source(ws, "compradas", "third_party", [
        {"phone": p, "consent_third_party": "yes", "consent_date": "2026-06-01",
         "consent_proof": "P1"} for p in (ES_FIXED, ES_MOBILE, "+34913456789")])
    load(ws)
    register_answers(ws, {ES_FIXED: False, ES_MOBILE: True}, "2026-09-01T10:00:00Z")
    decided = run(ws, "2026-09-02T10:00:00Z")
    assert decision(decided, ES_FIXED) == (None, "THIRD_PARTY_CONSENT")
    assert decision(decided, ES_MOBILE) == ("REGISTERED", None)
    assert decision(decided, "+34913456789") == ("REGISTER_NOT_CHECKED", None)


# --- the UK: TPS/CTPS ------------------------------------------------------------------

def test_the_tps_answer_is_relied_on_for_28_days(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", ("IT", "UK"))
    source(ws, "directory", "public_directory", [{"phone": UK_FIXED}, {"phone": UK_MOBILE},
                                                 {"phone": "+442079461111"}])
    source(ws, "crm", "internal_archive", [consented("+442079461111")])
    load(ws)
    register_answers(ws, {UK_FIXED: False, UK_MOBILE: True, "+442079461111": True},
                     "2026-09-01T09:00:00Z")
    fresh = run(ws, "2026-09-29T08:59:59Z")
    assert decision(fresh, UK_FIXED) == (None, "PUBLIC_DIRECTORY")
    assert decision(fresh, UK_MOBILE) == ("REGISTERED", None)
    # Registered, but the person told us they do not object: PECR reg. 21(4).
    dialable = pl.read_csv(ws.report_dir("c") / "dialable.csv", infer_schema=False)
    assert dict(zip(dialable["phone"], dialable["basis"], strict=True)) == {
        UK_FIXED: "PUBLIC_DIRECTORY", "+442079461111": "OWN_CONSENT"}
    assert dt.datetime.fromisoformat(dialable.filter(pl.col("phone") == UK_FIXED)[
        "valid_until"][0]) == dt.datetime.fromisoformat("2026-09-29T09:00:00Z")
    stale = run(ws, "2026-09-29T09:00:00Z")
    assert decision(stale, UK_FIXED) == ("REGISTER_NOT_CHECKED", None)


# --- Germany and Romania: opt-in, and the evidence each asks -----------------------------

@pytest.mark.parametrize(("missing", "reason"), [
    ({}, None),
    ({"consent_proof": ""}, "CONSENT_UNPROVEN"),
    ({"consent_method": ""}, "CONSENT_UNPROVEN"),
    ({"consent_text_id": ""}, "CONSENT_UNPROVEN"),
    ({"consent_date": ""}, "CONSENT_MISSING"),
    # No consent: the own archive's basis fits and its consent is missing (an opt-in
    # country's CONSENT_REQUIRED is for rows no basis fits: docs/decisions.md).
    ({"consent_marketing": "no"}, "CONSENT_MISSING"),
])
def test_germany_asks_proof_date_method_and_text(tmp_path: Path, missing: dict[str, str],
                                                 reason: str | None) -> None:
    ws = workspace(tmp_path / "ws", ("IT", "DE", "RO"))
    row = {**consented(DE_MOBILE), **missing}
    ro_row = {**consented(RO_MOBILE), **missing}
    source(ws, "kunden", "internal_archive", [row, ro_row])
    source(ws, "telefonbuch", "public_directory", [{"phone": DE_FIXED}])
    load(ws)
    decided = run(ws, "2026-09-01T10:00:00Z")
    assert decision(decided, DE_MOBILE)[0] == reason
    assert decision(decided, DE_FIXED) == ("CONSENT_REQUIRED", None)  # opt-in
    # Romania asks proof and date only: method and text are not its law's.
    ro_reason = None if missing in ({"consent_method": ""}, {"consent_text_id": ""}) else reason
    assert decision(decided, RO_MOBILE)[0] == ro_reason


def test_romania_needs_consent_for_every_marketing_call(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", ("IT", "RO"))
    source(ws, "pagini", "public_directory", [{"phone": RO_FIXED}])
    source(ws, "clienti", "internal_archive", [
        consented(RO_MOBILE),
        {"phone": "+40723456789", "contract_status": "active"},  # a customer, no consent
        consented("+40724567890", contract_status="active"),
    ])
    source(ws, "cumparate", "third_party", [
        {"phone": "+40725678901", "consent_third_party": "yes", "consent_date": "2026-06-01",
         "consent_proof": "P1"},
        {"phone": "+40726789012", "consent_third_party": "yes", "consent_date": "2026-06-01"},
    ])
    load(ws)
    decided = run(ws, "2026-09-01T10:00:00Z")  # no register to check: none exists
    assert decision(decided, RO_FIXED) == ("CONSENT_REQUIRED", None)
    assert decision(decided, RO_MOBILE) == (None, "OWN_CONSENT")
    assert decision(decided, "+40723456789") == ("CONSENT_MISSING", None)
    assert decision(decided, "+40724567890") == (None, "CONTRACT_CONSENT")
    assert decision(decided, "+40725678901") == (None, "THIRD_PARTY_CONSENT")
    assert decision(decided, "+40726789012") == ("CONSENT_UNPROVEN", None)
    # A Romanian basis cites Romania's law, not Italy's.
    dialable = pl.read_csv(ws.report_dir("c") / "dialable.csv", infer_schema=False)
    assert all(t.startswith("L. 506/2004") for t in dialable["basis_text"]), dialable


def test_a_country_not_called_is_out_of_jurisdiction(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", ("IT", "RO"))
    source(ws, "crm", "internal_archive", [consented(RO_MOBILE), consented(FR_MOBILE),
                                           consented(IT_MOBILE)])
    load(ws)
    decided = run(ws, "2026-09-01T10:00:00Z")
    assert decision(decided, FR_MOBILE) == ("OUT_OF_JURISDICTION", None)
    assert decision(decided, RO_MOBILE) == (None, "OWN_CONSENT")
    assert decision(decided, IT_MOBILE) == ("RPO_NOT_CHECKED", None)
    assert reason_at(ws, FR_MOBILE, "2026-09-02T11:00:00+02:00") == "OUT_OF_JURISDICTION"
