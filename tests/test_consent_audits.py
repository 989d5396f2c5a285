"""Consent audits (code of conduct art. 6): the sample size and bound against known values,
reproducible samples, the supplier's reply, verdicts on their days, the verdict in runs,
proof requests opened by complaints, and the demo's round trip."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from gatekeeper.config import Workspace
from gatekeeper.suppliers import bounds

from .conftest import WorkspaceMaker, gk

# --- the numbers -------------------------------------------------------------------------

def _binomial_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def _bound_by_bisection(k: int, n: int, confidence: float) -> float:
    """The upper bound from its definition, P(X <= k | n, p) = 1 - confidence, by plain
    bisection on the binomial sum: independent of scipy's beta quantile."""
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if _binomial_cdf(k, n, mid) > 1 - confidence else (low, mid)
    return (low + high) / 2


def test_sample_size_known_values() -> None:
    assert bounds.sample_size(0.95, 0.02) == 149
    assert bounds.sample_size(0.95, 0.05) == 59  # the "rule of three" sample
    assert bounds.sample_size(0.99, 0.01) == 459
    assert bounds.sample_size(0.90, 0.10) == 22
    # Zero failures in 149 prove at most 2 %; in 148 they do not.
    assert bounds.upper_bound(0, 149, 0.95) <= 0.02 < bounds.upper_bound(0, 148, 0.95)


def test_upper_bound_for_one_failure_in_149() -> None:
    bound = bounds.upper_bound(1, 149, 0.95)
    assert bound == pytest.approx(0.0314408, abs=1e-6)
    assert bound == pytest.approx(_bound_by_bisection(1, 149, 0.95), rel=1e-9)
    assert binom.cdf(1, 149, bound) == pytest.approx(0.05, rel=1e-9)
    assert bounds.upper_bound(149, 149, 0.95) == 1.0


def test_a_bound_equal_to_max_rate_passes_one_more_failure_fails() -> None:
    for k, n in ((0, 149), (1, 149), (3, 300), (10, 1000)):
        at_bound = bounds.upper_bound(k, n, 0.95)
        assert not bounds.fails(k, n, 0.95, at_bound)
        assert bounds.fails(k + 1, n, 0.95, at_bound)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
       st.floats(0.5, 0.999))
def test_more_failures_never_give_a_lower_bound(case: tuple[int, int],
                                                confidence: float) -> None:
    n, k = case
    assert bounds.upper_bound(k + 1, n, confidence) >= bounds.upper_bound(k, n, confidence)


@settings(max_examples=300, deadline=None)
@given(st.floats(0.5, 0.999), st.floats(0.001, 0.5))
def test_the_default_size_is_the_least_that_can_pass(confidence: float, rate: float) -> None:
    n = bounds.sample_size(confidence, rate)
    assert bounds.upper_bound(0, n, confidence) <= rate
    assert n == 1 or bounds.upper_bound(0, n - 1, confidence) > rate


# --- a bought list to audit ----------------------------------------------------------------

