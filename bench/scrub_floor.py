"""The floor of bench/scrub.py: the least any scrub must do, as a script of its own.

    python bench/scrub_floor.py WORKSPACE

Imports polars alone (a competent script's start-up), so the bench compares each of
Gatekeeper's commands, a process each, with a process doing the bare minimum.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl


def _floor(root: Path) -> int:
    """The least any scrub must do, as a yardstick measured in the same run: read the
    lists, keep each value's digits, drop the numbers the register or an opt-out blocks,
    write what is left. No validation, no evidence, no reasons, no reports."""
    rpo = root / "data" / "rpo"
    asked = pl.scan_csv(rpo / "req.txt", has_header=False, new_columns=["n"],
                        schema_overrides={"n": pl.String})
    kept = pl.scan_csv(rpo / "resp.txt", has_header=False, new_columns=["n"],
                       schema_overrides={"n": pl.String})
    blocked = pl.concat([
        asked.join(kept, on="n", how="anti"),
        pl.scan_csv(root / "data" / "optouts.csv", schema_overrides={"phone": pl.String})
        .select(pl.col("phone").alias("n"))])
    lists = pl.concat([pl.scan_csv(f, separator=";", infer_schema=False).select(
        pl.col("Telefono").str.replace_all(r"\D", "").str.strip_prefix("39").alias("n"))
        for f in sorted((root / "data" / "lists").glob("*.csv"))])
    out = lists.join(blocked, on="n", how="anti").unique().collect()
    out.write_csv(root / "floor.csv")
    return out.height


if __name__ == "__main__":
    _floor(Path(sys.argv[1]))
