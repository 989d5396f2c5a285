"""A workspace that calls several countries, built as a user builds one: gatekeeper.toml
with [policy] jurisdictions, lists as CSV files with their manifests, register answers
recorded in the store, calls imported from a dialer's export; and the CLI asked through
click's runner (tests/test_countries_*.py).

Every instant a test writes carries its offset (the callee's wall clock), so that each
assertion reads as the law is written ("13:00 in Paris") and none depends on today."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.timeutil import parse_instant
from gatekeeper.jurisdictions import JURISDICTIONS
from gatekeeper.registers import import_exchange, record_checks
from gatekeeper.store import Store

from .conftest import CONFIG, REPO, gk

EVERY = ("IT", "RO", "FR", "ES", "UK", "DE")

# One number of each kind per country, E.164 (libphonenumber says each is valid, of its
# region and type).
IT_MOBILE = "+393331234567"
RO_MOBILE, RO_FIXED = "+40721234567", "+40212345678"
FR_FIXED, FR_MOBILE = "+33142685300", "+33612345678"
ES_MOBILE, ES_FIXED, ES_CANARY = "+34612345678", "+34912345678", "+34928123456"
UK_FIXED, UK_MOBILE = "+442079460000", "+447912345678"
DE_FIXED, DE_MOBILE = "+49301234567", "+4915123456789"

# Every canonical field a test may fill; a list writes the ones its rows use.
FIELDS = ("phone", "consent_marketing", "consent_third_party", "consent_date",
          "consent_proof", "consent_method", "consent_text_id", "contract_status",
          "contract_end")


def workspace(root: Path, codes: Sequence[str] = EVERY, extra: str = "") -> Workspace:
    """A workspace calling these countries (the first is its own), with the demo's own
    call centre (connecto) so that calls can be imported."""
    (root / "sources").mkdir(parents=True)
    (root / "data" / "lists").mkdir(parents=True)
    (root / "agencies").mkdir()
    shutil.copy(REPO / "agencies" / "connecto.toml", root / "agencies")
    listed = ", ".join(f'"{c}"' for c in codes)
    (root / "gatekeeper.toml").write_text(
        CONFIG + f"\n[policy]\njurisdictions = [{listed}]\n" + textwrap.dedent(extra))
    return Workspace(root)


def source(ws: Workspace, source_id: str, kind: str, rows: Sequence[Mapping[str, str]],
           ) -> None:
    """sources/<id>.toml and its CSV (columns named as the canonical fields). A bought
    list's supplier is approved (suppliers/acme.toml) and chose sectors."""
    used = [f for f in FIELDS if any(f in r for r in rows)]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(used)
    writer.writerows([[r.get(f, "") for f in used] for r in rows])
    (ws.root / "data" / "lists" / f"{source_id}.csv").write_text(text.getvalue())
    supplier = ""
    if kind == "third_party":
        _supplier(ws.root)
        supplier = 'supplier = "acme"\n'
    elif kind == "public_directory":
        supplier = '[supplier]\nname = "Annuaire SA"\nvat = "FR12345678901"\n'
    columns = "".join(f'{f} = "{f}"\n' for f in used)
    manifest = (f'id = "{source_id}"\nkind = "{kind}"\nfile = "data/lists/{source_id}.csv"\n'
                'received_on = 2026-01-02\npurposes = ["telemarketing", "survey"]\n'
                + (supplier if kind == "third_party" else "")
                + (supplier if kind == "public_directory" else "")
                + "\n[columns]\n" + columns)
    (ws.root / "sources" / f"{source_id}.toml").write_text(manifest)


def _supplier(root: Path) -> None:
    (root / "suppliers").mkdir(exist_ok=True)
    (root / "data" / "suppliers").mkdir(parents=True, exist_ok=True)
    (root / "data" / "suppliers" / "acme-notice.txt").write_text("Privacy notice\n")
    (root / "suppliers" / "acme.toml").write_text(textwrap.dedent("""\
        id = "acme"
        name = "Acme Leads SAS"
        vat = "FR12345678901"
        eu_establishment = true

        [due_diligence]
        reviewed_on = 2026-01-01
        reviewed_by = "dpo"
        privacy_notice = "data/suppliers/acme-notice.txt"
        collection = ["double_opt_in"]
        sector_choice = true
        outcome = "approved"
        next_review = 2027-12-31
        """))


