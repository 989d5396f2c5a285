"""The campaign scrub end to end, through the CLI, on a copy of the demo workspace."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.config import Workspace
from gatekeeper.core.errors import RegistryError
from gatekeeper.core.timeutil import parse_instant
from gatekeeper.decide.run import run_campaign
from gatekeeper.jurisdictions import IT
from gatekeeper.registers import ImportResult, import_exchange
from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store

from .conftest import AS_OF, DIAL_AT, WorkspaceMaker
from .conftest import gk as _gk

ZONE = IT.timezone_name  # local times in these tests are Italy's

def test_writes_the_files_with_the_brief_columns(scrubbed: Workspace) -> None:
    out = scrubbed.report_dir("demo")
    dialable = pl.read_csv(out / "dialable.csv")
    assert dialable.columns == ["phone", "name", "source_id", "basis", "basis_text",
                                "rpo_checked_at", "valid_until"]
    decisions = pl.read_parquet(out / "decisions.parquet")
    assert decisions.columns[:7] == ["source_id", "row", "raw", "phone", "decision", "reason",
                                     "basis"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == decisions.height
    assert summary["dialable"] == dialable.height == dialable["phone"].n_unique()
    assert sum(summary["suppressed"].values()) == decisions.filter(
        pl.col("decision") == "suppressed").height
    assert summary["valid_until"] == "2026-12-05T10:00:00+01:00"
    # Instants in the list as the dialer reads them: Rome time with its offset, to the
    # second, never blank here (every telemarketing number was checked).
    raw = pl.read_csv(out / "dialable.csv", infer_schema=False)
    assert raw["rpo_checked_at"].str.contains(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+01:00$").all()
    assert set(raw["valid_until"]) == {"2026-12-05T10:00:00+01:00"}
    assert set(dialable["basis"]) == {"CONTRACT_CONSENT", "OWN_CONSENT", "THIRD_PARTY_CONSENT",
                                      "PUBLIC_DIRECTORY"}


def test_never_a_false_dialable(scrubbed: Workspace) -> None:
    out = scrubbed.report_dir("demo")
    dialable = pl.read_csv(out / "dialable.csv")
    decisions = pl.read_parquet(out / "decisions.parquet")
    # Every dialable number has a row that passed every rule, from the source it names.
    passed = decisions.filter(pl.col("decision") == "dialable")
    assert dialable.join(passed, on=["phone", "source_id", "basis"], how="anti").is_empty()
    # A number blocked for the person (opt-out, erasure) or the number is never dialable.
    personal = decisions.filter(pl.col("reason").is_in(["OPTED_OUT", "ERASED",
                                                        "INVALID_NUMBER", "NUMBER_TYPE"]))
    assert not set(personal["phone"].drop_nulls()) & set(dialable["phone"])
    # Opt-outs from the demo file are all suppressed.
    opted = pl.read_csv(scrubbed.root / "data" / "optouts-demo.csv", infer_schema=False)
    opted_e164 = {"+39" + p for p in opted["phone"]}
    assert not opted_e164 & set(dialable["phone"])
    registered = set(Path(scrubbed.root / "data/rpo/2026-11-20-request.txt").read_text().split()) \
        - set(Path(scrubbed.root / "data/rpo/2026-11-20-response.txt").read_text().split())
    public = dialable.filter(pl.col("basis") == "PUBLIC_DIRECTORY")
    assert not {"+39" + n for n in registered} & set(public["phone"])


def test_rerun_with_same_inputs_is_byte_identical(scrubbed: Workspace) -> None:
    out = scrubbed.report_dir("demo")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _gk(scrubbed, "run", "--campaign", "demo", "--purpose", "telemarketing",
               "--as-of", AS_OF).exit_code == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_small_batches_decide_exactly_as_one(scrubbed: Workspace) -> None:
    """A run streams rows in batches; batch edges (inside a source, across sources, and
    inside the dedup of a number listed twice) must not change any answer."""
    whole = scrubbed.report_dir("demo")
    small = run_campaign(scrubbed, "small", "telemarketing", as_of=parse_instant(AS_OF, ZONE),
                         batch_rows=97).report_dir
    assert (small / "dialable.csv").read_bytes() == (whole / "dialable.csv").read_bytes()
    assert pl.read_parquet(small / "decisions.parquet").equals(
        pl.read_parquet(whole / "decisions.parquet"))
    assert (small / "sources.csv").read_bytes() == (whole / "sources.csv").read_bytes()
    summaries = [json.loads((d / "summary.json").read_text()) for d in (small, whole)]
    for summary in summaries:
        del summary["campaign"], summary["run_id"]
    assert summaries[0] == summaries[1]
    decisions = pl.read_parquet(whole / "decisions.parquet")
    assert decisions.height > 2 * 97  # there were several batches
    numbers = decisions.filter(pl.col("decision") == "dialable")["phone"]
    assert numbers.n_unique() < numbers.len()  # and numbers dialable from two rows


def test_survey_uses_only_the_internal_archive(scrubbed: Workspace) -> None:
    result = _gk(scrubbed, "run", "--campaign", "sat", "--purpose", "survey", "--as-of", AS_OF,
                 "--json")
    assert result.exit_code == 0, result.output
    dialable = pl.read_csv(scrubbed.report_dir("sat") / "dialable.csv")
    assert set(dialable["source_id"]) == {"crm-clienti"}
    assert set(dialable["basis"]) == {"LEGITIMATE_INTEREST"}
    assert json.loads(result.output)["suppressed"]["PURPOSE_NOT_ALLOWED"] > 0


def test_unusable_inputs_exit_nonzero_and_write_nothing(scrubbed: Workspace) -> None:
    result = _gk(scrubbed, "run", "--campaign", "x", "--purpose", "telemarketing",
                 "--source", "nope")
    assert result.exit_code == 2 and "not loaded: nope" in result.output
    assert not scrubbed.report_dir("x").exists()
    bad = _gk(scrubbed, "run", "--campaign", "x", "--purpose", "fundraising")
    assert bad.exit_code == 2 and not scrubbed.report_dir("x").exists()


def test_a_run_that_fails_half_way_leaves_the_last_report_and_the_store(
        scrubbed: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write failing in the background (disk full) stops the run, the reader stops
    before the store closes, the previous report stays, and the next run works."""
    folder = scrubbed.report_dir("demo")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.setenv("GATEKEEPER_FAULT", "run.write")
    with pytest.raises(OSError, match="No space left"):
        run_campaign(scrubbed, "demo", "telemarketing", as_of=parse_instant(AS_OF, ZONE),
                     batch_rows=7)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in folder.parent.iterdir()] == ["demo"]  # no half-written folder
    monkeypatch.delenv("GATEKEEPER_FAULT")
    again = run_campaign(scrubbed, "demo", "telemarketing", as_of=parse_instant(AS_OF, ZONE),
                         batch_rows=7)
    assert (folder / "dialable.csv").read_bytes() == before["dialable.csv"]
    assert again.summary["dialable"] > 0


