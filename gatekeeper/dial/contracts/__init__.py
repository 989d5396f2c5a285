"""Contract origin (code of conduct art. 16): every contract signed by phone traced to the
call it came from, and that call shown lawful by replaying "May I dial?" as things stood
at its instant.

Enel Energia (€79.1M, 2024) and Eni Plenitude (€6.4M, 2024) were fined for contracts
nobody could trace to a lawful call by an authorised call centre. `verify_contracts`
reads the contracts file, finds each contract's call in the ledger within `[contracts]
trace_days` before it was signed and hands the facts of that instant (the run of the
campaign valid then, opt-outs received by then, the calls before it, the calling hours,
the agency's authorisation and caller ids), gathered by dialing.dial_facts, to the table's
dial rules (policy.dial_reasons), which every dial-time answer comes from: there is no
second implementation of any rule here.

Statuses, first match wins (PRODUCT.md "Contract origin"), with one decision where the
contract's order cannot be meant literally: UNKNOWN_AGENCY is decided before the call is
looked for, because a call centre without a manifest can never be TRACED, and "no call
recorded" would hide that the contract names a centre nobody authorised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.core.errors import InputError
from gatekeeper.core.timeutil import local_iso_expr
from gatekeeper.decide import policy as P
from gatekeeper.decide.run import CAMPAIGN_NAME
from gatekeeper.dial.agencies import Agency, discover_agencies
from gatekeeper.dial.check import (
    RecordedSources,
    RunSnapshot,
    asked_columns,
    dial_context,
    dial_facts,
    load_snapshot,
)
from gatekeeper.dial.contracts.reading import read_contracts
from gatekeeper.dial.ledger import open_ledger
from gatekeeper.privacy.erasure.register import erased_numbers
from gatekeeper.privacy.optouts import open_journal, trusted_state
from gatekeeper.store import Store
from gatekeeper.store import evidence as evidence_store
from gatekeeper.store import runs as run_store

PURPOSE = "telemarketing"  # a contract signed by phone is a sale
STATUSES = ("INBOUND", "TRACED", "UNLAWFUL_CONTACT", "NO_CONTACT_RECORD", "UNKNOWN_AGENCY")
LAWFUL = ("INBOUND", "TRACED")
# The outcomes of a call a contract can come from.
SELLING_OUTCOMES = ("answered", "callback", "sale")
OUTPUT_COLUMNS = ("contract_id", "phone", "signed_at", "agency", "agent", "status", "reason",
                  "call_id", "call_started_at", "campaign", "run_id")


@dataclass
class ContractsResult:
    """What `contracts verify` found and wrote."""

    name: str
    folder: Path
    contracts: pl.DataFrame  # OUTPUT_COLUMNS, in the file's order
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def all_lawful(self) -> bool:
        return bool(self.contracts["status"].is_in(LAWFUL).all())


def trace(ws: Workspace, contracts: pl.DataFrame) -> pl.DataFrame:
    """Each contract (read_contracts' columns) with its status, reason and call."""
    config = ws.config()
    agencies, _ = discover_agencies(ws.root / "agencies", config.jurisdiction)
    known = {a.lower(): a for a in agencies}
    frame = contracts.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"),
        pl.col("agency").str.to_lowercase().replace_strict(known, default=None)
        .alias("agency_id"))
    calls = open_ledger(ws).calls_of(frame["phone_key"])
    window = frame.select("_i", "phone_key", "agency_id", "signed_end").join(
        calls, on="phone_key", how="inner").filter(
        (pl.col("started_at") <= pl.col("signed_end"))
        & (pl.col("started_at") >= pl.col("signed_end")
           - pl.duration(days=config.trace_days)))
    # An inbound call counts only from an agency that answers the controller's lines now:
    # one stored before the doors checked it (or by a centre since stripped of its lines)
    # must not clear a contract of the list it came from.
    # For an agency that lists its lines, only a call to one of them (for an inbound
    # call, caller_id is the line the person called).
    any_line = pl.Series([a for a, agency in agencies.items()
                          if agency.inbound and not agency.inbound_numbers],
                         dtype=pl.String).implode()
    lines = pl.Series([f"{a}\x1f{line}" for a, agency in agencies.items() if agency.inbound
                       for line in agency.inbound_numbers], dtype=pl.String).implode()
    answered = (pl.col("agency").is_in(any_line)
                | pl.concat_str("agency", "caller_id", separator="\x1f").is_in(lines))
    inbound = _latest(window.filter((pl.col("direction") == "inbound")
                                    & answered.fill_null(False)), "in_")
    selling = _latest(window.filter(
        (pl.col("direction") == "outbound")
        & (pl.col("agency").str.to_lowercase() == pl.col("agency_id").str.to_lowercase())
        & pl.col("outcome").is_in(SELLING_OUTCOMES)), "out_")
    frame = frame.join(inbound, on="_i", how="left").join(selling, on="_i", how="left")
    replayed = _replay(ws, frame.filter(pl.col("in_call_id").is_null()
                                        & pl.col("agency_id").is_not_null()
                                        & pl.col("out_call_id").is_not_null()), calls, agencies)
    frame = frame.join(replayed, on="_i", how="left")
    status = (pl.when(pl.col("in_call_id").is_not_null()).then(pl.lit("INBOUND"))
              .when(pl.col("agency_id").is_null()).then(pl.lit("UNKNOWN_AGENCY"))
              .when(pl.col("out_call_id").is_null()).then(pl.lit("NO_CONTACT_RECORD"))
              .when(pl.col("replay_reason").is_null()).then(pl.lit("TRACED"))
              .otherwise(pl.lit("UNLAWFUL_CONTACT")))
    inbound_used = pl.col("in_call_id").is_not_null()
    traced = ~inbound_used & pl.col("agency_id").is_not_null()
    return frame.with_columns(status.alias("status")).select(
        "contract_id", "phone", "signed_at", "agency", "agent", "status",
        pl.when(pl.col("status") == "UNLAWFUL_CONTACT").then(pl.col("replay_reason"))
        .alias("reason"),
        pl.when(inbound_used).then(pl.col("in_call_id"))
        .when(traced).then(pl.col("out_call_id")).alias("call_id"),
        local_iso_expr(pl.when(inbound_used).then(pl.col("in_started_at"))
                       .when(traced).then(pl.col("out_started_at")),
                       config.jurisdiction.timezone_name).alias("call_started_at"),
        pl.when(inbound_used).then(pl.col("in_campaign"))
        .when(traced).then(pl.coalesce("out_campaign", "campaign")).otherwise("campaign")
        .alias("campaign"),
        pl.col("replay_run").alias("run_id"),
        "row")


