"""The table applied to every row at once: reason, basis and the basis in words.

Evaluated as polars expressions; `decide` adds `reason` (null when dialable) and `basis`
(null when suppressed), `with_basis_text` the rule each dialable row relies on, citing
its law (the law from the table, the specifics from the row).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from gatekeeper.core.exprs import when_chain
from gatekeeper.decide.policy.facts import Context
from gatekeeper.decide.policy.table import Basis, DecisionTable, Rule


def first_failure(rules: Sequence[Rule], ctx: Context) -> pl.Expr:
    """The code of the first rule that does not hold (null when all hold): the one
    evaluator of every rule, for a run's rows and for the dial-time answer alike."""
    return when_chain([(~rule.holds(ctx), rule.says(ctx)) for rule in rules
                       if rule.applies(ctx)], pl.lit(None, pl.String))


def bases_for(ctx: Context) -> tuple[Basis, ...]:
    return ctx.table.bases_for(ctx.purpose)


REGISTER_CODES = ("RPO_NOT_CHECKED", "REGISTER_NOT_CHECKED")


def register_bases(ctx: Context) -> frozenset[str] | None:
    """The bases whose rows rely on a register answer (their valid_until is the answer's
    age limit): every basis when a step asks the register of every row (Italy's rule 7,
    France's Bloctel), else those that ask it themselves (Spain's Robinson for bought
    lists and legitimate interest); none when the register is not asked at all."""
    table = ctx.table
    if any(r.code in REGISTER_CODES and r.applies(ctx) for r in table.steps):
        return None
    return frozenset(b.code for b in table.bases_for(ctx.purpose)
                     if any(r.code in REGISTER_CODES and r.applies(ctx) for r in b.rules))


def _step8(ctx: Context) -> tuple[pl.Expr, pl.Expr]:
    """(reason from step 8, basis if it holds): the first basis that fits the row decides.
    A row no basis fits is not dialable (fail closed)."""
    fits = [(pl.col("kind").is_in(b.kinds) & b.when(ctx), b) for b in bases_for(ctx)]
    reason = when_chain([(f, first_failure(b.rules, ctx)) for f, b in fits],
                        pl.lit(ctx.table.no_basis))
    basis = when_chain([(f, pl.lit(b.code)) for f, b in fits], pl.lit(None, pl.String))
    return reason, basis


def decide(rows: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """Add reason (null when dialable) and basis (null when suppressed) to every row."""
    step8, basis = _step8(ctx)
    steps = first_failure(ctx.table.steps, ctx)
    decided = rows.with_columns(pl.coalesce(steps, step8).alias("reason"))
    return decided.with_columns(pl.when(pl.col("reason").is_null()).then(basis).alias("basis"))


def _basis_texts(ctx: Context) -> dict[str, pl.Expr]:
    """The rule each basis relies on, in words: its law, then the row's specifics."""
    table = ctx.table
    return {b.code: pl.concat_str([pl.lit(f"{table.codes[b.code].law}: "), b.detail(ctx)])
            for b in table.bases}


def basis_text(ctx: Context) -> pl.Expr:
    """The rule each dialable row relies on, in words, citing its law, as one expression:
    the obvious form, which tests hold with_basis_text to."""
    return when_chain([(pl.col("basis") == code, text)
                       for code, text in _basis_texts(ctx).items()], pl.lit(None, pl.String))


BASIS_TEXT_INPUTS = ("rpo_checked_at", "consent_date", "supplier_name", "consent_proof",
                     "supplier_reviewed_on")


def with_basis_text(rows: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """rows plus basis_text: the same words as basis_text, for millions of rows."""
    codes, texts = basis_text_codes(rows, ctx)
    return rows.with_columns(texts.gather(codes))


def basis_text_codes(rows: pl.DataFrame, ctx: Context) -> tuple[pl.Series, pl.Series]:
    """Each row's basis_text as a place in a series of texts: (codes, texts).

    A list's texts are few, one per basis and the few facts it cites (a date, a
    supplier), so each distinct text is built once (0.24 -> 0.12 CPU-s per million rows),
    and rows that keep their code instead of their text hold 4 bytes instead of ~150.
    Texts that do not repeat (a proof id per row) are built row by row, where looking for
    repeats would cost more."""
    several = len(ctx.countries) > 1
    keys = ["basis", *BASIS_TEXT_INPUTS, *(("region",) if several else ())]
    # rechunk: polars 2.1 panics formatting a date in a frame whose columns are chunked
    # unlike each other (as a concatenation of batches leaves them).
    distinct = rows.select(keys).unique().rechunk()
    if distinct.height * 2 > rows.height:
        return (pl.int_range(rows.height, dtype=pl.UInt32, eager=True),
                _texts(rows.select(keys).rechunk(), ctx, several))
    codes = rows.select(keys).join(distinct.with_row_index("_code"), on=keys, how="left",
                                   maintain_order="left", nulls_equal=True)
    return codes.get_column("_code"), _texts(distinct, ctx, several)


def _texts(rows: pl.DataFrame, ctx: Context, several: bool) -> pl.Series:
    """Each row's basis_text, each text expression evaluated only over the rows of its
    basis (and its country: each cites its own law). A when-chain builds every text for
    every row and keeps one (3.6-4.2 s per 6.4M rows); this builds each once (1.2-1.3 s)."""
    indexed = rows.with_row_index("_i")
    parts = [part for country, mine in (ctx.parts() if several else [(ctx, pl.lit(True))])
             for part in _texts_over(indexed.filter(mine), country)]
    return pl.concat(parts).sort("_i").get_column("basis_text").rechunk()


def _texts_over(indexed: pl.DataFrame, ctx: Context) -> list[pl.DataFrame]:
    texts = _basis_texts(ctx)
    parts = [indexed.filter(pl.col("basis") == code).select("_i", text.alias("basis_text"))
             for code, text in texts.items()]
    others = indexed.filter(~pl.col("basis").is_in(list(texts)) | pl.col("basis").is_null())
    parts.append(others.select("_i", pl.lit(None, pl.String).alias("basis_text")))
    return parts


def generic_basis_text(code: str, table: DecisionTable) -> str:
    """A basis in words without a row's specifics (for a run whose report is gone)."""
    entry = table.codes[code]
    return f"{entry.law}: {entry.text}"
