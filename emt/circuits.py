"""Variable memories and linear variable-binding circuits (paper Sec. 4-5.2, Eq. 3-13, App. B).

Used by the chapters "Variable memories" (book/variable_memories.md), "Linear repeat copy"
(book/repeat_copy.md) and "Any linear function of the history" (book/linear_tasks.md).
:func:`leaky_circuit` serves "Reading the trained network"
(book/reading_trained.md).

Conventions
-----------
* A *basis* is an ``(n_h, n)`` array whose columns are the basis vectors ``|psi_mu>``
  (``mu = 1..n``, stored at column ``mu - 1``), with ``n = s * kappa <= n_h``.
* Its *dual* is the ``(n, n_h)`` array whose rows are the covectors ``<psi^mu|``:
  ``dual(basis) @ basis = I_n`` (the inverse if square, the Moore-Penrose pseudoinverse otherwise).
* Variable memory ``Psi_j`` (``j = 1..s``) is spanned by the columns ``(j-1)*kappa .. j*kappa - 1``.
  Memory ``s`` is the one the writer fills; memory 1 holds the oldest input.
* ``Phi`` is an ``(n, n)`` matrix in variable-memory coordinates: if ``c = dual(basis) @ h`` are
  the components of a hidden state, ``Phi @ c`` are the components after one step. This is the
  matrix ``Phi^mu_nu`` of the paper's Eq. 8-9 (row ``mu``, column ``nu``), so
  ``W_hh = basis @ Phi @ dual(basis)`` (paper Eq. 8). Section 3 of the paper writes
  ``W_hh = Xi Phi^T Xi^+``; its ``Phi`` is the transpose of ours.
* Time: ``run_linear`` uses the index ``k = 0..T-1`` of :mod:`emt.tasks`;
  ``h[k] = W_hh h[k-1] + W_uh u[k]`` and ``y[k] = W_r h[k]`` (``h[k]`` is the paper's ``h(k+1)``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from emt import _validate, elman
from emt._validate import matrix as _as_matrix
from emt._validate import positive_ints as _check_pos_int

#: A basis is rejected as rank deficient when sigma_min <= RCOND * sigma_max.
RCOND = 1e-10


def _check_basis(basis, s: int | None = None, kappa: int | None = None) -> np.ndarray:
    basis = _as_matrix(basis, "basis")
    n_h, n = basis.shape
    if n > n_h:
        raise ValueError(
            f"basis has {n} columns but only {n_h} rows: s*kappa = {n} is larger than the hidden size "
            f"n_h = {n_h}, so the columns cannot be linearly independent"
        )
    if s is not None and kappa is not None:
        _check_pos_int(s=s, kappa=kappa)
        if s * kappa > n_h:
            raise ValueError(f"s*kappa = {s * kappa} is larger than the hidden size n_h = {n_h}")
        if n != s * kappa:
            raise ValueError(f"basis has {n} columns, expected s*kappa = {s}*{kappa} = {s * kappa}")
    return basis


def random_basis(
    n_h: int, n: int, rng: np.random.Generator, orthogonal: bool = False, cond: float = 10.0
) -> np.ndarray:
    """A random basis of an n-dimensional subspace of R^{n_h}: an ``(n_h, n)`` array of full column rank.

    Chapters "Variable memories" and "Linear repeat copy" (the basis |psi_mu> of the paper's Eq. 8).
    The basis is ``U diag(sigma) V^T`` with ``U`` (orthonormal columns) and ``V`` (orthogonal) drawn
    uniformly (QR of Gaussian matrices, sign-corrected) and singular values spread geometrically
    from 1 to ``cond``, randomly ordered. Its condition number is therefore exactly ``cond`` and the
    columns are not orthogonal (``B^T B = V diag(sigma^2) V^T``). With ``orthogonal=True`` the
    singular values are all 1: orthonormal columns.
    """
    _check_pos_int(n_h=n_h, n=n)
    if n > n_h:
        raise ValueError(
            f"n = {n} basis vectors cannot be linearly independent in R^{n_h} (n > n_h)"
        )
    if not np.isfinite(cond) or cond < 1:
        raise ValueError(f"cond must be a finite number >= 1, got {cond!r}")

    def haar(rows: int, cols: int) -> np.ndarray:
        q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
        return q * np.sign(np.diag(r))

    u = haar(n_h, n)
    v = haar(n, n)
    if orthogonal:
        sigma = np.ones(n)
    else:
        sigma = rng.permutation(np.geomspace(1.0, cond, n)) if n > 1 else np.ones(1)
    return (u * sigma) @ v.T


def dual(basis) -> np.ndarray:
    """The covectors <psi^mu| of a basis as the rows of an ``(n, n_h)`` array (paper Eq. 3, 8).

    Chapter "Variable memories" (book/variable_memories.md). The inverse of a square basis, the
    Moore-Penrose pseudoinverse of a tall one, so that ``dual(basis) @ basis = I_n``.
    Raises ValueError if the basis is not of full column rank, i.e. if its smallest singular
    value is at most ``RCOND = 1e-10`` times its largest (condition number >= 1e10).
    """
    basis = _check_basis(basis)
    n_h, n = basis.shape
    if not np.all(np.isfinite(basis)):
        raise ValueError("basis contains non-finite entries")
    sv = np.linalg.svd(basis, compute_uv=False)
    if sv[0] == 0 or sv[-1] <= RCOND * sv[0]:
        c = np.inf if sv[-1] == 0 else sv[0] / sv[-1]
        raise ValueError(
            f"basis is not of full column rank: condition number {c:.3g} >= 1/RCOND = {1 / RCOND:.0e}"
        )
    if n == n_h:
        return np.linalg.inv(basis)
    return np.linalg.pinv(basis)


def memory(basis, i: int, s: int, kappa: int) -> np.ndarray:
    """The variable memory Psi_i: the ``(n_h, kappa)`` columns of block i (1-based) of the basis.

    Chapter "Variable memories" (paper Sec. 5.2, the definition of Psi_i before Eq. 9).
    """
    basis = _check_basis(basis, s, kappa)
    i = _validate.integer("memory index i", i, 1, s, what="1..s")
    return basis[:, (i - 1) * kappa : i * kappa].copy()


def memory_reader(basis, i: int, s: int, kappa: int) -> np.ndarray:
    """The reader Psi_i^*: the ``(kappa, n_h)`` rows of block i (1-based) of ``dual(basis)``.

    Chapter "Variable memories" (paper Sec. 5.2; Eq. 10 for i = N). It returns the contents of
    memory i as a kappa-vector (the output indices are shifted to 1..kappa as in Eq. 10).
    """
    basis = _check_basis(basis, s, kappa)
    i = _validate.integer("memory index i", i, 1, s, what="1..s")
    return dual(basis)[(i - 1) * kappa : i * kappa].copy()


def writer(basis, s: int, kappa: int) -> np.ndarray:
    """W_uh = Psi_s, the ``(n_h, kappa)`` columns of the last memory (paper Eq. 11; Eq. 25).

    Chapters "Variable memories" and "Linear repeat copy".
    """
    return memory(basis, s, s, kappa)


def reader(basis, s: int, kappa: int) -> np.ndarray:
    """W_r = Psi_s^*, the ``(kappa, n_h)`` rows of ``dual(basis)`` of the last memory (paper Eq. 10; Eq. 25).

    Chapters "Variable memories" and "Linear repeat copy".
    """
    return memory_reader(basis, s, s, kappa)


def shift_phi(F, s: int, kappa: int) -> np.ndarray:
    """The operator Phi of the paper's Eq. 9 as an ``(s*kappa, s*kappa)`` matrix in memory coordinates.

    Chapters "Variable memories" and "Any linear function of the history". Acting on the column of
    components ``c = [c_1; ...; c_s]``: for j = 1..s-1 memory j receives the content of memory j+1
    (``Phi[block j, block j+1] = I``), and memory s receives ``F @ c``, where ``F`` is a
    ``(kappa, s*kappa)`` matrix, the new content of memory s as a linear function of all memories.
    """
    _check_pos_int(s=s, kappa=kappa)
    F = _as_matrix(F, "F")
    n = s * kappa
    if F.shape != (kappa, n):
        raise ValueError(f"F must have shape (kappa, s*kappa) = ({kappa}, {n}), got {F.shape}")
    phi = np.zeros((n, n))
    phi[: n - kappa, kappa:] = np.eye(n - kappa)
    phi[n - kappa :, :] = F
    return phi


def repeat_copy_phi(s: int, kappa: int) -> np.ndarray:
    """Phi of the paper's Eq. 12 (= Eq. 25): :func:`shift_phi` with F = [I, 0, ..., 0].

    Chapter "Linear repeat copy" (book/repeat_copy.md). Memory s receives memory 1, so the
    contents cycle through the memories with period s.
    """
    _check_pos_int(s=s, kappa=kappa)
    F = np.zeros((kappa, s * kappa))
    F[:, :kappa] = np.eye(kappa)
    return shift_phi(F, s, kappa)


def circuit(phi, basis, kappa: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The linear RNN ``(W_hh, W_uh, W_r)`` of a circuit Phi in a basis (paper Eq. 8, 10, 11).

    Chapters "Variable memories", "Linear repeat copy" and "Any linear function of the history".
    ``W_hh = basis @ phi @ dual(basis)``, ``W_uh = Psi_s`` (:func:`writer`), ``W_r = Psi_s^*``
    (:func:`reader`), with ``s = basis.shape[1] // kappa``.
    """
    _check_pos_int(kappa=kappa)
    phi = _as_matrix(phi, "phi")
    basis = _check_basis(basis)
    n = basis.shape[1]
    if phi.shape != (n, n):
        raise ValueError(
            f"phi must have shape (n, n) = ({n}, {n}) to match the basis's {n} columns, got {phi.shape}"
        )
    if n % kappa:
        raise ValueError(
            f"the basis's {n} columns are not a whole number of memories of kappa = {kappa}"
        )
    s = n // kappa
    w_hh = basis @ phi @ dual(basis)
    return w_hh, writer(basis, s, kappa), reader(basis, s, kappa)


class LeakyCircuit(NamedTuple):
    """Result of :func:`leaky_circuit`: the RNN and the true memories."""

    w_hh: np.ndarray  # (n_h, n_h)
    w_uh: np.ndarray  # (n_h, kappa)
    w_r: np.ndarray  # (kappa, n_h)
    psi: np.ndarray  # (n_h, s*kappa): the memories [Psi_1, ..., Psi_s]
    readers: np.ndarray  # (s*kappa, n_h): Psi^*, zero on the rest X


def leaky_circuit(
    phi, kappa: int, n_h: int, rng: np.random.Generator, decay: float = 0.4, cond: float = 10.0
) -> LeakyCircuit:
    """A circuit Phi with a decaying rest and a writer that leaks into it.

    Chapter "Reading the trained network" (book/reading_trained.md),
    section "Removing the decaying directions": the test case of the
    removal step of Algorithm 1 (paper Sec. 6, the sentence after Eq. 15).
    With a random basis ``B = [Psi, X]`` of R^{n_h} (condition ``cond``,
    :func:`random_basis`) and a random orthogonal ``Q`` of size
    ``n_h - s*kappa``,

    * ``W_hh = B diag(Phi, decay * Q) B^{-1}``: the memory circuit of
      Eq. 8 on span(Psi), and on span(X) a rest whose eigenvalues all
      have modulus ``decay`` < 1;
    * ``W_uh = Psi_s + X R`` with a Gaussian ``R``: the writer of Eq. 11
      plus a leak into X;
    * ``W_r = Psi_s^*``, the exact reader of Eq. 10 (the rows of
      ``B^{-1}`` that belong to memory s).

    Draws, in this order, the basis, ``Q`` and ``R`` from ``rng``. Returns
    a :class:`LeakyCircuit` ``(w_hh, w_uh, w_r, psi, readers)``,
    ``readers`` being the first ``s*kappa`` rows of ``B^{-1}``. Raises
    ValueError unless ``phi`` is square with a whole number of memories of
    size ``kappa``, ``s*kappa < n_h`` (there must be a rest) and
    ``0 <= decay < 1``.
    """
    _check_pos_int(kappa=kappa, n_h=n_h)
    phi = _as_matrix(phi, "phi", finite=True)
    n = phi.shape[0]
    if phi.shape != (n, n) or n % kappa:
        raise ValueError(
            "phi must be square with a whole number of memories of "
            f"kappa = {kappa}, got shape {phi.shape}"
        )
    if n >= n_h:
        raise ValueError(f"s*kappa = {n} must be smaller than n_h = {n_h} to leave a rest")
    d = _validate.number_in("decay (of the rest)", decay, 0.0, 1.0, hi_open=True)
    full = random_basis(n_h, n_h, rng, cond=cond)  # [Psi, X]
    psi, x = full[:, :n], full[:, n:]
    block = np.zeros((n_h, n_h))
    block[:n, :n] = phi
    q = np.linalg.qr(rng.standard_normal((n_h - n, n_h - n)))[0]
    block[n:, n:] = d * q  # every eigenvalue of the rest has modulus decay
    inv = np.linalg.inv(full)  # rows: the covectors of [Psi, X]
    w_uh = psi[:, n - kappa :] + x @ rng.standard_normal((n_h - n, kappa))
    w_hh = full @ block @ inv
    return LeakyCircuit(w_hh, w_uh, inv[n - kappa : n], psi, inv[:n])


def components(basis, h) -> np.ndarray:
    """Components ``<psi^mu|h>`` of hidden state(s) ``h`` (last axis n_h) in the basis (paper Eq. 3).

    Chapter "Variable memories". Returns an array with last axis n = basis.shape[1].
    """
    basis = _check_basis(basis)
    h = np.asarray(h, dtype=float)
    if h.ndim < 1 or h.shape[-1] != basis.shape[0]:
        raise ValueError(f"h must have last axis n_h = {basis.shape[0]}, got shape {h.shape}")
    return h @ dual(basis).T


def memory_contents(basis, h, s: int, kappa: int) -> np.ndarray:
    """The contents of the s memories of hidden state(s) h: shape ``h.shape[:-1] + (s, kappa)``.

    Chapter "Variable memories". Entry ``[..., j-1, :]`` is ``Psi_j^* h``.
    """
    basis = _check_basis(basis, s, kappa)
    c = components(basis, h)
    return c.reshape(c.shape[:-1] + (s, kappa))


def run_linear(w_hh, w_uh, w_r, u, h0=None) -> tuple[np.ndarray, np.ndarray]:
    """Run the linear RNN (paper Eq. 6 without tanh): returns ``(h, y)``.

    Chapters "Linear repeat copy" and "Any linear function of the history". For k = 0..T-1,
    ``h[k] = W_hh h[k-1] + W_uh u[k]`` (``h[-1] = h0``, zero by default) and ``y[k] = W_r h[k]``,
    the time convention of :mod:`emt.tasks`. ``u`` has shape (T, kappa) or (batch, T, kappa);
    ``h`` has shape (..., T, n_h) and ``y`` (..., T, n_out).
    """
    w = elman.check_weights({"W_hh": w_hh, "W_uh": w_uh, "W_r": w_r}, outputs_match_inputs=False)
    h = elman.states(w, u, h0=h0, nonlinearity="linear")
    return h, h @ w["W_r"].T


def paper_index(mu, t, i, s: int, kappa: int):
    """The basis index (1-based) of ``u^i(mu)`` t steps after the input phase, as printed.

    Chapter "Linear repeat copy" (book/repeat_copy.md) and its appendix; the paper's Eq. 13/34,
    ``((mu - t - 1 mod s) + 1) kappa + i``, with ``mu - t - 1 mod s`` read as
    ``(mu - t - 1) mod s``. It is one block too far (an erratum of the book): the corrected index
    is ``(slot_of(mu, t, s) - 1) * kappa + i``. Accepts ints or integer arrays.
    """
    _check_pos_int(s=s, kappa=kappa)
    return (((np.asarray(mu) - t - 1) % s) + 1) * kappa + i


def slot_of(mu, t, s: int):
    """The variable memory (1..s) that holds input mu (1-based) t >= 0 steps after the input phase.

    Chapter "Linear repeat copy" (book/repeat_copy.md); the corrected form of the paper's Eq. 13/34.
    At the end of the input phase (t = 0) input mu sits in memory mu (Eq. 33); each step moves the
    content of memory j to j-1 and of memory 1 to s, so the memory is ``((mu - t - 1) mod s) + 1``
    and the component index of ``u^i(mu)`` is ``(slot - 1) * kappa + i``. (The paper's index
    ``((mu - t - 1 mod s) + 1) kappa + i`` is one block too far.) Accepts ints or integer arrays.
    """
    _check_pos_int(s=s)
    mu_a = np.asarray(mu)
    t_a = np.asarray(t)
    for name, a in (("mu", mu_a), ("t", t_a)):
        if a.dtype.kind not in "iu":
            raise ValueError(f"{name} must be an integer or an integer array, got {a.dtype}")
    if np.any(mu_a < 1) or np.any(mu_a > s):
        raise ValueError(f"mu must be in 1..s = 1..{s}, got {mu!r}")
    if np.any(t_a < 0):
        raise ValueError(f"t must be >= 0 (steps after the input phase), got {t!r}")
    out = np.mod(mu_a - t_a - 1, s) + 1
    return int(out) if out.ndim == 0 else out
