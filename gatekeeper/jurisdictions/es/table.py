"""Spain's decision table: opt-in since 2023-06-29 (LGTel 11/2022 art. 66.1.b), legitimate
interest for the controller's customers with an interaction in the last 365 days (AEPD
Circular 1/2023), the Lista Robinson before every campaign not based on consent to this
controller, no caller id that is a Spanish mobile (Orden TDF/149/2025)."""

from __future__ import annotations

import polars as pl

from gatekeeper.decide.policy import europe as E
from gatekeeper.decide.policy import facts as F
from gatekeeper.decide.policy.table import (
    AS_OF,
    CALLER_ID_NOT_ALLOWED,
    CONSENT_REQUIRED,
    CONTRACT_CONSENT,
    CUSTOMER_CONTRACT,
    LEGITIMATE_INTEREST,
    NO_RELATIONSHIP,
    OWN_CONSENT,
    REGISTER_NOT_CHECKED,
    REGISTERED,
    THIRD_PARTY_CONSENT,
    Basis,
    DecisionTable,
    Rule,
)

LGTEL = "Ley 11/2022 General de Telecomunicaciones art. 66.1.b"
ROBINSON_LAW = "LOPDGDD (LO 3/2018) art. 23.4; AEPD Circular 1/2023"

CODES = E.codes({**E.hours_law("TRLGDCU (RDL 1/2007) art. 96.2"), **E.COMPANY_CONTACT,
    REGISTER_NOT_CHECKED: (f"{ROBINSON_LAW} (30 días)",
                           "nessuna verifica della Lista Robinson valida (più recente di 30 "
                           "giorni)", "no valid Lista Robinson check (younger than 30 days)"),
    REGISTERED: (ROBINSON_LAW, "iscritto alla Lista Robinson",
                 "registered in the Lista Robinson"),
    CONSENT_REQUIRED: (LGTEL, "in Spagna serve il consenso a essere chiamati (o un rapporto "
                       "di clientela con un contatto negli ultimi 365 giorni)",
                       "Spain: consent to calls (or a customer relationship with an "
                       "interaction in the last 365 days) is required"),
    NO_RELATIONSHIP: ("AEPD Circular 1/2023 (interés legítimo: 365 días)",
                      "nessun rapporto di clientela con un contatto negli ultimi 365 giorni",
                      "no customer relationship with an interaction in the last 365 days"),
    CALLER_ID_NOT_ALLOWED: ("Orden TDF/149/2025: numeración móvil no permitida para "
                            "llamadas comerciales",
                            "numero chiamante mobile spagnolo: vietato per le chiamate "
                            "commerciali", "a Spanish mobile caller id is not allowed"),
    CUSTOMER_CONTRACT: (f"{LGTEL}; AEPD Circular 1/2023 (interés legítimo)",
                        "interesse legittimo: cliente con un contatto negli ultimi 365 "
                        "giorni, prodotti simili", "legitimate interest: a customer with "
                        "an interaction in the last 365 days, similar products"),
    OWN_CONSENT: (f"{LGTEL}; art. 6(1)(a) GDPR", "consenso marketing dato a noi",
                  "marketing consent given to us"),
    THIRD_PARTY_CONSENT: (f"{LGTEL}; art. 6(1)(a) GDPR",
                          "consenso al marketing di terzi dato al fornitore della lista",
                          "consent to third parties' marketing given to the supplier"),
})

ROBINSON = (E.register_checked("Lista Robinson"), E.not_registered("Lista Robinson"))

# A row fits the first basis whose kinds and `when` it meets: a customer without a consent
# to us is asked the legitimate interest's questions (365 days, the Robinson); every other
# own-archive row the consent's (none: CONSENT_MISSING, docs/decisions.md).
BASES = (
    E.contract_consent(),
    Basis(CUSTOMER_CONTRACT, "telemarketing", ("internal_archive",),
          "a customer with a contract in force or one ended in the last 365 days (similar "
          "products), not in the Lista Robinson",
          (Rule(NO_RELATIONSHIP, "contract in force or ended in the last 365 days",
                F.recent_interaction, AS_OF), *ROBINSON),
          lambda ctx: pl.lit("interesse legittimo verso un cliente (contatto negli ultimi "
                             "365 giorni), prodotti simili"),
          when=lambda ctx: ~F.own_consent(ctx) & F.a_customer(ctx)),
    Basis(OWN_CONSENT, "telemarketing", ("internal_archive",),
          "own archive: marketing consent to this controller, dated, proven", E.own(),
          E.own_detail),
    Basis(THIRD_PARTY_CONSENT, "telemarketing", ("third_party",),
          "bought list: approved supplier, consent proven; not consent to this controller, "
          "so the Lista Robinson too", E.bought(*ROBINSON), E.third_party_detail),
    E.survey(),
)

TABLE = DecisionTable(
    "ES", CODES, E.STEPS, BASES, E.dial_rules(False, E.CALLER_ID_RULE),
    {b: i for i, b in enumerate((CONTRACT_CONSENT, OWN_CONSENT, CUSTOMER_CONTRACT,
                                 THIRD_PARTY_CONSENT, LEGITIMATE_INTEREST))},
    no_basis=CONSENT_REQUIRED,
    regime=f"opt-in since 2023-06-29 ({LGTEL}); legitimate interest only for own "
           "customers, similar products, an interaction in the last 365 days (AEPD "
           "Circular 1/2023)")
