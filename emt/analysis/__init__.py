"""Reading a trained RNN through variable memories: Algorithm 1 and the numbers behind Figure 3.

Chapter "Reading the trained network" (book/reading_trained.md); paper Sec. 6 (Algorithm 1,
Eq. 14-15) and Sec. 7 (Figure 3A-D).

Conventions are those of :mod:`emt.circuits`: a basis is an ``(n_h, n)`` array whose columns are
basis vectors, its dual has the covectors as rows, memory ``Psi_k`` (k = 1..s) is the column block
``(k-1)*kappa .. k*kappa - 1``, memory ``s`` is written by ``W_uh`` and read by ``W_r``, and a
matrix ``Phi`` in memory coordinates acts on components ``c = dual @ h``, so that
``W_hh = basis @ Phi @ dual``. Consequently the learned operator is read off as
``Phi_learned = dual @ W_hh @ basis`` (no transpose; see :func:`variable_memories`).
Time steps follow :mod:`emt.tasks`: ``k = 0..T-1``, the input phase is ``k < s``,
``h[k] = tanh(W_hh h[k-1] + W_uh u[k])`` and ``y[k] = W_r h[k]``.

The readout dual ``W_r^*`` (choice ``readout``)
-----------------------------------------------
In the theory ``W_r = Psi_s^*`` (paper Eq. 10): its rows are the covectors of memory s. Propagating
them backwards in time with the transpose, ``(W_hh^T)^k W_r^T = (W_r W_hh^k)^T``, yields the
*covectors* of memory k (transposed): ``W_r W_hh^k = Psi_k^*`` for the exact circuit. They are the
vectors ``Psi_k`` only when the memory basis is orthonormal, which is the case the paper's chain
``(Phi^-1)^k Psi_s = (Phi^T)^k Psi_s = (W_hh^T)^k W_r^*`` silently assumes. Three readings:

``"dual"`` (default)
    stack the covectors ``W_r W_hh^k`` (k = 1..s-1) and ``W_r`` (k = s) into an ``(s*kappa, n_h)``
    array ``C`` and take its dual basis ``pinv(C)``; block k of it is the backward estimate of
    ``Psi_k``. Exact for the circuit of :mod:`emt.circuits` in *any* basis (``pinv(Psi^+) = Psi``).
``"transpose"``
    ``W_r^* = W_r^T`` and ``Psi_k = (W_hh^T)^k W_r^T``: the paper's formula read literally.
    Exact only for an orthonormal memory basis.
``"pinv"``
    ``W_r^* = pinv(W_r)`` and ``Psi_k = (W_hh^T)^k pinv(W_r)``. Also exact only for an
    orthonormal basis.

Removing decaying directions (choice ``removal``)
-------------------------------------------------
The paper removes from each Psi_k its projection onto the eigenvectors of W_hh with eigenvalues of
modulus below 1. ``W_hh`` is not normal, so the invariant subspaces E_> (modulus at or above the
threshold) and E_< (below) are not orthogonal, and there are two readings:

``"oblique"`` (default)
    apply the spectral projector onto E_> *along* E_<: exactly the part of ``Psi_k`` that decays
    under iteration of ``W_hh`` is removed; the projector commutes with ``W_hh``. Then
    span(Psi) = E_> and Psi_perp is orthogonal to E_> (the property the paper states for its
    construction). For a circuit with a decaying rest this recovers the memory *vectors* exactly,
    and ``Psi_perp^* W_hh Psi = 0``.
``"orthogonal"``
    subtract the orthogonal projection onto E_<. Then span(Psi) is the orthogonal complement of E_<
    and Psi_perp = E_<: this recovers the memory *readers* (covectors, the first rows of the dual)
    exactly, since they vanish on E_<, and ``Psi^* W_hh Psi_perp = 0``.

Both give the same memory block ``Psi^* W_hh Psi`` (chapter, section "Removing the decaying
directions"). ``"none"`` skips the step.

The package is laid out by the sections of the book: :mod:`emt.analysis.memories` (Algorithm 1),
:mod:`emt.analysis.blocks` (Figure 3A and what the construction forces),
:mod:`emt.analysis.spectrum` (Figure 3B, and s and kappa read from the spectrum) and
:mod:`emt.analysis.decoding` (Figure 3D). Every public name is importable from ``emt.analysis``.
"""

from __future__ import annotations

from emt.analysis.blocks import (
    block_report,
    relative_error,
    shift_defects,
)
from emt.analysis.decoding import (
    DecodingReport,
    batch_decoding,
    decode_memories,
    memory_slots,
    read_before_write,
    strongest_memory,
)
from emt.analysis.memories import (
    COND_WARN,
    EIG_TOL,
    GAP_WARN,
    PCA_RTOL,
    RCOND,
    READOUTS,
    REMOVALS,
    SELECTS,
    TIE_RTOL,
    Diagnostics,
    VariableMemories,
    backward_memories,
    check_weights,
    forward_memories,
    memory_cut,
    readout_covectors,
    spectral_projector,
    variable_memories,
)
from emt.analysis.spectrum import (
    INFER_GAP_MIN,
    INFER_LEVEL,
    INFER_MIN_CLUSTER,
    INFER_SPREAD_MAX,
    SKInference,
    SpectrumReport,
    infer_s_kappa,
    random_angle_pvalue,
    spectrum_report,
)

__all__ = [
    "READOUTS",
    "REMOVALS",
    "SELECTS",
    "TIE_RTOL",
    "GAP_WARN",
    "COND_WARN",
    "RCOND",
    "EIG_TOL",
    "PCA_RTOL",
    "check_weights",
    "spectral_projector",
    "forward_memories",
    "readout_covectors",
    "backward_memories",
    "memory_cut",
    "Diagnostics",
    "VariableMemories",
    "variable_memories",
    "relative_error",
    "block_report",
    "shift_defects",
    "SpectrumReport",
    "spectrum_report",
    "INFER_LEVEL",
    "INFER_GAP_MIN",
    "INFER_MIN_CLUSTER",
    "INFER_SPREAD_MAX",
    "SKInference",
    "infer_s_kappa",
    "random_angle_pvalue",
    "memory_slots",
    "DecodingReport",
    "decode_memories",
    "strongest_memory",
    "read_before_write",
    "batch_decoding",
]
