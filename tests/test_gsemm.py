"""Tests of emt.gsemm: the paper's Eq. 1, its discretisation and its integration.

Chapter "From GSEMM to the Elman RNN" (book/gsemm.md).
"""

import matplotlib
import numpy as np
import pytest
import sympy as sp

from emt import gsemm as gs

matplotlib.use("Agg")

x = sp.Symbol("x")
IDENTITY = sp.Lambda(x, x)
XI = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 2.0]])  # non-orthogonal, full column rank
PHI_PRIME = np.array([[-1.0, 2.0], [2.0, -1.0]])


zero = gs.is_zero_matrix  # shared with the chapter book/gsemm.md


@pytest.fixture(scope="module")
def S():
    return gs.symbolic_matrices(3, 2)


def general_rhs(S, **overrides):
    """Eq. 1's right-hand sides, every constant and function symbolic unless overridden."""
    kw = dict(
        alpha_s=S.alpha_s,
        alpha_c=S.alpha_c,
        sigma_f=S.sigma_f,
        sigma_h=S.sigma_h,
        Xi_pinv=S.Xi_pinv,
    )
    return gs.eq1_rhs(S.Xi, S.Phi_prime, S.V_f, S.V_h, S.V_d, **{**kw, **overrides})


def derived_map(S, signs=gs.EQ1_SIGNS, sigma_h=IDENTITY, Xi_pinv=None):
    F = general_rhs(
        S,
        sigma_h=sigma_h,
        Xi_pinv=S.Xi_pinv if Xi_pinv is None else Xi_pinv,
        signs=signs,
    )
    return gs.derive_discrete_map(*F, S, dt=1).V_f_next.subs(S.T_f, 1)


def target(S):
    return S.Xi * (sp.eye(2) + S.Phi_prime.T) * S.Xi_pinv * S.V_f.applyfunc(S.sigma_f)


def generators(S):
    return (
        list(S.Xi)
        + list(S.Xi_pinv)
        + list(S.Phi_prime)
        + list(S.V_f.applyfunc(S.sigma_f))
        + list(S.V_f)
    )


# ---------------------------------------------------------------- sympy half


def test_eq1_gives_section_3_map_at_unit_alphas(S):
    m = derived_map(S).subs({S.alpha_s: 1, S.alpha_c: 1})
    assert zero(m - target(S))


def test_general_alphas_enter_as_alpha_s_and_sqrt_alpha_s_alpha_c(S):
    m = derived_map(S)
    general = (
        S.Xi
        * (S.alpha_s * sp.eye(2) + sp.sqrt(S.alpha_s) * S.alpha_c * S.Phi_prime.T)
        * S.Xi_pinv
        * S.V_f.applyfunc(S.sigma_f)
    )
    assert zero(m - general)


def test_alphas_are_solved_uniquely(S):
    conds = gs.coefficient_conditions(derived_map(S) - target(S), generators(S))
    assert sp.solve(conds, [S.alpha_s, S.alpha_c], dict=True) == [{S.alpha_s: 1, S.alpha_c: 1}]


@pytest.mark.parametrize("flip", range(3))
def test_a_single_flipped_sign_breaks_the_map(S, flip):
    signs = list(gs.EQ1_SIGNS)
    signs[flip] *= -1
    m = derived_map(S, signs=tuple(signs)).subs({S.alpha_s: 1, S.alpha_c: 1})
    assert not zero(m - target(S))


def test_step_size_must_equal_T_f(S):
    dt = sp.Symbol("Delta_t", positive=True)
    F = gs.eq1_rhs(
        S.Xi,
        S.Phi_prime,
        S.V_f,
        S.V_h,
        S.V_d,
        alpha_s=1,
        alpha_c=1,
        sigma_f=S.sigma_f,
        sigma_h=IDENTITY,
        Xi_pinv=S.Xi_pinv,
    )
    m = gs.derive_discrete_map(*F, S, dt=dt).V_f_next
    conds = gs.coefficient_conditions(m - target(S), generators(S))
    assert sp.solve(conds, [dt], dict=True) == [{dt: S.T_f}]


