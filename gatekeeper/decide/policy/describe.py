"""The decision table as a lawyer reads it: every rule in the order it is applied, its
code, what must hold, when its fact is taken, the law it rests on and the words people see.

Printed by `gatekeeper rules`, and docs/rules.md is that output (a test keeps them the
same), so the page a lawyer reviews is the table the code runs, never a copy of it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from gatekeeper.decide.policy.table import DecisionTable, Rule


def _row(table: DecisionTable, step: str, where: str, rule: Rule, taken: str
         ) -> dict[str, Any]:
    code = table.codes[rule.code]
    return {"step": step, "applies_to": where, "code": rule.code,
            "requirement": rule.requirement, "taken": taken, "law": rule.cites or code.law,
            "words": code.text}


def step_numbers(table: DecisionTable) -> list[str]:
    """Each of the steps' number: its place among them, a rule that says its step (a
    second row of the step before it) not counting."""
    numbers, n = [], 0
    for rule in table.steps:
        if not rule.step:
            n += 1
        numbers.append(rule.step or str(n))
    return numbers


def table_rows(table: DecisionTable) -> list[dict[str, Any]]:
    """One row per rule: steps 1-7 for every row, step 8 per legal basis (its own checks
    in order), then every rule of the dial-time answer in its order (steps 1-5 again: the
    same rules, with when their facts are taken for "may I dial at T?" and for the replay
    of a call)."""
    rows: list[dict[str, Any]] = []
    numbers = step_numbers(table)
    for number, rule in zip(numbers, table.steps, strict=True):
        rows.append(_row(table, number, rule.rows, rule, rule.taken.words("run")))
    for basis in table.bases:
        where = f"basis {basis.code} ({basis.purpose}; {', '.join(basis.kinds)})"
        for rule in basis.rules:
            rows.append(_row(table, "8", where, rule, rule.taken.words("run")))
        code = table.codes[basis.code]
        rows.append({"step": "8", "applies_to": where, "code": basis.code,
                     "requirement": basis.requirement, "taken": "as of the run's as_of",
                     "law": code.law, "words": code.text})
    code = table.codes[table.no_basis]
    rows.append({"step": "8", "applies_to": "a row no basis of its purpose fits",
                 "code": table.no_basis, "requirement": "a legal basis of the purpose fits the "
                 "row's source kind", "taken": "as of the run's as_of", "law": code.law,
                 "words": code.text})
    for rule in table.dial_rules:
        shared = next((n for n, step in zip(numbers, table.steps, strict=True)
                       if step is rule), None)
        where = (f"dial time (the very rule of step {shared})" if shared
                 else "dial time")
        rows.append(_row(table, rule.step or str(shared), where, rule,
                         rule.taken.words("dial", "replay")))
    return rows


INTRO = """\
# The decision table (policy `{name}`)

What `run`, `check`, the service and contract replay decide, rule by rule, in the order
they are applied: the first rule a row fails gives its reason code; a row that passes
steps 1-7 and every check of a legal basis (step 8) is dialable on that basis, and a number
is dialable when one of its rows is. At dial time ("may I dial at T?": `check`, GET and
POST /v1/check; "was the call at T lawful?": contract replay) the rules below "dial time"
are applied in their order to each number: steps 1-5 again, the run's decision, then the
call itself (steps 9-13). "Taken" says when each rule's fact is taken, per question. This
page is `gatekeeper rules --format md`; a test keeps it the same as the code.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def versions(table: DecisionTable, at: dt.date | None = None
             ) -> list[tuple[str, DecisionTable]]:
    """(name, table in force) of every version of a dated table, oldest first, or of the
    one in force on `at`; an undated table is its one version."""
    if not table.changes:
        return [(table.name, table)]
    if at is not None:
        return [(table.version_at(at), table.in_force(at))]
    firsts = [table.changes[0] - dt.timedelta(days=1), *table.changes]
    return [(table.version_at(day), table.in_force(day)) for day in firsts]


def table_markdown(table: DecisionTable, at: dt.date | None = None) -> str:
    """The table as Markdown: every version with its dates (one section each) unless `at`
    picks the one in force that day."""
    found = versions(table, at)
    if len(found) == 1 and found[0][0] == table.name:
        return _markdown(table)
    text = INTRO.format(name=table.name) + (
        f"\nRegime: {table.regime}.\n" if table.regime else "")
    for name, version in found:
        text += f"\n## {name}\n\n" + _markdown(version).split("\n", INTRO.count("\n") + 1)[-1]
    return text


def _markdown(table: DecisionTable) -> str:
    lines = [INTRO.format(name=table.name),
             "| step | applies to | code | what must hold | taken | law | words (it) |",
             "|---|---|---|---|---|---|---|"]
    for r in table_rows(table):
        lines.append(f"| {r['step']} | {_cell(r['applies_to'])} | `{r['code']}` | "
                     f"{_cell(r['requirement'])} | {_cell(r['taken'])} | {_cell(r['law'])} | "
                     f"{_cell(r['words'])} |")
    return "\n".join(lines) + "\n"


def table_json(table: DecisionTable, at: dt.date | None = None) -> str:
    """JSON rows; a dated table's rows say their version (`version`)."""
    found = versions(table, at)
    if len(found) == 1 and found[0][0] == table.name:
        return json.dumps(table_rows(table), indent=2, ensure_ascii=False) + "\n"
    rows = [{"version": name, **row} for name, version in found for row in table_rows(version)]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
