"""What the countries beside Italy share: their codes' GDPR citations and words, and the
rules every table is made of, given each country's register and law.

A country's table (gatekeeper/jurisdictions/<cc>/table.py) is written from these pieces
so that it reads as its law does (which bases it allows, which register, which dates)
while the rule a piece tests is written once (facts.py). Where a country's law is cited
its module says so: nothing here cites a national law but the GDPR and the ePrivacy
directive every one of them transposes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from gatekeeper.decide.policy import facts as F
from gatekeeper.decide.policy.facts import Context
from gatekeeper.decide.policy.table import (
    ABANDONED_RECENTLY,
    AGENCY_NOT_AUTHORISED,
    AS_OF,
    ATTEMPT_LIMIT,
    CALLER_ID_NOT_ALLOWED,
    CALLER_ID_UNDECLARED,
    CALLS,
    CODES,
    CONSENT_AUDIT_FAILED,
    CONSENT_EXPIRED,
    CONSENT_MISSING,
    CONSENT_OMNIBUS,
    CONSENT_REQUIRED,
    CONSENT_RESOLD,
    CONSENT_SECTOR,
    CONSENT_UNPROVEN,
    CONTACT_RULES,
    CONTRACT_CONSENT,
    COOLDOWN,
    CUSTOMER_CONTRACT,
    ERASED,
    INVALID_NUMBER,
    LEGITIMATE_INTEREST,
    MANIFEST,
    NO_RELATIONSHIP,
    NO_RUN,
    NO_SOURCE,
    NUMBER_RULES,
    NUMBER_TYPE,
    OPTED_OUT,
    OPTOUTS_READ,
    OPTOUTS_UNAVAILABLE,
    OUT_OF_JURISDICTION,
    OUTSIDE_CALLING_HOURS,
    OWN_CONSENT,
    PUBLIC_DIRECTORY,
    PURPOSE_NOT_ALLOWED,
    REGISTER_NOT_CHECKED,
    REGISTERED,
    RULES_CHANGED,
    RUN_DECISION,
    RUN_RULES,
    SECTOR_BANNED,
    SUPPLIER_NOT_APPROVED,
    THE_RUN,
    THIRD_PARTY_CONSENT,
    Basis,
    Code,
    Rule,
)

GDPR = "GDPR (Reg. UE 2016/679)"


def codes(country_law: Mapping[str, tuple[str, str, str]]) -> dict[str, Code]:
    """Every code a country's table may give, with the GDPR's citation and plain words
    where the country adds nothing, and the country's own (law, Italian, English) where
    it does."""
    base: dict[str, tuple[str, str, str]] = {
        INVALID_NUMBER: (f"art. 5(1)(d) {GDPR} (esattezza)", CODES[INVALID_NUMBER].text,
                         "not a valid phone number"),
        OUT_OF_JURISDICTION: ("[policy] jurisdictions: i paesi che il titolare chiama",
                              "numero di un paese che non si chiama",
                              "a number of a country not called"),
        NUMBER_TYPE: ("art. 13 dir. 2002/58/CE (ePrivacy): utenze di abbonati",
                      CODES[NUMBER_TYPE].text, "a number that cannot be called (premium, "
                      "toll-free, VoIP…)"),
        ERASED: (f"art. 17 {GDPR}", CODES[ERASED].text, "erased at the person's request"),
        OPTED_OUT: (f"art. 21 {GDPR}", CODES[OPTED_OUT].text,
                    "the person objected to calls"),
        OPTOUTS_UNAVAILABLE: (f"art. 21 e artt. 5(2) e 24 {GDPR}",
                              CODES[OPTOUTS_UNAVAILABLE].text,
                              "the shared opt-out register cannot be reached: an objection "
                              "cannot be ruled out"),
        PURPOSE_NOT_ALLOWED: (f"art. 5(1)(b) {GDPR} (limitazione della finalità)",
                              CODES[PURPOSE_NOT_ALLOWED].text,
                              "the source does not allow this purpose"),
        SUPPLIER_NOT_APPROVED: (f"artt. 5(2) e 24 {GDPR}", CODES[SUPPLIER_NOT_APPROVED].text,
                                "the list's supplier has no valid approved due diligence"),
        CONSENT_AUDIT_FAILED: (f"art. 7(1) {GDPR}", CODES[CONSENT_AUDIT_FAILED].text,
                               "the list's consent audit failed"),
        CONSENT_MISSING: (f"art. 6(1)(a) e 7 {GDPR}", CODES[CONSENT_MISSING].text,
                          "no consent (or an undated one)"),
        CONSENT_UNPROVEN: (f"art. 7(1) {GDPR} (onere della prova)",
                           "consenso senza le prove richieste (prova, metodo, testo)",
                           "consent without the evidence required"),
        CONSENT_RESOLD: (f"art. 7 {GDPR}", CODES[CONSENT_RESOLD].text,
                         "consent collected by someone other than the supplier"),
        CONSENT_OMNIBUS: (f"art. 7(2) {GDPR} (consenso specifico)",
                          CODES[CONSENT_OMNIBUS].text, "omnibus consent: no choice of sectors"),
        CONSENT_SECTOR: (f"art. 6(1)(a) {GDPR}", CODES[CONSENT_SECTOR].text,
                         "the consent does not cover the campaign's sector"),
        CONSENT_EXPIRED: (f"art. 7 {GDPR}; EDPB 05/2020 (consenso non più attuale)",
                          CODES[CONSENT_EXPIRED].text, "consent too old"),
        NO_RELATIONSHIP: (f"art. 6(1)(f) {GDPR}", CODES[NO_RELATIONSHIP].text,
                          "no contract in force"),
        REGISTER_NOT_CHECKED: ("art. 13(3) dir. 2002/58/CE: il registro delle opposizioni del "
                               "paese", "nessuna verifica valida del registro delle "
                               "opposizioni del paese", "no valid check of the country's "
                               "do-not-call register"),
        REGISTERED: ("art. 13(3) dir. 2002/58/CE", "iscritto al registro delle opposizioni "
                     "del paese", "registered in the country's do-not-call register"),
        CONSENT_REQUIRED: ("art. 13 dir. 2002/58/CE; la legge del paese chiede il consenso",
                           "serve il consenso dell'interessato a essere chiamato da noi",
                           "consent to calls from this controller is required"),
        NO_RUN: (f"artt. 5(2) e 24 {GDPR}", CODES[NO_RUN].text,
                 "no list decided for this purpose"),
        NO_SOURCE: (f"artt. 6 e 14 {GDPR}", CODES[NO_SOURCE].text,
                    "the number is in no list loaded"),
        RUN_DECISION: ("the law of the reason the run gave (steps 1-8)",
                       CODES[RUN_DECISION].text, "excluded by the run: its row's reason"),
        RULES_CHANGED: ("le regole del paese in vigore a T (versione datata)",
                        "la lista è stata elaborata con regole del paese non più in vigore: "
                        "elaborarla di nuovo",
                        "the list was decided by rules no longer in force: run it again"),
        OUTSIDE_CALLING_HOURS: ("le fasce orarie del paese (vedi calling_hours)",
                                CODES[OUTSIDE_CALLING_HOURS].text,
                                "outside the hours the person may be called"),
        ATTEMPT_LIMIT: (f"art. 5(1)(c) {GDPR} (minimizzazione)", CODES[ATTEMPT_LIMIT].text,
                        "too many call attempts in the period"),
        COOLDOWN: (f"art. 21 {GDPR}", CODES[COOLDOWN].text,
                   "refused recently: rest before calling again"),
        AGENCY_NOT_AUTHORISED: (f"art. 28 {GDPR} (responsabile del trattamento)",
                                CODES[AGENCY_NOT_AUTHORISED].text,
                                "call centre not authorised (or not for this campaign)"),
        CALLER_ID_UNDECLARED: ("art. 8 dir. 2002/58/CE (identificazione della linea "
                               "chiamante)", CODES[CALLER_ID_UNDECLARED].text,
                               "caller id not declared by the call centre"),
        CONTRACT_CONSENT: (f"art. 6(1)(a) {GDPR}", CODES[CONTRACT_CONSENT].text,
                           "a customer's marketing consent, contract in force or just ended"),
        OWN_CONSENT: (f"art. 6(1)(a) {GDPR}", CODES[OWN_CONSENT].text,
                      "marketing consent given to us"),
        THIRD_PARTY_CONSENT: (f"art. 6(1)(a) {GDPR}", CODES[THIRD_PARTY_CONSENT].text,
                              "consent to third parties' marketing given to the supplier"),
        LEGITIMATE_INTEREST: (f"art. 6(1)(f) {GDPR}", CODES[LEGITIMATE_INTEREST].text,
                              "legitimate interest: a customer satisfaction survey"),
    }
    merged = {**base, **country_law}
    kinds = {c.code: c.kind for c in CODES.values()}
    bases = (CONTRACT_CONSENT, OWN_CONSENT, THIRD_PARTY_CONSENT, PUBLIC_DIRECTORY,
             LEGITIMATE_INTEREST, CUSTOMER_CONTRACT)
    return {code: Code(code, "basis" if code in bases else kinds.get(code, "reason"),
                       law, text, en) for code, (law, text, en) in merged.items()}


COMPANY_HOURS = {OUTSIDE_CALLING_HOURS: (
    "predefinito aziendale: nessuna norma fissa le fasce orarie ([calling_hours])",
    "fuori dalle fasce orarie dell'azienda (predefinite dall'azienda: nessuna norma le "
    "fissa in questo paese)",
    "outside the company's calling hours (a company default: no statute sets them)")}
COMPANY_CONTACT = {
    ATTEMPT_LIMIT: ("predefinito aziendale: [contact] max_attempts (nessuna norma)",
                    "troppi tentativi di chiamata nel periodo (limite dell'azienda: nessuna "
                    "norma lo fissa in questo paese)",
                    "too many attempts in the period (the company's limit: no statute)"),
    COOLDOWN: ("predefinito aziendale: [contact] refusal_cooldown_days (nessuna norma)",
               "ha rifiutato di recente: pausa dell'azienda prima di richiamare (nessuna "
               "norma la fissa in questo paese)",
               "refused recently: the company's rest before calling again (no statute)")}


def hours_law(law: str) -> dict[str, tuple[str, str, str]]:
    """OUTSIDE_CALLING_HOURS citing the statute that sets a country's hours."""
    return {OUTSIDE_CALLING_HOURS: (law, CODES[OUTSIDE_CALLING_HOURS].text,
                                    "outside the hours the person may be called")}


