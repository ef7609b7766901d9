"""Unit tests of emt.dynamics (chapter "Topological conjugacy and the isospectral continuum")."""

from __future__ import annotations

import numpy as np
import pytest

from emt import dynamics as dyn

#: seed of the ``rng`` fixture (tests/conftest.py)
RNG_SEED = 1234


# --------------------------------------------------------------------------- maps
def test_maps_match_definitions(rng):
    W = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    assert np.allclose(dyn.f(x, W), W @ np.tanh(x), atol=0, rtol=1e-15)
    assert np.allclose(dyn.g(x, W), np.tanh(W @ x), atol=0, rtol=1e-15)
    assert np.array_equal(dyn.h(x), np.tanh(x))
    assert np.array_equal(dyn.sigma(x), np.tanh(x))
    # f and g differ (the order of W and sigma matters)
    assert np.abs(dyn.f(x, W) - dyn.g(x, W)).max() > 1e-2
    # a non-symmetric W: the transpose would give a different map
    assert np.abs(dyn.g(x, W) - dyn.g(x, W.T)).max() > 1e-3


def test_batch_states_are_columns(rng):
    W = rng.standard_normal((3, 3))
    X = rng.standard_normal((3, 5))
    for step in (dyn.f, dyn.g):
        batch = step(X, W)
        cols = np.stack([step(X[:, j], W) for j in range(5)], axis=1)
        assert np.allclose(batch, cols, atol=1e-15)


def test_h_inv_inverts_h_on_the_cube(rng):
    y = rng.uniform(-0.999, 0.999, 50)
    assert np.allclose(dyn.h(dyn.h_inv(y)), y, atol=1e-15)
    x = rng.uniform(-5, 5, 50)
    assert np.allclose(dyn.h_inv(dyn.h(x)), x, atol=1e-11)


@pytest.mark.parametrize("norm", [0.3, 1.0, 3.0, 30.0])
def test_conjugacy_holds_for_any_norm(rng, norm):
    W = dyn.random_with_norm(5, norm, rng)
    x0 = 2.0 * rng.standard_normal((5, 10))
    gap = dyn.conjugacy_gap(x0, W, 50)
    assert gap.shape == (51,)
    assert gap.max() <= 1e-12
    # and explicitly, step by step
    x, y = x0, dyn.h(x0)
    for _ in range(50):
        x, y = dyn.f(x, W), dyn.g(y, W)
    assert np.abs(dyn.h(x) - y).max() <= 1e-12


def test_paper_form_in_float_and_with_more_digits(rng):
    W = dyn.random_with_norm(4, 2.0, rng)
    x0 = rng.standard_normal(4)
    assert dyn.inverse_form_gap(x0, W, 50).max() <= 1e-9
    gap_mp = dyn.inverse_form_gap(x0, W, 20, prec=100)
    assert gap_mp.shape == (21,) and gap_mp.max() < 1e-20


def test_paper_form_saturates_in_float(rng):
    W = 30.0 * np.eye(2)
    x0 = np.array([1.0, -1.0])  # f(x0) = 30 tanh(1) ~ 22.8 > 19: tanh rounds to 1
    gap = dyn.inverse_form_gap(x0, W, 5)
    assert gap[0] == 0 and np.all(np.isinf(gap[1:]))
    assert dyn.inverse_form_gap(x0, W, 5, prec=200).max() < 1e-30
    assert dyn.conjugacy_gap(x0, W, 5).max() == 0.0


def test_trajectories(rng):
    W = rng.standard_normal((3, 3))
    x0 = rng.standard_normal(3)
    T = dyn.f_trajectory(x0, W, 4)
    assert T.shape == (5, 3)
    assert np.array_equal(T[0], x0)
    assert np.allclose(T[2], dyn.f(dyn.f(x0, W), W), atol=0)
    G = dyn.g_trajectory(np.tanh(x0), W, 4)
    assert np.allclose(G[3], dyn.g(dyn.g(dyn.g(np.tanh(x0), W), W), W), atol=0)
    assert dyn.f_trajectory(x0, W, 0).shape == (1, 3)
    assert dyn.trajectory(dyn.g, np.zeros((3, 2)), W, 2).shape == (3, 3, 2)


