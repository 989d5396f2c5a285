"""A country is a module: its numbering, its do-not-call registers and its calling rules.

Italy is `it.py` (its table in decide/policy/table.py); Romania, France, Spain, the UK and
Germany are packages `ro/ fr/ es/ uk/ de/`, each a `Jurisdiction` in `__init__.py` and its
decision table in `table.py` (written from decide/policy/europe.py's pieces). The
normaliser, the policy, the registers and the disclosure receive a `Jurisdiction` instead
of knowing a country code; a workspace calls several (`[policy] jurisdictions`) and each
number is decided by its own (`by_region`). A country's facts: numbering, time zone (and
zones of its parts), registers (name, validity and its law, how answers come, the adapters
that obtain them), calling hours (several windows a day if its law says so) and holiday
calendar, which calling_hours.py applies, its law on contacts and consent evidence, and
its dated decision table. Adding one is a module and a line in JURISDICTIONS.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import polars as pl

from gatekeeper.core.errors import ConfigError

if TYPE_CHECKING:
    from gatekeeper.decide.policy.table import DecisionTable


@dataclass(frozen=True)
class Register:
    """A do-not-call register: its name, how long its answer may be relied on and by which
    law, and the adapters (registry/adapters.py, by name) that obtain its answers."""

    name: str  # as people know it: "RPO"
    # How long the register's answer is valid by law, and the law: a configuration may ask
    # for less (stricter), never more. None: no such limit.
    validity_days: int | None
    validity_law: str
    adapters: tuple[str, ...]  # names in registry.adapters.ADAPTERS; the first is the default
    # Its name in `gatekeeper register ... --register NAME` (PRODUCT.md "Countries").
    code: str = "rpo"
    # How its answers come: "exchange" (a request file of numbers, an answer file) or
    # "snapshot" (a licensed file of every registered number, dated: TPS).
    delivery: str = "exchange"
    # What an exchange's answer file lists: the numbers "kept" (not registered: the RPO's
    # cleansed list) or the numbers "registered".
    answer: str = "kept"
    # The last day the law makes the register the rule (France: Bloctel until 2026-08-10,
    # when opt-in replaces it); None: no end known.
    until: dt.date | None = None


@dataclass(frozen=True)
class ContactLaw:
    """What a country's law (or its industry code) says of how often a number may be
    called: each limit is (attempts, days), all apply; the rest after a refusal; the
    hours after an abandoned call before the next (Ofcom). A company's [contact] may be
    stricter, never looser (config.Contact)."""

    limits: tuple[tuple[int, int], ...] = ()
    refusal_rest_days: int = 0
    abandoned_rest_hours: int = 0
    law: str = ""


@dataclass(frozen=True)
class Jurisdiction:
    """What the rest of Gatekeeper needs to know about one country."""

    code: str  # the policy's name (gatekeeper.toml [policy] jurisdiction)
    region: str  # libphonenumber's region of its numbers (the default for bare numbers)
    calling_code: int  # the international prefix, without "+"
    dialable_types: tuple[str, ...]  # number types a person can be called on
    # Its do-not-call registers (none: no register to check; the first is the one the
    # RPO's commands and knobs speak of).
    registers: tuple[Register, ...]
    number_examples: str  # how its numbers are written, for error messages
    # [calling_hours] defaults as gatekeeper.toml would write them (key, "HH:MM-HH:MM",
    # several separated by commas, or "" for no calls): the hours its law or code of
    # conduct sets, parsed like the file's.
    calling_hours: tuple[tuple[str, str], ...]
    # The `holidays` package's country code: its national public holidays close the lines.
    holidays_country: str
    # The IANA zone its local times are in: calling hours, a date without a time (consent
    # forms, contracts), a dialer's export without an offset, every time people are shown.
    timezone_name: str
    # How its local time is named after an instant in messages ("22/11/2026 10:00 Rome time").
    time_words: str
    # Number prefixes that share the calling code but belong to another region (+39 06698:
    # the Vatican): always left to libphonenumber.
    foreign_prefixes: tuple[str, ...] = ()
    # The national number keeps its leading 0 (Italy): the columnar fast path in
    # normalise.py reproduces libphonenumber only for such a numbering.
    keeps_leading_zero: bool = False
    # Fixed lines begin with 0: a list that lost it (Excel stored the column as numbers)
    # is recognisable, and refused with the fix.
    fixed_lines_start_with_zero: bool = False
    # The module whose TABLE is its decision table (a `policy.table.DecisionTable`).
    table_module: str = ""
    # Its name in Italian, for what people read ("Francia").
    name_words: str = ""
    # The `holidays` package's subdivision for its calendar (GB: "ENG"), None: national.
    holidays_subdivision: str | None = None
    # The law behind its calling hours; "" when no statute sets them (a company default:
    # then [calling_hours] replaces them, else it may only narrow them).
    hours_law: str = ""
    # What its law says of how often a number may be called (None: the company's
    # [contact] alone).
    contact_law: ContactLaw | None = None
    # The evidence fields its law asks of a consent (config.CONSENT_EVIDENCE's names),
    # besides [policy] consent_evidence.
    consent_evidence: tuple[str, ...] = ()
    # Zones of parts of the country by national number prefix (Spain's Canary Islands:
    # 928, 922 in Atlantic/Canary): calling hours are the callee's wall clock.
    zones_by_prefix: tuple[tuple[str, str], ...] = ()
    # What its numbers begin with when dialled inside the country (France: 0142685300
    # for +33 1 42 68 53 00): the registers' files write numbers so. Italy has none (the
    # 0 of its fixed lines is part of the number).
    trunk_prefix: str = ""
    # Years a consent that a call relied on is kept as evidence after that call (Germany:
    # 5, UWG §7a); `purge` keeps those rows however old the list. 0: no such rule.
    evidence_years_after_call: int = 0
    evidence_law: str = ""

    @property
    def table(self) -> DecisionTable:
        """Its decision table: every code, step, basis and dial-time rule. Imported when
        first read, because the policy package (which builds tables) imports this one."""
        return cast("DecisionTable", importlib.import_module(self.table_module).TABLE)

    @property
    def register(self) -> Register | None:
        """The register its RPO-named commands and knobs mean (None: it has none)."""
        return self.registers[0] if self.registers else None

    @property
    def register_validity_days(self) -> int | None:
        """The law's limit on relying on the register's answer (None: no limit)."""
        return self.register.validity_days if self.register else None

    @property
    def register_validity_law(self) -> str:
        return self.register.validity_law if self.register else ""

    @property
    def prefix(self) -> str:
        return f"+{self.calling_code}"

    def national(self, phones: pl.Expr) -> pl.Expr:
        """E.164 numbers of this country in national form (the register's format)."""
        return pl.lit(self.trunk_prefix) + phones.str.strip_prefix(self.prefix)

    def national_one(self, phone: str) -> str:
        return self.trunk_prefix + phone.removeprefix(self.prefix)

    def international(self, national: pl.Expr) -> pl.Expr:
        """National numbers (as the register writes them) back to E.164."""
        if self.trunk_prefix:
            national = national.str.strip_prefix(self.trunk_prefix)
        return pl.lit(self.prefix) + national

    def zone_of(self, phone: str | None) -> str:
        """The wall clock of the callee of this number (its zone by prefix, else the
        country's)."""
        if phone and self.zones_by_prefix:
            national = phone.removeprefix(self.prefix)
            for prefix, zone in self.zones_by_prefix:
                if national.startswith(prefix):
                    return zone
        return self.timezone_name


from gatekeeper.jurisdictions.de import DE  # noqa: E402  (the modules need Jurisdiction first)
from gatekeeper.jurisdictions.es import ES  # noqa: E402
from gatekeeper.jurisdictions.fr import FR  # noqa: E402
from gatekeeper.jurisdictions.it import IT  # noqa: E402
from gatekeeper.jurisdictions.ro import RO  # noqa: E402
from gatekeeper.jurisdictions.uk import UK  # noqa: E402

JURISDICTIONS: dict[str, Jurisdiction] = {j.code: j for j in (IT, RO, FR, ES, UK, DE)}
# The code a gatekeeper.toml without [policy] jurisdiction means (PRODUCT.md: Italy alone),
# and whose table `gatekeeper rules` prints outside a workspace. A code, not a
# Jurisdiction: nothing takes a jurisdiction by default, the configuration names one.
UNSAID = IT.code


def by_region(region: str | None, configured: tuple[Jurisdiction, ...]
              ) -> Jurisdiction | None:
    """The configured jurisdiction whose numbers are of this libphonenumber region (None:
    a country the controller does not call, or no number)."""
    for j in configured:
        if j.region == region:
            return j
    return None


def register_named(code: str, configured: tuple[Jurisdiction, ...]
                   ) -> tuple[Jurisdiction, Register]:
    """`--register NAME`: the register and its country, among the countries called."""
    for j in configured:
        for r in j.registers:
            if r.code == code:
                return j, r
    known = [r.code for j in configured for r in j.registers]
    every = [r.code for j in JURISDICTIONS.values() for r in j.registers]
    if code in every:
        owner = next(j.code for j in JURISDICTIONS.values()
                     for r in j.registers if r.code == code)
        raise ConfigError(f"register '{code}' is {owner}'s, and {owner} is not among the "
                          f"countries called; add it to [policy] jurisdictions",
                          key="policy.jurisdictions")
    raise ConfigError(f"unknown register '{code}'; accepted: " + (", ".join(known) or "none"),
                      key="register")


def jurisdiction(code: str) -> Jurisdiction:
    """The jurisdiction named in gatekeeper.toml."""
    try:
        return JURISDICTIONS[code]
    except KeyError:
        raise ConfigError(f"jurisdiction '{code}' has no policy; accepted: "
                          + ", ".join(JURISDICTIONS), key="policy.jurisdiction") from None
