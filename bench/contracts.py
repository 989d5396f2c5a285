"""Contract-origin benchmark: `gatekeeper contracts verify` over a month of a large call centre.

    python bench/contracts.py                                   # 1M calls, 20k contracts, 3 runs
    python bench/contracts.py --calls 100000 --contracts 2000 --runs 1   # a quick look
    python bench/contracts.py --keep /tmp/gk-contracts          # build once, keep the workspace ...
    python bench/contracts.py --keep /tmp/gk-contracts          # ... and reuse it the next time

Target (issue 16): a month of a large call centre - 200 agents (agent001-agent100 work for
connecto, agent101-agent200 for callpro), its 2 agencies, 1M calls in the ledger and 20k
contracts signed by phone, every status represented - is verified in < 10 s with < 2 GB
peak memory. The judged figures are the median wall time and peak RSS of
`gatekeeper --home WS contracts verify FILE --name bench` run as a subprocess (start-up
included, as an operator meets it), its peak read from the kernel by /usr/bin/time.

The month is 2026-11-08 to 2026-12-07 (Rome days), around the README's run of campaign
`demo` (bench/ledger.py's `demo_workspace`): as_of 2026-11-22 00:00 Rome, RPO answer of
11-20, so its numbers are valid until 2026-12-05 09:00 UTC (its `valid_until`). Instead of
further runs (which would need further RPO answers) the contracts are placed around that
one run, which is also what makes every reason reachable:

- TRACED (40%): a selling call (answered/callback/sale) by the contract's agency with one
  of its caller ids, inside the calling hours (the workspace's own `[calling_hours]`,
  Italian holidays included) between the run and its `valid_until`, to a number the run
  found dialable; signed 2-60 minutes later.
- UNLAWFUL_CONTACT (32%), each reason from its own cause: NO_SOURCE 9% (a number not in
  the run), OUTSIDE_CALLING_HOURS 6% (a dialable number called 20:00-22:30 or on a Sunday),
  NO_RUN 5% (called 11-09..11-21, before the run), CALLER_ID_UNDECLARED 4% (showing the
  other agency's number), RPO_NOT_CHECKED 3% (called 12-05 or 12-07, after `valid_until`),
  OPTED_OUT 2.5% (the demo's opt-out numbers) and RPO_REGISTERED 2.5% (numbers the run
  suppressed because the RPO answered "registered"). AGENCY_NOT_AUTHORISED cannot arise
  with the target's 2 agencies: both are authorised all month (callpro until 2026-12-31),
  and a call outside that lies outside the run's validity too.
- INBOUND (10%): the customer called in (a quarter of them had also been called out first,
  from a number not in the run: INBOUND still wins).
- NO_CONTACT_RECORD (12%): no call at all, only calls that sold nothing, or a sale by the
  other agency.
- UNKNOWN_AGENCY (6%): agency "ghostcall", which has no agencies/ manifest (half of its
  numbers were also sold to by a known agency).

The run has only ~3,200 dialable numbers, so the contracts on them (58%) share numbers:
each number gets at most 4 such calls in the month (round-robin, ordered by phase: before
the run, during it, after it; during it in four separate groups of days), so every replayed
call has at most 3 attempts before it (`max_attempts` 4: no ATTEMPT_LIMIT) and each
contract's latest selling call is its own. More than 4 per number (--contracts above
~22k) brings ATTEMPT_LIMIT in, and a number's calls in the last group may then interleave;
the check after the first run reports such contracts. The other contracts go to
fresh mobile numbers, one each. The remaining calls (~98% of --calls) are background: the
dialers' month to --numbers other numbers (bench/ledger.py's generator, its times moved
into the month's calling hours and its agents to the 200), never to a contract's number.
All of it is generated columnar (numpy/polars) and written by Ledger.record as
--segments imports sorted by time (about one a day, as daily dialer exports arrive).

Each contract's intended status and reason is kept beside the file; after the first
timed run the report's statuses are compared with them and any difference is printed.
Exit code 1 of verify (some contracts not lawful) is expected; 2 is an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from ledger import (  # noqa: E402  (bench/ledger.py)
    AGENCIES,
    demo_workspace,
    kept,
    number_pool,
    synthetic_calls,
)

from gatekeeper.config import Workspace  # noqa: E402
from gatekeeper.dial.ledger import Ledger, conform  # noqa: E402
from gatekeeper.intake.normalise import normalise  # noqa: E402
from gatekeeper.jurisdictions import IT  # noqa: E402
from gatekeeper.jurisdictions.calling_hours import CallingHours  # noqa: E402

ROME = ZoneInfo(IT.timezone_name)

TARGET_S = 10.0
TARGET_MB = 2048.0
NAME = "bench"
MONTH = (dt.date(2026, 11, 8), dt.date(2026, 12, 7))  # Rome days, both included
SIGNED_FROM = dt.date(2026, 11, 23)  # contracts not tied to a dialable number's slot
RUN_AS_OF = dt.datetime(2026, 11, 21, 23, 0)  # UTC: 2026-11-22 00:00 Rome
VALID_UNTIL = dt.datetime(2026, 12, 5, 9, 0)  # UTC: the run's valid_until
# The run's validity split into four groups of Rome days: a number's k-th call inside it
# falls in group k, so its calls (and contracts) follow one another.
GROUPS = (dt.date(2026, 11, 22), dt.date(2026, 11, 25), dt.date(2026, 11, 28),
          dt.date(2026, 12, 2))
SLOTS_PER_NUMBER = 4  # max_attempts: a number's 4th call has 3 attempts before it
NAMES = [*AGENCIES, "ghostcall"]  # index 2 has no manifest
SELLING = ("answered", "callback", "sale")
NOT_SELLING = ("no_answer", "busy", "voicemail", "refused")
# kind: (share of the contracts, intended status, intended reason)
KINDS = {
    "traced": (0.40, "TRACED", None),
    "no_source": (0.09, "UNLAWFUL_CONTACT", "NO_SOURCE"),
    "after_hours": (0.06, "UNLAWFUL_CONTACT", "OUTSIDE_CALLING_HOURS"),
    "before_run": (0.05, "UNLAWFUL_CONTACT", "NO_RUN"),
    "caller_id": (0.04, "UNLAWFUL_CONTACT", "CALLER_ID_UNDECLARED"),
    "expired": (0.03, "UNLAWFUL_CONTACT", "RPO_NOT_CHECKED"),
    "opted_out": (0.025, "UNLAWFUL_CONTACT", "OPTED_OUT"),
    "rpo": (0.025, "UNLAWFUL_CONTACT", "RPO_REGISTERED"),
    "inbound": (0.10, "INBOUND", None),
    "no_contact": (0.12, "NO_CONTACT_RECORD", None),
    "ghost": (0.06, "UNKNOWN_AGENCY", None),
}
# The kinds whose call goes to one of the run's dialable numbers, by phase.
PHASE = {"before_run": 0, "traced": 1, "after_hours": 1, "caller_id": 1, "expired": 2}
_EPOCH = dt.datetime(1970, 1, 1)
_S = 1_000_000  # µs


# --- time -------------------------------------------------------------------------------

def us(instant: dt.datetime) -> int:
    """Naive UTC to µs since the epoch."""
    return (instant - _EPOCH) // dt.timedelta(microseconds=1)


def rome_us(day: dt.date, minutes: int) -> int:
    """A Rome wall-clock time on a day, µs since the epoch (UTC)."""
    local = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
    return us(local.replace(tzinfo=ROME).astimezone(dt.UTC).replace(tzinfo=None))


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def intervals(hours: CallingHours, first: dt.date, last: dt.date, *, inside: bool = True,
              lo: dt.datetime | None = None, hi: dt.datetime | None = None) -> np.ndarray:
    """[start, end) µs of the calling hours on these Rome days (inside), or of times a
    careless dialer calls outside them: 20:00-22:30 after a day's hours end, 10:00-18:00
    on a day without hours (Sunday, holiday). Clipped to [lo, hi) (naive UTC). A loop per
    day (thirty of them), not per call."""
    spans = []
    for day in days(first, last):
        window = hours.window_of(day)
        if inside:
            span = (window.start, window.end) if window else None
        elif window is None:
            span = (10 * 60, 18 * 60)
        else:
            span = (window.end, 22 * 60 + 30) if window.end < 22 * 60 + 30 else None
        if span:
            spans.append((rome_us(day, span[0]), rome_us(day, span[1])))
    out = np.array(spans, np.int64).reshape(-1, 2)
    if lo is not None:
        out[:, 0] = np.maximum(out[:, 0], us(lo))
    if hi is not None:
        out[:, 1] = np.minimum(out[:, 1], us(hi))
    return out[out[:, 1] > out[:, 0]]


def draw(spans: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` instants (µs, whole seconds) uniform over the union of the spans."""
    if not len(spans):
        raise SystemExit("no time to place these calls in")
    lengths = spans[:, 1] - spans[:, 0]
    ends = np.cumsum(lengths)
    u = (rng.random(count) * ends[-1]).astype(np.int64)
    i = np.searchsorted(ends, u, side="right")
    t = spans[i, 0] + u - (ends[i] - lengths[i])
    return t // _S * _S


