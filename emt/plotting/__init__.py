"""emt.plotting: every figure of the book, in one style.

Each chapter's figures live in a submodule named after the chapter
(``emt.plotting.gsemm``, ``emt.plotting.conjugacy``, ...); they all call
:func:`use_style` so that the book looks the same throughout.
"""

from __future__ import annotations

import matplotlib as mpl

#: Colours used across the book: theory vs. measurement, and a diverging map for matrices.
THEORY = "#1b4f72"
MEASURED = "#c0392b"
ACCENT = "#7d8c2b"
DIVERGING = "RdBu_r"


def use_style() -> None:
    """Apply the book's matplotlib style (called by every plotting function)."""
    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "figure.figsize": (6.4, 3.6),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
            "axes.titlesize": 10,
            "legend.frameon": False,
            "image.cmap": DIVERGING,
        }
    )