# --- rules ------------------------------------------------------------------------------

STEPS: tuple[Rule, ...] = (
    *NUMBER_RULES,
    Rule(PURPOSE_NOT_ALLOWED, "the source's manifest allows the purpose", F.purpose_allowed,
         AS_OF),
    Rule(PURPOSE_NOT_ALLOWED, "a survey's source is the company's own archive",
         F.own_archive, AS_OF, applies=lambda ctx: ctx.purpose == "survey", step="6",
         rows="every row of a survey"),
)


def register_checked(register: str, until: dt.date | None = None) -> Rule:
    return Rule(REGISTER_NOT_CHECKED, f"a {register} answer checked at or before as_of, "
                "younger than the register's validity", F.rpo_valid, AS_OF,
                applies=lambda ctx: ctx.checks_rpo, until=until)


def not_registered(register: str, until: dt.date | None = None) -> Rule:
    return Rule(REGISTERED, f"not registered in {register}", F.not_registered, AS_OF,
                until=until)


SECTOR_RULE = Rule(SECTOR_BANNED, "the campaign's sector is not one the law bans from calls, "
                   "unless the person has a contract in force", F.sector_allowed, AS_OF,
                   step="6", rows="every row of a campaign of a banned sector")
FRESH = Rule(CONSENT_EXPIRED, "consent younger than consent_max_age_days", F.consent_fresh,
             AS_OF)
