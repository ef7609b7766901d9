"""The reading rules of the chapters (scripts/chapter_stats.py), on every chapter of _toc.yml.

At most 3,000 words of prose, no paragraph over 150 words, no code cell over 30 lines, and an
Exercises section with its solutions in a dropdown in every chapter that runs code.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "chapter_stats", ROOT / "scripts" / "chapter_stats.py"
)
chapter_stats = importlib.util.module_from_spec(spec)
spec.loader.exec_module(chapter_stats)

TOC = re.findall(r"file:\s*(book/\w+)", (ROOT / "_toc.yml").read_text())


@pytest.mark.parametrize("name", TOC)
def test_chapter_follows_the_reading_rules(name):
    st = chapter_stats.stats(ROOT / f"{name}.md")
    assert chapter_stats.problems(st) == []


def test_the_measure_sees_what_it_should(tmp_path):
    long_cell = "```{code-cell} ipython3\n" + "x = 1\n" * 31 + "```\n"
    para = " ".join(["word"] * 151)
    md = tmp_path / "x.md"
    md.write_text(f"# T\n\n{para}\n\n{long_cell}\n- short item\n- {para}\n")
    st = chapter_stats.stats(md)
    assert st["long_cells"] == 1 and st["longest_cell"] == 31
    assert len(st["long_paragraphs"]) == 2
    assert not st["exercises"]
    assert len(chapter_stats.problems(st)) == 4
    md.write_text(
        "# T\n\n```{code-cell} ipython3\n:tags: [parameters]\ns = 1\n```\n\n## Exercises\n\n"
        "1. Q\n\n```{dropdown} Solutions\n" + para + "\n```\n"
    )
    st = chapter_stats.stats(md)
    assert chapter_stats.problems(st) == [] and st["longest_cell"] == 1
