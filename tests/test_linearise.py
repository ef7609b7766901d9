"""Tests of emt.linearise: fixed points, operating point and linearisation of a network with bias.

Chapter "Networks with bias" (planned); paper App. C, Eq. 35-37. Small random networks (6-20
hidden units); every draw is seeded.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from emt import linearise as L

RNG_SEED = 3537


def known_fixed_point(n: int, rng: np.random.Generator, scale: float = 0.9):
    """A network whose zero-input map has the fixed point h*, by construction of b."""
    W_hh = scale * rng.standard_normal((n, n)) / np.sqrt(n)
    h_star = rng.uniform(-0.8, 0.8, n)
    b = np.arctanh(h_star) - W_hh @ h_star
    return W_hh, b, h_star


def pm1_inputs(n_seq: int, T: int, kappa: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=(n_seq, T, kappa))


def test_newton_finds_known_fixed_point(rng):
    W_hh, b, h_star = known_fixed_point(12, rng)
    fps = L.fixed_points(W_hh, b, n_starts=16, seed=1)
    dist = [np.max(np.abs(p.h - h_star)) for p in fps]
    assert min(dist) < 1e-9
    for p in fps:
        assert p.residual <= 1e-10
        assert np.max(np.abs(np.tanh(W_hh @ p.h + b) - p.h)) <= 1e-10


def test_contracting_map_has_one_fixed_point_hit_by_every_start(rng):
    """Spectral norm of W_hh below 1: the map contracts, so all starts meet in one point."""
    W_hh, b, h_star = known_fixed_point(8, rng, scale=0.3)
    assert np.linalg.norm(W_hh, 2) < 1
    fps = L.fixed_points(W_hh, b, n_starts=16, seed=0)
    assert len(fps) == 1
    # starts: 0, tanh(b), 16 random, max(1, 16 // 8) = 2 iterated
    assert fps[0].basin_hits == 2 + 16 + 2
    assert fps[0].stable and fps[0].n_unstable == 0
    np.testing.assert_allclose(fps[0].h, h_star, atol=1e-9)


def test_dedup_merges_starts_that_reach_the_same_point(rng):
    W_hh, b, _ = known_fixed_point(6, rng, scale=0.3)
    merged = L.fixed_points(W_hh, b, n_starts=8, seed=0)
    assert len(merged) == 1 and merged[0].basin_hits > 1
    # without merging, round-off leaves copies of the same point that differ in the last bits
    split = L.fixed_points(W_hh, b, n_starts=8, seed=0, dedup_tol=0.0)
    assert len(split) > 1 and sum(p.basin_hits for p in split) == merged[0].basin_hits
    assert max(np.max(np.abs(p.h - merged[0].h)) for p in split) < 1e-12


def test_two_by_two_identity_gain_two_has_nine_fixed_points():
    """W_hh = 2 I, b = 0: per unit h = tanh(2h) has roots 0, +-a, so 3^2 fixed points."""
    fps = L.fixed_points(2.0 * np.eye(2), np.zeros(2), n_starts=64, seed=0)
    assert len(fps) == 9
    a = np.max(np.abs(np.concatenate([p.h for p in fps])))
    assert abs(np.tanh(2 * a) - a) < 1e-10
    expected = {tuple(np.round(v, 6)) for v in itertools.product((-a, 0.0, a), repeat=2)}
    assert {tuple(np.round(p.h, 6) + 0.0) for p in fps} == expected
    stable = [p for p in fps if p.stable]
    assert len(stable) == 4
    assert all(np.all(np.abs(p.h) > 0.9) for p in stable)  # the four corners
    assert all(p.stable for p in fps[:4]) and not any(p.stable for p in fps[4:])
    n_unstable = sorted(p.n_unstable for p in fps)
    assert n_unstable == [0, 0, 0, 0, 1, 1, 1, 1, 2]  # saddles on the edges, source at 0


def test_stability_matches_eigenvalues(rng):
    n = 10
    W_hh = 1.8 * rng.standard_normal((n, n)) / np.sqrt(n)
    b = 0.3 * rng.standard_normal(n)
    fps = L.fixed_points(W_hh, b, n_starts=32, seed=2)
    assert fps
    radii = [p.spectral_radius for p in fps]
    for p in fps:
        ev = np.linalg.eigvals(L.jacobian(W_hh, b, p.h))
        assert abs(np.max(np.abs(ev)) - p.spectral_radius) < 1e-8
        np.testing.assert_allclose(np.abs(p.jacobian_eigenvalues), np.sort(np.abs(ev))[::-1])
        assert p.stable == (p.spectral_radius < 1)
        assert p.n_unstable == int(np.sum(np.abs(ev) > 1))
    keys = [(not p.stable, p.spectral_radius) for p in fps]
    assert keys == sorted(keys) and len(radii) == len(fps)


def test_jacobian_matches_finite_differences(rng):
    n = 9
    W_hh = 1.5 * rng.standard_normal((n, n)) / np.sqrt(n)
    b = 0.5 * rng.standard_normal(n)
    h = rng.uniform(-0.9, 0.9, n)
    eps = 1e-6
    fd = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = eps
        fd[:, j] = (np.tanh(W_hh @ (h + e) + b) - np.tanh(W_hh @ (h - e) + b)) / (2 * eps)
    np.testing.assert_allclose(L.jacobian(W_hh, b, h), fd, atol=1e-6)


def test_jacobian_at_fixed_point_is_diag_one_minus_h_squared(rng):
    W_hh, b, h_star = known_fixed_point(7, rng)
    np.testing.assert_allclose(
        L.jacobian(W_hh, b, h_star), (1 - h_star**2)[:, None] * W_hh, atol=1e-12
    )


def test_bias_free_network_linearises_exactly_at_origin(rng):
    n, kappa = 12, 3
    W_hh = 1.1 * rng.standard_normal((n, n)) / np.sqrt(n)
    W_uh = rng.standard_normal((n, kappa)) / np.sqrt(n)
    W_r = rng.standard_normal((kappa, n))
    u = pm1_inputs(16, 10, kappa, rng)
    lin = L.linearise(W_hh, W_uh, np.zeros(n), u, W_r=W_r, n_starts=16)
    assert lin.kind == "fixed_point"
    assert np.array_equal(lin.h0, np.zeros(n))
    assert np.array_equal(lin.J, W_hh) and np.array_equal(lin.B, W_uh)
    assert np.array_equal(lin.c, np.zeros(n)) and lin.offset is lin.c
    w = lin.weights()
    assert set(w) == {"W_hh", "W_uh", "W_r"} and np.array_equal(w["W_r"], W_r)
    assert sum(c["chosen"] for c in lin.candidates) == 1
    assert lin.candidates[-1]["kind"] == "operating_point"


def test_one_step_error_small_for_nearly_linear_and_large_for_saturated(rng):
    n, kappa = 10, 2
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    U = rng.standard_normal((n, kappa))
    b = rng.standard_normal(n)
    u = pm1_inputs(8, 12, kappa, rng)
    errors = {}
    for scale in (1e-2, 3.0):
        W_hh, W_uh, bb = 0.9 * A, scale * U, scale * b
        h_bar, J, B = L.operating_point(W_hh, W_uh, bb, u)
        errors[scale] = L.one_step_error(W_hh, W_uh, bb, u, h_bar, J, B)
        lin = L.linearise(W_hh, W_uh, bb, u, n_starts=8)
        assert lin.one_step_error <= min(c["one_step_error"] for c in lin.candidates) / 0.9
    assert errors[1e-2] < 1e-3
    assert errors[3.0] > 10 * errors[1e-2] and errors[3.0] > 1e-2


def test_one_step_error_is_zero_for_the_exact_update_of_a_single_step():
    """T = 1 from h(0) = 0 with zero input: the update is the constant c, predicted exactly."""
    n, kappa = 6, 2
    W_hh, W_uh, b = np.eye(n), np.ones((n, kappa)), np.linspace(-1, 1, n)
    h0 = np.zeros(n)
    J, B = L.jacobian(W_hh, b, h0), (1 - np.tanh(b) ** 2)[:, None] * W_uh
    u = np.zeros((3, 1, kappa))
    assert L.one_step_error(W_hh, W_uh, b, u, h0, J, B) == 0.0


def test_operating_point_is_mean_state_and_taylor_map(rng):
    n, kappa = 8, 2
    W_hh = rng.standard_normal((n, n)) / np.sqrt(n)
    W_uh = rng.standard_normal((n, kappa))
    b = rng.standard_normal(n)
    u = pm1_inputs(5, 7, kappa, rng)
    h_bar, J, B = L.operating_point(W_hh, W_uh, b, u)
    H = np.zeros((5, n))
    states = []
    for t in range(7):
        H = np.tanh(H @ W_hh.T + u[:, t] @ W_uh.T + b)
        states.append(H)
    np.testing.assert_allclose(h_bar, np.mean(states, axis=(0, 1)), atol=1e-12)
    np.testing.assert_allclose(J, L.jacobian(W_hh, b, h_bar), atol=1e-12)
    d = 1 - np.tanh(W_hh @ h_bar + b) ** 2
    np.testing.assert_allclose(B, d[:, None] * W_uh, atol=1e-12)


def test_linearise_at_a_stable_fixed_point_reports_it(rng):
    W_hh, b, h_star = known_fixed_point(10, rng, scale=0.5)
    W_uh = 0.05 * rng.standard_normal((10, 2))
    lin = L.linearise(W_hh, W_uh, b, pm1_inputs(8, 20, 2, rng), n_starts=8)
    assert lin.diagnostics["n_fixed_points"] == 1 and lin.diagnostics["n_stable"] == 1
    assert lin.diagnostics["map_residual"] < 1e-8
    assert lin.kind == "fixed_point"  # the operating point is no better by the margin
    np.testing.assert_allclose(lin.h0, h_star, atol=1e-9)
    assert np.max(np.abs(lin.c)) < 1e-9
    np.testing.assert_allclose(lin.J, (1 - h_star**2)[:, None] * W_hh, atol=1e-9)
    np.testing.assert_allclose(lin.B, (1 - h_star**2)[:, None] * W_uh, atol=1e-9)
    with pytest.raises(ValueError, match="W_r"):
        lin.weights()


@pytest.mark.parametrize(
    "call",
    [
        lambda: L.fixed_points(np.ones((3, 4)), np.zeros(3)),
        lambda: L.fixed_points(np.eye(3), np.zeros(4)),
        lambda: L.fixed_points(np.full((3, 3), np.nan), np.zeros(3)),
        lambda: L.fixed_points(np.eye(3), np.array([0.0, np.inf, 0.0])),
        lambda: L.fixed_points(np.eye(3), np.zeros(3), n_starts=0),
        lambda: L.fixed_points(np.eye(3), np.zeros(3), tol=-1),
        lambda: L.jacobian(np.eye(3), np.zeros(3), np.zeros(2)),
        lambda: L.operating_point(np.eye(3), np.ones((3, 2)), np.zeros(3), np.ones((2, 4, 3))),
        lambda: L.operating_point(np.eye(3), np.ones((2, 2)), np.zeros(3), np.ones((2, 4, 2))),
        lambda: L.operating_point(np.eye(3), np.ones((3, 2)), np.zeros(3), np.ones((4, 2))),
        lambda: L.operating_point(
            np.eye(3), np.ones((3, 2)), np.zeros(3), np.full((2, 4, 2), np.nan)
        ),
        lambda: L.one_step_error(
            np.eye(3),
            np.ones((3, 2)),
            np.zeros(3),
            np.ones((2, 4, 2)),
            np.zeros(3),
            np.eye(2),
            np.ones((3, 2)),
        ),
        lambda: L.one_step_error(
            np.eye(3),
            np.ones((3, 2)),
            np.zeros(3),
            np.ones((2, 4, 2)),
            np.zeros(3),
            np.eye(3),
            np.ones((3, 3)),
        ),
        lambda: L.linearise(
            np.eye(3), np.ones((3, 2)), np.zeros(3), np.ones((2, 4, 2)), W_r=np.ones((3, 2))
        ),
        lambda: L.linearise(np.eye(3), np.ones((3, 2)), np.zeros(3), np.ones((2, 4, 2)), margin=1),
    ],
)
def test_bad_inputs_raise(call):
    with pytest.raises(ValueError):
        call()