LAW_EVIDENCE = Rule(CONSENT_UNPROVEN, "the evidence the country's law asks of a consent "
                    "(its consent_evidence) is present", F.consent_evidenced_by_law, AS_OF)


def bought(*register_rules: Rule) -> tuple[Rule, ...]:
    """A bought list's checks: supplier, audit, consent, evidence (the policy's and the
    law's), collector, sectors, age; then the register where the law asks it."""
    return (
        Rule(SUPPLIER_NOT_APPROVED, "the supplier has an approved due diligence in force",
             F.supplier_approved, AS_OF),
        Rule(CONSENT_AUDIT_FAILED, "the version's latest consent audit did not fail",
             F.audit_not_failed, AS_OF),
        Rule(CONSENT_MISSING, "consent to marketing by third parties, dated, not in the "
             "future", F.third_party_consent, AS_OF),
        Rule(CONSENT_UNPROVEN, "the evidence fields of consent_evidence and of the "
             "country's law are present", F.consent_evidenced, AS_OF),
        Rule(CONSENT_RESOLD, "consent collected by the supplier that sold the list",
             F.collected_by_supplier, AS_OF),
        Rule(CONSENT_OMNIBUS, "the supplier's consents let the person choose sectors",
             F.sectors_chosen, AS_OF),
        Rule(CONSENT_SECTOR, "when consent_sectors is given, it includes the campaign's "
             "sector", F.sector_consented, AS_OF),
        FRESH, *register_rules)


