"""The letter a citizen gets holds nothing internal and names no second person; the DPO
is warned first; the erasure is shown before it is done (issue 22)."""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import asdict
from pathlib import Path

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.digest import sha256_file
from gatekeeper.privacy.disclosure import disclose, erase_plan
from gatekeeper.privacy.disclosure.letter import render_letter
from gatekeeper.privacy.disclosure.preview import preview_letter

from .conftest import WorkspaceMaker, gk
from .test_disclosure import _in_two_supplied_sources

COLUMNS = 'phone = "Telefono"\nname = "Nome"'
IDS = ("lst-0417", "lst-0923")  # source ids no Italian or English word contains


def _pdf_text(pdf: bytes) -> str:
    """The text a PDF shows (fpdf2's core-font pages: deflated streams of Tj strings)."""
    shown = b"".join(zlib.decompress(m) for m in re.findall(
        rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S) if m.startswith(b"x"))
    return " ".join(t.decode("cp1252") for t in re.findall(rb"\((.*?)\) Tj", shown))


def _words(text: str) -> str:
    """Text with its line breaks as spaces (a wrapped name is still the name)."""
    return " ".join(text.split())


def _held_under(maker: WorkspaceMaker, first: str, second: str) -> None:
    """3331234567 as sold by two lists, each naming the person it thinks holds it."""
    maker.source(IDS[0], f"Telefono;Nome\n3331234567;{first}\n3339999999;Bea\n",
                 columns=COLUMNS)
    maker.source(IDS[1], f"Telefono;Nome\n3330000001;Carlo\n333 123 4567;{second}\n",
                 columns=COLUMNS)
    loaded = gk(maker.ws, "load")
    assert loaded.exit_code == 0, loaded.output


def _internal(ws: Workspace) -> list[str]:
    """What must never reach the citizen: list ids, list files, their checksums, paths."""
    shas = [sha256_file(ws.root / "data" / "lists" / f"{i}.csv") for i in IDS]
    return [*IDS, *shas, *(s[:16] for s in shas), "data/", "reports/", ".csv", "SHA-256",
            "sha256"]


def _letters(ws: Workspace, out: Path) -> dict[str, str]:
    """Every form of the letter a citizen may get, each as the CLI makes it."""
    letters = {}
    for lang in ("it", "en"):
        for fmt in ("text", "html"):
            made = gk(ws, "disclose", "3331234567", "--lang", lang, "--format", fmt)
            assert made.exit_code == 0, made.output
            letters[f"{lang}/{fmt}"] = _words(made.stdout)
        pdf = out / f"lettera-{lang}.pdf"
        made = gk(ws, "disclose", "3331234567", "--lang", lang, "--format", "pdf", "--out",
                  str(pdf))
        assert made.exit_code == 0, made.output
        assert pdf.read_bytes().startswith(b"%PDF-")
        letters[f"{lang}/pdf"] = _words(_pdf_text(pdf.read_bytes()))
    return letters


def test_two_names_warn_the_dpo_and_the_letter_names_nobody(maker: WorkspaceMaker,
                                                            tmp_path: Path) -> None:
    _held_under(maker, "Anna Rossi", "Bruno Verdi")
    data = json.loads(gk(maker.ws, "disclose", "3331234567", "--format", "json").stdout)
    assert {s["name"] for s in data["sources"]} == {"Anna Rossi", "Bruno Verdi"}  # JSON: all
    assert {s["source_id"] for s in data["sources"]} == set(IDS)
    assert [w for w in data["warnings"] if "held under 2 different names" in w]
    told = gk(maker.ws, "disclose", "3331234567")
    assert "warning: this number is held under 2 different names" in told.stderr
    assert "names nobody" in told.stderr
    letters = _letters(maker.ws, tmp_path)
    for form, letter in letters.items():
        assert "Anna" not in letter and "Bruno" not in letter, form
        for internal in _internal(maker.ws):
            assert internal not in letter, (form, internal)
        assert "Acme Lead S.r.l." in letter and "Garante" in letter, form
    assert "Nominativo" not in letters["it/text"] and "nominativo" not in letters["it/pdf"]
    assert "abbiamo ricevuto il Suo numero da una lista acquistata" in letters["it/text"]
    assert "we received your number from a list bought from" in letters["en/text"]
    assert "Perché" in letters["it/pdf"] or "perché" in letters["it/pdf"]  # accents survive


