"""List suppliers (code of conduct art. 6): supplier files validated, their due diligence
recorded at load with the privacy notice kept, `gatekeeper suppliers`, the fix for inline
[supplier] tables, and the rules in a real run and its reports."""

from __future__ import annotations

import json
import tomllib

import polars as pl
import pytest

from gatekeeper.config import Workspace
from gatekeeper.core.errors import ManifestError
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import suppliers as supplier_store
from gatekeeper.suppliers.supplier import parse_supplier

from .conftest import AS_OF, WorkspaceMaker, gk

LIST = """Telefono;Consenso;Data;Prova;Settori
3331234567;si;2026-03-01;P1;energia; telefonia
3471234568;si;2026-03-01;P2;
"""
COLUMNS = """phone = "Telefono"
consent_third_party = "Consenso"
consent_date = "Data"
consent_proof = "Prova"
consent_sectors = "Settori"
"""


def _list(text: str = LIST) -> str:
    return text.replace("energia; telefonia", '"energia; telefonia"')


def _scrub(maker: WorkspaceMaker, *run: str, as_of: str = AS_OF) -> dict[str, str | None]:
    """Load, record an RPO answer (nobody registered), run; each number's reason."""
    ws = maker.ws
    loaded = gk(ws, "load")
    assert loaded.exit_code == 0, loaded.output
    request = maker.root / "q.txt"
    request.write_text("3331234567\n3471234568\n")
    assert gk(ws, "rpo", "import", "--request", str(request), "--response", str(request),
              "--same-as-request", "--checked-at", "2026-11-20T10:00").exit_code == 0
    ran = gk(ws, "run", "--campaign", "c", "--purpose", "telemarketing", "--as-of", as_of, *run)
    assert ran.exit_code == 0, ran.output
    decisions = pl.read_parquet(ws.report_dir("c") / "decisions.parquet")
    return dict(zip(decisions["phone"], decisions["reason"], strict=True))


# --- supplier files ---------------------------------------------------------------------

def test_an_approved_supplier_lets_its_lists_be_dialled(maker: WorkspaceMaker) -> None:
    maker.source("s", _list(), columns=COLUMNS)
    assert _scrub(maker, "--sector", "Energia") == {"+393331234567": None,
                                                    "+393471234568": None}


@pytest.mark.parametrize(("change", "key", "words"), [
    ({"outcome": "maybe"}, "due_diligence.outcome", "accepted: approved, suspended, rejected"),
    ({"next_review": "2026-09-01"}, "due_diligence.next_review", "not after reviewed_on"),
    ({"reviewed_on": '"ieri"'}, "due_diligence.reviewed_on", "must be a date"),
])
def test_supplier_file_errors_name_the_key_and_the_fix(maker: WorkspaceMaker,
                                                       change: dict[str, str], key: str,
                                                       words: str) -> None:
    for name, value in change.items():
        maker.supplier("acme", **{name: value})
    maker.source("s", _list(), columns=COLUMNS)
    loaded = gk(maker.ws, "load")
    assert loaded.exit_code == 2
    errors = [line for line in loaded.output.splitlines() if line.startswith("error:")]
    assert any(f"suppliers/acme.toml, key '{key}'" in e and words in e for e in errors), errors
    # The list it sold is not loaded either: nobody could say who sold it.
    assert any("sources/s.toml, key 'supplier'" in e for e in errors), errors
    assert "Traceback" not in loaded.output


@pytest.mark.parametrize(("edit", "key", "words"), [
    (('outcome = "approved"', 'outcome = "approved"\nnext_reveiw = 2027-01-01'),
     "due_diligence.next_reveiw", "did you mean 'next_review'?"),
    (('privacy_notice = "data/suppliers/acme-informativa.txt"', ""),
     "due_diligence.privacy_notice", "an approval needs privacy_notice"),
    (("acme-informativa.txt", "nope.pdf"), "due_diligence.privacy_notice",
     "save the supplier's privacy notice there"),
    (('id = "acme"', 'id = "acme-lead"'), "id", "rename the file to acme-lead.toml"),
    (("eu_establishment = true\n", ""), "eu_establishment", 'representative = "…"'),
    (('collection = ["double_opt_in"]', 'collection = ["fax"]'), "due_diligence.collection",
     "accepted: double_opt_in, sms_otp"),
])
def test_supplier_file_validation(maker: WorkspaceMaker, edit: tuple[str, str], key: str,
                                  words: str) -> None:
    path = maker.supplier("acme")
    path.write_text(path.read_text().replace(*edit))
    with pytest.raises(ManifestError) as caught:
        parse_supplier(path, maker.root)
    assert caught.value.key == key and words in caught.value.message


def test_a_supplier_outside_the_eu_names_its_representative(maker: WorkspaceMaker) -> None:
    path = maker.supplier("acme")
    path.write_text(path.read_text().replace(
        "eu_establishment = true", 'eu_establishment = false\nrepresentative = "Rep S.r.l."'))
    assert parse_supplier(path, maker.root).representative == "Rep S.r.l."


