"""Unit tests of emt.analysis (chapter "Reading the trained network"; paper Sec. 6, Algorithm 1)."""

from __future__ import annotations

import numpy as np
import pytest

from emt import analysis as A
from emt import circuits as C

#: seed of the ``rng`` fixture (tests/conftest.py)
RNG_SEED = 2024


def exact_circuit(rng, n_h, s, kappa, orthogonal=False):
    """The repeat-copy circuit of emt.circuits in a random basis.

    W_hh = Psi Phi Psi^+, W_uh = Psi_s, W_r = Psi_s^*.
    """
    basis = C.random_basis(n_h, s * kappa, rng, orthogonal=orthogonal)
    phi = C.repeat_copy_phi(s, kappa)
    w_hh, w_uh, w_r = C.circuit(phi, basis, kappa)
    return basis, phi, w_hh, w_uh, w_r


def leaky(rng, n_h, s, kappa):
    """Repeat copy's Phi and emt.circuits.leaky_circuit for it."""
    phi = C.repeat_copy_phi(s, kappa)
    return (phi,) + tuple(C.leaky_circuit(phi, kappa, n_h, rng))


# ------------------------------------------------------------------ Algorithm 1 on the exact circuit

SIZES = [(12, 4, 3), (20, 4, 3), (96, 16, 5)]


@pytest.mark.parametrize("n_h,s,kappa", SIZES)
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_recovers_phi_in_nonorthogonal_basis(rng, n_h, s, kappa, alpha):
    basis, phi, w_hh, w_uh, w_r = exact_circuit(rng, n_h, s, kappa)
    vm = A.variable_memories(w_hh, w_uh, w_r, s, alpha=alpha, readout="dual")
    assert np.abs(vm.memory_block - phi).max() < 1e-8
    # Algorithm 1 finds the memories themselves, not just some basis with the same Phi
    assert np.abs(vm.psi - basis).max() < 1e-8 * np.abs(basis).max()
    # the memories do not talk to the rest of the space
    if n_h > s * kappa:
        assert np.abs(vm.to_memory_block).max() < 1e-8 and np.abs(vm.from_memory_block).max() < 1e-8
    assert vm.n_large == s * kappa


@pytest.mark.parametrize("readout", A.READOUTS)
def test_alpha_one_any_readout(rng, readout):
    _, phi, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3)
    vm = A.variable_memories(w_hh, w_uh, w_r, 4, alpha=1.0, readout=readout)
    assert np.abs(vm.memory_block - phi).max() < 1e-8


@pytest.mark.parametrize("readout", A.READOUTS)
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_literal_readouts_exact_in_orthonormal_basis(rng, readout, alpha):
    _, phi, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3, orthogonal=True)
    vm = A.variable_memories(w_hh, w_uh, w_r, 4, alpha=alpha, readout=readout)
    assert np.abs(vm.memory_block - phi).max() < 1e-8


@pytest.mark.parametrize("readout", ["transpose", "pinv"])
def test_literal_readouts_fail_in_nonorthogonal_basis(rng, readout):
    """The paper's (W_hh^T)^k W_r^* gives the covectors of memory k.

    They are Psi_k only if Psi is orthonormal.
    """
    basis, phi, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3)
    vm = A.variable_memories(w_hh, w_uh, w_r, 4, alpha=0.0, readout=readout)
    assert A.relative_error(vm.memory_block, phi) > 0.1
    # what the transpose branch does compute: the transposed covectors of memory k
    back = A.backward_memories(w_hh, w_r, 4, readout="transpose")
    assert np.allclose(back, C.dual(basis).T, atol=1e-10)


def test_backward_dual_is_dual_of_covectors(rng):
    basis, _, w_hh, _, w_r = exact_circuit(rng, 20, 4, 3)
    cov = A.readout_covectors(w_hh, w_r, 4)
    assert np.allclose(cov, C.dual(basis), atol=1e-10)  # W_r W_hh^k = Psi_k^*
    assert np.allclose(A.backward_memories(w_hh, w_r, 4, "dual"), basis, atol=1e-10)


