"""France: numbering (+33, trunk 0: 01-05 fixed, 06/07 mobile; 09 VoIP and 08 special
numbers are not called), Europe/Paris, Bloctel until 2026-08-10.

Regime: opt-out with Bloctel (Code de la consommation art. L. 223-1) until 2026-08-10;
opt-in from 2026-08-11 (L. 2025-594 art. 13), except a contract in force, for products
linked to it. Hours: décret 2022-1313, Monday-Friday 10:00-13:00 and 14:00-20:00, never
weekends or public holidays; at most 4 attempts in 30 days by anyone calling for the
controller, 60 days' rest after a refusal. Energy renovation is never called without a
contract (L. 2020-901). Consent evidence: proof, date and method. Table: table.py.
"""

from __future__ import annotations

import datetime as dt

from gatekeeper.jurisdictions import ContactLaw, Jurisdiction, Register

BLOCTEL = Register(name="Bloctel", validity_days=30,
                   validity_law="Code de la consommation art. L. 223-1, D. 223-3",
                   adapters=("file",), code="bloctel", answer="kept",
                   until=dt.date(2026, 8, 10))

FR = Jurisdiction(
    code="FR",
    region="FR",
    calling_code=33,
    dialable_types=("fixed_line", "mobile", "fixed_line_or_mobile"),
    registers=(BLOCTEL,),
    number_examples="01 42 68 53 00 or +33 6 12 34 56 78",
    calling_hours=(("weekday", "10:00-13:00, 14:00-20:00"), ("saturday", ""), ("sunday", ""),
                   ("holiday", "")),
    holidays_country="FR",
    timezone_name="Europe/Paris",
    time_words="ora di Parigi",
    trunk_prefix="0",
    table_module="gatekeeper.jurisdictions.fr.table",
    name_words="Francia",
    hours_law="décret 2022-1313 (Code de la consommation art. D. 223-8)",
    contact_law=ContactLaw(limits=((4, 30),), refusal_rest_days=60,
                           law="décret 2022-1313 (Code de la consommation art. D. 223-8, "
                               "D. 223-9)"),
    consent_evidence=("proof", "date", "method"),
)