def test_a_killed_run_leaves_nothing_behind_the_next_run(scrubbed: Workspace) -> None:
    """kill -9 half-way: the next run removes the half-written folder nobody will finish."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "GATEKEEPER_FAULT": "run.write:kill"}
    killed = subprocess.run([sys.executable, "-m", "gatekeeper.cli", "--home",
                             str(scrubbed.root), "run", "--campaign", "demo", "--purpose",
                             "telemarketing", "--as-of", AS_OF], env=env, capture_output=True)
    assert killed.returncode == -9
    reports = scrubbed.root / "reports"
    assert any(p.name.startswith(".demo.tmp-") for p in reports.iterdir())
    assert _gk(scrubbed, "run", "--campaign", "other", "--purpose", "telemarketing",
               "--as-of", AS_OF).exit_code == 0
    assert sorted(p.name for p in reports.iterdir()) == ["demo", "other"]


def test_run_before_loading_is_a_clear_error(demo: Workspace) -> None:
    result = _gk(demo, "run", "--campaign", "x", "--purpose", "telemarketing")
    assert result.exit_code == 2 and "gatekeeper load" in result.output


def test_check_answers_now_with_exit_codes(scrubbed: Workspace) -> None:
    dialable = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")
    phone = dialable.filter(pl.col("basis") == "THIRD_PARTY_CONSENT")["phone"][0]
    # Pinned at the demo's date through the library; the CLI answers for the real now.
    from gatekeeper.core.timeutil import parse_instant
    from gatekeeper.dial.check import check_number

    assert check_number(scrubbed, phone, "telemarketing", at=parse_instant(DIAL_AT, ZONE)
                        ).answer.dialable
    assert _gk(scrubbed, "optout", "add", phone, "--channel", "operator", "--by", "a7",
               "--at", "2026-11-22T11:00").exit_code == 0
    answer = check_number(scrubbed, phone, "telemarketing", at=parse_instant(DIAL_AT, ZONE)).answer
    assert (answer.dialable, answer.reason) == (False, "OPTED_OUT")
    cli_answer = _gk(scrubbed, "check", phone, "--purpose", "telemarketing")
    assert cli_answer.exit_code == 1 and "OPTED_OUT" in cli_answer.output
    assert _gk(scrubbed, "check", "n/d", "--purpose", "telemarketing").exit_code == 1


def test_rpo_request_lists_only_numbers_without_a_valid_result(scrubbed: Workspace,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "req.txt"
    assert _gk(scrubbed, "rpo", "request", "--out", str(out), "--as-of", AS_OF).exit_code == 0
    assert out.read_text() == ""  # everything was checked on 2026-11-20
    assert _gk(scrubbed, "rpo", "request", "--out", str(out), "--as-of",
               "2026-12-05T10:00").exit_code == 0
    lines = out.read_text().split()
    assert len(lines) > 4000 and all(not n.startswith("+") for n in lines)


def test_rpo_import_is_idempotent_and_rejects_a_foreign_response(scrubbed: Workspace,
                                                                 tmp_path: Path) -> None:
    again = _gk(scrubbed, "rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
                "--response", "data/rpo/2026-11-20-response.txt")
    assert again.exit_code == 0 and "already imported" in again.output
    request, response = tmp_path / "q.txt", tmp_path / "r.txt"
    request.write_text("3331234567\n")
    response.write_text("3331234568\n")
    wrong = _gk(scrubbed, "rpo", "import", "--request", str(request), "--response",
                str(response))
    assert wrong.exit_code == 2 and "not in the request" in wrong.output
    # An empty response is every number registered: recorded (fail closed), and said.
    request.write_text("3331234567\n3331234569\n")
    response.write_text("")
    empty = _gk(scrubbed, "rpo", "import", "--request", str(request), "--response",
                str(response), "--checked-at", "2026-11-20T11:00")
    assert empty.exit_code == 0 and "2 registered" in empty.output
    assert "lists none of the 2 numbers asked" in empty.output


def test_the_same_files_checked_again_later_are_a_new_check(scrubbed: Workspace) -> None:
    """An unchanged list re-checked a month on gets the same answer, byte for byte: it is
    still a new check, or every number would turn RPO_NOT_CHECKED."""
    files = ("--request", "data/rpo/2026-11-20-request.txt",
             "--response", "data/rpo/2026-11-20-response.txt")
    later = _gk(scrubbed, "rpo", "import", *files, "--checked-at", "2026-11-21T10:00")
    assert later.exit_code == 0 and "already imported" not in later.output
    assert _gk(scrubbed, "rpo", "import", *files, "--checked-at",
               "2026-11-21T10:00").output.startswith("already imported")
    ran = _gk(scrubbed, "run", "--campaign", "later", "--purpose", "telemarketing",
              "--as-of", "2026-12-05T12:00")
    assert ran.exit_code == 0
    summary = json.loads((scrubbed.report_dir("later") / "summary.json").read_text())
    assert "RPO_NOT_CHECKED" not in summary["suppressed"] and summary["dialable"] > 3000


CHECKED = parse_instant("2026-11-20T10:00", ZONE)


def _exchange(store: Store, folder: Path, request: bytes, response: bytes) -> ImportResult:
    """Write a request/response pair as the registry's files and import it."""
    request_file, response_file = folder / "q.txt", folder / "r.txt"
    request_file.write_bytes(request)
    response_file.write_bytes(response)
    return import_exchange(store, request_file, response_file, IT, checked_at=CHECKED)


