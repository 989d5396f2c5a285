"""The README's map of the package, made from the modules' own docstrings.

`python -m tests.readme_map` rewrites the block in README.md between its two markers;
tests/test_docs.py fails when the README's block is not what this makes, so the map can
never fall behind the tree (a module added, moved or renamed changes it).
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "gatekeeper"
BEGIN = "<!-- map: python -m tests.readme_map -->"
END = "<!-- end of map -->"
WIDTH, INDENT = 100, 22


ABBREVIATIONS = ("art", "G.U", "e.g", "i.e", "c", "n")
LONGEST = 200  # characters: a map line, not the docstring


def _summary(path: Path) -> str:
    """The docstring's first sentence (a full stop that ends a sentence, not "art." or
    "G.U."), at most LONGEST characters (cut at a semicolon or colon)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    for stop in re.finditer(r"\.(?=\s|$)", first):
        word = re.search(r"[\w.]*$", first[:stop.start()])
        if not (word and word.group(0) in ABBREVIATIONS):
            first = first[:stop.start() + 1]
            break
    if len(first) > LONGEST:
        cut = max(first.rfind(";", 0, LONGEST), first.rfind(":", 0, LONGEST))
        first = first[:cut] + "…" if cut > 40 else first[:LONGEST] + "…"
    return first


def _entry(name: str, text: str) -> list[str]:
    lines = textwrap.wrap(text, WIDTH - INDENT) or [""]
    return [f"  {name:<{INDENT - 2}}{lines[0]}"] + [" " * INDENT + line for line in lines[1:]]


def package_map() -> str:
    out = ["```", "gatekeeper/"]
    entries = []
    for path in sorted(PACKAGE.iterdir()):
        if path.is_dir() and (path / "__init__.py").is_file():
            parts = sorted(p.stem for p in path.glob("*.py") if p.stem != "__init__")
            subs = sorted(p.name for p in path.iterdir()
                          if p.is_dir() and (p / "__init__.py").is_file())
            inside = ", ".join(parts + [f"{s}/" for s in subs])
            text = _summary(path / "__init__.py") + (f" [{inside}]" if inside else "")
            entries.append((f"{path.name}/", text))
        elif path.suffix == ".py" and path.name != "__init__.py":
            entries.append((path.name, _summary(path)))
    for name, text in entries:
        out += _entry(name, text)
    out.append("```")
    return "\n".join(out)


def readme_with_map(readme: str) -> str:
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + package_map() + "\n" + readme[end:]


if __name__ == "__main__":
    target = REPO / "README.md"
    target.write_text(readme_with_map(target.read_text(encoding="utf-8")), encoding="utf-8")
    sys.exit(0)
