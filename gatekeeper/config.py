"""The workspace folder and its gatekeeper.toml.

A workspace is a folder: gatekeeper.toml, sources/*.toml, data/, reports/.
Every key is checked; a misspelt one is reported with the accepted keys, because a
silently ignored policy knob would change who gets called.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import math
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gatekeeper.jurisdictions.calling_hours import CallingHours

from gatekeeper.core.errors import ConfigError, InputError
from gatekeeper.core.exprs import sector_name
from gatekeeper.core.textfile import bom_encoding
from gatekeeper.jurisdictions import (
    JURISDICTIONS,
    UNSAID,
    Jurisdiction,
    Register,
    by_region,
    jurisdiction,
)

CONFIG_FILE = "gatekeeper.toml"

# A name that is already a safe folder name: what campaign names had to be before any text
# was accepted. Such a name is its own slug, so existing workspaces keep their folders.
FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
SLUG_LENGTH = 80
# Folders under reports/ that are not campaigns: contract verification writes
# reports/contracts/NAME/. Compared case-folded (Windows and macOS folders are).
RESERVED_REPORT_FOLDERS = frozenset({"contracts"})
_FOLDED = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o",
                         "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i"})


def campaign_slug(name: str) -> str:
    """The folder under reports/ a campaign's files go to: a person types the campaign's
    name as they say it ("Dicembre Energia 2026"), a folder needs a name every file
    system and every e-mailed zip accepts ("dicembre-energia-2026").

    Lowercase, accents folded, every other run of characters one '-', trimmed. A name
    that is already a safe folder name (FOLDER_NAME) is kept as it is, case included:
    the folders existing workspaces hold were named that way. A slug longer than
    SLUG_LENGTH is cut and ends in a hash of the whole, so two long names that differ
    only at the end do not share a folder. Empty for a name with no letter or digit
    (refused by `check_campaign_name`)."""
    if FOLDER_NAME.match(name):
        return name
    folded = unicodedata.normalize("NFKD", name.translate(_FOLDED))
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    if len(slug) > SLUG_LENGTH:
        digest = hashlib.sha256(slug.encode()).hexdigest()[:8]
        slug = f"{slug[:SLUG_LENGTH - 9].rstrip('-')}-{digest}"
    return slug


def campaign_key(name: str) -> str:
    """What makes two campaign names the same campaign: the same folder, compared as a
    case-insensitive file system would ("Dicembre Energia" and "dicembre-energia")."""
    return campaign_slug(name).casefold()


def check_campaign_name(name: str) -> str:
    """The campaign's slug, or a clear refusal when the name cannot name a folder of its
    own (no letter or digit, or a folder reports/ uses for something else)."""
    slug = campaign_slug(name)
    if not slug:
        raise InputError(f"campaign name '{name}' has no letter or digit to name its folder "
                         "under reports/ by; give it a name with some, e.g. "
                         "'Dicembre Energia 2026'")
    if slug.casefold() in RESERVED_REPORT_FOLDERS:
        raise InputError(f"campaign name '{name}' would write to reports/{slug}/, which holds "
                         "contract verification reports; choose another name, e.g. "
                         f"'{name} 2026'")
    return slug


@dataclass(frozen=True)
class Controller:
    name: str
    vat: str
    address: str
    dpo_email: str


@dataclass(frozen=True)
class Policy:
    jurisdiction: str = UNSAID
    # Every country called, the first being the workspace's own (its zone and words on
    # pages, its region for a bare number): [policy] jurisdictions, or jurisdiction alone.
    jurisdictions: tuple[str, ...] = ()
    rpo_validity_days: int = 15
    consent_max_age_days: int = 730
    contract_grace_days: int = 30
    survey_checks_rpo: bool = False
    sector: str | None = None  # the campaigns' sector when `run --sector` is not given
    consent_evidence: tuple[str, ...] = ("proof",)  # fields a bought consent must carry
    audit_answer_days: int = 15  # days a supplier has to answer a consent audit

    def register_days(self, register: Register | None) -> int:
        """How long a register's answer is relied on: rpo_validity_days for the RPO (a
        company may shorten the law's 15 days), the law's days for the others. The one
        rule a run, a request and an import's warning all read."""
        if register is None or register.code == "rpo" or register.validity_days is None:
            return self.rpo_validity_days
        return register.validity_days


