"""One answer to "may I dial?": the table is complete, and its five doors - the batch
run, `gatekeeper check`, GET and POST /v1/check and contract replay - agree on every
number of a generated workspace, contact rules included."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import shutil
from pathlib import Path

import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.core.errors import StoreDamaged
from gatekeeper.core.timeutil import parse_instant
from gatekeeper.decide import policy as P
from gatekeeper.dial.check import check_number
from gatekeeper.jurisdictions import IT

from .conftest import AS_OF, DIAL_AT, REPO, WorkspaceMaker, gk
from .service_helper import running_service
from .test_countries_workspace import MIXED_DECISIONS, calls, mixed_workspace

ZONE = IT.timezone_name  # local times in these tests are Italy's

# The dial-time reasons a run cannot give: where the dial-time answer is one of these, the
# batch said the number was dialable (NO_SOURCE: it said nothing of it).
CALL_CODES = {P.OUTSIDE_CALLING_HOURS, P.ATTEMPT_LIMIT, P.COOLDOWN,
              P.AGENCY_NOT_AUTHORISED, P.CALLER_ID_UNDECLARED}


def test_the_dial_time_rules_are_the_batch_rules() -> None:
    """Steps 1-5 at dial time are the very objects the batch applies, the table is the
    jurisdiction's, and no dial rule reads the context's instant (each row carries its
    own: one evaluation per combination of facts serves every instant)."""
    from gatekeeper.config import Policy
    from gatekeeper.jurisdictions import IT

    table = IT.table
    assert table is P.TABLE and table.dial_rules is P.DIAL_RULES
    # First whether the objections can be known at all (a shared register out of reach),
    # then the batch's very steps 1-5, then the run's decision and the call.
    assert table.dial_rules[0].code == P.OPTOUTS_UNAVAILABLE
    assert all(d is s for d, s in zip(table.dial_rules[1:6], table.steps[:5], strict=True))
    assert [r.code for r in table.dial_rules[6:]] == [
        P.NO_RUN, P.NO_SOURCE, P.RUN_DECISION, P.RPO_NOT_CHECKED, *sorted(
            CALL_CODES, key=[r.code for r in table.dial_rules].index)]
    early, late = (P.Context("telemarketing", at, Policy(), IT) for at in (
        dt.datetime(2026, 1, 1), dt.datetime(2027, 6, 1)))
    assert P.first_failure(table.dial_rules, early).meta.eq(
        P.first_failure(table.dial_rules, late))
    # Every fact the dial rules read is a column of the gatherer's frame.
    assert set(P.first_failure(table.dial_rules, early).meta.root_names()) <= set(
        P.DIAL_SCHEMA)
    assert all(r.taken.dial and r.taken.replay for r in table.dial_rules)


def test_every_code_has_words_and_a_citation_written_once() -> None:
    rules = [*P.STEPS, *(r for b in P.BASES for r in b.rules)]
    for code in {r.code for r in rules} | {b.code for b in P.BASES} | {P.NO_RUN, P.NO_SOURCE}:
        entry = P.CODES[code]
        assert entry.text.strip() and entry.law.strip(), code
    assert set(P.BASIS_RANK) == {b.code for b in P.BASES}
    # The law a rule cites is its code's, never a second copy that could drift.
    assert all(P.IT_TABLE.law(r.code) == P.CODES[r.code].law for r in rules)
    assert all(P.IT_TABLE.law(b.code) == P.CODES[b.code].law for b in P.BASES)


def _workspace(maker: WorkspaceMaker, seed: int) -> tuple[Workspace, list[str]]:
    """Three sources sharing numbers, with every kind of consent and contract fact, a
    quarter registered in the RPO and some objections (as a seeded generator makes them)."""
    rng = random.Random(seed)
    numbers = sorted({f"3{rng.randint(200000000, 999999999)}" for _ in range(160)})
    numbers += ["899123456", "0212345678", "1234", "+442079460958"]  # premium, fixed, junk
    days = [dt.date(2026, 11, 21) - dt.timedelta(days=d) for d in (0, 10, 400, 729, 730, 900)]
    rows = {name: [] for name in ("crm", "acme", "pagine")}
    for n in numbers:
        for name in rows:
            if rng.random() < 0.55:
                rows[name].append([n, rng.choice(["si", "no", ""]),
                                   rng.choice(days).strftime("%d/%m/%Y"),
                                   rng.choice(["P1", ""]), rng.choice(["", "", "Altro srl"]),
                                   rng.choice(["attivo", "cessato"]),
                                   rng.choice(["", "2026-11-01", "2026-09-01"])])
    header = ["Telefono", "Consenso", "Data", "Prova", "Raccolto", "Stato", "Fine"]
    kinds = {"crm": ("internal_archive", 'consent_marketing = "Consenso"\ncontract_status = '
                     '"Stato"\ncontract_end = "Fine"\n'),
             "acme": ("third_party", 'consent_third_party = "Consenso"\nconsent_proof = '
                      '"Prova"\nconsent_collector = "Raccolto"\n'),
             "pagine": ("public_directory", "")}
    for name, (kind, columns) in kinds.items():
        text = io.StringIO()
        csv.writer(text).writerows([header, *rows[name]])
        maker.source(name, text.getvalue(), kind=kind,
                     columns=f'phone = "Telefono"\nconsent_date = "Data"\n{columns}')
    ws = maker.ws
    assert gk(ws, "load").exit_code == 0
    request = maker.root / "q.txt"
    gk(ws, "rpo", "request", "--out", str(request), "--as-of", AS_OF)
    asked = request.read_text().split()
    response = maker.root / "r.txt"
    response.write_text("\n".join(n for n in asked if rng.random() > 0.25) + "\n")
    assert gk(ws, "rpo", "import", "--request", str(request), "--response", str(response),
              "--checked-at", "2026-11-20T10:00").exit_code == 0
    objections = maker.root / "o.csv"
    objections.write_text("phone,channel,received_at,by\n" + "".join(
        f"{n},letter,2026-11-{rng.randint(1, 20):02d},bo\n" for n in rng.sample(numbers[:-4], 12)))
    assert gk(ws, "optout", "import", str(objections)).exit_code == 0
    assert gk(ws, "run", "--campaign", "c", "--purpose", "telemarketing",
              "--as-of", AS_OF).exit_code == 0
    return ws, numbers


def _batch_answers(ws: Workspace) -> tuple[dict[str, str], dict[str, str]]:
    """What campaign c's run said of each number: the basis of each dialable one
    (dialable.csv), the reason of each number's first row (decisions.parquet; select.py)."""
    dialable = pl.read_csv(ws.report_dir("c") / "dialable.csv", infer_schema=False)
    decisions = pl.read_parquet(ws.report_dir("c") / "decisions.parquet")
    first = (decisions.filter(pl.col("phone").is_not_null()).sort("source_id", "row")
             .unique("phone", keep="first", maintain_order=True))
    return (dict(zip(dialable["phone"], dialable["basis"], strict=True)),
            dict(zip(first["phone"], first["reason"], strict=True)))


