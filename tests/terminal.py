"""Run the real `gatekeeper` with its stderr on a pseudo-terminal, as a person at a shell
sees it (progress lines are for terminals only; pipes and CI stay quiet)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path


def run_on_terminal(home: Path, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    """(exit code, stdout, what the terminal showed on stderr)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gatekeeper.cli", "--home", str(home),
                             *args], cwd=home, stdout=subprocess.PIPE, stderr=follower,
                            stdin=subprocess.DEVNULL)
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), shown.decode(errors="replace")
