"""The decision table of policy IT: every code, its requirement, its law (cited once) and
its words, and the rules in the order a row is decided.

Read it top to bottom as a lawyer would. Each input row passes STEPS in order; the first
check that fails gives the row's reason. A row that passes them is tried against the
BASES of its purpose, in order: the first basis whose source kind (and condition) fits
the row decides it, by its own checks; passing them, the row is dialable on that basis.
What cannot be proven fails (no date, no RPO answer, no proof id): Gatekeeper fails closed.

Dial-time reasons (no run, number not listed) and, later, the contact rules are codes of
this table too, so every answer anywhere cites its law and says it in words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from . import facts as F
from .facts import Context

Fact = Callable[[Context], pl.Expr]


@dataclass(frozen=True)
class Code:
    """A reason (why a row is not dialable) or a basis (why it is)."""

    code: str
    kind: str  # "reason" | "basis"
    law: str  # the citation, written here once
    text: str  # plain Italian words, for the people reading reports and the agents' page


@dataclass(frozen=True)
class Rule:
    """A check: the row is blocked with `code` unless `holds` is true."""

    code: str
    requirement: str
    holds: Fact
    applies: Callable[[Context], bool] = lambda ctx: True

    @property
    def law(self) -> str:
        return CODES[self.code].law


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

    @property
    def law(self) -> str:
        return CODES[self.code].law


def _codes(*codes: Code) -> dict[str, Code]:
    return {c.code: c for c in codes}


# --- codes -------------------------------------------------------------------------------

INVALID_NUMBER = "INVALID_NUMBER"
OUT_OF_JURISDICTION = "OUT_OF_JURISDICTION"
NUMBER_TYPE = "NUMBER_TYPE"
ERASED = "ERASED"
OPTED_OUT = "OPTED_OUT"
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
OUTSIDE_CALLING_HOURS = "OUTSIDE_CALLING_HOURS"
ATTEMPT_LIMIT = "ATTEMPT_LIMIT"
COOLDOWN = "COOLDOWN"
AGENCY_NOT_AUTHORISED = "AGENCY_NOT_AUTHORISED"
CALLER_ID_UNDECLARED = "CALLER_ID_UNDECLARED"

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

# --- steps 1-7: every row, every purpose ------------------------------------------------

STEPS: tuple[Rule, ...] = (
    Rule(INVALID_NUMBER, "the value is a valid phone number (libphonenumber, the "
         "jurisdiction's region for bare numbers)", F.valid_number),
    Rule(OUT_OF_JURISDICTION, "a number of the jurisdiction", F.in_jurisdiction),
    Rule(NUMBER_TYPE, "fixed line or mobile (not premium, toll-free, shared-cost, VoIP…)",
         F.callable_type),
    Rule(ERASED, "it has not been erased on request", F.not_erased),
    Rule(OPTED_OUT, "no opt-out covering the purpose received at or before as_of",
         F.not_opted_out),
    Rule(PURPOSE_NOT_ALLOWED, "the source's manifest allows the purpose", F.purpose_allowed),
    Rule(RPO_NOT_CHECKED, "an RPO result checked at or before as_of, less than "
         "rpo_validity_days old", F.rpo_valid, applies=lambda ctx: ctx.checks_rpo),
)

# --- step 8: the legal basis, per purpose and source kind --------------------------------

NOT_REGISTERED = Rule(RPO_REGISTERED, "not registered in the RPO", F.not_registered)
# Both consent bases end with the same two checks: age, then timing against the RPO.
CONSENT_TIMING = (
    Rule(CONSENT_EXPIRED, "consent younger than consent_max_age_days", F.consent_fresh),
    Rule(CONSENT_BEFORE_RPO, "if registered, consent given after the registration",
         F.consent_after_registration),
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
                F.supplier_approved),
           Rule(CONSENT_AUDIT_FAILED, "the source version's latest consent audit did not "
                "fail", F.audit_not_failed),
           Rule(CONSENT_MISSING, "consent to marketing by third parties, dated, not in the "
                "future", F.third_party_consent),
           Rule(CONSENT_UNPROVEN, "the evidence fields of consent_evidence (default: the "
                "proof id) are present", F.consent_evidenced),
           Rule(CONSENT_RESOLD, "consent collected by the supplier that sold the list",
                F.collected_by_supplier),
           Rule(CONSENT_OMNIBUS, "the supplier's consents let the person choose sectors",
                F.sectors_chosen),
           Rule(CONSENT_SECTOR, "when consent_sectors is given, it includes the campaign's "
                "sector", F.sector_consented),
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
                F.own_consent),
           *CONSENT_TIMING),
          lambda ctx: pl.format("consenso marketing del {}", F.date_text("consent_date"))),
    Basis(LEGITIMATE_INTEREST, "survey", ("internal_archive",),
          "survey of a customer with a contract in force or just ended",
          (Rule(NO_RELATIONSHIP, "contract in force or ended within contract_grace_days",
                F.in_relationship),
           Rule(RPO_REGISTERED, "not registered in the RPO (when survey_checks_rpo)",
                F.not_registered, applies=lambda ctx: ctx.policy.survey_checks_rpo)),
          lambda ctx: pl.lit("interesse legittimo, indagine di soddisfazione verso un cliente "
                             f"con {_grace(ctx)}")),
)

# --- steps 9-13: at dial time, the call itself (policy/dialtime.py) --------------------

CONTACT_RULES: tuple[tuple[str, str], ...] = (
    (OUTSIDE_CALLING_HOURS, "now is inside the calling hours of the callee's jurisdiction "
     "([calling_hours]); the answer says when it may be called"),
    (ATTEMPT_LIMIT, "fewer than max_attempts outbound attempts in the last "
     "attempt_window_days (every campaign, every agency; failed ones do not count)"),
    (COOLDOWN, "no refusal in the last refusal_cooldown_days"),
    (AGENCY_NOT_AUTHORISED, "the agency (when given) is authorised now, from authorised_from "
     "through the whole day of authorised_to, and for the campaign"),
    (CALLER_ID_UNDECLARED, "the caller id (when given) is one the agency declared"),
)

BASIS_RANK = {b: i for i, b in enumerate(
    (CONTRACT_CONSENT, OWN_CONSENT, THIRD_PARTY_CONSENT, PUBLIC_DIRECTORY,
     LEGITIMATE_INTEREST))}
# The reasons a row can get (reports count rows by these); dial-time ones are not among them.
REASON_TEXT = {c.code: c.text for c in CODES.values()
               if c.kind == "reason" and c.code not in (NO_RUN, NO_SOURCE)
               and c.code not in dict(CONTACT_RULES)}


def reason_text(code: str) -> str | None:
    """The reason in plain Italian words, for a person deciding whether to dial."""
    entry = CODES.get(code)
    return entry.text if entry else None