def test_forward_branch_is_powers(rng):
    basis, _, w_hh, w_uh, _ = exact_circuit(rng, 20, 4, 3)
    fwd = A.forward_memories(w_hh, w_uh, 4)
    assert np.allclose(fwd, basis, atol=1e-10)
    assert np.allclose(fwd[:, 0:3], np.linalg.matrix_power(w_hh, 3) @ w_uh)


def test_phi_learned_is_phi_not_its_transpose(rng):
    """dual @ W_hh @ basis is Phi in the convention of emt.circuits (paper Eq. 8, 12): the paper's
    Phi_learned^T = Psi^* W_hh Psi would put the transpose there."""
    _, phi, w_hh, w_uh, w_r = exact_circuit(rng, 12, 4, 3)
    vm = A.variable_memories(w_hh, w_uh, w_r, 4, alpha=0.5)
    assert np.abs(vm.memory_block - phi).max() < 1e-8
    assert A.relative_error(vm.memory_block, phi.T) > 1.0


def test_basis_and_dual(rng):
    _, _, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3)
    vm = A.variable_memories(w_hh, w_uh, w_r, 4)
    assert vm.basis.shape == (20, 20) and vm.psi_perp.shape == (20, 8)
    assert np.allclose(vm.dual @ vm.basis, np.eye(20), atol=1e-10)
    assert np.allclose(vm.psi_perp.T @ vm.psi_perp, np.eye(8), atol=1e-10)
    assert np.abs(vm.psi_perp.T @ vm.psi).max() < 1e-10
    assert vm.n_pca == 0  # no hidden states given: pure completion
    assert np.allclose(vm.phi_learned, vm.dual @ w_hh @ vm.basis)
    assert vm.memory(4).shape == (20, 3) and vm.reader(1).shape == (3, 20)
    assert np.allclose(vm.reader(2) @ vm.memory(2), np.eye(3), atol=1e-10)


def test_n_components_smaller(rng):
    _, phi, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3)
    vm = A.variable_memories(w_hh, w_uh, w_r, 4, n_components=3)
    assert vm.basis.shape == (20, 15)
    assert np.allclose(vm.dual @ vm.basis, np.eye(15), atol=1e-10)
    assert np.abs(vm.memory_block - phi).max() < 1e-8


# ------------------------------------------------------------------ removal of decaying directions


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_oblique_removal_recovers_with_decaying_rest(rng, alpha):
    phi, w_hh, w_uh, w_r, psi, readers = leaky(rng, 24, 4, 3)
    inputs = rng.standard_normal((50, 12, 3))
    h, _ = C.run_linear(w_hh, w_uh, w_r, inputs)
    vm = A.variable_memories(w_hh, w_uh, w_r, 4, alpha=alpha, hidden_states=h, removal="oblique")
    assert vm.n_large == 12
    assert np.abs(vm.memory_block - phi).max() < 1e-8
    assert np.abs(vm.psi - psi).max() < 1e-8 * np.abs(psi).max()
    assert vm.n_pca == 12  # the decaying part of the states is seen by PCA
    assert A.block_report(vm, phi)["coupling_out"] < 1e-8
    # without the removal the contamination stays in Psi and in the memory block
    bad = A.variable_memories(w_hh, w_uh, w_r, 4, alpha=alpha, hidden_states=h, removal="none")
    assert np.abs(bad.memory_block - phi).max() > 1e-3
    assert np.abs(bad.psi - psi).max() > 1e-3
    # an orthogonal projection gives the right memory block (a compression of W_hh to a subspace
    # orthogonal to the decaying eigenvectors), but not the memories: they leak into Psi_perp
    orth = A.variable_memories(
        w_hh, w_uh, w_r, 4, alpha=alpha, hidden_states=h, removal="orthogonal"
    )
    assert np.abs(orth.memory_block - phi).max() < 1e-8
    assert np.abs(orth.psi - psi).max() > 1e-3
    assert A.block_report(orth, phi)["coupling_out"] > 0.1
    # ... and the two readings are dual: the oblique one finds the memory vectors, the orthogonal
    # one the memory readers (covectors), each exactly
    assert np.abs(orth.dual[:12] - readers).max() < 1e-8 * np.abs(readers).max()
    assert np.abs(vm.dual[:12] - readers).max() > 1e-3
    assert A.block_report(orth, phi)["coupling_in"] < 1e-8


