"""A supplier's list as a new manager receives it (issue 22): an .xlsx with a title above
the header, phone numbers stored as numbers (landlines lost their leading 0), consent dates
as Excel dates, blank rows in the middle and a TOTALE row at the bottom."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook

HEADER = ["N.", "Nominativo", "Cell.", "Consenso terzi", "Data consenso", "Canale", "ID prova"]
FIRST = ["Mario", "Anna", "Luca", "Sara", "Paolo", "Giulia", "Marco", "Elena", "Franco", "Rita"]
LAST = ["Rossi", "Bianchi", "Verdi", "Neri"]


def people(count: int = 40) -> list[tuple[str, int]]:
    """(name, phone as the sheet stores it): 24 mobiles, 16 landlines of Rome and Milan
    whose leading 0 the number format dropped."""
    rows = []
    for i in range(count):
        name = f"{FIRST[i % len(FIRST)]} {LAST[i // len(FIRST) % len(LAST)]}"
        if i % 5 in (1, 3):  # a landline, stored as a number: 06 5xxxxxxx -> 65xxxxxxx
            phone = int(f"{'6' if i % 2 else '2'}{5550000 + i * 7:08d}")
        else:
            phone = int(f"3{33 + i % 7}{2000000 + i * 13:07d}")
        rows.append((name, phone))
    return rows


def messy_supplier_xlsx(path: Path, count: int = 40) -> list[tuple[str, int]]:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Contatti"
    sheet.append(["Acme Lead S.r.l. — contatti con consenso, novembre 2026"])
    sheet.append(["Estratto il 22/11/2026 per Connecto S.r.l."])
    sheet.append([])
    sheet.append(HEADER)
    listed = people(count)
    for i, (name, phone) in enumerate(listed):
        if i in (12, 27):
            sheet.append([])  # blank rows between blocks, as people leave them
        sheet.append([i + 1, name, phone, "SI", dt.datetime(2026, 3, 1) + dt.timedelta(days=i),
                      "web", f"ACME-{1000 + i}"])
        sheet.cell(sheet.max_row, 5).number_format = "DD/MM/YYYY"
    sheet.append([])
    sheet.append(["TOTALE", None, None, None, None, None, count])
    book.save(path)
    return listed
