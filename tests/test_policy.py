"""Every row of the decision table (policy IT), with its boundaries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.config import Policy
from gatekeeper.core.timeutil import local_date, parse_instant
from gatekeeper.decide import policy as P
from gatekeeper.jurisdictions import IT
from gatekeeper.privacy.optouts import active_optouts
from gatekeeper.registers import record_checks, rpo_status
from gatekeeper.store import Store

ZONE = IT.timezone_name  # local times in these tests are Italy's

AS_OF = parse_instant("2026-11-22T12:00", ZONE)  # Rome time
TODAY = local_date(AS_OF, IT.timezone_name)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)

BASE: dict[str, Any] = {
    "source_id": "s", "source_version": 1, "row": 1, "raw": "333 1234567",
    "phone": "+393331234567", "valid": True, "region": "IT", "number_type": "mobile",
    "kind": "third_party", "purposes": ["telemarketing", "survey"],
    "supplier_name": "Acme Lead S.r.l.", "supplier_vat": "IT01234567890", "name": "A",
    "contract_status": None, "contract_end": None, "consent_marketing": None,
    "consent_third_party": True, "consent_date": dt.date(2026, 6, 1), "consent_proof": "P1",
    "consent_collector": None, "erased": False, "opted_out": None,
    "rpo_checked_at": AS_OF - DAY, "registered": False, "registration_bound": None,
    "supplier_outcome": "approved", "supplier_reviewed_on": dt.date(2026, 10, 1),
    "supplier_next_review": dt.date(2027, 10, 1), "supplier_sector_choice": True,
    "audit_verdict": None, "consent_ip": None, "consent_at": None, "consent_method": None,
    "consent_text_id": None, "consent_sectors": None,
}
SCHEMA = {"contract_end": pl.Date, "consent_date": pl.Date, "rpo_checked_at": pl.Datetime("us"),
          "registration_bound": pl.Datetime("us"), "consent_marketing": pl.Boolean,
          "opted_out": pl.Boolean, "contract_status": pl.String,
          "consent_collector": pl.String, "consent_proof": pl.String,
          "consent_third_party": pl.Boolean, "purposes": pl.List(pl.String),
          "supplier_outcome": pl.String, "supplier_reviewed_on": pl.Date,
          "supplier_next_review": pl.Date, "supplier_sector_choice": pl.Boolean,
          "audit_verdict": pl.String, "consent_ip": pl.String, "consent_at": pl.Datetime("us"),
          "consent_method": pl.String, "consent_text_id": pl.String,
          "consent_sectors": pl.List(pl.String)}


def decide(purpose: str = "telemarketing", policy: Policy | None = None,
           **overrides: Any) -> tuple[str | None, str | None]:
    row = {**BASE, **overrides}
    frame = pl.DataFrame([row], schema_overrides=SCHEMA)
    out = P.decide(frame, P.Context(purpose, AS_OF, policy or Policy(), IT))
    return out["reason"][0], out["basis"][0]


INTERNAL = {"kind": "internal_archive", "consent_third_party": None, "consent_marketing": True,
            "consent_proof": None}
PUBLIC = {"kind": "public_directory", "consent_third_party": None, "consent_date": None,
          "consent_proof": None}


# --- steps 1-7 -------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "reason"), [
    ({"valid": False, "phone": None, "region": None, "number_type": None}, P.INVALID_NUMBER),
    ({"region": "GB", "phone": "+442079460958", "number_type": "fixed_line"},
     P.OUT_OF_JURISDICTION),
    ({"number_type": "premium_rate"}, P.NUMBER_TYPE),
    ({"number_type": "toll_free"}, P.NUMBER_TYPE),
    ({"number_type": "voip"}, P.NUMBER_TYPE),
    ({"number_type": "personal_number"}, P.NUMBER_TYPE),
    ({"erased": True}, P.ERASED),
    ({"opted_out": True}, P.OPTED_OUT),
    ({"purposes": ["survey"]}, P.PURPOSE_NOT_ALLOWED),
    ({"rpo_checked_at": None, "registered": None}, P.RPO_NOT_CHECKED),
])
def test_common_steps_block_with_their_code(overrides: dict[str, Any], reason: str) -> None:
    assert decide(**overrides) == (reason, None)


def test_checks_run_in_order_first_failure_wins() -> None:
    assert decide(erased=True, opted_out=True, rpo_checked_at=None)[0] == P.ERASED
    assert decide(opted_out=True, purposes=["survey"])[0] == P.OPTED_OUT


def test_fixed_line_and_mixed_types_are_dialable() -> None:
    assert decide(number_type="fixed_line") == (None, P.THIRD_PARTY_CONSENT)
    assert decide(number_type="fixed_line_or_mobile") == (None, P.THIRD_PARTY_CONSENT)


def test_rpo_result_exactly_15_days_old_is_expired() -> None:
    assert decide(rpo_checked_at=AS_OF - 15 * DAY)[0] == P.RPO_NOT_CHECKED
    assert decide(rpo_checked_at=AS_OF - 15 * DAY + SECOND) == (None, P.THIRD_PARTY_CONSENT)


def test_rpo_result_after_as_of_does_not_count() -> None:
    assert decide(rpo_checked_at=AS_OF + SECOND)[0] == P.RPO_NOT_CHECKED
    assert decide(rpo_checked_at=AS_OF) == (None, P.THIRD_PARTY_CONSENT)


def test_rpo_validity_knob() -> None:
    assert decide(rpo_checked_at=AS_OF - 5 * DAY, policy=Policy(rpo_validity_days=5))[0] == \
        P.RPO_NOT_CHECKED


# --- step 8: public directory ----------------------------------------------------------

def test_public_directory() -> None:
    assert decide(**PUBLIC) == (None, P.PUBLIC_DIRECTORY)
    assert decide(**{**PUBLIC, "registered": True}) == (P.RPO_REGISTERED, None)


# --- step 8: third party ----------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "reason"), [
    ({"consent_third_party": False}, P.CONSENT_MISSING),
    ({"consent_third_party": None}, P.CONSENT_MISSING),
    ({"consent_date": None}, P.CONSENT_MISSING),
    ({"consent_date": TODAY + DAY}, P.CONSENT_MISSING),
    ({"consent_proof": None}, P.CONSENT_UNPROVEN),
    ({"consent_collector": "Lead Partner S.r.l."}, P.CONSENT_RESOLD),
    ({"consent_date": TODAY - 730 * DAY}, P.CONSENT_EXPIRED),
    ({"registered": True, "registration_bound": AS_OF - 2 * DAY}, P.CONSENT_BEFORE_RPO),
    ({"registered": True, "registration_bound": None}, P.CONSENT_BEFORE_RPO),
])
def test_third_party_failures(overrides: dict[str, Any], reason: str) -> None:
    assert decide(**overrides) == (reason, None)


def test_third_party_passes() -> None:
    assert decide() == (None, P.THIRD_PARTY_CONSENT)
    assert decide(consent_date=TODAY) == (None, P.THIRD_PARTY_CONSENT)
    assert decide(consent_collector="acme lead s.r.l.") == (None, P.THIRD_PARTY_CONSENT)
    assert decide(consent_collector="IT01234567890") == (None, P.THIRD_PARTY_CONSENT)
    assert decide(consent_date=TODAY - 729 * DAY) == (None, P.THIRD_PARTY_CONSENT)
    assert decide(consent_date=TODAY - 10 * DAY, policy=Policy(consent_max_age_days=10))[0] == \
        P.CONSENT_EXPIRED


def test_third_party_consent_after_registration_is_valid() -> None:
    bound = parse_instant("2026-11-10T10:00", ZONE)
    assert decide(registered=True, registration_bound=bound,
                  consent_date=dt.date(2026, 11, 11)) == (None, P.THIRD_PARTY_CONSENT)
    # Same day as the check that found it registered: not provably later.
    assert decide(registered=True, registration_bound=bound,
                  consent_date=dt.date(2026, 11, 10))[0] == P.CONSENT_BEFORE_RPO


# --- step 8: internal archive -------------------------------------------------------------

def test_contract_consent_in_force_and_grace_boundary() -> None:
    assert decide(**INTERNAL, contract_status="active") == (None, P.CONTRACT_CONSENT)
    ended = {**INTERNAL, "contract_status": "ceased"}
    assert decide(**ended, contract_end=TODAY - 30 * DAY) == (None, P.CONTRACT_CONSENT)
    # Ended 31 days ago: falls back to own consent (dated 2026-06-01, so still fine).
    assert decide(**ended, contract_end=TODAY - 31 * DAY) == (None, P.OWN_CONSENT)
    # Contract consent holds even when registered (L. 5/2018 c.5 exception).
    assert decide(**INTERNAL, contract_status="active", registered=True) == (
        None, P.CONTRACT_CONSENT)


def test_ceased_without_end_date_is_not_in_grace() -> None:
    assert decide(**INTERNAL, contract_status="ceased") == (None, P.OWN_CONSENT)


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"consent_marketing": False}, P.CONSENT_MISSING),
    ({"consent_date": None}, P.CONSENT_MISSING),
    ({"consent_date": TODAY - 730 * DAY}, P.CONSENT_EXPIRED),
    ({"registered": True, "registration_bound": AS_OF - DAY}, P.CONSENT_BEFORE_RPO),
])
def test_own_consent_failures(overrides: dict[str, Any], reason: str) -> None:
    assert decide(**{**INTERNAL, **overrides}) == (reason, None)


def test_own_consent_passes_without_contract() -> None:
    assert decide(**INTERNAL) == (None, P.OWN_CONSENT)


# --- purpose survey ---------------------------------------------------------------------

def test_survey_only_internal_archive_and_relationship() -> None:
    active = {**INTERNAL, "contract_status": "active", "consent_marketing": None}
    assert decide("survey", **active) == (None, P.LEGITIMATE_INTEREST)
    assert decide("survey") == (P.PURPOSE_NOT_ALLOWED, None)
    assert decide("survey", **PUBLIC) == (P.PURPOSE_NOT_ALLOWED, None)
    ended = {**active, "contract_status": "ceased"}
    assert decide("survey", **ended, contract_end=TODAY - 30 * DAY)[1] == P.LEGITIMATE_INTEREST
    assert decide("survey", **ended, contract_end=TODAY - 31 * DAY)[0] == P.NO_RELATIONSHIP


def test_survey_ignores_rpo_unless_configured() -> None:
    active = {**INTERNAL, "contract_status": "active", "rpo_checked_at": None,
              "registered": None}
    assert decide("survey", **active) == (None, P.LEGITIMATE_INTEREST)
    strict = Policy(survey_checks_rpo=True)
    assert decide("survey", strict, **active)[0] == P.RPO_NOT_CHECKED
    assert decide("survey", strict, **{**active, "rpo_checked_at": AS_OF - DAY,
                                       "registered": True})[0] == P.RPO_REGISTERED


def test_survey_honours_opt_outs() -> None:
    active = {**INTERNAL, "contract_status": "active"}
    assert decide("survey", **active, opted_out=True)[0] == P.OPTED_OUT


# --- dedup and ranking --------------------------------------------------------------------

def test_strongest_basis_per_number_ties_by_source_id() -> None:
    def row(phone: str, basis: str | None, source_id: str, n: int,
            reason: str | None = None) -> dict[str, Any]:
        return {**BASE, "phone": phone, "basis": basis, "source_id": source_id, "row": n,
                "reason": reason}
    rows = pl.DataFrame([
        row("+1", P.PUBLIC_DIRECTORY, "a", 1), row("+1", P.THIRD_PARTY_CONSENT, "z", 9),
        row("+1", P.THIRD_PARTY_CONSENT, "b", 5), row("+2", None, "a", 2, P.OPTED_OUT),
        row("+3", P.OWN_CONSENT, "c", 3), row("+3", P.CONTRACT_CONSENT, "d", 4),
    ], schema_overrides=SCHEMA)
    best = P.strongest_per_number(rows, P.Context("telemarketing", AS_OF, Policy(), IT))
    assert best.select("phone", "basis", "source_id").rows() == [
        ("+1", P.THIRD_PARTY_CONSENT, "b"), ("+3", P.CONTRACT_CONSENT, "d")]


def test_basis_text_cites_the_law_and_the_date() -> None:
    frame = pl.DataFrame([{**BASE, **PUBLIC}], schema_overrides=SCHEMA)
    ctx = P.Context("telemarketing", AS_OF, Policy(), IT)
    out = P.strongest_per_number(P.decide(frame, ctx), ctx)
    assert out["basis_text"][0] == ("art. 130 c.3-bis Codice Privacy: elenco pubblico, non "
                                    "iscritto al RPO al 21/11/2026")


# --- registration window from the history of checks --------------------------------------

def _checks(history: list[tuple[str, bool]]) -> pl.DataFrame:
    store = Store(duckdb.connect(":memory:"))
    for i, (when, registered) in enumerate(history):
        record_checks(store, pl.DataFrame({"phone": ["+393331234567"], "registered": [registered],
                                           "registered_at": [None]},
                                          schema_overrides={"registered_at": pl.Datetime("us")}),
                      parse_instant(when, ZONE), f"x{i}", "file")
    return rpo_status(store, AS_OF)


def test_registration_window_from_checks() -> None:
    status = _checks([("2026-10-01T10:00", False), ("2026-11-10T10:00", True),
                      ("2026-11-20T10:00", True)])
    row = status.row(0, named=True)
    assert row["registered"] is True
    assert row["rpo_checked_at"] == parse_instant("2026-11-20T10:00", ZONE)
    assert row["registration_bound"] == parse_instant("2026-11-10T10:00", ZONE)
    bound = {"registered": True, "registration_bound": row["registration_bound"],
             "rpo_checked_at": row["rpo_checked_at"]}
    assert decide(**bound, consent_date=dt.date(2026, 10, 1))[0] == P.CONSENT_BEFORE_RPO
    assert decide(**bound, consent_date=dt.date(2026, 10, 20))[0] == P.CONSENT_BEFORE_RPO
    assert decide(**bound, consent_date=dt.date(2026, 11, 11)) == (None, P.THIRD_PARTY_CONSENT)


def test_deregistered_number_is_not_registered() -> None:
    status = _checks([("2026-10-01T10:00", True), ("2026-11-20T10:00", False)])
    assert status["registered"].to_list() == [False]


def test_checks_after_as_of_are_ignored() -> None:
    status = _checks([("2026-11-20T10:00", False), ("2026-11-22T12:00:01", True)])
    assert status["registered"].to_list() == [False]


# The registration window as first written: two passes and a join, obviously right. The
# store's one-pass query must agree with it on every history.
REFERENCE_RPO_STATUS = """
    WITH c AS (SELECT * FROM rpo_checks WHERE checked_at <= ?),
    agg AS (
        SELECT phone, max(checked_at) AS rpo_checked_at,
               max(checked_at) FILTER (WHERE NOT registered) AS last_not_registered
        FROM c GROUP BY phone)
    SELECT a.phone, a.rpo_checked_at,
           bool_or(c.registered) FILTER (WHERE c.checked_at = a.rpo_checked_at) AS registered,
           coalesce(
               max(c.registered_at) FILTER (WHERE c.registered AND (
                   a.last_not_registered IS NULL OR c.checked_at > a.last_not_registered)),
               min(c.checked_at) FILTER (WHERE c.registered AND (
                   a.last_not_registered IS NULL OR c.checked_at > a.last_not_registered))
           ) AS registration_bound
    FROM agg a JOIN c USING (phone)
    GROUP BY a.phone, a.rpo_checked_at, a.last_not_registered ORDER BY a.phone
