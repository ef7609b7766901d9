"""Tests of emt.nulls and the Figure 3D helpers of emt.analysis it uses.

Chapter "How general is the circuit?"; paper Sec. 6 (Algorithm 1) and Sec. 7 (Figure 3).
The networks are small (s = 4, kappa = 2, 12 hidden units) and linear where the theory is exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from emt import analysis as A
from emt import circuits as C
from emt import metrics as M
from emt import nulls as N
from emt.rnn import ElmanRNN

RNG_SEED = 909
S, KAPPA, N_H = 4, 2, 12


@pytest.fixture
def exact(rng):
    """The repeat-copy circuit of emt.circuits in a random non-orthogonal basis."""
    basis = C.random_basis(N_H, S * KAPPA, rng)
    w_hh, w_uh, w_r = C.circuit(C.repeat_copy_phi(S, KAPPA), basis, KAPPA)
    return {"W_hh": w_hh, "W_uh": w_uh, "W_r": w_r}


@pytest.fixture
def compared(exact):
    return N.compare(exact, S, seed=3, nonlinearity="linear")


def same_eigenvalues(a, b) -> float:
    """Largest distance between the eigenvalues of a and b, matched one to one."""
    ea, eb = np.linalg.eigvals(a), np.linalg.eigvals(b)
    cost = np.abs(ea[:, None] - eb[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


# ------------------------------------------------------------------------------ the metrics


def test_exact_circuit_has_the_theoretical_values(compared):
    m = compared["trained"]
    assert set(m) == {*M.METRIC_KEYS, "error"} and m["error"] == ""
    assert m["n_eig_ge1"] == S * KAPPA and m["spectrum_counts_ok"] == 1
    assert m["spectrum_count_excess"] == 0 and m["angle_error_max_deg"] < 1e-6
    zero = [f"{k}_{t}" for t in M.ALPHA_TAGS.values() for k in M.BLOCK_PARTS]
    zero += ["defect_forward_max", "defect_backward_mean", "coupling_in", "coupling_out"]
    zero += ["read_before_write"]
    for key in zero:
        assert m[key] < 1e-8, key
    for key in ("rnd_acc_in", "rnd_acc_out", "crosstalk_match"):
        assert m[key] == 1.0, key
    assert m["rnd_cos_min"] > 1 - 1e-9


def test_bad_arguments(exact):
    with pytest.raises(ValueError, match="seed"):
        N.null_models(exact, S, seed=-1)
    with pytest.raises(ValueError, match="must be a dict"):
        N.same_spectrum([exact["W_hh"]], np.random.default_rng(0))


# ------------------------------------------------------------------------ the constructors


def test_same_spectrum_keeps_the_eigenvalues_not_the_eigenvectors(rng, exact):
    general = {
        "W_hh": rng.standard_normal((10, 10)),
        "W_uh": np.ones((10, 2)),
        "W_r": np.ones((2, 10)),
    }
    for w in (general, exact):
        null = N.same_spectrum(w, np.random.default_rng(1))
        assert same_eigenvalues(null["W_hh"], w["W_hh"]) < 1e-8
        assert np.array_equal(null["W_uh"], w["W_uh"]) and np.array_equal(null["W_r"], w["W_r"])
        assert np.linalg.norm(null["W_hh"] - w["W_hh"]) > 0.5 * np.linalg.norm(w["W_hh"])
    assert np.iscomplexobj(np.linalg.eigvals(general["W_hh"]))  # the 2x2 blocks were exercised


def test_random_input_weights_keep_the_norm(exact):
    null = N.random_input_weights(exact, np.random.default_rng(2))
    assert abs(np.linalg.norm(null["W_uh"]) - np.linalg.norm(exact["W_uh"])) < 1e-12
    assert np.array_equal(null["W_hh"], exact["W_hh"]) and np.array_equal(null["W_r"], exact["W_r"])
    cos = np.sum(null["W_uh"] * exact["W_uh"]) / np.linalg.norm(exact["W_uh"]) ** 2
    assert abs(cos) < 0.9


def test_untrained_is_the_start_of_training():
    torch_init = ElmanRNN(KAPPA, N_H, init="orthogonal", seed=5).weights()
    orth = N.untrained(KAPPA, N_H, 5, "orthogonal")
    assert np.abs(orth["W_hh"].T @ orth["W_hh"] - np.eye(N_H)).max() < 1e-12
    assert np.abs(orth["W_hh"] - torch_init["W_hh"]).max() < 1e-5
    assert np.array_equal(orth["W_uh"], torch_init["W_uh"])
    assert np.abs(np.abs(np.linalg.eigvals(orth["W_hh"])) - 1).max() < 1e-12
    uniform = N.untrained(KAPPA, N_H, 5, "pytorch")
    same = ElmanRNN(KAPPA, N_H, init="pytorch", seed=5).weights()
    assert all(np.array_equal(uniform[k], same[k]) for k in ("W_hh", "W_uh", "W_r"))
    assert np.abs(uniform["W_hh"]).max() <= 1 / np.sqrt(N_H)
    other = N.untrained(KAPPA, N_H, 6, "pytorch")
    assert not np.array_equal(other["W_hh"], uniform["W_hh"])
    with pytest.raises(ValueError, match="init"):
        N.untrained(KAPPA, N_H, 5, "zeros")


def test_wrong_s():
    assert N.wrong_s(16, 5, 128) == 8 and N.wrong_s(4, 2, 12) == 2 and N.wrong_s(5, 2, 12) == 2
    assert N.wrong_s(2, 2, 8) == 3 and N.wrong_s(1, 2, 8) == 2
    with pytest.raises(ValueError, match="no wrong s"):
        N.wrong_s(2, 4, 8)


def test_null_models_are_built_and_seeded(exact):
    models = N.null_models(exact, S, seed=3)
    assert tuple(models) == N.NULL_MODELS
    assert models["wrong_s"][1] == 2 and models["wrong_s"][0]["W_hh"] is not None
    again = N.null_models(exact, S, seed=3)
    for name in ("spectrum", "random_uh"):
        assert np.array_equal(models[name][0]["W_hh"], again[name][0]["W_hh"])
        assert np.array_equal(models[name][0]["W_uh"], again[name][0]["W_uh"])
    small = {"W_hh": np.eye(8), "W_uh": np.ones((8, 4)), "W_r": np.ones((4, 8))}
    weights, s_wrong, error = N.null_models(small, 2)["wrong_s"]
    assert weights is None and s_wrong is None and "no wrong s" in error


# ----------------------------------------------------------- the null models differ, or are forced


def test_untrained_nulls_differ(compared):
    orth, uniform = compared["untrained_orth"], compared["untrained_pytorch"]
    assert orth["error"] == "" and orth["block_error_a05"] > 0.3
    assert orth["crosstalk_match"] < 0.8 and orth["read_before_write"] > 0.3
    assert orth["rnd_acc_out"] < 0.8
    # torch's uniform init: spectral radius about 1/sqrt(3), so Algorithm 1 cannot run
    assert uniform["n_eig_ge1"] == 0 and "fewer than s*kappa" in uniform["error"]
    assert math.isnan(uniform["block_error_a05"]) and math.isnan(uniform["rnd_acc_in"])


def test_same_spectrum_forces_figure_3b_and_alpha_1(compared):
    tr, sp = compared["trained"], compared["spectrum"]
    spectral = ("n_eig_ge1", "spectrum_counts_ok", "angle_error_mean_deg", "angle_error_max_deg")
    assert all(sp[k] == pytest.approx(tr[k], abs=1e-6) for k in spectral)
    # W_hh^s = I on the kept subspace: the forward branch alone (alpha = 1) returns Phi exactly
    assert sp["block_error_a1"] < 1e-8 and sp["wrap_error_a1"] < 1e-8
    assert sp["block_error_a05"] > 0.3 and sp["defect_backward_mean"] > 0.3
    assert sp["crosstalk_match"] < 0.8 and sp["read_before_write"] > 0.3


def test_wrong_s_differs(compared):
    ws = compared["wrong_s"]
    assert ws["error"] == "" and ws["angle_error_mean_deg"] > 10
    assert ws["block_error_a05"] > 0.3 and ws["wrap_error_a1"] > 0.5
    assert ws["rnd_acc_out"] < 0.95 and ws["rnd_cos_mean"] < 0.9 and ws["crosstalk_match"] < 1
    # during the input phase the forward branch still names the right memories (s' = s / 2)
    assert ws["rnd_acc_in"] == 1.0


def test_random_input_weights_leave_the_block_but_not_the_reading(compared):
    ru = compared["random_uh"]
    # W_hh is the exact cycle: any W_uh in the kept subspace gives Phi at every alpha
    for tag in M.ALPHA_TAGS.values():
        assert ru[f"block_error_{tag}"] < 1e-8
    assert ru["crosstalk_match"] < 0.8 and ru["read_before_write"] > 0.3
    assert ru["rnd_acc_out"] < 0.95 and ru["rnd_cos_mean"] < 0.8


# ------------------------------------------------------------------ the Figure 3D helpers


def test_strongest_memory_and_read_before_write():
    s, kappa, T = 3, 2, 6
    u = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
    slots = A.memory_slots(s, T)
    contents = np.zeros((T, s, kappa))
    for k in range(T):
        for mu in range(1, s + 1):
            if slots[k, mu - 1]:
                contents[k, slots[k, mu - 1] - 1] = u[mu - 1]
    best = A.strongest_memory(contents, u)
    assert np.array_equal(best, slots)
    assert A.read_before_write(contents) == 0.0
    noisy = contents.copy()
    noisy[0, 0] = [0.5, 0.5]  # memory 1 is empty at step 0
    assert A.read_before_write(noisy) == pytest.approx(np.sqrt((0.5 / 3) / (6 / 3)))
    twins = u.copy()
    twins[2] = twins[0]  # inputs 1 and 3 are equal: neither can be told apart
    assert not A.strongest_memory(contents, twins)[:, [0, 2]].any()
    with pytest.raises(ValueError, match="zero"):
        A.strongest_memory(contents, np.zeros((s, kappa)))
    with pytest.raises(ValueError, match="shape"):
        A.read_before_write(np.zeros((3, 2)))