@pytest.mark.parametrize("seed", [1, 2])
def test_batch_check_and_service_give_the_same_answer(maker: WorkspaceMaker, seed: int) -> None:
    ws, numbers = _workspace(maker, seed)
    basis, reason = _batch_answers(ws)
    at = parse_instant(DIAL_AT, ZONE)
    answers = {}
    # An unbound token asks without an agency, as the CLI does here (a bound token asks
    # for its own agency: test_service_security).
    with running_service(ws, DIAL_AT) as service, service.client("agent") as dialer:
        for value in numbers:
            cli = check_number(ws, value, "telemarketing", at=at).answer
            api = dialer.get("/v1/check", params={"phone": value})
            if cli.phone is None:  # not a number: the service refuses it outright
                assert api.status_code == 422 and cli.reason == P.INVALID_NUMBER
                continue
            api_answer = api.json()
            if cli.phone not in reason:  # in no list: the batch decided nothing about it
                assert not cli.dialable and not api_answer["dialable"]
                continue
            batch = ((True, None, basis[cli.phone]) if cli.phone in basis
                     else (False, reason[cli.phone], None))
            assert (cli.dialable, cli.reason, cli.basis) == batch, value
            assert (api_answer["dialable"], api_answer["reason"], api_answer["basis"]) == batch
            answers[batch[1] or batch[2]] = answers.get(batch[1] or batch[2], 0) + 1
    # The generated cases reach the table's rows, not just one of them.
    assert {"OPTED_OUT", "RPO_REGISTERED", "CONSENT_MISSING", "THIRD_PARTY_CONSENT",
            "PUBLIC_DIRECTORY"} <= set(answers), answers


def test_a_run_whose_report_was_overwritten_still_answers_from_the_store(
        maker: WorkspaceMaker) -> None:
    """Replay needs the run valid then, even after a later run of the same campaign
    rewrote its folder: the store keeps every run's outcome per number, words included,
    and dial time reads a run from there alone."""
    ws, numbers = _workspace(maker, 3)
    at = parse_instant(DIAL_AT, ZONE)
    before = {n: check_number(ws, n, "telemarketing", campaign="c", at=at).answer
              for n in numbers}
    assert gk(ws, "run", "--campaign", "c", "--purpose", "telemarketing",
              "--as-of", "2026-11-23T20:00").exit_code == 0  # overwrites reports/c
    for value, answer in before.items():
        again = check_number(ws, value, "telemarketing", campaign="c", at=at).answer
        assert (again.dialable, again.reason, again.basis, again.run) == (
            answer.dialable, answer.reason, answer.basis, answer.run), value
        # The store keeps the run's words too: the answer does not depend on the reports.
        assert again.basis_text == answer.basis_text, value


