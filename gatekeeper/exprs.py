"""Small polars helpers the decision table and the normaliser share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import polars as pl


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