@dataclass(frozen=True)
class RegistryConfig:
    adapter: str = "file"
    price_per_number: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contact:
    """How often a number may be called ([contact])."""

    max_attempts: int = 4
    attempt_window_days: int = 30
    refusal_cooldown_days: int = 60

    def under_law(self, j: Jurisdiction) -> Contact:
        """The company's knobs, never looser than the country's law: a longer rest after
        a refusal wins; the law's attempt limits apply beside these (ContactLaw.limits)."""
        law = j.contact_law
        if law is None or law.refusal_rest_days <= self.refusal_cooldown_days:
            return self
        return Contact(self.max_attempts, self.attempt_window_days, law.refusal_rest_days)


@dataclass(frozen=True)
class Config:
    controller: Controller
    policy: Policy
    registry: RegistryConfig
    retention: dict[str, Any]
    contact: Contact = field(default_factory=Contact)
    calling_hours_table: dict[str, Any] = field(default_factory=dict)
    trace_days: int = 30
    path: Path | None = None
    shared_url: str | None = None  # [shared] url: postgresql://… (None: the files)
    # [contact.FR], [calling_hours.RO]: a country's own knobs, over the common ones.
    contact_by_country: dict[str, Contact] = field(default_factory=dict)
    calling_hours_by_country: dict[str, dict[str, Any]] = field(default_factory=dict)
    _hours: dict[str, CallingHours] = field(default_factory=dict, compare=False, repr=False)

    @functools.cached_property
    def calling_hours(self) -> CallingHours:
        """When calls may be made to the workspace's own country: its hours, as
        [calling_hours] adjusts (validated when the config is read, so a bad window stops
        every command)."""
        return self.calling_hours_of(self.jurisdiction)

    def calling_hours_of(self, j: Jurisdiction) -> CallingHours:
        """A country's hours: [calling_hours] and [calling_hours.<CC>] over its defaults;
        where a statute sets them (FR, ES, DE), the company's only narrow them."""
        from gatekeeper.jurisdictions.calling_hours import CallingHours

        if j.code not in self._hours:
            table = {**self.calling_hours_table, **self.calling_hours_by_country.get(j.code, {})}
            self._hours[j.code] = CallingHours.from_table(table, self.path, j)
        return self._hours[j.code]

    def contact_of(self, j: Jurisdiction) -> Contact:
        """A country's contact knobs ([contact.<CC>] over [contact]), never looser than
        its law."""
        return self.contact_by_country.get(j.code, self.contact).under_law(j)

    @property
    def jurisdiction(self) -> Jurisdiction:
        """The workspace's own country: the first of [policy] jurisdictions (its zone and
        words are the pages', its region a bare number's)."""
        return jurisdiction(self.policy.jurisdiction)

    @property
    def jurisdictions(self) -> tuple[Jurisdiction, ...]:
        """Every country called, the workspace's own first."""
        codes = self.policy.jurisdictions or (self.policy.jurisdiction,)
        return tuple(jurisdiction(c) for c in codes)

    def country_of_number(self, phone: str) -> Jurisdiction:
        """The country whose law and national form apply to a number as typed (a bare
        number is the workspace's own)."""
        from gatekeeper.intake.normalise import normalise_one

        return self.jurisdiction_of(normalise_one(phone, self.jurisdiction)[2])

    def jurisdiction_of(self, region: str | None) -> Jurisdiction:
        """The country whose rules decide a number of this region: one called, else the
        workspace's own (whose table answers OUT_OF_JURISDICTION)."""
        return by_region(region, self.jurisdictions) or self.jurisdiction


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "controller": {"name": str, "vat": str, "address": str, "dpo_email": str},
    "policy": {
        "jurisdiction": str,
        "jurisdictions": list,
        "rpo_validity_days": int,
        "consent_max_age_days": int,
        "contract_grace_days": int,
        "survey_checks_rpo": bool,
        "sector": str,
        "consent_evidence": list,
        "audit_answer_days": int,
    },
    "registry": {
        "adapter": str,
        "price_per_number": (int, float),
        "base_url": str,
        "client_cert": str,
        "client_key": str,
        "ca_bundle": str,
        "token": str,
        "batch_size": int,
        "timeout_seconds": (int, float),
    },
    "retention": {"list_rows_months": int, "evidence_years": int, "calls_months": int},
    # Company policy on contacts; defaults follow the strictest EU rule (France, décret
    # 2022-1313): at most 4 attempts in 30 days, 60 days' rest after a refusal.
    "contact": {"max_attempts": int, "attempt_window_days": int,
                "refusal_cooldown_days": int},
    "contracts": {"trace_days": int},
    # What every service instance must agree on at once, in PostgreSQL (PRODUCT.md "Beyond
    # one machine"); without it, the files of data/ (one host).
    "shared": {"url": str},
    # Checked by the jurisdiction's CallingHours (its keys, its formats).
    "calling_hours": {"weekday": str, "saturday": str, "pre_holiday": str, "sunday": str,
                      "holiday": str, "extra_holidays": list},
}
# Whole-number knobs, inclusive bounds: beyond them dates overflow (a retention of 10^9
# months is before year 1), and a negative retention would purge what it should keep.
_RANGES: dict[str, tuple[int, int]] = {
    "policy.rpo_validity_days": (0, 3650),
    "policy.consent_max_age_days": (0, 36500),
    "policy.contract_grace_days": (0, 36500),
    "policy.audit_answer_days": (1, 365),
    "registry.batch_size": (1, 10_000_000),
    "retention.list_rows_months": (0, 1200),
    "retention.evidence_years": (0, 100),
    "retention.calls_months": (0, 1200),
    "contact.max_attempts": (1, 1000),
    "contact.attempt_window_days": (1, 3650),
    "contact.refusal_cooldown_days": (0, 3650),
    "contracts.trace_days": (1, 3650),
}
_TYPE_WORDS: dict[type | tuple[type, ...], str] = {
    str: 'text in quotes, e.g. "…"', int: "a whole number", bool: "true or false",
    list: 'a list, e.g. ["proof", "ip"]'}
