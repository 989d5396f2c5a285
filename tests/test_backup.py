"""backup and restore: a consistent copy, taken while agents record objections."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.evidence.backup import backup
from gatekeeper.privacy.optouts import Journal

from .conftest import AS_OF, gk

BURST = textwrap.dedent("""
    import sys
    from pathlib import Path
    from gatekeeper.jurisdictions import IT
    from gatekeeper.privacy.optouts import Journal, add_optout
    journal = Journal(Path(sys.argv[1]))
    i = 0
    while True:
        phone = f"+39347{int(sys.argv[2]) * 1000000 + i:07d}"
        add_optout(journal, IT, phone=phone, channel="operator", by="agent")
        print(phone, flush=True)   # acknowledged only after add returned
        i += 1
""")


def test_a_backup_taken_during_a_burst_of_optouts_loses_none_acknowledged_before_it(
        scrubbed: Workspace, tmp_path: Path) -> None:
    agents = [subprocess.Popen([sys.executable, "-c", BURST, str(scrubbed.journal_path),
                                str(n)], stdout=subprocess.PIPE, text=True) for n in range(2)]
    acknowledged: list[str] = []
    try:
        for _ in range(40):  # some objections in, more coming while the backup runs
            for agent in agents:
                assert agent.stdout is not None
                acknowledged.append(agent.stdout.readline().strip())
        result = backup(scrubbed, tmp_path / "b.tar.gz")
    finally:
        for agent in agents:
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait()
            assert agent.stdout is not None
            agent.stdout.close()
    assert result.files > 10
    restored = tmp_path / "again"
    done = gk(Workspace(tmp_path), "--home", str(restored), "restore", str(result.path))
    assert done.exit_code == 0, done.output
    ws = Workspace(restored)
    phones = set(Journal(ws.journal_path).read().events["phone"].to_list())
    assert set(acknowledged) <= phones
    assert gk(ws, "audit", "verify").exit_code == 0  # chain and checkpoints hold
    ran = gk(ws, "run", "--campaign", "after", "--purpose", "telemarketing", "--as-of", AS_OF)
    assert ran.exit_code == 0, ran.output
    before = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")
    after = pl.read_csv(ws.report_dir("after") / "dialable.csv")
    assert set(after["phone"]) <= set(before["phone"])  # the same lists, store and RPO


def test_restore_over_a_workspace_keeps_newer_optouts_and_redoes_erasures(
        scrubbed: Workspace, tmp_path: Path) -> None:
    dialable = pl.read_csv(scrubbed.report_dir("demo") / "dialable.csv")["phone"]
    saved = backup(scrubbed, tmp_path / "b.tar").path
    assert gk(scrubbed, "optout", "add", dialable[0], "--channel", "letter", "--by", "bo",
              "--at", "2026-11-22T09:00").exit_code == 0
    assert gk(scrubbed, "erase", dialable[1], "--ref", "PEC-77").exit_code == 0
    refused = gk(scrubbed, "restore", str(saved))
    assert refused.exit_code == 2 and "--force" in refused.output
    done = gk(scrubbed, "restore", str(saved), "--force")
    assert done.exit_code == 0, done.output
    assert "kept" in done.output and "PEC-77" in done.output
    for phone, reason in ((dialable[0], "OPTED_OUT"), (dialable[1], "ERASED")):
        check = gk(scrubbed, "check", phone, "--purpose", "telemarketing", "--at", AS_OF)
        assert check.exit_code == 1 and reason in check.output, check.output
    # The restored list file had the person's row again: the erasure reached it again.
    national = dialable[1].removeprefix("+39")
    assert national not in (scrubbed.root / "data" / "lists" / "acme-2026-11.csv").read_text(
        encoding="utf-8-sig").replace(" ", "")


def test_a_backup_holds_writers_but_not_agents(scrubbed: Workspace, tmp_path: Path) -> None:
    """While the store is copied a load waits (never sees half a store); an opt-out does
    not."""
    started = time.monotonic()
    backup(scrubbed, tmp_path / "b.tar")
    assert time.monotonic() - started < 60
    assert gk(scrubbed, "optout", "add", "3471234567", "--channel", "email",
              "--by", "bo").exit_code == 0


def test_a_backup_holds_the_workspace_not_a_checkout_or_its_environments(
        scrubbed: Workspace, tmp_path: Path) -> None:
    """The demo workspace is also a checkout: a virtualenv, .git, caches and build output
    in it are no workspace state (a .venv alone is thousands of files)."""
    import tarfile

    root = scrubbed.root
    for junk in (".venv/lib/site.py", ".git/HEAD", "build/lib/x.py", "gk.egg-info/PKG-INFO",
                 ".pytest_cache/v", "data/__pycache__/x.pyc", "data/lists/dist/x.csv"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("x")
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    out = tmp_path / "b.tar"
    assert gk(scrubbed, "backup", str(out)).exit_code == 0
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.split("/")[0] in (".venv", ".git", "build",
                                                         "gk.egg-info", ".pytest_cache")
                or "__pycache__" in n]
    assert "gatekeeper.toml" in names and any(n.startswith("sources/") for n in names)
    assert any(n.startswith("data/lists/") for n in names)
    assert "data/lists/dist/x.csv" in names  # a list's folder named dist is state
