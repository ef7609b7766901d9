"""Figures of the chapter "The circuit forming" (book/formation.md; paper Sec. 7, Figure 3)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from emt.plotting import ACCENT, MEASURED, THEORY, use_style


def eigenvalue_frames(tracks: dict, frames: dict, s: int):
    """The eigenvalues of ``W_hh`` at a few steps of each network (one row per network).

    ``tracks``: ``{name: emt.formation.Track}``; ``frames``: ``{name: [step, ...]}`` (steps that
    the track recorded). Each panel: the unit circle, the s directions of the s-th roots of unity
    (grey rays) and the eigenvalues (the s * kappa largest are not singled out: the picture shows
    where all of them go).
    """
    use_style()
    n_rows, n_cols = len(tracks), max(len(v) for v in frames.values())
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.75 * n_cols, 1.9 * n_rows), squeeze=False)
    t = np.linspace(0, 2 * np.pi, 200)
    roots = np.exp(2j * np.pi * np.arange(s) / s)
    lim = 1.05 * max(1.3, max(float(np.abs(tr.eigenvalues).max()) for tr in tracks.values()))
    for row, (name, tr) in enumerate(tracks.items()):
        steps = list(tr.step)
        for col in range(n_cols):
            ax = axes[row, col]
            ax.set_aspect("equal")
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if col >= len(frames[name]):
                ax.axis("off")
                continue
            step = frames[name][col]
            ev = tr.eigenvalues[steps.index(step)]
            ax.plot(np.cos(t), np.sin(t), color="0.6", lw=0.7)
            for r in roots:
                ax.plot([0, lim * r.real], [0, lim * r.imag], color="0.85", lw=0.6, zorder=0)
            ax.plot(ev.real, ev.imag, ".", color=MEASURED, ms=3)
            ax.set_title(f"step {step}", fontsize=8)
            if col == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.tight_layout()
    return fig


def trajectories(tracks: dict, bands: dict, marks: dict, level: float, clip: float = 40.0):
    """The Figure 3 reading against the training step, one column per network.

    Rows: the spectrum's p-value for the circuit's s (as ``-log10 p``, clipped at ``clip``; the
    dashed line is the level), Figure 3A's block error (log scale) with the untrained networks'
    5-95% band (shaded) and median, and the fraction of fresh sequences recalled exactly over 3
    periods. ``bands``: ``{name: emt.formation.null_band(...)}``; ``marks``: ``{name: {"lock-in":
    step or None, "solved": step or None}}``, drawn as vertical lines.
    """
    use_style()
    names = list(tracks)
    fig, axes = plt.subplots(
        3, len(names), figsize=(3.4 * len(names), 5.6), sharex="col", squeeze=False
    )
    for col, name in enumerate(names):
        tr, band = tracks[name], bands[name]
        step = tr.step
        ax = axes[0, col]
        logp = np.minimum(-np.log10(np.maximum(tr.p_value, 10.0**-clip)), clip)
        ax.plot(step, logp, color=THEORY, lw=1.2)
        ax.axhline(-np.log10(level), color="0.4", ls="--", lw=0.8)
        ax.set_ylim(-1, clip + 2)
        ax.set_title(name, fontsize=10)
        ax = axes[1, col]
        b = band["block_error"]
        ax.axhspan(b["p05"], b["p95"], color=ACCENT, alpha=0.25, lw=0)
        ax.axhline(b["median"], color=ACCENT, lw=0.8)
        ax.semilogy(step, tr.block_error, color=MEASURED, lw=1.2)
        ax = axes[2, col]
        ax.plot(step, tr.sequence_accuracy, color=THEORY, lw=1.2)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("training step")
        for row in range(3):
            for label, ls in (("lock-in", ":"), ("solved", "-")):
                at = marks[name].get(label)
                if at is not None:
                    axes[row, col].axvline(at, color="0.3", ls=ls, lw=0.9)
    axes[0, 0].set_ylabel("spectrum:\n-log10 p")
    axes[1, 0].set_ylabel("block error\n(Figure 3A)")
    axes[2, 0].set_ylabel("sequences\nrecalled")
    fig.align_ylabels(axes[:, 0])
    fig.tight_layout()
    return fig


def survival_curves(df, recipes, title_fmt: str = "s = {s}"):
    """Fraction of networks still unsolved against training steps, one panel per s.

    Chapter "The circuit forming", section ``sec-fo-grid``. ``df``: :func:`emt.formation.grid_table`;
    ``recipes``: the ``point_name`` values, one curve each (Kaplan-Meier,
    :func:`emt.formation.survival`, pooled over kappa, N_h and seeds), with a tick where runs
    were censored at their budget; steps on a log axis from 100.
    """
    from emt import formation

    use_style()
    sizes = sorted(df["s"].unique())
    cols = len(sizes) if len(sizes) <= 3 else 2  # four or more sizes: two panels a row
    rows = -(-len(sizes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * max(cols, 3), 3.6 * rows),
                             squeeze=False, sharey=True)  # fmt: skip
    for ax in axes.flat[len(sizes) :]:
        ax.set_visible(False)
    colours = [THEORY, MEASURED, ACCENT, "0.45"]
    styles = ["-", "--", "-", "--"]
    for ax, s in zip(axes.flat, sizes):
        for i, name in enumerate(recipes):
            g = df[(df["s"] == s) & (df["point_name"] == name)]
            if g.empty:
                continue
            t, surv = formation.survival(g["steps"], g["solved"].astype(bool))
            budget = int(g["max_steps"].max())
            x = np.append(t, budget)
            x[0] = min(100.0, x[1:].min())  # the log axis starts at 100 steps
            y = np.append(surv, surv[-1])
            ax.step(x, y, where="post", color=colours[i % 4], ls=styles[i % 4], lw=1.4,
                    label=f"{name} ({int(g['solved'].sum())}/{len(g)})")  # fmt: skip
            if not g["solved"].all():
                ax.plot([budget], [surv[-1]], marker="|", ms=9, color=colours[i % 4])
        ax.set_title(title_fmt.format(s=s))
        ax.set_xscale("log")
        ax.set_xlabel("training steps (log scale)")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2,
                  frameon=False)  # fmt: skip
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction not yet solved")
    fig.tight_layout()
    return fig


def grid_trends(summary, recipes):
    """Steps to solve and the circuit's share of the solved networks, against s, per recipe.

    Chapter "The circuit forming", section ``sec-fo-grid``. ``summary``:
    :func:`emt.formation.grid_summary` by ``("s", "point_name")``; ``recipes``: the
    ``point_name`` values, one line each. Left: the censored median steps to solve (log axis);
    where fewer than half solved within the budget, an open marker at the budget with an arrow
    (the median lies above it). Right: the fraction of the solved networks that ``emt analyze``
    reads as "found", with a dotted line for "found" or "partly"; no point where none solved.
    """
    from matplotlib.ticker import FuncFormatter

    use_style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.4))
    colours = [THEORY, MEASURED, ACCENT, "0.45"]
    styles = ["-", "--", "-", "--"]
    markers = ["o", "s", "^", "D"]
    handles = []
    for i, name in enumerate(recipes):
        g = summary[summary["point_name"] == name].sort_values("s")
        if g.empty:
            continue
        c, ls, m = colours[i % 4], styles[i % 4], markers[i % 4]
        sizes = g["s"].to_numpy()
        med = g["median_steps"].to_numpy(dtype=float)
        cens = ~np.isfinite(med)
        y = np.where(cens, g["budget"].to_numpy(dtype=float), med)
        (line,) = left.plot(sizes, y, color=c, ls=ls, lw=1.3, marker=m, ms=5, label=name)
        handles.append(line)
        for s_, y_ in zip(sizes[cens], y[cens]):
            left.plot([s_], [y_], m, color=c, ms=5, mfc="white")
            left.annotate("", xy=(s_, y_ * 1.8), xytext=(s_, y_ * 1.08),
                          arrowprops=dict(arrowstyle="->", color=c, lw=1))  # fmt: skip
        solved = g["solved"].to_numpy(dtype=float)
        ok = solved > 0
        found = np.where(ok, g["found"] / np.maximum(solved, 1), np.nan)
        either = np.where(ok, (g["found"] + g["partly"]) / np.maximum(solved, 1), np.nan)
        right.plot(sizes, found, color=c, ls=ls, lw=1.3, marker=m, ms=5)
        right.plot(sizes, either, color=c, ls=":", lw=1)
    ticks = sorted(summary["s"].unique())
    for ax in (left, right):
        ax.set_xticks(ticks)
        ax.set_xlabel("$s$")
    left.set_yscale("log")
    top = float(summary["budget"].max()) * 2.2
    left.set_ylim(100, top)
    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    left.set_ylabel("median steps to solve")
    right.set_ylabel('solved networks read "found"')
    right.set_ylim(-0.03, 1.03)
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
               fontsize=7)  # fmt: skip
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
