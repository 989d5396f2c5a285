"""The United Kingdom's decision table: opt-out with the TPS and CTPS (PECR reg. 21); a
person who told this controller they do not object (consent given to us) may be called
though registered; no call within 72 hours of an abandoned one (Ofcom)."""

from __future__ import annotations

import polars as pl

from gatekeeper.decide.policy import europe as E
from gatekeeper.decide.policy import facts as F
from gatekeeper.decide.policy.table import (
    ABANDONED_RECENTLY,
    CONTRACT_CONSENT,
    LEGITIMATE_INTEREST,
    OWN_CONSENT,
    PUBLIC_DIRECTORY,
    REGISTER_NOT_CHECKED,
    REGISTERED,
    THIRD_PARTY_CONSENT,
    Basis,
    DecisionTable,
)

PECR = "PECR 2003 (SI 2003/2426) reg. 21"

CODES = E.codes({**E.COMPANY_HOURS, **E.COMPANY_CONTACT,
    REGISTER_NOT_CHECKED: (f"{PECR}, reg. 26 (28 days)",
                           "nessuna verifica TPS/CTPS valida (più recente di 28 giorni)",
                           "no valid TPS/CTPS check (younger than 28 days)"),
    REGISTERED: (PECR, "iscritto al TPS/CTPS, il registro britannico delle opposizioni",
                 "registered with the TPS/CTPS"),
    ABANDONED_RECENTLY: ("Ofcom, Revised statement of policy on persistent misuse (2016) "
                         "§A1.60", "chiamata abbandonata nelle ultime 72 ore: non richiamare "
                         "prima", "an abandoned call in the last 72 hours: do not call back "
                         "before"),
    OWN_CONSENT: (f"{PECR}(4): the subscriber told us they do not object",
                  "l'interessato ci ha detto di non opporsi alle nostre chiamate",
                  "the person told us they do not object to our calls"),
    CONTRACT_CONSENT: (f"{PECR}(4)", "consenso marketing di un cliente",
                       "a customer's marketing consent"),
    PUBLIC_DIRECTORY: (PECR, "elenco pubblico, non iscritto al TPS/CTPS",
                       "public directory, not registered with the TPS/CTPS"),
    THIRD_PARTY_CONSENT: (f"{PECR}; ICO direct marketing guidance",
                          "consenso al marketing di terzi, non iscritto al TPS/CTPS",
                          "third-party consent, not registered with the TPS/CTPS"),
})

TPS = (E.register_checked("TPS/CTPS"), E.not_registered("TPS/CTPS"))

BASES = (
    E.contract_consent(),
    Basis(OWN_CONSENT, "telemarketing", ("internal_archive",),
          "own archive: the person told this controller they do not object (consent to us): "
          "the TPS does not apply", E.own(), E.own_detail),
    Basis(THIRD_PARTY_CONSENT, "telemarketing", ("third_party",),
          "bought list: approved supplier, consent proven, and not in the TPS/CTPS",
          E.bought(*TPS), E.third_party_detail),
    Basis(PUBLIC_DIRECTORY, "telemarketing", ("public_directory",),
          "public directory: not in the TPS/CTPS", TPS,
          lambda ctx: pl.format("elenco pubblico, non iscritto al TPS/CTPS al {}",
                                F.date_text("rpo_checked_at"))),
    E.survey(),
)

TABLE = DecisionTable(
    "UK", CODES, E.STEPS, BASES, E.dial_rules(False, E.ABANDONED_RULE),
    {b: i for i, b in enumerate((CONTRACT_CONSENT, OWN_CONSENT, THIRD_PARTY_CONSENT,
                                 PUBLIC_DIRECTORY, LEGITIMATE_INTEREST))},
    regime=f"opt-out: no call to a number in the TPS/CTPS unless the person told this "
           f"controller they do not object ({PECR})")
