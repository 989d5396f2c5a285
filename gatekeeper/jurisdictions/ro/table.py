"""Romania's decision table: opt-in, no register (L. 506/2004 art. 12)."""

from __future__ import annotations

from gatekeeper.decide.policy import europe as E
from gatekeeper.decide.policy.table import (
    CONSENT_REQUIRED,
    CONTRACT_CONSENT,
    LEGITIMATE_INTEREST,
    OWN_CONSENT,
    THIRD_PARTY_CONSENT,
    Basis,
    DecisionTable,
)

LAW = "L. 506/2004 art. 12 (comunicări nesolicitate)"

CODES = E.codes({**E.COMPANY_HOURS, **E.COMPANY_CONTACT,
    CONSENT_REQUIRED: (f"{LAW}: consimțământ prealabil per ogni chiamata di marketing",
                       "in Romania serve il consenso preventivo a ogni chiamata di marketing",
                       "Romania: prior consent is required for every marketing call"),
    OWN_CONSENT: (f"{LAW}; art. 6(1)(a) GDPR", "consenso marketing dato a noi",
                  "marketing consent given to us"),
    THIRD_PARTY_CONSENT: (f"{LAW}; art. 6(1)(a) GDPR",
                          "consenso al marketing di terzi dato al fornitore della lista",
                          "consent to third parties' marketing given to the supplier"),
    CONTRACT_CONSENT: (f"{LAW}; art. 6(1)(a) GDPR",
                       "consenso marketing di un cliente con contratto in essere",
                       "a customer's marketing consent"),
})

BASES = (
    E.contract_consent(),
    Basis(OWN_CONSENT, "telemarketing", ("internal_archive",),
          "own archive: marketing consent, dated, proven, not expired", E.own(),
          E.own_detail),
    Basis(THIRD_PARTY_CONSENT, "telemarketing", ("third_party",),
          "bought list: approved supplier, consent to third parties, proven", E.bought(),
          E.third_party_detail),
    E.survey(),
)

TABLE = DecisionTable(
    "RO", CODES, E.STEPS, BASES, E.dial_rules(),
    {b: i for i, b in enumerate((CONTRACT_CONSENT, OWN_CONSENT, THIRD_PARTY_CONSENT,
                                 LEGITIMATE_INTEREST))},
    no_basis=CONSENT_REQUIRED,
    regime=f"opt-in: consent needed for every marketing call ({LAW}, read strictly)")
