"""Algorithm 1: the variable memories of a trained RNN, and W_hh in their basis.

Chapter "Reading the trained network", section "Algorithm 1" (``sec-rt-algorithm1``); paper
Sec. 6 (Algorithm 1, Eq. 14-15). The conventions, the readings of ``W_r^*`` and the two
removals are those of :mod:`emt.analysis`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from emt import _validate, elman
from emt._validate import matrix
from emt._validate import positive_int as _pos_int

#: Readings of W_r^* accepted by :func:`variable_memories`.
READOUTS = ("dual", "transpose", "pinv")
#: Ways of removing decaying eigen-directions accepted by :func:`variable_memories`.
REMOVALS = ("oblique", "orthogonal", "none")
#: Which eigen-directions the removal step keeps (:func:`variable_memories`, ``select``).
SELECTS = ("threshold", "top", "auto")
#: Two moduli closer than TIE_RTOL (relative) are a tie: a cut between them is not made.
TIE_RTOL = 1e-6
#: Diagnostics warn when |lambda_n| / |lambda_{n+1}| (n = s*kappa) is below GAP_WARN ...
GAP_WARN = 1.02
#: ... or when the condition number of the basis [Psi; Psi_perp] exceeds COND_WARN.
COND_WARN = 1e8
#: A basis is singular when sigma_min <= RCOND * sigma_max (same tolerance as emt.circuits).
RCOND = 1e-10
#: An eigenvalue counts as "at or above the threshold" if |lambda| >= threshold - EIG_TOL
#: (so that the exact circuit's unit-modulus eigenvalues are not lost to rounding).
EIG_TOL = 1e-8
#: Principal components of the residual hidden states with a singular value below
#: PCA_RTOL * ||H||_F carry no variance and are replaced by an orthonormal completion.
PCA_RTOL = 1e-9


# ----------------------------------------------------------------------------- checks


def check_weights(w_hh, w_uh, w_r, s: int):
    """Validate ``(W_hh, W_uh, W_r, s)`` and return ``(W_hh, W_uh, W_r, n_h, kappa)`` as float arrays.

    Chapter "Reading the trained network" (paper Sec. 6, inputs of Algorithm 1). Raises ValueError
    for a non-square ``W_hh``, shapes that do not match (``W_uh`` is ``(n_h, kappa)``, ``W_r`` is
    ``(kappa, n_h)``: the repeat-copy readout has as many outputs as inputs), a non-positive ``s``
    or ``s * kappa`` larger than the hidden size.
    """
    s = _pos_int("s", s)
    w = elman.check_weights({"W_hh": w_hh, "W_uh": w_uh, "W_r": w_r}, finite=True)
    w_hh, w_uh, w_r = w["W_hh"], w["W_uh"], w["W_r"]
    n_h, kappa = w_uh.shape
    if s * kappa > n_h:
        raise ValueError(
            f"s*kappa = {s}*{kappa} = {s * kappa} is larger than the hidden size n_h = {n_h}: "
            "the variable memories cannot be linearly independent"
        )
    return w_hh, w_uh, w_r, n_h, kappa


def svd(a: np.ndarray, full_matrices: bool = True, compute_uv: bool = True):
    """``numpy.linalg.svd``, retried with LAPACK's ``gesvd`` where ``gesdd`` does not converge.

    numpy calls ``gesdd`` (divide and conquer), which can stop with "SVD did not converge" on
    an ordinary, finite, rank-deficient matrix; which matrices fail depends on the BLAS kernel.
    Measured on the residual hidden states of a null draw (5120 x 128, rank 48, entries below
    0.6): ``gesdd`` failed under OpenBLAS's Prescott, Haswell and SkylakeX kernels alike, and
    ``gesvd`` (QR iteration) succeeded under each. Without the retry, :func:`emt.nulls.null_draws`
    lost the draw, and with it the chance of the verdict's test to pass (see
    :data:`emt.report.verdict.VERDICT_LEVEL`). A matrix where both fail raises LinAlgError.
    """
    try:
        return np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    except np.linalg.LinAlgError:
        return sla.svd(a, full_matrices=full_matrices, compute_uv=compute_uv, lapack_driver="gesvd")


def _check_alpha(alpha) -> float:
    return _validate.number_in("alpha", alpha, 0.0, 1.0)


def _rank_ok(a: np.ndarray) -> tuple[bool, float]:
    sv = svd(a, compute_uv=False)
    if sv.size == 0:
        return True, 1.0
    if sv[0] == 0:
        return False, np.inf
    return bool(sv[-1] > RCOND * sv[0]), float(sv[0] / sv[-1]) if sv[-1] > 0 else np.inf


# ----------------------------------------------------------------------------- spectral projectors


def spectral_projector(w, threshold: float = 1.0, kind: str = "oblique") -> tuple[np.ndarray, int]:
    """Projector that removes the eigen-directions of ``w`` with ``|lambda| < threshold``.

    Chapter "Reading the trained network" (paper Sec. 6, the sentence after Eq. 15). Returns
    ``(P, m)`` where ``m`` is the number of eigenvalues (with multiplicity) of modulus at least
    ``threshold - EIG_TOL`` and ``P`` is real ``(n, n)``:

    * ``kind="oblique"``: the spectral projector onto the invariant subspace of those ``m``
      eigenvalues along the invariant subspace of the others (``P w = w P``, ``P^2 = P``). Computed
      from an ordered complex Schur form ``w = Z T Z^H`` and the Sylvester equation
      ``T11 X - X T22 = -T12``: ``P = Z [[I, -X], [0, 0]] Z^H``; no eigenvector matrix is inverted.
    * ``kind="orthogonal"``: ``I`` minus the orthogonal projector onto the invariant subspace of the
      small eigenvalues.
    * ``kind="none"``: the identity.
    """
    w = matrix(w, "W", finite=True)
    n = w.shape[0]
    if w.shape != (n, n):
        raise ValueError(f"W must be square, got shape {w.shape}")
    if kind not in REMOVALS:
        raise ValueError(f"kind must be one of {REMOVALS}, got {kind!r}")
    thr = _validate.threshold(threshold)
    if kind == "none":
        m = int(np.sum(np.abs(np.linalg.eigvals(w)) >= thr - EIG_TOL))
        return np.eye(n), m
    t, z, m = sla.schur(w.astype(complex), output="complex", sort=lambda x: abs(x) >= thr - EIG_TOL)
    if int(np.sum(np.abs(np.diag(t)) >= thr - EIG_TOL)) != m:
        raise ValueError(
            "the Schur reordering moved eigenvalues across the threshold: eigenvalues too close to "
            f"threshold = {thr}; choose another threshold"
        )
    if m == n:
        return np.eye(n), m
    if m == 0:
        return np.zeros((n, n)), 0
    x = sla.solve_sylvester(t[:m, :m], -t[m:, m:], -t[:m, m:])
    p = z[:, :m] @ np.hstack([np.eye(m), -x]) @ z.conj().T  # oblique projector onto E_> along E_<
    if kind == "orthogonal":  # remove instead the orthogonal projection onto E_< = range(I - P)
        q = svd(np.eye(n) - p)[0][:, : n - m]
        p = np.eye(n) - q @ q.conj().T
    if np.abs(p.imag).max() > 1e-8 * max(1.0, np.abs(p.real).max()):
        raise ValueError(
            "spectral projector is not real: the selected eigenvalues are not closed under conjugation"
        )
    return p.real.copy(), m


# ----------------------------------------------------------------------------- the two branches


def forward_memories(w_hh, w_uh, s: int) -> np.ndarray:
    """The write branch of Algorithm 1: ``Psi_k = W_hh^(s-k) W_uh`` for k = 1..s (paper Eq. 14-15, alpha = 1).

    Chapter "Reading the trained network". Returns the ``(n_h, s*kappa)`` array ``[Psi_1, ..., Psi_s]``.
    """
    w_hh = matrix(w_hh, "W_hh", finite=True)
    w_uh = matrix(w_uh, "W_uh", finite=True)
    s = _pos_int("s", s)
    if w_hh.shape[0] != w_hh.shape[1] or w_uh.shape[0] != w_hh.shape[0]:
        raise ValueError(
            f"W_hh must be square and W_uh must have as many rows, got {w_hh.shape} and {w_uh.shape}"
        )
    blocks = [w_uh]
    for _ in range(s - 1):
        blocks.append(w_hh @ blocks[-1])
    return np.hstack(blocks[::-1])  # blocks[j] = W_hh^j W_uh = Psi_{s-j}


def readout_covectors(w_hh, w_r, s: int) -> np.ndarray:
    """The covectors ``Psi_k^* = W_r W_hh^k`` (k = 1..s-1) and ``Psi_s^* = W_r``, stacked: ``(s*kappa, n_h)``.

    Chapter "Reading the trained network" (paper Sec. 6: W_r propagated backwards in time). For the
    exact circuit ``W_r W_hh^k`` reads memory k, since ``Phi^k`` brings memory k to memory s.
    """
    w_hh = matrix(w_hh, "W_hh", finite=True)
    w_r = matrix(w_r, "W_r", finite=True)
    s = _pos_int("s", s)
    if w_hh.shape[0] != w_hh.shape[1] or w_r.shape[1] != w_hh.shape[0]:
        raise ValueError(
            f"W_hh must be square and W_r must have as many columns, got {w_hh.shape} and {w_r.shape}"
        )
    rows = [None] * s
    rows[s - 1] = w_r
    cur = w_r
    for k in range(1, s):
        cur = cur @ w_hh
        rows[k - 1] = cur
    return np.vstack(rows)


def backward_memories(w_hh, w_r, s: int, readout: str = "dual") -> np.ndarray:
    """The read branch of Algorithm 1 (paper Eq. 14-15 with alpha = 0): ``(n_h, s*kappa)`` ``[Psi_1..Psi_s]``.

    Chapter "Reading the trained network". ``readout`` chooses ``W_r^*`` (see the module docstring):
    ``"transpose"`` gives ``Psi_k = (W_hh^T)^k W_r^T``, ``"pinv"`` gives ``(W_hh^T)^k pinv(W_r)``
    (both with ``k = 0`` for ``Psi_s``), ``"dual"`` the dual basis of :func:`readout_covectors`.
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    w_hh = matrix(w_hh, "W_hh", finite=True)
    w_r = matrix(w_r, "W_r", finite=True)
    s = _pos_int("s", s)
    if readout == "dual":
        c = readout_covectors(w_hh, w_r, s)
        ok, cond = _rank_ok(c)
        if not ok:
            raise ValueError(
                f"the readout covectors W_r W_hh^k (k = 0..s-1) are linearly dependent "
                f"(condition {cond:.3g}): "
                "their dual basis does not exist"
            )
        return np.linalg.pinv(c)
    start = w_r.T if readout == "transpose" else np.linalg.pinv(w_r)
    blocks = [None] * s
    blocks[s - 1] = start
    cur = start
    for k in range(1, s):
        cur = w_hh.T @ cur
        blocks[k - 1] = cur
    return np.hstack(blocks)


