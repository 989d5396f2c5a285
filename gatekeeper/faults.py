"""Named crash points for tests: GATEKEEPER_FAULT=<point>:kill makes the process die there
with SIGKILL, exactly as a power cut or an OOM kill would, so resume paths are tested on
real crashes."""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("GATEKEEPER_FAULT") == f"{name}:kill":
        os.kill(os.getpid(), signal.SIGKILL)
