"""One answer to "may I dial?": the table is complete, and batch, `check` and the service
agree on every number of a generated workspace."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import polars as pl
import pytest

from gatekeeper import policy as P
from gatekeeper.config import Workspace
from gatekeeper.dialing import check_number
from gatekeeper.jurisdictions import IT
from gatekeeper.timeutil import parse_instant

from .conftest import AS_OF, DIAL_AT, WorkspaceMaker, gk
from .service_helper import running_service

ZONE = IT.timezone_name  # local times in these tests are Italy's

def test_every_code_has_words_and_a_citation_written_once() -> None:
    rules = [*P.STEPS, *(r for b in P.BASES for r in b.rules)]
    for code in {r.code for r in rules} | {b.code for b in P.BASES} | {P.NO_RUN, P.NO_SOURCE}:
        entry = P.CODES[code]
        assert entry.text.strip() and entry.law.strip(), code
    assert set(P.BASIS_RANK) == {b.code for b in P.BASES}
    # The law a rule cites is its code's, never a second copy that could drift.
    assert all(r.law == P.CODES[r.code].law for r in rules)
    assert all(b.law == P.CODES[b.code].law for b in P.BASES)


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


@pytest.mark.parametrize("seed", [1, 2])
def test_batch_check_and_service_give_the_same_answer(maker: WorkspaceMaker, seed: int) -> None:
    ws, numbers = _workspace(maker, seed)
    dialable = pl.read_csv(ws.report_dir("c") / "dialable.csv", infer_schema=False)
    decisions = pl.read_parquet(ws.report_dir("c") / "decisions.parquet")
    basis = dict(zip(dialable["phone"], dialable["basis"], strict=True))
    first = (decisions.filter(pl.col("phone").is_not_null()).sort("source_id", "row")
             .unique("phone", keep="first", maintain_order=True))
    reason = dict(zip(first["phone"], first["reason"], strict=True))
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
    rewrote its folder: the store keeps every run's outcome per number."""
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
        if again.dialable:  # the basis in general words: the row's specifics were in the report
            assert again.basis_text and again.basis_text.split(":")[0] == (
                answer.basis_text or "").split(":")[0]
