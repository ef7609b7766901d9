"""The memory map, the RNN map and the conjugacy between them (paper Sec. 3, Eq. 2, 20, 23, 24).

Used by the chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md).

Notation
--------
* ``W`` is a real square ``(n, n)`` matrix: the recurrent weights ``W_hh = Xi Phi^T Xi^+``.
* ``sigma = tanh`` acts componentwise.
* ``f(x) = W sigma(x)`` is the discrete memory model (paper Eq. 20, with ``Xi^+`` in place of
  the appendix's ``Xi^T``), ``g(y) = sigma(W y)`` the Elman RNN without bias (paper Eq. 2 / 23),
  and ``h = sigma`` the change of variables (paper Eq. 24). ``h`` maps ``R^n`` homeomorphically
  onto the open cube ``(-1, 1)^n``; its inverse ``h_inv = artanh`` is defined on that cube only.
* States are 1-D arrays of length ``n`` or 2-D arrays ``(n, m)`` holding ``m`` states as columns.
* ``compose(Xi, Phi) = Xi Phi^T Xi^+`` (paper Eq. 2), with ``Xi`` of shape ``(n_f, n_h)``,
  ``n_f >= n_h``, of full column rank, and ``Phi`` of shape ``(n_h, n_h)``; complex entries allowed.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from emt import _validate

#: A matrix is treated as rank deficient (or singular) when sigma_min <= RCOND * sigma_max.
RCOND = 1e-10


# --------------------------------------------------------------------------- argument checks
def _as_square(W, name: str = "W", allow_complex: bool = False) -> np.ndarray:
    W = np.asarray(W)
    if not allow_complex and np.iscomplexobj(W):
        raise ValueError(f"{name} must be real, got a complex array")
    W = W.astype(complex if np.iscomplexobj(W) else float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"{name} must be a square 2-D matrix, got shape {W.shape}")
    if W.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(W)):
        raise ValueError(f"{name} contains non-finite entries")
    return W


def _as_state(x, n: int, name: str = "x") -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim not in (1, 2) or x.shape[0] != n:
        raise ValueError(
            f"{name} must have shape ({n},) or ({n}, m) to match W of shape ({n}, {n}); got {x.shape}"
        )
    return x


def _check_steps(steps) -> int:
    return _validate.integer("steps", steps, lo=0)


def _non_negative(name: str, value) -> float:
    """``value`` as a float; ValueError unless finite, real and >= 0."""
    ok = not isinstance(value, (bool, str, complex)) and np.isscalar(value)
    try:
        x = float(value) if ok else np.nan
    except (TypeError, ValueError):
        x = np.nan
    if not (np.isfinite(x) and x >= 0):
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return x


def _full_column_rank(Xi, name: str = "Xi") -> np.ndarray:
    Xi = np.asarray(Xi)
    Xi = Xi.astype(complex if np.iscomplexobj(Xi) else float)
    if Xi.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {Xi.shape}")
    n_f, n_h = Xi.shape
    if n_h == 0:
        raise ValueError(f"{name} must have at least one column")
    if n_f < n_h:
        raise ValueError(
            f"{name} has shape {Xi.shape}: {n_h} columns in R^{n_f} cannot be linearly independent; "
            "the pseudoinverse rule needs full column rank (n_f >= n_h)"
        )
    if not np.all(np.isfinite(Xi)):
        raise ValueError(f"{name} contains non-finite entries")
    sv = np.linalg.svd(Xi, compute_uv=False)
    if sv[-1] <= RCOND * sv[0]:
        what = "singular" if n_f == n_h else "rank deficient"
        raise ValueError(
            f"{name} is {what} (sigma_min / sigma_max = {sv[-1] / sv[0]:.2e}); the pseudoinverse rule "
            "W = Xi Phi^T Xi^+ needs linearly independent memories (full column rank)"
        )
    return Xi


# --------------------------------------------------------------------------- the three maps
def sigma(x) -> np.ndarray:
    """The activation ``sigma = tanh``, componentwise (the paper's sigma_f).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md); paper Eq. 2, 20, 23.
    """
    return np.tanh(np.asarray(x, dtype=float))


def f(x, W) -> np.ndarray:
    """The discrete memory model ``f(x) = W sigma(x)``, the update of V_f (paper Eq. 20).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md). The paper's
    Eq. 20 has ``W = Xi (I + Phi'^T) Xi^T``; section 3 (Eq. 2) uses ``Xi^+``: see :func:`compose`.
    ``x`` has shape ``(n,)`` or ``(n, m)``; ``W`` must be real and square.
    """
    W = _as_square(W)
    x = _as_state(x, W.shape[0])
    return W @ np.tanh(x)


def g(y, W) -> np.ndarray:
    """The Elman RNN without bias ``g(y) = sigma(W y)`` (paper Eq. 2 and Eq. 23).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md).
    ``y`` has shape ``(n,)`` or ``(n, m)``; ``W`` must be real and square.
    """
    W = _as_square(W)
    y = _as_state(y, W.shape[0], "y")
    return np.tanh(W @ y)


def h(x) -> np.ndarray:
    """The conjugating homeomorphism ``h = sigma = tanh`` from R^n onto (-1, 1)^n (paper Eq. 24).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md). In floating
    point, ``tanh`` rounds to exactly +-1 for |x| > ~19.06, so ``h`` is not numerically injective there.
    """
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("h: x contains non-finite entries")
    return np.tanh(x)


def h_inv(y) -> np.ndarray:
    """The inverse ``h^{-1} = artanh``, defined on the open cube (-1, 1)^n only (paper Eq. 24).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md).
    Raises ValueError if any entry is outside the open interval (-1, 1) (including +-1 itself,
    which ``tanh`` returns in floating point for arguments beyond ~19.06) or is not finite.
    """
    y = np.asarray(y, dtype=float)
    if not np.all(np.isfinite(y)):
        raise ValueError("h_inv: y contains non-finite entries")
    bad = np.abs(y) >= 1.0
    if np.any(bad):
        raise ValueError(
            f"h_inv = artanh is defined on the open cube (-1, 1)^n only; "
            f"{int(bad.sum())} entries have |y| >= 1 "
            f"(max |y| = {np.max(np.abs(y)):.17g})"
        )
    return np.arctanh(y)


# --------------------------------------------------------------------------- trajectories
def trajectory(step, x0, W, steps: int) -> np.ndarray:
    """The orbit ``x0, step(x0), ..., step^steps(x0)`` of ``step`` in {f, g}.

    Returned as an array of shape ``(steps+1, *x0.shape)``.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md): orbits of the
    memory model (Eq. 20) and of the RNN (Eq. 2 / 23).
    """
    steps = _check_steps(steps)
    W = _as_square(W)
    x = _as_state(x0, W.shape[0], "x0")
    out = np.empty((steps + 1,) + x.shape)
    out[0] = x
    for k in range(steps):
        x = step(x, W)
        out[k + 1] = x
    return out


def f_trajectory(x0, W, steps: int) -> np.ndarray:
    """Orbit of the memory model ``f`` (paper Eq. 20): ``f^k(x0)`` for ``k = 0..steps``.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md).
    """
    return trajectory(f, x0, W, steps)


def g_trajectory(y0, W, steps: int) -> np.ndarray:
    """Orbit of the RNN ``g`` (paper Eq. 2 / 23): ``g^k(y0)`` for ``k = 0..steps``.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md).
    """
    return trajectory(g, y0, W, steps)


def conjugacy_gap(x0, W, steps: int) -> np.ndarray:
    """``max_i |h(f^k(x0)) - g^k(h(x0))|_i`` for ``k = 0..steps`` (the identity h o f = g o h, Eq. 24).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md). The f-orbit
    starts at ``x0``, the g-orbit at ``h(x0)``; both are computed by :func:`f_trajectory` and
    :func:`g_trajectory`. For a batch ``x0`` of shape ``(n, m)`` the maximum runs over all entries.
    """
    W = _as_square(W)
    x0 = _as_state(x0, W.shape[0], "x0")
    left = h(f_trajectory(x0, W, steps))
    right = g_trajectory(h(x0), W, steps)
    return np.abs(left - right).reshape(steps + 1, -1).max(axis=1)


def inverse_form_gap(x0, W, steps: int, prec: int | None = None) -> np.ndarray:
    """``max_i |f^k(x0) - (h^{-1} o g o h)^k(x0)|_i`` for ``k = 0..steps`` (the paper's form of Eq. 24).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md). The second
    orbit applies ``h``, ``g`` and ``h^{-1}`` at every step, i.e. it runs the RNN and maps each state
    back to V_f coordinates. In exact arithmetic the gap is zero for every W.

    ``prec=None`` computes both orbits in float64 with numpy; once ``tanh`` rounds an entry to
    exactly +-1 the inverse does not exist in floating point and the remaining gaps are ``inf``.
    With an integer ``prec`` (bits of mantissa, at least 24; 53 is float64's precision, 136 about
    40 decimal digits) both orbits are computed with mpmath, whose tanh and artanh are correctly
    rounded (``x0`` of shape ``(n,)`` only); the gaps are returned as floats.
    """
    steps = _check_steps(steps)
    W = _as_square(W)
    x0 = _as_state(x0, W.shape[0], "x0")
    gaps = np.full(steps + 1, np.inf)
    gaps[0] = 0.0
    if prec is None:
        x = x0.copy()
        z = x0.copy()
        for k in range(steps):
            x = f(x, W)
            try:
                z = h_inv(g(h(z), W))
            except ValueError:
                break
            gaps[k + 1] = np.max(np.abs(x - z))
        return gaps
    _validate.integer("prec (bits of mantissa for mpmath)", prec, lo=24)
    if x0.ndim != 1:
        raise ValueError(f"with prec, x0 must be a single state of shape (n,), got {x0.shape}")
    import mpmath

    n = W.shape[0]
    with mpmath.workprec(int(prec)):
        Wm = mpmath.matrix(W.tolist())
        x = mpmath.matrix(x0.tolist())
        z = mpmath.matrix(x0.tolist())
        for k in range(steps):
            x = Wm * x.apply(mpmath.tanh)  # f
            y = (Wm * z.apply(mpmath.tanh)).apply(mpmath.tanh)  # g(h(z))
            if any(abs(y[i]) >= 1 for i in range(n)):
                break
            z = y.apply(mpmath.atanh)  # h^{-1}
            gaps[k + 1] = float(max(abs(x[i] - z[i]) for i in range(n)))
    return gaps


# --------------------------------------------------------------------------- linearisation
def jacobian_f(x, W) -> np.ndarray:
    """Jacobian of the memory model, ``Df(x) = W diag(1 - tanh(x)^2)`` (paper Eq. 20).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md).
    ``x`` of shape ``(n,)``.
    """
    W = _as_square(W)
    x = _as_state(x, W.shape[0])
    if x.ndim != 1:
        raise ValueError(f"x must be a single state of shape ({W.shape[0]},), got {x.shape}")
    return W * (1.0 - np.tanh(x) ** 2)[None, :]


def jacobian_g(y, W) -> np.ndarray:
    """Jacobian of the RNN, ``Dg(y) = diag(1 - tanh(W y)^2) W`` (paper Eq. 2 / 23).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md).
    ``y`` of shape ``(n,)``.
    """
    W = _as_square(W)
    y = _as_state(y, W.shape[0], "y")
    if y.ndim != 1:
        raise ValueError(f"y must be a single state of shape ({W.shape[0]},), got {y.shape}")
    return (1.0 - np.tanh(W @ y) ** 2)[:, None] * W


def lyapunov_exponent(x0, W, steps: int, burn_in: int = 0, map: str = "f") -> float:
    """Largest Lyapunov exponent of ``f`` (``map="f"``) or ``g`` (``map="g"``) along the orbit of ``x0``.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md): the rate (natural
    log per step) at which the memory model (Eq. 20) or the RNN (Eq. 2 / 23) amplifies small
    perturbations. A tangent vector is pushed through the Jacobian and renormalised at every step;
    the first ``burn_in`` steps are not counted.
    """
    steps = _check_steps(steps)
    burn_in = _check_steps(burn_in)
    if steps == 0:
        raise ValueError("steps must be at least 1")
    if map == "f":
        step, jac = f, jacobian_f
    elif map == "g":
        step, jac = g, jacobian_g
    else:
        raise ValueError(f"map must be 'f' or 'g', got {map!r}")
    W = _as_square(W)
    x = _as_state(x0, W.shape[0], "x0")
    if x.ndim != 1:
        raise ValueError(f"x0 must be a single state of shape ({W.shape[0]},), got {x.shape}")
    for _ in range(burn_in):
        x = step(x, W)
    v = np.ones_like(x) / np.sqrt(x.size)
    total = 0.0
    for _ in range(steps):
        v = jac(x, W) @ v
        x = step(x, W)
        norm = np.linalg.norm(v)
        if norm == 0.0:
            return -np.inf
        total += np.log(norm)
        v /= norm
    return total / steps


# --------------------------------------------------------------------------- the isospectral continuum
def compose(Xi, Phi) -> np.ndarray:
    """``W = Xi Phi^T Xi^+`` with the Moore-Penrose pseudoinverse ``Xi^+`` (paper Eq. 2).

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md). ``Xi`` has
    shape ``(n_f, n_h)`` with ``n_f >= n_h`` and full column rank (the memories are its columns);
    ``Phi`` is ``(n_h, n_h)``. The paper's Eq. 2 writes ``Phi^T = I + Phi'^T``; here ``Phi`` is the
    whole matrix. Complex ``Xi`` and ``Phi`` are allowed; ``Phi^T`` is the plain transpose.
    Raises ValueError for a non-square ``Phi``, a shape mismatch, or ``Xi`` without full column rank.
    """
    Xi = _full_column_rank(Xi)
    Phi = _as_square(Phi, "Phi", allow_complex=True)
    if Phi.shape[0] != Xi.shape[1]:
        raise ValueError(
            f"Phi has shape {Phi.shape} but Xi has {Xi.shape[1]} columns: "
            f"Phi must be ({Xi.shape[1]}, {Xi.shape[1]})"
        )
    return Xi @ Phi.T @ np.linalg.pinv(Xi)


def predicted_spectrum(Phi, n_f: int) -> np.ndarray:
    """The spectrum of ``Xi Phi^T Xi^+`` for any full-column-rank ``Xi`` with ``n_f`` rows.

    It is eig(Phi) and ``n_f - n_h`` zeros.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md), paper Eq. 2.
    """
    Phi = _as_square(Phi, "Phi", allow_complex=True)
    _validate.integer("n_f", n_f, lo=Phi.shape[0], what="n_h")
    return np.concatenate(
        [np.linalg.eigvals(Phi), np.zeros(int(n_f) - Phi.shape[0], dtype=complex)]
    )


def match_spectra(a, b, zero_tol: float | None = None) -> tuple[np.ndarray, float]:
    """Pair two spectra: ``(perm, max_dist)``, b[perm][i] paired with a[i].

    Chapter "Topological conjugacy and the isospectral continuum"
    (book/conjugacy.md): the check eig(Xi Phi^T Xi^+) = eig(Phi) of paper
    Sec. 3; chapter "Any linear function of the history"
    (book/linear_tasks.md): eig(W_hh) = eig(Phi) of paper Eq. 9. The
    pairing minimises the sum of distances ``|a_i - b_j|`` (Hungarian
    algorithm); ``max_dist`` is the largest distance of a matched pair.

    ``zero_tol`` (default None: pair everything) leaves the eigenvalues of
    modulus at most ``zero_tol`` out of the pairing. They are the computed
    eigenvalue 0 of nilpotent (Jordan) chains, which scatter by about
    eps^(1/m) for a chain of length m, so only their number is meaningful
    and the caller counts them. The spectra may then differ in size but
    must have the same number of eigenvalues above ``zero_tol`` (else
    ValueError); ``perm`` indexes ``b[abs(b) > zero_tol]`` and is matched
    to ``a[abs(a) > zero_tol]``; ``max_dist`` is 0 if nothing is left.
    """
    a = np.asarray(a, dtype=complex).ravel()
    b = np.asarray(b, dtype=complex).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("the spectra are empty")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("the spectra contain non-finite values")
    if zero_tol is not None:
        zero_tol = _non_negative("zero_tol", zero_tol)
        a, b = a[np.abs(a) > zero_tol], b[np.abs(b) > zero_tol]
        if a.size != b.size:
            raise ValueError(
                "the spectra have different numbers of eigenvalues of "
                f"modulus > zero_tol = {zero_tol}: {a.size} and {b.size}"
            )
        if a.size == 0:
            return np.zeros(0, dtype=int), 0.0
    if a.size != b.size:
        raise ValueError(f"the spectra have different sizes: {a.size} and {b.size}")
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    perm = cols[np.argsort(rows)]
    return perm, float(np.max(np.abs(a - b[perm])))


def spectral_norm(W) -> float:
    """The spectral norm ``||W||_2`` (largest singular value) of a real matrix.

    Chapter "Topological conjugacy and the isospectral continuum"
    (book/conjugacy.md): the norm of the condition ``||Xi Phi^T Xi^+|| <= 1``
    that paper Sec. 3 attaches to the conjugacy of Eq. 24. Raises
    ValueError for a non-square, complex or non-finite ``W``.
    """
    return float(np.linalg.norm(_as_square(W), 2))


def random_with_norm(n: int, norm: float, rng: np.random.Generator) -> np.ndarray:
    """A real ``(n, n)`` Gaussian matrix rescaled to spectral norm ``norm``.

    Chapter "Topological conjugacy and the isospectral continuum"
    (book/conjugacy.md): test matrices on both sides of the norm condition
    ``||W|| <= 1`` of paper Sec. 3 (App. A.1, Eq. 24). Draws
    ``rng.standard_normal((n, n))`` (one call, so a seeded ``rng`` gives a
    reproducible matrix). Raises ValueError unless ``n`` is a positive
    integer, ``norm`` a finite non-negative number and ``rng`` a
    ``numpy.random.Generator``.
    """
    n = _validate.integer("n", n, lo=1)
    norm = _non_negative("norm", norm)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    W = rng.standard_normal((int(n), int(n)))
    return W * (norm / np.linalg.norm(W, 2))


def decompose(W, Xi) -> np.ndarray:
    """The ``Phi`` with ``Xi Phi^T Xi^{-1} = W`` for a square invertible ``Xi``: ``Phi = (Xi^{-1} W Xi)^T``.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md): every
    invertible choice of memories ``Xi`` gives one interpretation of ``W_hh`` (paper Eq. 2, Sec. 3).
    Raises ValueError for a non-square or singular ``Xi`` or a shape mismatch.
    """
    W = _as_square(W, allow_complex=True)
    Xi = _full_column_rank(Xi)
    if Xi.shape[0] != Xi.shape[1]:
        raise ValueError(f"Xi must be square to decompose W uniquely, got shape {Xi.shape}")
    if Xi.shape[0] != W.shape[0]:
        raise ValueError(f"Xi has shape {Xi.shape} but W has shape {W.shape}")
    return np.linalg.solve(Xi, W @ Xi).T


def second_decomposition(Xi, Phi, S) -> tuple[np.ndarray, np.ndarray]:
    """Another pair ``(Xi S, Phi_2)`` with ``Phi_2^T = S^{-1} Phi^T S`` giving the same ``W = Xi Phi^T Xi^+``.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md): the
    non-uniqueness of the decomposition of paper Eq. 2. ``S`` is any invertible ``(n_h, n_h)`` matrix;
    ``(Xi S)^+ = S^{-1} Xi^+`` because ``Xi`` has full column rank.
    Raises ValueError if ``S`` is not square, has the wrong size or is singular.
    """
    Xi = _full_column_rank(Xi)
    Phi = _as_square(Phi, "Phi", allow_complex=True)
    if Phi.shape[0] != Xi.shape[1]:
        raise ValueError(f"Phi has shape {Phi.shape} but Xi has {Xi.shape[1]} columns")
    S = _as_square(S, "S", allow_complex=True)
    if S.shape != Phi.shape:
        raise ValueError(f"S must have shape {Phi.shape}, got {S.shape}")
    _full_column_rank(S, "S")
    phi2_T = np.linalg.solve(S, Phi.T @ S)
    return Xi @ S, phi2_T.T


def eigen_decomposition(W) -> tuple[np.ndarray, np.ndarray]:
    """The spectral interpretation ``(Xi, Phi) = (V, diag(lambda))`` with ``W = V diag(lambda) V^{-1}``.

    Chapter "Topological conjugacy and the isospectral continuum" (book/conjugacy.md): the
    particular case of paper Sec. 3 in which the memories are the (complex) eigenvectors of ``W``.
    Raises ValueError if ``W`` is not square or not diagonalisable (eigenvector matrix singular).
    """
    W = _as_square(W, allow_complex=True)
    lam, V = np.linalg.eig(W)
    _full_column_rank(V, "the eigenvector matrix of W (W is not diagonalisable)")
    return V, np.diag(lam)
