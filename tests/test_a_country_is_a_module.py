"""A country is a module: a fictional one, defined here and registered for this test only,
is decided end to end (load, its register's file exchange, run, `check`, GET /v1/check on
the real service) without editing any file of the product.

"ZZ" numbers like Malta (libphonenumber region MT, so its numbers parse), keeps its clocks
in Tokyo (no summer time, nine hours from UTC: a Rome reading would be off by eight), closes
for Japan's public holidays, allows calls 09:00-12:00 and 14:00-18:00 on weekdays only, has
a register ("ZZR") whose answer may be relied on for 30 days, and a decision table built
from Italy's blocks with one rule different: a public directory is no legal basis (an
opt-in country), and it names itself in its out-of-jurisdiction words. Every assertion
below reads one of those facts back from an answer: if one fails, the product has an Italy
hard-wired somewhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.decide.policy import table as italy
from gatekeeper.decide.policy.table import DecisionTable
from gatekeeper.jurisdictions import JURISDICTIONS, Jurisdiction, Register
from gatekeeper.service.tokens import TokenFile

from .conftest import REPO, gk
from .service_helper import free_port, serving

# --- the country: numbering, zone, hours, holidays, register, table ------------------------

ZZR = Register(name="ZZR", validity_days=30, validity_law="ZZ Act 1/2026 s. 4",
               adapters=("file",))

ZZ = Jurisdiction(
    code="ZZ", region="MT", calling_code=356,
    dialable_types=("fixed_line", "mobile", "fixed_line_or_mobile"),
    registers=(ZZR,), number_examples="2123 4567 or +356 7912 3456",
    calling_hours=(("weekday", "09:00-12:00, 14:00-18:00"), ("saturday", ""),
                   ("pre_holiday", "09:00-12:00, 14:00-18:00"), ("sunday", ""),
                   ("holiday", "")),
    holidays_country="JP", timezone_name="Asia/Tokyo", time_words="ZZ time",
    table_module=__name__)

OUT_WORDS = "numero non di ZZ"
CODES = {**italy.CODES, italy.OUT_OF_JURISDICTION: dataclasses.replace(
    italy.CODES[italy.OUT_OF_JURISDICTION], law="ZZ Act 1/2026 s. 2", text=OUT_WORDS)}
# The one rule different: no basis for calling a public directory's numbers.
TABLE = DecisionTable("ZZ", CODES, italy.STEPS,
                      tuple(b for b in italy.BASES if b.code != italy.PUBLIC_DIRECTORY),
                      italy.DIAL_RULES, italy.BASIS_RANK)

# --- a workspace of that country ------------------------------------------------------------

CONFIG = """
[controller]
name = "ZZ Calls Ltd"
vat = "ZZ12345678"
address = "1 Main Street, Zed"
dpo_email = "dpo@zz.example"

[policy]
jurisdiction = "ZZ"
rpo_validity_days = 30
"""

# 2026-11-20T16:00Z is already Saturday 21 November in Tokyo (01:00): a consent dated the
# 21st is not in the future there (it would be in Rome, 17:00 on the 20th).
AS_OF = "2026-11-20T16:00Z"
CHECKED_AT = "2026-11-20T10:00Z"
TODAY_THERE, MOBILE, ITALIAN, DIRECTORY = "+35621234567", "+35679123456", "+393331234567", \
    "+35699123456"
# Monday 23 November is a public holiday in Japan (not in Italy); Tuesday 24 is not.
HOLIDAY_10 = "2026-11-23T01:00Z"  # 10:00 in Tokyo
TUESDAY_10 = "2026-11-24T01:00Z"  # 10:00 in Tokyo: the morning window
TUESDAY_1230 = "2026-11-24T03:30Z"  # 12:30 in Tokyo: the midday gap


@pytest.fixture
def zz(monkeypatch: pytest.MonkeyPatch) -> Jurisdiction:
    monkeypatch.setitem(JURISDICTIONS, "ZZ", ZZ)
    return ZZ


def zz_workspace(root: Path) -> Workspace:
    (root / "sources").mkdir(parents=True)
    (root / "data" / "lists").mkdir(parents=True)
    (root / "gatekeeper.toml").write_text(CONFIG)
    (root / "data" / "lists" / "crm.csv").write_text(textwrap.dedent("""\
        phone,consent,consent_date
        2123 4567,yes,2026-11-21
        +356 7912 3456,yes,2026-06-01
        +39 333 123 4567,yes,2026-06-01
        """))
    (root / "data" / "lists" / "directory.csv").write_text("phone\n9912 3456\n")
    (root / "sources" / "crm.toml").write_text(textwrap.dedent("""\
        id = "crm"
        kind = "internal_archive"
        file = "data/lists/crm.csv"
        received_on = 2026-11-01
        purposes = ["telemarketing"]

        [columns]
        phone = "phone"
        consent_marketing = "consent"
        consent_date = "consent_date"
        """))
    (root / "sources" / "directory.toml").write_text(textwrap.dedent("""\
        id = "directory"
        kind = "public_directory"
        file = "data/lists/directory.csv"
        received_on = 2026-11-01
        purposes = ["telemarketing"]

        [supplier]
        name = "ZZ Directories Ltd"
        vat = "ZZ87654321"

        [columns]
        phone = "phone"
        """))
    return Workspace(root)


def ok(ws: Workspace, *args: str) -> str:
    result = gk(ws, *args)
    assert result.exit_code == 0, result.output
    return result.output


def check(ws: Workspace, phone: str, at: str) -> dict[str, object]:
    result = gk(ws, "check", phone, "--purpose", "telemarketing", "--at", at, "--json")
    assert result.exit_code in (0, 1), result.output
    answer: dict[str, object] = json.loads(result.output)
    return answer


@contextlib.contextmanager
def zz_service(ws: Workspace, as_of: str) -> Iterator[tuple[str, str]]:
    """`gatekeeper serve` on loopback in a process that registers ZZ first, as a deployment
    that ships the country's module would (the registration is all it adds)."""
    token = TokenFile(ws.data_dir / "tokens.json").add("agent-1", "agent", None)
    port = free_port()
    launch = ("import sys; from gatekeeper.jurisdictions import JURISDICTIONS; "
              f"from {__name__} import ZZ; JURISDICTIONS['ZZ'] = ZZ; "
              "from gatekeeper.cli import cli; cli(sys.argv[1:])")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    args = [sys.executable, "-c", launch, "--home", str(ws.root), "serve", "--port",
            str(port), "--as-of", as_of]
    with serving(args, port, ws.root / "service.log", env=env, cwd=REPO) as (url, _):
        yield url, token


