"""Each chapter's .ipynb must carry the same cells as its MyST Markdown source, executed."""

from pathlib import Path

import jupytext
import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
SOURCES = sorted(p for p in BOOK.glob("*.md") if "kernelspec:" in p.read_text()[:2000])


def cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_chapters():
    assert len(SOURCES) >= 2


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_pair_has_same_cells(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make notebooks`"
    source = jupytext.read(md)
    paired = nbformat.read(ipynb, as_version=4)
    a, b = cells(source), cells(paired)
    assert len(a) == len(b), (
        f"{md.name}: {len(a)} cells in the .md, {len(b)} in the .ipynb: run `make notebooks`"
    )
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"{md.name}: cell {i} differs between .md and .ipynb: run `make notebooks`"


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_pair_is_executed(md):
    paired = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    code = [c for c in paired.cells if c.cell_type == "code"]
    assert code, f"{md.name} has no code cell"
    assert all(c.execution_count is not None for c in code), (
        f"{md.name}: notebook not executed: run `make notebooks`"
    )
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{md.name}: stored outputs contain an error"


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_chapter_installs_emt_first_where_it_is_missing(md):
    """A chapter opened on Colab or Binder, where emt is not installed, installs it before
    anything imports it; the cell is removed from the rendered page and does nothing where emt
    is importable (the book's build, the tests)."""
    code = [c for c in jupytext.read(md).cells if c.cell_type == "code"]
    first = code[0]
    assert "remove-cell" in first.metadata.get("tags", []), md.name
    assert 'importlib.util.find_spec("emt") is None' in first.source, md.name
    assert "pip" in first.source and "install" in first.source, md.name
    assert not any("import emt" in c.source or "from emt" in c.source for c in code[:1])
