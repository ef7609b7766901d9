"""Figure 3A: the memory block of W_hh against Phi, and the part the construction forces.

Chapter "Reading the trained network", section "Figure 3A" (``sec-rt-figure3a``), and chapter
"Appendix: checking the reading", section "What the construction forces" (``sec-rc-forced``); paper
Sec. 6-7 (Eq. 12, Algorithm 1, Figure 3A).
"""

from __future__ import annotations

import numpy as np

from emt._validate import matrix
from emt.analysis.memories import (
    READOUTS,
    REMOVALS,
    VariableMemories,
    backward_memories,
    check_weights,
    forward_memories,
    spectral_projector,
)

# ----------------------------------------------------------------------------- Figure 3A numbers


def relative_error(a, b) -> float:
    """``||a - b||_F / ||b||_F`` (chapter "Reading the trained network", Figure 3A)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    nb = np.linalg.norm(b)
    if nb == 0:
        raise ValueError("reference matrix is zero: relative error undefined")
    return float(np.linalg.norm(a - b) / nb)


def block_report(vm: VariableMemories, phi_theory) -> dict:
    """The numbers of Figure 3A (chapter "Reading the trained network"; paper Sec. 7, Eq. 12).

    Returns a dict with

    * ``block_error``: relative Frobenius error of the memory block ``Psi^* W_hh Psi`` against
      ``phi_theory``; ``wrap_error`` the same restricted to the first block column (the image of
      memory 1, which repeat copy sends to memory s: the column that Algorithm 1 with alpha = 1
      does not force, see the chapter) and ``shift_error`` to the other block columns;
      ``row_wrap_error`` the same for block row s-1 (what memory s-1
      reads; the row the dual readout with alpha = 0 leaves free) and
      ``row_shift_error`` for the other block rows (both 0 if s = 1);
    * ``coupling_in`` = ``||Psi^* W_hh Psi_perp||_F / ||Psi^* W_hh Psi||_F`` and ``coupling_out`` =
      ``||Psi_perp^* W_hh Psi||_F / ||Psi^* W_hh Psi||_F``, both computed after rescaling Psi by
      one scalar so that its columns have the same root-mean-square norm as those of Psi_perp
      (which are orthonormal). The memory block does not change under this rescaling while the
      two off-diagonal blocks scale inversely to each other, so without it their size would be
      set by the arbitrary scale of W_uh and W_r. ``coupling_in_max`` and ``coupling_out_max``
      are the same ratios for the largest absolute entries;
    * ``rest`` = ``||Psi_perp^* W_hh Psi_perp||_F / ||Psi^* W_hh Psi||_F`` and ``rest_radius``, the
      spectral radius of ``Psi_perp^* W_hh Psi_perp``;
    * ``psi_scale``: the root-mean-square column norm of Psi that was divided out.
    """
    phi_theory = matrix(phi_theory, "phi_theory", finite=True)
    n, k = vm.n, vm.kappa
    if phi_theory.shape != (n, n):
        raise ValueError(
            f"phi_theory must have shape (s*kappa, s*kappa) = ({n}, {n}), got {phi_theory.shape}"
        )
    m = vm.memory_block
    nm, mm = np.linalg.norm(m), np.abs(m).max()
    c = float(np.sqrt(np.mean(np.sum(vm.psi**2, axis=0))))
    to_m = c * vm.to_memory_block  # Psi -> Psi / c multiplies Psi^* by c
    from_m = vm.from_memory_block / c
    rest = vm.rest_block
    row = np.zeros(n, dtype=bool)
    row[(vm.s - 2) * k : (vm.s - 1) * k] = vm.s > 1  # block row s-1
    return {
        "block_error": relative_error(m, phi_theory),
        "shift_error": relative_error(m[:, k:], phi_theory[:, k:]) if n > k else 0.0,
        "wrap_error": relative_error(m[:, :k], phi_theory[:, :k]),
        "row_wrap_error": (relative_error(m[row], phi_theory[row]) if vm.s > 1 else 0.0),
        "row_shift_error": (relative_error(m[~row], phi_theory[~row]) if vm.s > 1 else 0.0),
        "coupling_in": float(np.linalg.norm(to_m) / nm),
        "coupling_out": float(np.linalg.norm(from_m) / nm),
        "coupling_in_max": float(np.abs(to_m).max() / mm) if to_m.size else 0.0,
        "coupling_out_max": float(np.abs(from_m).max() / mm) if from_m.size else 0.0,
        "rest": float(np.linalg.norm(rest) / nm),
        "rest_radius": float(np.abs(np.linalg.eigvals(rest)).max()) if rest.size else 0.0,
        "psi_scale": c,
    }


# ------------------------------------------------------------ what is forced


def shift_defects(
    w_hh, w_uh, w_r, s: int, readout: str = "dual", removal: str = "oblique", threshold: float = 1.0
) -> dict:
    """How far ``W_hh`` is from shifting each branch of Algorithm 1 by one.

    Chapter "Appendix: checking the reading" (book/reading_checks.md),
    section "What the construction forces"; paper Sec. 6 (Algorithm 1,
    Eq. 14-15). With ``P`` the projector of the removal step
    (:func:`spectral_projector`), ``F_k = W_hh^(s-k) W_uh`` the forward
    estimates (:func:`forward_memories`) and ``B_k`` the backward ones
    (:func:`backward_memories`), returns a dict with two arrays of length
    s - 1, for k = 2..s:

    * ``forward``: ``||W_hh P F_k - P F_{k-1}||_F / ||P F_{k-1}||_F``;
    * ``backward``: ``||W_hh P B_k - P B_{k-1}||_F / ||P B_{k-1}||_F``.

    Since ``W_hh F_k = F_{k-1}`` by definition and ``P`` commutes with
    ``W_hh`` (oblique removal, or none), ``forward`` is zero up to rounding
    for *every* ``W_hh``: the forward half of each shift column of the
    memory block is forced by the construction. Block column k >= 2 of
    ``Psi^+ W_hh Psi`` is that of Phi plus
    ``(1 - alpha) Psi^+ P (W_hh B_k - B_{k-1})``, so only the backward
    defects (and the wrap-around column k = 1) show what a network learned.
    Raises ValueError as :func:`variable_memories` does for bad weights or
    options, and for s < 2.
    """
    w_hh, w_uh, w_r, _, _ = check_weights(w_hh, w_uh, w_r, s)
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    if removal not in REMOVALS:
        raise ValueError(f"removal must be one of {REMOVALS}, got {removal!r}")
    if s < 2:
        raise ValueError(f"s must be at least 2 for a shift between memories, got {s}")
    proj, _ = spectral_projector(w_hh, threshold, removal)
    kappa = w_uh.shape[1]
    branches = (
        ("forward", forward_memories(w_hh, w_uh, s)),
        ("backward", backward_memories(w_hh, w_r, s, readout)),
    )
    out = {}
    for name, est in branches:
        p_est = proj @ est
        moved = w_hh @ p_est
        defects = []
        for k in range(2, s + 1):  # memory k: columns (k-1)*kappa..k*kappa-1
            cur = slice((k - 1) * kappa, k * kappa)
            prev = slice((k - 2) * kappa, (k - 1) * kappa)
            ref = np.linalg.norm(p_est[:, prev])
            if ref == 0:
                raise ValueError(f"the {name} estimate of memory {k - 1} is zero after the removal")
            diff = moved[:, cur] - p_est[:, prev]
            defects.append(np.linalg.norm(diff) / ref)
        out[name] = np.array(defects)
    return out
