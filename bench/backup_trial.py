"""Backup trial: a backup taken during a large `gatekeeper calls import` restores whole.

    python bench/backup_trial.py                        # 10 trials, a 1M-call export
    python bench/backup_trial.py --calls 200000 --trials 5

PRODUCT.md, Quality bars, "Concurrent" (and "Nothing lost"): calls written while a backup
reads never leave a backup that restores broken. The ledger writes a segment file and then
lists it in data/ledger/segments.jsonl; a backup that copied the folder apart from its list
could name a segment it lacked, and every check, call list and contract replay of the
restored workspace then failed.

It builds the demo workspace (the README's quick start, with its agencies and calls) once
in a temporary folder, writes one dialer export of `--calls` synthetic calls into its
data/calls/ (where a call centre keeps them, so backups copy them too), and times one
import. Then each trial, on a fresh copy of that workspace: `gatekeeper calls import` of
the export in its own process and, after a delay spread evenly over the import's length
from trial to trial, `gatekeeper backup` in another (started late, it waits for the
import's hold on the ledger and copies its segment); then `gatekeeper restore` of the
backup into a new folder, where `audit verify` must exit 0, `check` and `calls list` must
answer (exit 0 or 1) and every listed segment must be there with its sha256. Prints each
trial and the medians. Every process is bounded by a timeout; the temporary folders are
removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from concurrency import quick_start  # noqa: E402  (bench/concurrency.py)
from ledger import import_csv, number_pool  # noqa: E402  (bench/ledger.py)

DIAL_AT = "2026-11-23T10:00"  # Monday 11:00 in Rome: inside the calling hours
TIMEOUT = 1800  # seconds any one command may take before the trial gives up


def gk_process(home: Path, *args: str) -> tuple[int, str, float]:
    """The real CLI in its own process: (exit status, output, seconds)."""
    begin = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gatekeeper.cli", "--home", str(home),
                           *args], capture_output=True, text=True, timeout=TIMEOUT)
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - begin


def last_line(output: str) -> str:
    return (output.strip().splitlines() or [""])[-1][:300]


def segments_whole(root: Path) -> list[str]:
    """Listed segments the restored ledger lacks, or holds with other bytes."""
    listing = root / "data" / "ledger" / "segments.jsonl"
    wrong = []
    for line in listing.read_text().splitlines() if listing.exists() else []:
        item = json.loads(line)
        path = root / "data" / "ledger" / "segments" / item["name"]
        if not path.is_file():
            wrong.append(f"{item['name']} missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != item["sha256"]:
            wrong.append(f"{item['name']} differs")
    return wrong


def trial(base: Path, scratch: Path, export: str, phone: str, delay: float, n: int
          ) -> dict[str, Any]:
    ws = scratch / f"trial-{n}"
    shutil.copytree(base, ws)
    saved = scratch / f"backup-{n}.tar"
    importer = subprocess.Popen([sys.executable, "-m", "gatekeeper.cli", "--home", str(ws),
                                 "calls", "import", str(ws / export), "--agency",
                                 "connecto"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    begin = time.perf_counter()
    time.sleep(delay)
    backup_code, backup_out, backup_s = gk_process(ws, "backup", str(saved))
    import_out = importer.communicate(timeout=TIMEOUT)[0]
    import_s = time.perf_counter() - begin
    restored = scratch / f"restored-{n}"
    result: dict[str, Any] = {
        "delay": delay, "import_s": import_s, "import_exit": importer.returncode,
        "backup_s": backup_s, "backup_exit": backup_code,
        "backup_mb": saved.stat().st_size / 1e6 if saved.exists() else 0.0,
        "notes": [] if backup_code == 0 else [f"backup: {last_line(backup_out)}"]}
    if importer.returncode != 0:
        result["notes"].append(f"import: {last_line(import_out)}")
    if backup_code == 0:
        code, out, _ = gk_process(scratch, "--home", str(restored), "restore", str(saved))
        result["restore_exit"] = code
        audit, audit_out, audit_s = gk_process(restored, "audit", "verify")
        check, check_out, _ = gk_process(restored, "check", phone, "--purpose",
                                         "telemarketing", "--at", DIAL_AT)
        listed, listed_out, _ = gk_process(restored, "calls", "list", phone)
        wrong = segments_whole(restored)
        result.update(audit_exit=audit, audit_s=audit_s, check_exit=check,
                      list_exit=listed, wrong_segments=len(wrong))
        result["notes"] += [f"{what}: {last_line(text)}" for what, code_, text in (
            ("restore", code, out), ("audit verify", audit, audit_out),
            ("check", check, check_out), ("calls list", listed, listed_out))
            if code_ not in (0, 1) or (what == "audit verify" and code_)] + wrong[:2]
    result["whole"] = (backup_code == 0 and result.get("restore_exit") == 0
                       and result.get("audit_exit") == 0
                       and result.get("check_exit") in (0, 1)
                       and result.get("list_exit") in (0, 1)
                       and result.get("wrong_segments") == 0)
    shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(restored, ignore_errors=True)
    saved.unlink(missing_ok=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000,
                        help="calls in the export imported during each backup")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="gk-backup-trial-"))
    try:
        base = scratch / "base"
        ws = quick_start(base)
        pool = number_pool(ws, max(args.calls // 10, 1000), np.random.default_rng(args.seed))
        export = f"data/calls/export-{args.calls}.csv"
        import_csv(base / export, args.calls, pool, args.seed)
        phone = "+" + str(pool[0])
        # One import on a throwaway copy: how long the backups' delays are spread over.
        timing = scratch / "timing"
        shutil.copytree(base, timing)
        code, out, import_s = gk_process(timing, "calls", "import", str(timing / export),
                                         "--agency", "connecto")
        if code != 0:
            raise SystemExit(f"the export does not import: {last_line(out)}")
        shutil.rmtree(timing)
        print(f"backup trial: {args.trials} trial(s), an export of {args.calls:,} calls "
              f"({(base / export).stat().st_size / 1e6:.0f} MB) importing in "
              f"{import_s:.1f} s alone", flush=True)
        results = []
        for n in range(args.trials):
            delay = import_s * (n + 0.5) / args.trials
            r = trial(base, scratch, export, phone, delay, n)
            results.append(r)
            print(f"trial {n + 1}: backup at +{delay:.1f} s took {r['backup_s']:.1f} s "
                  f"({r['backup_mb']:.0f} MB), import {r['import_s']:.1f} s; restored: "
                  f"audit verify exit {r.get('audit_exit')}, check exit "
                  f"{r.get('check_exit')}, calls list exit {r.get('list_exit')}, "
                  f"segments wrong {r.get('wrong_segments')}: "
                  + ("whole" if r["whole"] else "BROKEN"), flush=True)
            for note in r["notes"]:
                print(f"  {note}")
        broken = sum(not r["whole"] for r in results)
        print(f"{broken} of {len(results)} restored backups broken; median backup "
              f"{statistics.median(r['backup_s'] for r in results):.1f} s, median import "
              f"beside it {statistics.median(r['import_s'] for r in results):.1f} s")
        sys.exit(1 if broken else 0)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
