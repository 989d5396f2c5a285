"""Italy: numbering (+39, leading zero kept), the Registro Pubblico delle Opposizioni.

Numbers: libphonenumber region IT; fixed lines and mobiles may be called (art. 130
Codice Privacy), never premium, toll-free, shared-cost, personal, VoIP, UAN or voicemail
numbers. +39 06698 is the Vatican's, which shares Italy's calling code.
Register: the RPO (L. 5/2018, DPR 26/2022); its answers are relied on for 15 days.
"""

from __future__ import annotations

from . import Jurisdiction

IT = Jurisdiction(
    code="IT",
    region="IT",
    calling_code=39,
    dialable_types=("fixed_line", "mobile", "fixed_line_or_mobile"),
    register="RPO",
    number_examples="333 123 4567 or +39 02 1234567",
    foreign_prefixes=("06698",),
    keeps_leading_zero=True,
    fixed_lines_start_with_zero=True,
)
