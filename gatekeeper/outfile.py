"""Files the user names on the command line (--out): checked before anything is written.

A letter for the Garante or a request file for the RPO that cannot be written must say
which path is wrong and why (no such folder, a file where a folder should be), not end in
an operating-system traceback after the work that produced it is lost.
"""

from __future__ import annotations

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
