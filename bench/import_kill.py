"""Kill -9 of `gatekeeper calls import` at random moments, then the same import again: an
objection is recorded once however the import was interrupted (issue 21, item 5).

    python bench/import_kill.py                  # 20 trials, 200,000-row exports
    python bench/import_kill.py --trials 5 --rows 50000

Each trial makes a fresh workspace (the repository's gatekeeper.toml and agencies/), writes
a VICIdial-shaped export for CallPro with ~2 % DNC rows (some on a closer leg of a
transfer), times one whole import to know how long it takes, then in a second workspace
starts the import and kills it with SIGKILL (odd trials: at a random instant within that
time; even trials: 0-200 ms after its objections reach the journal, before its calls are
listed: the window where a rerun could record them twice), imports the same file again,
and counts the journal's objections: each DNC call must have exactly one (duplicates and
missing both printed; both must be 0). A third import of the same file must record
nothing. Bounded: --trials imports of --rows rows, no network.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADER = "uniqueid,phone_number,call_date,user,campaign_id,length_in_sec,status\n"
STATUSES = ("NA",) * 40 + ("B",) * 8 + ("A",) * 10 + ("XFER",) * 20 + ("NI",) * 10 + (
    "SALE",) * 5 + ("DROP",) * 3 + ("DNC",) * 2 + ("CALLBK",) * 2


def export(path: Path, rows: int, seed: int) -> set[str]:
    """A day's export, and the call ids whose calls hold an objection (on any leg)."""
    rng = random.Random(seed)
    lines, objecting = [HEADER], set()
    start = 1795420800  # 2026-11-23 09:00 Rome, in epoch seconds (VICIdial's uniqueid)
    n = 0
    while n < rows:
        unique = f"{start + n}.{1000 + n % 9000}"
        number = f"3{rng.randrange(20, 99)}{rng.randrange(10**6, 10**7)}"
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 3600 + n % 36000))
        status = rng.choice(STATUSES)
        lines.append(f"{unique},{number},{at},agent{n % 12:02d},demo,{rng.randrange(0, 600)},"
                     f"{status}\n")
        if status == "DNC":
            objecting.add(unique)
        n += 1
        if status == "XFER" and rng.random() < 0.1 and n < rows:  # a closer leg, later
            closer = rng.choice(("SALE", "NI", "DNC"))
            later = time.strftime("%Y-%m-%d %H:%M:%S",
                                  time.gmtime(start + 3600 + n % 36000 + 30))
            lines.append(f"{unique},{number},{later},closer{n % 3},demo,90,{closer}\n")
            if closer == "DNC":
                objecting.add(unique)
            n += 1
    path.write_text("".join(lines))
    return objecting


def workspace(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(REPO / "gatekeeper.toml", root / "gatekeeper.toml")
    shutil.copytree(REPO / "agencies", root / "agencies")
    return root


def run_import(ws: Path, file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gatekeeper.cli", "calls", "import", str(file),
                             "--agency", "callpro"], cwd=ws, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def objections(ws: Path) -> collections.Counter[str]:
    journal = ws / "data" / "optouts.jsonl"
    if not journal.exists():
        return collections.Counter()
    notes = [json.loads(line).get("note", "") for line in journal.read_text().splitlines()
             if line.strip()]
    return collections.Counter(n.removeprefix("call callpro/") for n in notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    totals = collections.Counter[str]()
    with tempfile.TemporaryDirectory(prefix="gk-kill-") as tmp:
        base = Path(tmp)
        file = base / "export.csv"
        objecting = export(file, args.rows, args.seed)
        timing = workspace(base / "timing")
        began = time.perf_counter()
        done = run_import(timing, file)
        out, err = done.communicate()
        whole = time.perf_counter() - began
        if done.returncode != 0:
            sys.exit(f"the import itself failed: {err.decode().strip()}")
        print(f"{args.rows:,} rows, {len(objecting):,} calls with an objection; a whole import "
              f"takes {whole:.2f} s: {out.decode().strip()}")
        for trial in range(1, args.trials + 1):
            ws = workspace(base / f"trial-{trial}")
            process = run_import(ws, file)
            began = time.perf_counter()
            if trial % 2:  # anywhere in the import
                time.sleep(rng.uniform(0.05, whole))
            else:  # in the window that matters: objections written, the calls not yet
                journal = ws / "data" / "optouts.jsonl"
                while process.poll() is None and not (journal.exists()
                                                      and journal.stat().st_size):
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 0.2))
            delay = time.perf_counter() - began
            killed = process.poll() is None
            if killed:
                process.send_signal(signal.SIGKILL)
            process.wait()
            partial = sum(objections(ws).values())
            again = run_import(ws, file)
            _, err = again.communicate()
            if again.returncode != 0:
                sys.exit(f"trial {trial}: the import after the kill failed: {err.decode()}")
            third = run_import(ws, file)
            third_out, _ = third.communicate()
            counts = objections(ws)
            duplicates = sum(c - 1 for c in counts.values() if c > 1)
            missing = len(objecting - set(counts))
            extra = len(set(counts) - objecting)
            nothing_new = b"nothing new" in third_out
            totals.update(duplicates=duplicates, missing=missing, extra=extra,
                          killed=int(killed), not_idempotent=int(not nothing_new))
            print(f"trial {trial:2d}: kill at {delay:5.2f} s ({'killed' if killed else 'had ended'}"
                  f", {partial:,} objections before the rerun) -> duplicates {duplicates}, "
                  f"missing {missing}, unexpected {extra}, third import "
                  f"{'records nothing' if nothing_new else 'RECORDED AGAIN'}")
            shutil.rmtree(ws)
    print(f"\n{args.trials} trials, {totals['killed']} killed mid-import: duplicate objections "
          f"{totals['duplicates']}, missing {totals['missing']}, unexpected {totals['extra']}, "
          f"re-imports that recorded again {totals['not_idempotent']}")
    if totals["duplicates"] or totals["missing"] or totals["extra"] or totals["not_idempotent"]:
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
