"""A country is a module: its numbering, its do-not-call register and its calling rules.

Everything that makes Gatekeeper Italian lives in `it.py`; the normaliser, the policy, the
registry and the disclosure receive a `Jurisdiction` instead of knowing a country code.
Adding Romania, France, Spain, the UK or Germany means a module beside `it.py` (its
numbering facts, its register's name and adapters, its calling hours and holiday calendar,
which calling_hours.py applies, and its decision table) and one line in JURISDICTIONS, not
an edit in every layer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import polars as pl

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..policy.table import DecisionTable


@dataclass(frozen=True)
class Jurisdiction:
    """What the rest of Gatekeeper needs to know about one country."""

    code: str  # the policy's name (gatekeeper.toml [policy] jurisdiction)
    region: str  # libphonenumber's region of its numbers (the default for bare numbers)
    calling_code: int  # the international prefix, without "+"
    dialable_types: tuple[str, ...]  # number types a person can be called on
    register: str  # the do-not-call register's name, as people know it
    number_examples: str  # how its numbers are written, for error messages
    # [calling_hours] defaults as gatekeeper.toml would write them (key, "HH:MM-HH:MM" or
    # "" for no calls): the hours its law or code of conduct sets, parsed like the file's.
    calling_hours: tuple[tuple[str, str], ...]
    # The `holidays` package's country code: its national public holidays close the lines.
    holidays_country: str
    # Number prefixes that share the calling code but belong to another region (+39 06698:
    # the Vatican): always left to libphonenumber.
    foreign_prefixes: tuple[str, ...] = ()
    # The national number keeps its leading 0 (Italy): the columnar fast path in
    # normalise.py reproduces libphonenumber only for such a numbering.
    keeps_leading_zero: bool = False
    # Fixed lines begin with 0: a list that lost it (Excel stored the column as numbers)
    # is recognisable, and refused with the fix.
    fixed_lines_start_with_zero: bool = False
    # How long the register's answer is valid by law, and the law: a configuration may ask
    # for less (stricter), never more. None: no such limit.
    register_validity_days: int | None = None
    register_validity_law: str = ""
    # The zone its local times are read in (a dialer's export without an offset).
    timezone_name: str = "Europe/Rome"
    # The module whose TABLE is its decision table (a `policy.table.DecisionTable`).
    table_module: str = ""

    @property
    def table(self) -> DecisionTable:
        """Its decision table: every code, step, basis and dial-time rule. Imported when
        first read, because the policy package (which builds tables) imports this one."""
        return cast("DecisionTable", importlib.import_module(self.table_module).TABLE)

    @property
    def prefix(self) -> str:
        return f"+{self.calling_code}"

    def national(self, phones: pl.Expr) -> pl.Expr:
        """E.164 numbers of this country in national form (the register's format)."""
        return phones.str.strip_prefix(self.prefix)

    def national_one(self, phone: str) -> str:
        return phone.removeprefix(self.prefix)

    def international(self, national: pl.Expr) -> pl.Expr:
        """National numbers (as the register writes them) back to E.164."""
        return pl.lit(self.prefix) + national


from .it import IT  # noqa: E402  (the module needs Jurisdiction first)

JURISDICTIONS: dict[str, Jurisdiction] = {j.code: j for j in (IT,)}
DEFAULT = IT


def jurisdiction(code: str) -> Jurisdiction:
    """The jurisdiction named in gatekeeper.toml."""
    try:
        return JURISDICTIONS[code]
    except KeyError:
        raise ConfigError(f"jurisdiction '{code}' has no policy; accepted: "
                          + ", ".join(JURISDICTIONS), key="policy.jurisdiction") from None
