"""Raw phone values -> E.164, validity, region and number type (libphonenumber semantics).

phonenumbers is the authority; the jurisdiction says which country a bare number belongs
to. For speed the common shapes (its numbers with or without the international prefix)
are decided columnar with the *same* regular expressions phonenumbers uses, read from its
own metadata, so a library upgrade moves both paths together; every other value (foreign,
junk, odd punctuation) goes to phonenumbers itself, once per distinct value.
tests/test_normalise.py proves the two agree on every row. The fast path is built for a
numbering that keeps its leading zero (Italy); another country's numbers all take the
phonenumbers road until its own fast path is proven.

Before either path, spreadsheet artefacts that phonenumbers cannot know about are undone:
a leading apostrophe, ="…" wrappers, 3331234567.0, 3.331234567E+09 (or Italian
Excel's 3,331234567E+09), tel: prefixes, NBSP.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
import polars as pl
from phonenumbers import PhoneNumberType
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc

from gatekeeper.core.columns import E164, NUMBER_TYPE, REGION, VALID
from gatekeeper.core.errors import InputError
from gatekeeper.core.exprs import when_chain
from gatekeeper.jurisdictions import Jurisdiction

OUTPUT_SCHEMA = {E164: pl.String, VALID: pl.Boolean, REGION: pl.String, NUMBER_TYPE: pl.String}

TYPE_NAMES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}

_SPACES = " \u00a0\u2007\u202f\t\r\n"
# 3.331234567E+09, and as Italian Excel writes it, 3,331234567E+09.
# ASCII digits only: Python's \d and polars' \d disagree on what other scripts' digits are.
_SCI = re.compile(r"^([0-9])[.,]([0-9]+)[eE]\+?([0-9]{1,2})$")
# Separators phonenumbers ignores too; removing them changes nothing it would decide.
_SEPARATORS = r"[ .\-/()\[\]]"
# Values that may carry a spreadsheet artefact; only these pay for unwrapping.
_NEEDS_UNWRAP = r"^\s*(?:[='\u00a0\u2007\u202f]|(?i:tel:))|\.0+\s*$|[eE]\+?\d"


def unwrap_spreadsheet(value: str) -> str:
    """Undo what Excel and CSV exports do to a number; the one-value reference version.

    E-notation is undone only when every digit survived (3.331234567E+09, or with zeros
    padding the mantissa, 3.552755300E+8); a rounded one (3.33123E+09) has lost digits,
    and guessing them would invent a number, so it becomes empty, i.e. invalid.
    """
    text = value.strip(_SPACES)
    if text.startswith("="):
        text = re.sub(r'^="(.*)"$', r"\1", text)
    if text.startswith("'"):
        text = text[1:]
    if text[:4].lower() == "tel:":
        text = text[4:]
    text = text.strip(_SPACES)
    if re.fullmatch(r"[0-9]+\.0+", text):
        return text.split(".")[0]
    sci = _SCI.match(text)
    if sci:
        exponent, digits = int(sci[3]), sci[2]
        exact = len(digits) >= exponent and not digits[exponent:].strip("0")
        return sci[1] + digits[:exponent] if exact else ""
    return text


def _unwrap_expr(col: pl.Expr) -> pl.Expr:
    """Columnar twin of unwrap_spreadsheet."""
    return _undo_notation(_unwrapped_text(col))


def _unwrapped_text(col: pl.Expr) -> pl.Expr:
    """unwrap_spreadsheet up to E-notation: spaces, ="…", ', tel:, a .0 ending."""
    text = col.str.strip_chars(_SPACES)
    text = text.str.replace(r'^="(.*)"$', "$1")
    text = text.str.replace(r"^'", "")
    text = text.str.replace(r"^(?i)tel:", "").str.strip_chars(_SPACES)
    return text.str.replace(r"^([0-9]+)\.0+$", "$1")


def _undo_notation(text: pl.Expr) -> pl.Expr:
    """unwrap_spreadsheet's E-notation step, on _unwrapped_text's text."""
    sci = text.str.extract_groups(_SCI.pattern)
    exponent = sci.struct[2].cast(pl.UInt32, strict=False)
    digits = sci.struct[1]
    exact = ((digits.str.len_chars() >= exponent)
             & digits.str.slice(exponent).str.contains("^0*$"))
    return (pl.when(sci.struct[0].is_null()).then(text)
            .when(exact).then(sci.struct[0] + digits.str.slice(0, exponent))
            .otherwise(pl.lit("")))


# A letter or two touching a number's digits (333l234567, 333123456l, 02 1234567O, across
# spaces or punctuation) is a typo for a digit: phonenumbers drops it and answers another,
# often valid, number, so another person's. Words (tel., cell, int. 12) and the extension
# marker x are left to phonenumbers.
_LETTER_RUNS = re.compile(r"[^\W\d_]+")


