"""A chapter that can be opened where ``emt`` is not installed (Colab, Binder) installs it from
the repository that ``_config.yml`` names, and only where it is missing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL = re.compile(r'REPO = "(?P<url>[^"]+)"\n')


def repository_url() -> str:
    m = re.search(r"^repository:\n\s+url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M)
    assert m, "_config.yml names no repository url"
    return m.group(1)


def test_install_cells_name_the_books_repository_and_are_guarded():
    chapters = {p.name: p.read_text() for p in sorted((ROOT / "book").glob("*.md"))}
    with_cell = {name: text for name, text in chapters.items() if "emt @ git+" in text}
    assert "analyze.md" in with_cell
    for name, text in with_cell.items():
        m = CELL.search(text)
        assert m and m.group("url") == repository_url(), name
        guard = 'if importlib.util.find_spec("emt") is None:'
        assert guard in text and text.index(guard) < m.start(), name
        assert 'f"emt @ git+{REPO}"' in text[m.end() :], name
        assert text.index("emt @ git+") < text.index("from emt import"), name
