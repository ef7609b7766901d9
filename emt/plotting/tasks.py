"""Figures of the chapter "Any linear function of the history" (book/linear_tasks.md).

Spectra of the shift-and-compute operators Phi of several linear tasks (paper Eq. 9),
the outputs of their linear circuits against the tasks' own sequences, and the text
bitmap "3141" of the paper's Fig. 3C.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from . import ACCENT, MEASURED, THEORY, use_style


def _panel_grid(panels, ncols: int, width: float, height: float):
    """Figure with one axes per panel, ``ncols`` per row (book style applied)."""
    use_style()
    if len(panels) == 0:
        raise ValueError("panels must hold at least one panel")
    nrows = int(np.ceil(len(panels) / ncols))
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)


def _multiplicities(values: np.ndarray, tol: float = 1e-6) -> list[tuple[complex, int]]:
    """Group nearly equal complex numbers: [(representative, count), ...]."""
    groups: list[list] = []
    for v in np.asarray(values, dtype=complex):
        for g in groups:
            if abs(g[0] - v) < tol:
                g[1] += 1
                break
        else:
            groups.append([v, 1])
    return [(complex(g[0]), int(g[1])) for g in groups]


def spectra(panels: Sequence[dict], ncols: int = 2):
    """Eigenvalues in the complex plane, one panel per task (chapter "Any linear function of the history").

    Each panel is a dict with keys ``title``, ``phi`` (eigenvalues of Phi, drawn as dots),
    ``companion`` (eigenvalues of the independently built companion matrix, drawn as crosses),
    ``theory`` (the predicted eigenvalues, drawn as open circles and annotated with their
    multiplicity when it exceeds 1) and optionally ``radius`` (a circle of that radius, e.g.
    the spectral radius of a growing task). The unit circle is dashed. Returns the Figure.
    """
    fig, axes = _panel_grid(panels, ncols, 3.5, 3.5)
    theta = np.linspace(0, 2 * np.pi, 400)
    for ax, p in zip(axes.flat, panels):
        ax.plot(np.cos(theta), np.sin(theta), ls="--", lw=0.8, color="0.6", label="unit circle")
        r = p.get("radius")
        if r is not None:
            ax.plot(
                r * np.cos(theta),
                r * np.sin(theta),
                ls=":",
                lw=0.8,
                color=ACCENT,
                label=f"|z| = {r:.3f}",
            )
        theory = np.asarray(p["theory"], dtype=complex)
        ax.scatter(
            theory.real,
            theory.imag,
            s=70,
            facecolors="none",
            edgecolors=THEORY,
            lw=1.2,
            label="theory",
        )
        comp = np.asarray(p["companion"], dtype=complex)
        ax.scatter(
            comp.real, comp.imag, s=30, marker="x", color=ACCENT, lw=1.0, label="companion matrix"
        )
        phi = np.asarray(p["phi"], dtype=complex)
        ax.scatter(phi.real, phi.imag, s=10, color=MEASURED, zorder=3, label=r"$\Phi$")
        for z, m in _multiplicities(theory):
            if m > 1:
                ax.annotate(
                    str(m),
                    (z.real, z.imag),
                    xytext=(5, 4),
                    textcoords="offset points",
                    fontsize=7,
                    color=THEORY,
                )
        lim = 1.15 * max(1.0, r or 0.0, np.abs(theory).max(initial=0.0))
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(p["title"])
        ax.set_xlabel("Re z")
        ax.set_ylabel("Im z")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    seen: dict[str, object] = {}
    for ax in list(axes.flat)[: len(panels)]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="lower center", ncol=5, fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def outputs_vs_reference(panels: Sequence[dict], ncols: int = 2):
    """Linear-circuit outputs against the task's own sequence (chapter "Any linear function of the history").

    Each panel is a dict with ``title``, ``k`` (time steps), ``reference`` and ``rnn`` (arrays of
    shape (len(k), kappa)), ``components`` (indices to draw) and optionally ``log=True``, which
    draws the Euclidean norm of each vector on a logarithmic axis together with ``growth``
    (a pair ``(c, rho)`` drawn as the line ``c * rho**k``). Returns the Figure.
    """
    fig, axes = _panel_grid(panels, ncols, 4.2, 2.8)
    colours = plt.get_cmap("tab10")
    for ax, p in zip(axes.flat, panels):
        k = np.asarray(p["k"])
        ref = np.asarray(p["reference"])
        rnn = np.asarray(p["rnn"])
        if p.get("log"):
            ax.semilogy(
                k, np.linalg.norm(ref, axis=-1), color=THEORY, lw=1.2, label="task (reference)"
            )
            ax.semilogy(
                k,
                np.linalg.norm(rnn, axis=-1),
                ls="none",
                marker=".",
                ms=4,
                color=MEASURED,
                label="linear RNN",
            )
            if p.get("growth") is not None:
                c, rho = p["growth"]
                ax.semilogy(
                    k,
                    c * rho ** k.astype(float),
                    ls="--",
                    lw=0.9,
                    color=ACCENT,
                    label=rf"$\propto {rho:.3f}^k$",
                )
            ax.set_ylabel("|x[k]|")
            ax.legend(fontsize=7, loc="upper left")
        else:
            for j, i in enumerate(p["components"]):
                ax.plot(k, ref[:, i], color=colours(j % 10), lw=1.0, label=f"component {i + 1}")
                ax.plot(k, rnn[:, i], ls="none", marker=".", ms=3.5, color=MEASURED)
            ax.set_ylabel("value")
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi + 0.45 * (hi - lo))  # headroom for the legend
            ax.legend(fontsize=7, loc="upper center", ncol=3)
        ax.set_title(p["title"])
        ax.set_xlabel("time step k")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def bitmap(bits, text: str | None = None):
    """The text bitmap as an image: pixel rows vertically, one column per time step (paper Fig. 3C input).

    Chapter "Any linear function of the history"; ``bits`` has shape (T, kappa) as returned by
    :func:`emt.tasks.text_bitmap`. Returns the Figure.
    """
    use_style()
    b = np.asarray(bits, dtype=float)
    if b.ndim != 2:
        raise ValueError(f"bits must have shape (T, kappa), got {b.shape}")
    T, kappa = b.shape
    fig, ax = plt.subplots(figsize=(0.32 * T + 1.2, 0.32 * kappa + 1.0))
    ax.imshow(b.T, cmap="Greys", vmin=0, vmax=1, aspect="equal", interpolation="nearest")
    ax.set_xticks(np.arange(T))
    ax.set_xticklabels([str(t) for t in range(T)], fontsize=7)
    ax.set_yticks(np.arange(kappa))
    ax.set_yticklabels([str(i + 1) for i in range(kappa)], fontsize=7)
    ax.set_xticks(np.arange(-0.5, T, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, kappa, 1), minor=True)
    ax.grid(False)
    ax.grid(which="minor", color="0.75", lw=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("time step k (one column per step)")
    ax.set_ylabel("component")
    if text is not None:
        ax.set_title(f'"{text}" as {T} input vectors of {kappa} pixels')
    fig.tight_layout()
    return fig
