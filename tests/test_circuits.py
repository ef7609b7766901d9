"""Unit tests of emt.circuits (chapters "Variable memories" and "Linear repeat copy")."""

from __future__ import annotations

import numpy as np
import pytest

from emt import circuits as C
from emt.tasks import repeat_copy_batch

#: seed of the ``rng`` fixture (tests/conftest.py)
RNG_SEED = 1234


# ---------------------------------------------------------------- bases and duals


@pytest.mark.parametrize("n_h,n", [(6, 6), (9, 6), (80, 80), (100, 80)])
def test_random_basis_shape_rank_condition(rng, n_h, n):
    b = C.random_basis(n_h, n, rng)
    assert b.shape == (n_h, n)
    assert np.linalg.matrix_rank(b) == n
    assert np.isclose(np.linalg.cond(b), 10.0, rtol=1e-8)
    gram = b.T @ b
    assert np.abs(gram - np.diag(np.diag(gram))).max() > 0.1  # not orthogonal


def test_random_basis_orthogonal(rng):
    b = C.random_basis(7, 4, rng, orthogonal=True)
    assert np.allclose(b.T @ b, np.eye(4), atol=1e-12)


def test_random_basis_cond_option(rng):
    assert np.isclose(np.linalg.cond(C.random_basis(5, 5, rng, cond=3.0)), 3.0, rtol=1e-8)


def test_random_basis_reproducible():
    a = C.random_basis(5, 3, np.random.default_rng(7))
    b = C.random_basis(5, 3, np.random.default_rng(7))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("args", [(3, 4), (0, 0), (4, 0), (2.5, 2)])
def test_random_basis_errors(rng, args):
    with pytest.raises(ValueError):
        C.random_basis(*args, rng)


def test_random_basis_bad_cond(rng):
    with pytest.raises(ValueError, match="cond"):
        C.random_basis(4, 4, rng, cond=0.5)


@pytest.mark.parametrize("n_h,n", [(5, 5), (8, 5)])
def test_dual_is_left_inverse(rng, n_h, n):
    b = C.random_basis(n_h, n, rng)
    d = C.dual(b)
    assert d.shape == (n, n_h)
    assert np.allclose(d @ b, np.eye(n), atol=1e-12)
    if n_h == n:
        assert np.allclose(b @ d, np.eye(n), atol=1e-12)
    else:  # b @ d is the orthogonal projector onto the span
        p = b @ d
        assert np.allclose(p, p.T, atol=1e-12) and np.allclose(p @ p, p, atol=1e-12)


def test_dual_rejects_rank_deficient(rng):
    b = C.random_basis(6, 4, rng)
    b[:, 3] = b[:, 0] + 2 * b[:, 1]
    with pytest.raises(ValueError, match="full column rank"):
        C.dual(b)
    with pytest.raises(ValueError, match="full column rank"):
        C.dual(np.zeros((3, 3)))


def test_dual_tolerance_is_stated(rng):
    b = np.diag([1.0, 1e-9])  # condition 1e9 < 1e10: accepted
    assert np.allclose(C.dual(b) @ b, np.eye(2))
    with pytest.raises(ValueError):
        C.dual(np.diag([1.0, 1e-11]))  # condition 1e11: rejected


@pytest.mark.parametrize("bad", [np.ones((4, 5)), np.ones(4), np.ones((2, 2, 2))])
def test_dual_shape_errors(bad):
    with pytest.raises(ValueError):
        C.dual(bad)


def test_dual_nonfinite():
    with pytest.raises(ValueError, match="non-finite"):
        C.dual(np.array([[1.0, np.nan], [0.0, 1.0]]))


# ---------------------------------------------------------------- Phi


def test_shift_phi_moves_memory_j_plus_1_to_j(rng):
    s, kappa = 4, 3
    F = rng.standard_normal((kappa, s * kappa))
    phi = C.shift_phi(F, s, kappa)
    c = rng.standard_normal((s, kappa))
    new = (phi @ c.ravel()).reshape(s, kappa)
    assert np.allclose(new[:-1], c[1:])  # memory j receives memory j+1
    assert np.allclose(new[-1], F @ c.ravel())


