"""Figures of the chapters "Variable memories" and "Linear repeat copy" (paper Fig. 1 and 2)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.gridspec import GridSpec

from . import ACCENT, DIVERGING, MEASURED, THEORY, use_style


def _sym_limit(*arrays) -> float:
    m = max(float(np.max(np.abs(a))) for a in arrays)
    return m if m > 0 else 1.0


def _memory_grid(ax, contents, title, vmax, row_labels=True):
    """Draw an (s, kappa) array of memory contents: one row per variable memory Psi_j."""
    contents = np.atleast_2d(contents)
    im = ax.imshow(contents, cmap=DIVERGING, vmin=-vmax, vmax=vmax, aspect="equal")
    ax.set_title(title)
    ax.set_xticks(range(contents.shape[1]))
    ax.set_xticklabels([str(i + 1) for i in range(contents.shape[1])])
    if row_labels and contents.shape[0] > 1:
        ax.set_yticks(range(contents.shape[0]))
        ax.set_yticklabels([rf"$\Psi_{j + 1}$" for j in range(contents.shape[0])])
    else:
        ax.set_yticks([])
    ax.grid(False)
    ax.tick_params(length=0)
    return im


def basis_and_dual_2d(basis, v) -> plt.Figure:
    """Chapter "Variable memories": a non-orthogonal basis of R^2, its covectors, and one vector in two bases.

    ``basis`` is 2x2 (columns e_1, e_2); the covectors are the rows of its inverse. Left: the basis
    vectors, the covectors (drawn as arrows of their coefficient vectors) and the standard basis.
    Right: the vector v as v^1 e_1 + v^2 e_2 (parallelogram rule) with the components computed
    from the covectors.
    """
    use_style()
    basis = np.asarray(basis, float)
    v = np.asarray(v, float)
    cov = np.linalg.inv(basis)
    comp = cov @ v
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.8))
    ax = axes[0]
    for j in range(2):
        ax.annotate("", basis[:, j], (0, 0), arrowprops=dict(arrowstyle="->", color=THEORY, lw=2))
        ax.text(*(basis[:, j] * 1.08), rf"$|e_{j + 1}\rangle$", color=THEORY)
        ax.annotate(
            "", cov[j], (0, 0), arrowprops=dict(arrowstyle="->", color=MEASURED, lw=2, ls="--")
        )
        ax.text(*(cov[j] * 1.08), rf"$\langle e^{j + 1}|$", color=MEASURED)
        std = np.eye(2)[:, j]
        ax.annotate("", std, (0, 0), arrowprops=dict(arrowstyle="->", color="0.6", lw=1))
    ax.set_title(r"basis (solid), covectors (dashed), standard (grey)")
    ax2 = axes[1]
    p1 = comp[0] * basis[:, 0]
    ax2.annotate("", p1, (0, 0), arrowprops=dict(arrowstyle="->", color=THEORY, lw=2))
    ax2.annotate("", v, p1, arrowprops=dict(arrowstyle="->", color=THEORY, lw=2))
    ax2.annotate("", v, (0, 0), arrowprops=dict(arrowstyle="->", color=ACCENT, lw=2.5))
    ax2.text(
        *(p1 / 2 + np.array([0.0, -0.12])),
        rf"${comp[0]:.2f}\,|e_1\rangle$",
        color=THEORY,
        ha="center",
        va="top",
    )
    ax2.text(*((p1 + v) / 2), rf"${comp[1]:.2f}\,|e_2\rangle$", color=THEORY, ha="left")
    ax2.text(*(v * 1.05), rf"$|v\rangle = ({v[0]:.2f}, {v[1]:.2f})$ standard", color=ACCENT)
    ax2.set_title(r"$|v\rangle = \langle e^i|v\rangle\,|e_i\rangle$")
    pts = np.vstack([basis.T, cov, np.eye(2), v, p1, [0, 0]])
    lim = np.abs(pts).max() * 1.3
    for a in axes:
        a.set_xlim(-lim, lim)
        a.set_ylim(-lim, lim)
        a.set_aspect("equal")
        a.axhline(0, color="0.8", lw=0.8)
        a.axvline(0, color="0.8", lw=0.8)
    fig.tight_layout()
    return fig


def binding_mechanisms(
    phi_before, phi_after, write_before, u, write_after, read_state, read_out
) -> plt.Figure:
    """Chapter "Variable memories": the paper's Fig. 2 recomputed, three panels.

    A: memory contents (rows Psi_1..Psi_N, columns the kappa components) of a hidden state
    before and after W_hh. B: a state, the input u, and the state after adding W_uh u.
    C: a state and the vector W_r h read from it. Every array is computed by the caller from
    hidden states in the standard basis (components via the covectors).
    """
    use_style()
    vmax = _sym_limit(phi_before, phi_after, write_before, u, write_after, read_state, read_out)
    fig = plt.figure(figsize=(10.5, 3.7))
    gs = GridSpec(
        3,
        9,
        figure=fig,
        height_ratios=[4, 1.0, 0.2],
        width_ratios=[1, 0.25, 1, 0.45, 1, 0.25, 1, 0.45, 1],
    )
    a0, a1 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 2])
    b0, b1 = fig.add_subplot(gs[0, 4]), fig.add_subplot(gs[0, 6])
    c0 = fig.add_subplot(gs[0, 8])
    bu, cy = fig.add_subplot(gs[1, 4]), fig.add_subplot(gs[1, 8])
    _memory_grid(a0, phi_before, "A. $h(t)$", vmax)
    _memory_grid(a1, phi_after, r"$W_{hh}\,h(t)$", vmax)
    _memory_grid(b0, write_before, "B. $h$ ($\\Psi_N$ empty)", vmax)
    _memory_grid(b1, write_after, r"$h + W_{uh}\,u$", vmax)
    _memory_grid(c0, read_state, "C. $h$", vmax)
    _memory_grid(bu, np.atleast_2d(u), "input $u$", vmax, row_labels=False)
    im = _memory_grid(cy, np.atleast_2d(read_out), r"output $W_r\,h$", vmax, row_labels=False)
    for col in (1, 5):
        sp = fig.add_subplot(gs[0, col])
        sp.axis("off")
        sp.text(
            0.5,
            0.5,
            r"$\rightarrow$",
            fontsize=18,
            ha="center",
            va="center",
            transform=sp.transAxes,
        )
    cax = fig.add_subplot(gs[2, :])
    fig.colorbar(
        im, cax=cax, orientation="horizontal", label="component in the variable-memory basis"
    )
    fig.subplots_adjust(left=0.04, right=0.99, top=0.92, bottom=0.14, wspace=0.2, hspace=0.5)
    return fig


def _operator(ax, m, title, xlabel, s, kappa, rows_mem, cols_mem):
    vmax = _sym_limit(m)
    im = ax.imshow(m, cmap=DIVERGING, vmin=-vmax, vmax=vmax, interpolation="nearest", aspect="auto")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(False)
    ax.tick_params(length=0, labelsize=9)
    for which, is_mem in (("x", cols_mem), ("y", rows_mem)):
        if is_mem:
            ticks = [(j + 0.5) * kappa - 0.5 for j in (0, s - 1)]
            labels = [r"$\Psi_1$", rf"$\Psi_{{{s}}}$"]
            for b in range(1, s):
                (ax.axvline if which == "x" else ax.axhline)(b * kappa - 0.5, color="0.85", lw=0.4)
        else:
            ticks, labels = [], []
        (ax.set_xticks if which == "x" else ax.set_yticks)(ticks)
        (ax.set_xticklabels if which == "x" else ax.set_yticklabels)(labels)
    return im


def algorithm_and_operators(
    code: str, w_hh, w_uh_mem, phi_mem, w_r_mem, s: int, kappa: int
) -> plt.Figure:
    """Chapter "Linear repeat copy": the paper's Fig. 1 recomputed.

    Top, the ring-buffer algorithm (``code``) and the linear RNN's W_hh in the standard basis;
    below, the operators in the variable-memory basis:
    Psi^+ W_uh (write, n x kappa), Psi^+ W_hh Psi (shift, = Phi) and W_r Psi (read, drawn
    transposed as n x kappa).
    """
    use_style()
    # two rows, so that the code and the labels stay readable at the book's column width:
    # the algorithm and the network's W_hh above, the operators in the memory basis below
    fig = plt.figure(figsize=(7.4, 7.6))
    top = GridSpec(1, 2, figure=fig, width_ratios=[1.25, 1], left=0.02, right=0.98, top=0.95)
    top.update(bottom=0.58, wspace=0.08)
    low = GridSpec(1, 3, figure=fig, width_ratios=[0.5, 2.6, 0.5], left=0.08, right=0.98)
    low.update(top=0.47, bottom=0.07, wspace=0.35)
    axc = fig.add_subplot(top[0, 0])
    axc.axis("off")
    axc.text(
        0.0,
        0.97,
        code,
        family="monospace",
        fontsize=8.5,
        va="top",
        ha="left",
        transform=axc.transAxes,
    )
    axc.set_title("algorithm: a ring buffer of s slots", loc="left")
    _operator(
        fig.add_subplot(top[0, 1]),
        np.asarray(w_hh),
        "RNN: $W_{hh}$",
        "standard basis",
        s,
        kappa,
        False,
        False,
    )
    _operator(
        fig.add_subplot(low[0, 0]),
        np.asarray(w_uh_mem),
        "write",
        r"$\Psi^{+}W_{uh}$",
        s,
        kappa,
        True,
        False,
    )
    _operator(
        fig.add_subplot(low[0, 1]),
        np.asarray(phi_mem),
        "shift",
        r"$\Psi^{+}W_{hh}\Psi = \Phi$",
        s,
        kappa,
        True,
        True,
    )
    _operator(
        fig.add_subplot(low[0, 2]),
        np.asarray(w_r_mem).T,
        "read",
        r"$(W_r\Psi)^{\top}$",
        s,
        kappa,
        True,
        False,
    )
    return fig


def slot_trajectories(measured, corrected, paper, s: int) -> plt.Figure:
    """Chapter "Linear repeat copy": where input mu sits, t steps after the input phase.

    ``measured``, ``corrected`` and ``paper`` have shape (n_t, s): the memory index (1..s) of
    input mu = 1..s at t = 0..n_t-1, measured from the simulated hidden states, given by the
    corrected formula, and given by the paper's Eq. 13/34 (NaN where its index leaves 1..s).
    """
    use_style()
    measured = np.asarray(measured, float)
    n_t = measured.shape[0]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    t = np.arange(n_t)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, 3))
    for k, mu in enumerate((1, s // 2, s)):
        ax.plot(
            t,
            measured[:, mu - 1],
            "o",
            ms=6,
            mfc="none",
            color=colours[k],
            label=rf"measured, $\mu={mu}$",
        )
        line = np.asarray(corrected, float)[:, mu - 1].copy()
        line_t = t.astype(float)
        wraps = (
            np.flatnonzero(np.diff(line) > 0) + 1
        )  # break the line where the slot wraps from 1 to s
        line, line_t = np.insert(line, wraps, np.nan), np.insert(line_t, wraps, np.nan)
        ax.plot(line_t, line, "-", color=colours[k], lw=1)
        ax.plot(t, np.asarray(paper, float)[:, mu - 1], "x", color=MEASURED, ms=5)
    ax.plot([], [], "-", color="0.3", label="corrected formula")
    ax.plot([], [], "x", color=MEASURED, label="paper's Eq. 13/34 (block index)")
    ax.set_xlabel("t (steps after the input phase)")
    ax.set_ylabel("variable memory holding input $\\mu$")
    ax.set_ylim(0, s + 5)
    ax.set_yticks(sorted({1, s // 4, s // 2, 3 * s // 4, s}))
    ax.legend(fontsize=7, ncol=3, loc="upper center")
    fig.tight_layout()
    return fig


def spectra(eigs: dict, s: int, kappa: int, tol: float) -> plt.Figure:
    """Chapter "Linear repeat copy": eigenvalues of W_hh and the s-th roots of unity.

    One panel per hidden size.

    ``eigs`` maps a panel title to a 1-D complex array. Each root is annotated with the number of
    eigenvalues within ``tol`` of it, and the origin with the number of (near-)zero eigenvalues.
    """
    use_style()
    fig, axes = plt.subplots(1, len(eigs), figsize=(4.0 * len(eigs), 4.0), squeeze=False)
    theta = np.linspace(0, 2 * np.pi, 400)
    roots = np.exp(2j * np.pi * np.arange(s) / s)
    for ax, (title, ev) in zip(axes[0], eigs.items()):
        ev = np.asarray(ev)
        ax.plot(np.cos(theta), np.sin(theta), color="0.75", lw=0.8)
        ax.plot(
            roots.real,
            roots.imag,
            "o",
            ms=10,
            mfc="none",
            color=THEORY,
            label="$s$-th roots of unity",
        )
        ax.plot(ev.real, ev.imag, ".", color=MEASURED, ms=5, label=r"eig$(W_{hh})$")
        for r in roots:
            n = int(np.sum(np.abs(ev - r) < tol))
            ax.text(1.22 * r.real, 1.22 * r.imag, str(n), ha="center", va="center", fontsize=7)
        nz = int(np.sum(np.abs(ev) < tol))
        if nz:
            ax.text(0.08, 0.08, f"{nz} at 0", fontsize=7)
        ax.set_aspect("equal")
        ax.set_xlim(-1.45, 1.45)
        ax.set_ylim(-1.45, 1.45)
        ax.set_title(title)
        ax.set_xlabel("Re")
        ax.set_ylabel("Im")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def recall_errors(errors: dict, threshold: float) -> plt.Figure:
    """Chapter "Linear repeat copy": the largest recall error in each output period, per hidden size."""
    use_style()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    colours = (THEORY, ACCENT, MEASURED)
    for (label, err), c in zip(errors.items(), colours):
        err = np.asarray(err)
        ax.semilogy(
            np.arange(1, len(err) + 1),
            np.maximum(err, 1e-18),
            ".-",
            ms=3,
            lw=0.8,
            color=c,
            label=label,
        )
    ax.axhline(threshold, color="0.3", ls="--", lw=1, label=f"tolerance {threshold:g}")
    ax.set_xlabel("output period")
    ax.set_ylabel("max |y - target|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ring_buffer(holds: dict, s: int) -> plt.Figure:
    """The variable memories as a ring buffer: which input each memory holds, at a few moments.

    Chapter "Linear repeat copy" (the circuit of paper Eq. 12 as the ring buffer of Figure 1).
    ``holds`` maps a panel title to a sequence of s integers: entry j-1 is the input index mu
    that memory j holds (0: empty). The memories sit on a circle, memory s at the top, where the
    input is written (W_uh) and the output read (W_r); every step moves each content one memory
    clockwise (memory i+1 to i, memory 1 to s).
    """
    use_style()
    n = len(holds)
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 3.3), squeeze=False)
    step = 2 * np.pi / s
    box = min(0.34, 4.2 / s)
    for ax, (title, contents) in zip(axes[0], holds.items()):
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_xlim(-1.55, 1.55)
        ax.set_ylim(-1.45, 1.75)
        for j in range(1, s + 1):
            angle = np.pi / 2 - (s - j) * step  # memory s at the top, j decreasing clockwise
            x, y = np.cos(angle), np.sin(angle)
            mu = int(contents[j - 1])
            face = ACCENT if (j == s and mu) else ("white" if mu == 0 else "0.92")
            ax.add_patch(
                plt.Rectangle((x - box / 2, y - box / 2), box, box, facecolor=face,
                              edgecolor=THEORY, lw=0.9)
            )  # fmt: skip
            label = f"$u_{{{mu}}}$" if mu else ""
            ax.text(x, y, label, ha="center", va="center", fontsize=6.5 if s > 10 else 9)
            # the shift: an arrow to the next memory clockwise
            a0, a1 = angle - 0.25 * step, angle - 0.75 * step
            ax.annotate(
                "", xy=(0.78 * np.cos(a1), 0.78 * np.sin(a1)),
                xytext=(0.78 * np.cos(a0), 0.78 * np.sin(a0)),
                arrowprops={"arrowstyle": "->", "color": "0.55", "lw": 0.7,
                            "connectionstyle": "arc3,rad=-0.25"},
            )  # fmt: skip
        top = 1 + box / 2
        ax.annotate("", xy=(-0.12, top), xytext=(-0.5, top + 0.45),
                    arrowprops={"arrowstyle": "->", "color": MEASURED, "lw": 1.2})  # fmt: skip
        ax.text(-0.55, top + 0.5, "write $W_{uh}$", color=MEASURED, ha="right", fontsize=8)
        ax.annotate("", xy=(0.5, top + 0.45), xytext=(0.12, top),
                    arrowprops={"arrowstyle": "->", "color": THEORY, "lw": 1.2})  # fmt: skip
        ax.text(0.55, top + 0.5, "read $W_r$", color=THEORY, ha="left", fontsize=8)
        ax.text(0, 0, f"memory {s} at the top;\none step moves every\ncontent clockwise",
                ha="center", va="center", fontsize=7, color="0.4")  # fmt: skip
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
