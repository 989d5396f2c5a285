"""Instants as people and tools are handed them (PRODUCT.md, "The campaign manager's way
in"): people read the jurisdiction's local time as they write it (22/11/2026 10:00);
machine files carry ISO 8601 with the local offset (2026-11-22T10:00:00+01:00). The bug
this guards: `--as-of 2026-11-22` came back as 2026-11-21T23:00:00Z, and contracts.csv
showed 19:15Z for a 20:15 call, so an unlawful evening call looked lawful."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.core.timeutil import local_iso, local_iso_expr, local_words, parse_instant, read_iso
from gatekeeper.jurisdictions import IT

from .conftest import copy_demo, gk

# The hour the clocks go back in Rome: 2026-10-25 02:30 happens twice, 00:30Z and 01:30Z.
FIRST_0230, SECOND_0230 = dt.datetime(2026, 10, 25, 0, 30), dt.datetime(2026, 10, 25, 1, 30)


ZONE = IT.timezone_name  # local times in these tests are Italy's

@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, str]:
    """The demo scrubbed as of a date typed alone, as the README's quick start does;
    returns the workspace and what `run` printed."""
    ws = copy_demo(tmp_path_factory.mktemp("local-time") / "demo")
    assert gk(ws, "load").exit_code == 0
    imported = gk(ws, "rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
                  "--response", "data/rpo/2026-11-20-response.txt",
                  "--checked-at", "2026-11-20T10:00")
    assert imported.exit_code == 0, imported.output
    assert "checked at 20/11/2026 10:00" in imported.output
    assert gk(ws, "optout", "import", "data/optouts-demo.csv").exit_code == 0
    run = gk(ws, "run", "--campaign", "demo", "--purpose", "telemarketing",
             "--as-of", "2026-11-22")
    assert run.exit_code == 0, run.output
    return ws, run.output


def test_a_typed_date_is_echoed_as_that_date(ran: tuple[Workspace, str]) -> None:
    """The day typed comes back as that day at 00:00 local time, not the UTC instant
    before it: in the text a person reads and in summary.json."""
    ws, output = ran
    assert "as of 22/11/2026 00:00," in output, output
    assert "2026-11-21" not in output and "Z" not in output.split("run ")[0]
    assert "dial before 05/12/2026 10:00" in output, output
    summary = json.loads((ws.report_dir("demo") / "summary.json").read_text())
    assert summary["as_of"] == "2026-11-22T00:00:00+01:00"
    assert summary["valid_until"] == "2026-12-05T10:00:00+01:00"
    as_json = json.loads(gk(ws, "run", "--campaign", "demo", "--purpose", "telemarketing",
                            "--as-of", "2026-11-22", "--json").output)
    assert as_json["as_of"] == summary["as_of"]
    html = (ws.report_dir("demo") / "report.html").read_text()
    assert '<time datetime="2026-11-22T00:00:00+01:00">22/11/2026 00:00</time>' in html


def test_dialable_csv_instants_carry_the_offset(ran: tuple[Workspace, str]) -> None:
    """The check answered at 10:00 in Rome reads 10:00+01:00 (the same instant as the
    09:00Z the store holds), in every row."""
    ws, _ = ran
    dialable = pl.read_csv(ws.report_dir("demo") / "dialable.csv", infer_schema=False)
    assert dialable.height > 1000
    assert dialable["rpo_checked_at"].unique().to_list() == ["2026-11-20T10:00:00+01:00"]
    assert dialable["valid_until"].unique().to_list() == ["2026-12-05T10:00:00+01:00"]
    instants = dialable.select(read_iso(pl.col("rpo_checked_at"))).to_series().unique()
    assert instants.to_list() == [dt.datetime(2026, 11, 20, 9)]


def test_check_answers_in_local_time(ran: tuple[Workspace, str]) -> None:
    """`check --json` (what a dialer's script reads) and its text, in local time."""
    ws, _ = ran
    phone = pl.read_csv(ws.report_dir("demo") / "dialable.csv", infer_schema=False)["phone"][0]
    answer = gk(ws, "check", phone, "--purpose", "telemarketing", "--campaign", "demo",
                "--at", "2026-11-23T10:00", "--json")
    data = json.loads(answer.output)
    assert data["at"] == "2026-11-23T10:00:00+01:00"
    assert data["valid_until"] == "2026-12-05T10:00:00+01:00"
    text = gk(ws, "check", phone, "--purpose", "telemarketing", "--campaign", "demo",
              "--at", "2026-11-23T10:00").output
    assert "valid until 05/12/2026 10:00" in text and "as of 22/11/2026 00:00" in text


def test_contracts_csv_shows_the_call_at_its_local_hour(ran: tuple[Workspace, str]) -> None:
    """The demo's evening call (20:15 in Rome, after the 20:00 close) reads 20:15+01:00
    beside the contract it led to, not 19:15Z that looks like a lawful hour."""
    ws, _ = ran
    for agency in ("callpro", "connecto"):
        imported = gk(ws, "calls", "import", f"data/calls/{agency}-2026-11-23.csv",
                      "--agency", agency)
        assert imported.exit_code == 0, imported.output
    verified = gk(ws, "contracts", "verify", "data/contracts/2026-11-23.csv", "--name", "nov")
    assert verified.exit_code == 1, verified.output
    folder = ws.root / "reports" / "contracts" / "nov"
    rows = {r["contract_id"]: r for r in pl.read_csv(
        folder / "contracts.csv", infer_schema=False).iter_rows(named=True)}
    late = rows["C-2026-1002"]
    assert (late["status"], late["reason"]) == ("UNLAWFUL_CONTACT", "OUTSIDE_CALLING_HOURS")
    assert late["call_started_at"] == "2026-11-23T20:15:00+01:00"
    assert late["signed_at"] == "2026-11-23T20:40:00+01:00"
    assert not any(v.endswith("Z") for r in rows.values() for v in r.values() if v)
    html = (folder / "contracts.html").read_text()
    assert '<time datetime="2026-11-23T20:15:00+01:00">23/11/2026 20:15</time>' in html
    # The same call as the person who asks "who called me?" reads it, and as a tool does.
    listed = gk(ws, "calls", "list", late["phone"]).output
    assert listed.startswith("23/11/2026 20:15"), listed
    calls = json.loads(gk(ws, "calls", "list", late["phone"], "--json").output)
    assert calls[0]["started_at"] == "2026-11-23T20:15:00+01:00"
    assert "started_at_utc" not in calls[0]


def test_disclosure_json_and_opt_out_list_in_local_time(ran: tuple[Workspace, str]) -> None:
    """The person's data as JSON (disclosure, opt-outs) carries local offsets; an
    objection received on a date is listed as that date."""
    ws, _ = ran
    listed = json.loads(gk(ws, "optout", "list", "--json").output)
    first = listed[0]
    assert first["at"].endswith(("+01:00", "+02:00")), first
    text = gk(ws, "optout", "list").output.splitlines()[0]
    assert local_words(parse_instant(first["at"], ZONE), ZONE) in text
    data = json.loads(gk(ws, "disclose", first["phone"], "--format", "json").output)
    assert data["optouts"][0]["at"] == first["at"]
    assert data["generated_at"][-6:] in ("+01:00", "+02:00")


def test_a_summer_instant_gets_plus_two() -> None:
    """Summer time: +02:00, to the second; the people's form is the wall clock."""
    summer = parse_instant("2026-07-01T09:00", ZONE)  # Rome, no offset: 07:00Z
    assert summer == dt.datetime(2026, 7, 1, 7)
    assert local_iso(summer, ZONE) == "2026-07-01T09:00:00+02:00"
    assert local_iso(dt.datetime(2026, 11, 22, 9, 0, 0, 999), ZONE) == "2026-11-22T10:00:00+01:00"
    assert local_words(summer, ZONE) == "01/07/2026 09:00"
    frame = pl.DataFrame({"at": [summer, dt.datetime(2026, 11, 21, 23), None]})
    assert frame.select(local_iso_expr("at", ZONE)).to_series().to_list() == [
        "2026-07-01T09:00:00+02:00", "2026-11-22T00:00:00+01:00", None]


def test_the_repeated_autumn_hour_is_unambiguous() -> None:
    """2026-10-25 02:30 happens twice in Rome: files keep the two apart by their offsets,
    and read back to the two instants; a person is told which, by the offset."""
    assert local_iso(FIRST_0230, ZONE) == "2026-10-25T02:30:00+02:00"
    assert local_iso(SECOND_0230, ZONE) == "2026-10-25T02:30:00+01:00"
    assert local_words(FIRST_0230, ZONE) == "25/10/2026 02:30 (+02:00)"
    assert local_words(SECOND_0230, ZONE) == "25/10/2026 02:30 (+01:00)"
    assert local_words(SECOND_0230 + dt.timedelta(hours=1), ZONE) == "25/10/2026 03:30"
    # Columnar, both paths: every value formatted, and distinct values formatted once.
    few = pl.DataFrame({"at": [FIRST_0230, SECOND_0230] * 50})
    many = pl.DataFrame({"at": [FIRST_0230, SECOND_0230]})
    for frame in (few, many):
        text = frame.select(local_iso_expr("at", ZONE)).to_series()
        assert text.head(2).to_list() == ["2026-10-25T02:30:00+02:00",
                                          "2026-10-25T02:30:00+01:00"]
        back = text.to_frame().select(read_iso(pl.col("at"))).to_series()
        assert back.to_list() == frame["at"].to_list()
        assert [parse_instant(t, ZONE) for t in text.head(2)] == [FIRST_0230, SECOND_0230]


def test_files_of_the_previous_version_still_read() -> None:
    """Reports and evidence written before this change hold ...Z instants: they read as
    the same instants, and are shown in local time."""
    old = pl.DataFrame({"valid_until": ["2026-12-05T09:00:00Z", "2026-12-05T10:00:00+01:00"]})
    assert old.select(read_iso(pl.col("valid_until"))).to_series().to_list() == [
        dt.datetime(2026, 12, 5, 9)] * 2
    assert parse_instant("2026-11-21T23:00:00Z", ZONE) == parse_instant("2026-11-22", ZONE)
    assert local_words("2026-11-21T23:00:00Z", ZONE) == "22/11/2026 00:00"
    assert local_iso("2026-11-21T23:00:00Z", ZONE) == "2026-11-22T00:00:00+01:00"
    assert local_iso(dt.datetime(2026, 11, 21, 23), "Europe/Bucharest") == (
        "2026-11-22T01:00:00+02:00")