def test_tanh_sigma_h_breaks_the_map(S):
    m = derived_map(S, sigma_h=sp.Lambda(x, sp.tanh(x))).subs({S.alpha_s: 1, S.alpha_c: 1})
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 2))
    values = {
        **dict(zip(S.Xi, X.ravel())),
        **dict(zip(S.Xi_pinv, np.linalg.pinv(X).ravel())),
        **dict(zip(S.Phi_prime, rng.normal(size=4))),
        **dict(zip(S.V_f.applyfunc(S.sigma_f), rng.normal(size=3))),
    }
    diff = (m - target(S)).subs(values)
    assert max(abs(float(d)) for d in diff) > 1e-3


def test_fast_variables_instantaneous_values(S):
    F = general_rhs(S)
    d = gs.derive_discrete_map(*F, S)
    sf = S.V_f.applyfunc(S.sigma_f)
    assert zero(d.V_d + sf)
    assert zero(
        d.V_h + (sp.sqrt(S.alpha_s) * sp.eye(2) + S.alpha_c * S.Phi_prime.T) * S.Xi_pinv * sf
    )


def test_appendix_a_gives_its_eq20_and_differs_for_non_orthogonal_xi(S):
    eq_f, eq_h, eq_d = gs.appendix_a_equations(
        S.Xi,
        S.Phi_prime,
        S.V_f,
        S.V_f_next,
        S.V_h,
        S.V_d,
        T_f=1,
        sigma_f=S.sigma_f,
        sigma_h=IDENTITY,
    )
    sol_d, sol_h = gs.solve_fast_variables(eq_h, eq_d, S)
    m = S.V_f_next.subs(gs.solve_next_state(eq_f, sol_h, sol_d, S))
    sf = S.V_f.applyfunc(S.sigma_f)
    assert zero(m - S.Xi * (sp.eye(2) + S.Phi_prime.T) * S.Xi.T * sf)
    Xc = sp.Matrix(XI.astype(int))
    sub = {**dict(zip(S.Xi, Xc)), **dict(zip(S.Xi_pinv, gs.symbolic_pinv(Xc)))}
    assert not zero((m - target(S)).subs(sub))
    Xo = sp.Matrix([[1, 2], [2, 1], [2, -2]]) / 3
    sub = {**dict(zip(S.Xi, Xo)), **dict(zip(S.Xi_pinv, gs.symbolic_pinv(Xo)))}
    assert zero((m - target(S)).subs(sub))


def test_is_zero_matrix_decides_both_ways():
    a, b = sp.symbols("a b")
    square = (a + b) ** 2 - a**2 - 2 * a * b - b**2
    assert gs.is_zero_matrix(sp.Matrix([a / (a + 1) - 1 + 1 / (a + 1), square]))
    assert gs.is_zero_matrix(sp.zeros(2, 3))
    assert not gs.is_zero_matrix(sp.Matrix([0, a / (a + 1) - 1]))
    assert not gs.is_zero_matrix([[a * b - b * a + sp.Rational(1, 10**30)]])
    with pytest.raises(ValueError, match="sympy matrix"):
        gs.is_zero_matrix("not a matrix")