def _bought(maker: WorkspaceMaker, rows: int = 400) -> Workspace:
    """A third-party list of `rows` valid numbers (data row r: 3331000000 + r) and two junk
    rows after them, each with a consent and its proof; loaded, checked in the RPO (none
    registered)."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    writer.writerow(["Telefono", "Consenso", "Data", "Prova"])
    writer.writerows([[f"{3331000000 + r}", "si", "2026-03-01", f"P{r}"]
                      for r in range(1, rows + 1)] + [["12", "si", "2026-03-01", "PX"]] * 2)
    maker.source("b", text.getvalue(), columns='phone = "Telefono"\nconsent_third_party = '
                 '"Consenso"\nconsent_date = "Data"\nconsent_proof = "Prova"\n')
    ws = maker.ws
    assert gk(ws, "load").exit_code == 0
    request = maker.root / "q.txt"
    request.write_text("".join(f"{3331000000 + r}\n" for r in range(1, rows + 1)))
    assert gk(ws, "rpo", "import", "--request", str(request), "--response", str(request),
              "--same-as-request", "--checked-at", "2026-11-10T10:00").exit_code == 0
    return ws


def _sample(ws: Workspace, *options: str, at: str = "2026-11-01T10:00",
            out: str = "sample.csv") -> pl.DataFrame:
    result = gk(ws, "audit", "sample", "b", "--out", out, "--at", at, *options)
    assert result.exit_code == 0, result.output
    return pl.read_csv(ws.root / out, infer_schema=False)


def _reply(ws: Workspace, rows: list[int], failures: int = 0, name: str = "reply.csv") -> Path:
    """The supplier's reply: the first `failures` rows missing, the others proven."""
    path = ws.root / name
    lines = ["row,result,document,sha256"] + [
        f"{r},missing,," if i < failures else f"{r},ok,P{r}.pdf,{'a' * 64}"
        for i, r in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _reasons(ws: Workspace, as_of: str) -> set[str | None]:
    ran = gk(ws, "run", "--campaign", "c", "--purpose", "telemarketing", "--as-of", as_of)
    assert ran.exit_code == 0, ran.output
    decisions = pl.read_parquet(ws.report_dir("c") / "decisions.parquet")
    return set(decisions.filter(pl.col("phone").is_not_null())["reason"].to_list())


def _audits(ws: Workspace, as_of: str) -> dict[str, dict[str, object]]:
    listed = json.loads(gk(ws, "audit", "list", "--as-of", as_of, "--json").output)
    return {a["audit_id"]: a for a in listed}


# --- sample --------------------------------------------------------------------------------

def test_a_sample_is_reproducible_and_of_valid_rows(maker: WorkspaceMaker) -> None:
    ws = _bought(maker)
    first = _sample(ws, "--seed", "7")
    assert first.columns == ["row", "phone", "consent_date", "consent_proof"]
    assert first.height == 149 and first["row"].n_unique() == 149
    assert set(first["row"].cast(int)) <= set(range(1, 401))  # never the junk rows 401-402
    assert first["phone"].to_list() == [f"+39{3331000000 + int(r)}" for r in first["row"]]
    again = _sample(ws, "--seed", "7", out="again.csv")
    assert again.equals(first)
    other = _sample(ws, "--seed", "8", out="other.csv")
    assert not other.equals(first)
    audits = _audits(ws, "2026-11-02")
    assert [(a["kind"], a["n"], a["seed"], a["population"], a["verdict"])
            for a in audits.values()] == [("sample", 149, s, 400, "open") for s in (7, 7, 8)]
    assert {a["due_on"] for a in audits.values()} == {"2026-11-16"}  # 15 days


def test_sample_sizes_and_warnings(maker: WorkspaceMaker) -> None:
    ws = _bought(maker, rows=60)
    small = gk(ws, "audit", "sample", "b", "--out", "s.csv", "--size", "20", "--at",
               "2026-11-01T10:00")
    assert small.exit_code == 0 and "20 rows cannot prove a failure rate" in small.output
    whole = gk(ws, "audit", "sample", "b", "--out", "w.csv", "--at", "2026-11-01T10:00")
    assert "only 60 rows with a valid number: all are asked for" in whole.output
    assert pl.read_csv(ws.root / "w.csv").height == 60
    for args, words in ((("--confidence", "1"), "--confidence must be between 0 and 1"),
                        (("--size", "0"), "--size must be 1 or more"),
                        (("--at", "2999-01-01"), "is in the future")):
        bad = gk(ws, "audit", "sample", "b", "--out", "x.csv", *args)
        assert bad.exit_code == 2 and words in bad.output, bad.output
    wrong = gk(ws, "audit", "sample", "nope", "--out", "x.csv")
    assert wrong.exit_code == 3 and "no loaded source nope" in wrong.output


# --- answers and verdicts ------------------------------------------------------------------

def test_k_failures_at_the_bound_pass_one_more_fails_in_runs(maker: WorkspaceMaker) -> None:
    """With --max-rate just above the bound of 1 failure in 149, one failure passes and
    two fail; the verdict counts from the moment the reply was recorded."""
    ws = _bought(maker)
    limit = ("--size", "149", "--max-rate", "0.0315")
    rows = _sample(ws, "--seed", "1", *limit)["row"].cast(int).to_list()
    one = _sample(ws, "--seed", "2", *limit, out="s2.csv",
                  at="2026-11-01T11:00")["row"].cast(int).to_list()
    assert gk(ws, "audit", "answer", "A1", str(_reply(ws, rows, failures=1)), "--at",
              "2026-11-05T10:00").exit_code == 0
    assert _audits(ws, "2026-11-06")["A1"]["verdict"] == "passed"
    assert _reasons(ws, "2026-11-12T12:00") == {None}  # A2 (latest) is open: not failed
    answered = gk(ws, "audit", "answer", "A2", str(_reply(ws, one, failures=2, name="r2.csv")),
                  "--at", "2026-11-12T15:00")
    assert answered.exit_code == 1 and "FAILED" in answered.output
    a2 = _audits(ws, "2026-11-13")["A2"]
    assert (a2["k"], a2["n"], a2["verdict"]) == (2, 149, "failed")
    assert a2["bound"] == pytest.approx(bounds.upper_bound(2, 149, 0.95))
    assert _reasons(ws, "2026-11-12T14:59") == {None}  # before the reply: as things stood
    assert _reasons(ws, "2026-11-12T15:00") == {"CONSENT_AUDIT_FAILED"}
    sources = pl.read_csv(ws.report_dir("c") / "sources.csv", infer_schema=False).row(
        0, named=True)
    assert (sources["audit_id"], sources["audit_k"], sources["audit_n"],
            sources["audit_verdict"], sources["audit_due_on"]) == (
        "A2", "2", "149", "failed", "2026-11-16")


def test_unanswered_rows_fail_the_day_after_the_due_day(maker: WorkspaceMaker) -> None:
    ws = _bought(maker)
    rows = _sample(ws, "--seed", "3")["row"].cast(int).to_list()
    assert gk(ws, "audit", "answer", "A1", str(_reply(ws, rows[:100])), "--at",
              "2026-11-10T10:00").exit_code == 0
    due_day = _audits(ws, "2026-11-16T23:59")["A1"]
    assert (due_day["k"], due_day["answered"], due_day["verdict"]) == (0, 100, "open")
    day_after = _audits(ws, "2026-11-17T00:00")["A1"]
    assert (day_after["k"], day_after["verdict"], day_after["overdue"]) == (49, "failed", True)
    assert _reasons(ws, "2026-11-16T23:59") == {None}
    assert _reasons(ws, "2026-11-17T00:00") == {"CONSENT_AUDIT_FAILED"}
    # A reply after the due day is recorded, but the rows count as failures all the same.
    late = gk(ws, "audit", "answer", "A1", str(_reply(ws, rows[100:], name="late.csv")),
              "--at", "2026-11-18T10:00")
    assert late.exit_code == 1 and "49 answer(s) arrived after the audit was due" in late.output
    assert _audits(ws, "2026-11-19")["A1"]["k"] == 49


def test_reply_errors_name_the_line_and_nothing_is_recorded(maker: WorkspaceMaker) -> None:
    ws = _bought(maker)
    rows = _sample(ws, "--seed", "4")["row"].cast(int).to_list()
    outside = next(r for r in range(1, 401) if r not in rows)
    cases = {
        f"row,result,document\n{rows[0]},ok,d\n{outside},ok,d\n":
            f"line 3: row {outside} is not one of audit A1's rows",
        f"row,result,document\n{rows[0]},forse,d\n": "line 2: result 'forse' is not one of ok,",
        f"row,result\n{rows[0]},ok\n": "line 2: an 'ok' needs the document",
        f"row,result,document,sha256\n{rows[0]},ok,d,xyz\n": "sha256 'xyz' is not a SHA-256",
        f"row,result\n{rows[0]},missing\n{rows[0]},mismatch\n":
            f"line 2: row {rows[0]} is answered twice",
        "numero,esito\n1,ok\n": "the reply needs the columns row (or phone) and result",
        "phone,result\n+39 02 1234 5678,missing\n": "phone +39 02 1234 5678 is not one of",
    }
    for text, words in cases.items():
        path = ws.root / "bad.csv"
        path.write_text(text)
        result = gk(ws, "audit", "answer", "A1", str(path), "--at", "2026-11-02T10:00")
        assert result.exit_code == 2 and words in result.output, (text, result.output)
    assert _audits(ws, "2026-11-03")["A1"]["answered"] == 0
    assert gk(ws, "audit", "answer", "A9", str(path)).exit_code == 3


def test_answers_by_phone_are_kept_and_never_changed(maker: WorkspaceMaker) -> None:
    ws = _bought(maker)
    sample = _sample(ws, "--seed", "5")
    row, phone = int(sample["row"][0]), sample["phone"][0]
    national = phone.removeprefix("+39")
    reply = ws.root / "by-phone.csv"
    reply.write_text(f"phone,result,document\n{national[:3]} {national[3:]},ok,doc.pdf\n")
    first = gk(ws, "audit", "answer", "A1", str(reply), "--at", "2026-11-02T10:00")
    assert first.exit_code == 0 and "1 answer(s) recorded" in first.output
    again = gk(ws, "audit", "answer", "A1", str(reply), "--at", "2026-11-02T11:00")
    assert "0 answer(s) recorded, 1 already recorded" in again.output
    reply.write_text(f"row,result\n{row},mismatch\n")
    changed = gk(ws, "audit", "answer", "A1", str(reply), "--at", "2026-11-02T12:00")
    assert changed.exit_code == 2 and f"row {row} was already answered 'ok'" in changed.output
    both = ws.root / "both.csv"
    both.write_text(f"row,phone,result\n{int(sample['row'][1])},{phone},missing\n")
    assert "are not the same row" in gk(ws, "audit", "answer", "A1", str(both)).output


# --- complaints and rights requests ----------------------------------------------------------

def test_a_complaint_opens_a_one_row_proof_request(maker: WorkspaceMaker) -> None:
    ws = _bought(maker)
    logged = gk(ws, "requests", "add", "RCL-7", "--kind", "complaint", "--phone", "333 100 0005",
                "--received", "2026-11-03")
    assert logged.exit_code == 0, logged.output
    assert "proof of consent asked of the supplier of b (audit A1, due by 2026-11-18)" in \
        logged.output
    again = gk(ws, "requests", "add", "RCL-7", "--kind", "complaint", "--phone", "3331000005")
    assert "audit A1" in again.output and "A2" not in again.output  # opened once
    listed = _audits(ws, "2026-11-04")
    assert [(a["kind"], a["request_ref"], a["n"], a["verdict"]) for a in listed.values()] == [
        ("request", "RCL-7", 1, "open")]
    assert "A1    request  b v1 supplier acme (request RCL-7)" in gk(
        ws, "audit", "list", "--as-of", "2026-11-04").output
    reply = ws.root / "proof.csv"
    reply.write_text("phone,result,document\n3331000005,ok,modulo.pdf\n")
    assert gk(ws, "audit", "answer", "A1", str(reply), "--at", "2026-11-05").exit_code == 0
    assert _audits(ws, "2026-11-06")["A1"]["verdict"] == "passed"
    # A proof request is about one person: it never blocks the list (no CONSENT_AUDIT_FAILED).
    assert gk(ws, "requests", "add", "RCL-8", "--kind", "access", "--phone", "3331000006",
              "--received", "2026-11-03").exit_code == 0
    assert _audits(ws, "2026-11-30")["A2"]["verdict"] == "failed"
    assert _reasons(ws, "2026-11-20T12:00") == {None}
    unknown = gk(ws, "requests", "add", "RCL-9", "--kind", "complaint", "--phone", "3479999999",
                 "--received", "2026-11-03")
    assert unknown.exit_code == 0 and "proof of consent" not in unknown.output


# --- the demo ------------------------------------------------------------------------------

def test_the_demos_audit_round_trip(scrubbed: Workspace) -> None:
    """The README's DPO round trip: Acme's reply proves 136 of the 149 rows asked for."""
    ws = scrubbed
    drawn = gk(ws, "audit", "sample", "acme-2026-11", "--seed", "2026", "--out",
               "data/audits/acme-2026-11-campione.csv", "--at", "2026-11-22T13:00")
    assert drawn.exit_code == 0 and "audit A1: 149 of 2,470 rows" in drawn.output
    reply = ws.root / "data" / "audits" / "acme-2026-11-risposta.csv"
    asked = pl.read_csv(ws.root / "data" / "audits" / "acme-2026-11-campione.csv")
    answered = pl.read_csv(reply)
    assert sorted(asked["row"]) == sorted(answered["row"])
    missing = answered.filter(pl.col("result") == "missing").height
    assert missing == asked["consent_proof"].null_count() == 13
    result = gk(ws, "audit", "answer", "A1", str(reply), "--at", "2026-11-22T15:00")
    assert result.exit_code == 1 and "149 answer(s) recorded" in result.output
    assert "k=13 of n=149" in result.output and "FAILED" in result.output
    assert _reasons_of(ws, "2026-11-22T16:00", "acme-2026-11") == {"CONSENT_AUDIT_FAILED"}


def _reasons_of(ws: Workspace, as_of: str, source: str) -> set[str | None]:
    ran = gk(ws, "run", "--campaign", "after", "--purpose", "telemarketing", "--as-of", as_of)
    assert ran.exit_code == 0, ran.output
    decisions = pl.read_parquet(ws.report_dir("after") / "decisions.parquet")
    checked = decisions.filter((pl.col("source_id") == source)
                               & pl.col("reason").is_in(["INVALID_NUMBER", "NUMBER_TYPE",
                                                         "OUT_OF_JURISDICTION",
                                                         "OPTED_OUT"]).not_())
    return set(checked["reason"].to_list())