def between(rng: np.random.Generator, low_s: float, high_s: float, count: int) -> np.ndarray:
    """Durations in whole seconds, as µs."""
    return rng.integers(int(low_s), int(high_s), count) * _S


def days_before(rng: np.random.Generator, most: int, count: int) -> np.ndarray:
    """1 to `most` whole days and up to an hour, as µs: a call that many days before
    another at a similar time of day (inside the hours, unless the day has none)."""
    return rng.integers(1, most + 1, count) * 86_400 * _S + between(rng, 60, 3600, count)


# --- the month --------------------------------------------------------------------------

class Month:
    """The contracts and their calls, built kind by kind (columnar within each)."""

    def __init__(self, rng: np.random.Generator, hours: CallingHours) -> None:
        self.rng, self.hours = rng, hours
        self.contracts: list[dict[str, np.ndarray]] = []
        self.calls: list[dict[str, np.ndarray]] = []

    def agents(self, agency: np.ndarray) -> np.ndarray:
        """agent001-agent100 work for connecto, agent101-agent200 for callpro."""
        return self.rng.integers(1, 101, len(agency)) + 100 * (agency == 1)

    def call(self, key: np.ndarray, agency: np.ndarray, at: np.ndarray, *,
             outcomes: tuple[str, ...] = SELLING, direction: str = "outbound",
             wrong_caller: bool = False) -> None:
        n = len(key)
        pick = self.rng.integers(0, 2, n)
        shown = np.array([[ids[0], ids[1]] for ids in AGENCIES.values()])
        caller = shown[(1 - agency) if wrong_caller else agency, pick]
        self.calls.append({
            "phone_key": key, "agency": agency, "at": at,
            "agent": self.agents(agency), "caller_id": caller,
            "direction": np.full(n, direction),
            "outcome": np.array(outcomes)[self.rng.integers(0, len(outcomes), n)],
            "duration_s": self.rng.integers(60, 1800, n)})

    def contract(self, kind: str, key: np.ndarray, agency: np.ndarray,
                 signed: np.ndarray, agent: np.ndarray | None = None) -> None:
        n = len(key)
        if agent is None:
            agent = self.agents(agency)
        self.contracts.append({"kind": np.full(n, kind), "phone_key": key, "agency": agency,
                               "agent": agent, "signed": signed})

    def calls_frame(self) -> pl.DataFrame:
        parts = {c: np.concatenate([p[c] for p in self.calls]) for c in self.calls[0]}
        n = len(parts["phone_key"])
        return pl.DataFrame({
            "agency": np.array(NAMES)[parts["agency"]],
            "call_id": np.char.add("C", np.arange(n).astype(str)),
            "phone_key": parts["phone_key"],
            "campaign": np.full(n, "demo"),
            "agent": np.char.add("agent", np.char.zfill(parts["agent"].astype(str), 3)),
            "caller_id": parts["caller_id"],
            "direction": parts["direction"],
            "started_at": pl.Series(parts["at"]).cast(pl.Datetime("us")),
            "duration_s": parts["duration_s"],
            "outcome": parts["outcome"],
        })