def test_discretisation_steps_one_by_one(S):
    """Each step transforms the previous one; derive_discrete_map composes."""
    F = general_rhs(S)
    euler = gs.euler_system(*F, S, dt=1)
    assert len(euler.f) == 3 and len(euler.h) == 2 and len(euler.d) == 3
    nxt = set(euler.V_h_next) | set(euler.V_d_next)
    assert all(e.free_symbols & nxt for e in euler.h + euler.d)
    assert all(S.T_h in e.free_symbols for e in euler.h)
    C_h, C_d = gs.instantaneous_constraints(euler, S)
    assert not any(c.free_symbols & (nxt | {S.T_h, S.T_d}) for c in C_h + C_d)
    sol_d, sol_h = gs.solve_fast_variables(C_h, C_d, S)
    assert not any(v in e.free_symbols for e in sol_h.values() for v in S.V_d)
    assert zero(sp.Matrix([c.lhs - c.rhs for c in C_d]).subs(sol_d))
    assert zero(sp.Matrix([c.lhs - c.rhs for c in C_h]).subs(sol_h).subs(sol_d))
    sol_f = gs.solve_next_state(euler.f, sol_h, sol_d, S)
    residual = sp.Matrix([e.lhs - e.rhs for e in euler.f])
    assert zero(residual.subs(sol_h).subs(sol_d).subs(sol_f))
    d = gs.derive_discrete_map(*F, S)
    assert zero(d.V_f_next - S.V_f_next.subs(sol_f))
    assert zero(d.V_h - S.V_h.subs(sol_h))
    # the constraints fix the fast variables only once T_h, T_d are zero:
    # with T_h kept, V_h's equation still holds its next-step value
    kept = sp.Matrix([e.lhs - e.rhs for e in euler.h])
    assert not zero(kept.subs(sol_h).subs(sol_d))


def test_symbolic_pinv_is_left_inverse_and_rejects_rank_deficiency():
    Xc = sp.Matrix([[1, 1], [1, 0], [0, 2]])
    P = gs.symbolic_pinv(Xc)
    assert P * Xc == sp.eye(2)
    assert P == Xc.pinv()
    with pytest.raises(ValueError, match="full column rank"):
        gs.symbolic_pinv(sp.Matrix([[1, 2], [1, 2], [2, 4]]))
    with pytest.raises(ValueError, match="full column rank"):
        gs.symbolic_pinv(sp.Matrix([[1, 2, 3], [4, 5, 6]]))


def test_eq1_rhs_value_errors(S):
    kw = dict(alpha_s=1, alpha_c=1, sigma_f=S.sigma_f, sigma_h=S.sigma_h)
    with pytest.raises(ValueError, match="Phi'"):
        gs.eq1_rhs(S.Xi, sp.eye(3), S.V_f, S.V_h, S.V_d, **kw)
    with pytest.raises(ValueError, match="V_f"):
        gs.eq1_rhs(S.Xi, S.Phi_prime, S.V_h, S.V_h, S.V_d, **kw)
    with pytest.raises(ValueError, match="Xi_pinv"):
        gs.eq1_rhs(S.Xi, S.Phi_prime, S.V_f, S.V_h, S.V_d, Xi_pinv=S.Xi, **kw)
    with pytest.raises(ValueError, match="signs"):
        gs.eq1_rhs(S.Xi, S.Phi_prime, S.V_f, S.V_h, S.V_d, signs=(1, 0, 1), **kw)
    with pytest.raises(ValueError, match="more memories"):
        gs.eq1_rhs(
            S.Xi.T,
            S.Phi_prime.row_insert(2, sp.zeros(1, 2)).col_insert(2, sp.zeros(3, 1)),
            S.V_h,
            S.V_f,
            S.V_h,
            **kw,
        )
    with pytest.raises(ValueError, match="full column rank"):
        gs.eq1_rhs(sp.Matrix([[1, 2], [1, 2], [2, 4]]), S.Phi_prime, S.V_f, S.V_h, S.V_d, **kw)


def test_symbolic_helpers_value_errors(S):
    with pytest.raises(ValueError):
        gs.symbolic_matrices(2, 3)
    with pytest.raises(ValueError):
        gs.symbolic_matrices(0, 1)
    with pytest.raises(ValueError, match="columns"):
        gs.euler_equations(S.V_f, S.V_h, S.V_f, 1)
    a, b = sp.symbols("a b")
    with pytest.raises(ValueError, match="singular"):
        gs.solve_instantaneous([sp.Eq(a + b, 1), sp.Eq(2 * a + 2 * b, 2)], [a, b])
    with pytest.raises(ValueError, match="one solution"):
        gs.solve_instantaneous([sp.Eq(a**2, 1)], [a])