def _import_calls(ws: Workspace, rows: list[tuple[str, str, str, str]], name: str) -> None:
    """(call_id, phone, started_at in Rome time, outcome) as connecto's dialer exports."""
    agencies = ws.root / "agencies"
    agencies.mkdir(exist_ok=True)
    shutil.copy(REPO / "agencies" / "connecto.toml", agencies)  # the demo's own centre
    path = ws.root / f"{name}.csv"
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([["call_id", "phone", "started_at", "outcome", "campaign"],
                                   *([*row, "c"] for row in rows)])
    result = gk(ws, "calls", "import", str(path), "--agency", "connecto")
    assert result.exit_code == 0, result.output


def _replayed(ws: Workspace, phones: list[str], signed: str, name: str
              ) -> dict[str, tuple[bool, str | None]]:
    """Each number's contract, signed just after its call, traced and replayed."""
    path = ws.root / f"{name}.csv"
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([
            ["contract_id", "phone", "signed_at", "agency", "agent", "campaign"],
            *([f"K{n}", phone, signed, "connecto", "a1", "c"] for n, phone in enumerate(phones))])
    gk(ws, "contracts", "verify", str(path), "--name", name)
    report = pl.read_csv(ws.root / "reports" / "contracts" / name / "contracts.csv",
                         infer_schema=False)
    assert set(report["status"]) <= {"TRACED", "UNLAWFUL_CONTACT"}, report["status"]
    return {phones[int(k[1:])]: (status == "TRACED", reason) for k, status, reason in
            report.select("contract_id", "status", "reason").iter_rows()}


@pytest.mark.parametrize(("seed", "at", "local"), [
    (4, DIAL_AT, "2026-11-23 11:00"),  # Monday 11:00 in Rome: inside the hours
    (5, "2026-11-29T10:00", "2026-11-29 11:00")])  # a Sunday: outside them
def test_five_doors_give_one_answer(maker: WorkspaceMaker, seed: int, at: str,
                                    local: str) -> None:
    """The same generated numbers through the batch run, `gatekeeper check`, GET and POST
    /v1/check and the replay of a contract whose call is in the ledger at the instant
    asked: one answer (dialable, reason, basis; a replay has no basis to say). Contact
    rules included: a number over the attempt limit, one in its cooldown, a Sunday."""
    ws, numbers = _workspace(maker, seed)
    basis, reason = _batch_answers(ws)
    listed = sorted(basis)
    over, resting = listed[0], listed[1]
    _import_calls(ws, [(f"n{d}", over, f"2026-11-{d} 10:00", "no_answer")
                       for d in (16, 17, 18, 19)]
                  + [("r1", resting, "2026-11-20 10:00", "refused")], "history")
    when = parse_instant(at, ZONE)
    valid = [v for v in numbers
             if check_number(ws, v, "telemarketing", at=when).answer.phone is not None]
    phones = [check_number(ws, v, "telemarketing", at=when).answer.phone for v in valid]
    _import_calls(ws, [(f"t{n}", p, local, "answered") for n, p in enumerate(phones)], "calls")
    replay = _replayed(ws, phones, f"{local[:-2]}20", "five")
    context = {"purpose": "telemarketing", "campaign": "c", "agency": "connecto"}
    with running_service(ws, at) as service, service.client("agent") as dialer:
        posted = dialer.post("/v1/check", json={**context, "numbers": numbers}).json()
        seen: dict[str | None, int] = {}
        for value, post in zip(numbers, posted, strict=True):
            cli = check_number(ws, value, "telemarketing", campaign="c", at=when,
                               agency="connecto").answer
            one = (cli.dialable, cli.reason, cli.basis)
            assert (post["dialable"], post["reason"], post["basis"]) == one, value
            seen[cli.reason] = seen.get(cli.reason, 0) + 1
            if cli.phone is None:
                continue
            get = dialer.get("/v1/check", params={**context, "phone": value}).json()
            assert get == post, value
            assert replay[cli.phone] == one[:2], value
            if cli.phone not in reason:  # in no list: the batch said nothing of it
                assert not cli.dialable, value
            elif cli.reason in CALL_CODES:  # the call, not the list: the run passed it
                assert cli.phone in basis, value
            else:
                batch = ((True, None, basis[cli.phone]) if cli.phone in basis
                         else (False, reason[cli.phone], None))
                assert one == batch, value
    # The generated cases reach the table's rows, the call's included.
    reached = {P.OPTED_OUT, P.RPO_REGISTERED, P.NO_SOURCE, P.INVALID_NUMBER}
    reached |= {P.ATTEMPT_LIMIT, P.COOLDOWN, None} if at == DIAL_AT else {
        P.OUTSIDE_CALLING_HOURS}
    assert reached <= set(seen), seen