def run_numbers(ws: Workspace) -> dict[str, np.ndarray]:
    """Phone keys from the demo run: dialable, suppressed because RPO-registered, and the
    demo's opt-outs (each set without the others)."""
    folder = ws.report_dir("demo")
    key = pl.col("phone").str.strip_prefix("+").cast(pl.Int64)
    dialable = pl.read_csv(folder / "dialable.csv", infer_schema=False).select(
        key)["phone"].unique().to_numpy()
    first = (pl.read_parquet(folder / "decisions.parquet", columns=["phone", "reason"])
             .filter(pl.col("phone").is_not_null())
             .unique("phone", keep="first", maintain_order=True))
    rpo = first.filter(pl.col("reason") == "RPO_REGISTERED").select(key)["phone"].to_numpy()
    raw = pl.read_csv(ws.root / "data" / "optouts-demo.csv", infer_schema=False)["phone"]
    opted = (normalise(raw, ws.config().jurisdiction)["phone"].drop_nulls()
             .str.strip_prefix("+").cast(pl.Int64).unique().to_numpy())
    dialable = np.setdiff1d(dialable, np.concatenate([rpo, opted]))
    return {"dialable": dialable, "rpo": np.setdiff1d(rpo, opted), "opted": opted}


def counts(total: int) -> dict[str, int]:
    """Contracts per kind: the shares, the rounding left to TRACED."""
    out = {k: int(share * total) for k, (share, _, _) in KINDS.items()}
    out["traced"] += total - sum(out.values())
    return out


