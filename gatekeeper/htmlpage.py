"""One small, self-contained HTML page shell for letters and reports.

No templates engine and no network fetches: every value is escaped here, styles are
inline, charts are inline SVG, so a page opens the same offline and years later.
"""

from __future__ import annotations

from html import escape

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#1d2430;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:1.8rem;
border-bottom:1px solid #d6dbe3;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;
padding:.3rem .5rem;border-bottom:1px solid #e4e7ec;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5b6576}.card{display:inline-block;margin:.3rem 1.2rem .3rem 0}
.card b{display:block;font-size:1.6rem}.letterhead{color:#5b6576;font-size:.9rem}
"""


def e(value: object) -> str:
    """Escaped text of any value; None is an em dash (a missing fact, shown as such)."""
    return "—" if value is None else escape(str(value))


def page(title: str, body: str, lang: str = "it") -> str:
    return (f'<!DOCTYPE html>\n<html lang="{e(lang)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
            "</body>\n</html>\n")


def table(headers: list[str], rows: list[list[object]], numeric: set[int] | None = None,
          test_id: str | None = None) -> str:
    """A table; columns listed in `numeric` are right-aligned."""
    numeric = numeric or set()
    tid = f' data-testid="{e(test_id)}"' if test_id else ""
    head = "".join(f'<th{" class=n" if i in numeric else ""}>{e(h)}</th>'
                   for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{e(v)}</td>'
                         for i, v in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table{tid}><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"
