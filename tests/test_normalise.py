"""Normalisation agrees with phonenumbers on every row, and never invents a number."""

from __future__ import annotations

import random

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekeeper.intake.normalise import (
    _unwrap_expr,
    lost_leading_zero,
    normalise,
    normalise_one,
    reference,
    unwrap_spreadsheet,
)
from gatekeeper.jurisdictions import IT

AREAS = ["02", "06", "011", "010", "051", "055", "081", "0669", "06698", "0831", "0878"]
PREFIXES = ["3", "31", "32", "33", "34", "35", "36", "37", "38", "39", "390", "393", "43",
            "55", "70", "80", "800", "803", "84", "848", "89", "892", "894", "1", "144", "178",
            "199", "4", "5", "7", "9", "0"]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _national(rng: random.Random) -> str:
    head = rng.choice(AREAS + PREFIXES)
    return head + _digits(rng, rng.randint(max(0, 4 - len(head)), 12 - len(head)))


def _messy(rng: random.Random, n: str) -> str:
    k = rng.randint(2, 5)
    shapes = [
        n, f"+39{n}", f"+39 {n}", f"0039{n}", f"0039 {n}", f"39{n}", f"39 {n}",
        f"{n[:k]} {n[k:]}", f"{n[:k]}-{n[k:]}", f"{n[:k]}.{n[k:]}", f"{n[:k]}/{n[k:]}",
        f"({n[:k]}) {n[k:]}", f"+39 (0){n.lstrip('0')}", f"tel:+39{n}", f"TEL:{n}",
        f"'{n}", f'="{n}"', f"{n}.0", f"\u00a0{n}\u00a0", f"\t{n} ", f"+39\u00a0{n}",
        f"{n[:k]}\u00a0{n[k:]}", f"{n} int. 21", f"+{rng.choice(['44', '33', '41', '1'])}{n}",
        f"00{rng.choice(['44', '49', '356'])}{n}", f"+39{n[:k]}+{n[k:]}",
    ]
    if n.isdigit() and 9 <= len(n) <= 12 and n[0] != "0":
        shapes.append(f"{n[0]}.{n[1:]}E+{len(n) - 1:02d}")
        shapes.append(f"{n[0]}.{n[1:5]}E+{len(n) - 1:02d}")
        shapes.append(f"{n[0]},{n[1:]}E+{len(n) - 1:02d}")  # Italian Excel
        shapes.append(f"{n[0]}.{n[1:]}00E+{len(n) - 1}")  # zeros padding the mantissa
        shapes.append(f"{n[0]},{n[1:-1]}E+{len(n) - 1:02d}")  # rounded: lost a digit
    junk = ["", " ", "-", "n/d", "N.D.", "non disponibile", "0", "00", "+", "+39", "abc",
            "333-ABC-DEFG", "null", "#N/D", "????", "1e5"]
    return rng.choice(shapes) if rng.random() > 0.08 else rng.choice(junk)


def test_agrees_with_phonenumbers_on_100k_messy_values() -> None:
    """Differential: the columnar path answers as phonenumbers does, value by value."""
    rng = random.Random(20261122)
    values = [_messy(rng, _national(rng)) for _ in range(100_000)]
    got = normalise(pl.Series(values, dtype=pl.String), IT).rows()
    expected = [reference(v, IT) for v in values]
    mismatches = [(v, g, e) for v, g, e in zip(values, got, expected, strict=True) if g != e]
    assert not mismatches[:20], f"{len(mismatches)} mismatches"
    assert sum(1 for e in expected if e[1]) > 20_000  # a good share are real numbers


def test_known_shapes() -> None:
    values = ["333 123 4567", "+39 02 1234 5678", "0039 06 1234567", "'3331234567",
              '="3331234567"', "3331234567.0", "3.331234567E+09", "tel:+39-333-1234567",
              "393331234567", "02/12345678", "3.33123E+09", "n/d", None]
    phones = normalise(pl.Series(values, dtype=pl.String), IT)["phone"].to_list()
    assert phones == ["+393331234567", "+390212345678", "+39061234567", "+393331234567",
                      "+393331234567", "+393331234567", "+393331234567", "+393331234567",
                      "+393331234567", "+390212345678", None, None, None]


