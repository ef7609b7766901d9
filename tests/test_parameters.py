"""Chapters run with other parameters than the book's (papermill, issue "a book a reader can change").

Each chapter that depends on parameters has one code cell tagged ``parameters`` near the top
(papermill's convention) and uses its names below it. Here two chapters run with s = 8 and
kappa = 3 instead of their defaults. Their general checks must hold there too; the checks that
are true only at the defaults are skipped by the chapter, which prints ``not checked at these
parameters: ...`` for each, and this test lists them. A failure names the cell and the assert.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

#: trains networks or runs chapters: left out by `make test-fast`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
OTHER = {"s": 8, "kappa": 3}
CHAPTERS = ["repeat_copy", "variable_memories"]
SKIPPED = re.compile(r"not checked at these parameters: (.*)")


def chapter_sources() -> list[Path]:
    toc = (ROOT / "_toc.yml").read_text()
    names = re.findall(r"file:\s*book/(\w+)", toc)
    return [BOOK / f"{n}.ipynb" for n in names if (BOOK / f"{n}.ipynb").exists()]


def parameter_cells(nb) -> list[int]:
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
    ]


@pytest.mark.parametrize("path", chapter_sources(), ids=lambda p: p.stem)
def test_at_most_one_parameters_cell_of_assignments(path):
    """papermill overrides names: the cell may only bind names (one per statement)."""
    nb = nbformat.read(path, as_version=4)
    cells = parameter_cells(nb)
    assert len(cells) <= 1, f"{path.name}: {len(cells)} cells tagged 'parameters'"
    for i in cells:
        for stmt in ast.parse(nb.cells[i].source).body:
            names = [t for t in getattr(stmt, "targets", []) for t in getattr(t, "elts", [t])]
            ok = isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in names)
            ok = ok or (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name))
            assert ok, (
                f"{path.name}: the parameters cell should only assign names, "
                f"line {stmt.lineno}: {ast.unparse(stmt)[:60]}"
            )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_with_other_parameters(chapter, tmp_path):
    papermill = pytest.importorskip("papermill")
    src = BOOK / f"{chapter}.ipynb"
    nb = nbformat.read(src, as_version=4)
    cells = parameter_cells(nb)
    assert cells, f"{src.name} has no cell tagged 'parameters'"
    names = set(re.findall(r"^(\w+)\s*=", nb.cells[cells[0]].source, re.M))
    assert set(OTHER) <= names, f"{src.name}'s parameters cell lacks {set(OTHER) - names}"
    out = tmp_path / src.name
    try:
        papermill.execute_notebook(
            str(src),
            str(out),
            parameters=OTHER,
            cwd=str(BOOK),
            kernel_name="python3",
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as e:
        pytest.fail(
            f"{chapter} with {OTHER}: cell {e.exec_count} failed: {e.ename}: {e.evalue}\n"
            "If this check holds only at the chapter's defaults, guard it with `at_defaults` "
            "and print 'not checked at these parameters: ...' instead.",
            pytrace=False,
        )
    ran = nbformat.read(out, as_version=4)
    injected = [c for c in ran.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected, "papermill did not inject the parameters"
    skipped = []
    for c in ran.cells:
        for o in c.get("outputs", []):
            skipped += SKIPPED.findall(o.get("text", ""))
    # what the chapter could not check away from its defaults (pytest -s shows it)
    print(f"\n{chapter} at {json.dumps(OTHER)}: {len(skipped)} default-specific checks skipped")
    for claim in skipped:
        print(f"  - {claim}")
