"""One small, self-contained HTML page shell for letters and reports.

No templates engine and no network fetches: every value is escaped here, styles are
inline, charts are inline SVG, so a page opens the same offline and years later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from gatekeeper.core.timeutil import WORDS, Zone, local_words

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#1d2430;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.8rem;
border-bottom:1px solid #d6dbe3;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;
padding:.3rem .5rem;border-bottom:1px solid #e4e7ec;vertical-align:top}
td.hash{font-family:ui-monospace,monospace;font-size:.78rem;word-break:break-all;
min-width:9rem}.wide{max-width:none}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5b6576}.card{display:inline-block;margin:.3rem 1.2rem .3rem 0}
.card b{display:block;font-size:1.6rem}.letterhead{color:#5b6576;font-size:.9rem}
"""


def num(value: int | None) -> str:
    """A count as Italian readers write it: 5.997."""
    return "—" if value is None else f"{value:,}".replace(",", ".")


def pct(part: float, whole: float) -> str:
    """A share as Italian readers write it: 12,6 %."""
    return f"{100 * part / whole:.1f} %".replace(".", ",") if whole else "—"


def day(value: object) -> str:
    """A date (or ISO text) as dd/mm/yyyy."""
    if value is None or value == "":
        return "—"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return dt.date.fromisoformat(text[:10]).strftime("%d/%m/%Y")


def local_time(instant: str | None, zone: Zone) -> str:
    """An ISO instant (with its offset, or a Z in an older file) as <time>: local time
    of the zone for the reader, the ISO text for machines."""
    if not instant:
        return "—"
    return f'<time datetime="{escape(instant)}">{local_words(instant, zone)}</time>'


def written_time(instant: str | None) -> str:
    """An instant Gatekeeper wrote in local time with its offset, as <time>, shown at that
    offset: for a page whose writer holds no jurisdiction (the contract report, until its
    caller passes the zone). The offset is the jurisdiction's, so the wall clock is; only
    the autumn hour's "(+02:00)" is not added, as an offset alone cannot tell it repeats."""
    if not instant:
        return "—"
    shown = dt.datetime.fromisoformat(instant.replace("Z", "+00:00")).strftime(WORDS)
    return f'<time datetime="{escape(instant)}">{shown}</time>'


def e(value: object) -> str:
    """Escaped text of any value; None is an em dash (a missing fact, shown as such)."""
    return "—" if value is None else escape(str(value))


def page(title: str, body: str, lang: str = "it", wide: bool = False) -> str:
    """The page; `wide` lets a table of many columns use the whole window."""
    cls = ' class="wide"' if wide else ""
    return (f'<!DOCTYPE html>\n<html lang="{e(lang)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body{cls}>\n"
            f"{body}\n</body>\n</html>\n")


def table(headers: list[str], rows: Sequence[Sequence[object]],
          numeric: set[int] | None = None,
          test_id: str | None = None, hashes: set[int] | None = None,
          markup: set[int] | None = None) -> str:
    """A table; columns in `numeric` are right-aligned, those in `hashes` break anywhere
    (a sha256 must not push the table off the page), those in `markup` are trusted HTML
    made by this module (local_time), every other value is escaped."""
    numeric, hashes, markup = numeric or set(), hashes or set(), markup or set()

    def cls(i: int) -> str:
        names = [n for n, s in (("n", numeric), ("hash", hashes)) if i in s]
        return f' class="{" ".join(names)}"' if names else ""

    tid = f' data-testid="{e(test_id)}"' if test_id else ""
    head = "".join(f"<th{cls(i) if i in numeric else ''}>{e(h)}</th>"
                   for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{v if i in markup else e(v)}</td>"
                         for i, v in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table{tid}><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"