# ---------------------------------------------------------------- numpy half


def test_euler_step_of_eq1_is_the_discrete_map():
    rng = np.random.default_rng(1)
    for _ in range(10):
        v = rng.normal(size=3) * 2
        assert np.allclose(
            gs.euler_step(XI, PHI_PRIME, v), gs.discrete_map(XI, PHI_PRIME, v), atol=1e-12
        )


def test_numeric_general_alphas():
    rng = np.random.default_rng(2)
    for _ in range(5):
        X, Pp, v = rng.normal(size=(3, 2)), rng.normal(size=(2, 2)), rng.normal(size=3)
        a_s, a_c = rng.uniform(0.2, 3.0, size=2)
        expected = (
            X @ (a_s * np.eye(2) + np.sqrt(a_s) * a_c * Pp.T) @ np.linalg.pinv(X) @ np.tanh(v)
        )
        assert np.allclose(gs.euler_step(X, Pp, v, alpha_s=a_s, alpha_c=a_c), expected, atol=1e-12)


def test_hebbian_variant_differs_for_non_orthogonal_memories():
    v = np.array([0.3, -0.7, 1.1])
    hebb = gs.euler_step(XI, PHI_PRIME, v, Xi_pinv=XI.T)
    assert np.abs(hebb - gs.discrete_map(XI, PHI_PRIME, v)).max() > 1e-3
    Q = np.array([[1.0, 2.0], [2.0, 1.0], [2.0, -2.0]]) / 3
    assert np.allclose(
        gs.euler_step(Q, PHI_PRIME, v, Xi_pinv=Q.T), gs.discrete_map(Q, PHI_PRIME, v), atol=1e-12
    )


def test_fast_values_zero_the_fast_equations():
    v = np.array([0.2, -1.0, 0.5])
    h, d = gs.fast_values(XI, PHI_PRIME, v, alpha_s=2.0, alpha_c=0.3)
    _, F_h, F_d = gs.eq1_terms(XI, PHI_PRIME, v, h, d, alpha_s=2.0, alpha_c=0.3)
    assert np.abs(F_h).max() < 1e-14 and np.abs(F_d).max() < 1e-14


def test_full_system_approaches_reduced_flow():
    v0 = np.array([0.6, 1.2, -1.4])
    t = np.linspace(0, 3, 31)
    red = gs.integrate_reduced(XI, PHI_PRIME, v0, t)
    errs = [
        np.abs(gs.integrate_eq1(XI, PHI_PRIME, v0, t, T_h=e, T_d=e)[0] - red).max()
        for e in (1e-2, 1e-3)
    ]
    assert errs[1] < errs[0] / 5
    assert errs[1] < 1e-2


def test_relaxation_scheme_approaches_discrete_map_and_methods_agree():
    v0 = np.array([0.6, 1.2, -1.4])
    orbit = gs.iterate(lambda v: gs.discrete_map(XI, PHI_PRIME, v), v0, 4)
    for variant in ("average", "end"):
        exact = gs.relaxation_scheme(XI, PHI_PRIME, v0, 4, T_h=1e-3, T_d=1e-3, variant=variant)
        radau = gs.relaxation_scheme(
            XI, PHI_PRIME, v0, 4, T_h=1e-3, T_d=1e-3, variant=variant, method="Radau"
        )
        assert np.abs(exact - radau).max() < 1e-8
        assert np.abs(exact - orbit).max() < 0.05
    average = gs.relaxation_scheme(XI, PHI_PRIME, v0, 4, T_h=1e-3, T_d=1e-3, variant="average")
    assert np.abs(average - orbit).max() > 1e-4  # the fast variables lag: an O(eps) error, not zero
    end = gs.relaxation_scheme(XI, PHI_PRIME, v0, 4, T_h=0.03, T_d=0.03, variant="end")
    assert np.abs(end - orbit).max() < 1e-9


