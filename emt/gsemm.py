"""The modified GSEMM of the paper's Eq. 1, its discretisation, and its numerical integration.

Everything here serves the chapter "From GSEMM to the Elman RNN" (book/gsemm.md),
which reproduces section 3 (Eq. 1-2) and Appendix A (Eq. 16-23) of the paper.

The model (paper's Eq. 1, the general sequential episodic memory model with the
pseudoinverse rule) is

    T_f dV_f/dt = s_f sqrt(alpha_s) Xi sigma_h(V_h)                          - V_f
    T_h dV_h/dt = s_h sqrt(alpha_s) Xi^+ sigma_f(V_f) + alpha_c Phi'^T Xi^+ V_d - V_h
    T_d dV_d/dt = s_d sigma_f(V_f)                                           - V_d

with the signs (s_f, s_h, s_d) = (-1, -1, -1) of the paper (``EQ1_SIGNS``).
V_f and V_d have N_f components, V_h has N_h, Xi is N_f x N_h with full column
rank, Phi' is N_h x N_h. Section 3 writes Phi^T = I + Phi'^T and states the
discrete map V_f(t+1) = Xi (I + Phi'^T) Xi^+ sigma_f(V_f(t)).

Two halves:

* sympy: :func:`symbolic_matrices`, :func:`eq1_rhs`, :func:`euler_equations`,
  :func:`solve_instantaneous`, the four steps of :func:`derive_discrete_map`
  (:func:`euler_system`, :func:`instantaneous_constraints`,
  :func:`solve_fast_variables`, :func:`solve_next_state`),
  :func:`appendix_a_equations`, :func:`is_zero_matrix`;
* numpy/scipy: :func:`eq1_terms`, :func:`fast_values`, :func:`reduced_rhs`,
  :func:`integrate_eq1`, :func:`integrate_reduced`, :func:`euler_step`,
  :func:`discrete_map`, :func:`iterate`, :func:`relaxation_scheme`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp
from scipy.linalg import expm
from sympy.solvers.solveset import NonlinearError

from emt import _validate

#: The signs (s_f, s_h, s_d) of the three sigma-terms of the paper's Eq. 1.
EQ1_SIGNS = (-1, -1, -1)
#: The signs of Appendix A, Eq. 16 (all terms positive).
APPENDIX_A_SIGNS = (1, 1, 1)


# ----------------------------------------------------------------------------
# checks shared by both halves
# ----------------------------------------------------------------------------


def _check_signs(signs) -> tuple[int, int, int]:
    signs = tuple(signs)
    if len(signs) != 3 or any(s not in (-1, 1) for s in signs):
        raise ValueError(f"signs must be three numbers, each +1 or -1, got {signs!r}")
    return signs  # type: ignore[return-value]


def _check_shapes(xi_shape, phi_shape) -> tuple[int, int]:
    if len(xi_shape) != 2:
        raise ValueError(f"Xi must be a matrix (N_f x N_h), got shape {xi_shape}")
    n_f, n_h = xi_shape
    if n_f < 1 or n_h < 1:
        raise ValueError(f"Xi must have at least one row and one column, got shape {xi_shape}")
    if n_h > n_f:
        raise ValueError(
            f"Xi has more memories (N_h = {n_h}) than features (N_f = {n_f}): "
            "its columns cannot be linearly independent, the pseudoinverse rule needs full column rank"
        )
    if tuple(phi_shape) != (n_h, n_h):
        raise ValueError(
            f"Phi' must be N_h x N_h = {n_h} x {n_h} to match Xi, got shape {tuple(phi_shape)}"
        )
    return n_f, n_h


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive time constant or step, got {value!r}")


# ----------------------------------------------------------------------------
# sympy half
# ----------------------------------------------------------------------------


def symbolic_matrices(n_f: int = 3, n_h: int = 2) -> SimpleNamespace:
    """Symbols for the paper's Eq. 1 with explicit small dimensions.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 1.

    Returns a namespace with the matrices ``Xi`` (n_f x n_h, entries xi_ij),
    ``Xi_pinv`` (n_h x n_f, independent entries standing for the pseudoinverse,
    so that a derivation that uses them shows which properties of Xi^+ it needs),
    ``Phi_prime`` (n_h x n_h), the state vectors ``V_f``, ``V_h``, ``V_d`` and
    ``V_f_next`` (V_f at the next time step), the undefined functions ``sigma_f``
    and ``sigma_h`` (applied componentwise), the constants ``alpha_s`` (positive,
    it appears under a square root), ``alpha_c`` (real) and the time constants
    ``T_f``, ``T_h``, ``T_d`` (non-negative).
    """
    _validate.positive_ints(n_f=n_f, n_h=n_h)
    if n_h > n_f:
        raise ValueError(f"n_h = {n_h} > n_f = {n_f}: Xi could not have full column rank")
    ns = SimpleNamespace()
    ns.Xi = sp.Matrix(n_f, n_h, lambda i, j: sp.Symbol(f"xi_{i + 1}{j + 1}"))
    ns.Xi_pinv = sp.Matrix(n_h, n_f, lambda i, j: sp.Symbol(f"xi^+_{i + 1}{j + 1}"))
    ns.Phi_prime = sp.Matrix(n_h, n_h, lambda i, j: sp.Symbol(f"phiprime_{i + 1}{j + 1}"))
    ns.V_f = sp.Matrix(sp.symbols(f"v_f1:{n_f + 1}"))
    ns.V_f_next = sp.Matrix(sp.symbols(f"v^+_f1:{n_f + 1}"))
    ns.V_h = sp.Matrix(sp.symbols(f"v_h1:{n_h + 1}"))
    ns.V_d = sp.Matrix(sp.symbols(f"v_d1:{n_f + 1}"))
    ns.sigma_f = sp.Function("sigma_f")
    ns.sigma_h = sp.Function("sigma_h")
    ns.alpha_s = sp.Symbol("alpha_s", positive=True)
    ns.alpha_c = sp.Symbol("alpha_c", real=True)
    ns.T_f, ns.T_h, ns.T_d = sp.symbols("T_f T_h T_d", nonnegative=True)
    return ns


def symbolic_pinv(Xi: sp.Matrix) -> sp.Matrix:
    """Moore-Penrose pseudoinverse (Xi^T Xi)^{-1} Xi^T of a full-column-rank sympy matrix.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), the Xi^+ of the paper's Eq. 1.
    Raises ValueError if Xi has more columns than rows or (generically, for
    symbolic entries) rank below its number of columns.
    """
    Xi = sp.Matrix(Xi)
    n_f, n_h = Xi.shape
    if n_h > n_f or Xi.rank() < n_h:
        raise ValueError(
            f"Xi ({n_f} x {n_h}) does not have full column rank (rank {Xi.rank()}): "
            "the pseudoinverse rule of Eq. 1 needs linearly independent memories"
        )
    return (Xi.T * Xi).inv() * Xi.T


def eq1_rhs(
    Xi,
    Phi_prime,
    V_f,
    V_h,
    V_d,
    *,
    alpha_s,
    alpha_c,
    sigma_f,
    sigma_h,
    Xi_pinv=None,
    signs=EQ1_SIGNS,
):
    """Right-hand sides (F_f, F_h, F_d) of the paper's Eq. 1 in sympy: T_x dV_x/dt = F_x.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 1:

        F_f = s_f sqrt(alpha_s) Xi sigma_h(V_h) - V_f
        F_h = s_h sqrt(alpha_s) Xi^+ sigma_f(V_f) + alpha_c Phi'^T Xi^+ V_d - V_h
        F_d = s_d sigma_f(V_f) - V_d

    with (s_f, s_h, s_d) = ``signs`` (the paper: all -1). ``sigma_f`` and
    ``sigma_h`` are sympy functions (or Lambdas) applied componentwise.
    ``Xi_pinv`` stands for Xi^+; if None it is computed by :func:`symbolic_pinv`,
    which needs Xi of full column rank (else ValueError). Passing a matrix of
    free symbols keeps the derivation independent of any property of Xi^+.
    """
    s_f, s_h, s_d = _check_signs(signs)
    Xi, Phi_prime = sp.Matrix(Xi), sp.Matrix(Phi_prime)
    n_f, n_h = _check_shapes(Xi.shape, Phi_prime.shape)
    V_f, V_h, V_d = sp.Matrix(V_f), sp.Matrix(V_h), sp.Matrix(V_d)
    for name, v, n in (("V_f", V_f, n_f), ("V_h", V_h, n_h), ("V_d", V_d, n_f)):
        if v.shape != (n, 1):
            raise ValueError(f"{name} must be a column of length {n}, got shape {v.shape}")
    if Xi_pinv is None:
        Xi_pinv = symbolic_pinv(Xi)
    Xi_pinv = sp.Matrix(Xi_pinv)
    if Xi_pinv.shape != (n_h, n_f):
        raise ValueError(f"Xi_pinv must be N_h x N_f = {n_h} x {n_f}, got shape {Xi_pinv.shape}")
    root = sp.sqrt(alpha_s)
    F_f = s_f * root * Xi * V_h.applyfunc(sigma_h) - V_f
    F_h = (
        s_h * root * Xi_pinv * V_f.applyfunc(sigma_f) + alpha_c * Phi_prime.T * Xi_pinv * V_d - V_h
    )
    F_d = s_d * V_f.applyfunc(sigma_f) - V_d
    return F_f, F_h, F_d


def euler_equations(F, V, V_next, T, dt=1):
    """Forward-Euler equations T (V_next - V) = dt F, one sympy Eq per component.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): the discretisation of
    the paper's Eq. 1 (section 3; Appendix A, Eq. 16 is its result). With T = 0
    the equations become the algebraic constraints 0 = F (the fast variables take
    their instantaneous values).
    """
    F, V, V_next = sp.Matrix(F), sp.Matrix(V), sp.Matrix(V_next)
    if not (F.shape == V.shape == V_next.shape) or F.shape[1] != 1:
        raise ValueError(
            f"F, V and V_next must be columns of one length, got {F.shape}, {V.shape}, {V_next.shape}"
        )
    return [sp.Eq(T * (b - a), dt * f) for f, a, b in zip(F, V, V_next)]


def solve_instantaneous(equations, unknowns) -> dict:
    """Solve algebraic equations (e.g. 0 = F_d, 0 = F_h) for the given unknowns; unique solution required.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): the fast variables of the
    paper's Eq. 1 at T_h = T_d = 0, and the Euler equation of V_f solved for
    V_f(t+1). Linear systems are solved directly (their matrix must be
    invertible), others with ``sympy.solve``. Raises ValueError if there is no
    solution or more than one.
    """
    unknowns = list(unknowns)
    equations = [e for e in equations if e is not sp.true]
    if any(e is sp.false for e in equations):
        raise ValueError("the equations are inconsistent (one of them is False)")
    try:
        A, b = sp.linear_eq_to_matrix(equations, unknowns)
    except NonlinearError:
        A = None
    if A is not None and A.shape[0] == A.shape[1] == len(unknowns):
        det = sp.simplify(A.det())
        if det == 0:
            raise ValueError(f"the linear equations do not determine {unknowns} (singular matrix)")
        x = A.LUsolve(b)
        return {u: sp.expand(v) for u, v in zip(unknowns, x)}
    solutions = sp.solve(equations, unknowns, dict=True)
    if len(solutions) != 1 or set(solutions[0]) != set(unknowns):
        raise ValueError(f"expected one solution for {unknowns}, got {solutions}")
    return solutions[0]


def show_equation(lhs, rhs) -> None:
    """Display ``lhs = rhs`` in a notebook without letting sympy evaluate the equality.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md) and its appendix.
    """
    from IPython.display import display

    display(sp.Eq(lhs, rhs, evaluate=False))


def is_zero_matrix(M) -> bool:
    """True if every entry of the sympy matrix ``M`` is identically zero.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): the test that a
    difference between two derived expressions (e.g. the map obtained from
    Eq. 1 and the map stated in section 3) vanishes. Each entry is brought over
    a common denominator and its numerator expanded; the entry is zero exactly
    when that polynomial is. Raises ValueError if ``M`` is not a matrix.
    """
    try:
        M = sp.Matrix(M)
    except (TypeError, ValueError):
        raise ValueError(
            f"M must be a sympy matrix or a nested list of expressions, got {type(M).__name__}"
        ) from None

    def numerator(e):
        return sp.expand(sp.numer(sp.together(e)))

    return M.applyfunc(numerator) == sp.zeros(*M.shape)


def euler_system(F_f, F_h, F_d, S, dt=1) -> SimpleNamespace:
    """Step 1 of the discretisation: forward Euler for all of Eq. 1.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), section 3 of the
    paper (Appendix A, Eq. 16 is the result for its own equations). With the
    right-hand sides of :func:`eq1_rhs` and the symbols of
    :func:`symbolic_matrices` in ``S``, returns a namespace with the equations
    ``f``, ``h``, ``d`` (lists of sympy Eq, one per component,
    T_x (V_x(t+dt) - V_x(t)) = dt F_x) and the next-step symbols ``V_h_next``,
    ``V_d_next`` of the fast populations (``S.V_f_next`` is V_f's).
    """
    n_f, n_h = S.Xi.shape
    V_h_next = sp.Matrix(sp.symbols(f"v^+_h1:{n_h + 1}"))
    V_d_next = sp.Matrix(sp.symbols(f"v^+_d1:{n_f + 1}"))
    return SimpleNamespace(
        f=euler_equations(F_f, S.V_f, S.V_f_next, S.T_f, dt),
        h=euler_equations(F_h, S.V_h, V_h_next, S.T_h, dt),
        d=euler_equations(F_d, S.V_d, V_d_next, S.T_d, dt),
        V_h_next=V_h_next,
        V_d_next=V_d_next,
    )


def instantaneous_constraints(euler, S) -> tuple[list, list]:
    """Step 2: set T_h = T_d = 0 in the Euler equations of V_h and V_d.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), section 3 of the
    paper (the fast populations of Eq. 1 are instantaneous; Appendix A, Eq. 16
    second and third lines). ``euler`` is the namespace of
    :func:`euler_system`. Returns the equations ``(C_h, C_d)`` after the
    substitution: their left-hand sides, and with them the next-step values of
    V_h and V_d, are gone, leaving the algebraic constraints 0 = dt F_h and
    0 = dt F_d.
    """
    C_h = [e.subs(S.T_h, 0) for e in euler.h]
    C_d = [e.subs(S.T_d, 0) for e in euler.d]
    return C_h, C_d


def solve_fast_variables(C_h, C_d, S) -> tuple[dict, dict]:
    """Step 3: solve the constraints for V_d, then (substituted) for V_h.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): the instantaneous
    values of the fast variables of Eq. 1 (Appendix A, Eq. 17-18 for its own
    equations). ``C_h``, ``C_d`` are equations in V_h, V_d and V_f (from
    :func:`instantaneous_constraints`, or Appendix A's Eq. 16 from
    :func:`appendix_a_equations`). Returns the solutions ``(sol_d, sol_h)`` as
    dicts symbol -> expression; ``sol_h`` no longer contains V_d. Raises
    ValueError (from :func:`solve_instantaneous`) unless each is unique.
    """
    sol_d = solve_instantaneous(C_d, S.V_d)
    sol_h = solve_instantaneous([c.subs(sol_d) for c in C_h], S.V_h)
    return sol_d, sol_h


def solve_next_state(E_f, sol_h, sol_d, S) -> dict:
    """Step 4: fast variables into V_f's equation, solved for V_f(t+dt).

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): the discrete map
    stated in section 3 of the paper (Appendix A, Eq. 19-20 for its own
    equations). ``E_f`` are the update equations of V_f (the ``f`` of
    :func:`euler_system`, or Appendix A's first line); ``sol_h``, ``sol_d``
    come from :func:`solve_fast_variables`. Returns the solution for
    ``S.V_f_next`` as a dict.
    """
    substituted = [e.subs(sol_h).subs(sol_d) for e in E_f]
    return solve_instantaneous(substituted, S.V_f_next)


def derive_discrete_map(F_f, F_h, F_d, S, *, dt=1):
    """Forward Euler of Eq. 1, step dt, T_h = T_d = 0, solved for V_f(t+1).

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), section 3 of the
    paper (the step from Eq. 1 to the discrete map; Appendix A, Eq. 16-20 do the
    same for their own equations). ``F_f, F_h, F_d`` are right-hand sides from
    :func:`eq1_rhs`; ``S`` is the namespace of :func:`symbolic_matrices` (state
    symbols and time constants). Composes the four steps the chapter displays
    one by one: :func:`euler_system`, :func:`instantaneous_constraints`,
    :func:`solve_fast_variables`, :func:`solve_next_state`. T_f stays symbolic.
    Returns a namespace with ``V_d``, ``V_h`` (the instantaneous values) and
    ``V_f_next``.
    """
    euler = euler_system(F_f, F_h, F_d, S, dt)
    C_h, C_d = instantaneous_constraints(euler, S)
    sol_d, sol_h = solve_fast_variables(C_h, C_d, S)
    sol_f = solve_next_state(euler.f, sol_h, sol_d, S)
    return SimpleNamespace(
        V_d=S.V_d.subs(sol_d),
        V_h=S.V_h.subs(sol_h),
        V_f_next=S.V_f_next.subs(sol_f),
    )


def coefficient_conditions(difference, generators) -> list:
    """The coefficients of a polynomial (vector) in ``generators``, all of which must vanish.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): a difference between
    a derived map and a target vanishes for every Xi, Phi', sigma_f(V_f) exactly
    when these coefficients (expressions in the remaining symbols, e.g. alpha_s,
    alpha_c, the step size) vanish; solving them gives the conditions of the
    derivation instead of assuming them.
    """
    generators = list(generators)
    conditions = []
    for entry in sp.Matrix(difference):
        entry = sp.expand(entry)
        if entry == 0:
            continue
        for c in sp.Poly(entry, *generators).coeffs():
            c = sp.expand(c)
            if c not in conditions:
                conditions.append(c)
    return conditions


def appendix_a_equations(Xi, Phi, V_f, V_f_next, V_h, V_d, *, T_f, sigma_f, sigma_h):
    """The update equations of the paper's Appendix A, Eq. 16, as sympy equations.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 16:

        T_f (V_f(t+1) - V_f(t)) = Xi sigma_h(V_h(t)) - V_f(t)
        V_h(t) = Xi^T sigma_f(V_f(t)) + Phi^T Xi^T V_d(t)
        V_d(t) = sigma_f(V_f(t))

    written as the paper writes them: Xi^T (not Xi^+), no alpha's, all signs +,
    and Phi where section 3 has Phi'.
    """
    Xi, Phi = sp.Matrix(Xi), sp.Matrix(Phi)
    n_f, n_h = _check_shapes(Xi.shape, Phi.shape)
    V_f, V_f_next, V_h, V_d = (sp.Matrix(v) for v in (V_f, V_f_next, V_h, V_d))
    for name, v, n in (
        ("V_f", V_f, n_f),
        ("V_f_next", V_f_next, n_f),
        ("V_h", V_h, n_h),
        ("V_d", V_d, n_f),
    ):
        if v.shape != (n, 1):
            raise ValueError(f"{name} must be a column of length {n}, got shape {v.shape}")
    sf = V_f.applyfunc(sigma_f)
    eq_f = [
        sp.Eq(T_f * (b - a), r) for a, b, r in zip(V_f, V_f_next, Xi * V_h.applyfunc(sigma_h) - V_f)
    ]
    eq_h = [sp.Eq(a, r) for a, r in zip(V_h, Xi.T * sf + Phi.T * Xi.T * V_d)]
    eq_d = [sp.Eq(a, r) for a, r in zip(V_d, sf)]
    return eq_f, eq_h, eq_d


# ----------------------------------------------------------------------------
# numpy / scipy half
# ----------------------------------------------------------------------------


def _identity(x):
    return x


def pinv_checked(Xi) -> np.ndarray:
    """Moore-Penrose pseudoinverse of Xi after checking that Xi has full column rank.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): the Xi^+ of the
    paper's Eq. 1 (pseudoinverse rule, Personnaz et al. 1986). Raises ValueError
    if Xi is not a matrix or its columns (the memories) are linearly dependent.
    """
    Xi = np.asarray(Xi, dtype=float)
    if Xi.ndim != 2:
        raise ValueError(f"Xi must be a matrix (N_f x N_h), got shape {Xi.shape}")
    n_f, n_h = Xi.shape
    if n_h > n_f:
        raise ValueError(f"Xi has more columns ({n_h}) than rows ({n_f}): no full column rank")
    rank = np.linalg.matrix_rank(Xi)
    if rank < n_h:
        raise ValueError(
            f"Xi ({n_f} x {n_h}) has rank {rank} < {n_h}: the memories are linearly dependent, "
            "the pseudoinverse rule of Eq. 1 needs full column rank"
        )
    return np.linalg.pinv(Xi)


class _Model:
    """Validated parameters of Eq. 1 (checked once, then used in the inner loops)."""

    def __init__(
        self,
        Xi,
        Phi_prime,
        *,
        alpha_s: float = 1.0,
        alpha_c: float = 1.0,
        sigma_f: Callable = np.tanh,
        sigma_h: Callable = _identity,
        signs=EQ1_SIGNS,
        Xi_pinv=None,
    ):
        self.s_f, self.s_h, self.s_d = _check_signs(signs)
        self.Xi = np.asarray(Xi, dtype=float)
        self.Phi_prime = np.asarray(Phi_prime, dtype=float)
        if self.Xi.ndim != 2:
            raise ValueError(f"Xi must be a matrix (N_f x N_h), got shape {self.Xi.shape}")
        self.n_f, self.n_h = _check_shapes(self.Xi.shape, self.Phi_prime.shape)
        self.P = pinv_checked(self.Xi)
        if Xi_pinv is not None:
            P = np.asarray(Xi_pinv, dtype=float)
            if P.shape != (self.n_h, self.n_f):
                raise ValueError(
                    f"Xi_pinv must be N_h x N_f = {(self.n_h, self.n_f)}, got shape {P.shape}"
                )
            self.P = P
        if not (np.isfinite(alpha_s) and alpha_s > 0):
            raise ValueError(
                f"alpha_s must be positive (it appears under a square root), got {alpha_s!r}"
            )
        if not np.isfinite(alpha_c):
            raise ValueError(f"alpha_c must be a finite number, got {alpha_c!r}")
        self.root, self.alpha_c = float(np.sqrt(alpha_s)), float(alpha_c)
        self.sigma_f, self.sigma_h = sigma_f, sigma_h
        self.coupling = self.alpha_c * self.Phi_prime.T @ self.P  # alpha_c Phi'^T Xi^+

    def vector(self, v, n, name):
        v = np.asarray(v, dtype=float)
        if v.shape != (n,):
            raise ValueError(f"{name} must be a vector of length {n}, got shape {v.shape}")
        return v

    def terms(self, v_f, v_h, v_d):
        """(F_f, F_h, F_d) of Eq. 1, no checks."""
        sf = self.sigma_f(v_f)
        F_f = self.s_f * self.root * (self.Xi @ self.sigma_h(v_h)) - v_f
        F_h = self.s_h * self.root * (self.P @ sf) + self.coupling @ v_d - v_h
        F_d = self.s_d * sf - v_d
        return F_f, F_h, F_d

    def fast(self, v_f):
        """Instantaneous (v_h, v_d): F_d = 0, then F_h = 0 (each has unit coefficient on its own variable)."""
        v_d = self.terms(v_f, np.zeros(self.n_h), np.zeros(self.n_f))[2]
        v_h = self.terms(v_f, np.zeros(self.n_h), v_d)[1]
        return v_h, v_d

    def reduced(self, v_f):
        v_h, v_d = self.fast(v_f)
        return self.terms(v_f, v_h, v_d)[0]


def _times(t_eval):
    t_eval = np.asarray(t_eval, dtype=float)
    if t_eval.ndim != 1 or len(t_eval) < 2 or np.any(np.diff(t_eval) <= 0):
        raise ValueError("t_eval must be an increasing 1-d array of at least two times")
    return t_eval


def eq1_terms(Xi, Phi_prime, v_f, v_h, v_d, **model):
    """Right-hand sides (F_f, F_h, F_d) of the paper's Eq. 1 in numpy: T_x dV_x/dt = F_x.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 1 (the
    numerical twin of :func:`eq1_rhs`). Keyword arguments (``model``):
    ``alpha_s`` (positive, default 1), ``alpha_c`` (default 1), ``sigma_f``
    (default tanh), ``sigma_h`` (default identity), ``signs`` (default
    ``EQ1_SIGNS``) and ``Xi_pinv``, which replaces Xi^+ (e.g. ``Xi.T`` for
    Appendix A's Hebbian version); Xi must have full column rank either way.
    """
    m = _Model(Xi, Phi_prime, **model)
    return m.terms(
        m.vector(v_f, m.n_f, "v_f"), m.vector(v_h, m.n_h, "v_h"), m.vector(v_d, m.n_f, "v_d")
    )


def fast_values(Xi, Phi_prime, v_f, **model):
    """Instantaneous values (v_h, v_d) of the fast variables of Eq. 1 at T_h = T_d = 0.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 1 with its
    second and third left-hand sides set to zero: F_d = 0 gives v_d, then F_h = 0
    (linear in v_h, with unit coefficient) gives v_h. ``model`` holds the keyword
    arguments of :func:`eq1_terms`.
    """
    m = _Model(Xi, Phi_prime, **model)
    return m.fast(m.vector(v_f, m.n_f, "v_f"))


def reduced_rhs(Xi, Phi_prime, v_f, *, T_f: float = 1.0, **model) -> np.ndarray:
    """dV_f/dt of the reduced flow: Eq. 1 with the fast variables at their instantaneous values.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 1 at
    T_h = T_d = 0: F_f(v_f, v_h*(v_f)) / T_f.
    """
    _check_positive(T_f=T_f)
    m = _Model(Xi, Phi_prime, **model)
    return m.reduced(m.vector(v_f, m.n_f, "v_f")) / T_f


def euler_step(Xi, Phi_prime, v_f, *, dt: float = 1.0, T_f: float = 1.0, **model) -> np.ndarray:
    """One forward-Euler step of size dt of the reduced flow of Eq. 1.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): with dt = T_f = 1 this is
    the discrete map the paper derives in section 3 (Appendix A, Eq. 16-20).
    """
    _check_positive(dt=dt, T_f=T_f)
    m = _Model(Xi, Phi_prime, **model)
    v_f = m.vector(v_f, m.n_f, "v_f")
    return v_f + dt * m.reduced(v_f) / T_f


def discrete_map(Xi, Phi_prime, v_f, *, sigma_f: Callable = np.tanh) -> np.ndarray:
    """The discrete map stated in section 3: V_f(t+1) = Xi (I + Phi'^T) Xi^+ sigma_f(V_f(t)).

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), the map below the
    paper's Eq. 1 (section 3), with Phi^T = I + Phi'^T; computed directly from
    the matrices, not from Eq. 1. Xi must have full column rank.
    """
    Xi = np.asarray(Xi, dtype=float)
    Phi_prime = np.asarray(Phi_prime, dtype=float)
    if Xi.ndim != 2:
        raise ValueError(f"Xi must be a matrix (N_f x N_h), got shape {Xi.shape}")
    n_f, n_h = _check_shapes(Xi.shape, Phi_prime.shape)
    v_f = np.asarray(v_f, dtype=float)
    if v_f.shape != (n_f,):
        raise ValueError(f"v_f must be a vector of length {n_f}, got shape {v_f.shape}")
    W = Xi @ (np.eye(n_h) + Phi_prime.T) @ pinv_checked(Xi)
    return W @ sigma_f(v_f)


def iterate(step: Callable, v0, n_steps: int) -> np.ndarray:
    """The orbit v0, step(v0), step(step(v0)), ... as an array of shape (n_steps + 1, len(v0)).

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): trajectories of the
    discrete map (section 3) and of the Euler steps of Eq. 1.
    """
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    out = [np.asarray(v0, dtype=float)]
    for _ in range(n_steps):
        out.append(np.asarray(step(out[-1]), dtype=float))
    return np.array(out)


def _solve(field, y0, t_eval, method, rtol, atol, what: str) -> np.ndarray:
    """solve_ivp over t_eval; the solution as rows (len(t_eval), dim); ValueError if it fails."""
    sol = solve_ivp(
        field, (t_eval[0], t_eval[-1]), y0, method=method, t_eval=t_eval, rtol=rtol, atol=atol
    )
    if not sol.success:
        raise ValueError(f"integration of {what} failed: {sol.message}")
    return sol.y.T


def integrate_eq1(
    Xi,
    Phi_prime,
    v_f0,
    t_eval,
    *,
    T_f: float = 1.0,
    T_h: float,
    T_d: float,
    v_h0=None,
    v_d0=None,
    method: str = "Radau",
    rtol: float = 1e-10,
    atol: float = 1e-12,
    **model,
):
    """Integrate the full system of the paper's Eq. 1 with a stiff solver.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 1 with
    positive time constants (small T_h, T_d make it stiff: Radau or BDF,
    Hairer & Wanner 1996). The fast variables start at their instantaneous values
    (:func:`fast_values`) unless ``v_h0``/``v_d0`` are given. Returns
    (V_f, V_h, V_d), arrays of shape (len(t_eval), n). ``t_eval`` must start at
    the initial time and increase. Raises ValueError on non-positive time
    constants, wrong shapes, or a failed integration.
    """
    _check_positive(T_f=T_f, T_h=T_h, T_d=T_d)
    m = _Model(Xi, Phi_prime, **model)
    n_f, n_h = m.n_f, m.n_h
    v_f0 = m.vector(v_f0, n_f, "v_f0")
    t_eval = _times(t_eval)
    h_star, d_star = m.fast(v_f0)
    v_h0 = h_star if v_h0 is None else m.vector(v_h0, n_h, "v_h0")
    v_d0 = d_star if v_d0 is None else m.vector(v_d0, n_f, "v_d0")
    scale = np.concatenate(
        [np.full(n_f, 1.0 / T_f), np.full(n_h, 1.0 / T_h), np.full(n_f, 1.0 / T_d)]
    )

    def field(_t, y):
        return scale * np.concatenate(m.terms(y[:n_f], y[n_f : n_f + n_h], y[n_f + n_h :]))

    y = _solve(field, np.concatenate([v_f0, v_h0, v_d0]), t_eval, method, rtol, atol, "Eq. 1")
    return y[:, :n_f], y[:, n_f : n_f + n_h], y[:, n_f + n_h :]


def integrate_reduced(
    Xi,
    Phi_prime,
    v_f0,
    t_eval,
    *,
    T_f: float = 1.0,
    method: str = "DOP853",
    rtol: float = 1e-11,
    atol: float = 1e-13,
    **model,
) -> np.ndarray:
    """Integrate the reduced flow T_f dV_f/dt = F_f(V_f, V_h*(V_f)) (Eq. 1 at T_h = T_d = 0).

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md), paper's Eq. 1 in the
    limit of instantaneous fast variables. Returns V_f of shape (len(t_eval), N_f).
    """
    _check_positive(T_f=T_f)
    m = _Model(Xi, Phi_prime, **model)
    v_f0 = m.vector(v_f0, m.n_f, "v_f0")
    t_eval = _times(t_eval)
    return _solve(
        lambda _t, v: m.reduced(v) / T_f, v_f0, t_eval, method, rtol, atol, "the reduced flow"
    )


def relaxation_scheme(
    Xi,
    Phi_prime,
    v_f0,
    n_steps: int,
    *,
    T_h: float,
    T_d: float,
    variant: str = "average",
    T_f: float = 1.0,
    dt: float = 1.0,
    method: str = "exact",
    rtol: float = 1e-10,
    atol: float = 1e-13,
    **model,
):
    """Euler steps of size dt for V_f while the fast variables of Eq. 1 relax within each step.

    Chapter "From GSEMM to the Elman RNN" (book/gsemm.md): a bridge between the
    paper's Eq. 1 with small T_h, T_d and its discrete map (section 3). During
    step k, V_f is frozen at V_f(k) and (V_h, V_d) follow their own equations of
    Eq. 1 (time constants T_h, T_d) for a time dt, starting where the previous
    step left them (at step 0: at their instantaneous values). Then

    * ``variant="end"``:     V_f(k+1) = V_f(k) + dt/T_f F_f(V_f(k), V_h(end of step));
    * ``variant="average"``: V_f(k+1) = V_f(k) + 1/T_f * integral over the step of
      F_f(V_f(k), V_h(s)) ds, i.e. the Euler increment with the fast variables
      as they actually are during the step.

    ``method``: "exact" integrates the step with the matrix exponential (with V_f
    frozen, the fast equations and the accumulated F_f are affine in (V_h, V_d)
    when sigma_h is linear; ValueError otherwise); "Radau" or "BDF" use the stiff
    solvers of scipy with tolerances ``rtol``, ``atol`` and work for any sigma_h.
    Returns the V_f orbit, shape (n_steps + 1, N_f).
    """
    if variant not in ("average", "end"):
        raise ValueError(f"variant must be 'average' or 'end', got {variant!r}")
    if method not in ("exact", "Radau", "BDF"):
        raise ValueError(f"method must be 'exact', 'Radau' or 'BDF', got {method!r}")
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    _check_positive(T_f=T_f, T_h=T_h, T_d=T_d, dt=dt)
    m = _Model(Xi, Phi_prime, **model)
    n_f, n_h = m.n_f, m.n_h
    n_y = n_h + 2 * n_f  # state within a step: (V_h, V_d, accumulated F_f)
    v_f = m.vector(v_f0, n_f, "v_f0")
    v_h, v_d = m.fast(v_f)
    scale = np.concatenate([np.full(n_h, 1.0 / T_h), np.full(n_f, 1.0 / T_d)])
    # With V_f frozen the fast block is linear with Jacobian [[-I/T_h, C/T_h], [0, -I/T_d]]
    # (C = alpha_c Phi'^T Xi^+); the accumulator of F_f does not feed back, so its
    # rows of the Jacobian may be left at zero for the Newton iterations of Radau/BDF.
    jac = np.zeros((n_y, n_y))
    jac[:n_h, :n_h] = -np.eye(n_h) / T_h
    jac[:n_h, n_h : n_h + n_f] = m.coupling / T_h
    jac[n_h : n_h + n_f, n_h : n_h + n_f] = -np.eye(n_f) / T_d
    probe = np.random.default_rng(0).normal(size=n_y)
    orbit = [v_f]
    for _ in range(n_steps):
        frozen = v_f

        def field(_t, y, frozen=frozen):
            F_f, F_h, F_d = m.terms(frozen, y[:n_h], y[n_h : n_h + n_f])
            return np.concatenate([scale * np.concatenate([F_h, F_d]), F_f])

        y0 = np.concatenate([v_h, v_d, np.zeros(n_f)])
        if method == "exact":
            # y' = M y + c; read M and c off the field and check that it is affine.
            c = field(0.0, np.zeros(n_y))
            M = np.column_stack([field(0.0, e) - c for e in np.eye(n_y)])
            if not np.allclose(
                field(0.0, probe), M @ probe + c, rtol=1e-9, atol=1e-9 * np.abs(M).max()
            ):
                raise ValueError(
                    "method='exact' needs a linear sigma_h; use method='Radau' or 'BDF'"
                )
            A = np.zeros((n_y + 1, n_y + 1))
            A[:n_y, :n_y], A[:n_y, n_y] = M, c
            end = (expm(A * dt) @ np.append(y0, 1.0))[:n_y]
        else:
            sol = solve_ivp(field, (0.0, dt), y0, method=method, jac=jac, rtol=rtol, atol=atol)
            if not sol.success:
                raise ValueError(f"relaxation of the fast variables failed: {sol.message}")
            end = sol.y[:, -1]
        v_h, v_d, accumulated = end[:n_h], end[n_h : n_h + n_f], end[n_h + n_f :]
        if variant == "end":
            increment = dt * m.terms(frozen, v_h, v_d)[0]
        else:
            increment = accumulated
        v_f = frozen + increment / T_f
        orbit.append(v_f)
    return np.array(orbit)
