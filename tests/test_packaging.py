"""The package that ``pip install .`` builds holds every module of ``emt``.

An editable install finds subpackages through the source tree, so a package list that misses one
(``emt.plotting`` was missing from ``packages = ["emt"]``) passes every other test and breaks
only a user's plain install. This builds the wheel and compares it with the tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: builds a wheel in a subprocess (a few seconds): left out by `make test-fast`
pytestmark = pytest.mark.slow


def test_the_wheel_holds_every_module(tmp_path):
    src = tmp_path / "src"  # a copy: setuptools writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT / "emt", src / "emt", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(src)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("emt-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "emt").rglob("*.py")}
    assert tree - shipped == set(), f"modules missing from the wheel: {sorted(tree - shipped)}"
    assert {"emt/plotting/analysis.py", "emt/sweep/backends.py"} <= shipped