def test_a_letter_typed_among_the_digits_is_no_number() -> None:
    """phonenumbers reads 333l234567 as +39333234567: someone else's number, carrying this
    row's consent. A typo is an invalid number; extensions and words stay as they were."""
    typos = ["333l234567", "333-123-45O7", "333 O234567", "333123456l", "l333123456",
             "02 1234567O", "333\u00a0l\u00a0234567", "333–l–234567", "333 l. 234567",
             "333(l)234567", "333lo234567", "333 ll 234567"]
    kept = {"02 1234 5678 int. 12": "+390212345678", "02 12345678 x12": "+390212345678",
            "tel. 3331234567": "+393331234567", "cell. 3331234567": "+393331234567",
            "333 1234567;ext=12": "+393331234567", "3.331234567E+09": "+393331234567"}
    values = [*typos, *kept]
    got = normalise(pl.Series(values, dtype=pl.String), IT)["phone"].to_list()
    assert got == [None] * len(typos) + list(kept.values())
    assert [normalise_one(v, IT)[0] for v in values] == got


def test_digits_of_other_scripts_are_read_as_digits_by_both_paths() -> None:
    """phonenumbers reads ٣ as 3; the columnar path once kept it, so an opt-out stored as
    +39010174972٣ did not stop calls to +390101749723."""
    values = ["010174972\u0663", "333\u0661234567", "\uff13\uff13\uff131234567"]
    got = normalise(pl.Series(values, dtype=pl.String), IT)["phone"].to_list()
    assert got == ["+390101749723", "+393331234567", "+393331234567"]
    assert [normalise_one(v, IT)[0] for v in values] == got


def test_fixed_numbers_keep_their_leading_zero() -> None:
    frame = normalise(pl.Series(["02 1234567", "+39 02 1234567"]), IT)
    assert frame["phone"].to_list() == ["+39021234567", "+39021234567"]
    assert frame["number_type"].to_list() == ["fixed_line", "fixed_line"]


def test_types_and_regions() -> None:
    frame = normalise(pl.Series(["800 123 456", "899 123 456", "+44 20 7946 0958",
                                 "06 698 12345", "333 1234567"]), IT)
    assert frame["number_type"].to_list() == ["toll_free", "premium_rate", "fixed_line",
                                              "fixed_line", "mobile"]
    assert frame["region"].to_list() == ["IT", "IT", "GB", "VA", "IT"]


italian = st.builds(lambda p, d: p + d, st.sampled_from(["3", "02", "06", "0", "39", "8"]),
                    st.text("0123456789", min_size=4, max_size=10))


@given(st.lists(italian | st.text(max_size=20), max_size=40))
@settings(max_examples=300, deadline=None)
def test_same_answer_as_phonenumbers_for_any_text(values: list[str]) -> None:
    got = normalise(pl.Series(values, dtype=pl.String), IT).rows()
    assert got == [reference(v, IT) for v in values]