"""

CHECK = st.tuples(st.sampled_from(["+393331234567", "+390612345678"]),
                  st.integers(0, 8),  # day: a few collide, some fall after as_of
                  st.booleans(),
                  st.one_of(st.none(), st.integers(0, 40)))  # adapter's registration date


@settings(max_examples=150, deadline=None)
@given(st.lists(CHECK, min_size=1, max_size=8))
def test_kept_rpo_status_matches_the_reference(history: list[Any]) -> None:
    """Each check its own exchange, recorded in the history's order: later ones merge
    into the kept status, backdated ones sum it up again. At AS_OF (some checks after it:
    summed up from the files) and after every check (the kept status), the store must
    agree with the reference over the same checks."""
    store = Store(duckdb.connect(":memory:"))
    start = AS_OF - 6 * DAY
    frame = pl.DataFrame(
        [(phone, start + day * DAY, registered,
          None if reg_day is None or not registered else start - reg_day * DAY, f"x{i}")
         for i, (phone, day, registered, reg_day) in enumerate(history)],
        schema={"phone": pl.String, "checked_at": pl.Datetime("us"), "registered": pl.Boolean,
                "registered_at": pl.Datetime("us"), "exchange_id": pl.String}, orient="row")
    for check in frame.iter_slices(1):
        record_checks(store, check.select("phone", "registered", "registered_at"),
                      check["checked_at"].item(), check["exchange_id"].item(), "file")
    key = pl.col("phone").str.strip_prefix("+").cast(pl.Int64).alias("phone_key")
    for as_of in (AS_OF, AS_OF + 7 * DAY):
        with store.registered("rpo_checks", frame):
            expected = store.frame(REFERENCE_RPO_STATUS, [as_of])
        every = rpo_status(store, as_of).sort("phone_key")  # keyed by integer only
        assert every.rows() == expected.select(key, pl.exclude("phone")).sort("phone_key").rows()
        for phone in expected["phone"]:
            one = rpo_status(store, as_of, phone).select(expected.columns)
            assert one.rows() == expected.filter(pl.col("phone") == phone).rows()


# --- opt-outs at as_of --------------------------------------------------------------------

def _events(*rows: tuple[int, str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"seq": s, "type": t, "phone": "+393331234567", "at": parse_instant(at, ZONE), "scope": sc}
         for s, t, at, sc in rows], schema_overrides={"at": pl.Datetime("us")})


def test_optout_at_or_before_as_of_counts_after_does_not() -> None:
    at_as_of = _events((1, "optout", "2026-11-22T12:00", "all"))
    after = _events((1, "optout", "2026-11-22T12:00:01", "all"))
    assert active_optouts(at_as_of, "telemarketing", AS_OF).height == 1
    assert active_optouts(after, "telemarketing", AS_OF).height == 0


def test_optout_scope() -> None:
    survey_only = _events((1, "optout", "2026-11-01", "survey"))
    assert active_optouts(survey_only, "telemarketing", AS_OF).height == 0
    assert active_optouts(survey_only, "survey", AS_OF).height == 1


def test_withdrawal_lifts_earlier_optouts_only() -> None:
    lifted = _events((1, "optout", "2026-11-01", "all"), (2, "withdraw", "2026-11-05", "all"))
    assert active_optouts(lifted, "telemarketing", AS_OF).height == 0
    again = _events((1, "optout", "2026-11-01", "all"), (2, "withdraw", "2026-11-05", "all"),
                    (3, "optout", "2026-11-10", "all"))
    assert active_optouts(again, "telemarketing", AS_OF).height == 1


# --- basis_text in words ---------------------------------------------------------------------

TEXT_ROW = st.tuples(
    st.sampled_from([P.PUBLIC_DIRECTORY, P.THIRD_PARTY_CONSENT, P.CONTRACT_CONSENT,
                     P.OWN_CONSENT, P.LEGITIMATE_INTEREST, None]),
    st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2026, 11, 22))),
    st.one_of(st.none(), st.sampled_from([AS_OF, AS_OF - dt.timedelta(days=3)])),
    st.sampled_from(["Acme", "Beta S.p.A.", None]), st.sampled_from(["P1", "prova-77", None]),
    st.one_of(st.none(), st.dates(dt.date(2025, 1, 1), dt.date(2026, 11, 22))))


@settings(max_examples=80, deadline=None)
@given(st.lists(TEXT_ROW, max_size=25))
def test_basis_text_built_per_basis_reads_as_the_plain_rule(rows: list[Any]) -> None:
    """The list's basis_text is built one basis at a time for speed; every row must still
    carry the words of its own basis, in its own place."""
    frame = pl.DataFrame(rows, orient="row", schema={
        "basis": pl.String, "consent_date": pl.Date, "rpo_checked_at": pl.Datetime("us"),
        "supplier_name": pl.String, "consent_proof": pl.String,
        "supplier_reviewed_on": pl.Date})
    ctx = P.Context("telemarketing", AS_OF, Policy(), IT)
    # Once as they come (texts built row by row), once repeated and chunked as a run's
    # batches leave them (each distinct text built once and joined back).
    for rows_given in (frame, pl.concat([frame, frame.reverse(), frame], rechunk=False)):
        fast = P.with_basis_text(rows_given, ctx)
        assert fast.columns == [*frame.columns, "basis_text"]
        assert fast.rows() == rows_given.with_columns(
            P.basis_text(ctx).alias("basis_text")).rows()


# --- step 8: third party, suppliers and consent evidence (code of conduct art. 6) -------------

def test_third_party_rules_in_the_contracts_order() -> None:
    basis = next(b for b in P.BASES if b.code == P.THIRD_PARTY_CONSENT)
    assert [r.code for r in basis.rules] == [
        P.SUPPLIER_NOT_APPROVED, P.CONSENT_AUDIT_FAILED, P.CONSENT_MISSING, P.CONSENT_UNPROVEN,
        P.CONSENT_RESOLD, P.CONSENT_OMNIBUS, P.CONSENT_SECTOR, P.CONSENT_EXPIRED,
        P.CONSENT_BEFORE_RPO]
    # Every row failing all of them gets the first.
    assert decide(supplier_outcome=None, audit_verdict="failed", consent_third_party=False,
                  consent_proof=None, supplier_sector_choice=False)[0] == P.SUPPLIER_NOT_APPROVED
    assert decide(audit_verdict="failed", consent_third_party=False)[0] == \
        P.CONSENT_AUDIT_FAILED


def test_supplier_review_boundaries() -> None:
    assert decide(supplier_reviewed_on=TODAY) == (None, P.THIRD_PARTY_CONSENT)
    assert decide(supplier_reviewed_on=TODAY + DAY)[0] == P.SUPPLIER_NOT_APPROVED
    assert decide(supplier_next_review=TODAY) == (None, P.THIRD_PARTY_CONSENT)
    assert decide(supplier_next_review=TODAY - DAY)[0] == P.SUPPLIER_NOT_APPROVED


@pytest.mark.parametrize("facts", [
    {"supplier_outcome": "suspended"}, {"supplier_outcome": "rejected"},
    {"supplier_outcome": None, "supplier_reviewed_on": None, "supplier_next_review": None},
    {"supplier_next_review": None},
])
def test_a_supplier_not_approved_blocks_its_rows(facts: dict[str, Any]) -> None:
    assert decide(**facts) == (P.SUPPLIER_NOT_APPROVED, None)


def test_due_diligence_status_words_on_their_days() -> None:
    from gatekeeper.decide.policy.facts import diligence_status

    def status(**kw: Any) -> str:
        row = {"supplier_outcome": "approved", "supplier_reviewed_on": TODAY - 50 * DAY,
               "supplier_next_review": TODAY + 100 * DAY, **kw}
        frame = pl.DataFrame([row], schema={"supplier_outcome": pl.String,
                                            "supplier_reviewed_on": pl.Date,
                                            "supplier_next_review": pl.Date})
        return str(frame.select(diligence_status(TODAY)).item())

    assert status() == "approved"
    assert status(supplier_next_review=TODAY + 31 * DAY) == "approved"
    assert status(supplier_next_review=TODAY + 30 * DAY) == "due_for_review"
    assert status(supplier_next_review=TODAY) == "due_for_review"
    assert status(supplier_next_review=TODAY - DAY) == "review_overdue"
    assert status(supplier_reviewed_on=TODAY + DAY) == "not_reviewed"
    assert status(supplier_outcome="suspended") == "suspended"
    assert status(supplier_outcome=None) == "not_reviewed"


def test_audit_verdict() -> None:
    assert decide(audit_verdict="failed") == (P.CONSENT_AUDIT_FAILED, None)
    for verdict in ("open", "passed", None):  # none yet: the latest audit did not fail
        assert decide(audit_verdict=verdict) == (None, P.THIRD_PARTY_CONSENT)


EVIDENCE = {"consent_ip": "2001:db8::7", "consent_at": AS_OF - DAY,
            "consent_method": "double_opt_in", "consent_text_id": "INF-3"}
ALL_EVIDENCE = Policy(consent_evidence=("proof", "ip", "at", "method", "text"))


@pytest.mark.parametrize("missing", ["consent_proof", *EVIDENCE])
def test_each_evidence_field_asked_for_must_be_there(missing: str) -> None:
    assert decide(policy=ALL_EVIDENCE, **EVIDENCE) == (None, P.THIRD_PARTY_CONSENT)
    assert decide(policy=ALL_EVIDENCE, **{**EVIDENCE, missing: None})[0] == P.CONSENT_UNPROVEN


def test_evidence_only_as_asked_and_an_instant_after_as_of_proves_nothing() -> None:
    assert decide(policy=Policy(consent_evidence=("ip",)), consent_proof=None,
                  consent_ip="93.44.12.7") == (None, P.THIRD_PARTY_CONSENT)
    at = Policy(consent_evidence=("at",))
    assert decide(policy=at, consent_at=AS_OF) == (None, P.THIRD_PARTY_CONSENT)
    assert decide(policy=at, consent_at=AS_OF + SECOND)[0] == P.CONSENT_UNPROVEN


def test_omnibus_consent() -> None:
    assert decide(supplier_sector_choice=False) == (P.CONSENT_OMNIBUS, None)
    assert decide(supplier_sector_choice=None) == (P.CONSENT_OMNIBUS, None)


def sector(campaign: str | None, sectors: list[str] | None) -> tuple[str | None, str | None]:
    frame = pl.DataFrame([{**BASE, "consent_sectors": sectors}], schema_overrides=SCHEMA)
    out = P.decide(frame, P.Context("telemarketing", AS_OF, Policy(), IT, sector=campaign))
    return out["reason"][0], out["basis"][0]


def test_consent_sectors_against_the_campaigns() -> None:
    assert sector("energia", ["energia", "telefonia"]) == (None, P.THIRD_PARTY_CONSENT)
    assert sector("assicurazioni", ["energia", "telefonia"]) == (P.CONSENT_SECTOR, None)
    assert sector("energia", None) == (None, P.THIRD_PARTY_CONSENT)  # not given: not checked
    assert sector(None, None) == (None, P.THIRD_PARTY_CONSENT)
    assert sector(None, ["energia"]) == (P.CONSENT_SECTOR, None)  # sector unsaid: unprovable
