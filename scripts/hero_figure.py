"""Draw the landing page's figure (book/images/hero_spectra.png).

    python scripts/hero_figure.py [--out PATH]

The network is the one of the chapter "Training the Elman RNN" (s = 16, kappa = 5, N_h = 128,
seed 0), taken from the checkpoint cache or trained (about a minute). Next to it: the same
entries of W_hh shuffled (20 draws) and the orthogonal start before training. The numbers the
landing page states about this picture are asserted in the chapters it links to, not here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emt import nulls, rnn
from emt.plotting import training as training_plots

ROOT = Path(__file__).resolve().parents[1]
S, KAPPA, HIDDEN, SEED, DATA_SEED, DRAWS = 16, 5, 128, 0, 2023, 20


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "images" / "hero_spectra.png")
    args = ap.parse_args(argv)
    trained = rnn.get_trained(rnn.TrainConfig(s=S, kappa=KAPPA, hidden=HIDDEN, seed=SEED))
    w = trained.weights()
    rng = np.random.default_rng(DATA_SEED)
    shuffled = [nulls.shuffled(w, rng)["W_hh"] for _ in range(DRAWS)]
    start = nulls.untrained(KAPPA, HIDDEN, SEED)["W_hh"]
    fig = training_plots.hero_spectra(
        [
            ("trained on repeat copy", [w["W_hh"]]),
            (f"its $W_{{hh}}$ shuffled ({DRAWS} draws)", shuffled),
            ("before training", [start]),
        ],
        S,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, bbox_inches="tight", metadata={"Software": None})
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return args.out


if __name__ == "__main__":
    main()
