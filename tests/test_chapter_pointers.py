"""The pointers from emt's docstrings to the book exist: chapter titles and MyST section labels.

A function's docstring names the chapter that derives it (``Chapter "Training the Elman RNN"``)
and, where one exists, the label of its section (``sec-tr-portable``); a renamed chapter or a
removed label fails here instead of leaving a dangling pointer.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "emt").rglob("*.py"))
CHAPTERS = sorted((ROOT / "book").glob("*.md"))

#: ``Chapter "A"``, ``chapters "A" and "B"``, ``Chapters "A", "B"`` (line breaks allowed)
NAMED = re.compile(r'[Cc]hapters?\s+((?:"[^"]+"(?:,\s*|\s+and\s+)?)+)')
LABEL = re.compile(r"\bsec-[a-z0-9-]+\b")


def _squash(text: str) -> str:
    return " ".join(text.split())


def chapter_titles() -> set[str]:
    titles = set()
    for md in CHAPTERS:
        for line in md.read_text().splitlines():
            if line.startswith("# "):
                titles.add(_squash(line[2:]))
                break
    return titles


def book_labels() -> set[str]:
    return {m for md in CHAPTERS for m in re.findall(r"^\(([\w-]+)\)=", md.read_text(), re.M)}


def pointers(pattern: str, sources: list[Path] = SOURCES) -> dict[str, set[str]]:
    """What ``pattern`` finds in emt's sources: {pointer: {files}}."""
    found: dict[str, set[str]] = {}
    for py in sources:
        text = py.read_text()
        if pattern == "chapter":
            names = [
                _squash(n) for m in NAMED.finditer(text) for n in re.findall(r'"([^"]+)"', m[1])
            ]
        else:
            names = LABEL.findall(text)
        for name in names:
            found.setdefault(name, set()).add(py.name)
    return found


def test_every_chapter_named_in_emt_exists():
    named = pointers("chapter")
    assert len(named) >= 10, "the pattern finds (almost) nothing: is it still the docstrings' form?"
    titles = chapter_titles()
    missing = {name: sorted(files) for name, files in named.items() if name not in titles}
    assert not missing, f"chapters named in emt that the book lacks: {missing}"


def test_every_section_label_named_in_emt_exists():
    named = pointers("label")
    assert named, "no section label is named in emt"
    missing = {name: sorted(files) for name, files in named.items() if name not in book_labels()}
    assert not missing, f"section labels named in emt that the book lacks: {missing}"


def test_the_checks_can_fail(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text('"""Chapter "No such chapter"; section sec-no-such-label."""\n')
    assert "No such chapter" in pointers("chapter", [fake])
    assert "No such chapter" not in chapter_titles()
    assert "sec-no-such-label" in pointers("label", [fake])
    assert "sec-no-such-label" not in book_labels()