def test_spectral_projector_properties(rng):
    _, w_hh, _, _, _, _ = leaky(rng, 24, 4, 3)
    p, m = A.spectral_projector(w_hh, 1.0, "oblique")
    assert m == 12
    assert np.allclose(p @ p, p, atol=1e-9)
    assert np.allclose(p @ w_hh, w_hh @ p, atol=1e-9)
    assert np.linalg.matrix_rank(p, tol=1e-8) == 12
    assert np.abs(p - p.T).max() > 1e-3  # oblique, not orthogonal
    q, mq = A.spectral_projector(w_hh, 1.0, "orthogonal")
    assert mq == 12 and np.allclose(q, q.T, atol=1e-9) and np.allclose(q @ q, q, atol=1e-9)
    e, me = A.spectral_projector(w_hh, 1.0, "none")
    assert np.array_equal(e, np.eye(24)) and me == 12
    z, mz = A.spectral_projector(w_hh, 5.0)
    assert mz == 0 and not z.any()


# ------------------------------------------------------------------ Figure 3 numbers


def test_block_report_exact(rng):
    _, phi, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3)
    rep = A.block_report(A.variable_memories(w_hh, w_uh, w_r, 4), phi)
    for key in (
        "block_error",
        "shift_error",
        "wrap_error",
        "row_wrap_error",
        "row_shift_error",
        "coupling_in",
        "coupling_out",
    ):
        assert rep[key] < 1e-8
    with pytest.raises(ValueError, match="phi_theory"):
        A.block_report(A.variable_memories(w_hh, w_uh, w_r, 4), np.eye(3))


def test_block_report_couplings_do_not_depend_on_the_scale_of_psi(rng):
    phi, w_hh, w_uh, w_r, _, _ = leaky(rng, 24, 4, 3)
    reps = [
        A.block_report(A.variable_memories(w_hh, g * w_uh, w_r, 4, alpha=1.0), phi)
        for g in (1.0, 10.0)
    ]
    assert reps[0]["coupling_in"] > 0.01  # the decaying rest does feed the memories here
    assert abs(reps[1]["psi_scale"] / reps[0]["psi_scale"] - 10.0) < 1e-8
    for key in ("block_error", "coupling_in", "coupling_out", "coupling_in_max", "rest_radius"):
        assert abs(reps[0][key] - reps[1][key]) < 1e-8 * max(1.0, reps[0][key])


def test_block_report_detects_wrong_phi(rng):
    _, phi, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3)
    rep = A.block_report(A.variable_memories(w_hh, w_uh, w_r, 4), phi.T)
    assert rep["block_error"] > 1.0


def test_spectrum_report_exact(rng):
    _, _, w_hh, _, _ = exact_circuit(rng, 96, 16, 5)
    rep = A.spectrum_report(w_hh, 16, 80)
    assert rep.counts.tolist() == [5] * 16
    assert rep.mean_angular_error_deg < 1e-5
    assert np.allclose(np.abs(rep.selected), 1.0, atol=1e-8)
    assert rep.gap > 1e6  # the rest is (numerically) zero


def test_spectrum_report_counts_rotation():
    # eigenvalues rotated by almost half a step go to the next direction
    w = np.diag([1.0, -1.0, 0.1])
    rep = A.spectrum_report(w, 2, 2)
    assert rep.counts.tolist() == [1, 1]
    rot = np.array([[np.cos(1.0), -np.sin(1.0)], [np.sin(1.0), np.cos(1.0)]])
    rep = A.spectrum_report(rot, 4, 2)  # angles +-1 rad: directions 1 and 3 (+-pi/2)
    assert rep.counts.tolist() == [0, 1, 0, 1]
    assert np.isclose(rep.mean_angular_error_deg, np.degrees(np.pi / 2 - 1.0))


