"""Figures of the chapter "How general is the circuit?" (book/universality.md; paper Sec. 7).

Each function takes the results table of :func:`emt.sweep.run_sweep` (a pandas DataFrame, one row
per network) and returns the matplotlib figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, ScalarFormatter

from emt.plotting import ACCENT, MEASURED, THEORY, use_style

#: Labels of the null models of :data:`emt.nulls.NULL_MODELS`, for legends and axes.
NULL_LABELS = {
    "untrained_orth": "untrained\n(orthogonal)",
    "untrained_pytorch": "untrained\n(PyTorch)",
    "spectrum": "same\nspectrum",
    "wrong_s": "wrong s",
    "random_uh": "random\nW_uh",
}
#: Figure 3 metrics of a sweep's table compared with their null models, with their labels:
#: errors (smaller is better) and accuracies (larger is better).
#: Chapter "How general is the circuit?" (section "Which numbers are evidence"), its appendix.
LOWER_IS_BETTER = {
    "angle_error_mean_deg": "angle error (deg)",
    "block_error_a05": "block error, alpha = 1/2",
    "wrap_error_a1": "wrap-around column, alpha = 1",
    "row_wrap_error_a0": "block row s-1, alpha = 0",
    "defect_backward_mean": "backward shift defect",
    "read_before_write": "read before write",
}
HIGHER_IS_BETTER = {
    "rnd_acc_out": "bits right at the slot",
    "crosstalk_match": "largest read at the slot",
}
_S_COLOURS = {4: ACCENT, 8: "#8e44ad", 16: THEORY, 32: MEASURED}


def solved_fraction(df, columns: dict[str, str], *, ratio_column: str = "ratio"):
    """Fraction of seeds that succeed against N_h / (s kappa): a panel per kappa and success measure.

    ``df`` holds the rows of one recipe with the columns ``s``, ``kappa``, ``ratio_column``
    (N_h / (s kappa)) and the boolean columns of ``columns``, which maps each to a row label (e.g.
    ``{"solved": "criterion met"}``). One line per s; each marker where some but not all seeds
    succeed is annotated with "successes/seeds".
    """
    use_style()
    kappas = sorted(df["kappa"].unique())
    fig, axes = plt.subplots(
        len(columns),
        len(kappas),
        figsize=(3.0 * len(kappas), 2.7 * len(columns)),
        sharey=True,
        sharex=True,
        squeeze=False,
    )
    for r, (column, label) in enumerate(columns.items()):
        for ax, kappa in zip(axes[r], kappas):
            sub = df[df["kappa"] == kappa]
            placed: dict[tuple[float, float], int] = {}
            for s in sorted(sub["s"].unique()):
                g = (
                    sub[sub["s"] == s]
                    .groupby(ratio_column)[column]
                    .agg(["mean", "size"])
                    .sort_index()
                )
                colour = _S_COLOURS.get(int(s), "0.3")
                ax.plot(g.index, g["mean"], "o-", color=colour, ms=5, lw=1.2, label=f"s = {s}")
                for x, (frac, n) in zip(g.index, g.to_numpy()):
                    if 0 < frac < 1:  # all or none: the line says it; labels only in between
                        # right of the point; labels of equal points side by side
                        same = placed.get((x, frac), 0)
                        placed[(x, frac)] = same + 1
                        ax.annotate(
                            f"{int(round(frac * n))}/{int(n)}",
                            (x, frac),
                            textcoords="offset points",
                            xytext=(5 + 16 * same, -3),
                            fontsize=7,
                            color=colour,
                        )
            ax.set_xscale("log")
            ax.set_ylim(-0.08, 1.12)
            ax.axvline(1.25, color="0.6", lw=0.8, ls=":")
            if r == 0:
                ax.set_title(rf"$\kappa = {kappa}$")
            if r == len(columns) - 1:
                ax.set_xlabel(r"$N_h / (s\kappa)$")
        axes[r, 0].set_ylabel(f"fraction of seeds:\n{label}")
    handles = [
        Line2D([], [], marker="o", color=_S_COLOURS.get(int(s), "0.3"), label=f"s = {s}")
        for s in sorted(df["s"].unique())
    ]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def null_separation(df, metrics: dict[str, str], models: tuple[str, ...]):
    """Each metric of the trained networks beside its values on the null models.

    ``metrics`` maps a column of the table (e.g. ``block_error_a05``) to an axis label; the null
    model's column is ``null_<model>__<column>``. One panel per metric: the trained networks in
    the first column of points, each null model of ``models`` in the next ones (NaN, where
    Algorithm 1 could not run, is left out and counted in the column's label). Values are drawn on a
    log scale when they span more than two decades.
    """
    use_style()
    n = len(metrics)
    ncols = min(n, 4)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 2.9 * nrows), squeeze=False)
    rng = np.random.default_rng(0)  # jitter only
    labels = ["trained", *[NULL_LABELS.get(m, m) for m in models]]
    for ax, (col, title) in zip(axes.flat, metrics.items()):
        columns = [col, *[f"null_{m}__{col}" for m in models]]
        values = [df[c].to_numpy(dtype=float) for c in columns]
        finite = np.concatenate([v[np.isfinite(v)] for v in values])
        positive = finite[finite > 0]
        logy = positive.size and positive.max() / max(positive.min(), 1e-300) > 100
        nan_counts = []
        for i, v in enumerate(values):
            ok = np.isfinite(v)
            x = i + rng.uniform(-0.18, 0.18, ok.sum())
            y = v[ok]
            if logy:
                y = np.maximum(y, positive.min())
            ax.plot(x, y, "o", ms=3, alpha=0.6, color=MEASURED if i == 0 else THEORY)
            nan_counts.append(int((~ok).sum()))
        if logy:
            ax.set_yscale("log")
        ax.set_xticks(range(len(labels)))
        ticks = [f"{lab}\n({k} NaN)" if k else lab for lab, k in zip(labels, nan_counts)]
        ax.set_xticklabels(ticks, fontsize=7, rotation=90)
        ax.set_title(title, fontsize=9)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def recipe_steps(df, order: list[str]):
    """Training steps per seed for each recipe (``point_name`` in ``order``), solved or not.

    Filled markers: the network met the stopping criterion; open markers: it stopped at its
    step limit without meeting it.
    """
    use_style()
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(order) + 1.0))
    for i, name in enumerate(order):
        sub = df[df["point_name"] == name]
        for solved, marker_face in ((True, MEASURED), (False, "none")):
            part = sub[sub["solved"] == solved]
            ax.plot(
                part["steps"],
                np.full(len(part), i),
                "o",
                ms=6,
                mfc=marker_face,
                mec=MEASURED,
            )
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("training steps")
    handles = [
        Line2D([], [], ls="", marker="o", mfc=MEASURED, mec=MEASURED, label="met the criterion"),
        Line2D([], [], ls="", marker="o", mfc="none", mec=MEASURED, label="step limit, not met"),
    ]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks([1000, 2000, 5000, 10000, 20000])
    fig.tight_layout()
    return fig