def _typed_letter(text: str) -> bool:
    for run in _LETTER_RUNS.finditer(text):
        if len(run.group()) > 2 or run.group() in ("x", "X"):
            continue
        before = next((ch for ch in reversed(text[:run.start()]) if ch.isalnum()), "")
        after = next((ch for ch in text[run.end():] if ch.isalnum()), "")
        if before.isdigit() or after.isdigit():
            return True
    return False


def _parse_clean(text: str | None, region: str
                 ) -> tuple[str | None, bool, str | None, str | None]:
    """phonenumbers' own answer for one unwrapped value: (E.164, valid, region, type); a
    value with a letter typed among its digits is no number."""
    if text is None or _typed_letter(text):
        return None, False, None, None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, False, None, None
    if not phonenumbers.is_valid_number(number):
        return None, False, None, None
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        True,
        phonenumbers.region_code_for_number(number),
        TYPE_NAMES[phonenumbers.number_type(number)],
    )


def reference(value: str | None, jurisdiction: Jurisdiction
              ) -> tuple[str | None, bool, str | None, str | None]:
    """The authority, one value at a time: what tests compare the columnar path against."""
    return _parse_clean(None if value is None else unwrap_spreadsheet(value),
                        jurisdiction.region)


# --- the fast path, built from phonenumbers' metadata for the jurisdiction's region -----

@functools.cache
def _metadata(region: str) -> PhoneMetadata:
    meta = PhoneMetadata.metadata_for_region(region)
    assert meta is not None and meta.general_desc is not None, f"no metadata for {region}"
    return meta


def _general(region: str) -> PhoneNumberDesc:
    """What every valid national number of the region looks like (pattern, lengths)."""
    desc = _metadata(region).general_desc
    assert desc is not None
    return desc


_SPECIAL_ORDER = (
    ("premium_rate", "premium_rate"), ("toll_free", "toll_free"),
    ("shared_cost", "shared_cost"), ("voip", "voip"),
    ("personal_number", "personal_number"), ("pager", "pager"), ("uan", "uan"),
    ("voicemail", "voicemail"),
)


def _matches(nsn: pl.Expr, desc: PhoneNumberDesc | None) -> pl.Expr:
    """phonenumbers._is_number_matching_desc, as an expression."""
    if desc is None or desc.national_number_pattern is None:
        return pl.lit(False)
    pattern = nsn.str.contains(f"^(?:{desc.national_number_pattern})$")
    lengths = [n for n in (desc.possible_length or ()) if n > 0]
    if desc.possible_length and not lengths:
        return pl.lit(False)
    return nsn.str.len_chars().is_in(lengths) & pattern if lengths else pattern


_TYPE_DESCS = ("general_desc", *(attr for attr, _ in _SPECIAL_ORDER), "fixed_line", "mobile")


def _number_type(frame: pl.DataFrame, nsn: str, meta: PhoneMetadata) -> pl.Series:
    """phonenumbers._number_type_helper for the region, over a whole column."""
    flags = frame.select(
        *(_matches(pl.col(nsn), getattr(meta, attr)).alias(attr) for attr in _TYPE_DESCS))
    fixed, mobile = pl.col("fixed_line"), pl.col("mobile")
    cases = [(~pl.col("general_desc"), pl.lit("unknown")),
             *((pl.col(attr), pl.lit(name)) for attr, name in _SPECIAL_ORDER)]
    both = pl.lit("fixed_line_or_mobile")
    if meta.same_mobile_and_fixed_line_pattern:
        cases.append((fixed, both))
    else:
        cases += [(fixed & mobile, both), (fixed, pl.lit("fixed_line")),
                  (mobile, pl.lit("mobile"))]
    return flags.select(when_chain(cases, pl.lit("unknown")).alias(NUMBER_TYPE)).to_series()


def _strip_default_cc(digits: pl.Expr, j: Jurisdiction) -> pl.Expr:
    """phonenumbers' rule for a plain number starting with the calling code (39): drop it
    when the rest looks like a national number and the whole does not, or when the whole
    is too long."""
    desc = _general(j.region)
    general = f"^(?:{desc.national_number_pattern})$"
    rest = digits.str.slice(len(str(j.calling_code)))
    too_long = digits.str.len_chars() > max(desc.possible_length)
    strip = (~digits.str.contains(general) & rest.str.contains(general)) | too_long
    return pl.when(strip).then(rest).otherwise(digits)


