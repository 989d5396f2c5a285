"""What a run writes besides its decisions: the source-disclosure report and report.html.

`sources.csv`/`sources.html` are what the company shows the Garante about its list supply
chain: per source version used, who supplied it under which contract, the file's
checksum, and what became of its rows. `report.html` is the page a campaign manager
reads. Both are computed from the decided rows in one group-by, and written
deterministically (same inputs, same bytes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from gatekeeper.core.htmlpage import day, e, local_time, num, page, pct, table
from gatekeeper.decide import policy as P
from gatekeeper.intake.manifest import Supplier
from gatekeeper.suppliers.supplier import SUPPLIERS_DIR, inline_fix

REASONS = tuple(P.IT_REASON_TEXT)  # table order (Italy alone; reason_codes for several)
# Consent evidence whose coverage each source shows (code of conduct art. 6).
EVIDENCE = ("consent_proof", "consent_ip", "consent_at", "consent_method", "consent_text_id",
            "consent_sectors")
SOURCE_COLUMNS = (
    "source_id", "version", "kind", "supplier_id", "supplier_name", "supplier_vat",
    "supplier_contact", "supplier_contract_ref", "supplier_status", "supplier_reviewed_on",
    "supplier_next_review", "supplier_sector_choice", "received_on", "file_sha256",
    "rows_loaded", "rows_rejected", "rows_repaired", "rows_valid", "rows_dialable",
    "numbers_dialable",
    *(f"suppressed_{r}" for r in REASONS),
    *(f"{f}_coverage" for f in EVIDENCE), "oldest_consent", "newest_consent",
    "audit_id", "audit_k", "audit_n", "audit_bound", "audit_verdict", "audit_due_on",
)
STATUS_TEXT = {"approved": "approvato", "due_for_review": "approvato, da rivedere",
               "review_overdue": "revisione scaduta", "suspended": "sospeso",
               "rejected": "respinto", "not_reviewed": "non verificato",
               "inline": "nessuna due diligence (fornitore scritto nel manifesto)"}
VERDICT_TEXT = {"passed": "superata", "failed": "non superata", "open": "in corso"}
KIND_TEXT = {"internal_archive": "archivio clienti", "third_party": "lista di terzi",
             "public_directory": "elenco pubblico"}


def reason_codes(ctx: P.Context) -> tuple[str, ...]:
    """The reasons a run's rows can get: the countries' tables' together (the workspace's
    own first, in table order), so a source's counts have a column for each."""
    codes: dict[str, None] = {}
    for country in ctx.countries:
        codes.update(dict.fromkeys(country.jurisdiction.table.reason_text))
    return tuple(codes)


def _words(code: str) -> str:
    """A reason's words: Italy's where it has the code, else the first country's that
    does (a summary names no country; its codes are unique across the tables)."""
    from gatekeeper.jurisdictions import JURISDICTIONS

    for j in JURISDICTIONS.values():
        words = j.table.words(code)
        if words:
            return words
    return code


def source_columns(reasons: tuple[str, ...]) -> tuple[str, ...]:
    """sources.csv's columns, a suppressed_ column per reason the run can give."""
    start = SOURCE_COLUMNS.index(f"suppressed_{REASONS[0]}")
    end = SOURCE_COLUMNS.index(f"suppressed_{REASONS[-1]}") + 1
    return (*SOURCE_COLUMNS[:start], *(f"suppressed_{r}" for r in reasons),
            *SOURCE_COLUMNS[end:])


def source_counts(decided: pl.DataFrame, reasons: tuple[str, ...] = REASONS) -> pl.DataFrame:
    """What became of the decided rows, per source (a run adds these up source by source)."""
    facts = decided.group_by("source_id").agg(
        pl.len().alias("rows_loaded"),
        pl.col("repaired").is_not_null().sum().alias("rows_repaired"),
        pl.col("valid").fill_null(False).sum().alias("rows_valid"),
        pl.col("reason").is_null().sum().alias("rows_dialable"),
        *(pl.col(f).is_not_null().sum().alias(f"{f}_held") for f in EVIDENCE),
        pl.col("consent_date").min().alias("oldest_consent"),
        pl.col("consent_date").max().alias("newest_consent"),
    )
    # Rows per reason counted in one grouping, then spread over a column per reason: a
    # comparison of every row with each of ~20 reasons cost 0.11 CPU-s per million rows,
    # this 0.05.
    per_reason = decided.group_by("source_id", "reason").len().group_by("source_id").agg(
        pl.col("len").filter(pl.col("reason") == r).sum().alias(f"suppressed_{r}")
        for r in reasons)
    return facts.join(per_reason, on="source_id", how="left", maintain_order="left").select(
        "source_id", "rows_loaded", "rows_repaired", "rows_valid", "rows_dialable",
        *(f"suppressed_{r}" for r in reasons), *(f"{f}_held" for f in EVIDENCE),
        "oldest_consent", "newest_consent")


