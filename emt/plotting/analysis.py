"""Figures of the chapter "Reading the trained network" (book/reading_trained.md): the paper's Figure 3A-D.

Every function calls :func:`emt.plotting.use_style` and returns the Figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from emt.plotting import ACCENT, DIVERGING, MEASURED, THEORY, use_style


def _sym_limit(a: np.ndarray, q: float = 99.5) -> float:
    v = float(np.percentile(np.abs(a), q))
    return v if v > 0 else 1.0


def basis_matrix(phi_learned, phi_theory, s: int, kappa: int, title: str | None = None):
    """Figure 3A: W_hh in the basis [Psi; Psi_perp] with the memory block outlined, beside Phi of Eq. 12.

    Chapter "Reading the trained network". ``phi_learned`` is ``dual @ W_hh @ basis`` (n_h x n_h);
    ``phi_theory`` the ``(s*kappa, s*kappa)`` theoretical Phi. Colours are clipped at the 99th
    percentile of |entries| of the learned memory block.
    """
    use_style()
    phi_learned = np.asarray(phi_learned)
    phi_theory = np.asarray(phi_theory)
    n = s * kappa
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.4), gridspec_kw={"width_ratios": [1.25, 1]})
    lim = _sym_limit(phi_learned[:n, :n], 99.0)
    im = axes[0].imshow(phi_learned, cmap=DIVERGING, vmin=-lim, vmax=lim, interpolation="nearest")
    axes[0].add_patch(Rectangle((-0.5, -0.5), n, n, fill=False, edgecolor=ACCENT, linewidth=1.8))
    axes[0].set_title(title or r"learned $W_{hh}$ in the basis $[\Psi;\Psi^\perp]$")
    axes[0].set_xlabel("basis vector (column)")
    axes[0].set_ylabel("covector (row)")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    axes[1].imshow(phi_theory, cmap=DIVERGING, vmin=-1, vmax=1, interpolation="nearest")
    axes[1].set_title(r"theory: $\Phi$ of Eq. 12 ($s\kappa \times s\kappa$)")
    for ax in axes:
        ax.grid(False)
    for j in range(1, s):
        axes[1].axhline(j * kappa - 0.5, color="0.85", linewidth=0.4)
        axes[1].axvline(j * kappa - 0.5, color="0.85", linewidth=0.4)
    fig.tight_layout()
    return fig


def spectrum(
    eig_learned, eig_theory, s: int, counts, n_select: int, box_radius: float | None = None
):
    """Figure 3B: eigenvalues of the learned W_hh and of Phi in the complex plane, with counts per direction.

    Chapter "Reading the trained network". The ``n_select`` largest-modulus learned eigenvalues are
    drawn in the measured colour, the rest in grey; ``counts[j]`` (how many of the selected point in
    direction ``2 pi j / s``) is written in a box on that direction.
    """
    use_style()
    ev = np.asarray(eig_learned)
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    th = np.asarray(eig_theory)
    counts = np.asarray(counts)
    rmax = max(1.0, float(np.abs(ev).max()))
    box_radius = box_radius or 1.22 * rmax
    fig, ax = plt.subplots(figsize=(5.4, 5.4))
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="0.6", linewidth=0.8, linestyle="--", label="unit circle")
    for j in range(s):
        a = 2 * np.pi * j / s
        ax.plot(
            [0, box_radius * np.cos(a)],
            [0, box_radius * np.sin(a)],
            color="0.88",
            linewidth=0.6,
            zorder=0,
        )
        ax.text(
            box_radius * np.cos(a),
            box_radius * np.sin(a),
            str(int(counts[j])),
            ha="center",
            va="center",
            fontsize=8,
            bbox={
                "boxstyle": "square,pad=0.25",
                "facecolor": "white",
                "edgecolor": MEASURED if counts[j] else "0.7",
            },
        )
    ax.scatter(ev[n_select:].real, ev[n_select:].imag, s=8, color="0.65", label="learned, rest")
    ax.scatter(
        ev[:n_select].real,
        ev[:n_select].imag,
        s=12,
        color=MEASURED,
        label=f"learned, {n_select} largest",
    )
    ax.scatter(
        th.real,
        th.imag,
        s=70,
        facecolors="none",
        edgecolors=THEORY,
        linewidths=1.2,
        label=r"theory $\Phi$ (Eq. 12)",
    )
    lim = box_radius * 1.15
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    ax.legend(loc="lower left", fontsize=7, bbox_to_anchor=(0.0, -0.28), ncol=2)
    fig.tight_layout()
    return fig


def bitmap_run(u, h, y, s: int):
    """Figure 3C: the input bitmap, the hidden state in the standard basis, and the output, over time.

    Chapter "Reading the trained network". ``u`` ``(T, kappa)``, ``h`` ``(T, n_h)``, ``y`` ``(T, kappa)``;
    a vertical line marks the end of the input phase (k = s - 1/2) and dotted lines every period.
    Each panel has its own symmetric colour scale, set by its largest absolute entry.
    """
    use_style()
    u, h, y = (np.asarray(a) for a in (u, h, y))
    T = u.shape[0]
    fig, axes = plt.subplots(
        3,
        1,
        figsize=(9.0, 6.2),
        sharex=True,
        gridspec_kw={"height_ratios": [1, 4, 1]},
        constrained_layout=True,
    )
    lu = _sym_limit(u, 100)
    axes[0].imshow(u.T, cmap=DIVERGING, vmin=-lu, vmax=lu, aspect="auto", interpolation="nearest")
    axes[0].set_ylabel("input $u$")
    lh = _sym_limit(h, 100)
    im = axes[1].imshow(
        h.T, cmap=DIVERGING, vmin=-lh, vmax=lh, aspect="auto", interpolation="nearest"
    )
    axes[1].set_ylabel("hidden unit")
    fig.colorbar(im, ax=axes[1], shrink=0.8, label="$h$ (standard basis)")
    ly = _sym_limit(y, 100)
    axes[2].imshow(y.T, cmap=DIVERGING, vmin=-ly, vmax=ly, aspect="auto", interpolation="nearest")
    axes[2].set_ylabel("output $y$")
    axes[2].set_xlabel("time step $k$")
    for ax in axes:
        ax.grid(False)
        ax.axvline(s - 0.5, color="k", linewidth=1.0)
        for p in range(2 * s, T, s):
            ax.axvline(p - 0.5, color="k", linewidth=0.6, linestyle=":")
    return fig


def memory_states(contents, s: int, kappa: int, slots=None, mu: int = 1):
    """Figure 3D: the hidden state read on the variable memories, ``Psi_j^* h[k]``, over time.

    Chapter "Reading the trained network". ``contents`` ``(T, s, kappa)``; rows of the image are the
    s*kappa memory components (memory 1 at the top), columns the time steps. If ``slots`` (the
    ``(T, s)`` predicted memories, 0 = not written) is given, the predicted path of input ``mu`` is
    outlined step by step.
    """
    use_style()
    c = np.asarray(contents)
    T = c.shape[0]
    img = c.reshape(T, s * kappa).T
    fig, ax = plt.subplots(figsize=(9.0, 5.0), constrained_layout=True)
    lim = _sym_limit(img)
    im = ax.imshow(img, cmap=DIVERGING, vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    for j in range(1, s):
        ax.axhline(j * kappa - 0.5, color="0.75", linewidth=0.4)
    ax.axvline(s - 0.5, color="k", linewidth=1.0)
    if slots is not None:
        slots = np.asarray(slots)
        for k in range(T):
            j = slots[k, mu - 1]
            if j:
                ax.add_patch(
                    Rectangle(
                        (k - 0.5, (j - 1) * kappa - 0.5),
                        1,
                        kappa,
                        fill=False,
                        edgecolor=ACCENT,
                        linewidth=1.4,
                    )
                )
    ax.set_yticks([(j - 0.5) * kappa - 0.5 for j in range(1, s + 1)])
    ax.set_yticklabels([rf"$\Psi_{{{j}}}$" for j in range(1, s + 1)], fontsize=7)
    ax.set_xlabel("time step $k$")
    ax.set_ylabel("variable memory")
    ax.grid(False)
    fig.colorbar(im, ax=ax, shrink=0.8, label=r"$\Psi_j^* h$")
    return fig


#: Axis labels of the verdict's ranked metrics (emt.report.verdict.CRITERION_METRICS).
VERDICT_LABELS = {
    "block_error_a05": "block error",
    "rnd_acc_out": "bits read at the slot",
    "crosstalk_match": "cross-talk match",
}


def verdict_nulls(report: dict):
    """The network's Figure 3 metrics beside the spread of every null model's draws.

    Chapter "Analyse your own network". ``report`` is :func:`emt.report.analyze`'s return value
    (or its report.json). One panel per ranked metric of the verdict: for each null model a bar
    from the 5% to the 95% quantile of its draws with a tick at the median, and the network's
    own value as a red line.
    """
    from emt.report.verdict import CRITERION_METRICS

    use_style()
    criteria = {c["figure"]: c for c in report["verdict"]["criteria"]}
    network = report["metrics"]["network"]
    panels = [(fig_, key, larger) for fig_, keys in CRITERION_METRICS.items()
              for key, larger in keys]  # fmt: skip
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.9), sharey=True)
    names = None
    for ax, (figure, key, larger) in zip(axes, panels):
        better = "higher" if larger else "lower"
        label = f"Figure {figure}: {VERDICT_LABELS.get(key, key)}\n({better} is better)"
        log = not larger
        tests = criteria[figure]["tests"][key]
        names = names or sorted(tests)
        for i, name in enumerate(names):
            t = tests.get(name)
            if t is None:
                continue
            ax.plot([t["p05"], t["p95"]], [i, i], color=THEORY, lw=4, alpha=0.45,
                    solid_capstyle="butt")  # fmt: skip
            ax.plot([t["median"]], [i], "|", color=THEORY, ms=11, mew=1.6)
        ax.axvline(network[key], color=MEASURED, lw=1.6)
        if log:
            ax.set_xscale("log")
        ax.set_title(label, fontsize=8.5)
        ax.set_ylim(-0.7, len(names) - 0.3)
    axes[0].set_yticks(range(len(names)))
    axes[0].set_yticklabels([n.replace("_", " ") for n in names], fontsize=8)
    fig.tight_layout()
    return fig
