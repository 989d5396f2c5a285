"""Long work shows where it is on a terminal, and stays quiet in pipes and CI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from gatekeeper.config import Workspace

from .conftest import AS_OF, gk
from .terminal import run_on_terminal
from .test_registry_http import Emulator, emulator  # noqa: F401  (the fixture)


def test_load_and_run_show_progress_on_a_terminal_only(demo: Workspace) -> None:
    code, _, shown = run_on_terminal(demo.root, "load")
    assert code == 0
    assert "acme-2026-11: storing 2,500 rows (source 1 of 3)" in shown
    assert "[########----------------]  33% acme-2026-11: storing" in shown
    assert "pagine-2026: reading pagine-2026.xlsx" in shown and " s)" in shown
    assert gk(demo, "rpo", "import", "--request", "data/rpo/2026-11-20-request.txt",
              "--response", "data/rpo/2026-11-20-response.txt", "--checked-at",
              "2026-11-20T10:00").exit_code == 0
    code, _, shown = run_on_terminal(demo.root, "run", "--campaign", "t", "--purpose",
                                     "telemarketing", "--as-of", AS_OF)
    assert code == 0 and "deciding 5,997 of 5,997 rows" in shown
    assert "[########################] 100% deciding" in shown  # a step with a count: a bar
    assert "writing dialable.csv" in shown
    piped = subprocess.run([sys.executable, "-m", "gatekeeper.cli", "--home", str(demo.root),
                            "run", "--campaign", "p", "--purpose", "telemarketing",
                            "--as-of", AS_OF], capture_output=True, text=True, check=True)
    assert "deciding" not in piped.stderr and "\r" not in piped.stderr


def test_a_slow_or_failing_registry_is_never_a_silent_wait(
        demo: Workspace, emulator: Callable[..., Emulator]) -> None:  # noqa: F811
    emu = emulator("--fail-rate", "0.5", "--slow", "0.4", "--seed", "1")  # first call fails
    assert gk(demo, "load").exit_code == 0
    code, _, shown = run_on_terminal(demo.root, "rpo", "check", "--base-url", emu.url,
                                     "--tls-dir", str(emu.tls), "--as-of", AS_OF)
    assert code == 0 and emu.stats()["faults"] > 0, shown
    assert "the registry did not answer (HTTP 500" in shown and "attempt 2 of 8" in shown
    assert "submitted 5,293/5,293 numbers" in shown


def test_the_bar_is_bounded_and_honest() -> None:
    from gatekeeper.core.progress import bar

    assert bar(0, 10) == "[------------------------]   0%"
    assert bar(5, 10) == "[############------------]  50%"
    assert bar(12, 10) == bar(10, 10) == "[########################] 100%"
    assert bar(3, 0) == "[------------------------]   0%"  # nothing to count: no claim
