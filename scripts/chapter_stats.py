"""Reading rules of the book's chapters, measured on their MyST sources.

    python scripts/chapter_stats.py [book/x.md ...]    # a table; exit 1 if a rule is broken

Rules (issue "A book a reader can read offline, run, change and trust"):

* prose of at most MAX_WORDS words (text outside code cells, math blocks, tables, directives'
  option lines and dropdowns, which a reader opens on purpose);
* no paragraph over MAX_PARAGRAPH words;
* no code cell over MAX_CELL_LINES lines of code;
* a chapter that runs code has an "Exercises" section with its solutions in a dropdown.

tests/test_reading.py runs the same measure on every chapter of _toc.yml.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MAX_WORDS = 3000
MAX_PARAGRAPH = 150
MAX_CELL_LINES = 30  # "about 25" lines, with some slack

CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.S | re.M)
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
MATH_BLOCK = re.compile(r"^\$\$.*?^\$\$[^\n]*$", re.S | re.M)
DROPDOWN = re.compile(r"^(`{3,}|:{3,})\{dropdown\}.*?^\1\s*$", re.S | re.M)
OPTION_LINE = re.compile(r"^\s*:[\w-]+:.*$", re.M)
FENCE_LINE = re.compile(r"^\s*(`{3,}|:{3,}).*$", re.M)
COMMENT = re.compile(r"^%.*$", re.M)
TABLE_ROW = re.compile(r"^\s*\|.*$", re.M)


def code_cells(text: str) -> list[list[str]]:
    """The code lines of every code cell (cell options such as ``:tags:`` left out)."""
    cells = []
    for m in CODE_CELL.finditer(text):
        lines = m.group(1).splitlines()
        if lines and lines[0].strip() == "---":  # YAML option block
            end = lines.index("---", 1) if "---" in lines[1:] else 0
            lines = lines[end + 1 :]
        lines = [ln for ln in lines if not re.match(r"^:[\w-]+:", ln)]
        while lines and not lines[-1].strip():
            lines.pop()
        cells.append(lines)
    return cells


def prose(text: str) -> str:
    """The chapter's text without code cells, math blocks, dropdowns and markup lines."""
    text = FRONT_MATTER.sub("", text)
    text = CODE_CELL.sub("\n\n", text)
    text = DROPDOWN.sub("\n\n", text)
    text = MATH_BLOCK.sub("\n\n", text)
    text = OPTION_LINE.sub("", text)
    text = FENCE_LINE.sub("\n", text)
    text = TABLE_ROW.sub("", text)  # tables (the claims ledger) are not prose
    return COMMENT.sub("", text)


def paragraphs(text: str) -> list[str]:
    out = []
    for block in re.split(r"\n\s*\n", prose(text)):
        # each item of a list is a paragraph of its own
        for p in re.split(r"\n(?=\s*(?:[-*]|\d+\.) )", block):
            p = p.strip()
            if p and not p.startswith("|"):  # tables are not paragraphs
                out.append(p)
    return out


def stats(path: Path) -> dict:
    text = path.read_text()
    cells = code_cells(text)
    paras = paragraphs(text)
    return {
        "chapter": path.stem,
        "words": len(prose(text).split()),
        "cells": len(cells),
        "longest_cell": max((len(c) for c in cells), default=0),
        "long_cells": sum(len(c) > MAX_CELL_LINES for c in cells),
        "longest_paragraph": max((len(p.split()) for p in paras), default=0),
        "long_paragraphs": [p[:60] for p in paras if len(p.split()) > MAX_PARAGRAPH],
        "exercises": bool(re.search(r"^#+ Exercises", text, re.M)) and "{dropdown}" in text,
        "runs_code": bool(cells),
    }


def problems(st: dict) -> list[str]:
    out = []
    if st["words"] > MAX_WORDS:
        out.append(f"{st['words']} words of prose (at most {MAX_WORDS})")
    if st["long_cells"]:
        out.append(f"{st['long_cells']} code cells over {MAX_CELL_LINES} lines")
    for p in st["long_paragraphs"]:
        out.append(f"paragraph over {MAX_PARAGRAPH} words: {p!r}...")
    if st["runs_code"] and not st["exercises"]:
        out.append("no 'Exercises' section with solutions in a dropdown")
    return out


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(Path("book").glob("*.md"))
    bad = 0
    print(f"{'chapter':22s} {'words':>6s} {'cells':>5s} {'longest':>7s} {'para':>5s}  problems")
    for path in paths:
        st = stats(path)
        pr = problems(st)
        bad += bool(pr)
        print(
            f"{st['chapter']:22s} {st['words']:6d} {st['cells']:5d} {st['longest_cell']:7d} "
            f"{st['longest_paragraph']:5d}  {'; '.join(pr) or 'ok'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
