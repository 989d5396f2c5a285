"""Files the user names on the command line (--out): checked before anything is written.

A letter for the Garante or a request file for the RPO that cannot be written must say
which path is wrong and why (no such folder, a file where a folder should be), not end in
an operating-system traceback after the work that produced it is lost.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError


def output_path(path: Path, option: str = "--out", *, make_folder: bool = False) -> Path:
    """path, once its folder exists (made first when make_folder) and it is no folder."""
    folder = path.parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise InputError(f"{existing} is a file, not a folder; choose another {option}",
                         file=path)
    if make_folder:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"the folder {folder} cannot be made ({exc.strerror}); choose "
                             f"another {option}", file=path) from None
    elif not folder.is_dir():
        raise InputError(f"the folder {folder} does not exist; create it or choose another "
                         f"{option}", file=path)
    if path.is_dir():
        raise InputError(f"is a folder; give {option} a file name inside it", file=path)
    return path


def write_output(path: Path, text: str, option: str = "--out") -> None:
    """Write text (UTF-8) to a file the user named, or say why it cannot be."""
    try:
        output_path(path, option).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot be written ({exc.strerror}); choose another {option}",
                         file=path) from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(reports: Path) -> None:
    """Half-written report folders of runs that were killed (a power cut, kill -9): their
    process is gone, so nobody will finish or remove them."""
    for folder in reports.glob(".*.tmp-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    for folder in reports.glob(".*.old-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def report_folder(target: Path) -> Iterator[Path]:
    """A sibling temp folder swapped in at the end: readers never see half a report, and a
    failed run leaves the previous one in place."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _remove_leftovers(target.parent)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        yield tmp
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