def test_memory_slots():
    sl = A.memory_slots(4, 10)
    assert sl.shape == (10, 4)
    assert sl[0].tolist() == [4, 0, 0, 0]  # input 1 is written into memory s at k = 0
    assert sl[1].tolist() == [3, 4, 0, 0]
    assert sl[3].tolist() == [1, 2, 3, 4]  # end of the input phase: input mu in memory mu (Eq. 33)
    assert sl[4].tolist() == [4, 1, 2, 3]  # one step later memory 1 went to memory s
    assert np.array_equal(sl[7], sl[3])  # period s
    for k in range(3, 10):
        assert sl[k].tolist() == [C.slot_of(mu, k - 3, 4) for mu in range(1, 5)]


def test_decode_exact_linear_run(rng):
    basis, _, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3)
    vm = A.variable_memories(w_hh, w_uh, w_r, 4)
    x = np.where(rng.standard_normal((4, 3)) > 0, 1.0, -1.0)
    u = np.zeros((12, 3))
    u[:4] = x
    h, _ = C.run_linear(w_hh, w_uh, w_r, u)
    rep = A.decode_memories(vm.contents(h), x)
    assert rep.all_signs_ok and rep.bit_accuracy == 1.0
    assert rep.min_cosine > 1 - 1e-9
    assert rep.written.sum() == 12 * 4 - (3 + 2 + 1)
    assert rep.accuracy(slice(4, None)) == 1.0 and rep.bits_ok.shape == (12, 4, 3)
    # one flipped bit in the stored content is seen by the sign check, at the right step
    flipped = vm.contents(h)
    j = rep.slots[6, 2]
    flipped[6, j - 1, 1] *= -1
    bad = A.decode_memories(flipped, x)
    assert (
        not bad.all_signs_ok
        and not bad.signs_ok[6, 2]
        and bad.bits_ok.sum() == rep.bits_ok.sum() - 1
    )
    assert bad.accuracy(6) < 1.0 and bad.accuracy(slice(7, None)) == 1.0
    # reading one memory off (a wrong slot formula) breaks it
    shifted = np.roll(vm.contents(h), 1, axis=1)
    assert A.decode_memories(shifted, x).min_cosine < 0.9


# ------------------------------------------------ what the construction forces


@pytest.mark.parametrize("readout", ["dual", "transpose"])
def test_shift_defects_exact_circuit(rng, readout):
    ortho = readout == "transpose"  # the literal readout needs it
    _, _, w_hh, w_uh, w_r = exact_circuit(rng, 20, 4, 3, orthogonal=ortho)
    d = A.shift_defects(w_hh, w_uh, w_r, 4, readout=readout)
    assert d["forward"].shape == d["backward"].shape == (3,)
    assert d["forward"].max() < 1e-10 and d["backward"].max() < 1e-10


@pytest.mark.parametrize("removal", ["oblique", "none"])
def test_forward_shift_is_forced_for_any_w_hh(rng, removal):
    """Untrained W_hh: the forward half of the shift columns is still exact."""
    n_h, s, kappa = 24, 4, 3
    # orthogonal: every |eigenvalue| = 1, the removal keeps everything
    w_hh = np.linalg.qr(rng.standard_normal((n_h, n_h)))[0]
    w_uh = rng.standard_normal((n_h, kappa))
    w_r = rng.standard_normal((kappa, n_h))
    d = A.shift_defects(w_hh, w_uh, w_r, s, removal=removal)
    assert d["forward"].max() < 1e-10
    assert d["backward"].min() > 0.1
    # hence Algorithm 1 with alpha = 1 reports exact shift columns for a
    # network that computes nothing; only the wrap-around column shows it
    phi = C.repeat_copy_phi(s, kappa)
    vm = A.variable_memories(w_hh, w_uh, w_r, s, alpha=1.0, removal=removal)
    rep = A.block_report(vm, phi)
    assert rep["shift_error"] < 1e-8 and rep["wrap_error"] > 0.5
    # the dual readout alone (alpha = 0) forces every block row but row s-1
    # (exactly, since the removal step keeps everything here)
    vm0 = A.variable_memories(w_hh, w_uh, w_r, s, alpha=0.0, removal=removal)
    rep0 = A.block_report(vm0, phi)
    assert rep0["row_shift_error"] < 1e-8 and rep0["row_wrap_error"] > 0.5
    # 0 < alpha < 1: shift-column error = (1 - alpha) Psi^+ P (W B_k - B_{k-1})
    vm = A.variable_memories(w_hh, w_uh, w_r, s, alpha=0.5, removal=removal)
    back = A.backward_memories(w_hh, w_r, s)
    moved = w_hh @ back[:, kappa:] - back[:, :-kappa]
    predicted = 0.5 * vm.dual[: s * kappa] @ moved
    error = vm.memory_block[:, kappa:] - phi[:, kappa:]
    assert np.abs(error - predicted).max() < 1e-8 and np.abs(error).max() > 1e-2


