"""Files that come in through the console and go out of it.

No name a browser sends reaches the disk: an upload is stored under a name the server makes
from the file's last name part (accents folded, anything but letters and digits a dash), in
the one folder its kind goes to, never over an existing file, readable by the owner only. A
download is looked up by name in a listing of its folder, so `..` or a slash finds nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path, PurePosixPath

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gatekeeper.core.errors import InputError

LISTS = (".xlsx", ".csv", ".txt", ".parquet")
ANSWERS = (".txt", ".csv")
CHUNK = 1024 * 1024


def safe_stem(client_name: str, fallback: str = "lista") -> tuple[str, str]:
    """(stem, suffix) for a browser's file name: the last part only, ASCII letters, digits
    and dashes, at most 60 characters."""
    last = PurePosixPath(client_name.replace("\\", "/")).name
    suffix = PurePosixPath(last).suffix.lower()
    stem = last[: len(last) - len(suffix)] if suffix else last
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:60].strip("-")
    return stem or fallback, suffix


async def save_upload(upload: object, folder: Path, allowed: tuple[str, ...],
                      fallback: str = "lista") -> Path:
    """The upload stored in `folder` under a safe, new name; owner-only."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InputError("scelga un file da caricare")
    stem, suffix = safe_stem(upload.filename, fallback)
    if suffix not in allowed:
        raise InputError(f"il file {stem}{suffix} non è di un tipo accettato: "
                         f"{', '.join(allowed)}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for n in range(1, 1000):
        path = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        # The copy runs in a worker thread: a 200 MB list written on the event loop held
        # the dialers' checks for most of a second.
        with os.fdopen(fd, "wb") as out:
            await run_in_threadpool(shutil.copyfileobj, upload.file, out, CHUNK)
        return path
    raise InputError(f"troppi file chiamati {stem}{suffix} in {folder.name}/: rinomini il file")


def listed(folder: Path, name: str, allowed: tuple[str, ...] = ()) -> Path | None:
    """The file `name` if it is one of the folder's own files (and of an allowed type)."""
    if not folder.is_dir():
        return None
    for path in folder.iterdir():
        if path.name == name and path.is_file() and (
                not allowed or path.suffix.lower() in allowed):
            return path
    return None
