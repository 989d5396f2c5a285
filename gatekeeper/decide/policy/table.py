"""The decision table of policy IT: every code, its requirement, its law (cited once) and
its words, and the rules in the order a row is decided.

Read it top to bottom as a lawyer would. Each input row passes STEPS in order; the first
check that fails gives the row's reason. A row that passes them is tried against the
BASES of its purpose, in order: the first basis whose source kind (and condition) fits
the row decides it, by its own checks; passing them, the row is dialable on that basis.
What cannot be proven fails (no date, no RPO answer, no proof id): Gatekeeper fails closed.

At dial time ("may I dial at T?", and its replay "was this call at T lawful?") DIAL_RULES
are evaluated the same way, over one row of facts per number: steps 1-5 are the very same
rules as the batch's, then the run's decision, then the call itself (steps 9-13). Every rule
says when its fact is taken (`Taken`), per question, so the doors cannot drift apart on
what "at T" means.

A jurisdiction owns its table (`DecisionTable`): Italy's is TABLE, below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import polars as pl

from gatekeeper.decide.policy import facts as F
from gatekeeper.decide.policy.facts import Context

Fact = Callable[[Context], pl.Expr]


def in_force(since: dt.date | None, until: dt.date | None, day: dt.date) -> bool:
    """A rule's or basis's days, inclusive (None: since ever, until further notice)."""
    return (since is None or since <= day) and (until is None or day <= until)


@dataclass(frozen=True)
class Code:
    """A reason (why a row is not dialable) or a basis (why it is)."""

    code: str
    kind: str  # "reason" | "basis" | "decision" (the run's decision at dial time)
    law: str  # the citation, written here once
    text: str  # plain Italian words, for the people reading reports and the agents' page
    text_en: str = ""  # the same in English (disclose --lang en); "" where not yet written


@dataclass(frozen=True)
class Taken:
    """When a rule's fact is taken, for each question that applies the rule (None: that
    question does not). Written in the table because "at T" meant three things at three
    doors before: the words here are what the fact gatherers do (tests hold them to it)."""

    run: str | None  # a run decides its lists as of its as_of
    dial: str | None  # "may I dial at T?": check, GET and POST /v1/check
    replay: str | None  # "was this call at T lawful?": contract replay

    @classmethod
    def always(cls, words: str) -> Taken:
        return cls(words, words, words)

    @classmethod
    def dial_time(cls, words: str) -> Taken:
        """A fact of the call itself: no run applies the rule."""
        return cls(None, words, words)

    def words(self, *questions: str) -> str:
        """As `gatekeeper rules` prints it for these questions ("run", "dial", "replay"):
        one phrase when they agree."""
        names = {"run": "run", "dial": "may I dial at T", "replay": "was the call at T lawful"}
        meanings = {"run": self.run, "dial": self.dial, "replay": self.replay}
        said = [(names[q], w) for q in questions if (w := meanings[q])]
        if len({w for _, w in said}) == 1:
            return said[0][1]
        return "; ".join(f"{q}: {w}" for q, w in said)


@dataclass(frozen=True)
class Rule:
    """A check: the row is blocked with `code` unless `holds` is true."""

    code: str
    requirement: str
    holds: Fact
    taken: Taken
    applies: Callable[[Context], bool] = lambda ctx: True
    # The code a row that fails gets, when it is not `code` itself: at dial time the
    # run's own reason (the row decision of steps 1-8) is the answer.
    gives: Fact | None = None
    # The step a dial-time-only rule is known by (PRODUCT.md numbers the call's 9-13);
    # the others are numbered by their place in STEPS (a rule that is a second row of the
    # step before it says that step's number).
    step: str = ""
    # The rule's own citation, where it rests on more than its code's law (two rules may
    # give one code for different reasons): `gatekeeper rules` prints it instead.
    cites: str = ""
    # Which rows `applies` lets the rule see, in words (`gatekeeper rules`).
    rows: str = "every row"
    # The days the rule is in force, inclusive (None: since ever, until further notice):
    # France's Bloctel rule ends on 2026-08-10, its opt-in starts on 2026-08-11.
    since: dt.date | None = None
    until: dt.date | None = None

    def in_force(self, day: dt.date) -> bool:
        return in_force(self.since, self.until, day)

    def says(self, ctx: Context) -> pl.Expr:
        return self.gives(ctx) if self.gives else pl.lit(self.code)


@dataclass(frozen=True)
class Basis:
    """Step 8: the legal basis a row of these source kinds may be dialled on."""

    code: str
    purpose: str
    kinds: tuple[str, ...]
    requirement: str
    rules: tuple[Rule, ...]  # checked in order; all must hold
    detail: Fact  # the specifics basis_text adds after the law
    when: Fact = F.always  # further facts that select this basis (contract in force)
    since: dt.date | None = None  # the days the basis is lawful, inclusive (Rule.in_force)
    until: dt.date | None = None

    def in_force(self, day: dt.date) -> bool:
        return in_force(self.since, self.until, day)


def _codes(*codes: Code) -> dict[str, Code]:
    return {c.code: c for c in codes}


# --- codes -------------------------------------------------------------------------------

INVALID_NUMBER = "INVALID_NUMBER"
OUT_OF_JURISDICTION = "OUT_OF_JURISDICTION"
NUMBER_TYPE = "NUMBER_TYPE"
ERASED = "ERASED"
OPTED_OUT = "OPTED_OUT"
OPTOUTS_UNAVAILABLE = "OPTOUTS_UNAVAILABLE"
PURPOSE_NOT_ALLOWED = "PURPOSE_NOT_ALLOWED"
RPO_NOT_CHECKED = "RPO_NOT_CHECKED"
RPO_REGISTERED = "RPO_REGISTERED"
CONSENT_MISSING = "CONSENT_MISSING"
CONSENT_UNPROVEN = "CONSENT_UNPROVEN"
CONSENT_RESOLD = "CONSENT_RESOLD"
CONSENT_EXPIRED = "CONSENT_EXPIRED"
CONSENT_BEFORE_RPO = "CONSENT_BEFORE_RPO"
NO_RELATIONSHIP = "NO_RELATIONSHIP"
SUPPLIER_NOT_APPROVED = "SUPPLIER_NOT_APPROVED"
CONSENT_AUDIT_FAILED = "CONSENT_AUDIT_FAILED"
CONSENT_OMNIBUS = "CONSENT_OMNIBUS"
CONSENT_SECTOR = "CONSENT_SECTOR"
NO_RUN = "NO_RUN"
NO_SOURCE = "NO_SOURCE"
RUN_DECISION = "RUN_DECISION"
OUTSIDE_CALLING_HOURS = "OUTSIDE_CALLING_HOURS"
ATTEMPT_LIMIT = "ATTEMPT_LIMIT"
COOLDOWN = "COOLDOWN"
AGENCY_NOT_AUTHORISED = "AGENCY_NOT_AUTHORISED"
CALLER_ID_UNDECLARED = "CALLER_ID_UNDECLARED"
# The countries beside Italy (PRODUCT.md "Countries").
CONSENT_REQUIRED = "CONSENT_REQUIRED"
REGISTER_NOT_CHECKED = "REGISTER_NOT_CHECKED"
REGISTERED = "REGISTERED"
ABANDONED_RECENTLY = "ABANDONED_RECENTLY"
CALLER_ID_NOT_ALLOWED = "CALLER_ID_NOT_ALLOWED"
SECTOR_BANNED = "SECTOR_BANNED"
RULES_CHANGED = "RULES_CHANGED"
CUSTOMER_CONTRACT = "CUSTOMER_CONTRACT"

CONTRACT_CONSENT = "CONTRACT_CONSENT"
OWN_CONSENT = "OWN_CONSENT"
THIRD_PARTY_CONSENT = "THIRD_PARTY_CONSENT"
PUBLIC_DIRECTORY = "PUBLIC_DIRECTORY"
LEGITIMATE_INTEREST = "LEGITIMATE_INTEREST"

CODES: dict[str, Code] = _codes(
    Code(INVALID_NUMBER, "reason", "art. 5(1)(d) GDPR (esattezza)",
         "non è un numero di telefono valido"),
    Code(OUT_OF_JURISDICTION, "reason", "policy IT: solo numerazioni italiane",
         "numero non italiano"),
    Code(NUMBER_TYPE, "reason", "art. 130 Codice Privacy: utenze di persone fisiche o "
         "giuridiche", "numerazione non chiamabile (speciale, a pagamento, VoIP…)"),
    Code(ERASED, "reason", "art. 17 GDPR", "dati cancellati su richiesta dell'interessato"),
    Code(OPTED_OUT, "reason", "art. 21 GDPR, art. 130 c.4 Codice Privacy; Garante, Edison "
         "2022", "l'interessato si è opposto alle chiamate"),
    Code(OPTOUTS_UNAVAILABLE, "reason", "art. 21 GDPR, art. 130 c.4 Codice Privacy; artt. 5(2) "
         "e 24 GDPR (responsabilizzazione)", "registro delle opposizioni condiviso non "
         "raggiungibile: non si può escludere un'opposizione"),
    Code(PURPOSE_NOT_ALLOWED, "reason", "art. 5(1)(b) GDPR (limitazione della finalità)",
         "la fonte non consente questa finalità"),
    Code(RPO_NOT_CHECKED, "reason", "art. 1 c.12 L. 5/2018; DPR 26/2022 (validità 15 gg)",
         "nessuna verifica RPO valida (più recente di 15 giorni)"),
    Code(RPO_REGISTERED, "reason", "art. 130 c.3-bis Codice Privacy",
         "iscritto al Registro Pubblico delle Opposizioni"),
    Code(SUPPLIER_NOT_APPROVED, "reason", "codice di condotta telemarketing (G.U. 27 marzo "
         "2024) art. 6; artt. 5(2) e 24 GDPR",
         "fornitore della lista senza verifica preventiva (due diligence) approvata e in corso "
         "di validità"),
    Code(CONSENT_AUDIT_FAILED, "reason", "codice di condotta telemarketing (G.U. 27 marzo "
         "2024) art. 6 (verifica a campione dei consensi); art. 7(1) GDPR",
         "la verifica a campione dei consensi di questa lista non è stata superata"),
    Code(CONSENT_MISSING, "reason", "art. 130 c.1 Codice Privacy; art. 7 GDPR",
         "manca il consenso (o non è datato)"),
    Code(CONSENT_UNPROVEN, "reason", "art. 7(1) GDPR (onere della prova)",
         "consenso senza prova documentale"),
    Code(CONSENT_RESOLD, "reason", "Garante, Iren 2021",
         "consenso raccolto da un soggetto diverso dal fornitore"),
    Code(CONSENT_OMNIBUS, "reason", "art. 7(2) GDPR e art. 130 Codice Privacy (consenso "
         "specifico); Garante, Energia Pulita 2025",
         "consenso «omnibus»: l'interessato non ha potuto scegliere i settori"),
    Code(CONSENT_SECTOR, "reason", "art. 6(1)(a) GDPR (consenso per finalità specifiche); "
         "codice di condotta telemarketing art. 6",
         "il consenso non comprende il settore della campagna"),
    Code(CONSENT_EXPIRED, "reason", "Garante, Sky 2024", "consenso troppo vecchio"),
    Code(CONSENT_BEFORE_RPO, "reason", "L. 5/2018 art. 1 c.5",
         "consenso non successivo all'iscrizione al RPO"),
    Code(NO_RELATIONSHIP, "reason", "art. 6(1)(f) GDPR; informativa §b",
         "nessun rapporto contrattuale in essere"),
    # At dial time: no list decided yet, or the number is in none (provenance unknown).
    Code(NO_RUN, "reason", "artt. 5(2) e 24 GDPR (responsabilizzazione)",
         "nessuna lista elaborata per questa finalità"),
    Code(NO_SOURCE, "reason", "artt. 6 e 14 GDPR (base giuridica e fonte del dato)",
         "numero non presente nelle liste caricate"),
    # Not an answer itself: the row of the table where the run's own reason (steps 1-8,
    # with its own law and words) becomes the dial-time answer.
    Code(RUN_DECISION, "decision", "the law of the reason the run gave (steps 1-8)",
         "escluso dalla lista elaborata: vale il motivo della sua riga"),
    # Dial time, steps 9-13: the call itself (issue "after the list"; code of conduct,
    # G.U. 27/3/2024).
    Code(OUTSIDE_CALLING_HOURS, "reason", "codice di condotta telemarketing (G.U. 27/3/2024), "
         "fasce orarie", "fuori dalle fasce orarie in cui si può chiamare"),
    Code(ATTEMPT_LIMIT, "reason", "art. 5(1)(c) GDPR (minimizzazione); codice di condotta "
         "telemarketing (G.U. 27/3/2024): contatti non insistenti",
         "troppi tentativi di chiamata nel periodo"),
    Code(COOLDOWN, "reason", "art. 21 GDPR; codice di condotta telemarketing (G.U. "
         "27/3/2024): contatti non insistenti",
         "ha rifiutato di recente: pausa prima di richiamare"),
    Code(AGENCY_NOT_AUTHORISED, "reason", "art. 28 GDPR (responsabile del trattamento); "
         "codice di condotta telemarketing (G.U. 27/3/2024) art. 7; Garante, Enel Energia "
         "2024", "call center non autorizzato (o non per questa campagna)"),
    Code(CALLER_ID_UNDECLARED, "reason", "codice di condotta telemarketing (G.U. 27/3/2024) "
         "art. 7: numerazioni dichiarate",
         "numero chiamante non dichiarato dal call center"),
    # Bases, strongest first (the order a number's rows are ranked in).
    Code(CONTRACT_CONSENT, "basis", "art. 130 c.1 Codice Privacy, L. 5/2018 art. 1 c.5",
         "consenso marketing di un cliente con contratto in essere o appena cessato"),
    Code(OWN_CONSENT, "basis", "art. 130 c.1 Codice Privacy, art. 6(1)(a) GDPR",
         "consenso marketing dato a noi"),
    Code(THIRD_PARTY_CONSENT, "basis", "art. 130 c.1 Codice Privacy, art. 6(1)(a) GDPR",
         "consenso al marketing di terzi dato al fornitore della lista"),
    Code(PUBLIC_DIRECTORY, "basis", "art. 130 c.3-bis Codice Privacy",
         "elenco pubblico, non iscritto al RPO"),
    Code(LEGITIMATE_INTEREST, "basis", "art. 6(1)(f) GDPR",
         "interesse legittimo, indagine di soddisfazione verso un cliente"),
)

# --- when facts are taken -----------------------------------------------------------------

THE_NUMBER = Taken.always("the number itself, as normalised")
# Erasures and objections are where the questions differ on purpose. "May I dial now?"
# is answered on everything recorded when it is asked: a number erased or opted out by
# then is never answered dialable (fail closed). Asked about another instant (`check
# --at T`), objections as they stood at T (PRODUCT.md: "as things stood then"), every
# erasure still (the rows an answer rested on are gone). "Was the call at T lawful?" is
# answered on what stood at T: a later objection does not make an earlier call unlawful.
ERASURES = Taken(
    run="ever: every erasure recorded when the run is made",
    dial="ever: every erasure recorded when asked, one made after T too (the rows an "
         "answer rested on are gone)",
    replay="an erasure recorded at or before T")
OBJECTIONS = Taken(
    run="standing at as_of: received at or before it and not withdrawn by then",
    dial="now: every journal entry recorded when asked is applied (fail closed); at a "
         "given T (check --at): standing at T, received at or before T and not withdrawn",
    replay="standing at T: received at or before T and not withdrawn by then")
AS_OF = Taken("as of the run's as_of", "as the run decided it (as of its as_of)",
              "as the run valid at T decided it (as of its as_of)")
THE_RUN = Taken.dial_time("the latest run of the campaign (a replay: the call's; none "
                          "named: of the purpose) whose as_of is at or before T")
AT_T = Taken.dial_time("at T")
CALLS = Taken.dial_time("the calls recorded that started before T, in the window ending at "
                        "T")
MANIFEST = Taken.dial_time("the agency's manifest as it is when asked, its dates against T")

# --- steps 1-7: every row, every purpose ------------------------------------------------

# Steps 1-5 are about the number alone: the batch and the dial-time answer apply these
# very objects (DIAL_RULES begins with them), over the same column names.
NUMBER_RULES: tuple[Rule, ...] = (
    Rule(INVALID_NUMBER, "the value is a valid phone number (libphonenumber, the "
         "jurisdiction's region for bare numbers)", F.valid_number, THE_NUMBER),
    Rule(OUT_OF_JURISDICTION, "a number of the jurisdiction", F.in_jurisdiction, THE_NUMBER),
    Rule(NUMBER_TYPE, "fixed line or mobile (not premium, toll-free, shared-cost, VoIP…)",
         F.callable_type, THE_NUMBER),
    Rule(ERASED, "it has not been erased on request", F.not_erased, ERASURES),
    Rule(OPTED_OUT, "no opt-out covering the purpose", F.not_opted_out, OBJECTIONS),
)

STEPS: tuple[Rule, ...] = (
    *NUMBER_RULES,
    Rule(PURPOSE_NOT_ALLOWED, "the source's manifest allows the purpose", F.purpose_allowed,
         AS_OF),
    Rule(PURPOSE_NOT_ALLOWED, "a survey's source is the company's own archive "
         "(internal_archive): surveys use only the company's own archives",
         F.own_archive, AS_OF, applies=lambda ctx: ctx.purpose == "survey", step="6",
         rows="every row of a survey",
         cites="art. 5(1)(b) GDPR (limitazione della finalità); informativa §b: indagini "
               "di soddisfazione solo verso i propri clienti"),
    Rule(RPO_NOT_CHECKED, "an RPO result checked at or before as_of, less than "
         "rpo_validity_days old", F.rpo_valid, AS_OF, applies=lambda ctx: ctx.checks_rpo),
)

# --- step 8: the legal basis, per purpose and source kind --------------------------------

NOT_REGISTERED = Rule(RPO_REGISTERED, "not registered in the RPO", F.not_registered, AS_OF)
# Both consent bases end with the same two checks: age, then timing against the RPO.
CONSENT_TIMING = (
    Rule(CONSENT_EXPIRED, "consent younger than consent_max_age_days", F.consent_fresh,
         AS_OF),
    Rule(CONSENT_BEFORE_RPO, "if registered, consent given after the registration",
         F.consent_after_registration, AS_OF),
)


def _grace(ctx: Context) -> str:
    return f"contratto in essere o cessato da non più di {ctx.policy.contract_grace_days} giorni"


BASES: tuple[Basis, ...] = (
    Basis(PUBLIC_DIRECTORY, "telemarketing", ("public_directory",),
          "public directory: not registered in the RPO", (NOT_REGISTERED,),
          lambda ctx: pl.format("elenco pubblico, non iscritto al RPO al {}",
                                F.date_text("rpo_checked_at"))),
    Basis(THIRD_PARTY_CONSENT, "telemarketing", ("third_party",),
          "bought list: an approved supplier, consent to third-party marketing, proven, "
          "given to the supplier, specific to the campaign's sector",
          (Rule(SUPPLIER_NOT_APPROVED, "the supplier has a due-diligence record with outcome "
                "approved, reviewed on or before as_of and not past next_review",
                F.supplier_approved, AS_OF),
           Rule(CONSENT_AUDIT_FAILED, "the source version's latest consent audit did not "
                "fail", F.audit_not_failed, AS_OF),
           Rule(CONSENT_MISSING, "consent to marketing by third parties, dated, not in the "
                "future", F.third_party_consent, AS_OF),
           Rule(CONSENT_UNPROVEN, "the evidence fields of consent_evidence (default: the "
                "proof id) are present", F.consent_evidenced, AS_OF),
           Rule(CONSENT_RESOLD, "consent collected by the supplier that sold the list",
                F.collected_by_supplier, AS_OF),
           Rule(CONSENT_OMNIBUS, "the supplier's consents let the person choose sectors",
                F.sectors_chosen, AS_OF),
           Rule(CONSENT_SECTOR, "when consent_sectors is given, it includes the campaign's "
                "sector", F.sector_consented, AS_OF),
           *CONSENT_TIMING),
          lambda ctx: pl.concat_str([
              pl.format("consenso al marketing di terzi del {} raccolto da {}",
                        F.date_text("consent_date"), pl.col("supplier_name")),
              pl.format(", prova {}", pl.col("consent_proof")),
              pl.format("; fornitore verificato il {}", F.date_text("supplier_reviewed_on"))],
              ignore_nulls=True)),
    Basis(CONTRACT_CONSENT, "telemarketing", ("internal_archive",),
          "customer: marketing consent within a contract in force or ended at most "
          "contract_grace_days ago (registration in the RPO does not revoke it)", (),
          lambda ctx: pl.lit(f"consenso marketing del cliente, {_grace(ctx)}"),
          when=F.contract_consent),
    Basis(OWN_CONSENT, "telemarketing", ("internal_archive",),
          "own archive: marketing consent, dated, not expired, after any registration",
          (Rule(CONSENT_MISSING, "marketing consent, dated, not in the future",
                F.own_consent, AS_OF),
           *CONSENT_TIMING),
          lambda ctx: pl.format("consenso marketing del {}", F.date_text("consent_date"))),
    Basis(LEGITIMATE_INTEREST, "survey", ("internal_archive",),
          "survey of a customer with a contract in force or just ended",
          (Rule(NO_RELATIONSHIP, "contract in force or ended within contract_grace_days",
                F.in_relationship, AS_OF),
           Rule(RPO_REGISTERED, "not registered in the RPO (when survey_checks_rpo)",
                F.not_registered, AS_OF, applies=lambda ctx: ctx.policy.survey_checks_rpo)),
          lambda ctx: pl.lit("interesse legittimo, indagine di soddisfazione verso un cliente "
                             f"con {_grace(ctx)}")),
)

# --- at dial time: the number (steps 1-5), the run's decision, the call (steps 9-13) -----

def _run_reason(ctx: Context) -> pl.Expr:
    """The reason the run gave the number (its first row's, select.py); a run that listed
    the number without a reason or a basis proves nothing: NO_SOURCE (fail closed)."""
    return pl.coalesce(pl.col("run_reason"), pl.lit(NO_SOURCE))


RUN_RULES: tuple[Rule, ...] = (
    Rule(NO_RUN, "a run of the purpose (or of the campaign asked) decided as of T",
         F.has_run, THE_RUN, step="6-8"),
    Rule(NO_SOURCE, "the number is in one of that run's lists", F.listed, THE_RUN,
         step="6-8"),
    Rule(RUN_DECISION, "the run found it dialable on a basis (steps 1-8); else the reason "
         "it gave is the answer", F.run_dialable, THE_RUN, gives=_run_reason, step="6-8"),
    Rule(RPO_NOT_CHECKED, "the RPO checks the run relied on are still valid at T (its "
         "valid_until is after T)", F.rpo_still_valid, AT_T, step="7"),
)

CONTACT_RULES: tuple[Rule, ...] = (
    Rule(OUTSIDE_CALLING_HOURS, "T is inside the calling hours of the callee's "
         "jurisdiction ([calling_hours]); the answer says when it may be called",
         F.calling_hours_open, AT_T, step="9"),
    Rule(ATTEMPT_LIMIT, "fewer than max_attempts outbound attempts in the last "
         "attempt_window_days (every campaign, every agency; failed ones do not count)",
         F.under_attempt_limit, CALLS, step="10"),
    Rule(COOLDOWN, "no refusal in the last refusal_cooldown_days", F.no_recent_refusal,
         CALLS, step="11"),
    Rule(AGENCY_NOT_AUTHORISED, "the agency (when given) is authorised at T, from "
         "authorised_from through the whole day of authorised_to, and for the campaign",
         F.agency_authorised, MANIFEST, step="12"),
    Rule(CALLER_ID_UNDECLARED, "the caller id (when given) is one the agency declared "
         "(without an agency: one some agency declared)", F.caller_id_declared, MANIFEST,
         step="13"),
)

# At dial time the objections are read as they stand when asked; a service instance whose
# shared opt-out register (PostgreSQL, "Beyond one machine") cannot be reached cannot
# know them, and answers nothing else until it can (fail closed).
OPTOUTS_READ = Rule(OPTOUTS_UNAVAILABLE, "the opt-out register could be read when asked (a "
                    "shared one: its PostgreSQL reached)", F.optouts_readable, OBJECTIONS,
                    step="0")

DIAL_RULES: tuple[Rule, ...] = (OPTOUTS_READ, *NUMBER_RULES, *RUN_RULES, *CONTACT_RULES)

BASIS_RANK = {b: i for i, b in enumerate(
    (CONTRACT_CONSENT, OWN_CONSENT, THIRD_PARTY_CONSENT, PUBLIC_DIRECTORY,
     LEGITIMATE_INTEREST))}


@dataclass(frozen=True, eq=False)
class DecisionTable:
    """A jurisdiction's whole table: its codes, the steps every row passes, the legal
    bases, the dial-time rules and the order of bases (strongest first). decide, select
    and the dial-time answer read it from `ctx.jurisdiction.table`, so a second country
    is a second table, not an edit of the code that applies it.

    Rules and bases may be dated (`since`, `until`): `in_force(day)` is the table a run of
    that day decides by, and `version_at(day)` names it ("FR 2026-08-11": the first day
    of that version), which the run records."""

    name: str
    codes: Mapping[str, Code]
    steps: tuple[Rule, ...]
    bases: tuple[Basis, ...]
    dial_rules: tuple[Rule, ...]
    basis_rank: Mapping[str, int]
    # The reason of a row no basis of its purpose fits: a source the purpose does not
    # allow (opt-out countries), or no consent to this controller (opt-in countries).
    no_basis: str = PURPOSE_NOT_ALLOWED
    # The regime in words, as PRODUCT.md's table says it (`gatekeeper rules`).
    regime: str = ""

    def bases_for(self, purpose: str) -> tuple[Basis, ...]:
        return tuple(b for b in self.bases if b.purpose == purpose)

    def law(self, code: str) -> str:
        """The citation of a code in this table: a rule shared with another country's
        table cites what this one says, not what the other's does."""
        return self.codes[code].law

    def words(self, code: str) -> str | None:
        """A code in plain words for a person deciding whether to dial (None: no such
        code in this table)."""
        entry = self.codes.get(code)
        return entry.text if entry else None

    @property
    def changes(self) -> tuple[dt.date, ...]:
        """The days a version begins (a rule's since, the day after a rule's until)."""
        days: set[dt.date] = set()
        items: list[Rule | Basis] = [*self.steps, *self.bases, *self.dial_rules,
                                     *(r for b in self.bases for r in b.rules)]
        for item in items:
            if item.since is not None:
                days.add(item.since)
            if item.until is not None:
                days.add(item.until + dt.timedelta(days=1))
        return tuple(sorted(days))

    def version_at(self, day: dt.date) -> str:
        """The name of the version in force on a day: the country, and the first day of
        the version when its rules are dated."""
        begun = [d for d in self.changes if d <= day]
        if begun:
            return f"{self.name} from {begun[-1].isoformat()}"
        if self.changes:
            return f"{self.name} until {(self.changes[0] - dt.timedelta(days=1)).isoformat()}"
        return self.name

    def next_change(self, day: dt.date) -> dt.date | None:
        """The first day after `day` a new version begins (None: none known)."""
        return next((d for d in self.changes if d > day), None)

    def in_force(self, day: dt.date) -> DecisionTable:
        """The table of one day: its rules and bases in force then."""
        if not self.changes:
            return self
        bases = tuple(replace(b, rules=tuple(r for r in b.rules if r.in_force(day)))
                      for b in self.bases if b.in_force(day))
        return replace(self, steps=tuple(r for r in self.steps if r.in_force(day)),
                       bases=bases)

    @property
    def reason_text(self) -> dict[str, str]:
        """The reasons a row of a run can get (reports count rows by these), in the
        codes' order, with their words: the dial-time ones are not among them."""
        row_codes = {r.code for r in self.steps} | {
            r.code for b in self.bases for r in b.rules} | {self.no_basis}
        return {c.code: c.text for c in self.codes.values()
                if c.kind == "reason" and c.code in row_codes}


TABLE = DecisionTable("IT", CODES, STEPS, BASES, DIAL_RULES, BASIS_RANK)
# Italy's, by name, for the few readers that hold no jurisdiction (a report's column list,
# the contracts page); everything that has one reads `jurisdiction.table`.
IT_TABLE = TABLE
IT_REASON_TEXT = TABLE.reason_text


def it_reason_text(code: str) -> str | None:
    """Italy's words for a code (IT_TABLE.words): only where no jurisdiction is at hand."""
    return IT_TABLE.words(code)
