"""The demo workspace: three realistic, seeded lists that show every kind of row.

`python -m gatekeeper.demo [DIR]` rewrites gatekeeper.toml, sources/, data/lists/, the
bundled RPO exchange, agencies/, a day of calls (data/calls/) and the contracts signed
that day (data/contracts/) in DIR
(default: the current folder), and the second workspace DIR/europa/: the same controller
calling Romania and France too (a Romanian archive, a French bought list and directory,
a Bloctel exchange from before France's opt-in of 2026-08-11). Same seed, same files.
Numbers are random but well formed; names are common Italian, Romanian and French
names, not people.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import sys
from collections.abc import Callable
from pathlib import Path

import phonenumbers

from gatekeeper.jurisdictions.it import IT  # the demo is an Italian call centre

FIRST = (
    "Giuseppe",
    "Maria",
    "Giovanni",
    "Anna",
    "Antonio",
    "Giuseppina",
    "Mario",
    "Rosa",
    "Luigi",
    "Angela",
    "Francesco",
    "Giovanna",
    "Angelo",
    "Teresa",
    "Vincenzo",
    "Lucia",
    "Pietro",
    "Carmela",
    "Salvatore",
    "Caterina",
    "Carlo",
    "Francesca",
    "Franco",
    "Chiara",
    "Domenico",
    "Elena",
    "Bruno",
    "Paola",
    "Paolo",
    "Sara",
    "Nicolò",
    "Martina",
)
LAST = (
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
    "Lombardo",
    "Serra",
    "Coppola",
    "D'Angelo",
    "Fabbri",
    "Bellini",
    "Marchetti",
    "Villa",
    "Parisi",
    "Pellegrini",
)
AREAS = ("02", "06", "011", "010", "051", "055", "081", "091", "041", "045", "070", "080")
MOBILE = (
    "320",
    "328",
    "333",
    "335",
    "338",
    "339",
    "340",
    "347",
    "348",
    "349",
    "366",
    "380",
    "388",
    "389",
    "391",
    "392",
    "393",
)
CHECKED_AT = dt.date(2026, 11, 20)
AS_OF = dt.date(2026, 11, 22)

CONFIG = f"""[controller]
name = "Connecto S.r.l."
vat = "IT08606060963"
address = "Piazza Eleonora Duse 2, 20122 Milano (MI)"
dpo_email = "dpo@connecto.example"

[policy]
jurisdiction = "{IT.code}"
rpo_validity_days = 15
consent_max_age_days = 730
contract_grace_days = 30
survey_checks_rpo = false

[registry]
adapter = "file"
price_per_number = 0.004
"""

MANIFESTS = {
    "crm-clienti": """id = "crm-clienti"
kind = "internal_archive"
file = "data/lists/crm-clienti.csv"
received_on = 2026-11-01
purposes = ["telemarketing", "survey"]

[columns]
phone = "Telefono"
name = "Nominativo"
customer_id = "Codice cliente"
contract_status = "Stato contratto"
contract_end = "Data cessazione"
consent_marketing = "Consenso marketing"
consent_date = "Data consenso"
consent_channel = "Canale consenso"
""",
    "acme-2026-11": """id = "acme-2026-11"
kind = "third_party"
file = "data/lists/acme-2026-11.csv"
received_on = 2026-11-02
purposes = ["telemarketing"]
supplier = "acme"                   # suppliers/acme.toml: identity and due diligence

[columns]
phone = "Telefono"
name = "Nominativo"
consent_third_party = "Consenso terzi"
consent_date = "Data consenso"
consent_channel = "Canale"
consent_proof = "ID prova"
consent_collector = "Raccolto da"
""",
    "pagine-2026": """id = "pagine-2026"
kind = "public_directory"
file = "data/lists/pagine-2026.xlsx"
received_on = 2026-10-15
purposes = ["telemarketing"]
supplier = "elenchi-italia"

[columns]
phone = "Telefono"
name = "Intestatario"
""",
}


AGENCIES = {
    "connecto": """# The controller's own call centre: no ROC registration or contract of its own to cite.
id = "connecto"
name = "Connecto S.r.l."
vat = "IT08606060963"
authorised_from = 2026-01-01        # no authorised_to: open-ended
caller_ids = ["+390287650001", "+390287650002"]   # the numbers it shows (not CallPro's)
campaigns = []                      # empty: every campaign
inbound = true                      # it also answers the customers' calls to Connecto
# no [calls]: its dialer exports the ledger's own field names (call_id, phone, started_at,
# outcome, and any of agent, campaign, duration_s, caller_id, direction)
""",
    "callpro": """id = "callpro"
name = "CallPro S.r.l."
vat = "IT07654321098"
roc = "31234"                       # registration in the ROC (Registro degli Operatori di Comunicazione)
contract_ref = "2026/03"
authorised_from = 2026-01-01
authorised_to = 2026-12-31          # optional
caller_ids = ["+390299990001", "+390299990002"]   # the numbers it declared it shows
campaigns = []                      # empty: every campaign