def test_shift_defects_orthogonal_removal_is_not_forced(rng):
    # the orthogonal projector does not commute with W_hh: the forward defect
    # is not forced
    _, w_hh, w_uh, w_r, _, _ = leaky(rng, 24, 4, 3)
    assert A.shift_defects(w_hh, w_uh, w_r, 4)["forward"].max() < 1e-10
    orth = A.shift_defects(w_hh, w_uh, w_r, 4, removal="orthogonal")
    assert orth["forward"].max() > 1e-3


def test_shift_defects_errors(small):
    _, _, w_hh, w_uh, w_r = small
    with pytest.raises(ValueError, match="readout"):
        A.shift_defects(w_hh, w_uh, w_r, 4, readout="inverse")
    with pytest.raises(ValueError, match="removal"):
        A.shift_defects(w_hh, w_uh, w_r, 4, removal="skip")
    with pytest.raises(ValueError, match="at least 2"):
        A.shift_defects(w_hh, w_uh, w_r[:, :12], 1)
    with pytest.raises(ValueError, match="zero"):
        A.shift_defects(w_hh, np.zeros_like(w_uh), w_r, 4)


# ------------------------------------------------------------------ bad arguments


@pytest.fixture
def small(rng):
    return exact_circuit(rng, 12, 4, 3)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "x", None])
def test_bad_alpha(small, alpha):
    _, _, w_hh, w_uh, w_r = small
    with pytest.raises(ValueError, match="alpha"):
        A.variable_memories(w_hh, w_uh, w_r, 4, alpha=alpha)


def test_bad_shapes(small):
    _, _, w_hh, w_uh, w_r = small
    with pytest.raises(ValueError, match="square"):
        A.variable_memories(w_hh[:, :11], w_uh, w_r, 4)
    with pytest.raises(ValueError, match="W_uh"):
        A.variable_memories(w_hh, w_uh[:11], w_r, 4)
    with pytest.raises(ValueError, match="W_r"):
        A.variable_memories(w_hh, w_uh, w_r[:2], 4)
    with pytest.raises(ValueError, match="W_r"):
        A.variable_memories(w_hh, w_uh, w_r.T, 4)
    with pytest.raises(ValueError, match="2-D"):
        A.variable_memories(w_hh[0], w_uh, w_r, 4)
    with pytest.raises(ValueError, match="non-finite"):
        A.variable_memories(w_hh * np.nan, w_uh, w_r, 4)
    with pytest.raises(ValueError, match="hidden_states"):
        A.variable_memories(w_hh, w_uh, w_r, 4, hidden_states=np.zeros((5, 11)))


def test_s_kappa_above_hidden_size(small):
    _, _, w_hh, w_uh, w_r = small
    with pytest.raises(ValueError, match="larger than the hidden size"):
        A.variable_memories(w_hh, w_uh, w_r, 5)
    with pytest.raises(ValueError, match="s must be a positive integer"):
        A.variable_memories(w_hh, w_uh, w_r, 0)


