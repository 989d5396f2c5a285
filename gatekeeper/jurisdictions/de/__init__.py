"""Germany: numbering (+49, trunk 0), Europe/Berlin, no do-not-call register.

Regime: opt-in, prior express consent (UWG §7(2) Nr. 1). Consent evidence: proof, date,
method and text, kept 5 years after the consent and after each call that relied on it
(UWG §7a). Hours: Monday-Friday 08:00-20:00, Saturday 09:00-18:00 (the industry's code,
DDV), at most 3 attempts a day and 15 a week. Holidays: the national ones. Table: table.py.
"""

from __future__ import annotations

from gatekeeper.jurisdictions import ContactLaw, Jurisdiction

DE = Jurisdiction(
    code="DE",
    region="DE",
    calling_code=49,
    dialable_types=("fixed_line", "mobile", "fixed_line_or_mobile"),
    registers=(),
    number_examples="030 1234567 or +49 151 23456789",
    calling_hours=(("weekday", "08:00-20:00"), ("saturday", "09:00-18:00"), ("sunday", ""),
                   ("holiday", "")),
    holidays_country="DE",
    timezone_name="Europe/Berlin",
    time_words="ora di Berlino",
    trunk_prefix="0",
    table_module="gatekeeper.jurisdictions.de.table",
    name_words="Germania",
    hours_law="DDV Ehrenkodex Telefonmarketing (codice di settore)",
    contact_law=ContactLaw(limits=((3, 1), (15, 7)),
                           law="DDV Ehrenkodex Telefonmarketing (codice di settore)"),
    consent_evidence=("proof", "date", "method", "text"),
    evidence_years_after_call=5,
    evidence_law="UWG §7a",
)