def test_a_manifest_naming_no_supplier_file(maker: WorkspaceMaker) -> None:
    maker.source("s", _list(), columns=COLUMNS, supplier="nessuno")
    (maker.root / "suppliers" / "nessuno.toml").unlink()
    loaded = gk(maker.ws, "load")
    assert loaded.exit_code == 2
    assert ("sources/s.toml, key 'supplier': no supplier file suppliers/nessuno.toml; write "
            "it") in loaded.output


@pytest.mark.parametrize(("facts", "reason"), [
    ({"outcome": "suspended"}, "SUPPLIER_NOT_APPROVED"),
    ({"reviewed_on": "2026-11-23"}, "SUPPLIER_NOT_APPROVED"),  # reviewed after as_of
    ({"reviewed_on": "2026-11-22"}, None),  # on the day of as_of
    ({"reviewed_on": "2025-01-01", "next_review": "2026-11-22"}, None),
    ({"reviewed_on": "2025-01-01", "next_review": "2026-11-21"}, "SUPPLIER_NOT_APPROVED"),
    ({"sector_choice": False}, "CONSENT_OMNIBUS"),
])
def test_due_diligence_in_a_run(maker: WorkspaceMaker, facts: dict[str, str],
                                reason: str | None) -> None:
    maker.supplier("acme", **facts)  # type: ignore[arg-type]  # (str values only)
    maker.source("s", _list(), columns=COLUMNS)
    assert set(_scrub(maker, "--sector", "energia").values()) == {reason}


def test_sector_from_the_run_or_the_policy(maker: WorkspaceMaker) -> None:
    maker.source("s", _list(), columns=COLUMNS)
    assert _scrub(maker, "--sector", " TELEFONIA ")["+393331234567"] is None
    assert _scrub(maker, "--sector", "assicurazioni") == {
        "+393331234567": "CONSENT_SECTOR", "+393471234568": None}
    assert _scrub(maker)["+393331234567"] == "CONSENT_SECTOR"  # no sector said: unprovable
    config = maker.root / "gatekeeper.toml"
    config.write_text(config.read_text() + '\n[policy]\nsector = "Energia"\n')
    assert _scrub(maker)["+393331234567"] is None
    summary = json.loads((maker.ws.report_dir("c") / "summary.json").read_text())
    assert summary["sector"] == "energia"
    bad = gk(maker.ws, "run", "--campaign", "c", "--purpose", "telemarketing", "--sector",
             "energia;gas")
    assert bad.exit_code == 2 and "one sector's name" in bad.output


def test_consent_evidence_policy_knob(maker: WorkspaceMaker) -> None:
    config = maker.root / "gatekeeper.toml"
    config.write_text(config.read_text() + '\n[policy]\nconsent_evidence = ["proof", "ip"]\n')
    maker.source("s", _list(), columns=COLUMNS)
    assert set(_scrub(maker, "--sector", "energia").values()) == {"CONSENT_UNPROVEN"}
    config.write_text(config.read_text().replace('"ip"]', '"IP"]'))
    result = gk(maker.ws, "run", "--campaign", "c", "--purpose", "telemarketing")
    assert result.exit_code == 2
    assert "consent_evidence: unknown field 'IP'; accepted: proof, ip, at, method, text" in \
        result.output


# --- recorded at load: versions and the privacy notice ------------------------------------

def test_load_records_the_supplier_and_keeps_its_notice(maker: WorkspaceMaker) -> None:
    maker.source("s", _list(), columns=COLUMNS)
    ws = maker.ws
    assert "supplier acme recorded" in gk(ws, "load").output
    assert "supplier acme recorded" not in gk(ws, "load").output  # unchanged: no new version
    notice = maker.root / "data" / "suppliers" / "acme-informativa.txt"
    notice.write_text("Informativa privacy, versione 2\n")
    assert "supplier acme recorded" in gk(ws, "load").output
    with Store(ws.store_path, read_only=True) as store:
        newest = supplier_store.newest_suppliers(store).row(0, named=True)
        kept = evidence_store.evidence_path(store, newest["privacy_notice_sha256"])
    assert newest["version"] == 2 and kept is not None
    assert kept.read_bytes() == notice.read_bytes()


def test_a_run_says_when_a_supplier_file_changed_since_the_load(maker: WorkspaceMaker) -> None:
    maker.source("s", _list(), columns=COLUMNS)
    _scrub(maker, "--sector", "energia")
    maker.supplier("acme", outcome="suspended")
    ran = gk(maker.ws, "run", "--campaign", "c", "--purpose", "telemarketing", "--as-of",
             AS_OF, "--sector", "energia")
    assert "suppliers/acme.toml changed since the last load; run 'gatekeeper load'" in \
        ran.output


# --- gatekeeper suppliers -----------------------------------------------------------------

