"""What to do next, after load, a register exchange or a run: short sentences that name the
command, carried on each result so the CLI prints them and a web page shows them.

A campaign manager who runs a campaign before the register was asked gets a report where
every row is RPO_NOT_CHECKED and nothing to dial; the report is right, but only a person
who knows the product reads from it that `rpo request` and `rpo import` come next. These
sentences say it. English, as the CLI's output is.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from gatekeeper.decide import policy as P

REQUEST_FILE = "data/rpo/request.txt"  # where the README's steps put the request file


def register_steps(automatic: bool) -> list[str]:
    """How to get register answers with the configured adapter."""
    if automatic:
        return ["check the numbers with the register: gatekeeper rpo check"]
    return [f"write the numbers to check: gatekeeper rpo request --out {REQUEST_FILE}; "
            "upload that file to the RPO, then record its answer: gatekeeper rpo import "
            f"--request {REQUEST_FILE} --response ANSWER_FILE"]


def run_command(campaign: str = "NAME", purpose: str = "telemarketing") -> str:
    name = campaign if campaign == "NAME" else shlex.quote(campaign)
    return f"gatekeeper run --campaign {name} --purpose {purpose}"


def after_load(loaded: int, changed: int, failed: int, automatic: bool) -> list[str]:
    """After `load`: fix what failed; ask the register about what is new; then run."""
    steps = []
    if failed:
        steps.append("fix the errors shown and load again: gatekeeper load")
    if changed:
        steps += register_steps(automatic)
    if loaded:
        steps.append(f"then decide a campaign: {run_command()}")
    return steps


def after_register(numbers: int, pending: int = 0) -> list[str]:
    """After `rpo import` or `rpo check`: fetch what is still pending, or run."""
    if pending:
        return ["fetch the answers still pending later: gatekeeper rpo check"]
    if numbers:
        return [f"decide the campaign with these answers: {run_command()}"]
    return []


def after_run(summary: Mapping[str, Any], versions: Sequence[Mapping[str, Any]],
              purpose: str, campaign: str, automatic: bool) -> list[str]:
    """After `run`: the situations where the run decided nothing (or left rows undecided)
    for a reason the manager can remove, each with the command that removes it."""
    suppressed: Mapping[str, int] = summary.get("suppressed", {})
    steps: list[str] = []
    again = f"then run the campaign again: {run_command(campaign, purpose)}"
    if not summary.get("rows"):
        steps.append("the chosen lists hold no row that could be read: see why with "
                     "gatekeeper sources --rejects SOURCE_ID (or rejects.xlsx), fix the "
                     "file or its manifest and load again: gatekeeper load")
        return steps
    candidates = list(versions)
    if purpose == "survey":  # the policy allows surveys of the company's customers only
        candidates = [v for v in versions if v.get("kind") == "internal_archive"]
        if not candidates:
            steps.append("a survey may call only the company's own customers: load an "
                         "internal_archive list (gatekeeper load), or choose one with "
                         "--source; " + again)
            return steps
    if not any(purpose in (v.get("purposes") or []) for v in candidates):
        steps.append(f"no source chosen allows the purpose '{purpose}': add it to "
                     "`purposes` in the manifest (sources/<id>.toml) of a list whose people "
                     "may be called for it, load again (gatekeeper load); " + again)
        return steps
    unchecked = suppressed.get(P.RPO_NOT_CHECKED, 0)
    if unchecked:
        steps.append(f"{unchecked:,} rows have no valid register answer (never checked, or "
                     "the answer is too old)")
        steps += register_steps(automatic)
        steps.append(again)
    unapproved = suppressed.get(P.SUPPLIER_NOT_APPROVED, 0)
    if unapproved:
        steps.append(f"{unapproved:,} rows come from suppliers not approved: see what is "
                     "missing with gatekeeper suppliers, complete suppliers/<id>.toml, "
                     "load again (gatekeeper load), " + again)
    return steps
