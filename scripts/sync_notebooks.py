"""Regenerate each book/*.ipynb from its MyST Markdown source and execute it.

Usage: python scripts/sync_notebooks.py [book/chapter.md ...]   (default: all chapters)

The .md file is the source of truth. Its paired notebook is rebuilt from it with
Jupytext, executed in the book/ folder (as Jupyter Book and nbval do), and written
with its outputs, so that `pytest --nbval` can compare them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def chapters(args: list[str]) -> list[Path]:
    if args:
        return [Path(a).resolve() for a in args]
    return sorted(p for p in BOOK.glob("*.md") if "kernelspec:" in p.read_text()[:2000])


def sync(md: Path) -> None:
    nb = jupytext.read(md)
    nb.metadata.setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    start = time.time()
    NotebookClient(
        nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(md.parent)}}
    ).execute()
    out = md.with_suffix(".ipynb")
    nbformat.write(nb, out)
    print(
        f"{md.relative_to(ROOT)} -> {out.relative_to(ROOT)} executed in {time.time() - start:.0f} s"
    )


if __name__ == "__main__":
    for path in chapters(sys.argv[1:]):
        sync(path)
