"""The United Kingdom (libphonenumber's GB): numbering (+44, trunk 0: 01/02 fixed, 07
mobile), Europe/London, the TPS and CTPS.

Regime: opt-out. No call to a number in the TPS or CTPS unless the person told this
controller they do not object (PECR reg. 21). The registers are licensed as whole files:
imported as dated snapshots, their answers relied on for 28 days. Hours: Monday-Friday
09:00-20:00 and Saturday 10:00-17:00 (company default: no statute). No call within 72
hours of an abandoned one (Ofcom, persistent misuse policy). Holidays: England's.
Table: table.py.
"""

from __future__ import annotations

from gatekeeper.jurisdictions import ContactLaw, Jurisdiction, Register

TPS = Register(name="TPS/CTPS", validity_days=28,
               validity_law="PECR 2003 reg. 21, 26 (28 days)", adapters=("file",),
               code="tps", delivery="snapshot", answer="registered")

UK = Jurisdiction(
    code="UK",
    region="GB",
    calling_code=44,
    dialable_types=("fixed_line", "mobile", "fixed_line_or_mobile"),
    registers=(TPS,),
    number_examples="020 7946 0000 or +44 7912 345678",
    calling_hours=(("weekday", "09:00-20:00"), ("saturday", "10:00-17:00"), ("sunday", ""),
                   ("holiday", "")),
    holidays_country="GB",
    holidays_subdivision="ENG",
    timezone_name="Europe/London",
    time_words="ora di Londra",
    trunk_prefix="0",
    table_module="gatekeeper.jurisdictions.uk.table",
    name_words="Regno Unito",
    hours_law="",
    contact_law=ContactLaw(abandoned_rest_hours=72,
                           law="Ofcom, Revised statement of policy on persistent misuse "
                               "(2016) §A1.60"),
)