def test_one_name_may_be_in_the_letter(maker: WorkspaceMaker) -> None:
    """The same name spelt with other case and spacing is one name, not two."""
    _held_under(maker, "Anna Rossi", "ANNA  ROSSI")
    told = gk(maker.ws, "disclose", "3331234567")
    assert told.exit_code == 0 and "warning" not in told.stderr
    italian = _words(told.stdout)
    assert "Nominativo associato al numero: Anna Rossi." in italian
    english = _words(gk(maker.ws, "disclose", "3331234567", "--lang", "en").stdout)
    assert "The name held with the number: Anna Rossi." in english
    for internal in _internal(maker.ws):
        assert internal not in italian and internal not in english, internal


def test_the_same_letter_gives_the_same_pdf(maker: WorkspaceMaker) -> None:
    from gatekeeper.privacy.disclosure.letter import letter_bytes

    _held_under(maker, "Anna Rossi", "Bruno Verdi")
    data = disclose(maker.ws, "3331234567")
    controller = maker.ws.config().controller
    first, again = (letter_bytes(data, controller, "pdf", "it", "PEC-1") for _ in range(2))
    assert first == again and first.startswith(b"%PDF-")
    assert "Riferimento della Sua richiesta: PEC-1" in _pdf_text(first)
    # Characters the PDF core font lacks are folded, never a failed letter.
    data["sources"][0]["supplier"]["name"] = "Dvořák “Ω” €"
    shown = _words(_pdf_text(letter_bytes(data, controller, "pdf", "it")))
    assert "Dvorák “?” €" in shown


def test_preview_puts_warnings_above_the_letter_and_keeps_the_details_aside(
        maker: WorkspaceMaker) -> None:
    _held_under(maker, "Anna Rossi", "Bruno Verdi")
    with maker.ws.journal_path.open("ab") as handle:  # a disk error in the opt-out journal
        handle.write(b'{"type": "optout", "phone": "+393331234567", "at\x00\x01\n')
    preview = preview_letter(maker.ws, "3331234567", lang="en", ref="PEC-5")
    assert any("2 different names" in w for w in preview.warnings)
    assert any("is damaged and holds this number's digits" in w for w in preview.warnings)
    assert {(d["source_id"], d["name"], d["file_sha256"]) for d in preview.details["sources"]} \
        == {(i, n, sha256_file(maker.root / "data" / "lists" / f"{i}.csv"))
            for i, n in zip(IDS, ("Anna Rossi", "Bruno Verdi"), strict=True)}
    for internal in _internal(maker.ws):
        assert internal not in preview.html and internal not in preview.text, internal
    assert "Your request reference: PEC-5" in preview.text
    page = preview.page()
    assert page.index('data-testid="warnings"') < page.index('data-testid="letter"') \
        < page.index('data-testid="sources"')
    assert IDS[0] in page and "Anna Rossi" in page  # the DPO sees what the letter leaves out
    # The CLI twin writes the same page; a preview logs no answer, even with --ref.
    shown = gk(maker.ws, "disclose", "3331234567", "--format", "preview", "--ref", "PEC-5")
    assert shown.exit_code == 0 and "warning: the opt-out journal's line" in shown.stderr
    assert 'data-testid="warnings"' in shown.stdout
    logged = json.loads(gk(maker.ws, "requests", "--all", "--json").stdout)
    assert "PEC-5" not in {r["request_ref"] for r in logged}


