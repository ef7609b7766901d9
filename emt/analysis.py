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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from emt import _validate, elman
from emt._validate import matrix
from emt._validate import positive_int as _pos_int
from emt.circuits import slot_of

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


def _check_alpha(alpha) -> float:
    return _validate.number_in("alpha", alpha, 0.0, 1.0)


def _rank_ok(a: np.ndarray) -> tuple[bool, float]:
    sv = np.linalg.svd(a, compute_uv=False)
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
        q = np.linalg.svd(np.eye(n) - p)[0][:, : n - m]
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
    u_psi, sv, vt = np.linalg.svd(psi, full_matrices=False)  # u_psi: orthonormal basis of span(Psi)
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
        _, sv_res, vt_res = np.linalg.svd(res, full_matrices=False)
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


# ----------------------------------------------------------------------------- Figure 3B numbers


@dataclass(frozen=True)
class SpectrumReport:
    """Eigenvalues sorted into the s directions of the s-th roots of unity (Figure 3B)."""

    eigenvalues: np.ndarray  # all eigenvalues, sorted by decreasing modulus
    selected: np.ndarray  # the n_select largest in modulus
    direction: (
        np.ndarray
    )  # for each selected eigenvalue, the index j of the nearest direction 2 pi j / s
    counts: np.ndarray  # (s,) how many selected eigenvalues point in each direction
    angular_error: np.ndarray  # (n_select,) |angle - 2 pi j / s| in radians
    gap: float  # |lambda_{n_select}| / |lambda_{n_select + 1}| (inf if there is no next one)

    @property
    def mean_angular_error_deg(self) -> float:
        return float(np.degrees(self.angular_error.mean()))

    @property
    def max_angular_error_deg(self) -> float:
        return float(np.degrees(self.angular_error.max()))


def spectrum_report(w, s: int, n_select: int) -> SpectrumReport:
    """Sort the ``n_select`` largest-modulus eigenvalues of ``w`` into the s root-of-unity directions.

    Chapter "Reading the trained network" (Figure 3B; the theory: Phi of Eq. 12 has the s-th roots
    of unity as eigenvalues, each kappa times). An eigenvalue at angle theta is assigned to the
    direction ``j = round(theta s / 2 pi) mod s``; its angular error is the distance to ``2 pi j / s``.
    """
    w = matrix(w, "W", finite=True)
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"W must be square, got shape {w.shape}")
    s = _pos_int("s", s)
    n_select = _pos_int("n_select", n_select)
    if n_select > w.shape[0]:
        raise ValueError(f"n_select = {n_select} exceeds the size {w.shape[0]} of W")
    ev = np.linalg.eigvals(w)
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    sel = ev[:n_select]
    theta = np.angle(sel)
    step = 2 * np.pi / s
    j = np.mod(np.round(theta / step), s).astype(int)
    err = np.abs(np.angle(np.exp(1j * (theta - j * step))))
    counts = np.bincount(j, minlength=s)
    gap = (
        float(np.abs(ev[n_select - 1]) / np.abs(ev[n_select]))
        if n_select < ev.size and ev[n_select] != 0
        else np.inf
    )
    return SpectrumReport(ev, sel, j, counts, err, gap)


# ----------------------------------------------------------------------------- inferring s and kappa

#: Defaults of :func:`infer_s_kappa`: the largest angle residual allowed, as a fraction of half the
#: spacing ``pi / s`` between two directions ...
INFER_RESID_MAX = 0.1
#: ... the smallest gap ``|lambda_n| / |lambda_{n+1}|`` below the cluster, and the gap at which the
#: gap is taken as fully convincing ...
INFER_GAP_MIN = 1.02
INFER_GAP_FULL = 1.10
#: ... and the smallest cluster ``s * kappa`` considered (smaller ones fit random matrices by chance).
INFER_MIN_CLUSTER = 6


