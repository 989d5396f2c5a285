"""reports/contracts/NAME/: contracts.csv (one row per contract), summary.json (counts by
status and by agency) and contracts.html, the page a sales manager reads: per call centre,
how many contracts it brought and how many of them cannot be traced to a lawful call (the
share a client withholds commissions on), then every such contract with its reason in
words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.core.digest import sha256_file
from gatekeeper.core.htmlpage import e, num, page, pct, table, written_time
from gatekeeper.core.outfile import report_folder
from gatekeeper.core.spreadsheet import safe_for_spreadsheets
from gatekeeper.decide import policy as P
from gatekeeper.dial.contracts import LAWFUL, OUTPUT_COLUMNS, STATUSES

STATUS_TEXT = {
    "INBOUND": "chiamata in entrata: è stato il cliente a chiamare",
    "TRACED": "tracciato a una chiamata lecita",
    "UNLAWFUL_CONTACT": "la chiamata da cui nasce non era lecita",
    "NO_CONTACT_RECORD": "nessuna chiamata registrata da cui possa nascere",
    "UNKNOWN_AGENCY": "call center senza scheda in agencies/: nessuno lo ha autorizzato",
}


def summarise(name: str, file: Path, traced: pl.DataFrame, trace_days: int
              ) -> dict[str, Any]:
    """Counts by status (every status, zeros included) and by agency."""
    by_status = dict.fromkeys(STATUSES, 0)
    by_status.update(dict(traced.group_by("status").len().iter_rows()))
    agencies: dict[str, dict[str, Any]] = {}
    for agency, group in traced.group_by("agency", maintain_order=True):
        counts = dict.fromkeys(STATUSES, 0)
        counts.update(dict(group.group_by("status").len().iter_rows()))
        untraced = group.height - sum(counts[s] for s in LAWFUL)
        agencies[str(agency[0])] = {"contracts": group.height, **counts,
                                    "not_traced": untraced,
                                    "share_not_traced": round(untraced / group.height, 4)}
    reasons = dict(traced.filter(pl.col("status") == "UNLAWFUL_CONTACT")
                   .group_by("reason").len().sort("len", descending=True).iter_rows())
    return {"name": name, "file": file.name, "file_sha256": sha256_file(file),
            "trace_days": trace_days, "contracts": traced.height,
            "not_traced": traced.height - sum(by_status[s] for s in LAWFUL),
            "by_status": by_status, "unlawful_by_reason": reasons, "by_agency": agencies}


def contracts_html(summary: dict[str, Any], traced: pl.DataFrame) -> str:
    """The manager's page: Italian words and formats, Rome times."""
    per_agency = [[agency, num(c["contracts"]), num(c["TRACED"]), num(c["INBOUND"]),
                   num(c["not_traced"]), pct(c["not_traced"], c["contracts"])]
                  for agency, c in sorted(summary["by_agency"].items(),
                                          key=lambda item: -item[1]["not_traced"])]
    untraced = traced.filter(~pl.col("status").is_in(LAWFUL)).sort("agency", "signed_at")
    rows = [[r["contract_id"], r["phone"], _signed(r["signed_at"]), r["agency"],
             r["agent"], STATUS_TEXT[r["status"]],
             (f"{P.it_reason_text(r['reason']) or r['reason']} ({r['reason']})"
              if r["reason"] else "—"),
             written_time(r["call_started_at"]) + (f" · {e(r['call_id'])}" if r["call_id"]
                                                else "")]
            for r in untraced.iter_rows(named=True)]
    counts = summary["by_status"]
    body = (
        f"<h1>Origine dei contratti — {e(summary['name'])}</h1>"
        f"<p class=muted>File {e(summary['file'])} (SHA-256 {e(summary['file_sha256'])}). "
        f"Ogni contratto è ricondotto alla chiamata da cui nasce, nei "
        f"{summary['trace_days']} giorni prima della firma, e quella chiamata è verificata "
        "come stavano le cose in quel momento: lista della campagna, Registro delle "
        "Opposizioni, opposizioni ricevute, fasce orarie, tentativi, call center "
        "autorizzato e numero mostrato (codice di condotta, art. 16).</p>"
        f"<p data-testid=totals>Contratti: <strong>{num(summary['contracts'])}</strong> · "
        f"tracciati: {num(counts['TRACED'])} · in entrata: {num(counts['INBOUND'])} · "
        f"<strong>non tracciati: {num(summary['not_traced'])}</strong> "
        f"({pct(summary['not_traced'], summary['contracts'])})</p>"
        "<h2>Per call center</h2>"
        + table(["Call center", "Contratti", "Tracciati", "In entrata", "Non tracciati",
                 "Quota non tracciata"], per_agency, numeric={1, 2, 3, 4, 5},
                test_id="agencies")
        + "<h2>Contratti non tracciati</h2>"
        + (table(["Contratto", "Numero", "Firmato", "Call center", "Operatore", "Esito",
                  "Motivo", "Chiamata"], rows, test_id="untraced", markup={2, 7})
           if rows else "<p data-testid=untraced>Nessuno: ogni contratto nasce da una "
                        "chiamata lecita o da una chiamata del cliente.</p>"))
    return page(f"Contratti — {summary['name']}", body, wide=True)


def _signed(value: str) -> str:
    """An instant in local time, as written; a day alone as the day."""
    if "T" in value:
        return written_time(value)
    return e(f"{value[8:10]}/{value[5:7]}/{value[:4]}")


def write_report(folder: Path, name: str, file: Path, traced: pl.DataFrame,
                 trace_days: int) -> dict[str, Any]:
    """The three files, swapped in whole (a failure leaves the previous report)."""
    summary = summarise(name, file, traced, trace_days)
    with report_folder(folder) as tmp:
        safe_for_spreadsheets(traced.select(OUTPUT_COLUMNS)).write_csv(tmp / "contracts.csv")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False)
                                          + "\n", encoding="utf-8")
        (tmp / "contracts.html").write_text(contracts_html(summary, traced),
                                            encoding="utf-8")
    return summary
