"""The DPO's look at a reply letter before it is sent: the console's Privacy page and
`gatekeeper disclose --format preview` show the same thing, made here once.

The letter itself holds nothing internal (no list id, path, checksum, second name). What
the DPO needs to check it against - which list, which row, which file and its sha256, what
erasure touched - travels beside it as `details`, and the warnings (a number held under
several names, a damaged opt-out journal line) come first, because they are reasons not to
send yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatekeeper.config import Controller, Workspace
from gatekeeper.core.htmlpage import e, page, table
from gatekeeper.privacy.disclosure import disclose
from gatekeeper.privacy.disclosure.letter import (
    letter_blocks,
    letter_body,
    letter_title,
    render_html,
    render_text,
)

PREVIEW_STYLE = ("<style>.warnings{border:2px solid #b42318;background:#fef3f2;padding:.6rem "
                 "1rem;margin:1rem 0}.warnings li{margin:.3rem 0}.letter{border:1px solid "
                 "#d6dbe3;padding:0 2rem 1rem;margin:1rem 0}.ok{color:#067647}</style>")


@dataclass(frozen=True)
class LetterPreview:
    """One letter as the person will get it, the warnings, and the DPO-only details."""

    phone: str
    held: bool
    lang: str
    ref: str | None
    html: str  # the letter's page, as sent
    text: str  # the letter as text, as sent
    warnings: list[str]
    details: dict[str, list[dict[str, Any]]]
    data: dict[str, Any]  # everything disclose gathered (the JSON)
    controller: Controller

    def page(self) -> str:
        """The DPO's page: warnings above the letter, the internal details below it."""
        if self.warnings:
            warned = ('<div class="warnings" data-testid="warnings"><b>Prima di inviare</b>'
                      "<ul>" + "".join(f"<li>{e(w)}</li>" for w in self.warnings)
                      + "</ul></div>")
        else:
            warned = '<p class="ok" data-testid="warnings">Nessun avviso.</p>'
        blocks = letter_blocks(self.data, self.controller, self.lang, self.ref)
        sections = [PREVIEW_STYLE, f"<h1>Anteprima della lettera — {e(self.phone)}</h1>",
                    warned, f'<section class="letter" data-testid="letter" lang="{e(self.lang)}">',
                    letter_body(blocks), "</section>",
                    "<h2>Dettagli interni (non compaiono nella lettera)</h2>"]
        for key, title in (("sources", "Righe delle liste"), ("campaigns", "Campagne"),
                           ("calls", "Telefonate"), ("copies", "Cancellazione: copie")):
            rows = self.details[key]
            if rows:
                headers = list(rows[0])
                sections += [f"<h3>{e(title)}</h3>", table(
                    headers, [[r[h] for h in headers] for r in rows], test_id=key,
                    hashes={i for i, h in enumerate(headers) if h.endswith("sha256")})]
        return page(f"Anteprima: {letter_title(self.data, self.lang)}", "\n".join(sections),
                    "it", wide=True)


def dpo_details(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What the letter leaves out and the DPO checks it against."""
    return {
        "sources": [{"source_id": s["source_id"], "version": s["version"], "file": s["file"],
                     "row": s["row"], "file_sha256": s["file_sha256"], "name": s["name"],
                     "customer_id": s["customer_id"],
                     "supplier_id": (s["supplier"] or {}).get("id")} for s in data["sources"]],
        "campaigns": [{"campaign": c["campaign"], "run_id": c.get("run_id"),
                       "source_id": c.get("source_id"), "as_of": c["as_of"]}
                      for c in data["campaigns"]],
        "calls": [{"started_at": c["started_at"], "agency": c["agency"],
                   "campaign": c["campaign"], "caller_id": c["caller_id"]}
                  for c in data.get("calls") or []],
        "copies": [{"where": c["where"], "action": c["action"], "why": c.get("why"),
                    "detail": c.get("detail", "")}
                   for c in ((data.get("erased") or {}).get("copies") or [])],
    }


def preview_letter(ws: Workspace, phone: str, *, lang: str = "it",
                   ref: str | None = None) -> LetterPreview:
    """The letter (with its request reference, if given) for the DPO to read before
    sending. Nothing is recorded: the request is logged as answered when the letter is
    sent (`disclose --ref`), not when it is looked at."""
    data = disclose(ws, phone)
    controller = ws.config().controller
    blocks = letter_blocks(data, controller, lang, ref)
    return LetterPreview(
        data["phone"], data["held"], lang, ref,
        render_html(blocks, letter_title(data, lang), lang), render_text(blocks),
        list(data["warnings"]), dpo_details(data), data, controller)