# ----------------------------------------------------------------------------- Algorithm 1


def _moduli_desc(w: np.ndarray) -> np.ndarray:
    """Moduli of the eigenvalues of ``w``, in decreasing order."""
    return np.sort(np.abs(np.linalg.eigvals(w)))[::-1]


def _gap(moduli: np.ndarray, n: int) -> float:
    """``|lambda_n| / |lambda_{n+1}|`` for moduli in decreasing order (inf if there is no next one)."""
    if n >= moduli.size or moduli[n] == 0:
        return float("inf")
    return float(moduli[n - 1] / moduli[n])


def _top_cutoff(moduli: np.ndarray, n: int) -> tuple[float, int]:
    """A modulus cut that keeps the ``n`` largest eigenvalues, or the fewest more if ties forbid it.

    Returns ``(cutoff, kept)``: the cut lies halfway between ``|lambda_kept|`` and
    ``|lambda_{kept+1}|`` with ``kept >= n`` the first index at which the two moduli differ by more
    than the tie tolerance (a conjugate pair is never split: its moduli are equal). ``cutoff = 0``
    keeps everything.
    """
    for k in range(n, moduli.size):
        if moduli[k - 1] - moduli[k] > max(TIE_RTOL * moduli[k - 1], 4 * EIG_TOL):
            return float((moduli[k - 1] + moduli[k]) / 2), k
    return 0.0, int(moduli.size)