def ok(ws: Workspace, *args: str) -> str:
    result = gk(ws, *args)
    assert result.exit_code == 0, result.output
    return result.output


def load(ws: Workspace) -> None:
    ok(ws, "load")


def bloctel(ws: Workspace, kept: Sequence[str], registered: Sequence[str],
            checked_at: str) -> None:
    """Bloctel's answer as its file exchange brings it: the request (national numbers, as
    Bloctel's files write them) and the numbers it kept (not registered)."""
    fr = JURISDICTIONS["FR"]
    request, response = ws.root / "data" / "bloctel-q.txt", ws.root / "data" / "bloctel-r.txt"
    request.write_text("".join(fr.national_one(p) + "\n" for p in (*kept, *registered)))
    response.write_text("".join(fr.national_one(p) + "\n" for p in kept))
    with Store(ws.store_path) as store:
        import_exchange(store, request, response, fr,
                        checked_at=parse_instant(checked_at, fr.timezone_name),
                        same_as_request=not registered)


def register_answers(ws: Workspace, answers: Mapping[str, bool], checked_at: str) -> None:
    """A register's answers as the store records them (the Lista Robinson's and the TPS's
    files are read by gatekeeper/registers, being built beside this): per number,
    registered or not, at the instant the register answered."""
    when = parse_instant(checked_at, "UTC")
    results = pl.DataFrame({"phone": list(answers), "registered": list(answers.values()),
                            "registered_at": [None] * len(answers)},
                           schema={"phone": pl.String, "registered": pl.Boolean,
                                   "registered_at": pl.Datetime("us")})
    exchange = f"test-{checked_at}-{len(answers)}-{min(answers)}"
    with Store(ws.store_path) as store:
        record_checks(store, results, when, exchange, "file")


def run(ws: Workspace, as_of: str, campaign: str = "c", *extra: str,
        purpose: str = "telemarketing") -> pl.DataFrame:
    """`gatekeeper run`; its decisions.parquet, one row per list row."""
    ok(ws, "run", "--campaign", campaign, "--purpose", purpose, "--as-of", as_of, *extra)
    return pl.read_parquet(ws.report_dir(campaign) / "decisions.parquet")


def decision(decisions: pl.DataFrame, phone: str) -> tuple[str | None, str | None]:
    """(reason, basis) of the number's row (one row per number in these lists)."""
    (row,) = decisions.filter(pl.col("phone") == phone).select("reason", "basis").rows()
    return row[0], row[1]


def check(ws: Workspace, phone: str, at: str, *extra: str,
          purpose: str = "telemarketing") -> dict[str, object]:
    """`gatekeeper check PHONE --at T --json`."""
    result = gk(ws, "check", phone, "--purpose", purpose, "--at", at, "--json", *extra)
    assert result.exit_code in (0, 1), result.output
    answer: dict[str, object] = json.loads(result.output)
    assert (result.exit_code == 0) is answer["dialable"], result.output
    return answer


def reason_at(ws: Workspace, phone: str, at: str, *extra: str) -> object:
    """The reason `check --at` gives (None: dialable)."""
    return check(ws, phone, at, *extra)["reason"]


def calls(ws: Workspace, rows: Sequence[tuple[str, str, str]], name: str = "calls") -> None:
    """(phone, started_at with its offset, outcome) as connecto's dialer exports them."""
    path = ws.root / f"{name}.csv"
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([["call_id", "phone", "started_at", "outcome", "campaign"],
                                   *([f"{name}-{i}", p, t, o, "c"]
                                     for i, (p, t, o) in enumerate(rows))])
    ok(ws, "calls", "import", str(path), "--agency", "connecto")