def _fast_nsn(compact: pl.Series, j: Jurisdiction) -> pl.Series:
    """National significant number for the common shapes of the jurisdiction's numbers,
    else null (-> phonenumbers)."""
    if not j.keeps_leading_zero:
        return pl.Series([None] * compact.len(), dtype=pl.String)
    cc = str(j.calling_code)
    frame = compact.to_frame("c")
    c = pl.col("c")
    nsn = frame.select(pl.when(c.str.starts_with(j.prefix)).then(c.str.slice(len(j.prefix)))
                       .when(c.str.starts_with("00" + cc)).then(c.str.slice(2 + len(cc)))
                       .otherwise(c).alias("nsn")).to_series()
    plain = compact.str.starts_with(cc).fill_null(False)
    if plain.any():  # only these pay for phonenumbers' country-code heuristic
        fixed = frame.filter(plain).select(_strip_default_cc(c, j)).to_series()
        nsn = nsn.scatter(plain.arg_true(), fixed)
    # Outside these lengths the answer is "invalid", and numbers of another region that
    # share the calling code go to phonenumbers too: it decides those.
    lengths = _general(j.region).possible_length
    lo, hi = min(lengths), max(lengths)
    # ASCII digits: polars' \d takes other scripts' digits, which phonenumbers converts.
    usable = nsn.str.contains(
        rf"^(?:[1-9][0-9]{{{lo - 1},{hi - 1}}}|0[1-9][0-9]{{{lo - 2},{hi - 2}}})$")
    for prefix in j.foreign_prefixes:
        usable = usable & ~nsn.str.starts_with(prefix)
    return nsn.zip_with(usable.fill_null(False), pl.Series([None], dtype=pl.String))


def _clean_column(raw: pl.Series) -> pl.Series:
    """Unwrapped text per value; only values that look like artefacts are rewritten."""
    suspects = raw.str.contains(_NEEDS_UNWRAP).fill_null(False)
    if not suspects.any():
        return raw
    index = suspects.arg_true()
    # The text is made once, then read by the E-notation step: as one expression it was
    # remade for each use in the when-chain (100k suspects: 0.25 -> 0.08 CPU-s).
    text = raw.filter(suspects).to_frame("v").select(_unwrapped_text(pl.col("v")))
    fixed = text.select(_undo_notation(pl.col("v"))).to_series()
    return raw.clone().scatter(index, fixed)


def _residue(clean: pl.Series, region: str) -> pl.DataFrame:
    """phonenumbers' answer for values the fast path does not decide, once per value."""
    distinct = clean.unique().to_list()
    answers = [_parse_clean(v, region) for v in distinct]
    return pl.DataFrame(
        {"_clean": distinct, E164: [a[0] for a in answers], VALID: [a[1] for a in answers],
         REGION: [a[2] for a in answers], NUMBER_TYPE: [a[3] for a in answers]},
        schema={"_clean": pl.String, **OUTPUT_SCHEMA})


CHUNK_ROWS = 1_000_000


def normalise(raw: pl.Series, jurisdiction: Jurisdiction) -> pl.DataFrame:
    """Normalise a column of raw values; returns phone/valid/region/number_type in order.
    A bare number is read as the jurisdiction's.

    Long columns go in slices of CHUNK_ROWS, so memory stays bounded for any list size.
    """
    if raw.len() > CHUNK_ROWS:
        return pl.concat([_normalise_chunk(raw.slice(start, CHUNK_ROWS), jurisdiction)
                          for start in range(0, raw.len(), CHUNK_ROWS)])
    return _normalise_chunk(raw, jurisdiction)


def _normalise_chunk(raw: pl.Series, j: Jurisdiction) -> pl.DataFrame:
    clean = _clean_column(raw.cast(pl.String))
    # Each step is materialised: an expression reused inside a when-chain is recomputed.
    frame = pl.DataFrame({"_clean": clean}).with_columns(
        pl.col("_clean").str.replace_all(_SEPARATORS, "").alias("_compact"))
    frame = frame.with_columns(_fast_nsn(frame.get_column("_compact"), j).alias("_nsn"))
    frame = frame.with_columns(_number_type(frame, "_nsn", _metadata(j.region)))
    valid = pl.col(NUMBER_TYPE) != "unknown"
    frame = frame.select(
        "_clean", "_nsn",
        pl.when(valid).then(j.international(pl.col("_nsn"))).alias(E164),
        valid.alias(VALID),
        pl.when(valid).then(pl.lit(j.region)).alias(REGION),
        pl.when(valid).then(pl.col(NUMBER_TYPE)).alias(NUMBER_TYPE),
    )
    slow = frame.get_column("_nsn").is_null()
    if slow.any():
        index = slow.arg_true()
        answers = frame.filter(slow).select("_clean").join(
            _residue(frame.filter(slow).get_column("_clean"), j.region), on="_clean",
            how="left",
            maintain_order="left", nulls_equal=True)
        frame = frame.with_columns(
            frame.get_column(c).scatter(index, answers.get_column(c)) for c in OUTPUT_SCHEMA)
    return frame.select(
        pl.col(E164), pl.col(VALID).fill_null(False), pl.col(REGION), pl.col(NUMBER_TYPE))