def _cut(moduli: np.ndarray, n: int, threshold: float, select: str) -> tuple[str, float, int]:
    """``(mode, cutoff, kept)`` of :func:`memory_cut` from moduli in decreasing order."""
    n_above = int(np.sum(moduli >= threshold - EIG_TOL))
    mode = select if select != "auto" else ("threshold" if n_above >= n else "top")
    if mode == "top":
        cutoff, kept = _top_cutoff(moduli, n)
        return mode, cutoff, kept
    return mode, float(threshold), n_above


def memory_cut(w_hh, n: int, threshold: float = 1.0, select: str = "auto") -> float:
    """The modulus cut of Algorithm 1's removal step: the one rule for which eigenvalues count.

    Chapter "Analyse your own network" (book/analyze.md); paper Sec. 6 (the sentence after
    Eq. 15). Eigen-directions of ``w_hh`` with modulus at least the cut (minus :data:`EIG_TOL`)
    are kept, the others removed. ``select`` as in :func:`variable_memories`: ``"threshold"``
    returns ``threshold``; ``"top"`` the point halfway between the ``n``-th largest modulus and
    the next one that does not tie with it (:data:`TIE_RTOL`; a conjugate pair is never split);
    ``"auto"`` the threshold when at least ``n`` moduli reach it, else the top cut. Running
    anything with ``select="threshold"`` at this cut keeps the same directions as running it
    with ``select``.
    """
    w_hh = matrix(w_hh, "W_hh", finite=True)
    if w_hh.shape[0] != w_hh.shape[1]:
        raise ValueError(f"W_hh must be square, got shape {w_hh.shape}")
    n = _validate.integer("n", n, 1, w_hh.shape[0], what="1..n_h")
    if select not in SELECTS:
        raise ValueError(f"select must be one of {SELECTS}, got {select!r}")
    return _cut(_moduli_desc(w_hh), n, _validate.threshold(threshold), select)[1]


