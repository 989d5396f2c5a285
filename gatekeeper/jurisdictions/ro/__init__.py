"""Romania: numbering (+40: mobiles 07x, fixed lines 02x/03x; never 090x premium, 0800
toll-free or 0801 shared-cost), Europe/Bucharest, no do-not-call register.

Regime: opt-in. L. 506/2004 art. 12, read strictly: every marketing call needs the
person's prior consent. No statute sets calling hours: Monday-Friday 09:00-20:00 is the
company default (so [calling_hours.RO] replaces it). Holidays: the `holidays` package's RO
(Orthodox Easter, Good Friday and Whit Monday move with the Julian computus).
Consent evidence: proof and date. Table: table.py.
"""

from __future__ import annotations

from gatekeeper.jurisdictions import Jurisdiction

RO = Jurisdiction(
    code="RO",
    region="RO",
    calling_code=40,
    dialable_types=("fixed_line", "mobile", "fixed_line_or_mobile"),
    registers=(),
    number_examples="0721 234 567 or +40 21 234 5678",
    calling_hours=(("weekday", "09:00-20:00"), ("saturday", ""),
                   ("sunday", ""), ("holiday", "")),
    holidays_country="RO",
    timezone_name="Europe/Bucharest",
    time_words="ora della Romania",
    trunk_prefix="0",
    table_module="gatekeeper.jurisdictions.ro.table",
    name_words="Romania",
    hours_law="",
    consent_evidence=("proof", "date"),
)
