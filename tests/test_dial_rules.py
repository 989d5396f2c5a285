"""Rules 9-13 of "May I dial?" at their edges, asked as a dialer asks: `gatekeeper check
--at`, after calls recorded by `gatekeeper calls import`, on the demo workspace.

Survey campaigns (no RPO limit for the demo's customers) let a check fall months after the
run, on the national holidays; telemarketing checks stay inside the demo's RPO validity.
Every call in these tests is in the past (imports refuse future calls); every check names
its instant, so nothing depends on the day the suite runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.core.timeutil import local_iso, parse_instant
from gatekeeper.jurisdictions import IT

from .conftest import AS_OF, copy_demo, gk
from .service_helper import running_service

ZONE = IT.timezone_name  # local times in these tests are Italy's

CALL_COLUMNS = ["call_id", "phone", "started_at", "outcome", "direction", "campaign"]
_ids = itertools.count()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return rules_workspace(tmp_path_factory.mktemp("rules") / "demo")


def rules_workspace(root: Path) -> Workspace:
    """The README's main job, plus survey campaigns 'sat' (as of AS_OF) and 'early' (as of
    5 November, for checks in the past), and an agency limited in time and campaign."""
    demo = copy_demo(root)
    assert gk(demo, "load").exit_code == 0
    assert gk(demo, "rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
              "--response", "data/rpo/2026-11-20-response.txt",
              "--checked-at", "2026-11-20T10:00").exit_code == 0
    assert gk(demo, "optout", "import", "data/optouts-demo.csv").exit_code == 0
    for campaign, purpose, as_of in (("demo", "telemarketing", AS_OF),
                                     ("sat", "survey", AS_OF), ("early", "survey", "2026-11-05")):
        ran = gk(demo, "run", "--campaign", campaign, "--purpose", purpose, "--as-of", as_of)
        assert ran.exit_code == 0, ran.output
    (demo.root / "agencies" / "shortterm.toml").write_text(
        'id = "shortterm"\nname = "Breve S.r.l."\nvat = "IT01234567890"\n'
        "authorised_from = 2026-11-25\nauthorised_to = 2026-11-26\n"
        'caller_ids = ["+390611112222"]\ncampaigns = ["demo", "sat"]\n')
    return demo


_USED: set[str] = set()


def fresh(ws: Workspace, campaign: str = "sat") -> str:
    """A dialable number of the campaign no other test used (they share the workspace)."""
    phones = pl.read_csv(ws.report_dir(campaign) / "dialable.csv", infer_schema=False)["phone"]
    phone = next(p for p in phones if p not in _USED)
    _USED.add(phone)
    return phone


def check(ws: Workspace, phone: str, at: str, *extra: str, campaign: str = "sat"
          ) -> dict[str, Any]:
    purpose = "telemarketing" if campaign == "demo" else "survey"
    result = gk(ws, "check", phone, "--purpose", purpose, "--campaign", campaign, "--at", at,
                "--json", *extra)
    answer: dict[str, Any] = json.loads(result.stdout)
    assert result.exit_code == (0 if answer["dialable"] else 1), result.output
    return answer


def record(ws: Workspace, tmp_path: Path, phone: str, *calls: tuple[str, ...],
           agency: str = "connecto") -> str:
    """Import calls (started_at in Rome time, outcome[, direction]) to a number."""
    path = tmp_path / f"calls-{next(_ids)}.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CALL_COLUMNS)
        for call in calls:
            writer.writerow([f"t{next(_ids)}", phone, call[0], call[1],
                             call[2] if len(call) > 2 else "outbound", "sat"])
    result = gk(ws, "calls", "import", str(path), "--agency", agency)
    assert result.exit_code == 0, result.output
    return result.output


def _rome(text: str) -> dt.datetime:
    return parse_instant(text, ZONE)


@pytest.mark.parametrize(("at", "next_open"), [
    ("2026-11-24T08:59:59", "2026-11-24T09:00"),  # Tuesday, before 09:00
    ("2026-11-24T09:00", None),
    ("2026-11-24T19:59:59", None),
    ("2026-11-24T20:00", "2026-11-25T09:00"),  # 20:00 is already closed
    ("2026-11-27T20:00", "2026-11-28T10:00"),  # Friday evening -> Saturday 10:00
    ("2026-11-28T09:59:59", "2026-11-28T10:00"),  # Saturday
    ("2026-11-28T10:00", None),
    ("2026-11-28T18:59:59", None),
    ("2026-11-28T19:00", "2026-11-30T09:00"),  # Saturday 19:00 -> Monday
    ("2026-11-29T12:00", "2026-11-30T09:00"),  # Sunday: never
    ("2026-12-07T10:30", None),  # eve of 8 December: 10:00-19:00
    ("2026-12-07T09:30", "2026-12-07T10:00"),
    ("2026-12-07T19:00", "2026-12-09T09:00"),
    ("2026-12-08T12:00", "2026-12-09T09:00"),  # Immacolata
    ("2026-12-24T19:00", "2026-12-28T09:00"),  # Christmas, Santo Stefano, then a Sunday
    ("2026-12-31T18:59", None),  # eve of 1 January
    ("2026-12-31T19:00", "2027-01-02T10:00"),  # 2 January 2027 is a Saturday
    ("2027-01-06T12:00", "2027-01-07T09:00"),  # Epifania
    ("2027-03-29T12:00", "2027-03-30T09:00"),  # Easter Monday 2027
    ("2027-03-27T18:00", None),  # the Saturday before Easter (pre-holiday hours)
    ("2027-04-26T12:00", None),  # 25 April 2027 is a Sunday: the Monday is a working day
    ("2028-04-25T12:00", "2028-04-26T09:00"),  # Liberazione on a Tuesday
    ("2027-06-02T12:00", "2027-06-03T09:00"),  # Festa della Repubblica
    ("2027-06-01T19:30", "2027-06-03T09:00"),  # its eve closes at 19:00
])
def test_calling_hours_at_their_edges(ws: Workspace, at: str, next_open: str | None) -> None:
    answer = check(ws, fresh(ws), at)
    if next_open is None:
        assert answer["dialable"], answer
    else:
        # In Rome time with its offset (+02:00 in summer), the instant _rome reads.
        assert answer["next_allowed_at"].startswith(f"{next_open}:00+0"), answer
        assert (answer["reason"], answer["next_allowed_at"]) == (
            "OUTSIDE_CALLING_HOURS", local_iso(_rome(next_open), ZONE)), answer


def test_a_local_holiday_and_its_eve(ws: Workspace, tmp_path: Path) -> None:
    """extra_holidays (a city's patron saint) closes the day and shortens the one before."""
    local = copy_demo(tmp_path / "local")
    config = local.root / "gatekeeper.toml"
    config.write_text(config.read_text() + '\n[calling_hours]\nextra_holidays = ["2026-12-02"]\n')
    for step in (("load",), ("run", "--campaign", "sat", "--purpose", "survey", "--as-of", AS_OF)):
        assert gk(local, *step).exit_code == 0
    phone = fresh(local)
    assert check(local, phone, "2026-12-01T09:30")["next_allowed_at"] == "2026-12-01T10:00:00+01:00"
    assert check(local, phone, "2026-12-01T18:59")["dialable"]
    assert check(local, phone, "2026-12-02T12:00")["next_allowed_at"] == "2026-12-03T09:00:00+01:00"
    assert check(ws, fresh(ws), "2026-12-02T12:00")["dialable"]  # not a holiday elsewhere


def test_a_bad_calling_hours_knob_stops_every_command(tmp_path: Path) -> None:
    local = copy_demo(tmp_path / "bad")
    config = local.root / "gatekeeper.toml"
    config.write_text(config.read_text() + '\n[calling_hours]\nweekday = "9-20"\n')
    result = gk(local, "load")
    assert result.exit_code == 2 and "calling_hours.weekday" in result.output, result.output


def test_the_attempt_limit_counts_the_last_30_days_only(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    record(ws, tmp_path, phone, ("2026-11-02 12:00", "no_answer"),
           ("2026-11-16 10:00", "busy"), ("2026-11-17 10:00", "voicemail"))
    assert check(ws, phone, "2026-11-24T10:00")["dialable"]  # 3 of 4
    record(ws, tmp_path, phone, ("2026-11-18 10:00", "failed"),  # never rang: not counted
           ("2026-11-19 10:00", "answered", "inbound"))  # the person called: not counted
    assert check(ws, phone, "2026-11-24T10:00")["dialable"]
    record(ws, tmp_path, phone, ("2026-11-18 11:00", "no_answer"))
    assert check(ws, phone, "2026-11-24T10:00")["reason"] == "ATTEMPT_LIMIT"
    # The first attempt was exactly 30 days before 2 December 12:00: then it no longer counts.
    assert check(ws, phone, "2026-12-02T11:59:59")["reason"] == "ATTEMPT_LIMIT"
    assert check(ws, phone, "2026-12-02T12:00")["dialable"]
    # Every agency's and every campaign's attempts count.
    other = fresh(ws)
    record(ws, tmp_path, other, ("2026-11-16 10:00", "no_answer"), ("2026-11-17 10:00", "busy"))
    assert check(ws, other, "2026-11-24T10:00")["dialable"]
    record(ws, tmp_path, other, ("2026-11-18 10:00", "no_answer"), ("2026-11-19 10:00", "busy"),
           agency="shortterm")  # calls are evidence even outside an agency's authorisation
    assert check(ws, other, "2026-11-24T10:00")["reason"] == "ATTEMPT_LIMIT"


def test_a_refusal_rests_the_number_for_60_days(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    # 1 October 12:00 in Rome is summer time (10:00 UTC); 60 days later is 11:00 in Rome.
    record(ws, tmp_path, phone, ("2026-10-01 12:00", "refused"))
    assert check(ws, phone, "2026-11-30T10:59:59")["reason"] == "COOLDOWN"
    assert check(ws, phone, "2026-11-30T11:00")["dialable"]
    assert check(ws, phone, "2026-09-30T12:00")["reason"] != "COOLDOWN"  # before the refusal


def test_a_repeated_call_id_counts_once(ws: Workspace, tmp_path: Path) -> None:
    phone = fresh(ws)
    path = tmp_path / "day.csv"
    path.write_text("call_id,phone,started_at,outcome\n" + "".join(
        f"r{i}-{phone},{phone},2026-11-1{i} 10:00,no_answer\n" for i in range(3)))
    assert "3 calls recorded" in gk(ws, "calls", "import", str(path), "--agency",
                                    "connecto").output
    again = tmp_path / "day-again.csv"  # another export repeating the same calls
    again.write_text(path.read_text() + f"r9-{phone},{phone},2026-11-19 10:00,failed\n")
    output = gk(ws, "calls", "import", str(again), "--agency", "connecto").output
    assert "1 calls recorded" in output and "3 already recorded" in output, output
    assert "nothing new" in gk(ws, "calls", "import", str(again), "--agency", "connecto").output
    assert check(ws, phone, "2026-11-24T10:00")["dialable"]  # 3 attempts, not 6


def test_an_agency_is_authorised_for_its_days_and_campaigns(ws: Workspace) -> None:
    phone = fresh(ws)
    limited = ("--agency", "shortterm")
    assert check(ws, phone, "2026-11-24T19:00", *limited)["reason"] == "AGENCY_NOT_AUTHORISED"
    assert check(ws, phone, "2026-11-25T09:00", *limited)["dialable"]
    assert check(ws, phone, "2026-11-26T19:59", *limited)["dialable"]  # its whole last day
    assert check(ws, phone, "2026-11-27T09:00", *limited)["reason"] == "AGENCY_NOT_AUTHORISED"
    tele = fresh(ws, "demo")
    assert check(ws, tele, "2026-11-25T09:00", *limited, campaign="demo")["dialable"]
    assert check(ws, fresh(ws, "early"), "2026-11-25T09:00", *limited,
                 campaign="early")["reason"] == "AGENCY_NOT_AUTHORISED"  # not its campaign
    typo = gk(ws, "check", phone, "--purpose", "survey", "--campaign", "sat", "--at",
              "2026-11-25T09:00", "--agency", "callpr0", "--json")
    assert json.loads(typo.stdout)["reason"] == "AGENCY_NOT_AUTHORISED"  # no manifest
    assert "no agency 'callpr0' in agencies/; known: callpro, connecto" in typo.stderr
    unknown = gk(ws, "check", phone, "--purpose", "survey", "--campaign", "sta", "--at",
                 "2026-11-25T09:00")
    assert "NO_RUN" in unknown.stdout and "no run of campaign 'sta'" in unknown.stderr


def test_an_agency_whose_manifest_is_broken_is_refused_and_says_why(ws: Workspace) -> None:
    """A typo in a manifest refuses its agency's calls (fail closed), and says it is the
    manifest, not a lapsed contract."""
    broken = ws.root / "agencies" / "typo.toml"
    broken.write_text('id = "typo"\nname = "Refuso S.r.l."\ncaller_ids = ["n/d"]\n')
    try:
        result = gk(ws, "check", fresh(ws), "--purpose", "survey", "--campaign", "sat",
                    "--at", "2026-11-25T09:00", "--agency", "typo", "--json")
        assert result.exit_code == 1
        assert json.loads(result.stdout)["reason"] == "AGENCY_NOT_AUTHORISED"
        assert "agency 'typo' has no readable manifest" in result.stderr
        assert "typo.toml" in result.stderr
    finally:
        broken.unlink()


def test_the_caller_id_must_be_one_the_agency_declared(ws: Workspace) -> None:
    phone, at = fresh(ws), "2026-11-24T10:00"
    assert check(ws, phone, at, "--agency", "callpro", "--caller-id", "02 9999 0001")["dialable"]
    assert check(ws, phone, at, "--agency", "callpro", "--caller-id", "+390299990003")[
        "reason"] == "CALLER_ID_UNDECLARED"
    assert check(ws, phone, at, "--agency", "connecto", "--caller-id", "+390299990001")[
        "reason"] == "CALLER_ID_UNDECLARED"  # CallPro's number shown by Connecto
    assert check(ws, phone, at, "--caller-id", "+390287650001")["dialable"]  # some agency's
    assert check(ws, phone, at, "--caller-id", "anonymous")["reason"] == "CALLER_ID_UNDECLARED"


def test_check_at_a_past_instant_answers_as_things_stood(ws: Workspace, tmp_path: Path) -> None:
    """The run valid then, the calls made by then, the opt-outs received by then (PRODUCT.md
    "as things stood then"; policy/table.py OBJECTIONS). Asked about now, every opt-out
    recorded counts: test_one_answer.py."""
    phone = fresh(ws, "early")
    record(ws, tmp_path, phone, *[(f"2026-11-{d} 10:00", "no_answer") for d in (9, 10, 11, 12)])
    assert check(ws, phone, "2026-11-10T12:00", campaign="early")["dialable"]  # 2 attempts
    assert check(ws, phone, "2026-11-13T12:00", campaign="early")["reason"] == "ATTEMPT_LIMIT"
    assert check(ws, phone, "2026-11-04T12:00", campaign="early")["reason"] == "NO_RUN"
    assert gk(ws, "optout", "add", phone, "--channel", "operator", "--by", "a1",
              "--at", "2026-11-09T15:00").exit_code == 0
    assert check(ws, phone, "2026-11-09T14:59", campaign="early")["dialable"]
    assert check(ws, phone, "2026-11-09T15:01", campaign="early")["reason"] == "OPTED_OUT"


def test_the_service_and_the_command_line_count_the_same_calls(ws: Workspace) -> None:
    """Calls posted to the service count for `check` at once, and the reverse."""
    phone = fresh(ws)
    national = phone.removeprefix("+39")
    with running_service(ws, "2026-11-24T10:00") as service, service.client("agent") as agent:
        for i in range(3):
            posted = agent.post("/v1/calls", json={
                "call_id": f"svc-{i}-{phone}", "agency": "connecto", "phone": national,
                "started_at": f"2026-11-2{i} 10:00", "outcome": "no_answer"})
            assert posted.status_code == 201, posted.text
        repeated = agent.post("/v1/calls", json={
            "call_id": f"svc-0-{phone}", "agency": "connecto", "phone": national,
            "started_at": "2026-11-20 10:00", "outcome": "no_answer"})
        assert repeated.status_code == 200
        params = {"phone": national, "purpose": "survey", "campaign": "sat"}
        assert agent.get("/v1/check", params=params).json()["dialable"]
        assert check(ws, phone, "2026-11-24T10:00")["dialable"]
        assert agent.post("/v1/calls", json={
            "call_id": f"svc-9-{phone}", "agency": "connecto", "phone": national,
            "started_at": "2026-11-23 10:00", "outcome": "refused"}).status_code == 201
        via_api = agent.get("/v1/check", params=params).json()
        assert via_api["reason"] == check(ws, phone, "2026-11-24T10:00")["reason"]
        assert via_api["reason"] in ("ATTEMPT_LIMIT", "COOLDOWN")


def test_a_batch_check_answers_each_number_as_a_single_check_does(
        ws: Workspace, tmp_path: Path) -> None:
    """POST /v1/check gathers the facts for all its numbers at once: each answer, in the
    order asked, must still be the one GET /v1/check gives for that number alone (calls
    imported into a segment and posted to the service alike)."""
    limit, refused, objected, clean = (fresh(ws) for _ in range(4))
    record(ws, tmp_path, refused, ("2026-11-20 10:00", "refused"))
    record(ws, tmp_path, limit, ("2026-11-10 10:00", "no_answer"))
    calls = [{"call_id": f"batch-{n}-{limit}", "agency": "connecto", "phone": limit,
              "started_at": f"2026-11-1{n} 10:00", "outcome": "no_answer"}
             for n in range(1, 4)]
    not_in_run = "+393409999999"
    asked: list[Any] = [limit, "n/d", refused, objected, clean, clean.removeprefix("+39"),
                        not_in_run, "+442079460958", "899123456", limit]
    with running_service(ws, "2026-11-24T10:00") as service, service.client("agent") as agent:
        assert agent.post("/v1/calls", json={"calls": calls}).status_code == 201
        assert agent.post("/v1/optouts", json={"phone": objected}).status_code == 201
        for context in ({"purpose": "survey", "campaign": "sat"},
                        {"purpose": "survey", "campaign": "sat", "agency": "connecto",
                         "caller_id": "+390287650001"},
                        {"purpose": "survey", "campaign": "sat", "agency": "shortterm"},
                        {"purpose": "survey", "agency": "connecto",
                         "caller_id": "+390299990001"},  # CallPro's number, not connecto's
                        {"purpose": "telemarketing"}):
            batch = agent.post("/v1/check", json={**context, "numbers": asked})
            assert batch.status_code == 200, batch.text
            answers = batch.json()
            assert len(answers) == len(asked)
            for value, answer in zip(asked, answers, strict=True):
                alone = agent.get("/v1/check", params={**context, "phone": str(value)})
                if alone.status_code == 422:  # not a number: answered, and named, in a batch
                    assert answer["reason"] == "INVALID_NUMBER" and answer["input"] == str(value)
                    assert answer["phone"] is None and not answer["dialable"]
                    continue
                assert answer == alone.json(), (context, value)
            reasons = [a["reason"] for a in answers]
            if context == {"purpose": "survey", "campaign": "sat"}:  # the cases reached
                assert reasons == ["ATTEMPT_LIMIT", "INVALID_NUMBER", "COOLDOWN",
                                   "OPTED_OUT", None, None, "NO_SOURCE", "OUT_OF_JURISDICTION",
                                   "NUMBER_TYPE", "ATTEMPT_LIMIT"]
        assert {a["reason"] for a in agent.post("/v1/check", json={
            "purpose": "survey", "campaign": "sat", "agency": "shortterm",
            "numbers": [clean]}).json()} == {"AGENCY_NOT_AUTHORISED"}
        # A JSON number has lost a landline's 0 already: refused, naming it, not guessed at.
        integer = agent.post("/v1/check", json={"purpose": "survey",
                                                "numbers": [clean, 212345678]})
        assert integer.status_code == 422 and "numbers[1] is 212345678" in integer.text
        too_many = agent.post("/v1/check", json={"purpose": "survey",
                                                 "numbers": [clean] * 10_001})
        assert too_many.status_code == 422 and "10,000" in too_many.text


def test_a_call_id_reused_for_an_objection_still_stops_the_calls(ws: Workspace) -> None:
    """Through the service: the clash is answered 409 with what was stored under the id,
    and the second person's objection counts at once."""
    first, second = fresh(ws), fresh(ws)
    call = {"call_id": f"reused-{first}", "agency": "connecto", "phone": first,
            "started_at": "2026-11-23 10:00", "outcome": "answered"}
    with running_service(ws, "2026-11-24T10:00") as service, service.client("agent") as agent:
        assert agent.post("/v1/calls", json=call).status_code == 201
        assert agent.post("/v1/calls", json=call).status_code == 200  # a retry
        clash = agent.post("/v1/calls", json={**call, "phone": second, "outcome": "optout"})
        assert clash.status_code == 409, clash.text
        body = clash.json()
        assert body["optouts_recorded"] == 1 and body["already_recorded"][0]["phone"] == first
        assert "the objection was recorded" in body["conflicts"][0]["message"]
        params = {"phone": second, "purpose": "survey", "campaign": "sat"}
        assert agent.get("/v1/check", params=params).json()["reason"] == "OPTED_OUT"
        # An agency without a manifest: kept as evidence, and said.
        typo = agent.post("/v1/calls", json={**call, "call_id": f"typo-{first}",
                                              "agency": "conecto"})
        assert typo.status_code == 201
        assert "no agency 'conecto' in agencies/" in typo.json()["warnings"][0]


def test_the_service_answers_from_the_run_valid_at_its_instant(ws: Workspace) -> None:
    """A service pinned before a run's as_of (or a run prepared ahead of time) answers
    from the latest run whose as_of has come, as `check --at` does."""
    phone = fresh(ws, "early")
    at = "2026-11-10T10:00"  # after 'early' (as of 5 Nov), before 'sat' (as of AS_OF)
    cli = check(ws, phone, at, campaign="early")
    alone = json.loads(gk(ws, "check", phone, "--purpose", "survey", "--at", at,
                          "--json").stdout)
    with running_service(ws, at) as service, service.client("agent") as agent:
        by_purpose = agent.get("/v1/check", params={"phone": phone, "purpose": "survey"}).json()
        assert by_purpose["run_id"] == alone["run_id"] == cli["run_id"]
        assert by_purpose["campaign"] == "early"
        sat = agent.get("/v1/check", params={"phone": phone, "purpose": "survey",
                                              "campaign": "sat"}).json()
        assert sat["reason"] == "NO_RUN"  # its as_of has not come
