"""Figures of the chapter "Training the Elman RNN" (book/training.md; paper Sec. 5.1 and 7)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from emt.plotting import ACCENT, MEASURED, THEORY, use_style


def learning_curves(history: dict, s: int):
    """Loss, accuracy and curriculum stage against the training step (from ``Trained.history``).

    Top: mean squared error per step (log scale). Middle: fraction of the training batch's
    sequences that are entirely correct over the stage's output phase, and the validation
    checks of the last stage (sequences correct over 3 periods, bits correct over the long
    horizon). Bottom: output periods per training sequence (the curriculum stage).
    """
    use_style()
    step = np.asarray(history["step"])
    fig, axes = plt.subplots(
        3, 1, figsize=(6.4, 6.2), sharex=True, gridspec_kw={"height_ratios": [1.2, 1.2, 0.7]}
    )
    ax = axes[0]
    ax.semilogy(step, history["loss"], color=MEASURED, lw=0.8)
    ax.set_ylabel("MSE loss")
    ax = axes[1]
    ax.plot(
        step, history["accuracy"], color=MEASURED, lw=0.8, label="training batch: sequences correct"
    )
    if history.get("val_step"):
        ax.plot(
            history["val_step"],
            history["val_sequence_accuracy"],
            "o",
            color=THEORY,
            ms=4,
            label="validation: sequences correct, 3 periods",
        )
        ax.plot(
            history["val_step"],
            history["val_long_bit_accuracy"],
            "s",
            color=ACCENT,
            ms=4,
            label="validation: bits correct, long horizon",
        )
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("accuracy")
    ax.legend(loc="lower right", fontsize=8)
    ax = axes[2]
    periods = np.asarray(history["n_out"]) / s
    ax.step(step, periods, where="post", color=THEORY)
    ax.set_ylabel("output\nperiods")
    ax.set_xlabel("training step")
    ax.set_ylim(0, periods.max() + 1)
    ax.set_yticks(sorted(set(periods.tolist())))
    fig.align_ylabels(axes)
    fig.tight_layout()
    return fig


def period_accuracy(evaluation: dict, trained_periods: int, criterion_periods: int = 3):
    """Accuracy in each output period of a long run (from :func:`emt.rnn.evaluate`).

    Left: fraction of sequences whose whole period is correct. Right: fraction of wrong bits per
    period (log scale; periods without errors are drawn at the bottom edge). The shaded band is
    the criterion's horizon, the dashed line the longest horizon seen in training.
    """
    use_style()
    seq = np.asarray(evaluation["period_sequence_accuracy"])
    err = 1.0 - np.asarray(evaluation["period_bit_accuracy"])
    p = np.arange(1, len(seq) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.2))
    for ax in axes:
        ax.axvspan(0.5, criterion_periods + 0.5, color=ACCENT, alpha=0.3, lw=0)
        ax.axvline(trained_periods + 0.5, color="k", ls="--", lw=0.8)
        ax.set_xlabel("output period")
    axes[0].plot(p, seq, "o-", color=MEASURED, ms=3)
    axes[0].set_ylabel("sequences entirely correct")
    axes[0].set_ylim(-0.03, 1.03)
    floor = 0.5 / (evaluation["n_seq"] * evaluation["s"] * evaluation["kappa"])
    shown = np.where(err > 0, err, floor)
    axes[1].semilogy(p, shown, "-", color=MEASURED, lw=1)
    axes[1].semilogy(p[err > 0], err[err > 0], "o", color=MEASURED, ms=3)
    axes[1].semilogy(
        p[err == 0], shown[err == 0], "o", mfc="white", mec=MEASURED, ms=4, label="no wrong bit"
    )
    if np.any(err == 0):
        axes[1].legend(loc="lower right", fontsize=8)
    axes[1].set_ylim(floor * 0.7, 1)
    axes[1].set_ylabel("fraction of wrong bits")
    axes[1].text(trained_periods + 0.9, 0.3, "trained\nhorizon", fontsize=8, va="top")
    fig.tight_layout()
    return fig


def eigenvalues(W_hh: np.ndarray, s: int, kappa: int, threshold: float):
    """Eigenvalues of the learned W_hh against the s-th roots of unity.

    Left: the complex plane with the unit circle and the s-th roots of unity (theory: each is an
    eigenvalue kappa times). Right: moduli in decreasing order, with the threshold separating the
    s*kappa memory eigenvalues from the rest.
    """
    use_style()
    ev = np.linalg.eigvals(W_hh)
    mod = np.sort(np.abs(ev))[::-1]
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.4), gridspec_kw={"width_ratios": [1, 1.3]})
    ax = axes[0]
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="0.6", lw=0.8)
    roots = np.exp(2j * np.pi * np.arange(s) / s)
    ax.plot(
        roots.real, roots.imag, "o", ms=9, mfc="none", mec=THEORY, label=f"{s}-th roots of unity"
    )
    ax.plot(ev.real, ev.imag, ".", color=MEASURED, ms=4, label="eigenvalues of learned $W_{hh}$")
    ax.set_aspect("equal")
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.legend(loc="lower center", fontsize=7, bbox_to_anchor=(0.5, 1.0))
    ax = axes[1]
    ax.plot(np.arange(1, len(mod) + 1), mod, ".", color=MEASURED, ms=4)
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.axhline(threshold, color=ACCENT, ls="--", lw=0.8, label=f"threshold {threshold}")
    ax.axvline(s * kappa + 0.5, color=THEORY, ls=":", lw=1, label=f"s·κ = {s * kappa}")
    ax.set_xlabel("rank")
    ax.set_ylabel("|eigenvalue|")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def hero_spectra(panels: list[tuple[str, list[np.ndarray]]], s: int):
    """The landing page's figure: eigenvalues of W_hh, trained against null models.

    ``panels`` is a list of (title, matrices); every matrix's eigenvalues are drawn in its
    panel (several matrices: the draws of a null model, overlaid), with the unit circle and the
    s-th roots of unity. Made by ``scripts/hero_figure.py`` from the network of the chapter
    "Training the Elman RNN".
    """
    if not panels:
        raise ValueError("hero_spectra needs at least one panel")
    use_style()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 3.3), squeeze=False)
    t = np.linspace(0, 2 * np.pi, 400)
    roots = np.exp(2j * np.pi * np.arange(s) / s)
    for ax, (title, mats) in zip(axes[0], panels):
        if not mats:
            raise ValueError(f"panel {title!r} has no matrix")
        ax.plot(np.cos(t), np.sin(t), color="0.6", lw=0.8)
        alpha = 1.0 if len(mats) == 1 else max(0.15, 1.0 / len(mats) ** 0.5)
        color = MEASURED if len(mats) == 1 else "0.25"
        for m in mats:
            ev = np.linalg.eigvals(np.asarray(m, dtype=float))
            ax.plot(ev.real, ev.imag, ".", color=color, ms=3, alpha=alpha)
        ax.plot(roots.real, roots.imag, "o", ms=8, mfc="none", mec=THEORY, mew=1.2)
        ax.set_aspect("equal")
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-1.2, 1.2)
        ax.set_xticks([-1, 0, 1])
        ax.set_yticks([-1, 0, 1])
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