def add_counts(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """source_counts of several batches of the same sources, added up."""
    frame = pl.concat(parts)
    return frame.group_by("source_id", maintain_order=True).agg(
        pl.col("oldest_consent").min(), pl.col("newest_consent").max(),
        pl.exclude("oldest_consent", "newest_consent").sum())


def source_report(counts: pl.DataFrame, dialable: pl.DataFrame,
                  versions: pl.DataFrame, reasons: tuple[str, ...] = REASONS) -> pl.DataFrame:
    """One row per source version used by the run (counts: source_counts of each source);
    the figures add up to summary.json."""
    numbers = dialable.group_by("source_id").agg(pl.len().alias("numbers_dialable"))
    report = (versions.join(counts, on="source_id", how="left")
              .join(numbers, on="source_id", how="left")
              .with_columns((pl.col(f"{f}_held") / pl.col("rows_loaded")).round(4)
                            .alias(f"{f}_coverage") for f in EVIDENCE))
    every = source_columns(reasons)
    columns = [c for c in every if c.startswith(("rows_", "numbers_", "suppressed_"))]
    return report.with_columns(
        pl.col(c).fill_null(0).cast(pl.Int64) for c in columns
    ).with_columns(pl.col("audit_bound").round(6)).select(every).sort("source_id")


EVIDENCE_WORDS = {"consent_proof": "prova", "consent_ip": "IP", "consent_at": "data e ora",
                  "consent_method": "modalità", "consent_text_id": "testo",
                  "consent_sectors": "settori"}


def _diligence(s: dict[str, Any]) -> str:
    status = STATUS_TEXT.get(s["supplier_status"] or "", s["supplier_status"] or "—")
    if s["supplier_reviewed_on"] is None:
        return status
    return (f"{status}: verificato il {day(s['supplier_reviewed_on'])}, prossima revisione "
            f"{day(s['supplier_next_review'])}")


def _audit(s: dict[str, Any]) -> str:
    if s["audit_id"] is None:
        return "nessuna"
    bound = "" if s["audit_bound"] is None else f", limite superiore {pct(s['audit_bound'], 1)}"
    return (f"{s['audit_id']}: {num(s['audit_k'])} su {num(s['audit_n'])} non provati{bound}; "
            f"{VERDICT_TEXT.get(s['audit_verdict'], s['audit_verdict'])} (risposta entro il "
            f"{day(s['audit_due_on'])})")


def supplier_table(report: pl.DataFrame) -> str:
    """Per bought or directory list: its supplier's due diligence, the consent evidence
    the rows carry, what omnibus and sector rules excluded, and the sample audit."""
    rows = []
    for s in report.filter(pl.col("kind") != "internal_archive").to_dicts():
        if s["kind"] != "third_party":  # a directory holds no consent: the RPO rules apply
            rows.append([s["source_id"], s["supplier_id"] or "—", _diligence(s), "—",
                         "— (elenco pubblico)", "—", "—"])
            continue
        choice = {True: "sì", False: "no: consenso «omnibus»"}.get(s["supplier_sector_choice"],
                                                                    "—")
        coverage = " · ".join(f"{word} {pct(s[f'{f}_coverage'] or 0, 1)}"
                              for f, word in EVIDENCE_WORDS.items())
        rows.append([s["source_id"], s["supplier_id"] or "—", _diligence(s), choice, coverage,
                     f"{num(s['suppressed_CONSENT_OMNIBUS'])} / "
                     f"{num(s['suppressed_CONSENT_SECTOR'])}", _audit(s)])
    return table(["Fonte", "Fornitore", "Due diligence", "Scelta dei settori",
                  "Prove del consenso nelle righe", "Escluse omnibus / settore",
                  "Verifica a campione"], rows, test_id="suppliers")


def inline_fixes(report: pl.DataFrame, summary: dict[str, Any]) -> str:
    """What to write for each bought list whose supplier is still an inline table."""
    when = dt.date.fromisoformat(summary["as_of"][:10])
    parts = []
    for s in report.filter((pl.col("supplier_status") == "inline")
                           & (pl.col("kind") == "third_party")).to_dicts():
        supplier_id, text = inline_fix(Supplier(s["supplier_name"], s["supplier_vat"] or "",
                                                s["supplier_contact"],
                                                s["supplier_contract_ref"]), when)
        parts.append(
            f'<p data-testid="fix-{e(s["source_id"])}">La lista <b>{e(s["source_id"])}</b> '
            "indica il fornitore solo nel suo manifesto (tabella [supplier]), senza due "
            "diligence: le sue righe sono escluse (SUPPLIER_NOT_APPROVED). Scrivere "
            f"<b>{e(SUPPLIERS_DIR)}/{e(supplier_id)}.toml</b> così, completare la due "
            "diligence e nel manifesto sostituire la tabella [supplier] con "
            f'<code>supplier = "{e(supplier_id)}"</code>:</p><pre>{e(text)}</pre>')
    return "<h2>Da sistemare</h2>" + "".join(parts) if parts else ""


def sources_html(report: pl.DataFrame, summary: dict[str, Any], zone: str) -> str:
    """The source-disclosure report as a page a privacy officer can hand over: where each
    list came from, then what became of its rows (two tables, so both fit the page)."""
    origin, outcome = [], []
    for s in report.to_dicts():
        source = f"{s['source_id']} (v{s['version']})"
        suppressed = "<br>".join(f"{e(c.removeprefix('suppressed_'))}: {num(s[c])}"
                                 for c in report.columns
                                 if c.startswith("suppressed_") and s[c])
        origin.append([
            source, KIND_TEXT.get(s["kind"], s["kind"]),
            " · ".join(str(x) for x in (s["supplier_name"], s["supplier_vat"],
                                        s["supplier_contact"]) if x) or "titolare",
            s["supplier_contract_ref"], day(s["received_on"]), s["file_sha256"],
            pct(s["consent_proof_coverage"] or 0, 1),
            f"{day(s['oldest_consent'])} / {day(s['newest_consent'])}"])
        outcome.append([source, num(s["rows_loaded"]), num(s["rows_rejected"]),
                        num(s["rows_repaired"]), num(s["rows_valid"]), num(s["rows_dialable"]),
                        num(s["numbers_dialable"]), suppressed or "—"])
    body = (
        f"<h1>Fonti dei numeri — campagna {e(summary['campaign'])}</h1>"
        f"<p class=muted>Finalità {e(summary['purpose'])}, decisione al "
        f"{local_time(summary['as_of'], zone)} (ora di Roma), esecuzione {e(summary['run_id'])}. "
        "Per ogni fonte: chi l'ha fornita, con quale contratto, l'impronta SHA-256 del file "
        "ricevuto e l'esito delle sue righe.</p>"
        "<h2>Provenienza</h2>"
        + table(["Fonte", "Tipo", "Fornitore", "Contratto", "Ricevuta il", "SHA-256 file",
                 "Prova del consenso", "Consenso più vecchio / recente"],
                origin, numeric={6}, test_id="sources", hashes={5})
        + "<h2>Esito delle righe</h2>"
        + table(["Fonte", "Righe caricate", "Scartate", "0 iniziale ripristinato", "Valide",
                 "Chiamabili", "Numeri in lista", "Escluse per motivo"], outcome,
                numeric={1, 2, 3, 4, 5, 6}, test_id="outcomes", markup={7})
        + "<h2>Fornitori e prove del consenso</h2>"
          "<p class=muted>Codice di condotta (G.U. 27 marzo 2024) art. 6: verifica del "
          "fornitore, prove dei consensi, verifica a campione.</p>"
        + supplier_table(report) + inline_fixes(report, summary))
    return page(f"Fonti — {summary['campaign']}", body)


def _funnel_svg(stages: list[tuple[str, str, int]]) -> str:
    """Horizontal bars, widths relative to the first stage; labels carry the figures."""
    top = max(stages[0][2], 1)
    bar_h, gap, width = 34, 10, 480
    parts = []
    for i, (key, label, value) in enumerate(stages):
        y = i * (bar_h + gap)
        w = max(2, round(width * value / top))
        parts.append(
            f'<rect x="0" y="{y}" width="{w}" height="{bar_h}" rx="4" fill="#2f6fb5" '
            f'opacity="{1 - i * 0.15:.2f}"></rect>'
            f'<text x="{width + 12}" y="{y + 22}" font-size="14">{e(label)}: '
            f'<tspan data-testid="funnel-{e(key)}" font-weight="bold">{num(value)}</tspan>'
            "</text>")
    height = len(stages) * (bar_h + gap)
    return (f'<svg role="img" aria-label="funnel" width="{width + 360}" height="{height}" '
            f'viewBox="0 0 {width + 360} {height}" xmlns="http://www.w3.org/2000/svg">'
            + "".join(parts) + "</svg>")


def _repaired_note(repaired: int) -> str:
    """What the load read differently from the file, said where the rows are counted."""
    if not repaired:
        return ""
    return (f'<p class=muted data-testid="repaired">{num(repaired)} numeri fissi arrivati '
            "senza lo 0 iniziale (colonna salvata come numero) sono stati letti con lo 0, "
            'come chiede il manifesto della lista (leading_zero = "restore"); per fonte in '
            "sources.html, per riga in decisions.parquet (colonna repaired).</p>")


def campaign_html(summary: dict[str, Any], report: pl.DataFrame, zone: str) -> str:
    """report.html: funnel, suppressions explained, per-source yield, validity window."""
    rows = summary["rows"]
    # Every row received counts, blank and unreadable ones too (older summaries: loaded).
    received = summary.get("received", rows)
    stages = [("received", "righe ricevute", received), ("rows", "righe caricate", rows),
              ("valid", "numeri validi", summary["valid"]),
              ("dialable_rows", "righe chiamabili", summary["dialable_rows"]),
              ("dialable", "numeri chiamabili (senza doppioni)", summary["dialable"])]
    cards = "".join(
        f'<div class=card><b data-testid="card-{key}">{num(value)}</b>{e(label)}</div>'
        for key, label, value in stages)
    until = summary["valid_until"]
    validity = (f'<p>La lista va chiamata <b>entro il <span data-testid="valid-until">'
                f"{local_time(until, zone)}</span> (ora di Roma)</b>: dopo, "
                "le verifiche nel Registro delle Opposizioni "
                "non sono più valide e la campagna va rielaborata.</p>" if until else
                '<p data-testid="valid-until">Nessun numero chiamabile.</p>')
    reasons = [[code, num(count), pct(count, rows), _words(code)]
               for code, count in sorted(summary["suppressed"].items(),
                                         key=lambda kv: (-kv[1], kv[0]))]
    yields = [[s["source_id"], KIND_TEXT.get(s["kind"], s["kind"]),
               s["supplier_name"] or "titolare", num(s["rows_loaded"]),
               num(s["rows_dialable"]), num(s["numbers_dialable"]),
               pct(s["rows_dialable"], s["rows_loaded"])] for s in report.to_dicts()]
    body = (
        f"<h1>Campagna {e(summary['campaign'])}</h1>"
        f"<p class=muted>Finalità <b>{e(summary['purpose'])}</b>"
        + (f" · settore <b>{e(summary['sector'])}</b>" if summary.get("sector") else "")
        + " · decisione al "
        f'<span data-testid="as-of">{local_time(summary["as_of"], zone)}</span> (ora di Roma) · '
        f"esecuzione {e(summary['run_id'])}</p>"
        f"<div>{cards}</div>"
        f'<p class=muted data-testid="received">{num(received)} righe ricevute: {num(rows)} '
        f"caricate, {num(summary.get('rejected', 0))} illeggibili, "
        f"{num(summary.get('skipped', 0))} vuote o di totale. Righe illeggibili e numeri non "
        "validi da rimandare al fornitore in rejects.csv e rejects.xlsx.</p>"
        + _repaired_note(summary.get("repaired", 0)) + validity
        + "<h2>Dalle righe ricevute ai numeri chiamabili</h2>" + _funnel_svg(stages)
        + "<h2>Perché le righe sono state escluse</h2>"
        + table(["Motivo", "Righe", "% delle righe", "Spiegazione"], reasons,
                numeric={1, 2}, test_id="reasons")
        + "<h2>Resa per fonte</h2>"
        + table(["Fonte", "Tipo", "Fornitore", "Righe", "Righe chiamabili",
                 "Numeri in lista", "Resa"], yields, numeric={3, 4, 5, 6}, test_id="yield")
        + "<h2>Fornitori, consensi e verifiche a campione</h2>"
        + supplier_table(report) + inline_fixes(report, summary)
        + "<p class=muted>Dettaglio per riga in decisions.parquet; fonti e fornitori in "
          "sources.html; numeri da chiamare in dialable.csv e dialable.xlsx.</p>")
    return page(f"Campagna {summary['campaign']}", body)


# --- rows to send back to the supplier ---------------------------------------------------
REJECT_COLUMNS = ("fonte", "file", "foglio", "riga", "riga_dati", "valore", "motivo")
FIELD_WORDS = {"phone": "telefono", "consent_marketing": "consenso marketing",
               "consent_third_party": "consenso a terzi", "consent_date": "data consenso",
               "contract_status": "stato contratto", "contract_end": "fine contratto",
               "consent_ip": "IP del consenso", "consent_at": "data e ora del consenso"}
# The loader's reasons (English, for the operator) in the words a supplier reads; a reason
# not listed here goes out as written rather than not at all.
REASON_WORDS = (
    (r"looks like a landline whose leading zero was lost.*",
     "sembra un numero fisso che ha perso lo zero iniziale (la colonna era salvata come "
     "numero): inviare di nuovo la colonna come testo"),
    (r"is not yes/no.*", "non è sì/no (scrivere sì o no)"),
    (r"is not a date and time.*", "non è una data e ora (scrivere 31/03/2026 14:05)"),
    (r"is a time Rome's clocks skipped.*",
     "è un'ora che a Roma non esiste (inizio dell'ora legale): indicare lo scarto da UTC"),
    (r"is not a date.*", "non è una data (scrivere 31/03/2025)"),
    (r"is not active/ceased.*", "non è attivo/cessato"),
    (r"is not an IPv4 or IPv6 address.*", "non è un indirizzo IP (es. 93.44.12.7)"),
    (r"^row has (\d+) fields, the header has (\d+); quote fields that contain '(.)'$",
     "la riga ha ${1} campi, l'intestazione ${2}: racchiudere tra virgolette i campi che "
     "contengono '${3}'"),
    (r"^a quote opened here is never closed.*",
     "una virgoletta aperta qui non si chiude più: le righe seguenti sono state lette come "
     "parte di questa"),
    (r"^a quote opened here closes only in row (\d+).*",
     "una virgoletta aperta qui si chiude solo più avanti (riga di dati ${1}): le righe in "
     "mezzo sono state lette come parte di questa"),
    (r"^swallowed by the quote opened in row (\d+).*",
     "letta come parte della riga di dati ${1}, dove una virgoletta non si chiude"),
)


def _reason_words(reason: pl.Expr) -> pl.Expr:
    """A load reject's reason as the supplier reads it: field in Italian, then why."""
    field = reason.str.extract(r"^(\w+) '", 1)
    why = reason.str.replace(r"^\w+ '.*?' ", "")
    translated = pl.coalesce(
        *(pl.when(why.str.contains(pattern)).then(why.str.replace(pattern, words))
          for pattern, words in REASON_WORDS), why)
    named = field.replace_strict(FIELD_WORDS, default=field, return_dtype=pl.String)
    return (pl.when(field.is_not_null()).then(pl.format("{}: {}", named, translated))
            .otherwise(translated))


def reject_rows(load_rejects: pl.DataFrame, invalid: pl.DataFrame,
                places: pl.DataFrame) -> pl.DataFrame:
    """Every row that did not load (load_rejects: source_id, source_version, row, reason)
    and every row whose number is not one (invalid: source_id, source_version, row, raw),
    named where the supplier's program shows it: places gives per version the file, the
    sheet and how many lines come before its first data row."""
    loaded = load_rejects.select(
        "source_id", "source_version", "row",
        pl.col("reason").str.extract(r"^\w+ '(.*?)' ", 1).alias("valore"),
        _reason_words(pl.col("reason")).alias("motivo"))
    unreadable = invalid.select(
        "source_id", "source_version", "row", pl.col("raw").alias("valore"),
        pl.lit("telefono: " + P.IT_REASON_TEXT[P.INVALID_NUMBER]).alias("motivo"))
    rows = pl.concat([loaded.cast({"source_version": pl.Int32, "row": pl.Int64}),
                      unreadable.cast({"source_version": pl.Int32, "row": pl.Int64})])
    return (rows.join(places, on=["source_id", "source_version"], how="left")
            .sort("source_id", "row")
            .select(pl.col("source_id").alias("fonte"), "file", "foglio",
                    (pl.col("row") + pl.col("lines_before")).alias("riga"),
                    pl.col("row").alias("riga_dati"), "valore", "motivo"))
