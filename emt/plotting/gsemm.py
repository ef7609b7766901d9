"""Figures of the chapter "From GSEMM to the Elman RNN" (book/gsemm.md)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import ACCENT, MEASURED, THEORY, use_style


def convergence(
    eps_flow,
    err_flow,
    eps_average,
    err_average,
    eps_end,
    err_end,
    *,
    gap: float,
    floor: float = 1e-13,
):
    """Log-log plot of the errors of the paper's Eq. 1 at T_h = T_d = eps against eps.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 1 and the
    discrete map of section 3. Three measured series: the full system against
    the reduced flow (``err_flow``), and the two relaxation schemes against the
    discrete map (``err_average``, ``err_end``; points below ``floor`` are
    round-off and left out). A dotted line of slope 1 (a fifth of the first series) guides the eye and a
    dashed horizontal line marks ``gap``, the eps-independent distance between
    the reduced flow at integer times and the discrete map. Returns the Figure.
    """
    use_style()
    series = {}
    for name, eps, err in (
        ("flow", eps_flow, err_flow),
        ("average", eps_average, err_average),
        ("end", eps_end, err_end),
    ):
        eps, err = np.asarray(eps, dtype=float), np.asarray(err, dtype=float)
        if eps.shape != err.shape or eps.ndim != 1:
            raise ValueError(
                f"{name}: eps and errors must be 1-d arrays of one length, got {eps.shape}, {err.shape}"
            )
        if np.any(eps <= 0):
            raise ValueError(f"{name}: eps must be positive")
        keep = err > floor
        series[name] = (eps[keep], err[keep])
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    e, r = series["flow"]
    ax.loglog(
        e, r, "o-", color=THEORY, label="full Eq. 1 vs reduced flow (max over $0 \\leq t \\leq K$)"
    )
    e, r = series["average"]
    ax.loglog(
        e, r, "s-", color=MEASURED, label="relaxation scheme, averaged increment, vs discrete map"
    )
    e, r = series["end"]
    ax.loglog(
        e, r, "^-", color=ACCENT, label="relaxation scheme, end-of-step increment, vs discrete map"
    )
    all_eps = np.concatenate([series[k][0] for k in series])
    lo, hi = all_eps.min(), all_eps.max()
    ref = np.array([lo, hi])
    e, r = series["flow"]
    ax.loglog(ref, 0.2 * r[np.argmin(e)] * ref / e.min(), ":", color="0.4", label="slope 1 (guide)")
    ax.axhline(gap, ls="--", color="0.3", label="reduced flow vs discrete map (any $\\varepsilon$)")
    ax.set_xlabel("$\\varepsilon = \\mathcal{T}_h = \\mathcal{T}_d$  (with $\\mathcal{T}_f = 1$)")
    ax.set_ylabel("max-norm error of $V_f$")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