# What [policy] consent_evidence may ask of a bought consent (contract: "Suppliers").
CONSENT_EVIDENCE = ("proof", "ip", "at", "method", "text")
_REQUIRED_CONTROLLER = ("name", "vat", "address", "dpo_email")


def _unknown(kind: str, key: str, accepted: list[str], path: Path) -> ConfigError:
    close = difflib.get_close_matches(key, accepted, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigError(
        f"unknown {kind} '{key}'; {hint}accepted: {', '.join(accepted)}", file=path, key=key
    )


_SAVE_AS_UTF8 = "save it again as UTF-8 (in Notepad: Save as, Encoding UTF-8)"


def _toml_text(path: Path, data: bytes, error: type[ConfigError] | Any) -> str:
    """The file's text. TOML is UTF-8 by definition, and a guessed encoding could print a
    garbled controller or supplier name on a letter, so anything else is refused with the
    line it is on (Windows editors save Windows-1252 or UTF-16 unless told otherwise).
    A UTF-8 byte-order mark, which Notepad adds, is dropped."""
    encoding = bom_encoding(data)
    if encoding:
        raise error(f"the file is saved as {encoding.upper()}, not UTF-8; {_SAVE_AS_UTF8}",
                    file=path)
    if b"\x00" in data:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        raise error(f"line {line} holds NUL bytes (saved as UTF-16 or UTF-32, or damaged); "
                    f"{_SAVE_AS_UTF8}", file=path)
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"byte 0x{data[exc.start]:02x} on line {line} is not UTF-8 (saved as "
                    f"Windows-1252 or Latin-1?); {_SAVE_AS_UTF8}", file=path) from None