def test_jacobians_and_chain_rule(rng):
    W = dyn.random_with_norm(4, 3.0, rng)
    x = rng.standard_normal(4)
    eps = 1e-6
    num_f = np.stack(
        [(dyn.f(x + eps * e, W) - dyn.f(x - eps * e, W)) / (2 * eps) for e in np.eye(4)], axis=1
    )
    num_g = np.stack(
        [(dyn.g(x + eps * e, W) - dyn.g(x - eps * e, W)) / (2 * eps) for e in np.eye(4)], axis=1
    )
    assert np.allclose(dyn.jacobian_f(x, W), num_f, atol=1e-8)
    assert np.allclose(dyn.jacobian_g(x, W), num_g, atol=1e-8)
    left = np.diag(1 - np.tanh(dyn.f(x, W)) ** 2) @ dyn.jacobian_f(x, W)
    right = dyn.jacobian_g(dyn.h(x), W) @ np.diag(1 - np.tanh(x) ** 2)
    assert np.abs(left - right).max() < 1e-12
    assert np.array_equal(dyn.jacobian_f(np.zeros(4), W), W)
    assert np.array_equal(dyn.jacobian_g(np.zeros(4), W), W)


def test_lyapunov_exponent_signs(rng):
    W = dyn.random_with_norm(6, 0.5, rng)
    lam = dyn.lyapunov_exponent(rng.standard_normal(6), W, 200)
    assert lam <= np.log(0.5) + 1e-9  # contraction: at most log ||W||
    # the definition on a short orbit: lambda = (1/N) sum_k log |w (1 - tanh(x_k)^2)| in one dimension
    w, x0 = 1.7, 0.8
    x1 = w * np.tanh(x0)
    expected = 0.5 * (np.log(w * (1 - np.tanh(x0) ** 2)) + np.log(w * (1 - np.tanh(x1) ** 2)))
    assert abs(dyn.lyapunov_exponent([x0], [[w]], 2) - expected) < 1e-14
    y0 = np.tanh(x0)
    expected_g = np.log(w * (1 - np.tanh(w * y0) ** 2))
    assert abs(dyn.lyapunov_exponent([y0], [[w]], 1, map="g") - expected_g) < 1e-14
    W1 = 0.5 * np.eye(3)  # linearisation at 0: exactly log 0.5 once the orbit is at 0
    assert abs(dyn.lyapunov_exponent(np.zeros(3), W1, 10) - np.log(0.5)) < 1e-12
    n = 40
    Wc = 3.0 * rng.standard_normal((n, n)) / np.sqrt(n)
    x0 = rng.standard_normal(n)
    lam_f = dyn.lyapunov_exponent(x0, Wc, 2000, burn_in=100)
    lam_g = dyn.lyapunov_exponent(np.tanh(x0), Wc, 2000, burn_in=100, map="g")
    assert lam_f > 0.05
    assert abs(lam_f - lam_g) < 0.02  # conjugate orbits, same exponent


# --------------------------------------------------------------------------- isospectral continuum
def test_compose_definition_and_pinv(rng):
    Xi = rng.standard_normal((7, 4))
    Phi = rng.standard_normal((4, 4))
    W = dyn.compose(Xi, Phi)
    assert W.shape == (7, 7)
    assert np.allclose(W, Xi @ Phi.T @ np.linalg.pinv(Xi), atol=1e-13)
    assert np.allclose(W @ Xi, Xi @ Phi.T, atol=1e-12)
    # with Xi^T in place of Xi^+ the result differs for non-orthonormal Xi
    assert np.abs(W - Xi @ Phi.T @ Xi.T).max() > 1e-2
    # square Xi: the pseudoinverse is the inverse
    Xs = rng.standard_normal((4, 4))
    assert np.allclose(dyn.compose(Xs, Phi), Xs @ Phi.T @ np.linalg.inv(Xs), atol=1e-12)


@pytest.mark.parametrize("complex_xi", [False, True])
@pytest.mark.parametrize("n_f", [5, 9])
def test_isospectral(rng, complex_xi, n_f):
    n_h = 5
    Phi = rng.standard_normal((n_h, n_h))
    Xi = rng.standard_normal((n_f, n_h))
    if complex_xi:
        Xi = Xi + 1j * rng.standard_normal((n_f, n_h))
    W = dyn.compose(Xi, Phi)
    pred = dyn.predicted_spectrum(Phi, n_f)
    assert pred.size == n_f and np.count_nonzero(pred[n_h:]) == 0
    _, dist = dyn.match_spectra(pred, np.linalg.eigvals(W))
    assert dist < 1e-9