[calls]                             # how its dialer exports call records (for `calls import`)
columns = { call_id = "uniqueid", phone = "phone_number", started_at = "call_date", agent = "user", campaign = "campaign_id", duration_s = "length_in_sec", outcome = "status" }
# VICIdial's own status codes: A/AA/AM/AL are answering machines, DROP/PDROP a person left with no agent
outcomes = { NA = "no_answer", N = "no_answer", B = "busy", AB = "busy", A = "voicemail", AA = "voicemail", AM = "voicemail", AL = "voicemail", DROP = "abandoned", PDROP = "abandoned", XFER = "answered", NI = "refused", CALLBK = "callback", DNC = "optout", SALE = "sale", WN = "wrong_number", DC = "failed", ADC = "failed" }
""",
}
# VICIdial's outcome codes as CallPro's manifest maps them, weighted like a day's dialling.
_VICIDIAL_STATUS = ("NA",) * 28 + ("DROP",) * 2 + ("B",) * 6 + ("AA",) * 12 + ("XFER",) * 24 + (
    "NI",) * 10 + (
    "CALLBK",) * 5 + ("DNC",) * 3 + ("SALE",) * 6 + ("WN",) * 2 + ("DC",) * 2
# Suppliers (code of conduct art. 6): Acme reviewed and approved until 2027; Elenchi Italia
# approved a year ago and due for review on 2026-12-10 (`gatekeeper suppliers` says so).
SUPPLIERS = {
    "acme": """id = "acme"
name = "Acme Lead S.r.l."
vat = "IT01234567890"
contact = "privacy@acme.example"
contract_ref = "2026/17"
eu_establishment = true

[due_diligence]
reviewed_on = 2026-10-01
reviewed_by = "dpo"
privacy_notice = "data/suppliers/acme-informativa.pdf"   # kept as evidence (sha256)
collection = ["double_opt_in", "sms_otp"]
sector_choice = true                # the person chose the sectors
outcome = "approved"
next_review = 2027-10-01
""",
    "elenchi-italia": """id = "elenchi-italia"
name = "Elenchi Italia S.p.A."
vat = "IT09876543210"
contact = "dati@elenchi.example"
contract_ref = "EI-2026-044"
eu_establishment = true