@given(st.lists(italian, min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_idempotent(values: list[str]) -> None:
    first = normalise(pl.Series(values, dtype=pl.String), IT)
    valid = first.filter(pl.col("valid"))["phone"]
    again = normalise(valid, IT)
    assert again["phone"].to_list() == valid.to_list()


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd", "Cs"]), max_size=30))
@settings(max_examples=300, deadline=None)
def test_never_invents_a_number_from_text_without_digits(value: str) -> None:
    # Letters can spell a vanity number; anything with fewer than 3 letters and no digit is junk.
    frame = normalise(pl.Series([value], dtype=pl.String), IT)
    if sum(ch.isalpha() for ch in value) < 3:
        assert frame["valid"].to_list() == [False]
        assert frame["phone"].to_list() == [None]


def test_rounded_excel_notation_is_not_guessed() -> None:
    """3.33123E+09 lost digits: turning it into 3331230000 would invent a person's number."""
    assert unwrap_spreadsheet("3.33123E+09") == ""
    assert normalise(pl.Series(["3.33123E+09"]), IT)["valid"].to_list() == [False]


def test_reference_is_phonenumbers() -> None:
    number = phonenumbers.parse("+39 333 1234567", "IT")
    assert reference("+39 333 1234567", IT)[0] == phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164)


def test_italian_and_zero_padded_excel_notation() -> None:
    """Italian Excel writes 3,331234567E+09; some exports pad the mantissa with zeros
    (3.552755300E+8 is exactly 355275530). Both lost no digit, so both are numbers."""
    values = ["3,331234567E+09", "3.552755300E+8", "3,5527553000E+08", "3.55275531E+8",
              "3,5527553E+8", "3.552755301E+8"]
    assert [unwrap_spreadsheet(v) for v in values] == [
        "3331234567", "355275530", "355275530", "355275531", "", ""]
    assert normalise(pl.Series(values), IT)["phone"].to_list() == [
        "+393331234567", "+39355275530", "+39355275530", "+39355275531", None, None]


def _unwrap_column(values: list[str]) -> list[str]:
    return pl.Series(values, dtype=pl.String).to_frame("v").select(
        _unwrap_expr(pl.col("v"))).to_series().to_list()


@given(st.text("0123456789", min_size=6, max_size=12).filter(lambda n: n[0] != "0"),
       st.sampled_from([".", ","]), st.integers(0, 4), st.sampled_from(["E+", "e", "E"]))
@settings(max_examples=300, deadline=None)
def test_exact_excel_notation_gives_back_the_number(number: str, point: str, zeros: int,
                                                   mark: str) -> None:
    written = f"{number[0]}{point}{number[1:]}{'0' * zeros}{mark}{len(number) - 1:02d}"
    assert unwrap_spreadsheet(written) == number
    assert _unwrap_column([written]) == [number]


@given(st.from_regex(r"\A[0-9][.,][0-9]{1,14}[eE]\+?[0-9]{1,2}\Z"))
@settings(max_examples=500, deadline=None)
def test_excel_notation_columnar_twin_agrees(value: str) -> None:
    """Any E-notation: the columnar unwrap and the one-value reference give the same text,
    and a mantissa that lost digits (or has a fraction) never becomes a number."""
    expected = unwrap_spreadsheet(value)
    assert _unwrap_column([value]) == [expected]
    mantissa, exponent = value.replace(",", ".").lower().replace("+", "").split("e")
    kept = mantissa.replace(".", "")
    if len(mantissa.split(".")[1]) < int(exponent):
        assert expected == ""
    elif expected:
        assert int(expected) == int(kept) // 10 ** (len(kept) - 1 - int(exponent))
        assert kept[len(expected):].strip("0") == ""


def test_excel_notation_is_ascii_digits_only_in_both_paths() -> None:
    """Other scripts' digits are not Excel's: both twins leave such text alone."""
    values = ["3.331234567E+\u0660\u0669", "\u0663,331234567E+09", "0.0E\u07c0"]
    assert [unwrap_spreadsheet(v) for v in values] == values
    assert _unwrap_column(values) == values


def _lost_zero_reference(value: str) -> bool:
    """The rule, one value at a time, with phonenumbers as the authority."""
    text = unwrap_spreadsheet(value)
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or len(text) < 6:
        return False
    with_zero = phonenumbers.parse("0" + text, "IT")
    return (not reference(value, IT)[1] and phonenumbers.is_valid_number(with_zero)
            and phonenumbers.region_code_for_number(with_zero) == "IT"
            and phonenumbers.number_type(with_zero) == phonenumbers.PhoneNumberType.FIXED_LINE)


digits_like_cells = st.builds(
    lambda head, tail, shape: shape.format(head + tail),
    st.sampled_from(["2", "6", "11", "55", "81", "3", "33", "34", "8", "9", "1", "7"]),
    st.text("0123456789", min_size=2, max_size=10),
    st.sampled_from(["{}", " {} ", "{}.0", "'{}"]))


@given(st.lists(digits_like_cells | st.text(max_size=12), max_size=30))
@settings(max_examples=300, deadline=None)
def test_lost_leading_zero_is_the_rule_applied_by_phonenumbers(values: list[str]) -> None:
    """Columnar helper == the rule per value; normalise itself still just says invalid."""
    got = lost_leading_zero(pl.Series(values, dtype=pl.String), IT).to_list()
    assert got == [_lost_zero_reference(v) for v in values]
    flagged = [v for v, lost in zip(values, got, strict=True) if lost]
    assert not any(normalise(pl.Series(flagged, dtype=pl.String), IT)["valid"].to_list())


def test_milan_and_rome_landlines_stored_as_numbers() -> None:
    values = ["212345678", "612345678", "212345678.0", "3331234567", "0212345678", "12",
              "12345", "123456"]
    assert lost_leading_zero(pl.Series(values), IT).to_list() == [
        True, True, True, False, False, False, False, True]  # 12345: a placeholder
