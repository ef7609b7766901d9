"""Figures of the chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from . import ACCENT, MEASURED, THEORY, use_style

_CYCLE = [MEASURED, ACCENT, "#8e44ad", "#d68910", "#117a65", "#5d6d7e"]
_MARKERS = ["x", "+", "1", "2", "3", "4"]


def spectra(eig_phi, cases: Sequence[tuple[str, np.ndarray]], title: str | None = None):
    """eig(Phi) (open circles) and eig(Xi Phi^T Xi^+) for several Xi (small markers) in the complex plane.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md), paper Eq. 2.
    ``cases`` is a list of ``(label, eigenvalues)``. Returns the Figure.
    """
    use_style()
    eig_phi = np.asarray(eig_phi, dtype=complex)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="0.6", lw=0.8, ls="--", label="unit circle")
    ax.scatter(
        eig_phi.real,
        eig_phi.imag,
        s=150,
        facecolors="none",
        edgecolors=THEORY,
        linewidths=1.6,
        label=r"eig$(\Phi)$",
        zorder=3,
    )
    for i, (label, ev) in enumerate(cases):
        ev = np.asarray(ev, dtype=complex)
        ax.scatter(
            ev.real,
            ev.imag,
            s=45,
            marker=_MARKERS[i % len(_MARKERS)],
            color=_CYCLE[i % len(_CYCLE)],
            linewidths=1.4,
            label=label,
            zorder=4,
        )
    ax.axhline(0, color="0.3", lw=0.5)
    ax.axvline(0, color="0.3", lw=0.5)
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    if title:
        ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def gap_growth(
    curves: Mapping[str, np.ndarray],
    rate: float | None = None,
    anchor: tuple[float, float] | None = None,
    floor: float = 1e-40,
):
    """Gaps (log scale) against the step k.

    Optionally a reference line ``anchor[1] * exp(rate * (k - anchor[0]))``.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md): how the
    floating-point discrepancy in the form f^k = (h^{-1} o g o h)^k grows (paper Eq. 24).
    Values below ``floor`` (zeros included) and infinite values are not drawn. Returns the Figure.
    """
    use_style()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    kmax = 0
    for i, (label, gap) in enumerate(curves.items()):
        gap = np.asarray(gap, dtype=float)
        k = np.arange(gap.size)
        kmax = max(kmax, gap.size - 1)
        ok = np.isfinite(gap) & (gap >= floor)
        ax.semilogy(k[ok], gap[ok], color=_CYCLE[i % len(_CYCLE)], lw=1.3, label=label)
    if rate is not None and anchor is not None:
        k = np.linspace(0, kmax, 200)
        ref = anchor[1] * np.exp(rate * (k - anchor[0]))
        keep = ref < 1e2
        ax.semilogy(
            k[keep],
            ref[keep],
            color=THEORY,
            ls="--",
            lw=1.0,
            label=rf"$\propto e^{{\lambda k}}$, $\lambda$ = {rate:.2f}",
        )
    ax.set_xlabel("step k")
    ax.set_ylabel("max. absolute difference")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    return fig


def orbit_norms(curves: Mapping[str, np.ndarray], ymin: float = 1e-6):
    """Norms ``||y_k||_2`` of RNN orbits against k + 1 on log-log axes (values below ``ymin`` not drawn).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md): what the
    norm condition of paper Sec. 3 does to the dynamics of g (Eq. 2). Returns the Figure.
    """
    use_style()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (label, r) in enumerate(curves.items()):
        r = np.asarray(r, dtype=float)
        k = np.arange(r.size)
        ok = r >= ymin
        ax.loglog(k[ok] + 1, r[ok], color=_CYCLE[i % len(_CYCLE)], lw=1.4, label=label)
    ax.set_xlabel("step k + 1")
    ax.set_ylabel(r"$\|g^k(y_0)\|_2$")
    ax.set_ylim(bottom=ymin)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
