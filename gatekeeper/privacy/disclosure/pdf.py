"""The reply letter as a PDF, the form a DPO attaches to a certified e-mail (PEC) or prints.

fpdf2 writes it in pure Python with the PDF core font Helvetica, which every reader has, so
nothing is embedded and the file stays a few kilobytes. Core fonts know Windows-1252 only:
Italian accents, «», €, typographic quotes and dashes are in it; anything else (a name in
another script) is folded to its nearest Latin letters rather than failing the letter. The
creation date is the letter's own day, so the same letter gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from fpdf import FPDF

from gatekeeper.privacy.disclosure.letter import Block

ENCODING = "windows-1252"
FONT = "Helvetica"
SIZE = 10.5
LINE = 5.0  # mm per line at SIZE


def _latin(text: str) -> str:
    """Text the core font can show: Windows-1252 as it is, other characters folded to
    their base letter (ř becomes r), and ? for what has none (Ω, Ł)."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        try:
            char.encode(ENCODING)
            out.append(char)
        except UnicodeEncodeError:
            folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(folded or "?")
    return "".join(out)


def render_pdf(blocks: list[Block], title: str, lang: str, author: str,
               generated_at: str) -> bytes:
    """The letter's blocks laid out on A4 pages; the PDF's date is the letter's."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.core_fonts_encoding = ENCODING
    # the letter's day, not its second: the letter shows the day, so two prints of it match
    pdf.set_creation_date(dt.datetime.fromisoformat(generated_at[:10]).replace(tzinfo=dt.UTC))
    pdf.set_title(_latin(title))
    pdf.set_author(_latin(author))
    pdf.set_lang(lang)
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()

    def write(text: str, *, style: str = "", size: float = SIZE, indent: float = 0,
              after: float = LINE / 2) -> None:
        pdf.set_font(FONT, style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(pdf.epw - indent, LINE, _latin(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(after)

    for kind, value in blocks:
        if kind == "ul":
            for item in value:
                pdf.set_font(FONT, "", SIZE)
                pdf.set_x(pdf.l_margin + 2)
                pdf.cell(4, LINE, "-")
                write(item, indent=6, after=1)
            pdf.ln(LINE / 2)
        elif kind == "h":
            pdf.ln(LINE / 2)
            write(value, style="B", size=SIZE + 1, after=1)
        elif kind == "subject":
            write(value, style="B", size=SIZE + 1.5)
        elif kind == "head":
            pdf.set_text_color(90, 101, 118)
            write(value, size=SIZE - 1, after=LINE)
            pdf.set_text_color(0, 0, 0)
        else:
            write(value)
    return bytes(pdf.output())
