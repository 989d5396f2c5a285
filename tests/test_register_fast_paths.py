"""The register exchange's fast paths give the answers of the slow ones.

An import takes the keys its request was written from (kept by the file's sha256) only when
they spell the file's very bytes, and reads a line by arithmetic only when it spells a number
already proven valid; whichever path a file takes, the checks recorded are the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.config import Workspace
from gatekeeper.jurisdictions import ES, FR, IT, UK, Jurisdiction
from gatekeeper.registers.numbers import fast_keys
from gatekeeper.store import Store
from gatekeeper.store import rpo as rpo_store

from .conftest import copy_demo, gk

CHECKED_AT = "2026-11-20T10:00"


def _requested(ws: Workspace) -> list[str]:
    """load, then the request Gatekeeper writes; returns its lines."""
    assert gk(ws, "load").exit_code == 0
    written = gk(ws, "rpo", "request", "--out", "data/rpo/mine.txt", "--as-of", CHECKED_AT)
    assert written.exit_code == 0, written.output
    return (ws.root / "data/rpo/mine.txt").read_text().splitlines()


def _imported(ws: Workspace, lines: list[str]) -> list[tuple[str, bool]]:
    """Every third number registered (missing from the answer); the checks recorded."""
    answer = [line for i, line in enumerate(lines) if i % 3]
    (ws.root / "data/rpo/answer.txt").write_text("".join(f"{x}\n" for x in answer))
    done = gk(ws, "rpo", "import", "--request", "data/rpo/mine.txt", "--response",
              "data/rpo/answer.txt", "--checked-at", CHECKED_AT)
    assert done.exit_code == 0, done.output
    with Store(ws.store_path, read_only=True) as store:
        checks = rpo_store.every_check(store).select("phone", "registered").sort("phone")
    return checks.rows()


def _kept(ws: Workspace) -> list[Path]:
    return sorted((ws.store_dir / rpo_store.REQUESTS_DIR).glob("*.parquet"))


def test_kept_keys_forgotten_or_forged_record_the_same_checks(tmp_path: Path) -> None:
    """The same request imported three ways: with the keys kept, without them (the file
    read line by line), and with kept keys that no longer spell the file (one changed):
    the same checks, and the forged keys are not believed."""
    kept, forgotten, forged = (copy_demo(tmp_path / n) for n in ("a", "b", "c"))
    lines = _requested(kept)
    assert len(_kept(kept)) == 1 and len(lines) > 1000
    with_keys = _imported(kept, lines)
    assert _requested(forgotten) == lines
    shutil.rmtree(forgotten.store_dir / rpo_store.REQUESTS_DIR)
    assert _imported(forgotten, lines) == with_keys
    assert _requested(forged) == lines
    path = _kept(forged)[0]
    keys = pl.read_parquet(path)["phone_key"]
    pl.DataFrame({"phone_key": keys.scatter(0, keys[1])}).write_parquet(path)
    assert _imported(forged, lines) == with_keys
    registered = sum(flag for _, flag in with_keys)
    assert registered == len(lines) - len([x for i, x in enumerate(lines) if i % 3])


def test_an_erasure_forgets_the_kept_request_keys(tmp_path: Path) -> None:
    ws = copy_demo(tmp_path / "demo")
    lines = _requested(ws)
    assert _kept(ws)
    erased = gk(ws, "erase", lines[0], "--ref", "E-1")
    assert erased.exit_code == 0, erased.output
    assert not _kept(ws)


# --- reading a line by its digits ---------------------------------------------------------

COUNTRIES = (IT, FR, ES, UK)
KINDS = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(COUNTRIES), st.sampled_from(KINDS), st.integers(0, 999),
       st.sampled_from(["national", "e164", "00", "spaced", "international"]),
       st.sampled_from(COUNTRIES))
def test_a_line_spells_its_number_or_nothing(j: Jurisdiction, kind: int, tail: int,
                                             style: str, register: Jurisdiction) -> None:
    """A line of digits is the number it spells: in E.164 or 00 form whatever the
    register, in national form the register's country's; with anything besides digits it
    is no key at all (the slow path reads it)."""
    number = phonenumbers.example_number_for_type(j.region, kind)
    assert number is not None
    digits = str(number.national_number)
    number.national_number = int(digits[:-3] + f"{tail:03d}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = j.national_one(e164)
    text = {"national": national, "e164": e164, "00": "00" + e164[1:],
            "spaced": " ".join(national[i:i + 2] for i in range(0, len(national), 2)),
            "international": phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)}[style]
    key = fast_keys(pl.DataFrame({"raw": [text]}), register)[0]
    if style in ("e164", "00") or (style == "national" and register is j):
        assert key == int(e164[1:])
    elif style == "national":
        assert key != int(e164[1:])  # another country's national digits: another number
    else:
        assert key is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_any_text_is_a_key_only_when_it_is_digits(text: str) -> None:
    key = fast_keys(pl.DataFrame({"raw": [text]}, schema={"raw": pl.String}), IT)[0]
    stripped = text.removeprefix("+")
    if key is not None:
        assert stripped.isascii() and stripped.isdigit() and key >= 0
