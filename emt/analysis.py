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

from emt._validate import matrix
from emt._validate import positive_int as _pos_int
from emt.circuits import slot_of

#: Readings of W_r^* accepted by :func:`variable_memories`.
READOUTS = ("dual", "transpose", "pinv")
#: Ways of removing decaying eigen-directions accepted by :func:`variable_memories`.
REMOVALS = ("oblique", "orthogonal", "none")
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
    w_hh = matrix(w_hh, "W_hh", finite=True)
    w_uh = matrix(w_uh, "W_uh", finite=True)
    w_r = matrix(w_r, "W_r", finite=True)
    n_h = w_hh.shape[0]
    if w_hh.shape != (n_h, n_h):
        raise ValueError(f"W_hh must be square, got shape {w_hh.shape}")
    if w_uh.shape[0] != n_h:
        raise ValueError(
            f"W_uh must have n_h = {n_h} rows (shape (n_h, kappa)), got shape {w_uh.shape}"
        )
    kappa = w_uh.shape[1]
    if w_r.shape != (kappa, n_h):
        raise ValueError(
            f"W_r must have shape (kappa, n_h) = ({kappa}, {n_h}) to match W_uh {w_uh.shape} and W_hh, "
            f"got {w_r.shape}"
        )
    if s * kappa > n_h:
        raise ValueError(
            f"s*kappa = {s}*{kappa} = {s * kappa} is larger than the hidden size n_h = {n_h}: "
            "the variable memories cannot be linearly independent"
        )
    return w_hh, w_uh, w_r, n_h, kappa


def _check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}") from None
    if not (0.0 <= a <= 1.0):  # also rejects nan
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    return a


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
    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a non-negative number, got {threshold!r}") from None
    if not np.isfinite(thr) or thr < 0:
        raise ValueError(f"threshold must be a finite non-negative number, got {threshold!r}")
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


@dataclass(frozen=True)
class VariableMemories:
    """Result of :func:`variable_memories` (chapter "Reading the trained network", paper Alg. 1).

    ``psi`` ``(n_h, s*kappa)`` are the variable memories, ``psi_perp`` ``(n_h, n_perp)`` the
    orthonormal rest, ``basis = [psi, psi_perp]``, ``dual`` its covectors (rows), and
    ``phi_learned = dual @ W_hh @ basis``. ``n_large`` is the number of eigenvalues of ``W_hh`` at or
    above the threshold, ``n_pca`` the number of columns of ``psi_perp`` that are principal
    components with non-zero variance (the rest complete the orthonormal complement).
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
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= self.s:
            raise ValueError(f"memory index must be an integer in 1..s = 1..{self.s}, got {k!r}")
        return int(k)


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

    Raises ValueError for alpha outside [0, 1], mismatched shapes, ``s * kappa > n_h``, a bad
    ``readout``/``removal``/``n_components``, hidden states of the wrong size, or a basis that comes
    out singular (e.g. fewer than ``s * kappa`` eigenvalues at or above the threshold).
    """
    w_hh, w_uh, w_r, n_h, kappa = check_weights(w_hh, w_uh, w_r, s)
    a = _check_alpha(alpha)
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    if removal not in REMOVALS:
        raise ValueError(f"removal must be one of {REMOVALS}, got {removal!r}")
    n = s * kappa
    n_perp_max = n_h - n
    if n_components is None:
        n_components = n_perp_max
    if (
        isinstance(n_components, bool)
        or not isinstance(n_components, (int, np.integer))
        or not 0 <= n_components <= n_perp_max
    ):
        raise ValueError(
            f"n_components must be an integer in 0..n_h - s*kappa = 0..{n_perp_max}, got {n_components!r}"
        )
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

    # 2. remove the decaying eigen-directions
    proj, n_large = spectral_projector(w_hh, threshold, removal)
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
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 0:
        raise ValueError(f"T must be a non-negative integer, got {T!r}")
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


def decode_memories(contents, inputs) -> DecodingReport:
    """Read every written input from the memory where the slot formula puts it (Figure 3D).

    Chapter "Reading the trained network". ``contents`` ``(T, s, kappa)`` are the memory contents
    ``Psi_j^* h[k]`` (:meth:`VariableMemories.contents`), ``inputs`` ``(s, kappa)`` the input
    vectors u(1..s) with entries of either sign (e.g. bits mapped to -1/+1). The *correlation* is
    the cosine (uncentred correlation) between the read vector and u(mu): a bitmap column can be
    constant, so a centred Pearson correlation would be undefined.
    """
    c = np.asarray(contents, dtype=float)
    u = np.asarray(inputs, dtype=float)
    if c.ndim != 3:
        raise ValueError(f"contents must have shape (T, s, kappa), got {c.shape}")
    T, s, kappa = c.shape
    if u.shape != (s, kappa):
        raise ValueError(f"inputs must have shape (s, kappa) = ({s}, {kappa}), got {u.shape}")
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


# ------------------------------------------------------------ what is forced