def test_singular_basis(small):
    _, _, w_hh, w_uh, w_r = small
    with pytest.raises(ValueError, match="singular"):
        A.variable_memories(w_hh, np.zeros_like(w_uh), w_r, 4, alpha=1.0)
    # a threshold above every eigenvalue removes everything
    with pytest.raises(ValueError, match="only 0 eigenvalues"):
        A.variable_memories(w_hh, w_uh, w_r, 4, threshold=2.0)
    with pytest.raises(ValueError, match="linearly dependent"):
        A.variable_memories(w_hh, w_uh, np.zeros_like(w_r), 4, alpha=0.0)


def test_bad_options(small):
    _, _, w_hh, w_uh, w_r = small
    with pytest.raises(ValueError, match="readout"):
        A.variable_memories(w_hh, w_uh, w_r, 4, readout="inverse")
    with pytest.raises(ValueError, match="removal"):
        A.variable_memories(w_hh, w_uh, w_r, 4, removal="skip")
    with pytest.raises(ValueError, match="n_components"):
        A.variable_memories(w_hh, w_uh, w_r, 4, n_components=1)  # n_h - s kappa = 0
    with pytest.raises(ValueError, match="threshold"):
        A.spectral_projector(w_hh, -1.0)
    with pytest.raises(ValueError, match="kind"):
        A.spectral_projector(w_hh, 1.0, "sideways")


def test_bad_report_arguments(small):
    _, _, w_hh, w_uh, w_r = small
    with pytest.raises(ValueError, match="n_select"):
        A.spectrum_report(w_hh, 4, 13)
    with pytest.raises(ValueError, match="contents"):
        A.decode_memories(np.zeros((3, 4)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="inputs"):
        A.decode_memories(np.zeros((3, 4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="zero"):
        A.decode_memories(np.zeros((3, 4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="shapes differ"):
        A.relative_error(np.eye(2), np.eye(3))
    vm = A.variable_memories(w_hh, w_uh, w_r, 4)
    with pytest.raises(ValueError, match="memory index"):
        vm.memory(0)
    with pytest.raises(ValueError, match="last axis"):
        vm.contents(np.zeros(5))


# ------------------------------------------------------------------ when gesdd does not converge


def test_svd_retries_with_gesvd_where_gesdd_fails(rng, monkeypatch):
    """numpy's gesdd can fail on a finite rank-deficient matrix; the retry's SVD is exact."""
    from emt.analysis import memories

    a = rng.standard_normal((200, 12)) @ rng.standard_normal((12, 30))  # rank 12
    calls = []

    def failing(*args, **kwargs):
        calls.append(args[0].shape)
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(memories.np.linalg, "svd", failing)
    u, sv, vt = memories.svd(a, full_matrices=False)
    assert calls == [(200, 30)]
    np.testing.assert_allclose((u * sv) @ vt, a, atol=1e-10 * np.abs(a).max())
    np.testing.assert_allclose(u.T @ u, np.eye(30), atol=1e-12)
    assert np.count_nonzero(sv > 1e-10 * sv[0]) == 12


def test_variable_memories_survive_a_failing_gesdd(rng, monkeypatch):
    """Algorithm 1 with hidden states gives the same basis when every gesdd call fails."""
    from emt.analysis import memories

    n_h, s, kappa = 20, 4, 3
    _, phi, w_hh, w_uh, w_r = exact_circuit(rng, n_h, s, kappa)
    hs = rng.standard_normal((300, n_h))
    want = A.variable_memories(w_hh, w_uh, w_r, s, alpha=0.5, hidden_states=hs)

    def failing(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(memories.np.linalg, "svd", failing)
    got = A.variable_memories(w_hh, w_uh, w_r, s, alpha=0.5, hidden_states=hs)
    assert got.n_pca == want.n_pca == n_h - s * kappa
    np.testing.assert_allclose(A.block_report(got, phi)["block_error"], 0, atol=1e-9)
    # the same span of the PCA directions (the signs of singular vectors may differ)
    p_got, p_want = got.basis[:, s * kappa :], want.basis[:, s * kappa :]
    np.testing.assert_allclose(p_got @ p_got.T, p_want @ p_want.T, atol=1e-9)