def test_suppliers_lists_status_and_next_review(maker: WorkspaceMaker) -> None:
    maker.supplier("acme")
    maker.supplier("beta", name="Beta S.p.A.", reviewed_on="2025-12-10",
                   next_review="2026-12-10")
    maker.source("s", _list(), columns=COLUMNS)
    maker.source("t", _list(), columns=COLUMNS, supplier="beta")
    ws = maker.ws
    out = gk(ws, "suppliers", "--as-of", "2026-11-23")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split()[:2] == ["acme", "approved"] and "lists: s" in lines[0]
    assert lines[1].split()[:2] == ["beta", "due_for_review"] and "(17 days)" in lines[1]
    assert "not loaded as it is now: run 'gatekeeper load'" in lines[0]
    later = json.loads(gk(ws, "suppliers", "--as-of", "2026-12-11", "--json").output)
    status = {s["supplier_id"]: s["status"] for s in later["suppliers"]}
    assert status == {"acme": "approved", "beta": "review_overdue"}
    assert len(later["suppliers"][0]["privacy_notice_sha256"]) == 64


def test_inline_supplier_tables_get_the_exact_fix(maker: WorkspaceMaker) -> None:
    maker.source("s", _list(), columns=COLUMNS, supplier="inline")
    ws = maker.ws
    loaded = gk(ws, "load")
    assert loaded.exit_code == 0
    assert ("sources/s.toml: the inline [supplier] table has no due diligence, so every row of "
            "s is SUPPLIER_NOT_APPROVED; write suppliers/acme-lead.toml") in loaded.output
    listed = json.loads(gk(ws, "suppliers", "--json").output)
    [fix] = listed["inline"]
    assert fix["supplier_id"] == "acme-lead" and 'name = "Acme Lead S.r.l."' in fix["text"]
    assert set(_scrub(maker, "--sector", "energia").values()) == {"SUPPLIER_NOT_APPROVED"}
    html = (ws.report_dir("c") / "sources.html").read_text()
    assert 'data-testid="fix-s"' in html and "suppliers/acme-lead.toml" in html
    sources = pl.read_csv(ws.report_dir("c") / "sources.csv", infer_schema=False)
    assert sources["supplier_status"].to_list() == ["inline"]
    # Written as suggested, the file is valid; with the due diligence filled in, the list
    # is dialled again.
    (maker.root / "suppliers").mkdir(exist_ok=True)
    written = maker.root / "suppliers" / "acme-lead.toml"
    written.write_text(fix["text"])
    assert parse_supplier(written, maker.root).due_diligence is None
    assert tomllib.loads(fix["text"])["eu_establishment"] is True
    maker.supplier("acme-lead")
    manifest = maker.root / "sources" / "s.toml"
    text = manifest.read_text()
    manifest.write_text('supplier = "acme-lead"\n' + text[:text.index("[supplier]")]
                        + text[text.index("[columns]"):])
    assert set(_scrub(maker, "--sector", "energia").values()) == {None}


# --- reports ------------------------------------------------------------------------------

def test_reports_show_due_diligence_evidence_and_findings(maker: WorkspaceMaker) -> None:
    maker.source("s", _list(), columns=COLUMNS)
    _scrub(maker, "--sector", "assicurazioni")
    folder = maker.ws.report_dir("c")
    row = pl.read_csv(folder / "sources.csv", infer_schema=False).row(0, named=True)
    assert (row["supplier_id"], row["supplier_status"], row["supplier_reviewed_on"],
            row["supplier_next_review"]) == ("acme", "approved", "2026-10-01", "2027-10-01")
    assert (row["consent_proof_coverage"], row["consent_sectors_coverage"],
            row["consent_ip_coverage"]) == ("1.0", "0.5", "0.0")
    assert (row["suppressed_CONSENT_SECTOR"], row["suppressed_CONSENT_OMNIBUS"]) == ("1", "0")
    assert row["audit_verdict"] is None
    for page in ("sources.html", "report.html"):
        html = (folder / page).read_text()
        assert 'data-testid="suppliers"' in html and "verificato il 01/10/2026" in html
        assert "settori 50,0 %" in html


def test_the_demo_has_a_supplier_for_each_bought_list_one_due_for_review(
        demo: Workspace) -> None:
    ws = demo
    listed = json.loads(gk(ws, "suppliers", "--as-of", "2026-11-23", "--json").output)
    status = {s["supplier_id"]: (s["status"], s["sources"]) for s in listed["suppliers"]}
    assert status == {"acme": ("approved", ["acme-2026-11"]),
                      "elenchi-italia": ("due_for_review", ["pagine-2026"])}
    assert listed["inline"] == [] and listed["errors"] == []


def test_audit_verify_catches_an_altered_privacy_notice(maker: WorkspaceMaker) -> None:
    maker.source("s", _list(), columns=COLUMNS)
    ws = maker.ws
    assert gk(ws, "load").exit_code == 0
    assert gk(ws, "audit", "verify").exit_code == 0
    with Store(ws.store_path, read_only=True) as store:
        sha = supplier_store.newest_suppliers(store)["privacy_notice_sha256"][0]
        kept = evidence_store.evidence_path(store, sha)
    assert kept is not None
    kept.chmod(0o600)
    kept.write_text("un'altra informativa\n")
    verified = gk(ws, "audit", "verify")
    assert verified.exit_code == 1
    assert "supplier acme v1: its privacy notice kept as evidence is missing or was altered" \
        in verified.output
