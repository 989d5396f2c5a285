"""What a byte-order mark says about a text file's encoding, in one place.

Excel, Notepad and exports from CRMs mark UTF-16 and UTF-32 files with a byte-order mark;
UTF-32-LE's mark begins with UTF-16-LE's, so the longer one must be tried first or a
UTF-32 file is read as UTF-16 full of NUL characters.
"""

from __future__ import annotations

import codecs

BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def bom_encoding(data: bytes) -> str | None:
    """"utf-32" or "utf-16" when data starts with that byte-order mark, else None (the
    codecs of those names read the mark and the byte order from it)."""
    return next((encoding for bom, encoding in BOMS if data.startswith(bom)), None)