def test_numeric_value_errors():
    v = np.zeros(3)
    with pytest.raises(ValueError, match="rank"):
        gs.pinv_checked(np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(ValueError, match="matrix"):
        gs.pinv_checked(np.ones(3))
    with pytest.raises(ValueError, match="more columns"):
        gs.pinv_checked(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Phi'"):
        gs.discrete_map(XI, np.eye(3), v)
    with pytest.raises(ValueError, match="v_f"):
        gs.discrete_map(XI, PHI_PRIME, np.zeros(2))
    with pytest.raises(ValueError, match="alpha_s"):
        gs.euler_step(XI, PHI_PRIME, v, alpha_s=0.0)
    with pytest.raises(ValueError, match="signs"):
        gs.eq1_terms(XI, PHI_PRIME, v, np.zeros(2), v, signs=(1, 1))
    with pytest.raises(ValueError, match="v_h"):
        gs.eq1_terms(XI, PHI_PRIME, v, np.zeros(3), v)
    with pytest.raises(ValueError, match="Xi_pinv"):
        gs.eq1_terms(XI, PHI_PRIME, v, np.zeros(2), v, Xi_pinv=XI)
    t = np.linspace(0, 1, 5)
    for bad in (dict(T_h=0.0, T_d=0.1), dict(T_h=0.1, T_d=-1.0), dict(T_h=0.1, T_d=0.1, T_f=0.0)):
        with pytest.raises(ValueError, match="positive"):
            gs.integrate_eq1(XI, PHI_PRIME, v, t, **bad)
    with pytest.raises(ValueError, match="increasing"):
        gs.integrate_eq1(XI, PHI_PRIME, v, t[::-1], T_h=0.1, T_d=0.1)
    with pytest.raises(ValueError, match="v_f0"):
        gs.integrate_reduced(XI, PHI_PRIME, np.zeros(4), t)
    with pytest.raises(ValueError, match="positive"):
        gs.euler_step(XI, PHI_PRIME, v, dt=0.0)
    with pytest.raises(ValueError, match="variant"):
        gs.relaxation_scheme(XI, PHI_PRIME, v, 2, T_h=0.1, T_d=0.1, variant="middle")
    with pytest.raises(ValueError, match="method"):
        gs.relaxation_scheme(XI, PHI_PRIME, v, 2, T_h=0.1, T_d=0.1, method="RK45")
    with pytest.raises(ValueError, match="n_steps"):
        gs.relaxation_scheme(XI, PHI_PRIME, v, -1, T_h=0.1, T_d=0.1)
    with pytest.raises(ValueError, match="positive"):
        gs.relaxation_scheme(XI, PHI_PRIME, v, 2, T_h=0.0, T_d=0.1)
    with pytest.raises(ValueError, match="linear sigma_h"):
        gs.relaxation_scheme(XI, PHI_PRIME, np.ones(3), 2, T_h=0.1, T_d=0.1, sigma_h=np.tanh)
    with pytest.raises(ValueError, match="n_steps"):
        gs.iterate(lambda u: u, v, 1.5)


def test_nonlinear_sigma_h_runs_with_radau():
    v0 = np.array([0.6, 1.2, -1.4])
    orbit = gs.relaxation_scheme(
        XI, PHI_PRIME, v0, 2, T_h=1e-3, T_d=1e-3, sigma_h=np.tanh, method="Radau"
    )
    assert orbit.shape == (3, 3) and np.all(np.isfinite(orbit))


# ---------------------------------------------------------------- plotting


def test_convergence_figure_and_its_value_error():
    from emt.plotting import gsemm as plots

    eps = np.array([1e-1, 1e-2, 1e-3])
    fig = plots.convergence(eps, eps, eps, 2 * eps, eps, np.array([1e-2, 1e-8, 0.0]), gap=1.0)
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="one length"):
        plots.convergence(eps, eps[:2], eps, eps, eps, eps, gap=1.0)