@dataclass(frozen=True)
class Diagnostics:
    """How well-posed one run of Algorithm 1 was (:attr:`VariableMemories.diagnostics`).

    Chapters "Reading the trained network" and "Analyse your own network"; paper Sec. 6,
    Algorithm 1. ``select`` is the selection actually used ("threshold" or "top"; "auto" resolves to
    one of them), ``n_above_threshold`` the number of eigenvalues of ``W_hh`` with modulus at or
    above the given threshold, ``n_kept`` the number the removal step kept, ``cutoff`` the modulus
    cut it used (the threshold, or the point halfway between the kept and the next modulus for
    "top"), ``gap`` = ``|lambda_n| / |lambda_{n+1}|`` for ``n = s*kappa`` (moduli in decreasing
    order; inf if there is no next one), ``psi_condition`` and ``basis_condition`` the condition
    numbers of Psi and of the basis ``[Psi; Psi_perp]``, and ``warnings`` what a reader should
    know before trusting the result (empty when nothing is doubtful).
    """

    select: str
    n_above_threshold: int
    n_kept: int
    cutoff: float
    gap: float
    psi_condition: float
    basis_condition: float
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no warning was recorded."""
        return not self.warnings


@dataclass(frozen=True)
class VariableMemories:
    """Result of :func:`variable_memories` (chapter "Reading the trained network", paper Alg. 1).

    ``psi`` ``(n_h, s*kappa)`` are the variable memories, ``psi_perp`` ``(n_h, n_perp)`` the
    orthonormal rest, ``basis = [psi, psi_perp]``, ``dual`` its covectors (rows), and
    ``phi_learned = dual @ W_hh @ basis``. ``n_large`` is the number of eigenvalues of ``W_hh`` at or
    above the threshold, ``n_pca`` the number of columns of ``psi_perp`` that are principal
    components with non-zero variance (the rest complete the orthonormal complement).
    ``diagnostics`` (:class:`Diagnostics`): counts, spectral gap, conditions and warnings.
    """

    psi: np.ndarray
    psi_perp: np.ndarray
    basis: np.ndarray
    dual: np.ndarray
    phi_learned: np.ndarray
    s: int
    kappa: int
    alpha: float
    threshold: float
    readout: str
    removal: str
    n_large: int
    n_pca: int
    meta: dict = field(default_factory=dict)
    diagnostics: Diagnostics | None = None

    @property
    def n(self) -> int:
        """s * kappa, the dimension of the memory space."""
        return self.s * self.kappa

    @property
    def memory_block(self) -> np.ndarray:
        """``Psi^* W_hh Psi``: the upper-left ``(s*kappa, s*kappa)`` block of ``phi_learned``."""
        return self.phi_learned[: self.n, : self.n]

    @property
    def to_memory_block(self) -> np.ndarray:
        """``Psi^* W_hh Psi_perp``: what the rest of the space writes into the memories."""
        return self.phi_learned[: self.n, self.n :]

    @property
    def from_memory_block(self) -> np.ndarray:
        """``Psi_perp^* W_hh Psi``: what the memories write into the rest of the space."""
        return self.phi_learned[self.n :, : self.n]

    @property
    def rest_block(self) -> np.ndarray:
        """``Psi_perp^* W_hh Psi_perp``."""
        return self.phi_learned[self.n :, self.n :]

    def memory(self, k: int) -> np.ndarray:
        """Psi_k (k = 1..s): ``(n_h, kappa)``."""
        k = self._check_k(k)
        return self.psi[:, (k - 1) * self.kappa : k * self.kappa]

    def reader(self, k: int) -> np.ndarray:
        """Psi_k^* (k = 1..s): the ``(kappa, n_h)`` rows of the dual that read memory k."""
        k = self._check_k(k)
        return self.dual[(k - 1) * self.kappa : k * self.kappa]

    def contents(self, h) -> np.ndarray:
        """Memory contents ``Psi_j^* h`` of hidden states ``h`` (last axis n_h).

        Shape ``h.shape[:-1] + (s, kappa)``.
        """
        h = np.asarray(h, dtype=float)
        if h.ndim < 1 or h.shape[-1] != self.basis.shape[0]:
            raise ValueError(
                f"h must have last axis n_h = {self.basis.shape[0]}, got shape {h.shape}"
            )
        c = h @ self.dual[: self.n].T
        return c.reshape(c.shape[:-1] + (self.s, self.kappa))

    def _check_k(self, k) -> int:
        return _validate.integer("memory index", k, 1, self.s, what="1..s")


def _orthonormal_complement(q: np.ndarray, n_h: int) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of the columns of q (orthonormal)."""
    if q.shape[1] == 0:
        return np.eye(n_h)
    return sla.null_space(q.T)