def test_match_spectra():
    a = np.array([1.0, 2.0 + 1j, -3.0])
    b = np.array([-3.0 + 1e-9, 1.0, 2.0 + 1j])
    perm, dist = dyn.match_spectra(a, b)
    assert np.array_equal(b[perm], np.array([1.0, 2.0 + 1j, -3.0 + 1e-9]))
    assert abs(dist - 1e-9) < 1e-15
    _, d2 = dyn.match_spectra(a, np.array([1.0, 2.0 - 1j, -3.0]))
    assert abs(d2 - 2.0) < 1e-12


def test_match_spectra_zero_tol_counts_zeros_apart():
    # a Jordan chain of length 3 at 0: computed eigenvalues scatter ~ eps^(1/3)
    J = np.diag(np.ones(2), 1)
    J[2, 0] = 1e-15
    W = np.zeros((5, 5))
    W[:3, :3] = J
    W[3:, 3:] = [[0.0, -1.0], [1.0, 0.0]]  # eigenvalues +-i
    ev = np.linalg.eigvals(W)
    theory = np.array([1j, -1j, 0.0])  # the zero eigenvalue listed once only
    with pytest.raises(ValueError, match="different sizes"):
        dyn.match_spectra(ev, theory)
    perm, dist = dyn.match_spectra(ev, theory, zero_tol=0.1)
    assert dist < 1e-12 and perm.shape == (2,)
    kept = theory[np.abs(theory) > 0.1]
    assert np.allclose(kept[perm], ev[np.abs(ev) > 0.1], atol=1e-12)
    # without zero_tol the scattered zeros are what limits the match
    assert dyn.match_spectra(ev, np.array([1j, -1j, 0, 0, 0]))[1] > 1e-6
    # a wrong nonzero eigenvalue is still seen, a missing one is refused
    wrong = np.array([1j, -1.1j, 0.0])
    assert dyn.match_spectra(ev, wrong, zero_tol=0.1)[1] > 0.09
    with pytest.raises(ValueError, match="modulus > zero_tol"):
        dyn.match_spectra(ev, np.array([1j, 0.0]), zero_tol=0.1)
    assert dyn.match_spectra([0.0, 1e-3], [0.0], zero_tol=0.1)[1] == 0.0
    for bad in (-1.0, np.nan, "x", True):
        with pytest.raises(ValueError, match="zero_tol"):
            dyn.match_spectra(ev, ev, zero_tol=bad)


def test_random_with_norm_and_spectral_norm(rng):
    for norm in (0.0, 0.9, 30.0):
        W = dyn.random_with_norm(6, norm, rng)
        assert W.shape == (6, 6)
        assert abs(dyn.spectral_norm(W) - norm) < 1e-12 * max(1.0, norm)
        assert abs(np.linalg.norm(W, 2) - norm) < 1e-12 * max(1.0, norm)
    # reproducible from a seed, and not a multiple of a fixed matrix
    a = dyn.random_with_norm(4, 2.0, np.random.default_rng(5))
    b = dyn.random_with_norm(4, 2.0, np.random.default_rng(5))
    c = dyn.random_with_norm(4, 2.0, np.random.default_rng(6))
    assert np.array_equal(a, b) and np.abs(a - c).max() > 1e-2
    assert abs(dyn.spectral_norm(np.diag([3.0, -4.0])) - 4.0) < 1e-15
    for args, match in (
        ((0, 1.0, rng), "n must"),
        ((2.5, 1.0, rng), "n must"),
        ((3, -1.0, rng), "norm"),
        ((3, np.inf, rng), "norm"),
        ((3, 1.0, 7), "Generator"),
    ):
        with pytest.raises(ValueError, match=match):
            dyn.random_with_norm(*args)
    with pytest.raises(ValueError, match="square"):
        dyn.spectral_norm(np.zeros((2, 3)))


def test_second_decomposition_and_decompose(rng):
    Phi = rng.standard_normal((4, 4))
    S = rng.standard_normal((4, 4))
    for n_f in (4, 6):
        Xi = rng.standard_normal((n_f, 4))
        W = dyn.compose(Xi, Phi)
        Xi2, Phi2 = dyn.second_decomposition(Xi, Phi, S)
        assert np.allclose(Xi2, Xi @ S)
        assert np.allclose(Phi2.T, np.linalg.inv(S) @ Phi.T @ S, atol=1e-12)
        assert np.abs(dyn.compose(Xi2, Phi2) - W).max() < 1e-12
        assert np.linalg.norm(Phi2 - Phi) > 0.1 * np.linalg.norm(Phi)
    Xs = rng.standard_normal((4, 4))
    W = dyn.compose(Xs, Phi)
    assert np.allclose(dyn.decompose(W, Xs), Phi, atol=1e-11)


