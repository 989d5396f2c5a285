"""The decision table as a lawyer reads it: every rule in the order it is applied, its
code, what must hold, the law it rests on and the words people see.

Printed by `gatekeeper rules`, and docs/rules.md is that output (a test keeps them the
same), so the page a lawyer reviews is the table the code runs, never a copy of it.
"""

from __future__ import annotations

import json
from typing import Any

from .table import BASES, CODES, CONTACT_RULES, NO_RUN, NO_SOURCE, STEPS

# At dial time the answer starts from a run's decisions; without one there is nothing to
# answer from (dialtime.py).
FROM_A_RUN = (
    (NO_RUN, "a run of the purpose (or of the campaign asked) decided as of the instant "
     "asked"),
    (NO_SOURCE, "the number is in one of that run's lists; its row's decision is the answer "
     "so far"),
)


def table_rows() -> list[dict[str, Any]]:
    """One row per rule: step 1-7 for every row, step 8 per legal basis (its own checks
    in order), steps 9-13 at dial time."""
    rows: list[dict[str, Any]] = []
    for n, rule in enumerate(STEPS, 1):
        rows.append({"step": str(n), "applies_to": "every row", "code": rule.code,
                     "requirement": rule.requirement, "law": rule.law,
                     "words": CODES[rule.code].text})
    for basis in BASES:
        where = f"basis {basis.code} ({basis.purpose}; {', '.join(basis.kinds)})"
        for rule in basis.rules:
            rows.append({"step": "8", "applies_to": where, "code": rule.code,
                         "requirement": rule.requirement, "law": rule.law,
                         "words": CODES[rule.code].text})
        rows.append({"step": "8", "applies_to": where, "code": basis.code,
                     "requirement": basis.requirement, "law": basis.law,
                     "words": CODES[basis.code].text})
    for code, requirement in FROM_A_RUN:
        rows.append({"step": "9-", "applies_to": "dial time, before step 9", "code": code,
                     "requirement": requirement, "law": CODES[code].law,
                     "words": CODES[code].text})
    for n, (code, requirement) in enumerate(CONTACT_RULES, 9):
        rows.append({"step": str(n), "applies_to": "dial time", "code": code,
                     "requirement": requirement, "law": CODES[code].law,
                     "words": CODES[code].text})
    return rows


INTRO = """\
# The decision table (Italy, policy `IT`)

What `run`, `check`, the service and contract replay decide, rule by rule, in the order
they are applied: the first rule a row fails gives its reason code; a row that passes
steps 1-7 and every check of a legal basis (step 8) is dialable on that basis, and a number
is dialable when one of its rows is. Steps 9-13 are the call itself, at dial time. This
page is `gatekeeper rules --format md`; a test keeps it the same as the code.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_markdown() -> str:
    lines = [INTRO, "| step | applies to | code | what must hold | law | words (it) |",
             "|---|---|---|---|---|---|"]
    for r in table_rows():
        lines.append(f"| {r['step']} | {_cell(r['applies_to'])} | `{r['code']}` | "
                     f"{_cell(r['requirement'])} | {_cell(r['law'])} | {_cell(r['words'])} |")
    return "\n".join(lines) + "\n"


def table_json() -> str:
    return json.dumps(table_rows(), indent=2, ensure_ascii=False) + "\n"