def variable_memories(
    w_hh,
    w_uh,
    w_r,
    s: int,
    alpha: float = 0.5,
    threshold: float = 1.0,
    hidden_states=None,
    n_components: int | None = None,
    readout: str = "dual",
    removal: str = "oblique",
    select: str = "threshold",
) -> VariableMemories:
    """Algorithm 1 of the paper: variable memories of a trained RNN and W_hh in their basis.

    Chapter "Reading the trained network" (book/reading_trained.md); paper Sec. 6, Alg. 1, Eq. 14-15.

    1. ``Psi_s = alpha W_uh + (1 - alpha) W_r^*`` and, for k < s,
       ``Psi_k = alpha W_hh^(s-k) W_uh + (1 - alpha) [backward estimate of Psi_k]`` (Eq. 14-15), the
       backward estimate being ``(W_hh^T)^k W_r^*`` for ``readout`` in ("transpose", "pinv") and the
       dual basis of the covectors ``W_r W_hh^k`` for ``readout="dual"`` (module docstring).
    2. Remove from every Psi_k its component along the eigenvectors of ``W_hh`` with
       ``|lambda| < threshold`` (:func:`spectral_projector`, ``removal``).
    3. ``Psi_perp``: principal components of the hidden states (rows of ``hidden_states``, any
       leading shape) after removing their orthogonal projection ``Psi Psi^+ h`` onto the span of
       the memories; ``n_components`` of them (default ``n_h - s*kappa``, a square basis). If the
       residual states have fewer directions with non-zero variance (the exact linear circuit has
       none), the remaining columns complete an orthonormal basis of the orthogonal complement; with
       ``hidden_states=None`` only this completion is used.
    4. ``basis = [Psi, Psi_perp]``, ``dual`` its inverse (pseudoinverse if not square) and
       ``Phi_learned = dual @ W_hh @ basis``.

    The paper writes ``Phi_learned^T = Psi^* W_hh Psi``; with ``W_hh = Psi Phi Psi^+`` of its Eq. 8
    and Eq. 12 (the convention of :mod:`emt.circuits`), ``Psi^* W_hh Psi = Phi`` itself.

    ``select`` chooses the eigen-directions that step 2 keeps (chapters "Analyse your own network"
    and "Networks with bias"):

    ``"threshold"`` (default, the paper's rule)
        those with ``|lambda| >= threshold``. If fewer than ``s * kappa`` lie there, Psi comes out
        singular and a ValueError says so (and suggests ``"top"``).
    ``"top"``
        the ``s * kappa`` largest in modulus, whatever the threshold: the cut lies halfway between
        the ``s*kappa``-th and the next modulus (if they tie, e.g. a conjugate pair across the cut,
        the fewest more directions are kept and a warning says so). For a network that recalls its
        inputs but whose memory eigenvalues sit a little below 1 (a trained network seen with 76
        of 80 above 0.95).
    ``"auto"``
        ``"threshold"`` when at least ``s * kappa`` eigenvalues lie above it, else ``"top"``.

    Whatever the selection, ``vm.diagnostics`` (:class:`Diagnostics`) records how many eigenvalues
    lie above the threshold, the spectral gap below the ``s*kappa``-th, the condition of Psi and of
    the basis, and a list of warnings; ``n_large`` is the number of directions kept.

    Raises ValueError for invalid input (alpha outside [0, 1], mismatched shapes,
    ``s * kappa > n_h``, non-finite weights, a bad ``readout``/``removal``/``select``/
    ``n_components``/``threshold``, hidden states of the wrong size) and when no result exists: a
    basis that comes out singular (e.g. fewer than ``s * kappa`` eigenvalues at or above the
    threshold with ``select="threshold"``, or ``W_uh = 0``).
    """
    w_hh, w_uh, w_r, n_h, kappa = check_weights(w_hh, w_uh, w_r, s)
    a = _check_alpha(alpha)
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    if removal not in REMOVALS:
        raise ValueError(f"removal must be one of {REMOVALS}, got {removal!r}")
    if select not in SELECTS:
        raise ValueError(f"select must be one of {SELECTS}, got {select!r}")
    thr = _validate.threshold(threshold)
    n = s * kappa
    n_perp_max = n_h - n
    if n_components is None:
        n_components = n_perp_max
    _validate.integer("n_components", n_components, 0, n_perp_max, what="0..n_h - s*kappa")
    if hidden_states is not None:
        hs = np.asarray(hidden_states, dtype=float)
        if hs.ndim < 1 or hs.shape[-1] != n_h:
            raise ValueError(f"hidden_states must have last axis n_h = {n_h}, got shape {hs.shape}")
        if not np.all(np.isfinite(hs)):
            raise ValueError("hidden_states contains non-finite entries")
        hs = hs.reshape(-1, n_h)

    # 1. the two branches of Eq. 14-15
    psi = np.zeros((n_h, n))
    if a > 0:
        psi = psi + a * forward_memories(w_hh, w_uh, s)
    if a < 1:
        psi = psi + (1 - a) * backward_memories(w_hh, w_r, s, readout)

    # 2. remove the decaying eigen-directions (select: which ones count as decaying)
    moduli = _moduli_desc(w_hh)
    n_above = int(np.sum(moduli >= thr - EIG_TOL))
    gap = _gap(moduli, n)
    notes = []
    mode, cutoff, kept = _cut(moduli, n, thr, select)
    if mode == "top":
        if n_above < n:
            notes.append(
                f"only {n_above} of s*kappa = {n} eigenvalues have modulus >= threshold = {thr:g}; "
                f"kept the {kept} largest (cut at modulus {cutoff:.4g})"
            )
        elif n_above > n:
            notes.append(
                f"{n_above} eigenvalues have modulus >= threshold = {thr:g}, more than s*kappa = "
                f"{n}; removed all but the {kept} largest (cut at modulus {cutoff:.4g})"
            )
        if kept > n:
            notes.append(
                f"the modulus of eigenvalue {n} ties with the next one (|lambda| = "
                f"{moduli[n - 1]:.6g}): kept {kept} directions instead of s*kappa = {n}"
            )
    elif n_above > n and removal != "none":
        notes.append(
            f"{n_above} eigenvalues have modulus >= threshold = {thr:g}, more than s*kappa = "
            f"{n}: directions beyond the memories are kept"
        )
    if gap < GAP_WARN:
        notes.append(
            f"small spectral gap |lambda_{n}| / |lambda_{n + 1}| = {gap:.4f} < {GAP_WARN}: "
            "the memory eigenvalues are not separated from the rest"
        )
    proj, n_large = spectral_projector(w_hh, cutoff, removal)
    psi = proj @ psi
    u_psi, sv, vt = svd(psi, full_matrices=False)  # u_psi: orthonormal basis of span(Psi)
    if sv[0] == 0 or sv[-1] <= RCOND * sv[0]:
        cond = np.inf if sv[-1] == 0 else sv[0] / sv[-1]
        hint = ""
        if removal != "none" and n_large < n:
            hint = (
                f"; only {n_large} eigenvalues of W_hh have modulus >= threshold = {threshold}, "
                f"fewer than s*kappa = {n}"
            )
            if mode == "threshold":
                hint += ' (select="top" keeps the s*kappa largest)'
        raise ValueError(
            f"the variable memories Psi come out singular (condition {cond:.3g}){hint}"
        )

    # 3. the rest of the space from PCA of the residual hidden states
    pcs = np.zeros((n_h, 0))
    if hidden_states is not None and n_components > 0 and hs.shape[0] > 0:
        res = hs - (hs @ u_psi) @ u_psi.T
        res = res - res.mean(axis=0)
        _, sv_res, vt_res = svd(res, full_matrices=False)
        scale = np.linalg.norm(hs)
        keep = sv_res > PCA_RTOL * scale if scale > 0 else np.zeros_like(sv_res, dtype=bool)
        pcs = vt_res[keep].T
        pcs = pcs - u_psi @ (u_psi.T @ pcs)  # numerically exact orthogonality to span(Psi)
        pcs = np.linalg.qr(pcs)[0] if pcs.shape[1] else pcs
        pcs = pcs[:, :n_components]
    n_pca = pcs.shape[1]
    if n_pca < n_components:
        rest = _orthonormal_complement(np.hstack([u_psi, pcs]), n_h)
        psi_perp = np.hstack([pcs, rest[:, : n_components - n_pca]])
    else:
        psi_perp = pcs

    # 4. the basis, its dual, and W_hh in it. Psi_perp is orthonormal and orthogonal to span(Psi),
    # so the dual is [Psi^+; Psi_perp^T] and the singular values of the basis are those of Psi and 1.
    basis = np.hstack([psi, psi_perp])
    cond = max(sv[0], 1.0) / min(sv[-1], 1.0) if n_components else sv[0] / sv[-1]
    if not np.isfinite(cond) or 1.0 / cond <= RCOND:
        raise ValueError(f"the basis [Psi; Psi_perp] is singular (condition {cond:.3g})")
    dual = np.vstack([(vt.T / sv) @ u_psi.T, psi_perp.T])
    phi_learned = dual @ w_hh @ basis
    if cond > COND_WARN:
        notes.append(
            f"ill-conditioned basis [Psi; Psi_perp] (condition {cond:.3g} > {COND_WARN:g}): "
            "Phi_learned carries a relative rounding error of about condition * 1e-16"
        )
    diagnostics = Diagnostics(
        select=mode,
        n_above_threshold=n_above,
        n_kept=n_large,
        cutoff=float(cutoff),
        gap=gap,
        psi_condition=float(sv[0] / sv[-1]),
        basis_condition=float(cond),
        warnings=tuple(notes),
    )
    return VariableMemories(
        psi=psi,
        psi_perp=psi_perp,
        basis=basis,
        dual=dual,
        phi_learned=phi_learned,
        s=s,
        kappa=kappa,
        alpha=a,
        threshold=float(threshold),
        readout=readout,
        removal=removal,
        n_large=n_large,
        n_pca=n_pca,
        meta={"basis_condition": cond},
        diagnostics=diagnostics,
    )
