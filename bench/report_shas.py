"""The sha256 of every report file the README's quick start writes, for a before/after check.

A refactor that should not change what people read is proven by this printing the same
lines on both sides (run it on each commit and diff). The run id differs between runs by
design (it names the run's inputs and the moment), so it is masked in the text files.

    python bench/report_shas.py            # this checkout
    python bench/report_shas.py --keep DIR # and keep the workspace made in DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUICK_START = (
    ["load"],
    ["rpo", "import", "--request", "data/rpo/2026-11-20-request.txt", "--response",
     "data/rpo/2026-11-20-response.txt", "--checked-at", "2026-11-20T10:00"],
    ["optout", "import", "data/optouts-demo.csv"],
    ["run", "--campaign", "demo", "--purpose", "telemarketing", "--as-of", "2026-11-22"],
)


def workspace(target: Path) -> None:
    """The repository's tracked files (the demo workspace) copied to target, quick start run."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split("\n")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in QUICK_START:
        subprocess.run([sys.executable, "-m", "gatekeeper.cli", *args], cwd=target, env=env,
                       check=True, capture_output=True)


def shas(folder: Path) -> list[str]:
    run_id = json.loads((folder / "summary.json").read_text())["run_id"].encode()
    lines = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.suffix in (".html", ".json", ".csv"):
            data = data.replace(run_id, b"RUN_ID")
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {path.name}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="make the workspace here and keep it")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        workspace(args.keep)
        print("\n".join(shas(args.keep / "reports" / "demo")))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workspace(Path(tmp))
        print("\n".join(shas(Path(tmp) / "reports" / "demo")))


if __name__ == "__main__":
    main()
