"""Small polars helpers the decision table, the normaliser and the file readers share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import polars as pl

from gatekeeper.core.errors import InputError


def when_chain(cases: Sequence[tuple[pl.Expr, pl.Expr]], otherwise: pl.Expr) -> pl.Expr:
    """pl.when(c1).then(v1).when(c2).then(v2)….otherwise(otherwise): the value of the
    first case whose condition holds (a value may be null: that is the answer, unlike
    coalesce)."""
    if not cases:
        return otherwise
    chain: Any = pl  # pl.when, then .when on the chain: the same call at every step
    for condition, value in cases:
        chain = chain.when(condition).then(value)
    return cast(pl.Expr, chain.otherwise(otherwise))


def sector_names(text: pl.Expr) -> pl.Expr:
    """Sectors as consents and campaigns are compared: trimmed, lower case, one space
    between words ("Energia  Elettrica" and "energia elettrica" are one sector). One
    expression for both sides, so a list and a campaign can never normalise apart."""
    return text.str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()


def sector_name(value: str) -> str:
    """One sector's name in its compared form (see sector_names)."""
    return str(pl.select(sector_names(pl.lit(value, pl.String))).item())


def refuse_rows(checked: pl.DataFrame, why: pl.Expr, message: Callable[[int, str], str],
                file: Path) -> pl.DataFrame:
    """All or nothing: the rows with `why` (text, null when the row is fine); any such row
    stops the file with one error naming the first (its `row`) and how many there are."""
    checked = checked.with_columns(why.alias("why"))
    bad = checked.filter(pl.col("why").is_not_null())
    if bad.height:
        first = bad.row(0, named=True)
        raise InputError(message(bad.height, first["why"]), file=file, row=int(first["row"]))
    return checked
