"""France's decision table, in two dated versions.

Until 2026-08-10 (opt-out): every telemarketing row needs a Bloctel answer younger than 30
days, and a number registered in Bloctel is called only under a contract in force (Code de
la consommation art. L. 223-1). From 2026-08-11 (opt-in, L. 2025-594 art. 13): consent to
this controller, or a contract in force for products linked to it; public directories are
no basis any more. Energy renovation is never called without a contract (L. 2020-901).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from gatekeeper.decide.policy import europe as E
from gatekeeper.decide.policy import facts as F
from gatekeeper.decide.policy.table import (
    AS_OF,
    ATTEMPT_LIMIT,
    CONSENT_REQUIRED,
    CONTRACT_CONSENT,
    COOLDOWN,
    CUSTOMER_CONTRACT,
    LEGITIMATE_INTEREST,
    OWN_CONSENT,
    PUBLIC_DIRECTORY,
    REGISTER_NOT_CHECKED,
    REGISTERED,
    SECTOR_BANNED,
    THIRD_PARTY_CONSENT,
    Basis,
    DecisionTable,
    Rule,
)

BLOCTEL_ENDS = dt.date(2026, 8, 10)
OPT_IN = dt.date(2026, 8, 11)
BLOCTEL_LAW = "Code de la consommation art. L. 223-1 (Bloctel)"
OPT_IN_LAW = "L. 2025-594 art. 13 (Code de la consommation art. L. 223-1 modifié)"

CODES = E.codes({**E.hours_law("décret 2022-1313 (Code de la consommation art. D. 223-8)"),
    ATTEMPT_LIMIT: ("décret 2022-1313 (Code de la consommation art. D. 223-9): 4 appels en "
                    "30 jours", "troppi tentativi: in Francia al massimo 4 chiamate in 30 "
                    "giorni (anche da altri call center per noi)",
                    "France: at most 4 calls in 30 days"),
    COOLDOWN: ("décret 2022-1313 (Code de la consommation art. D. 223-9): 60 jours après un "
               "refus", "ha rifiutato: in Francia 60 giorni prima di richiamare",
               "France: 60 days after a refusal"),
    REGISTER_NOT_CHECKED: (f"{BLOCTEL_LAW}, art. D. 223-3 (30 jours)",
                           "nessuna verifica Bloctel valida (più recente di 30 giorni)",
                           "no valid Bloctel check (younger than 30 days)"),
    REGISTERED: (BLOCTEL_LAW, "iscritto a Bloctel, il registro francese delle opposizioni",
                 "registered in Bloctel, France's do-not-call list"),
    CONSENT_REQUIRED: (OPT_IN_LAW, "in Francia dall'11/08/2026 serve il consenso a essere "
                       "chiamati (o un contratto in essere)",
                       "France, from 11/08/2026: consent to calls (or a contract in force) "
                       "is required"),
    SECTOR_BANNED: ("L. 2020-901 (Code de la consommation art. L. 223-1): rénovation "
                    "énergétique", "settore della ristrutturazione energetica: non si chiama "
                    "senza un contratto in essere",
                    "energy renovation: never called without a contract in force"),
    PUBLIC_DIRECTORY: (BLOCTEL_LAW, "elenco pubblico, non iscritto a Bloctel",
                       "public directory, not registered in Bloctel"),
    CUSTOMER_CONTRACT: (f"{BLOCTEL_LAW}; {OPT_IN_LAW}: contrat en cours",
                        "cliente con contratto in essere, per prodotti collegati al contratto",
                        "a customer with a contract in force, for products linked to it"),
    OWN_CONSENT: (f"{OPT_IN_LAW}; art. 6(1)(a) GDPR", "consenso marketing dato a noi",
                  "marketing consent given to us"),
    THIRD_PARTY_CONSENT: (f"{OPT_IN_LAW}; art. 6(1)(a) GDPR",
                          "consenso al marketing di terzi dato al fornitore della lista",
                          "consent to third parties' marketing given to the supplier"),
})

STEPS = (*E.STEPS,
         Rule(SECTOR_BANNED, E.SECTOR_RULE.requirement, F.sector_allowed, AS_OF, step="6",
              rows=E.SECTOR_RULE.rows),
         E.register_checked("Bloctel", until=BLOCTEL_ENDS))
NOT_IN_BLOCTEL = E.not_registered("Bloctel", until=BLOCTEL_ENDS)

BASES = (
    E.contract_consent(),
    Basis(CUSTOMER_CONTRACT, "telemarketing", ("internal_archive",),
          "customer with a contract in force (products linked to it); Bloctel does not "
          "apply to existing contracts", (),
          lambda ctx: pl.lit("cliente con contratto in essere, solo prodotti collegati al "
                             "contratto"), when=F.contract_in_force),
    Basis(OWN_CONSENT, "telemarketing", ("internal_archive",),
          "own archive: marketing consent, dated, proven (proof, method), not expired; "
          "until 2026-08-10 also not in Bloctel", E.own(NOT_IN_BLOCTEL), E.own_detail),
    Basis(THIRD_PARTY_CONSENT, "telemarketing", ("third_party",),
          "bought list: approved supplier, consent proven (proof, method); until "
          "2026-08-10 also not in Bloctel", E.bought(NOT_IN_BLOCTEL), E.third_party_detail),
    Basis(PUBLIC_DIRECTORY, "telemarketing", ("public_directory",),
          "public directory, not registered in Bloctel (until 2026-08-10)",
          (E.not_registered("Bloctel"),),
          lambda ctx: pl.format("elenco pubblico, non iscritto a Bloctel al {}",
                                F.date_text("rpo_checked_at")), until=BLOCTEL_ENDS),
    E.survey(),
)

TABLE = DecisionTable(
    "FR", CODES, STEPS, BASES, E.dial_rules(True),
    {b: i for i, b in enumerate((CONTRACT_CONSENT, CUSTOMER_CONTRACT, OWN_CONSENT,
                                 THIRD_PARTY_CONSENT, PUBLIC_DIRECTORY,
                                 LEGITIMATE_INTEREST))},
    no_basis=CONSENT_REQUIRED,
    regime="opt-out with Bloctel until 2026-08-10; opt-in from 2026-08-11 (L. 2025-594 "
           "art. 13; exception: a contract in force, for products linked to it)")