def test_shift_phi_F_shape_error():
    with pytest.raises(ValueError, match="F must have shape"):
        C.shift_phi(np.zeros((2, 5)), 3, 2)
    with pytest.raises(ValueError, match="F must have shape"):
        C.shift_phi(np.zeros((3, 6)), 3, 2)
    with pytest.raises(ValueError):
        C.shift_phi(np.zeros(6), 3, 2)
    with pytest.raises(ValueError):
        C.shift_phi(np.zeros((2, 0)), 0, 2)


def test_repeat_copy_phi_is_cyclic_permutation():
    s, kappa = 5, 2
    phi = C.repeat_copy_phi(s, kappa)
    c = np.arange(s * kappa, dtype=float).reshape(s, kappa)
    new = (phi @ c.ravel()).reshape(s, kappa)
    assert np.array_equal(new, np.roll(c, -1, axis=0))  # j <- j+1, s <- 1
    assert np.allclose(np.linalg.matrix_power(phi, s), np.eye(s * kappa))
    for p in range(1, s):
        assert not np.allclose(np.linalg.matrix_power(phi, p), np.eye(s * kappa))


def test_repeat_copy_phi_spectrum():
    s, kappa = 6, 3
    ev = np.linalg.eigvals(C.repeat_copy_phi(s, kappa))
    assert np.allclose(ev**s, 1, atol=1e-10)
    for m in range(s):
        root = np.exp(2j * np.pi * m / s)
        assert np.sum(np.abs(ev - root) < 1e-6) == kappa


# ---------------------------------------------------------------- writer, reader, memories


@pytest.mark.parametrize("n_h", [6, 10])
def test_writer_reader_and_memories(rng, n_h):
    s, kappa = 3, 2
    b = C.random_basis(n_h, s * kappa, rng)
    w_uh, w_r = C.writer(b, s, kappa), C.reader(b, s, kappa)
    assert w_uh.shape == (n_h, kappa) and w_r.shape == (kappa, n_h)
    assert np.allclose(w_uh, b[:, -kappa:])
    assert np.allclose(w_r @ w_uh, np.eye(kappa))
    for i in range(1, s + 1):
        for j in range(1, s + 1):
            block = C.memory_reader(b, i, s, kappa) @ C.memory(b, j, s, kappa)
            assert np.allclose(block, np.eye(kappa) if i == j else 0, atol=1e-12)
    x = rng.standard_normal(kappa)
    contents = C.memory_contents(b, w_uh @ x, s, kappa)
    assert np.allclose(contents[-1], x) and np.allclose(contents[:-1], 0, atol=1e-12)


def test_memory_index_errors(rng):
    b = C.random_basis(6, 6, rng)
    for i in (0, 4):
        with pytest.raises(ValueError, match="memory index"):
            C.memory(b, i, 3, 2)
        with pytest.raises(ValueError, match="memory index"):
            C.memory_reader(b, i, 3, 2)


def test_writer_reader_size_errors(rng):
    b = C.random_basis(6, 6, rng)
    with pytest.raises(ValueError, match="larger than the hidden size"):
        C.writer(b, 4, 2)  # s*kappa = 8 > n_h = 6
    with pytest.raises(ValueError, match="larger than the hidden size"):
        C.reader(b, 2, 4)
    with pytest.raises(ValueError, match="expected s\\*kappa"):
        C.writer(C.random_basis(8, 6, rng), 2, 2)  # 6 columns, s*kappa = 4
    with pytest.raises(ValueError, match="larger than the hidden size"):
        C.writer(np.ones((4, 6)), 3, 2)  # more columns than rows
    with pytest.raises(ValueError, match="positive integer"):
        C.reader(b, 0, 2)


def test_reader_rejects_rank_deficient(rng):
    b = C.random_basis(6, 4, rng)
    b[:, 0] = b[:, 1]
    with pytest.raises(ValueError, match="full column rank"):
        C.reader(b, 2, 2)


