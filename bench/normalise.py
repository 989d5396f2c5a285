"""Normalisation throughput: rows/s and peak memory for typical Italian lists.

    python bench/normalise.py --rows 1000000 10000000

A typical list: 65% mobiles, 35% fixed lines, written in the usual messy ways, 1% junk or
foreign. Set POLARS_MAX_THREADS=1 to measure one core.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import polars as pl

from gatekeeper.intake.normalise import normalise
from gatekeeper.jurisdictions import IT


def typical_list(rows: int, seed: int = 7) -> pl.Series:
    """Seeded messy Italian numbers, built columnar (the generator must not dominate memory)."""
    rng = np.random.default_rng(seed)
    mobile_prefix = pl.Series(["320", "328", "333", "347", "366", "380", "392", "393"])
    fixed_prefix = pl.Series(["02", "06", "011", "055", "081"])
    frame = pl.DataFrame({
        "mobile": rng.random(rows) < 0.65,
        "mp": mobile_prefix.gather(rng.integers(0, 8, rows)),
        "fp": fixed_prefix.gather(rng.integers(0, 5, rows)),
        "tail": rng.integers(1_000_000, 9_999_999, rows),
        "shape": rng.integers(0, 10, rows).astype(np.int8),
        "junk": rng.random(rows) < 0.01,
    })
    n = pl.when(pl.col("mobile")).then(pl.col("mp")).otherwise(pl.col("fp")) + pl.col(
        "tail").cast(pl.String)
    messy = (pl.when(pl.col("junk")).then(pl.lit("n/d"))
             .when(pl.col("shape") == 0).then(pl.lit("+39 ") + n)
             .when(pl.col("shape") == 1).then(pl.lit("0039") + n)
             .when(pl.col("shape") == 2).then(n.str.slice(0, 3) + pl.lit(" ") + n.str.slice(3))
             .when(pl.col("shape") == 3).then(n + pl.lit(".0"))
             .when(pl.col("shape") == 4).then(pl.lit("39") + n)
             .otherwise(n))
    return frame.select(messy.alias("raw")).to_series()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    for rows in args.rows:
        values = typical_list(rows)
        started = time.perf_counter()
        out = normalise(values, IT)
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"normalise {rows:>11,} rows: {elapsed:6.2f} s  {rows / elapsed:>12,.0f} rows/s  "
              f"valid {int(out['valid'].sum()):,}  peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