def test_a_fictional_country_is_decided_end_to_end_by_its_own_rules(
        tmp_path: Path, zz: Jurisdiction) -> None:
    ws = zz_workspace(tmp_path / "zz")
    assert ws.config().jurisdiction is zz  # 30 days of validity: its register's law allows it
    ok(ws, "load")

    # Its register: the request is written in its national form, the answer imported.
    ok(ws, "rpo", "request", "--out", "data/ask.txt", "--as-of", AS_OF)
    asked = (ws.root / "data" / "ask.txt").read_text().split()
    assert sorted(asked) == sorted(n.removeprefix("+356") for n in
                                   (TODAY_THERE, MOBILE, DIRECTORY))
    not_registered = [n for n in asked if f"+356{n}" != DIRECTORY]  # the directory's is
    (ws.root / "data" / "answer.txt").write_text("\n".join(not_registered) + "\n")
    ok(ws, "rpo", "import", "--request", "data/ask.txt", "--response", "data/answer.txt",
       "--checked-at", CHECKED_AT)

    ok(ws, "run", "--campaign", "zz", "--purpose", "telemarketing", "--as-of", AS_OF)
    report = ws.report_dir("zz")
    dialable = pl.read_csv(report / "dialable.csv", infer_schema=False)
    assert sorted(dialable["phone"]) == sorted([TODAY_THERE, MOBILE])  # its zone's today
    # Its register's validity (30 days, not Italy's 15), in its local time (+09:00).
    assert set(dialable["valid_until"]) == {"2026-12-20T19:00:00+09:00"}

    # `check`: its table's words, its holidays, its two windows, in its zone.
    assert check(ws, ITALIAN, TUESDAY_10)["reason_text"] == OUT_WORDS
    assert check(ws, DIRECTORY, TUESDAY_10)["reason"] == italy.PURPOSE_NOT_ALLOWED
    holiday = check(ws, MOBILE, HOLIDAY_10)
    assert holiday["reason"] == italy.OUTSIDE_CALLING_HOURS
    assert holiday["next_allowed_at"] == "2026-11-24T09:00:00+09:00"
    assert check(ws, MOBILE, TUESDAY_10)["dialable"] is True
    gap = check(ws, MOBILE, TUESDAY_1230)
    assert gap["reason"] == italy.OUTSIDE_CALLING_HOURS
    assert gap["next_allowed_at"] == "2026-11-24T14:00:00+09:00"

    # The real service, its clock pinned in the midday gap, answers alike.
    with zz_service(ws, TUESDAY_1230) as (url, token), httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        got = client.get("/v1/check", params={"phone": "7912 3456"})
        assert got.status_code == 200, got.text
        answer = got.json()
        assert (answer["phone"], answer["reason"], answer["next_allowed_at"]) == (
            MOBILE, italy.OUTSIDE_CALLING_HOURS, "2026-11-24T14:00:00+09:00")
        italian = client.get("/v1/check", params={"phone": ITALIAN}).json()
        assert italian["reason_text"] == OUT_WORDS



def test_gatekeeper_rules_prints_the_workspaces_country(tmp_path: Path,
                                                       zz: Jurisdiction) -> None:
    ws = zz_workspace(tmp_path / "zz")
    printed = ok(ws, "rules", "--format", "json")
    rows = json.loads(printed)
    assert not any(r["code"] == italy.PUBLIC_DIRECTORY for r in rows)
    out = next(r for r in rows if r["code"] == italy.OUT_OF_JURISDICTION)
    assert (out["law"], out["words"]) == ("ZZ Act 1/2026 s. 2", OUT_WORDS)
    assert ok(ws, "rules", "--jurisdiction", "IT") == (REPO / "docs" / "rules.md").read_text(
        encoding="utf-8")
    refused = gk(ws, "rules", "--jurisdiction", "XX")
    assert refused.exit_code != 0 and (
        "jurisdiction 'XX' has no policy; accepted: IT, RO, FR, ES, UK, DE, ZZ" in refused.output)


def test_no_file_of_the_product_knows_the_country() -> None:
    """Everything ZZ is lives in this file: the product's code names none of it."""
    for path in (REPO / "gatekeeper").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "ZZR" not in text and "Asia/Tokyo" not in text and '"ZZ"' not in text, path