def build_month(ws: Workspace, contracts: int, rng: np.random.Generator
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(contracts: contract_id, phone_key, agency, agent, signed_us, kind; their calls in
    LEDGER_SCHEMA without recorded_at/via)."""
    hours = ws.config().calling_hours
    month = Month(rng, hours)
    numbers = run_numbers(ws)
    want = counts(contracts)
    first, last = MONTH
    valid_open = intervals(hours, GROUPS[0], VALID_UNTIL.date(), lo=RUN_AS_OF, hi=VALID_UNTIL)
    # --- the run's dialable numbers: slots, round-robin in phase order -------------------
    slot_kinds = np.concatenate([np.full(want[k], k) for k in PHASE])
    phase = np.concatenate([np.full(want[k], p) for k, p in PHASE.items()])
    order = np.lexsort((rng.random(len(slot_kinds)), phase))
    slot_kinds = slot_kinds[order]
    dialable = rng.permutation(numbers["dialable"])
    j = np.arange(len(slot_kinds))
    slot_key = dialable[j % len(dialable)]
    group = np.minimum(j // len(dialable), len(GROUPS) - 1)
    for kind in PHASE:
        mine = slot_kinds == kind
        key, g = slot_key[mine], group[mine]
        at = np.empty(len(key), np.int64)
        if kind == "before_run":
            at[:] = draw(intervals(hours, first, RUN_AS_OF.date(), hi=RUN_AS_OF), len(key), rng)
        elif kind == "expired":
            at[:] = draw(intervals(hours, VALID_UNTIL.date(), last, lo=VALID_UNTIL), len(key),
                         rng)
        else:
            for n, start in enumerate(GROUPS):
                end = (GROUPS[n + 1] - dt.timedelta(days=1) if n + 1 < len(GROUPS)
                       else VALID_UNTIL.date())
                spans = intervals(hours, start, end, inside=kind != "after_hours",
                                  lo=RUN_AS_OF, hi=VALID_UNTIL)
                at[g == n] = draw(spans, int((g == n).sum()), rng)
        agency = rng.integers(0, 2, len(key))
        month.call(key, agency, at, wrong_caller=kind == "caller_id")
        month.contract(kind, key, agency, at + between(rng, 120, 3600, len(key)))
    # --- numbers of the run that must not be dialled: many contracts per number ----------
    for kind, pool in (("opted_out", numbers["opted"]), ("rpo", numbers["rpo"])):
        key = pool[rng.integers(0, len(pool), want[kind])]
        agency = rng.integers(0, 2, len(key))
        at = draw(valid_open, len(key), rng)
        month.call(key, agency, at)
        month.contract(kind, key, agency, at + between(rng, 120, 3600, len(key)))
    # --- fresh mobiles, one contract each ------------------------------------------------
    fresh_kinds = ("no_source", "inbound", "no_contact", "ghost")
    total = sum(want[k] for k in fresh_kinds)
    run = np.concatenate(list(numbers.values()))
    fresh = 393_470_000_000 + (np.arange(total + len(run), dtype=np.int64) * 7_919
                               + int(rng.integers(0, 10_000_000))) % 10_000_000
    fresh = rng.permutation(fresh[~np.isin(fresh, run)][:total])  # none of the run's
    taken = 0
    signing = intervals(hours, SIGNED_FROM, last)  # office hours
    for kind in fresh_kinds:
        key = fresh[taken:taken + want[kind]]
        taken += len(key)
        n = len(key)
        agency = rng.integers(0, 2, n)
        if kind == "no_source":
            at = draw(valid_open, n, rng)
            month.call(key, agency, at)
            month.contract(kind, key, agency, at + between(rng, 120, 3600, n))
        elif kind == "inbound":
            at = draw(intervals(hours, first + dt.timedelta(days=6),
                                last - dt.timedelta(days=2)), n, rng)
            month.call(key, agency, at, direction="inbound", outcomes=("answered", "sale"))
            also = rng.random(n) < 0.25  # called out first: INBOUND still wins
            month.call(key[also], agency[also],
                       at[also] - days_before(rng, 5, int(also.sum())))
            month.contract(kind, key, agency, at + between(rng, 120, 3600, n)
                           + rng.integers(0, 3, n) * 86_400 * _S)  # that day or 2 later
        elif kind == "no_contact":
            signed = draw(signing, n, rng)
            before = signed - days_before(rng, 10, n)
            way = rng.integers(0, 10, n)  # 0-3 no call, 4-6 no sale, 7-9 the other agency
            quiet = (way >= 4) & (way <= 6)
            month.call(key[quiet], agency[quiet], before[quiet], outcomes=NOT_SELLING)
            other = way >= 7
            month.call(key[other], 1 - agency[other], before[other])
            month.contract(kind, key, agency, signed)
        else:  # ghost: no manifest; half its numbers also sold to by a known agency
            signed = draw(signing, n, rng)
            known = rng.random(n) < 0.5
            month.call(key[known], agency[known],
                       signed[known] - days_before(rng, 10, int(known.sum())))
            month.contract(kind, key, np.full(n, 2), signed,
                           agent=rng.integers(1, 21, n) + 900)  # agent901-agent920
    parts = {c: np.concatenate([p[c] for p in month.contracts]) for c in month.contracts[0]}
    frame = pl.DataFrame({"kind": parts["kind"], "phone_key": parts["phone_key"],
                          "agency_i": parts["agency"], "agent_n": parts["agent"],
                          "signed_us": parts["signed"]})
    frame = frame.sort("signed_us").with_columns(
        pl.format("CTR-{}", (pl.int_range(pl.len()) + 1).cast(pl.String).str.zfill(7))
        .alias("contract_id"))
    return frame, month.calls_frame()


def contracts_csv(frame: pl.DataFrame, path: Path, rng: np.random.Generator) -> None:
    """The file as sales operations send it: canonical columns, Rome local times (a tenth
    with the day only), numbers mostly in E.164 and some national."""
    n = frame.height
    local = (pl.col("signed_us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
             .dt.convert_time_zone("Europe/Rome"))
    phone = pl.col("phone_key").cast(pl.String)
    frame.with_columns(
        pl.Series("_day_only", rng.random(n) < 0.1),
        pl.Series("_national", rng.random(n) < 0.3)).select(
        "contract_id",
        pl.when(pl.col("_national")).then(phone.str.strip_prefix("39"))
        .otherwise("+" + phone).alias("phone"),
        pl.when(pl.col("_day_only")).then(local.dt.strftime("%Y-%m-%d"))
        .otherwise(local.dt.strftime("%Y-%m-%d %H:%M:%S")).alias("signed_at"),
        pl.col("agency_i").replace_strict(dict(enumerate(NAMES)), return_dtype=pl.String)
        .alias("agency"),
        ("agent" + pl.col("agent_n").cast(pl.String).str.zfill(3)).alias("agent"),
        pl.lit("demo").alias("campaign"),
    ).write_csv(path)


def background(ws: Workspace, count: int, numbers: int, reserved: np.ndarray,
               rng: np.random.Generator) -> pl.DataFrame:
    """The dialers' month apart from the contracts: bench/ledger.py's synthetic calls to
    numbers that are no contract's (nor the run's), moved into the month's calling hours
    and to the 200 agents."""
    pool = number_pool(ws, numbers, rng)
    pool = pool[~np.isin(pool, reserved)]
    calls = synthetic_calls(pool, count, rng, first_id=0)
    spans = intervals(ws.config().calling_hours, *MONTH)
    callpro = (calls["agency"] == "callpro").to_numpy()
    agent = rng.integers(1, 101, count) + 100 * callpro
    return calls.with_columns(
        pl.Series("started_at", draw(spans, count, rng)).cast(pl.Datetime("us")),
        ("agent" + pl.Series(agent).cast(pl.String).str.zfill(3)).alias("agent"))


def build(ws: Workspace, parent: Path, args: argparse.Namespace) -> dict[str, float]:
    """The contracts file, their intended statuses and the ledger; returns the times."""
    rng = np.random.default_rng(args.seed)
    begin = time.perf_counter()
    contracts, own = build_month(ws, args.contracts, rng)
    if own.height > args.calls:
        raise SystemExit(f"--calls {args.calls:,} is fewer than the contracts' own calls "
                         f"({own.height:,})")
    contracts_csv(contracts, parent / "contracts.csv", rng)
    contracts.select("contract_id", "kind").with_columns(
        pl.col("kind").replace_strict({k: v[1] for k, v in KINDS.items()}).alias("status"),
        pl.col("kind").replace_strict({k: v[2] for k, v in KINDS.items()},
                                      return_dtype=pl.String).alias("reason"),
    ).write_parquet(parent / "intended.parquet")
    reserved = np.concatenate([*run_numbers(ws).values(), contracts["phone_key"].to_numpy()])
    rest = background(ws, args.calls - own.height, args.numbers or args.calls // 4,
                      reserved, rng)
    month_end = dt.datetime.combine(MONTH[1] + dt.timedelta(days=1), dt.time())
    calls = pl.concat([rest, conform(own)]).with_columns(
        ("+" + pl.col("phone_key").cast(pl.String)).alias("phone"),
        pl.lit(month_end, pl.Datetime("us")).alias("recorded_at"),
        pl.lit("import").alias("via")).sort("started_at")
    generated = time.perf_counter()
    ledger = Ledger(ws.ledger_dir)
    size = -(-calls.height // args.segments)
    for n, start in enumerate(range(0, calls.height, size)):
        # synthetic history: no journal, its `optout` calls are no objections (as before)
        repeated = ledger.record(calls.slice(start, size), None,
                                 source=f"import:contracts-{args.seed}-{n}").repeated.height
        if repeated:
            raise SystemExit(f"synthetic calls repeated: {repeated}")
    return {"generate": generated - begin, "write": time.perf_counter() - generated,
            "own_calls": float(own.height)}


# --- the measurement --------------------------------------------------------------------

def verify(ws: Workspace, csv: Path) -> tuple[float, float, str]:
    """`gatekeeper contracts verify` as a subprocess: (wall s, peak RSS MB, its output)."""
    begin = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "gatekeeper.cli",
                          "--home", str(ws.root), "contracts", "verify", str(csv),
                          "--name", NAME], capture_output=True, text=True)
    wall = time.perf_counter() - begin
    if out.returncode not in (0, 1):
        raise SystemExit(f"contracts verify failed ({out.returncode}): "
                         f"{out.stdout}{out.stderr}")
    peak_kb = int(out.stderr.strip().splitlines()[-1])
    return wall, peak_kb / 1024, out.stdout


def compare(ws: Workspace, parent: Path) -> list[str]:
    """Intended status/reason against the report's, per kind (empty: all as intended)."""
    found = pl.read_csv(ws.root / "reports" / "contracts" / NAME / "contracts.csv",
                        infer_schema=False).select("contract_id", "status", "reason")
    joined = pl.read_parquet(parent / "intended.parquet").join(
        found, on="contract_id", how="left", suffix="_found")
    off = joined.filter((pl.col("status") != pl.col("status_found"))
                        | pl.col("status_found").is_null()
                        | (pl.col("reason").fill_null("") != pl.col("reason_found")
                           .fill_null("")))
    return [f"  {kind}: {count:,} {status}/{reason} found as {status_found}/{reason_found}"
            for kind, status, reason, status_found, reason_found, count in
            off.group_by("kind", "status", "reason", "status_found", "reason_found")
            .len().sort("len", descending=True).iter_rows()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000,
                        help="calls in the ledger, the contracts' own included "
                        "(default 1,000,000)")
    parser.add_argument("--contracts", type=int, default=20_000,
                        help="contracts in the file (default 20,000)")
    parser.add_argument("--numbers", type=int, default=0,
                        help="numbers the background calls go to (default calls / 4)")
    parser.add_argument("--segments", type=int, default=30,
                        help="imports the calls arrive in (default 30: one a day)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="build the workspace here and keep it; "
                        "reused if it was built before with the same options and this file")
    args = parser.parse_args()
    parent = args.keep or Path(tempfile.mkdtemp(prefix="gk-contracts-"))
    root, csv = parent / "ws", parent / "contracts.csv"
    wanted = {"calls": args.calls, "contracts": args.contracts, "numbers": args.numbers,
              "segments": args.segments, "seed": args.seed,
              # an edited generator builds again
              "generator": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]}

    def make(root: Path) -> dict[str, float]:
        begin = time.perf_counter()
        ws = demo_workspace(root)
        demo_s = time.perf_counter() - begin
        spent = build(ws, parent, args)
        print(f"built: demo {demo_s:.1f} s, {args.contracts:,} contracts and {args.calls:,} "
              f"calls ({int(spent['own_calls']):,} of them the contracts') generated in "
              f"{spent['generate']:.1f} s, written as {args.segments} segments in "
              f"{spent['write']:.1f} s")
        return {"demo_s": demo_s, **spent}

    try:
        ws, _ = kept(parent, wanted, make)
        held = sum(s.rows for s in Ledger(ws.ledger_dir).segments())
        print(f"verify: gatekeeper --home {root} contracts verify {csv} --name {NAME}")
        results = []
        for run in range(args.runs):
            wall, peak, output = verify(ws, csv)
            results.append((wall, peak))
            print(f"  run {run + 1}: {wall:.2f} s, peak RSS {peak:,.0f} MB")
            if run == 0:
                print("    " + output.strip().replace("\n", "\n    "))
                off = compare(ws, parent)
                print("  every contract has its intended status and reason" if not off else
                      "  contracts not as intended:\n" + "\n".join(off))
        summary = json.loads((ws.root / "reports" / "contracts" / NAME / "summary.json")
                             .read_text())
        wall = statistics.median(r[0] for r in results)
        peak = statistics.median(r[1] for r in results)
        print()
        print(f"contracts verify, {summary['contracts']:,} contracts, {held:,} calls held "
              f"(median of {args.runs}):")
        print(f"  wall {wall:.2f} s (min {min(r[0] for r in results):.2f}, max "
              f"{max(r[0] for r in results):.2f})  {summary['contracts'] / wall:,.0f} "
              f"contracts/s  peak RSS {peak:,.0f} MB")
        print("  by status: " + ", ".join(f"{s} {c:,}" for s, c in
                                          summary["by_status"].items()))
        print("  unlawful by reason: " + ", ".join(
            f"{r} {c:,}" for r, c in summary["unlawful_by_reason"].items()))
        for label, figure, target, unit in (("wall time", wall, TARGET_S, "s"),
                                            ("peak RSS", peak, TARGET_MB, "MB")):
            ok = "PASS" if figure < target else "FAIL"
            print(f"  {label:<10} {figure:10,.2f} {unit:<2} (target < {target:,g} {unit})  "
                  f"{ok}")
    finally:
        if not args.keep:
            shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