def test_an_objection_after_t_counts_now_not_for_t_or_a_replay(
        maker: WorkspaceMaker) -> None:
    """The one place the questions differ, on purpose (policy/table.py OBJECTIONS,
    ERASURES): "may I dial now?" counts every objection recorded (a number opted out when
    asked is never dialable, the service's pinned clock notwithstanding); `check --at T`
    and "was the call at T lawful?" answer as things stood at T."""
    ws, _ = _workspace(maker, 6)
    phone = sorted(pl.read_csv(ws.report_dir("c") / "dialable.csv",
                               infer_schema=False)["phone"])[0]
    _import_calls(ws, [("t0", phone, "2026-11-23 11:00", "answered")], "calls")
    assert gk(ws, "optout", "add", phone, "--channel", "operator", "--by", "a1",
              "--at", "2026-11-24T09:00").exit_code == 0
    when = parse_instant(DIAL_AT, ZONE)
    assert check_number(ws, phone, "telemarketing").answer.reason == P.OPTED_OUT  # now
    assert check_number(ws, phone, "telemarketing", at=when).answer.dialable  # as it stood
    with running_service(ws, DIAL_AT) as service, service.client("agent") as dialer:
        assert dialer.get("/v1/check", params={"phone": phone}).json()["reason"] == "OPTED_OUT"
        assert dialer.post("/v1/check", json={"numbers": [phone]}).json()[0][
            "reason"] == "OPTED_OUT"
    assert _replayed(ws, [phone], "2026-11-23 11:20", "after") == {phone: (True, None)}


def test_a_run_whose_file_in_the_store_was_altered_answers_nothing(
        maker: WorkspaceMaker) -> None:
    """The store's file of a run is the one source of its answers: altered (or gone), no
    answer rests on it (fail closed), whatever the intact report files say."""
    ws, _ = _workspace(maker, 7)
    at = parse_instant(DIAL_AT, ZONE)
    listed = sorted(pl.read_csv(ws.report_dir("c") / "dialable.csv", infer_schema=False)["phone"])
    assert check_number(ws, listed[0], "telemarketing", campaign="c", at=at).answer.dialable
    (stored,) = (ws.store_dir / "runs").glob("*.parquet")
    stored.write_bytes(stored.read_bytes()[:-1] + b"x")
    with pytest.raises(StoreDamaged, match="not the one recorded"):
        check_number(ws, listed[0], "telemarketing", campaign="c", at=at)


@pytest.mark.parametrize(("at", "closed"), [
    # Friday 18 September 2026, 09:30 UTC: every country's lines are open.
    ("2026-09-18T09:30:00Z", set()),
    # 06:30 UTC: Bucharest (09:30) and Berlin (08:30) open; Rome, Paris, Madrid, London not.
    ("2026-09-18T06:30:00Z", {"+39", "+33", "+34", "+44"})])
def test_five_doors_give_one_answer_in_every_country(tmp_path: Path, at: str,
                                                     closed: set[str]) -> None:
    """The same numbers of six countries (and one not called) through the batch run,
    `gatekeeper check`, GET and POST /v1/check and the replay of a contract whose call was
    made at the instant asked: one answer each, by its own country's rules and clock."""
    ws = mixed_workspace(tmp_path / "ws")
    basis, reason = _batch_answers(ws)
    numbers = list(MIXED_DECISIONS)
    calls(ws, [(p, at, "answered") for p in numbers], "at-t")
    signed = (parse_instant(at, "UTC") + dt.timedelta(minutes=20)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    replay = _replayed(ws, numbers, signed, "countries")
    when = parse_instant(at, "UTC")
    context = {"purpose": "telemarketing", "campaign": "c", "agency": "connecto"}
    with running_service(ws, at) as service, service.client("agent") as dialer:
        posted = dialer.post("/v1/check", json={**context, "numbers": numbers}).json()
        for value, post in zip(numbers, posted, strict=True):
            cli = check_number(ws, value, "telemarketing", campaign="c", at=when,
                               agency="connecto").answer
            one = (cli.dialable, cli.reason, cli.basis)
            assert (post["dialable"], post["reason"], post["basis"]) == one, value
            get = dialer.get("/v1/check", params={**context, "phone": value}).json()
            assert get == post, value
            assert replay[value] == one[:2], value
            if value[:3] in closed and cli.phone in basis:
                assert cli.reason == P.OUTSIDE_CALLING_HOURS, value
            else:
                batch = ((True, None, basis[value]) if value in basis
                         else (False, reason[value], None))
                assert one == batch, value
            assert (post["reason"] is None) is (value in basis and value[:3] not in closed)