def test_pdf_needs_a_file(maker: WorkspaceMaker) -> None:
    _held_under(maker, "Anna Rossi", "Bruno Verdi")
    refused = gk(maker.ws, "disclose", "3331234567", "--format", "pdf")
    assert refused.exit_code == 2 and "--out FILE" in refused.output


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_erase_dry_run_lists_what_erase_then_rewrites_and_changes_nothing(
        scrubbed: Workspace) -> None:
    phone, _ = _in_two_supplied_sources(scrubbed)
    assert gk(scrubbed, "optout", "add", phone, "--channel", "letter", "--by", "bo",
              "--at", "2026-11-22T08:00").exit_code == 0
    before = _hashes(scrubbed.root)
    dry = gk(scrubbed, "erase", phone, "--ref", "PEC-3", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert _hashes(scrubbed.root) == before  # nothing changed, not even the store
    assert "erase  data/lists/acme-2026-11.csv: 1 row(s) blanked" in dry.stdout
    assert "erase  reports/demo: report rewritten: decisions.parquet" in dry.stdout
    assert "keep   data/optouts.jsonl (optout)" in dry.stdout
    assert "nothing was changed (--dry-run)" in dry.stdout
    plan = erase_plan(scrubbed, phone, "PEC-3")
    assert gk(scrubbed, "erase", phone, "--ref", "PEC-3").exit_code == 0
    data = json.loads(gk(scrubbed, "disclose", phone, "--format", "json").stdout)
    assert data["erased"]["copies"] == [asdict(c) for c in plan.copies]
    # Every file erase rewrote (or replaced) was on the plan as erased.
    after = _hashes(scrubbed.root)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    erased = [c.where for c in plan.copies if c.action == "erased"]
    store = str(scrubbed.store_dir.relative_to(scrubbed.root))
    for path in changed:
        if path.startswith(store + "/"):
            assert "store: list rows" in erased, path
        else:
            assert any(path == w or path.startswith(w + "/") for w in erased), path
    report = next(c for c in plan.copies if c.where == "reports/demo")
    for name in ("decisions.parquet", "dialable.csv", "dialable.xlsx"):
        assert (f"reports/demo/{name}" in changed) == (name in report.detail), name
    assert {"data/lists/acme-2026-11.csv", "data/lists/pagine-2026.xlsx"} <= changed
    # Once erased, the letter says where the data was in words, not paths.
    letter = _words(gk(scrubbed, "disclose", phone).stdout)
    assert "i file delle liste che abbiamo ricevuto (2): cancellati" in letter
    assert "data/" not in letter and "reports/" not in letter and "store:" not in letter


def test_erasures_recorded_before_copies_had_a_kind_read_in_words(
        scrubbed: Workspace) -> None:
    phone = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"][0]
    assert gk(scrubbed, "erase", phone, "--ref", "OLD-1").exit_code == 0
    data = disclose(scrubbed, phone)
    for copy in data["erased"]["copies"]:
        copy.pop("kind")  # as erase wrote them before
    controller = scrubbed.config().controller
    for lang in ("it", "en"):
        letter = render_letter(data, controller, "text", lang)
        assert "data/" not in letter and "reports/" not in letter and "store:" not in letter
    assert "le liste di chiamata delle nostre campagne: cancellati" in _words(render_letter(
        data, controller))


def test_a_run_repeated_with_the_same_inputs_is_one_line_of_the_letter(
        scrubbed: Workspace) -> None:
    import csv
    import io

    from .conftest import AS_OF

    for _ in range(2):  # the same campaign, the same instant, the same lists: again
        assert gk(scrubbed, "run", "--campaign", "demo", "--purpose", "telemarketing",
                  "--as-of", AS_OF).exit_code == 0
    phone = next(csv.DictReader(io.StringIO(
        (scrubbed.root / "reports/demo/dialable.csv").read_text(encoding="utf-8"))))["phone"]
    letter = gk(scrubbed, "disclose", phone)
    assert letter.exit_code == 0
    lines = [line for line in letter.output.splitlines() if "«demo»" in line]
    assert len(lines) == 1, lines