[due_diligence]
reviewed_on = 2025-12-10
reviewed_by = "dpo"
privacy_notice = "data/suppliers/elenchi-italia-informativa.pdf"
collection = ["paper"]              # entries of the public directory (no marketing consent)
sector_choice = false
outcome = "approved"
next_review = 2026-12-10            # due for review
""",
}
NOTICES = {
    "acme": ["Acme Lead S.r.l. - Informativa privacy (art. 13 GDPR)",
             "Titolare: Acme Lead S.r.l., P.IVA IT01234567890, privacy@acme.example.",
             "Con il Suo consenso, raccolto con doppia conferma (e-mail e SMS), i Suoi dati",
             "possono essere comunicati a societa' terze dei settori che Lei sceglie",
             "(energia, telefonia, assicurazioni) per loro offerte commerciali.",
             "Il consenso e' facoltativo e revocabile in ogni momento."],
    "elenchi-italia": ["Elenchi Italia S.p.A. - Informativa sugli elenchi telefonici",
                       "Dati tratti dagli elenchi pubblici (DB unico), art. 129 Codice Privacy.",
                       "Chi non vuole ricevere chiamate commerciali puo' iscriversi al",
                       "Registro Pubblico delle Opposizioni."],
}
AUDIT_SEED = 2026  # README: gatekeeper audit sample acme-2026-11 --seed 2026


class Maker:
    """Seeded source of numbers, names and the messy ways lists write them."""

    def __init__(self, seed: int = 20261122) -> None:
        self.rng = random.Random(seed)

    def national(self) -> str:
        r = self.rng
        if r.random() < 0.65:
            return r.choice(MOBILE) + f"{r.randrange(10**6, 10**7)}"
        area = r.choice(AREAS)
        return area + f"{r.randrange(10 ** (9 - len(area)), 10 ** (10 - len(area)))}"

    def name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}".replace("\u00a0", " ")

    def messy(self, national: str) -> str:
        r, n = self.rng, national
        shapes = [
            n,
            n,
            n,
            f"+39 {n}",
            f"0039{n}",
            f"{n[:3]} {n[3:]}",
            f"{n[:3]}-{n[3:6]}-{n[6:]}",
            f"{n[:3]}.{n[3:6]}.{n[6:]}",
            f"{n[:3]}/{n[3:]}",
            f"+39 ({n[:3]}) {n[3:]}",
            f"'{n}",
            f'="{n}"',
            f"{n}.0",
            f"\u00a0{n}",
            f"tel:+39{n}",
            f"39{n}",
        ]
        return r.choice(shapes)

    def junk(self) -> str:
        return self.rng.choice(
            [
                "n/d",
                "-",
                "",
                "non disponibile",
                "0000",
                "12345",
                "+44 20 7946 0958",
                "+33 1 42 68 53 00",
                "899 123 456",
                "800 123 456",
                "178 1234567",
                "3.33123E+09",
            ]
        )

    def day(self, start: dt.date, end: dt.date) -> dt.date:
        return start + dt.timedelta(days=self.rng.randrange((end - start).days + 1))


def _csv_text(header: list[str], rows: list[list[str]], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _crm(m: Maker, numbers: list[str]) -> str:
    r = m.rng
    rows = []
    for i, n in enumerate(numbers, 1):
        active = r.random() < 0.7
        end = "" if active else m.day(dt.date(2026, 8, 1), AS_OF).strftime("%d/%m/%Y")
        consent = r.random() < 0.8
        cdate = m.day(dt.date(2023, 6, 1), dt.date(2026, 11, 1)) if consent else None
        rows.append(
            [
                f"C{100000 + i}",
                m.name(),
                m.messy(n) if r.random() > 0.02 else m.junk(),
                "attivo" if active else "cessato",
                end,
                r.choice(["si", "sì", "Si", "x"]) if consent else r.choice(["no", ""]),
                cdate.strftime("%d/%m/%Y") if cdate else "",
                r.choice(["contratto", "web", "negozio"]) if consent else "",
            ]
        )
    rows[10][5] = "forse"  # unreadable consent flag -> reject
    rows[20][6] = "31/02/2025"  # impossible date -> reject
    text = _csv_text(
        [
            "Codice cliente",
            "Nominativo",
            "Telefono",
            "Stato contratto",
            "Data cessazione",
            "Consenso marketing",
            "Data consenso",
            "Canale consenso",
        ],
        rows,
        ";",
    )
    lines = text.split("\r\n")
    lines[31] = lines[31] + ";colonna in più"  # ragged row -> reject
    return "\r\n".join(lines)


def _acme(m: Maker, numbers: list[str]) -> str:
    r = m.rng
    rows = []
    for i, n in enumerate(numbers):
        roll = r.random()
        consent = "no" if roll < 0.05 else r.choice(["si", "SI", "yes", "1"])
        cdate = m.day(dt.date(2024, 1, 1), dt.date(2026, 10, 31))
        if 0.05 <= roll < 0.10:
            cdate = m.day(dt.date(2022, 1, 1), dt.date(2024, 11, 1))  # too old
        proof = "" if 0.10 <= roll < 0.15 else f"ACME-{2026}-{i:06d}"
        collector = (
            r.choice(["Lead Partner S.r.l.", "DataMix S.r.l."])
            if 0.15 <= roll < 0.20
            else r.choice(["", "", "Acme Lead S.r.l."])
        )
        date_text = cdate.isoformat() if roll >= 0.20 or r.random() < 0.5 else ""
        rows.append(
            [
                m.messy(n) if r.random() > 0.02 else m.junk(),
                m.name(),
                consent,
                date_text,
                r.choice(["web", "telefono", "concorso"]),
                proof,
                collector,
            ]
        )
    return _csv_text(
        [
            "Telefono",
            "Nominativo",
            "Consenso terzi",
            "Data consenso",
            "Canale",
            "ID prova",
            "Raccolto da",
        ],
        rows,
        ",",
    )


def _pagine(m: Maker, numbers: list[str], path: Path) -> list[str]:
    """The directory as an xlsx export; returns the numbers it really lists (not junk)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Estrazione"
    sheet.append(["Telefono", "Intestatario", "Comune"])
    listed = []
    for n in numbers:
        real = m.rng.random() > 0.02
        value: str | int = m.messy(n) if real else m.junk()
        if m.rng.random() < 0.3 and not n.startswith("0"):
            value, real = int(n), True  # a number cell, as Excel makes of mobile numbers
        sheet.append([value, m.name(), m.rng.choice(["Milano", "Roma", "Torino", "Napoli"])])
        if real:
            listed.append(n)
    book.save(path)
    return listed


