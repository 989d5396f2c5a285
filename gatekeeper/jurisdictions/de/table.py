"""Germany's decision table: opt-in, prior express consent (UWG §7(2) Nr. 1), documented
(proof, date, method, text: UWG §7a)."""

from __future__ import annotations

from gatekeeper.decide.policy import europe as E
from gatekeeper.decide.policy.table import (
    ATTEMPT_LIMIT,
    CONSENT_REQUIRED,
    CONSENT_UNPROVEN,
    CONTRACT_CONSENT,
    LEGITIMATE_INTEREST,
    OWN_CONSENT,
    THIRD_PARTY_CONSENT,
    Basis,
    DecisionTable,
)

UWG = "UWG §7(2) Nr. 1"

CODES = E.codes({**E.hours_law("DDV Ehrenkodex Telefonmarketing (codice di settore)"),
    ATTEMPT_LIMIT: ("DDV Ehrenkodex Telefonmarketing (codice di settore): 3 al giorno, 15 "
                    "alla settimana", "troppi tentativi: in Germania al massimo 3 al giorno "
                    "e 15 alla settimana", "Germany: at most 3 a day and 15 a week"),
    CONSENT_REQUIRED: (UWG, "in Germania serve il consenso espresso e preventivo a essere "
                       "chiamati", "Germany: prior express consent to calls is required"),
    CONSENT_UNPROVEN: ("UWG §7a (Dokumentation der Einwilligung)",
                       "consenso senza prova, data, metodo e testo documentati",
                       "consent without documented proof, date, method and text"),
    OWN_CONSENT: (f"{UWG}; UWG §7a", "consenso espresso dato a noi, documentato",
                  "express consent given to us, documented"),
    THIRD_PARTY_CONSENT: (f"{UWG}; UWG §7a", "consenso espresso dato al fornitore, "
                          "documentato", "express consent given to the supplier, documented"),
    CONTRACT_CONSENT: (f"{UWG}; UWG §7a", "consenso espresso di un cliente",
                       "a customer's express consent"),
})

BASES = (
    E.contract_consent(),
    Basis(OWN_CONSENT, "telemarketing", ("internal_archive",),
          "own archive: express consent, documented (proof, date, method, text)", E.own(),
          E.own_detail),
    Basis(THIRD_PARTY_CONSENT, "telemarketing", ("third_party",),
          "bought list: approved supplier, express consent documented", E.bought(),
          E.third_party_detail),
    E.survey(),
)

TABLE = DecisionTable(
    "DE", CODES, E.STEPS, BASES, E.dial_rules(),
    {b: i for i, b in enumerate((CONTRACT_CONSENT, OWN_CONSENT, THIRD_PARTY_CONSENT,
                                 LEGITIMATE_INTEREST))},
    no_basis=CONSENT_REQUIRED,
    regime=f"opt-in: prior express consent ({UWG})")
