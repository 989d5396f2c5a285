"""Italy: numbering (+39, leading zero kept), the Registro Pubblico delle Opposizioni.

Numbers: libphonenumber region IT; fixed lines and mobiles may be called (art. 130
Codice Privacy), never premium, toll-free, shared-cost, personal, VoIP, UAN or voicemail
numbers. +39 06698 is the Vatican's, which shares Italy's calling code.
Register: the RPO (L. 5/2018, DPR 26/2022); its answers are relied on for 15 days.
Decision table: policy/table.py (TABLE), the law each rule rests on and its words.
Calling hours: the telemarketing code of conduct (GU 27 March 2024): Monday-Friday
09:00-20:00, Saturdays and the day before a public holiday 10:00-19:00, never on Sundays or
national public holidays (Easter Monday included; San Francesco, 4 October, again from 2026
by L. 151/2025), Europe/Rome time.
"""

from __future__ import annotations

from gatekeeper.jurisdictions import Jurisdiction, Register

RPO = Register(name="RPO", validity_days=15,
               validity_law="art. 1 c.12 L. 5/2018, DPR 26/2022", adapters=("file", "http"))

IT = Jurisdiction(
    code="IT",
    region="IT",
    calling_code=39,
    dialable_types=("fixed_line", "mobile", "fixed_line_or_mobile"),
    registers=(RPO,),
    number_examples="333 123 4567 or +39 02 1234567",
    calling_hours=(
        ("weekday", "09:00-20:00"),
        ("saturday", "10:00-19:00"),
        ("pre_holiday", "10:00-19:00"),
        ("sunday", ""),
        ("holiday", ""),
    ),
    holidays_country="IT",
    timezone_name="Europe/Rome",
    time_words="Rome time",
    foreign_prefixes=("06698",),
    keeps_leading_zero=True,
    fixed_lines_start_with_zero=True,
    table_module="gatekeeper.decide.policy.table",
)