def generate(
    root: Path, *, crm: int = 1500, acme: int = 2500, pagine: int = 2000, seed: int = 20261122
) -> None:
    """Write the demo workspace under root (seeded, so the files never change)."""
    m = Maker(seed)
    pool = list(dict.fromkeys(m.national() for _ in range(crm + acme + pagine)))
    crm_n, acme_n = pool[:crm], pool[crm : crm + acme]
    pagine_n = pool[crm + acme : crm + acme + pagine]
    acme_n[:200] = crm_n[:200]  # customers also on the bought list
    pagine_n[:300] = acme_n[200:500]  # bought list overlaps the directory: two suppliers
    (root / "sources").mkdir(parents=True, exist_ok=True)
    lists = root / "data" / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    (root / "gatekeeper.toml").write_text(CONFIG, encoding="utf-8")
    for source_id, text in MANIFESTS.items():
        (root / "sources" / f"{source_id}.toml").write_text(text, encoding="utf-8")
    # Excel on Windows: semicolons, Windows-1252; a web export: commas, UTF-8 with BOM.
    (lists / "crm-clienti.csv").write_bytes(_crm(m, crm_n).encode("cp1252"))
    (lists / "acme-2026-11.csv").write_bytes(b"\xef\xbb\xbf" + _acme(m, acme_n).encode())
    directory = _pagine(m, pagine_n, lists / "pagine-2026.xlsx")
    registered = _rpo_exchange(m, root, sorted(set(crm_n + acme_n + pagine_n)))
    objected = _optouts(m, root, crm_n, acme_n)
    (root / "agencies").mkdir(exist_ok=True)
    for agency_id, text in AGENCIES.items():
        (root / "agencies" / f"{agency_id}.toml").write_text(text, encoding="utf-8")
    # Their own generators, so adding them left every earlier file byte for byte the same.
    _calls(random.Random(seed + 1), root,
           [n for n in acme_n + crm_n if n not in registered and n not in objected],
           showcase := [n for n in directory[300:] if n not in registered][:4])
    _contracts(root, showcase)
    _suppliers(root)
    _audit_reply(root)
    # Its own generator too: the Italian files above stay byte for byte what they were.
    europa(root / EUROPA, seed)


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF of plain lines (Helvetica): the suppliers' privacy notices."""
    def quoted(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "BT /F1 11 Tf 50 790 Td 16 TL " + " ".join(f"({quoted(x)}) '" for x in lines)
    stream = (text + " ET").encode("cp1252")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
               b"/Encoding /WinAnsiEncoding >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, start)
    return bytes(out)


def _suppliers(root: Path) -> None:
    (root / "suppliers").mkdir(parents=True, exist_ok=True)
    notices = root / "data" / "suppliers"
    notices.mkdir(parents=True, exist_ok=True)
    for supplier_id, text in SUPPLIERS.items():
        (root / "suppliers" / f"{supplier_id}.toml").write_text(text, encoding="utf-8")
        (notices / f"{supplier_id}-informativa.pdf").write_bytes(_pdf(NOTICES[supplier_id]))


def _audit_reply(root: Path) -> None:
    """Acme's reply to the README's audit (sample of the default 149 rows, seed 2026): a
    document for every row with a proof id, "missing" for the rows without one. The rows
    are drawn exactly as `audit sample` draws them, from the list as it loads."""
    import hashlib

    import polars as pl

    from gatekeeper.intake.fields import to_canonical
    from gatekeeper.intake.manifest import parse_manifest
    from gatekeeper.intake.normalise import normalise
    from gatekeeper.intake.readers import read_source
    from gatekeeper.suppliers.bounds import sample_size
    from gatekeeper.suppliers.consent_audits import draw

    manifest = parse_manifest(root / "sources" / "acme-2026-11.toml", root)
    table = read_source(manifest)
    numbers = normalise(table.frame.get_column(manifest.columns["phone"]), IT)
    rows, _ = to_canonical(table, manifest, IT, numbers)
    valid = rows.filter(pl.col("valid"))
    picked = draw(valid["row"], sample_size(0.95, 0.02), AUDIT_SEED)
    asked = valid.filter(pl.col("row").is_in(picked.implode())).sort("row")
    proof = asked["consent_proof"].to_list()
    lines = [["row", "result", "document", "sha256"]]
    for row, pid in zip(asked["row"].to_list(), proof, strict=True):
        lines.append([str(row), "ok", f"{pid}.pdf", hashlib.sha256(pid.encode()).hexdigest()]
                     if pid else [str(row), "missing", "", ""])
    folder = root / "data" / "audits"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "acme-2026-11-risposta.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(lines)


def _rpo_exchange(m: Maker, root: Path, numbers: list[str]) -> set[str]:
    """What the RPO would answer on 2026-11-20: the list less ~25% registered numbers."""
    rpo = root / "data" / "rpo"
    rpo.mkdir(parents=True, exist_ok=True)
    registered = {n for n in numbers if m.rng.random() < 0.25}
    (rpo / "2026-11-20-request.txt").write_text("\n".join(numbers) + "\n")
    kept = [n for n in numbers if n not in registered]
    (rpo / "2026-11-20-response.txt").write_text("\n".join(kept) + "\n")
    # The same registrations, as the RPO emulator's registry (gatekeeper rpo emulator).
    (rpo / "registered.txt").write_text("\n".join(sorted(registered)) + "\n")
    return registered


def _optouts(m: Maker, root: Path, crm_n: list[str], acme_n: list[str]) -> set[str]:
    picks = m.rng.sample(crm_n[200:], 15) + m.rng.sample(acme_n[500:], 15) + crm_n[:3]
    rows = [["phone", "channel", "received_at", "by", "scope", "note"]]
    for n in picks:
        channel = m.rng.choice(["operator", "email", "letter"])
        at = m.day(dt.date(2026, 6, 1), dt.date(2026, 11, 15)).isoformat()
        rows.append([n, channel, at, "back-office", "all", ""])
    with (root / "data" / "optouts-demo.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return set(picks)


def _calls(rng: random.Random, root: Path, numbers: list[str], showcase: list[str]) -> None:
    """CallPro's VICIdial export of Monday 23 November 2026 (the day after the demo run):
    ~300 attempts to ~200 numbers, the shape `calls import --agency callpro` reads (national
    numbers, Rome wall-clock times, VICIdial status codes). A few are the evidence a DPO
    looks for: calls after 20:00, numbers tried five times, a refusal called back. The
    `showcase` numbers (listed in the directory, not in the RPO) get the calls the demo
    contracts come from: a sale at 11:05, a sale at 20:15, and a customer calling
    Connecto's own centre."""
    folder = root / "data" / "calls"
    folder.mkdir(parents=True, exist_ok=True)
    dialled = rng.sample(numbers, 200)
    targets = dialled + rng.choices(dialled[:60], k=80) + [dialled[0]] * 3 + [dialled[1]] * 4
    epoch = dt.datetime(2026, 11, 23, 8, 0)  # 09:00 Rome, as VICIdial's uniqueid counts UTC
    rows: list[list[str]] = []
    for i, number in enumerate(targets):
        minutes = rng.randrange(0, 11 * 60) if i % 50 else rng.randrange(11 * 60, 11 * 60 + 45)
        start = dt.datetime(2026, 11, 23, 9, 0) + dt.timedelta(minutes=minutes,
                                                               seconds=rng.randrange(60))
        status = rng.choice(_VICIDIAL_STATUS)
        talk = rng.randrange(40, 900) if status in ("XFER", "NI", "CALLBK", "DNC", "SALE") else (
            rng.randrange(5, 30) if status == "AA" else 0)
        unique = (epoch + (start - dt.datetime(2026, 11, 23, 9, 0))).replace(
            tzinfo=dt.UTC).timestamp()
        rows.append([f"{unique:.0f}.{1000 + i}", number, start.strftime("%Y-%m-%d %H:%M:%S"),
                     f"agent{rng.randrange(1, 13):02d}", "demo", str(talk), status])
    rows += [["1795425900.2001", showcase[0], "2026-11-23 11:05:00", "agent03", "demo", "612",
              "SALE"],
             ["1795457700.2002", showcase[1], "2026-11-23 20:15:00", "agent11", "demo", "540",
              "SALE"]]
    rows.sort(key=lambda row: row[2])
    header = ["uniqueid", "phone_number", "call_date", "user", "campaign_id",
              "length_in_sec", "status"]
    (folder / "callpro-2026-11-23.csv").write_text(_csv_text(header, rows, ","),
                                                    encoding="utf-8")
    own = [["call_id", "phone", "started_at", "outcome", "direction", "agent", "campaign",
            "duration_s", "caller_id"],
           ["CN-000117", showcase[2], "2026-11-23 15:30:00", "answered", "inbound", "op02", "",
            "380", ""],
           ["CN-000118", showcase[0], "2026-11-23 16:10:00", "no_answer", "outbound", "op04",
            "demo", "0", "+390287650001"]]
    with (folder / "connecto-2026-11-23.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(own)


def _contracts(root: Path, showcase: list[str]) -> None:
    """The contracts signed by phone on 23 November, one of each status once the README's
    calls are imported: traced, after hours, the customer called in, no call at all, and
    a call centre nobody authorised."""
    folder = root / "data" / "contracts"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [["contract_id", "phone", "signed_at", "agency", "agent", "campaign"],
            ["C-2026-1001", showcase[0], "2026-11-23 11:20", "callpro", "agent03", "demo"],
            ["C-2026-1002", showcase[1], "2026-11-23 20:40", "callpro", "agent11", "demo"],
            ["C-2026-1003", showcase[2], "2026-11-23 15:45", "connecto", "op02", ""],
            ["C-2026-1004", showcase[3], "2026-11-23 16:00", "callpro", "agent07", "demo"],
            ["C-2026-1005", showcase[3], "2026-11-23 17:30", "Vendite Rapide S.r.l.", "x01",
             "demo"]]
    with (folder / "2026-11-23.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


# --- europa/: the same controller calling Romania and France (PRODUCT.md "Countries") ---

EUROPA = "europa"
# The day France's Bloctel rule ends and the opt-in starts (L. 2025-594 art. 13): the
# README's two runs stand either side of it.
BLOCTEL_ASKED = dt.date(2026, 8, 3)

EUROPA_CONFIG = """[controller]
name = "Connecto S.r.l."
vat = "IT08606060963"
address = "Piazza Eleonora Duse 2, 20122 Milano (MI)"
dpo_email = "dpo@connecto.example"

[policy]
jurisdictions = ["IT", "RO", "FR"]  # Italy first: the workspace's own country
rpo_validity_days = 15
consent_max_age_days = 730
contract_grace_days = 30

[registry]
adapter = "file"
"""

EUROPA_MANIFESTS = {
    "clienti-bucuresti": """id = "clienti-bucuresti"
kind = "internal_archive"
country = "RO"                      # bare numbers are Romanian: 0721 234 567, 021 312 4567
file = "data/lists/clienti-bucuresti.csv"
received_on = 2026-07-15
purposes = ["telemarketing"]

[columns]
phone = "Telefon"
name = "Nume"
customer_id = "Cod client"
consent_marketing = "Acord marketing"
consent_date = "Data acord"
consent_proof = "Dovada acord"
consent_channel = "Canal"
""",
    "prospects-2026-08": """id = "prospects-2026-08"
kind = "third_party"
country = "FR"                      # bare numbers are French: 06 12 34 56 78
file = "data/lists/prospects-2026-08.csv"
received_on = 2026-08-03
purposes = ["telemarketing"]
supplier = "prospects-directs"      # suppliers/prospects-directs.toml

[columns]
phone = "Téléphone"
name = "Nom"
consent_third_party = "Consentement partenaires"
consent_date = "Date consentement"
consent_method = "Méthode"
consent_proof = "Preuve"
consent_collector = "Collecté par"
""",
    "annuaire-2026": """id = "annuaire-2026"
kind = "public_directory"
country = "FR"
file = "data/lists/annuaire-2026.csv"
received_on = 2026-08-01
purposes = ["telemarketing"]
supplier = "annuaire-services"

[columns]
phone = "Numéro"
name = "Abonné"
""",
}

EUROPA_SUPPLIERS = {
    "prospects-directs": """id = "prospects-directs"
name = "Prospects Directs SAS"
vat = "FR40123456789"
contact = "dpo@prospects-directs.example"
contract_ref = "PD-2026-08"
eu_establishment = true

[due_diligence]
reviewed_on = 2026-07-20
reviewed_by = "dpo"
privacy_notice = "data/suppliers/prospects-directs-notice.pdf"
collection = ["double_opt_in", "sms_otp"]
sector_choice = true
outcome = "approved"
next_review = 2027-07-20
""",
    "annuaire-services": """id = "annuaire-services"
name = "Annuaire Services SA"
vat = "FR62987654321"
contact = "donnees@annuaire-services.example"
contract_ref = "AS-2026-112"
eu_establishment = true

[due_diligence]
reviewed_on = 2026-07-01
reviewed_by = "dpo"
privacy_notice = "data/suppliers/annuaire-services-notice.pdf"
collection = ["paper"]              # entries of the public directory (no consent)
sector_choice = false
outcome = "approved"
next_review = 2027-07-01
""",
}
EUROPA_NOTICES = {
    "prospects-directs": [
        "Prospects Directs SAS - Politique de confidentialité (art. 13 RGPD)",
        "Responsable: Prospects Directs SAS, TVA FR40123456789.",
        "Avec votre consentement (double opt-in, confirmé par SMS), vos coordonnées",
        "peuvent être transmises à des partenaires des secteurs que vous choisissez.",
        "Preuve, date et méthode de chaque consentement sont conservées."],
    "annuaire-services": [
        "Annuaire Services SA - Annuaire universel",
        "Données issues de l'annuaire des abonnés (art. R. 10 CPCE).",
        "Pour ne plus être démarché par téléphone: bloctel.gouv.fr."],
}
EUROPA_IGNORE = """# the store, the opt-out journal and run outputs hold personal data: never committed
data/store/
data/*.duckdb
data/*.duckdb.wal
data/optouts.jsonl*
data/optouts.checkpoints
data/*.lock
data/tokens.json
reports/
"""

RO_FIRST = ("Andrei", "Maria", "Ion", "Elena", "Mihai", "Ioana", "Alexandru", "Ana",
            "Gabriel", "Cristina", "Florin", "Mihaela", "Adrian", "Andreea", "Vasile",
            "Daniela")
RO_LAST = ("Popescu", "Ionescu", "Popa", "Pop", "Niculescu", "Stan", "Dumitru", "Stoica",
           "Gheorghe", "Matei", "Ciobanu", "Rusu", "Munteanu", "Constantin", "Marin", "Tudor")
FR_FIRST = ("Jean", "Marie", "Pierre", "Nathalie", "Michel", "Isabelle", "Philippe",
            "Sylvie", "Alain", "Catherine", "Nicolas", "Sophie", "Julien", "Camille",
            "Thomas", "Léa")
FR_LAST = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
           "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Fournier")

# The rows the README names, first in their lists (fixed, so their decisions can be told):
# Romania: a consent with proof and date; none; a premium and a toll-free number; a
# consent without the proof Romanian law asks.
RO_SHOWCASE = [
    ["RO-10001", "Andrei Popescu", "0721 234 567", "1", "12.03.2026", "REC-2026-0311",
     "telefon"],
    ["RO-10002", "Elena Ionescu", "0744 555 210", "0", "", "", ""],
    ["RO-10003", "Mihai Stan", "021 312 4567", "1", "02.02.2026", "FORM-2026-0042",
     "magazin"],
    ["RO-10004", "Info Premium SRL", "0900 123 456", "1", "10.01.2026", "REC-2026-0007",
     "telefon"],
    ["RO-10005", "Linie Verde", "0800 801 234", "1", "10.01.2026", "REC-2026-0008",
     "telefon"],
    ["RO-10006", "Ioana Matei", "+40 733 918 402", "1", "20.05.2026", "", "web"],
]
# France (the bought list): consent dated before the opt-in, not in Bloctel; consent dated
# 11 August 2026, the first day of the opt-in; a consent to a number in Bloctel; a
# consent without its method.
FR_SHOWCASE = [
    ["06 12 34 56 78", "Jean Martin", "1", "14/05/2026", "double opt-in", "PD-2026-000101",
     "Prospects Directs SAS"],
    ["+33 6 45 22 18 90", "Sophie Bernard", "1", "11/08/2026", "SMS OTP", "PD-2026-000102",
     ""],
    ["0033 7 81 44 02 36", "Pierre Dubois", "1", "02/06/2026", "double opt-in",
     "PD-2026-000103", ""],
    ["01 53 27 90 14", "Nathalie Petit", "1", "21/04/2026", "", "PD-2026-000104", ""],
]
FR_SHOWCASE_BLOCTEL = {"0781440236"}  # Pierre Dubois: registered in Bloctel
# France (the directory): one number not in Bloctel, one registered.
DIRECTORY_SHOWCASE = [["01 45 87 63 21", "Dupont Alain", "Paris"],
                      ["04 91 23 45 67", "Garcia Marc", "Marseille"]]
DIRECTORY_SHOWCASE_BLOCTEL = {"0491234567"}


class Europe:
    """Seeded Romanian and French numbers, written as those countries' lists write them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"europa-{seed}")

    def _valid(self, draw: Callable[[], str], region: str, kinds: tuple[int, ...]) -> str:
        """A drawn national number that libphonenumber calls valid and of one of kinds
        (a random tail may fall in an unassigned block)."""
        while True:
            national = draw()
            number = phonenumbers.parse(national, region)
            if (phonenumbers.is_valid_number(number)
                    and phonenumbers.number_type(number) in kinds):
                return national

    def romanian(self) -> str:
        """07xx xxx xxx mobiles; Bucharest's 021/031 and county 02xx fixed lines."""
        r = self.rng
        if r.random() < 0.7:
            return self._valid(lambda: f"07{r.choice('2345678')}{r.randrange(10**7):07d}",
                               "RO", (phonenumbers.PhoneNumberType.MOBILE,))
        area = r.choice(("21", "31", "264", "232", "256", "241"))
        tail = 9 - len(area)
        return self._valid(lambda: f"0{area}{r.randrange(10 ** tail):0{tail}d}", "RO",
                           (phonenumbers.PhoneNumberType.FIXED_LINE,))

    def french(self, mobile_share: float) -> str:
        """06/07 mobiles and 01-05 fixed lines, ten digits with the trunk 0."""
        r = self.rng
        lead = r.choice("67") if r.random() < mobile_share else r.choice("12345")
        return self._valid(lambda: f"0{lead}{r.randrange(10**8):08d}", "FR",
                           (phonenumbers.PhoneNumberType.MOBILE,
                            phonenumbers.PhoneNumberType.FIXED_LINE))

    def ro_written(self, n: str) -> str:
        cut = 3 if n.startswith(("021", "031")) else 4  # Bucharest: 021 312 4567
        shapes = [f"{n[:cut]} {n[cut:cut + 3]} {n[cut + 3:]}", n, n,
                  f"{n[:cut]}.{n[cut:cut + 3]}.{n[cut + 3:]}", f"{n[:cut]}-{n[cut:]}",
                  f"+40 {n[1:cut]} {n[cut:cut + 3]} {n[cut + 3:]}", f"0040{n[1:]}",
                  f"+40{n[1:]}"]
        return self.rng.choice(shapes)

    def fr_written(self, n: str) -> str:
        pairs = " ".join(n[i:i + 2] for i in range(0, 10, 2))
        shapes = [pairs, pairs, n, ".".join(n[i:i + 2] for i in range(0, 10, 2)),
                  f"+33 {n[1]} {pairs[3:]}", f"+33{n[1:]}", f"0033 {n[1]} {pairs[3:]}",
                  f"0033{n[1:]}"]
        return self.rng.choice(shapes)

    def name(self, first: tuple[str, ...], last: tuple[str, ...]) -> str:
        return f"{self.rng.choice(first)} {self.rng.choice(last)}"

    def day(self, start: dt.date, end: dt.date) -> dt.date:
        return start + dt.timedelta(days=self.rng.randrange((end - start).days + 1))


def _national(written: str, region: str) -> str:
    """A number as the register's files write it (national, trunk 0): 0612345678."""
    number = phonenumbers.parse(written, region)
    return "0" + str(number.national_number)


def _ro_archive(e: Europe, size: int) -> str:
    """The Bucharest centre's customer archive as its CRM exports it: semicolons, UTF-8
    with BOM, dates dd.mm.yyyy, consent 1/0 with the proof (a recorded call, a signed
    form) and its date, as Romanian law asks."""
    r = e.rng
    rows = [list(row) for row in RO_SHOWCASE]
    seen = {_national(row[2], "RO") for row in rows}
    while len(rows) < size:
        n = e.romanian()
        if n in seen:
            continue
        seen.add(n)
        roll = r.random()
        consent = roll >= 0.22
        proof = "" if 0.22 <= roll < 0.27 else (
            f"{r.choice(['REC', 'FORM'])}-2026-{len(rows):04d}" if consent else "")
        when = e.day(dt.date(2024, 10, 1), dt.date(2026, 7, 10)) if consent else None
        rows.append([f"RO-{10000 + len(rows) + 1}", e.name(RO_FIRST, RO_LAST),
                     e.ro_written(n), "1" if consent else r.choice(["0", ""]),
                     when.strftime("%d.%m.%Y") if when else "", proof,
                     r.choice(["telefon", "web", "magazin"]) if consent else ""])
    header = ["Cod client", "Nume", "Telefon", "Acord marketing", "Data acord",
              "Dovada acord", "Canal"]
    return "\ufeff" + _csv_text(header, rows, ";")


def _fr_bought(e: Europe, size: int) -> tuple[str, set[str]]:
    """Prospects Directs' August delivery: consents to partners with proof, date and
    method (what French law asks); a few dated 11 August 2026, the opt-in's first day,
    which prove nothing before it; a few without consent or without method; two
    premium-rate numbers."""
    r = e.rng
    rows = [list(row) for row in FR_SHOWCASE]
    seen = {_national(row[0], "FR") for row in rows}
    while len(rows) < size - 2:
        n = e.french(0.75)
        if n in seen:
            continue
        seen.add(n)
        roll = r.random()
        when = (dt.date(2026, 8, 11) if roll < 0.06
                else e.day(dt.date(2025, 1, 10), dt.date(2026, 7, 31)))
        rows.append([e.fr_written(n), e.name(FR_FIRST, FR_LAST),
                     "0" if 0.06 <= roll < 0.10 else "1", when.strftime("%d/%m/%Y"),
                     "" if 0.10 <= roll < 0.14 else r.choice(["double opt-in", "SMS OTP"]),
                     f"PD-2026-{len(rows) + 101:06d}",
                     r.choice(["", "Prospects Directs SAS"])])
    rows += [["08 92 68 02 40", "Service Info", "1", "03/03/2026", "SMS OTP",
              "PD-2026-900001", ""],
             ["+33 8 99 23 11 47", "Conseil Plus", "1", "03/03/2026", "SMS OTP",
              "PD-2026-900002", ""]]
    header = ["Téléphone", "Nom", "Consentement partenaires", "Date consentement",
              "Méthode", "Preuve", "Collecté par"]
    return _csv_text(header, rows, ","), seen


def _fr_directory(e: Europe, size: int) -> tuple[str, set[str]]:
    """Annuaire Services' extract of the public directory: mostly fixed lines."""
    rows = [list(row) for row in DIRECTORY_SHOWCASE]
    seen = {_national(row[0], "FR") for row in rows}
    while len(rows) < size:
        n = e.french(0.2)
        if n in seen:
            continue
        seen.add(n)
        rows.append([e.fr_written(n), e.name(FR_LAST, FR_FIRST),
                     e.rng.choice(["Paris", "Lyon", "Marseille", "Lille", "Nantes"])])
    return _csv_text(["Numéro", "Abonné", "Ville"], rows, ";"), seen


def _bloctel_exchange(e: Europe, folder: Path, asked: set[str]) -> None:
    """What Bloctel answered on 2026-08-03, before the opt-in: the request holds every
    French number of the lists that could be called (national form, one a line, as
    Bloctel's files), the answer the numbers kept (about one in five is registered)."""
    ordered = sorted(asked)
    fixed = FR_SHOWCASE_BLOCTEL | DIRECTORY_SHOWCASE_BLOCTEL
    showcase = {_national(row[0], "FR") for row in FR_SHOWCASE + DIRECTORY_SHOWCASE}
    registered = {n for n in ordered if n in fixed
                  or (n not in showcase and e.rng.random() < 0.2)}
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"bloctel-{BLOCTEL_ASKED.isoformat()}"
    (folder / f"{stem}-request.txt").write_text("\n".join(ordered) + "\n")
    (folder / f"{stem}-response.txt").write_text(
        "\n".join(n for n in ordered if n not in registered) + "\n")


def europa(root: Path, seed: int = 20261122) -> None:
    """Write the europa/ workspace under root (seeded: the same files every time)."""
    e = Europe(seed)
    for folder in ("sources", "suppliers", "data/lists", "data/suppliers"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "gatekeeper.toml").write_text(EUROPA_CONFIG, encoding="utf-8")
    (root / ".gitignore").write_text(EUROPA_IGNORE, encoding="utf-8")
    for source_id, text in EUROPA_MANIFESTS.items():
        (root / "sources" / f"{source_id}.toml").write_text(text, encoding="utf-8")
    for supplier_id, text in EUROPA_SUPPLIERS.items():
        (root / "suppliers" / f"{supplier_id}.toml").write_text(text, encoding="utf-8")
        (root / "data" / "suppliers" / f"{supplier_id}-notice.pdf").write_bytes(
            _pdf(EUROPA_NOTICES[supplier_id]))
    lists = root / "data" / "lists"
    (lists / "clienti-bucuresti.csv").write_text(_ro_archive(e, 300), encoding="utf-8")
    bought, bought_numbers = _fr_bought(e, 400)
    (lists / "prospects-2026-08.csv").write_text(bought, encoding="utf-8")
    directory, listed = _fr_directory(e, 150)
    (lists / "annuaire-2026.csv").write_text(directory, encoding="utf-8")
    _bloctel_exchange(e, root / "data" / "registers", bought_numbers | listed)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