def own(*register_rules: Rule) -> tuple[Rule, ...]:
    return (Rule(CONSENT_MISSING, "marketing consent, dated, not in the future",
                 F.own_consent, AS_OF), LAW_EVIDENCE, FRESH, *register_rules)


def date_text(column: str) -> pl.Expr:
    return F.date_text(column)


def third_party_detail(ctx: Context) -> pl.Expr:
    return pl.concat_str([
        pl.format("consenso al marketing di terzi del {} raccolto da {}",
                  F.date_text("consent_date"), pl.col("supplier_name")),
        pl.format(", prova {}", pl.col("consent_proof")),
        pl.format("; fornitore verificato il {}", F.date_text("supplier_reviewed_on"))],
        ignore_nulls=True)


def own_detail(ctx: Context) -> pl.Expr:
    return pl.concat_str([pl.format("consenso marketing del {}", F.date_text("consent_date")),
                          pl.format(", prova {}", pl.col("consent_proof"))],
                         ignore_nulls=True)


def contract_consent() -> Basis:
    return Basis(CONTRACT_CONSENT, "telemarketing", ("internal_archive",),
                 "customer: marketing consent within a contract in force or just ended, with "
                 "the evidence the country's law asks", (LAW_EVIDENCE,),
                 lambda ctx: pl.lit("consenso marketing del cliente, contratto in essere o "
                                    f"cessato da non più di {ctx.policy.contract_grace_days} "
                                    "giorni"),
                 when=F.contract_consent)


def survey() -> Basis:
    return Basis(LEGITIMATE_INTEREST, "survey", ("internal_archive",),
                 "survey of a customer with a contract in force or just ended",
                 (Rule(NO_RELATIONSHIP, "contract in force or ended within "
                       "contract_grace_days", F.in_relationship, AS_OF),),
                 lambda ctx: pl.lit("interesse legittimo, indagine di soddisfazione verso un "
                                    "cliente"))


def run_rules(dated: bool) -> tuple[Rule, ...]:
    """The run's decision at dial time; the register rule gives REGISTER_NOT_CHECKED; a
    country with dated rules also asks that the run's version be the one in force at T.

    That question comes right after the number is found in the run: a run decided by a
    version no longer in force says nothing that still holds (neither its reason nor its
    register answer, whose validity ends with the version), and the one useful answer is
    to run it again (RULES_CHANGED), not REGISTER_NOT_CHECKED."""
    rules = tuple(Rule(REGISTER_NOT_CHECKED, r.requirement.replace("RPO", "register"),
                       r.holds, r.taken, step=r.step) if r.code == "RPO_NOT_CHECKED" else r
                  for r in RUN_RULES)
    if dated:
        at = next(i for i, r in enumerate(rules) if r.code == NO_SOURCE) + 1
        rules = (*rules[:at], Rule(RULES_CHANGED, "the run decided by the version of the "
                                   "country's rules in force at T", F.rules_current,
                                   THE_RUN, step="6-8"), *rules[at:])
    return rules


CALLER_ID_RULE = Rule(CALLER_ID_NOT_ALLOWED, "the caller id is not a national mobile number",
                      F.caller_id_allowed, MANIFEST, step="13")
ABANDONED_RULE = Rule(ABANDONED_RECENTLY, "no abandoned call to the number in the last "
                      "72 hours", F.no_recent_abandoned, CALLS, step="11")


def dial_rules(dated: bool = False, *extra: Rule) -> tuple[Rule, ...]:
    """Steps 1-5, the run's decision, the call's rules 9-13, then the country's own (the
    UK's 72 hours, Spain's caller ids)."""
    return (OPTOUTS_READ, *NUMBER_RULES, *run_rules(dated), *CONTACT_RULES, *extra)

