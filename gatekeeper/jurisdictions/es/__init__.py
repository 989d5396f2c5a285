"""Spain: numbering (+34, no trunk prefix: 6xx/7xx mobiles, 8xx/9xx fixed lines),
Europe/Madrid (the Canary Islands' 928 and 922 on Atlantic/Canary), the Lista Robinson.

Regime: opt-in since 2023-06-29 (LGTel 11/2022 art. 66.1.b); legitimate interest only for
the controller's own customers, similar products, an interaction in the last 365 days
(AEPD Circular 1/2023). The Lista Robinson is consulted before every campaign not based
on consent to this controller, its answer relied on for 30 days. Hours: TRLGDCU art.
96.2, Monday-Friday 09:00-21:00, never weekends or holidays. A caller id that is a Spanish
mobile is refused (Orden TDF/149/2025). Consent evidence: proof and date. Table: table.py.
"""

from __future__ import annotations

from gatekeeper.jurisdictions import Jurisdiction, Register

ROBINSON = Register(name="Lista Robinson", validity_days=30,
                    validity_law="LOPDGDD art. 23.4; AEPD Circular 1/2023 (30 días)",
                    adapters=("file",), code="robinson", answer="registered")

ES = Jurisdiction(
    code="ES",
    region="ES",
    calling_code=34,
    dialable_types=("fixed_line", "mobile", "fixed_line_or_mobile"),
    registers=(ROBINSON,),
    number_examples="612 345 678 or +34 91 234 5678",
    calling_hours=(("weekday", "09:00-21:00"), ("saturday", ""), ("sunday", ""), ("holiday", "")),
    holidays_country="ES",
    timezone_name="Europe/Madrid",
    time_words="ora di Madrid",
    table_module="gatekeeper.jurisdictions.es.table",
    name_words="Spagna",
    hours_law="TRLGDCU (RDL 1/2007) art. 96.2",
    consent_evidence=("proof", "date"),
    zones_by_prefix=(("928", "Atlantic/Canary"), ("922", "Atlantic/Canary"),
                     ("828", "Atlantic/Canary"), ("822", "Atlantic/Canary")),
)