def test_rpo_import_reads_a_response_however_its_numbers_are_written(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    request = "\ufeff3331234567\r\n0612345678\n\n3471234567\n".encode()
    # kept: one as asked, one in international form; 3471234567 is missing = registered
    result = _exchange(store, tmp_path, request, b"3331234567\n+39 06 1234 5678\n")
    assert (result.numbers, result.registered) == (3, 1)
    checks = rpo_store.every_check(store).select("phone", "registered").sort("phone")
    assert checks.rows() == [("+390612345678", False), ("+393331234567", False),
                             ("+393471234567", True)]
    with pytest.raises(RegistryError) as bad:
        _exchange(store, tmp_path, request, b"3331234567\nabc\n")
    assert bad.value.row == 2 and "'abc'" in bad.value.message
    with pytest.raises(RegistryError) as bad_request:
        _exchange(store, tmp_path, b"3331234567\n\n333 12\n", b"3331234567\n")
    assert bad_request.value.row == 3 and bad_request.value.file == str(tmp_path / "q.txt")


def test_rpo_check_dated_later_makes_numbers_expire(scrubbed: Workspace) -> None:
    result = _gk(scrubbed, "run", "--campaign", "late", "--purpose", "telemarketing",
                 "--as-of", "2026-12-05T10:00", "--json")
    summary = json.loads(result.output)
    assert summary["dialable"] == 0 and summary["suppressed"]["RPO_NOT_CHECKED"] > 0


LINE = st.sampled_from([b"3331234567", b" 0612345678 ", b"", b"  ", b"3471234567\r"])


@settings(max_examples=40, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=12), st.integers(0, 12), st.booleans(),
       st.sampled_from([b"33 12", b"\xff\xfe", b"abc"]))