def shift_defects(
    w_hh, w_uh, w_r, s: int, readout: str = "dual", removal: str = "oblique", threshold: float = 1.0
) -> dict:
    """How far ``W_hh`` is from shifting each branch of Algorithm 1 by one.

    Chapter "Reading the trained network" (book/reading_trained.md),
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


# ------------------------------------------------------------ Figure 3A and 3D


def figure3_metrics(
    weights,
    s: int,
    phi_theory,
    pca_states,
    probe_states,
    probe_inputs,
    batch_states,
    batch_inputs,
    *,
    alpha: float = 0.5,
    readout: str = "dual",
    removal: str = "oblique",
    threshold: float = 1.0,
) -> dict:
    """The numbers of Figures 3A and 3D for one network and one setting.

    Chapter "Reading the trained network" (book/reading_trained.md),
    sections "The choice of alpha" and "Three seeds"; paper Sec. 6
    (Algorithm 1, Eq. 14-15) and Sec. 7 (Figure 3A, 3D).

    Arguments: ``weights``, a mapping with ``"W_hh"``, ``"W_uh"``,
    ``"W_r"`` (the format of :meth:`emt.rnn.Trained.weights`); ``s`` and
    ``phi_theory`` (Phi of Eq. 12, or of another task); ``pca_states``,
    hidden states for the PCA of Algorithm 1 (last axis n_h); a *probe* run,
    ``probe_states`` ``(T, n_h)`` with its ``probe_inputs`` ``(s, kappa)``
    (the inputs of the input phase; Figure 3C-D use the bitmap "3141"); a
    *batch* of runs, ``batch_states`` ``(B, T, n_h)`` with ``batch_inputs``
    ``(B, s, kappa)``. The runs must go on past the input phase (T > s):
    steps 0..s-1 are the input phase, the others the output phase.
    ``alpha``, ``readout``, ``removal`` and ``threshold`` go to
    :func:`variable_memories`.

    Returns a dict of floats:

    * from :func:`block_report` (Figure 3A): ``block_error``,
      ``shift_error``, ``wrap_error``, ``coupling_in``, ``coupling_out``;
    * from :func:`decode_memories` on the probe (Figure 3D): ``acc_3141``,
      the fraction of stored bits read with the right sign from the memory
      the slot formula names, and ``cos_3141_in``/``cos_3141_out``, the
      smallest cosine in the input/output phase;
    * on the batch: ``rnd_acc_in``/``rnd_acc_out``, the mean over runs of
      the fraction of right signs in the input/output phase, and
      ``rnd_cos_mean``/``rnd_cos_min``, the mean and the smallest cosine
      over all (run, step, input) pairs.

    Raises ValueError for a missing weight, states or inputs of the wrong
    shape, runs that end with the input phase, and whatever
    :func:`variable_memories` refuses.
    """
    missing = [k for k in ("W_hh", "W_uh", "W_r") if k not in weights]
    if missing:
        raise ValueError(f"weights lacks {missing}: it needs 'W_hh', 'W_uh' and 'W_r'")
    vm = variable_memories(
        weights["W_hh"],
        weights["W_uh"],
        weights["W_r"],
        s,
        alpha=alpha,
        threshold=threshold,
        hidden_states=pca_states,
        readout=readout,
        removal=removal,
    )
    n_h, kappa = vm.basis.shape[0], vm.kappa
    probe_states = np.asarray(probe_states, dtype=float)
    batch_states = np.asarray(batch_states, dtype=float)
    probe_inputs = np.asarray(probe_inputs, dtype=float)
    batch_inputs = np.asarray(batch_inputs, dtype=float)
    if probe_states.ndim != 2 or probe_states.shape[1] != n_h:
        raise ValueError(f"probe_states must have shape (T, n_h = {n_h}), got {probe_states.shape}")
    n_b = batch_states.shape[0] if batch_states.ndim == 3 else 0
    if n_b < 1 or batch_states.shape[2] != n_h:
        raise ValueError(
            f"batch_states must have shape (B, T, n_h = {n_h}), got {batch_states.shape}"
        )
    if probe_inputs.shape != (s, kappa):
        raise ValueError(
            f"probe_inputs must have shape (s, kappa) = ({s}, {kappa}), got {probe_inputs.shape}"
        )
    if batch_inputs.shape != (n_b, s, kappa):
        raise ValueError(
            f"batch_inputs must have shape (B, s, kappa) = "
            f"({n_b}, {s}, {kappa}), got {batch_inputs.shape}"
        )
    if min(probe_states.shape[0], batch_states.shape[1]) <= s:
        raise ValueError(f"the runs must go on past the input phase: T > s = {s} steps")
    rep = block_report(vm, phi_theory)
    probe = decode_memories(vm.contents(probe_states), probe_inputs)
    contents = vm.contents(batch_states)
    runs = [decode_memories(c, u) for c, u in zip(contents, batch_inputs)]
    cos = np.array([r.cosine for r in runs])
    keys = ("block_error", "shift_error", "wrap_error", "coupling_in", "coupling_out")
    out = {key: rep[key] for key in keys}
    out.update(
        acc_3141=probe.bit_accuracy,
        cos_3141_in=float(np.nanmin(probe.cosine[:s])),
        cos_3141_out=float(np.nanmin(probe.cosine[s:])),
        rnd_acc_in=float(np.mean([r.accuracy(slice(0, s)) for r in runs])),
        rnd_acc_out=float(np.mean([r.accuracy(slice(s, None)) for r in runs])),
        rnd_cos_mean=float(np.nanmean(cos)),
        rnd_cos_min=float(np.nanmin(cos)),
    )
    return out