def utc(text: str) -> dt.datetime:
    return parse_instant(text, "UTC")


# --- a list of every country, decided in one run -------------------------------------------

IT_FIXED, CH_FIXED = "+390212345678", "+41446681800"
FR_CUSTOMER, ES_CUSTOMER = "+33145678901", "+34913456789"
DE_UNPROVEN, FR_BLOCTEL_ERA = "+4915223456789", "+33155667788"
MIXED_AS_OF = "2026-09-18T05:00:00Z"  # a Friday, before the lines open
EVIDENCE = {"consent_marketing": "yes", "consent_date": "2026-06-01", "consent_proof": "P1",
            "consent_method": "web_form", "consent_text_id": "T1"}

# What the run decides of each number, by its own country's rules: (reason, basis).
MIXED_DECISIONS: dict[str, tuple[str | None, str | None]] = {
    IT_MOBILE: (None, "OWN_CONSENT"),
    IT_FIXED: (None, "PUBLIC_DIRECTORY"),
    RO_MOBILE: (None, "OWN_CONSENT"),
    RO_FIXED: ("CONSENT_REQUIRED", None),
    FR_MOBILE: (None, "OWN_CONSENT"),
    FR_CUSTOMER: (None, "CUSTOMER_CONTRACT"),
    FR_FIXED: ("CONSENT_REQUIRED", None),  # after 11 August: opt-in
    ES_FIXED: (None, "OWN_CONSENT"),
    ES_CUSTOMER: (None, "CUSTOMER_CONTRACT"),
    ES_MOBILE: ("CONSENT_REQUIRED", None),
    UK_MOBILE: (None, "OWN_CONSENT"),
    UK_FIXED: (None, "PUBLIC_DIRECTORY"),
    DE_MOBILE: (None, "OWN_CONSENT"),
    DE_UNPROVEN: ("CONSENT_UNPROVEN", None),
    DE_FIXED: ("CONSENT_REQUIRED", None),
    CH_FIXED: ("OUT_OF_JURISDICTION", None),
}
MIXED_RULES = {"+39": "IT", "+40": "RO", "+33": "FR from 2026-08-11", "+34": "ES",
               "+44": "UK", "+49": "DE", "+41": "IT"}


def mixed_workspace(root: Path, campaign: str = "c") -> Workspace:
    """Customers and a directory of six countries (and a Swiss number, a country not
    called), their registers answered (the RPO through its CLI, the Lista Robinson and
    the TPS in the store), decided in one run of `campaign` on MIXED_AS_OF."""
    ws = workspace(root)
    source(ws, "crm", "internal_archive", [
        *({"phone": p, **EVIDENCE} for p in (IT_MOBILE, RO_MOBILE, FR_MOBILE, ES_FIXED,
                                             UK_MOBILE, DE_MOBILE)),
        {"phone": FR_CUSTOMER, "contract_status": "active"},
        {"phone": ES_CUSTOMER, "contract_status": "active"},
        {"phone": DE_UNPROVEN, **EVIDENCE, "consent_text_id": ""},
    ])
    source(ws, "directory", "public_directory", [
        {"phone": p} for p in (IT_FIXED, RO_FIXED, FR_FIXED, ES_MOBILE, UK_FIXED, DE_FIXED,
                               CH_FIXED)])
    load(ws)
    request = ws.root / "data" / "rpo-q.txt"
    ok(ws, "rpo", "request", "--out", str(request), "--as-of", MIXED_AS_OF)
    assert sorted(request.read_text().split()) == ["0212345678", "3331234567"]
    answer = ws.root / "data" / "rpo-r.txt"
    answer.write_text(request.read_text())
    ok(ws, "rpo", "import", "--request", str(request), "--response", str(answer),
       "--checked-at", "2026-09-17T10:00:00+02:00", "--same-as-request")
    register_answers(ws, {ES_CUSTOMER: False, UK_FIXED: False}, "2026-09-17T08:00:00Z")
    run(ws, MIXED_AS_OF, campaign)
    return ws