# ---------------------------------------------------------------- circuit and run_linear


@pytest.mark.parametrize("n_h", [6, 9])
def test_circuit(rng, n_h):
    s, kappa = 3, 2
    b = C.random_basis(n_h, s * kappa, rng)
    phi = C.repeat_copy_phi(s, kappa)
    w_hh, w_uh, w_r = C.circuit(phi, b, kappa)
    assert np.allclose(w_hh, b @ phi @ np.linalg.pinv(b))
    assert np.allclose(w_uh, C.writer(b, s, kappa))
    assert np.allclose(w_r, C.reader(b, s, kappa))
    assert np.allclose(C.dual(b) @ w_hh @ b, phi)  # Phi = Psi^+ W_hh Psi


def test_circuit_errors(rng):
    b = C.random_basis(6, 6, rng)
    with pytest.raises(ValueError, match="phi must have shape"):
        C.circuit(np.eye(4), b, 2)
    with pytest.raises(ValueError, match="whole number"):
        C.circuit(np.eye(6), b, 4)
    with pytest.raises(ValueError, match="larger than the hidden size"):
        C.circuit(np.eye(8), np.ones((6, 8)), 2)
    bad = b.copy()
    bad[:, 2] = 0
    with pytest.raises(ValueError, match="full column rank"):
        C.circuit(np.eye(6), bad, 2)


@pytest.mark.parametrize("n_h", [80, 100])
def test_repeat_copy_recall_real_inputs(rng, n_h):
    s, kappa = 16, 5
    w = C.circuit(C.repeat_copy_phi(s, kappa), C.random_basis(n_h, s * kappa, rng), kappa)
    u, y = repeat_copy_batch(3, s, kappa, 100 * s, rng, values="real")
    h, out = C.run_linear(*w, u)
    assert h.shape == (3, s + 100 * s, n_h) and out.shape == y.shape
    assert np.abs(out - y).max() < 1e-9


def test_run_linear_matches_loop(rng):
    n_h, kappa, T = 4, 2, 5
    w_hh, w_uh, w_r = (
        rng.standard_normal((n_h, n_h)) * 0.5,
        rng.standard_normal((n_h, kappa)),
        rng.standard_normal((3, n_h)),
    )
    u = rng.standard_normal((T, kappa))
    h0 = rng.standard_normal(n_h)
    h, y = C.run_linear(w_hh, w_uh, w_r, u, h0=h0)
    prev = h0
    for k in range(T):
        prev = w_hh @ prev + w_uh @ u[k]
        assert np.allclose(h[k], prev) and np.allclose(y[k], w_r @ prev)
    hb, yb = C.run_linear(w_hh, w_uh, w_r, np.stack([u, u]), h0=np.stack([h0, h0]))
    assert np.allclose(hb[1], h) and np.allclose(yb[0], y)


def test_run_linear_errors():
    w_hh, w_uh, w_r = np.eye(4), np.ones((4, 2)), np.ones((2, 4))
    u = np.zeros((3, 2))
    cases = [
        (np.ones((4, 3)), w_uh, w_r, u, None),  # W_hh not square
        (w_hh, np.ones((3, 2)), w_r, u, None),  # W_uh rows
        (w_hh, w_uh, np.ones((2, 3)), u, None),  # W_r columns
        (w_hh, w_uh, w_r, np.zeros((3, 3)), None),  # u last axis
        (w_hh, w_uh, w_r, np.zeros(3), None),  # u ndim
        (w_hh, w_uh, w_r, u, np.zeros(3)),  # h0
        (w_hh, w_uh, w_r, np.zeros((2, 3, 2)), np.zeros((3, 4))),  # h0 batch
    ]
    for args in cases:
        with pytest.raises(ValueError):
            C.run_linear(*args[:4], h0=args[4])