def test_eigen_decomposition(rng):
    W = rng.standard_normal((5, 5))
    V, Lam = dyn.eigen_decomposition(W)
    assert np.iscomplexobj(V)
    assert np.abs(dyn.compose(V, Lam) - W).max() < 1e-12
    assert np.allclose(Lam, np.diag(np.diag(Lam)))


# --------------------------------------------------------------------------- ValueErrors
def test_value_errors_maps(rng):
    W = rng.standard_normal((3, 3))
    with pytest.raises(ValueError, match="square"):
        dyn.f(np.zeros(3), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="square"):
        dyn.g(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        dyn.f(np.zeros(4), W)
    with pytest.raises(ValueError, match="shape"):
        dyn.g(np.zeros((2, 5)), W)
    with pytest.raises(ValueError, match="real"):
        dyn.f(np.zeros(3), W + 1j)
    with pytest.raises(ValueError, match="non-finite"):
        dyn.g(np.zeros(3), np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="open cube"):
        dyn.h_inv(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="open cube"):
        dyn.h_inv(np.array([-1.5]))
    with pytest.raises(ValueError, match="non-finite"):
        dyn.h_inv(np.array([np.nan]))
    with pytest.raises(ValueError, match="non-finite"):
        dyn.h(np.array([np.inf]))


def test_value_errors_trajectories(rng):
    W = rng.standard_normal((3, 3))
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            dyn.f_trajectory(np.zeros(3), W, bad)
    with pytest.raises(ValueError, match="shape"):
        dyn.conjugacy_gap(np.zeros(2), W, 3)
    with pytest.raises(ValueError, match="prec"):
        dyn.inverse_form_gap(np.zeros(3), W, 3, prec=10)
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        dyn.inverse_form_gap(np.zeros((3, 2)), W, 3, prec=100)
    with pytest.raises(ValueError, match="single state"):
        dyn.jacobian_f(np.zeros((3, 2)), W)
    with pytest.raises(ValueError, match="single state"):
        dyn.jacobian_g(np.zeros((3, 2)), W)
    with pytest.raises(ValueError, match="at least 1"):
        dyn.lyapunov_exponent(np.zeros(3), W, 0)
    with pytest.raises(ValueError, match="map"):
        dyn.lyapunov_exponent(np.zeros(3), W, 5, map="h")


def test_value_errors_decompositions(rng):
    Phi = rng.standard_normal((3, 3))
    with pytest.raises(ValueError, match="full column rank"):
        dyn.compose(rng.standard_normal((2, 3)), Phi)  # more memories than dimensions
    Xi_dep = rng.standard_normal((5, 3))
    Xi_dep[:, 2] = 2 * Xi_dep[:, 0]
    with pytest.raises(ValueError, match="rank deficient"):
        dyn.compose(Xi_dep, Phi)
    Xi_sing = rng.standard_normal((3, 3))
    Xi_sing[2] = Xi_sing[0] + Xi_sing[1]
    with pytest.raises(ValueError, match="singular"):
        dyn.compose(Xi_sing, Phi)
    with pytest.raises(ValueError, match="square"):
        dyn.compose(rng.standard_normal((5, 3)), rng.standard_normal((3, 2)))
    with pytest.raises(ValueError, match="columns"):
        dyn.compose(rng.standard_normal((5, 3)), rng.standard_normal((4, 4)))
    with pytest.raises(ValueError, match="2-D"):
        dyn.compose(np.zeros(3), Phi)
    with pytest.raises(ValueError, match="n_f"):
        dyn.predicted_spectrum(Phi, 2)
    with pytest.raises(ValueError, match="different sizes"):
        dyn.match_spectra([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        dyn.match_spectra([], [])
    Xi = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match="singular"):
        dyn.second_decomposition(Xi, Phi, np.ones((3, 3)))
    with pytest.raises(ValueError, match="shape"):
        dyn.second_decomposition(Xi, Phi, np.eye(4))
    with pytest.raises(ValueError, match="square"):
        dyn.decompose(rng.standard_normal((5, 5)), Xi)
    with pytest.raises(ValueError, match="shape"):
        dyn.decompose(rng.standard_normal((4, 4)), rng.standard_normal((3, 3)))
    with pytest.raises(ValueError, match="singular"):
        dyn.decompose(rng.standard_normal((3, 3)), Xi_sing)
    defective = np.array([[1.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="diagonalisable"):
        dyn.eigen_decomposition(defective)
