"""The landing page's figure: its plotting function and the committed image it shows."""

from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from emt.plotting import training as training_plots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_hero_spectra_draws_each_panel():
    rng = np.random.default_rng(0)
    fig = training_plots.hero_spectra(
        [("one", [np.eye(4)]), ("draws", [rng.standard_normal((4, 4)) for _ in range(3)])], 4
    )
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["one", "draws"]
    # circle + eigenvalues + roots in the first panel; circle + 3 draws + roots in the second
    assert [len(a.lines) for a in axes] == [3, 5]


@pytest.mark.parametrize("panels", [[], [("empty", [])]])
def test_hero_spectra_rejects_empty(panels):
    with pytest.raises(ValueError):
        training_plots.hero_spectra(panels, 4)


def test_landing_page_shows_the_committed_figure():
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "images/hero_spectra.png" in intro
    png = ROOT / "book" / "images" / "hero_spectra.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size < 300_000