# A landline without its 0 has 6 digits or more; a shorter all-digit value is a
# placeholder like 12345: an invalid number, not an export problem.
LOST_ZERO_MIN_DIGITS = 6


def lost_leading_zero(raw: pl.Series, jurisdiction: Jurisdiction) -> pl.Series:
    """Which values look like a landline that lost its leading 0: all digits (after
    undoing spreadsheet artefacts, 6 at least), no valid number as they stand, a valid
    fixed line with a 0 in front. A cell stored as a number drops the 0 (02 12345678
    becomes 212345678); normalise() rightly calls that invalid, but the reader must say
    why, because the fix is in the export, not in the row. Only where fixed lines begin
    with 0 (Italy)."""
    return restore_leading_zero(raw, jurisdiction).is_not_null().alias(raw.name)


def restore_leading_zero(raw: pl.Series, jurisdiction: Jurisdiction) -> pl.Series:
    """The landline each value must have been where it lost its leading 0 (see
    lost_leading_zero): "0" + its digits, a valid fixed line of the jurisdiction; null
    for every other value. A value valid as it stands (a mobile, 3312345678, even when
    03312345678 is a landline too) is never restored: it is read as it is."""
    j = jurisdiction
    restored = pl.repeat(None, raw.len(), dtype=pl.String, eager=True).alias(raw.name)
    if not j.fixed_lines_start_with_zero:
        return restored
    meta = _metadata(j.region)
    # Narrowed step by step, cheapest and most selective first: a list is mostly valid
    # mobiles and landlines that kept their 0, and only the rest pays for phonenumbers.
    space = f"[{_SPACES}]*"
    frame = _clean_column(raw.cast(pl.String)).to_frame("c").with_row_index("_i").filter(
        pl.col("c").str.contains(f"^{space}[1-9][0-9]{{{LOST_ZERO_MIN_DIGITS - 1},11}}{space}$"))
    c = pl.col("c")
    frame = frame.with_columns(c.str.strip_chars(_SPACES))
    # The fast path reads a plain number not starting with the calling code as its own
    # national number, so one matching the general and mobile patterns is valid as is.
    frame = frame.filter(~(~c.str.starts_with(str(j.calling_code))
                           & _matches(c, meta.general_desc) & _matches(c, meta.mobile)))
    frame = frame.filter(_matches(pl.lit("0") + c, meta.fixed_line))
    if frame.is_empty():
        return restored
    with_zero = frame.select(pl.lit("0") + c).to_series()
    as_is = normalise(frame.get_column("c"), j)
    read = normalise(with_zero, j)
    fixed = (~as_is.get_column(VALID) & read.get_column(VALID)
             & (read.get_column(NUMBER_TYPE) == "fixed_line")
             & (read.get_column(REGION) == j.region)).fill_null(False)
    return restored.scatter(frame.get_column("_i").filter(fixed), with_zero.filter(fixed))


@functools.lru_cache(maxsize=65_536)
def normalise_one(value: str, jurisdiction: Jurisdiction
                  ) -> tuple[str | None, bool, str | None, str | None]:
    """One number typed by a person (CLI, service): the authority itself, which the
    columnar path is proven to agree with (tests/test_normalise.py); microseconds, not
    the milliseconds of a one-row frame. Remembered: a service asked about the same
    numbers and caller ids all day spent most of a check's ~1 ms working out number
    types (~15 pattern matches a number)."""
    phone, valid, region, number_type = reference(value, jurisdiction)
    return phone, bool(valid), region, number_type


def phone_of(value: str, jurisdiction: Jurisdiction) -> str:
    """The E.164 form of a number as a person or agent writes it; refuses junk."""
    phone, valid, _, _ = normalise_one(value, jurisdiction)
    if not valid or phone is None:
        raise InputError(f"'{value}' is not a valid phone number; give it as the person wrote "
                         f"it, e.g. {jurisdiction.number_examples}")
    return phone


def key_of(phone: str) -> int:
    """One E.164 number's key, as phone_key makes them for a column: the same integer
    the store's rows, the ledger and the runs' lists are joined on."""
    return int(phone.removeprefix("+"))


def phone_of_key(keys: pl.Expr) -> pl.Expr:
    """Keys (phone_key) back to E.164 numbers: the inverse of phone_key."""
    return pl.lit("+") + keys.cast(pl.String)


def phone_key(phones: pl.Expr, *, strict: bool = True) -> pl.Expr:
    """E.164 numbers as integers (the digits after "+"): sorting, hashing and joining
    millions of them is far cheaper than of their text. strict=False gives null for a
    value that is not a number instead of failing."""
    return phones.str.strip_prefix("+").cast(pl.Int64, strict=strict)