def read_toml(path: Path, error: type[ConfigError] | Any = ConfigError) -> dict[str, Any]:
    """Read a TOML file, turning syntax errors into a message with its line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error("file not found; create it (see README, 'The workspace')", file=path) from None
    except IsADirectoryError:
        raise error("is a folder, not a file; move the folder away and put the TOML file "
                    "in its place", file=path) from None
    except OSError as exc:
        raise error(f"cannot be read ({exc.strerror}); check the file's permissions",
                    file=path) from None
    text = _toml_text(path, data, error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"not valid TOML ({exc}); fix the syntax at that line", file=path) from None
    except RecursionError:  # tomllib recurses once per nested [ or {
        raise error("not valid TOML (arrays or tables nested thousands deep); fix the file",
                    file=path) from None


def _check_table(path: Path, name: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table", file=path, key=name)
    spec = _SCHEMA[name]
    for key, value in table.items():
        if key not in spec:
            raise _unknown("key", f"{key}", sorted(spec), path)
        expected = spec[key]
        bad_bool = isinstance(value, bool) and expected in (int, (int, float))
        if not isinstance(value, expected) or bad_bool:
            kind = _TYPE_WORDS.get(expected, "a number")
            raise ConfigError(
                f"[{name}] {key} must be {kind}, got {value!r}", file=path, key=f"{name}.{key}"
            )
        bounds = _RANGES.get(f"{name}.{key}")
        if bounds is not None and isinstance(value, int) and not bounds[0] <= value <= bounds[1]:
            raise ConfigError(f"[{name}] {key} must be from {bounds[0]} to {bounds[1]}, got "
                              f"{value}", file=path, key=f"{name}.{key}")
        if isinstance(value, float) and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"[{name}] {key} must be a number of 0 or more, got {value}",
                              file=path, key=f"{name}.{key}")
    return table


def _policy(path: Path, table: dict[str, Any]) -> Policy:
    """[policy] as a Policy: the evidence list checked word by word (a misspelt "IP" would
    otherwise ask for nothing), the sector in its compared form."""
    values = dict(table)
    if "jurisdictions" in values:
        codes = values["jurisdictions"]
        if not codes or not all(isinstance(c, str) for c in codes):
            raise ConfigError('[policy] jurisdictions must list country codes, e.g. '
                              'jurisdictions = ["IT", "RO"]', file=path,
                              key="policy.jurisdictions")
        for code in codes:
            if code not in JURISDICTIONS:
                raise ConfigError(f"[policy] jurisdictions: '{code}' has no policy; "
                                  f"accepted: {', '.join(JURISDICTIONS)}", file=path,
                                  key="policy.jurisdictions")
        first = values.get("jurisdiction", codes[0])
        if first != codes[0]:
            raise ConfigError(f"[policy] jurisdiction = \"{first}\" but jurisdictions "
                              f"begins with \"{codes[0]}\": the first of jurisdictions is "
                              "the workspace's own country; give one of the two",
                              file=path, key="policy.jurisdictions")
        values["jurisdictions"] = tuple(dict.fromkeys(codes))
        values["jurisdiction"] = codes[0]
    if "consent_evidence" in values:
        evidence = values["consent_evidence"]
        for item in evidence:
            if item not in CONSENT_EVIDENCE:
                raise ConfigError(f"[policy] consent_evidence: unknown field {item!r}; "
                                  f"accepted: {', '.join(CONSENT_EVIDENCE)}", file=path,
                                  key="policy.consent_evidence")
        values["consent_evidence"] = tuple(dict.fromkeys(evidence))
    if "sector" in values:
        sector = sector_name(values["sector"])
        if not sector or any(c in sector for c in ";,/"):
            raise ConfigError(f"[policy] sector must be one sector's name, e.g. sector = "
                              f"\"energia\", got {values['sector']!r}", file=path,
                              key="policy.sector")
        values["sector"] = sector
    return Policy(**values)


def parse_config(path: Path) -> Config:
    """Validate gatekeeper.toml; only [controller] is required."""
    raw = read_toml(path)
    for key in raw:
        if key not in _SCHEMA:
            raise _unknown("table", key, sorted(_SCHEMA), path)
    if "controller" not in raw:
        raise ConfigError(
            "missing [controller] table; add name, vat, address and dpo_email", file=path
        )
    ctrl = _check_table(path, "controller", raw["controller"])
    for key in _REQUIRED_CONTROLLER:
        if not str(ctrl.get(key, "")).strip():
            raise ConfigError(
                f"[controller] needs '{key}' (printed on disclosure letters)",
                file=path, key=f"controller.{key}",
            )
    policy = _policy(path, _check_table(path, "policy", raw.get("policy", {})))
    if policy.jurisdiction not in JURISDICTIONS:
        raise ConfigError(
            f"jurisdiction '{policy.jurisdiction}' has no policy; accepted: "
            + ", ".join(JURISDICTIONS), file=path, key="policy.jurisdiction",
        )
    for knob in ("rpo_validity_days", "consent_max_age_days", "contract_grace_days"):
        if getattr(policy, knob) < 0:
            raise ConfigError(f"{knob} must be 0 or more", file=path, key=f"policy.{knob}")
    limit = JURISDICTIONS[policy.jurisdiction].register_validity_days
    if limit is not None and policy.rpo_validity_days > limit:  # the law's bound, not ours
        law = JURISDICTIONS[policy.jurisdiction].register_validity_law
        raise ConfigError(f"[policy] rpo_validity_days must be from 0 to {limit}, got "
                          f"{policy.rpo_validity_days} (a register answer is valid for {limit} "
                          f"days at most: {law}; a smaller number is stricter)", file=path,
                          key="policy.rpo_validity_days")
    contact_by, contact_common = _per_country(path, "contact", raw.get("contact", {}))
    hours_by, hours_common = _per_country(path, "calling_hours", raw.get("calling_hours", {}))
    reg = dict(_check_table(path, "registry", raw.get("registry", {})))
    from gatekeeper.registers.adapters import ADAPTERS

    register = JURISDICTIONS[policy.jurisdiction].register
    adapter = reg.pop("adapter", register.adapters[0] if register else "file")
    accepted = [name for name in ADAPTERS if register is None or name in register.adapters]
    if adapter not in accepted:
        what = (f"the {register.name} takes no adapter '{adapter}'" if adapter in ADAPTERS
                and register is not None else f"unknown adapter '{adapter}'")
        raise ConfigError(f"{what}; accepted: {', '.join(accepted)}", file=path,
                          key="registry.adapter")
    price = float(reg.pop("price_per_number", 0.0))
    config = Config(
        controller=Controller(**{k: ctrl[k] for k in _REQUIRED_CONTROLLER}),
        policy=policy,
        registry=RegistryConfig(adapter=adapter, price_per_number=price, options=reg),
        retention=_check_table(path, "retention", raw.get("retention", {})),
        contact=Contact(**contact_common),
        calling_hours_table=hours_common,
        contact_by_country={c: Contact(**{**contact_common, **t})
                            for c, t in contact_by.items()},
        calling_hours_by_country=hours_by,
        trace_days=int(_check_table(path, "contracts", raw.get("contracts", {}))
                       .get("trace_days", 30)),
        path=path,
        shared_url=_shared_url(path, _check_table(path, "shared", raw.get("shared", {}))),
    )
    for j in config.jurisdictions:  # raises the ConfigError now, not at the first call
        config.calling_hours_of(j)
    return config


def _shared_url(path: Path, table: dict[str, Any]) -> str | None:
    """[shared] url, when given: a PostgreSQL connection URL. Its password belongs in
    ~/.pgpass or PGPASSWORD, not in a file kept beside the lists (and in backups)."""
    url = table.get("url")
    if url is None:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"[shared] url must be a PostgreSQL URL, e.g. "
                          f"\"postgresql://gatekeeper@db.example/gatekeeper\", got {url!r}",
                          file=path, key="shared.url")
    return str(url)


def _per_country(path: Path, name: str, table: Any) -> tuple[dict[str, dict[str, Any]],
                                                            dict[str, Any]]:
    """[contact.FR] / [calling_hours.RO]: a country's own table beside the common one."""
    if not isinstance(table, dict):
        return {}, _check_table(path, name, table)
    by_country = {k: v for k, v in table.items() if isinstance(v, dict)}
    for code in by_country:
        if code not in JURISDICTIONS:
            raise ConfigError(f"[{name}.{code}]: '{code}' is no country code; accepted: "
                              + ", ".join(JURISDICTIONS), file=path, key=f"{name}.{code}")
    common = _check_table(path, name, {k: v for k, v in table.items()
                                       if k not in by_country})
    return {c: dict(_check_table(path, name, t)) for c, t in by_country.items()}, dict(common)