@dataclass(frozen=True)
class SKInference:
    """What :func:`infer_s_kappa` read from a spectrum: s, kappa, a confidence and the evidence.

    Chapters "Analyse your own network" and "Networks with bias"; paper Sec. 7,
    Figure 3B. ``s`` and ``kappa`` are None when ``refused`` (``reason`` says why). The evidence
    describes ``candidate``, the inferred ``(s, kappa)`` or, after a refusal, the candidate that
    came closest (None if none was examined):

    * ``n_cluster`` = s * kappa, the number of largest-modulus eigenvalues in the cluster, with
      moduli between ``cluster_moduli[0]`` and ``cluster_moduli[1]``; ``next_modulus`` the next
      one and ``gap`` = ``cluster_moduli[0] / next_modulus`` (inf if there is none or it is 0);
    * ``counts`` ``(s,)``: how many cluster eigenvalues point in direction ``2 pi j / s``;
    * ``residuals`` ``(n_cluster,)``: each eigenvalue's angular distance (radians) to the nearest
      multiple of ``2 pi / s``; ``residual_fraction``: the largest one divided by ``pi / s``
      (0: on the directions, 1: halfway between two of them);
    * ``angle_score`` = ``1 - residual_fraction / resid_max`` and ``gap_score`` =
      ``log(gap / gap_min) / log(gap_full / gap_min)`` clipped to [0, 1], their product ``score``;
    * ``runner_up``: ``(s, kappa, score)`` of the next best candidate that also passed, or None;
      ``n_passing``: how many candidates passed.

    ``confidence`` = ``score - runner_up score`` (0 if refused). It is a heuristic in [0, 1], not a
    probability: 1 means the angles sit on the directions to rounding, the gap is at least
    ``gap_full`` and no other (s, kappa) passes; it falls to 0 as the largest residual approaches
    ``resid_max`` of the half-spacing, as the gap shrinks to ``gap_min``, or as another candidate
    explains the spectrum as well. :meth:`evidence` formats all of it for printing.
    """

    s: int | None
    kappa: int | None
    confidence: float
    refused: bool
    reason: str
    candidate: tuple[int, int] | None
    n_cluster: int
    cluster_moduli: tuple[float, float]
    next_modulus: float
    gap: float
    counts: np.ndarray
    residuals: np.ndarray
    residual_fraction: float
    angle_score: float
    gap_score: float
    score: float
    runner_up: tuple[int, int, float] | None
    n_passing: int
    s_range: tuple[int, int]

    def evidence(self) -> str:
        """The inference and its evidence as a few lines of text."""
        if self.refused:
            lines = [f"s and kappa not inferred: {self.reason}"]
        else:
            lines = [
                f"s = {self.s}, kappa = {self.kappa} (confidence {self.confidence:.2f}; "
                f"angle score {self.angle_score:.2f}, gap score {self.gap_score:.2f})"
            ]
        if self.candidate is None:
            return "\n".join(lines)
        s, kappa = self.candidate
        pre = "  " if not self.refused else f"  closest candidate s = {s}, kappa = {kappa}: "
        half = 180.0 / s
        lines += [
            f"{pre}cluster of the {self.n_cluster} largest eigenvalues, |lambda| in "
            f"[{self.cluster_moduli[0]:.4f}, {self.cluster_moduli[1]:.4f}]; next |lambda| = "
            f"{self.next_modulus:.4f}, gap {self.gap:.4f}",
            f"  angles: largest residual to a multiple of 2 pi/{s} = "
            f"{np.degrees(self.residuals.max()):.3g} deg = {self.residual_fraction:.3g} of the "
            f"half-spacing {half:.3g} deg; mean {np.degrees(self.residuals.mean()):.3g} deg",
            f"  eigenvalues per direction j = 0..{s - 1}: {' '.join(str(c) for c in self.counts)}",
        ]
        if not self.refused:
            if self.runner_up is None:
                lines.append(
                    f"  no other (s, kappa) with s in {self.s_range[0]}..{self.s_range[1]} passes"
                )
            else:
                rs, rk, rsc = self.runner_up
                lines.append(
                    f"  runner-up: s = {rs}, kappa = {rk} (score {rsc:.2f}); "
                    f"{self.n_passing} candidates pass"
                )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.evidence()


def _sk_candidates(ev: np.ndarray, moduli: np.ndarray, s: int, kappas) -> list[dict]:
    """Fits of the ``s * kappa`` largest eigenvalues (``ev`` by decreasing modulus) to (s, kappa)."""
    theta = np.angle(ev)
    step = 2 * np.pi / s
    j_all = np.mod(np.round(theta / step), s).astype(int)
    resid_all = np.abs(np.angle(np.exp(1j * (theta - j_all * step))))
    return [_sk_candidate(j_all, resid_all, moduli, s, kappa) for kappa in kappas]


