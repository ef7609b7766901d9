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


def populations() -> plt.Figure:
    """Schematic of the modified GSEMM (paper Eq. 1): three populations and their couplings.

    Chapter "From GSEMM to the Elman RNN". Feature neurons V_f (N_f), hidden (memory) neurons
    V_h (N_h) and delay neurons V_d (N_f); each arrow carries the term of Eq. 1 through which
    the source drives the target (every population also leaks, -V_x, with its time constant).
    """
    use_style()
    fig, ax = plt.subplots(figsize=(6.4, 3.3))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 5.2)
    ax.axis("off")
    boxes = {
        "f": (1.8, 2.6, "feature neurons\n$V_f$ ($N_f$)\n$\\mathcal{T}_f$"),
        "h": (8.0, 4.1, "hidden (memory) neurons\n$V_h$ ($N_h$)\n$\\mathcal{T}_h$"),
        "d": (8.0, 1.0, "delay neurons\n$V_d$ ($N_f$)\n$\\mathcal{T}_d$"),
    }
    for x, y, label in boxes.values():
        ax.text(x, y, label, ha="center", va="center", fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.5", "facecolor": "0.95", "edgecolor": "0.4"})  # fmt: skip

    def arrow(src, dst, text, rad, colour, where):
        (x0, y0, _), (x1, y1, _) = boxes[src], boxes[dst]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.3,
                                "shrinkA": 38, "shrinkB": 38,
                                "connectionstyle": f"arc3,rad={rad}"})  # fmt: skip
        ax.text(*where, text, color=colour, fontsize=8.5, ha="center", va="center")

    arrow("f", "h", "$-\\sqrt{\\alpha_s}\\,\\Xi^{\\dagger}\\sigma_f(V_f)$", -0.15, THEORY,
          (4.3, 4.55))  # fmt: skip
    arrow("h", "f", "$-\\sqrt{\\alpha_s}\\,\\Xi\\,\\sigma_h(V_h)$", -0.15, THEORY, (5.2, 2.3))
    arrow("f", "d", "$-\\sigma_f(V_f)$", 0.15, MEASURED, (4.4, 0.95))
    arrow("d", "h", "$\\alpha_c\\,\\Phi'^{\\top}\\Xi^{\\dagger} V_d$", 0.0, ACCENT, (9.25, 2.55))
    fig.tight_layout()
    return fig