@dataclass(frozen=True)
class Workspace:
    """Where everything of one call centre lives; paths derive from the root."""

    root: Path

    @classmethod
    def locate(cls, home: str | Path | None = None) -> Workspace:
        """--home wins, then GATEKEEPER_HOME, then the current folder."""
        chosen = home or os.environ.get("GATEKEEPER_HOME") or Path.cwd()
        root = Path(chosen).expanduser().resolve()
        if not (root / CONFIG_FILE).is_file():
            raise ConfigError(
                f"no {CONFIG_FILE} here; make a workspace here with 'gatekeeper init', or "
                "pass --home DIR (or set GATEKEEPER_HOME) to use one elsewhere",
                file=root,
            )
        return cls(root)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    def config(self) -> Config:
        return parse_config(self.config_path)

    @property
    def sources_dir(self) -> Path:
        return self.root / "sources"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def store_dir(self) -> Path:
        """The store: a DuckDB catalog beside Parquet files and kept evidence files."""
        return self.data_dir / "store"

    @property
    def store_path(self) -> Path:
        from gatekeeper.store.schema import CATALOG_FILE

        return self.store_dir / CATALOG_FILE

    @property
    def ledger_dir(self) -> Path:
        """The contact ledger: every call attempt (data/ledger/)."""
        return self.data_dir / "ledger"

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "optouts.jsonl"

    def report_dir(self, campaign: str) -> Path:
        """reports/<slug>/: the campaign's folder, whichever way its name is typed.

        A name that cannot have a folder of its own is refused here (never reports/
        itself); a name the old rule accepted is not, as runs may be recorded under it
        (a workspace's old campaign "contracts" must still be audited and erased)."""
        if not FOLDER_NAME.match(campaign):
            check_campaign_name(campaign)
        return self.root / "reports" / campaign_slug(campaign)