def _latest(calls: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """Per contract, its latest call of these (the one it came from)."""
    columns = ["call_id", "started_at", "campaign", "agency", "caller_id"]
    return (calls.sort("_i", "started_at", "recorded_at")
            .group_by("_i", maintain_order=True).last()
            .select("_i", *(pl.col(c).alias(prefix + c) for c in columns)))


def _replay(ws: Workspace, chosen: pl.DataFrame, calls: pl.DataFrame,
            agencies: dict[str, Agency]) -> pl.DataFrame:
    """"May I dial?" as things stood at each chosen call's instant: replay_reason (null:
    the call was lawful) and replay_run."""
    schema = {"_i": pl.Int64, "replay_reason": pl.String, "replay_run": pl.String}
    if chosen.is_empty():
        return pl.DataFrame(schema=schema)
    config = ws.config()
    at = chosen["out_started_at"]
    campaign = chosen.select(pl.coalesce("out_campaign", "campaign")).to_series()
    with Store(ws.store_path, read_only=True) as store:
        journal = trusted_state(open_journal(ws),
                                evidence_store.journal_checkpoints(store))
        runs = run_store.runs_at(store, PURPOSE, pl.DataFrame({"campaign": campaign, "at": at}))
        snapshots: dict[str, RunSnapshot] = {
            r["run_id"]: load_snapshot(ws, run_store.record_of(r, PURPOSE))
            for r in runs.filter(pl.col("run_id").is_not_null())
            .unique("run_id").iter_rows(named=True)}
        erasures = erased_numbers(ws, store)
    sources = RecordedSources(agencies, snapshots, erasures, journal.events, calls)
    # Each call as things stood at its instant: the replay question of the table (an
    # erasure or objection recorded after the call does not make it unlawful).
    asked = chosen.select(
        "phone", "region", "number_type", pl.col("out_started_at").alias("at"),
        runs["run_id"].alias("run_id"), campaign.alias("campaign"),
        pl.col("out_agency").alias("agency"), pl.col("out_caller_id").alias("caller_id"))
    facts = dial_facts(asked_columns(asked), sources, config, PURPOSE, "replay")
    # The context's instant is only the question's (the rules read each call's own).
    reasons = P.dial_reasons(facts, dial_context(config, PURPOSE, at[0]))
    return pl.DataFrame({"_i": chosen["_i"], "replay_reason": reasons,
                         "replay_run": runs["run_id"]}, schema=schema)


def verify_contracts(ws: Workspace, file: Path, name: str, map_file: Path | None = None
                     ) -> ContractsResult:
    """Read, trace and report (reports/contracts/NAME/); see the module docstring."""
    from gatekeeper.dial.contracts.report import write_report

    if not CAMPAIGN_NAME.match(name):
        raise InputError(f"--name '{name}' must be letters, digits, '.', '_' or '-' (it "
                         "names a folder under reports/contracts/)")
    config = ws.config()
    contracts = read_contracts(file, map_file, config.jurisdiction)
    traced = trace(ws, contracts)
    folder = ws.root / "reports" / "contracts" / name
    summary = write_report(folder, name, file, traced, config.trace_days)
    return ContractsResult(name, folder, traced.drop("row"), summary)


__all__ = ["LAWFUL", "OUTPUT_COLUMNS", "STATUSES", "ContractsResult", "trace",
           "verify_contracts"]