def _sk_candidate(j_all, resid_all, moduli: np.ndarray, s: int, kappa: int) -> dict:
    n = s * kappa
    resid = resid_all[:n]
    counts = np.bincount(j_all[:n], minlength=s)
    nxt = float(moduli[n]) if n < moduli.size else 0.0
    return {
        "s": s,
        "kappa": kappa,
        "n": n,
        "counts": counts,
        "residuals": resid,
        "fraction": float(resid.max() / (np.pi / s)),
        "equal": bool(np.all(counts == kappa)),
        "gap": _gap(moduli, n),
        "moduli": (float(moduli[n - 1]), float(moduli[0])),
        "next": nxt,
    }


def infer_s_kappa(
    w_hh,
    s_range: tuple[int, int] = (2, 64),
    kappa_max: int | None = None,
    resid_max: float = INFER_RESID_MAX,
    gap_min: float = INFER_GAP_MIN,
    gap_full: float = INFER_GAP_FULL,
    min_cluster: int = INFER_MIN_CLUSTER,
) -> SKInference:
    """Infer the number of memories s and their size kappa from the spectrum of ``W_hh``.

    Chapters "Analyse your own network" and "Networks with bias" (for a network with
    bias, pass the Jacobian at its operating point); paper Sec. 6 (Algorithm 1 needs s and kappa)
    and Sec. 7, Figure 3B: the repeat-copy circuit has the s-th roots of unity as eigenvalues, each
    kappa times, and a trained network has them as its largest-modulus eigenvalues, with a gap to
    the decaying rest.

    Every candidate ``(s, kappa)`` with ``s`` in ``s_range`` (inclusive), ``kappa <= kappa_max``
    (default: as many as fit) and ``min_cluster <= s * kappa <= n_h`` is fitted to the
    ``n = s * kappa`` largest-modulus eigenvalues. It *passes* when

    1. every one of the s directions ``2 pi j / s`` holds exactly kappa of them (nearest
       direction), which rules out the multiples of the true s (2s, 3s, ... leave directions
       empty) and lets kappa and s be told apart at a fixed n;
    2. the largest angular residual is at most ``resid_max`` of the half-spacing ``pi / s``, which
       rules out the divisors of the true s (their directions miss the others by half a spacing or
       nearly); and
    3. the gap ``|lambda_n| / |lambda_{n+1}| >= gap_min``: the cluster is separated from the rest;
    4. the cluster is tighter than the gap: ``|lambda_1| / |lambda_n| < |lambda_n| / |lambda_{n+1}|``
       (the memory eigenvalues of a circuit share one modulus); when the cluster is the whole
       spectrum (``n = n_h``, no gap to measure), ``|lambda_1| / |lambda_n| < gap_min``.

    The passing candidate with the best score (:class:`SKInference`) is returned; if none passes,
    the result is *refused* (``refused=True``, ``s = kappa = None``) with the reason and the
    closest candidate as evidence. An untrained orthogonal ``W_hh`` (eigenvalues spread over the
    unit circle, no gap) and a random Gaussian matrix are refused. The inference rests on the
    spectrum alone: any matrix with the same eigenvalues (for example the null model
    :func:`emt.nulls.same_spectrum`) gets the same answer, and an unstable direction above the
    memory eigenvalues, or memories of different sizes, are not recognised.

    Raises ValueError for a non-square or non-finite ``W_hh`` and for bad options.
    """
    w = matrix(w_hh, "W_hh", finite=True)
    n_h = w.shape[0]
    if w.shape != (n_h, n_h):
        raise ValueError(f"W_hh must be square, got shape {w.shape}")
    try:
        lo, hi = (_pos_int("s_range[0]", s_range[0]), _pos_int("s_range[1]", s_range[1]))
    except (TypeError, IndexError):
        raise ValueError(f"s_range must be a pair of positive integers, got {s_range!r}") from None
    if len(s_range) != 2 or lo > hi:
        raise ValueError(f"s_range must be a pair (low, high) with low <= high, got {s_range!r}")
    if kappa_max is not None:
        kappa_max = _pos_int("kappa_max", kappa_max)
    min_cluster = _pos_int("min_cluster", min_cluster)
    _validate.number_in("resid_max", resid_max, 0.0, 1.0, lo_open=True)
    if not (1 <= gap_min < gap_full and np.isfinite(gap_full)):
        raise ValueError(
            f"need 1 <= gap_min < gap_full < inf, got gap_min={gap_min!r}, gap_full={gap_full!r}"
        )
    ev = np.linalg.eigvals(w)
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    moduli = np.abs(ev)

    cands = []
    for s in range(lo, min(hi, n_h) + 1):
        k_top = n_h // s if kappa_max is None else min(kappa_max, n_h // s)
        kappas = [k for k in range(1, k_top + 1) if s * k >= min_cluster]
        cands.extend(_sk_candidates(ev, moduli, s, kappas))
    for c in cands:
        c["angles_ok"] = c["equal"] and c["fraction"] <= resid_max
        spread = c["moduli"][1] / c["moduli"][0] if c["moduli"][0] > 0 else np.inf
        c["tight"] = spread < (c["gap"] if c["n"] < n_h else gap_min)
        c["passes"] = c["angles_ok"] and c["gap"] >= gap_min and c["tight"]
        c["angle_score"] = max(0.0, 1.0 - c["fraction"] / resid_max)
        g = np.log(c["gap"] / gap_min) / np.log(gap_full / gap_min) if c["gap"] > 0 else 0.0
        c["gap_score"] = float(np.clip(g, 0.0, 1.0))
        c["score"] = c["angle_score"] * c["gap_score"] if c["passes"] else 0.0
    passing = sorted(
        (c for c in cands if c["passes"]), key=lambda c: (-c["score"], -c["gap"], c["n"])
    )

    def result(c, s, kappa, confidence, refused, reason, runner_up=None):
        if c is None:
            return SKInference(
                s, kappa, confidence, refused, reason, None, 0, (np.nan, np.nan), np.nan,
                np.nan, np.zeros(0, int), np.zeros(0), np.nan, 0.0, 0.0, 0.0, None, 0, (lo, hi),
            )  # fmt: skip
        return SKInference(
            s=s,
            kappa=kappa,
            confidence=float(confidence),
            refused=refused,
            reason=reason,
            candidate=(c["s"], c["kappa"]),
            n_cluster=c["n"],
            cluster_moduli=c["moduli"],
            next_modulus=c["next"],
            gap=c["gap"],
            counts=c["counts"],
            residuals=c["residuals"],
            residual_fraction=c["fraction"],
            angle_score=c["angle_score"],
            gap_score=c["gap_score"],
            score=c["score"],
            runner_up=runner_up,
            n_passing=len(passing),
            s_range=(lo, hi),
        )

    if moduli[0] == 0:
        return result(None, None, None, 0.0, True, "W_hh is nilpotent: every eigenvalue is 0")
    if not cands:
        return result(
            None, None, None, 0.0, True,
            f"no candidate: s in {lo}..{hi} with {min_cluster} <= s*kappa <= n_h = {n_h}",
        )  # fmt: skip
    if passing:
        best = passing[0]
        second = passing[1] if len(passing) > 1 else None
        runner = None if second is None else (second["s"], second["kappa"], second["score"])
        conf = best["score"] - (second["score"] if second else 0.0)
        return result(best, best["s"], best["kappa"], conf, False, "", runner)
    cuts = moduli[:-1] / np.where(moduli[1:] > 0, moduli[1:], np.inf)  # |l_i| / |l_(i+1)|
    cuts = cuts[min_cluster - 1 : max(min_cluster, n_h // 2)]  # the upper half of the spectrum
    widest = (
        f"the widest gap in the upper half of the spectrum, |lambda_n| / |lambda_(n+1)| for "
        f"{min_cluster} <= n <= {max(min_cluster, n_h // 2)}, is "
        f"{cuts.max():.4f} (n = {int(np.argmax(cuts)) + min_cluster})"
        if cuts.size
        else "there is no eigenvalue below the candidates"
    )
    fitting = [c for c in cands if c["angles_ok"]]
    if fitting:
        c = max(fitting, key=lambda c: (c["gap"], -c["fraction"]))
        if c["gap"] < gap_min:
            why = (
                f"|lambda_{c['n']}| / |lambda_{c['n'] + 1}| = {c['gap']:.4f} < gap_min = {gap_min}"
            )
        else:
            below = f"the gap {c['gap']:.4f} below it" if c["n"] < n_h else f"gap_min = {gap_min}"
            why = (
                f"the cluster's moduli spread by a factor {c['moduli'][1] / c['moduli'][0]:.4f}, "
                "more than "
                f"{below}"
            )
        reason = (
            f"no gap below the cluster: the angles fit s = {c['s']}, kappa = {c['kappa']}, "
            f"but {why}"
        )
        return result(c, None, None, 0.0, True, reason)
    c = min(cands, key=lambda c: (np.abs(c["counts"] - c["kappa"]).sum() / c["n"], c["fraction"]))
    nogap = cuts.size and cuts.max() < gap_min
    reason = (
        f"{'no gap and ' if nogap else ''}for no s in {lo}..{hi} do the s*kappa largest "
        f"eigenvalues sit on the multiples of 2 pi/s (within {resid_max:g} of the half-spacing) "
        f"with kappa in every direction; {widest}"
    )
    return result(c, None, None, 0.0, True, reason)


# ----------------------------------------------------------------------------- Figure 3D numbers


def memory_slots(s: int, T: int) -> np.ndarray:
    """Predicted memory (1..s) of input mu (1..s) at time step k = 0..T-1; 0 if not yet written.

    Chapter "Reading the trained network" (Figure 3D). Input mu is written into memory s at step
    ``k = mu - 1`` and moves one memory down per step, cyclically; in terms of the (checked) slot
    formula of the chapter "Linear repeat copy", :func:`emt.circuits.slot_of`, it sits at
    ``slot_of(mu, t, s)`` with ``t = k - (s - 1)`` steps after the input phase, and since the slot
    is s-periodic in t we may use ``t = (k + 1) mod s``. Returns an int array of shape ``(T, s)``.
    """
    s = _pos_int("s", s)
    T = _validate.integer("T", T, lo=0)
    k = np.arange(T)[:, None]
    mu = np.arange(1, s + 1)[None, :]
    slots = (
        slot_of(np.broadcast_to(mu, (T, s)).copy(), np.broadcast_to((k + 1) % s, (T, s)).copy(), s)
        if T
        else np.zeros((0, s), int)
    )
    return np.where(mu - 1 <= k, slots, 0)


@dataclass(frozen=True)
class DecodingReport:
    """How well the memories, read with Psi_k^*, hold the inputs where the theory puts them (Figure 3D)."""

    slots: np.ndarray  # (T, s) predicted memory of input mu at step k (0: not yet written)
    cosine: np.ndarray  # (T, s) cosine between Psi_slot^* h[k] and u(mu); nan where not written
    signs_ok: (
        np.ndarray
    )  # (T, s) every bit of u(mu) has the sign read from its memory (False if not written)
    bit_accuracy: float  # fraction of written bits whose sign is right
    bits_ok: np.ndarray  # (T, s, kappa) the sign of each bit is right (False if not written)

    @property
    def written(self) -> np.ndarray:
        return self.slots > 0

    @property
    def min_cosine(self) -> float:
        return float(np.nanmin(self.cosine))

    @property
    def all_signs_ok(self) -> bool:
        return bool(np.all(self.signs_ok[self.written]))

    def accuracy(self, steps=slice(None)) -> float:
        """Fraction of written bits with the right sign among the time steps ``steps`` (an index or slice)."""
        w = self.written[steps]
        return float(self.bits_ok[steps][w].mean()) if w.any() else float("nan")


def _contents_and_inputs(contents, inputs) -> tuple[np.ndarray, np.ndarray]:
    """Memory contents ``(T, s, kappa)`` and the inputs ``(s, kappa)`` they are read against."""
    c = np.asarray(contents, dtype=float)
    u = np.asarray(inputs, dtype=float)
    if c.ndim != 3:
        raise ValueError(f"contents must have shape (T, s, kappa), got {c.shape}")
    _, s, kappa = c.shape
    if u.shape != (s, kappa):
        raise ValueError(f"inputs must have shape (s, kappa) = ({s}, {kappa}), got {u.shape}")
    return c, u


def decode_memories(contents, inputs) -> DecodingReport:
    """Read every written input from the memory where the slot formula puts it (Figure 3D).

    Chapter "Reading the trained network". ``contents`` ``(T, s, kappa)`` are the memory contents
    ``Psi_j^* h[k]`` (:meth:`VariableMemories.contents`), ``inputs`` ``(s, kappa)`` the input
    vectors u(1..s) with entries of either sign (e.g. bits mapped to -1/+1). The *correlation* is
    the cosine (uncentred correlation) between the read vector and u(mu): a bitmap column can be
    constant, so a centred Pearson correlation would be undefined.
    """
    c, u = _contents_and_inputs(contents, inputs)
    T, s, kappa = c.shape
    if np.any(np.linalg.norm(u, axis=1) == 0):
        raise ValueError("an input vector is zero: its cosine with the memory content is undefined")
    slots = memory_slots(s, T)
    written = slots > 0
    kk, mm = np.nonzero(written)
    read = c[kk, slots[kk, mm] - 1]  # (pairs, kappa): the memory the slot formula names
    want = u[mm]
    nr = np.linalg.norm(read, axis=1)
    cos = np.where(
        nr > 0,
        np.sum(read * want, axis=1) / np.where(nr > 0, nr, 1.0) / np.linalg.norm(want, axis=1),
        0.0,
    )
    ok = np.sign(read) == np.sign(want)
    cosine = np.full((T, s), np.nan)
    cosine[kk, mm] = cos
    signs_ok = np.zeros((T, s), dtype=bool)
    signs_ok[kk, mm] = ok.all(axis=1)
    bits_ok = np.zeros((T, s, kappa), dtype=bool)
    bits_ok[kk, mm] = ok
    acc = float(ok.mean()) if ok.size else float("nan")
    return DecodingReport(slots, cosine, signs_ok, acc, bits_ok)


def strongest_memory(contents, inputs) -> np.ndarray:
    """For each stored input, the memory that reads most of it: the cross-talk test of Figure 3D.

    Chapter "How general is the circuit?" (it calibrates the reading of Figure 3D in the
    chapter "Reading the trained network"); paper Sec. 7. ``contents`` ``(T, s, kappa)`` are the
    memory contents ``Psi_j^* h[k]`` and ``inputs`` ``(s, kappa)`` the inputs u(1..s). The *read*
    of u(mu) from memory j at step k is the projection coefficient
    ``<Psi_j^* h[k], u(mu)> / |u(mu)|^2`` (1 where u(mu) is stored, the overlap with the stored
    input elsewhere, 0 in an empty memory). Returns an int array ``(T, s)``: the memory (1..s)
    with the largest read of u(mu) at step k, or 0 where u(mu) is not yet written or is not
    identifiable because another input is equal to it (the two would tie). Compare it with
    :func:`memory_slots`: for the exact circuit they agree wherever it is non-zero.
    """
    c, u = _contents_and_inputs(contents, inputs)
    T, s, kappa = c.shape
    norms = np.sum(u**2, axis=1)
    if np.any(norms == 0):
        raise ValueError("an input vector is zero: its read from a memory is undefined")
    reads = np.einsum("kji,mi->kmj", c, u) / norms[None, :, None]  # (T, mu, memory j)
    best = np.argmax(reads, axis=2) + 1
    unique = ~np.any(np.all(u[:, None] == u[None], axis=2) & ~np.eye(s, dtype=bool), axis=1)
    written = memory_slots(s, T) > 0
    return np.where(written & unique[None, :], best, 0)


def read_before_write(contents) -> float:
    """How much the memories that hold no input yet read: the remark on Figure 3D (paper Sec. 7).

    Chapter "How general is the circuit?"; paper Sec. 7 (before an input is written,
    its memory reads close to 0). ``contents`` ``(..., T, s, kappa)`` are memory contents
    (:meth:`VariableMemories.contents`) of runs whose input phase is steps ``0..s-1``. At input
    step ``k < s - 1`` the memories that :func:`memory_slots` names for the inputs 1..k+1 are
    occupied and the other ``s - k - 1`` are empty. Returns the root-mean-square content of the
    empty memories divided by that of the occupied ones, over those steps and all runs: 0 for the
    exact circuit, about 1 when the readers do not separate the memories. NaN for ``s = 1`` or
    runs shorter than the input phase (no empty memory to read).
    """
    c = np.asarray(contents, dtype=float)
    if c.ndim < 3:
        raise ValueError(f"contents must have shape (..., T, s, kappa), got {c.shape}")
    T, s = c.shape[-3], c.shape[-2]
    if s < 2 or T < s:
        return float("nan")
    slots = memory_slots(s, s - 1)  # (s-1, s): steps 0..s-2
    occupied = np.zeros((s - 1, s), dtype=bool)
    for k in range(s - 1):
        occupied[k, slots[k][slots[k] > 0] - 1] = True
    power = np.sum(c[..., : s - 1, :, :] ** 2, axis=-1).reshape(-1, s - 1, s).sum(axis=0)
    full = power[occupied].sum() / occupied.sum()
    empty = power[~occupied].sum() / (~occupied).sum()
    if full == 0:
        return float("nan") if empty == 0 else float("inf")
    return float(np.sqrt(empty / full))


def batch_decoding(vm: VariableMemories, states, inputs) -> dict:
    """Figure 3D read on a batch of runs: decoding, cross-talk and read-before-write.

    Chapter "Reading the trained network" (Figure 3D) and "How general is the circuit?";
    paper Sec. 7. ``states`` ``(B, T, n_h)`` are hidden states of B runs whose input
    phase is steps ``0..s-1`` (T > s), ``inputs`` ``(B, s, kappa)`` their inputs. Returns:

    * ``rnd_acc_in``/``rnd_acc_out``: the mean over runs of the fraction of stored bits whose
      sign is read right from the memory the slot formula names (:func:`decode_memories`), in
      the input/output phase; ``rnd_cos_mean``/``rnd_cos_min``: the mean and the smallest cosine
      over all (run, step, input) pairs;
    * ``crosstalk_match``: the fraction of (run, step, stored input) pairs for which the memory
      with the largest read of the input is the one the slot formula names
      (:func:`strongest_memory`; inputs equal to another input of the run are left out);
    * ``read_before_write``: :func:`read_before_write` over the batch.
    """
    states = np.asarray(states, dtype=float)
    inputs = np.asarray(inputs, dtype=float)
    n_h, s, kappa = vm.basis.shape[0], vm.s, vm.kappa
    n_b = states.shape[0] if states.ndim == 3 else 0
    if n_b < 1 or states.shape[2] != n_h:
        raise ValueError(f"states must have shape (B, T, n_h = {n_h}), got {states.shape}")
    if inputs.shape != (n_b, s, kappa):
        raise ValueError(
            f"inputs must have shape (B, s, kappa) = ({n_b}, {s}, {kappa}), got {inputs.shape}"
        )
    if states.shape[1] <= s:
        raise ValueError(f"the runs must go on past the input phase: T > s = {s} steps")
    contents = vm.contents(states)
    runs = [decode_memories(c, u) for c, u in zip(contents, inputs)]
    cos = np.array([r.cosine for r in runs])
    slots = runs[0].slots
    best = np.array([strongest_memory(c, u) for c, u in zip(contents, inputs)])
    counted = best > 0
    return {
        "rnd_acc_in": float(np.mean([r.accuracy(slice(0, s)) for r in runs])),
        "rnd_acc_out": float(np.mean([r.accuracy(slice(s, None)) for r in runs])),
        "rnd_cos_mean": float(np.nanmean(cos)),
        "rnd_cos_min": float(np.nanmin(cos)),
        "crosstalk_match": (
            float(np.mean(best[counted] == np.broadcast_to(slots, best.shape)[counted]))
            if counted.any()
            else float("nan")
        ),
        "read_before_write": read_before_write(contents),
    }


# ------------------------------------------------------------ what is forced


def shift_defects(
    w_hh, w_uh, w_r, s: int, readout: str = "dual", removal: str = "oblique", threshold: float = 1.0
) -> dict:
    """How far ``W_hh`` is from shifting each branch of Algorithm 1 by one.

    Chapter "Checking the reading" (book/reading_checks.md),
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