def test_rpo_exchange_errors_name_the_true_line(lines: list[bytes], at: int, bom: bool,
                                                junk: bytes) -> None:
    """Blank lines, CRLF, a BOM or bytes that are not UTF-8 never shift the line an error
    names: the operator opens the file at that line and finds the bad value."""
    at = min(at, len(lines))
    body = [*lines[:at], junk, *lines[at:]]
    with (tempfile.TemporaryDirectory() as name, Store(duckdb.connect(":memory:")) as store,
          pytest.raises(RegistryError) as bad):
        _exchange(store, Path(name),
                  (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(body) + b"\n", b"")
    assert bad.value.row == at + 1 and bad.value.file == str(Path(name) / "q.txt")


def test_a_number_asked_twice_is_one_check(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    result = _exchange(store, tmp_path, b"3331234567\n0612345678\n333 123 4567\n",
                       b"0612345678\n")
    assert (result.numbers, result.registered) == (2, 1)
    assert rpo_store.every_check(store).select("phone", "registered").sort("phone").rows() == [
        ("+390612345678", False), ("+393331234567", True)]


def test_formulas_in_a_list_reach_no_spreadsheet(maker: WorkspaceMaker) -> None:
    """CSV injection: names a spreadsheet would run are written as text; phones stay E.164."""
    import csv
    import io

    names = ['=HYPERLINK("http://x.example","clic")', "+SUM(1,2)", "-2+3", "@SUM(A1)",
             "\t=2+2", "Mario Rossi"]
    text = io.StringIO()
    csv.writer(text).writerows([["Telefono", "Nome", "Consenso", "Data", "Prova"]] + [
        [f"33312345{60 + i}", name, "si", "2026-01-10", f"P{i}"]
        for i, name in enumerate(names)])
    maker.supplier("acme", name="=cmd|' /C calc'!A0")  # the supplier's name, from its file
    maker.source("f", text.getvalue(),
                 columns='phone = "Telefono"\nname = "Nome"\nconsent_third_party = "Consenso"\n'
                         'consent_date = "Data"\nconsent_proof = "Prova"\n')
    ws = maker.ws
    assert _gk(ws, "load").exit_code == 0
    request = maker.root / "q.txt"
    request.write_text("\n".join(f"33312345{60 + i}" for i in range(len(names))) + "\n")
    assert _gk(ws, "rpo", "import", "--request", str(request), "--response", str(request),
               "--same-as-request", "--checked-at", "2026-11-20T10:00").exit_code == 0
    assert _gk(ws, "run", "--campaign", "f", "--purpose", "telemarketing", "--as-of",
               AS_OF).exit_code == 0
    dialable = pl.read_csv(ws.report_dir("f") / "dialable.csv", infer_schema=False)
    assert dialable.height == len(names)
    for column in ("name", "source_id", "basis", "basis_text"):
        assert not dialable[column].str.contains(r"^[=+\-@\t\r]").any(), column
    assert dialable["phone"].str.starts_with("+39").all()
    assert "'=HYPERLINK(\"http://x.example\",\"clic\")" in dialable["name"].to_list()
    assert "'=2+2" in dialable["name"].to_list() or "'\t=2+2" in dialable["name"].to_list()
    sources = pl.read_csv(ws.report_dir("f") / "sources.csv", infer_schema=False)
    assert sources["supplier_name"][0] == "'=cmd|' /C calc'!A0"


def test_a_run_made_with_a_longer_rpo_validity_than_the_law_answers_only_as_long_as_the_law(
        scrubbed: Workspace) -> None:
    """Before the configuration refused it, a workspace could run with a 30-day RPO
    validity; such a run must not keep numbers dialable past the legal 15 days."""
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    ask = ("check", phone, "--purpose", "telemarketing", "--json", "--at")
    # The demo's RPO answer is of 2026-11-20 10:00: dialable until 5 December 10:00.
    assert json.loads(_gk(scrubbed, *ask, "2026-11-23T10:00").stdout)["dialable"]
    before = json.loads(_gk(scrubbed, *ask, "2026-12-04T10:00").stdout)
    assert before["dialable"] and before["valid_until"] == "2026-12-05T10:00:00+01:00"
    with Store(scrubbed.store_path) as store:  # as a run under rpo_validity_days = 30 says
        policy = json.loads(str(store.scalar("SELECT policy_json FROM runs LIMIT 1")))
        store.con.execute("UPDATE runs SET policy_json = ?",
                          [json.dumps({**policy, "rpo_validity_days": 30})])
    # Its valid_until (recorded as 15 days here) is brought back by the 15 days' excess.
    after = json.loads(_gk(scrubbed, *ask, "2026-12-04T10:00").stdout)
    assert after["reason"] == "RPO_NOT_CHECKED"


def test_importing_an_answer_already_expired_says_so(demo: Workspace) -> None:
    """An answer older than its validity decides nothing as of now: said at import, not
    discovered later as every number RPO_NOT_CHECKED."""
    import datetime as dt

    assert _gk(demo, "load").exit_code == 0
    args = ("rpo", "import", "--request", "data/rpo/2026-11-20-request.txt", "--response",
            "data/rpo/2026-11-20-response.txt", "--checked-at")
    old = _gk(demo, *args, "2020-01-10T10:00")
    assert old.exit_code == 0 and "no longer valid" in old.output
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M+00:00")
    fresh = _gk(demo, *args, recent)
    assert fresh.exit_code == 0 and "no longer valid" not in fresh.output


def test_the_request_imported_as_its_own_answer_is_refused(demo: Workspace) -> None:
    """The same bytes back would make every number 'not registered' (a false dialable for
    every registered one): refused unless the register really answered so."""
    assert _gk(demo, "load").exit_code == 0
    request = "data/rpo/2026-11-20-request.txt"
    args = ("rpo", "import", "--request", request, "--response", request,
            "--checked-at", "2026-11-20T10:00")
    refused = _gk(demo, *args)
    assert refused.exit_code == 2 and "byte for byte the request" in refused.output
    with Store(demo.store_path, read_only=True) as store:
        assert store.con.execute("SELECT count(*) FROM rpo_exchanges").fetchone() == (0,)
    meant = _gk(demo, *args, "--same-as-request")
    assert meant.exit_code == 0 and " 0 registered" in meant.output, meant.output