def test_leaky_circuit_structure(rng):
    s, kappa, n_h, n = 4, 3, 20, 12
    phi = C.repeat_copy_phi(s, kappa)
    circ = C.leaky_circuit(phi, kappa, n_h, rng, decay=0.4)
    w_hh, w_uh, w_r, psi, readers = circ
    assert np.allclose(readers @ psi, np.eye(n), atol=1e-10)
    assert np.allclose(w_hh @ psi, psi @ phi, atol=1e-10)  # memories follow Phi
    assert np.allclose(readers @ w_hh, phi @ readers, atol=1e-10)
    moduli = np.sort(np.abs(np.linalg.eigvals(w_hh)))
    assert np.allclose(moduli[: n_h - n], 0.4, atol=1e-8)  # the rest decays
    assert np.allclose(moduli[n_h - n :], 1.0, atol=1e-8)
    assert np.array_equal(w_r, readers[n - kappa :])  # exact reader of memory s
    leak = w_uh - psi[:, n - kappa :]
    assert np.abs(leak).max() > 0.1  # the writer does leak ...
    # ... into the rest, which the readers ignore
    assert np.abs(readers @ leak).max() < 1e-10
    again = C.leaky_circuit(phi, kappa, n_h, np.random.default_rng(RNG_SEED))
    first = C.leaky_circuit(phi, kappa, n_h, np.random.default_rng(RNG_SEED))
    assert all(np.array_equal(a, b) for a, b in zip(again, first))


def test_leaky_circuit_errors(rng):
    phi = C.repeat_copy_phi(4, 3)
    for args, match in (
        ((phi, 3, 12), "smaller than n_h"),
        ((phi, 5, 20), "whole number"),
        ((phi[:, :11], 3, 20), "square"),
    ):
        with pytest.raises(ValueError, match=match):
            C.leaky_circuit(*args, rng)
    for decay in (1.0, -0.1, "x", float("nan")):
        with pytest.raises(ValueError, match="decay"):
            C.leaky_circuit(phi, 3, 20, rng, decay=decay)


# ---------------------------------------------------------------- slot_of


def test_slot_of_values():
    s = 4
    assert [C.slot_of(mu, 0, s) for mu in range(1, s + 1)] == [1, 2, 3, 4]
    assert [C.slot_of(mu, 1, s) for mu in range(1, s + 1)] == [4, 1, 2, 3]
    assert C.slot_of(3, 2 * s + 2, s) == 1
    assert np.array_equal(C.slot_of(np.arange(1, 5), 5, s), [4, 1, 2, 3])


@pytest.mark.parametrize("n_h", [80, 100])
def test_slot_of_matches_simulation(rng, n_h):
    s, kappa = 16, 5
    b = C.random_basis(n_h, s * kappa, rng)
    w = C.circuit(C.repeat_copy_phi(s, kappa), b, kappa)
    u, _ = repeat_copy_batch(1, s, kappa, 3 * s, rng, values="real")
    h, _ = C.run_linear(*w, u[0])
    contents = C.memory_contents(b, h, s, kappa)  # (T, s, kappa)
    for t in range(3 * s + 1):
        k = s - 1 + t  # h[s-1] is the paper's h(s)
        for mu in range(1, s + 1):
            assert np.allclose(contents[k, C.slot_of(mu, t, s) - 1], u[0, mu - 1], atol=1e-10)


def test_slot_of_errors():
    with pytest.raises(ValueError):
        C.slot_of(0, 0, 4)
    with pytest.raises(ValueError):
        C.slot_of(5, 0, 4)
    with pytest.raises(ValueError):
        C.slot_of(1, -1, 4)
    with pytest.raises(ValueError):
        C.slot_of(1.5, 0, 4)
    with pytest.raises(ValueError):
        C.slot_of(1, 0, 0)


def test_paper_index_is_one_block_past_the_corrected_slot():
    s, kappa = 5, 3
    mu, t = np.meshgrid(np.arange(1, s + 1), np.arange(3 * s), indexing="ij")
    for i in (1, kappa):
        corrected = (C.slot_of(mu, t, s) - 1) * kappa + i
        assert np.array_equal(C.paper_index(mu, t, i, s, kappa), corrected + kappa)
    with pytest.raises(ValueError):
        C.paper_index(1, 0, 1, 0, kappa)
