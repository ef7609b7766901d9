"""Tests of emt.metrics: the one Figure 3 metrics function, and the one eigenvalue-cut rule.

Chapter "How general is the circuit?" (book/universality.md, section ``sec-un-metrics``); paper
Sec. 6 (Algorithm 1) and Sec. 7 (Figure 3). The small networks are the exact repeat-copy circuit
in a random basis (s = 4, kappa = 2 or 3), where the theory predicts every number.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from emt import analysis as A
from emt import circuits as C
from emt import metrics as M
from emt import nulls, report, sweep

RNG_SEED = 911
S, KAPPA, N_H = 4, 2, 12


def circuit(rng, n_h=N_H, s=S, kappa=KAPPA, phi=None):
    """The repeat-copy circuit (or another Phi) of emt.circuits in a random basis."""
    phi = C.repeat_copy_phi(s, kappa) if phi is None else phi
    w_hh, w_uh, w_r = C.circuit(phi, C.random_basis(n_h, s * kappa, rng), kappa)
    return {"W_hh": w_hh, "W_uh": w_uh, "W_r": w_r}


def probe_inputs(rng, s, kappa, n_batch=6, periods=3):
    """A +-1 probe run and a batch of +-1 runs, as figure3's ``inputs``."""
    T = s + periods * s
    x = np.where(rng.standard_normal((s, kappa)) > 0, 1.0, -1.0)
    u = np.zeros((T, kappa))
    u[:s] = x
    ub = np.zeros((n_batch, T, kappa))
    ub[:, :s] = np.where(rng.standard_normal((n_batch, s, kappa)) > 0, 1.0, -1.0)
    return {"pca": ub, "probe": (u, x), "batch": (ub, ub[:, :s])}


# -------------------------------------------------------------------------- the numbers


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_exact_circuit_gives_the_theory_at_every_alpha(rng, alpha):
    w = circuit(rng, 20, 4, 3)
    m = M.figure3(w, 4, alpha=alpha, nonlinearity="linear", inputs=probe_inputs(rng, 4, 3))
    assert m.error == "" and m.memories is not None and m.cut == 1.0
    assert set(m.values) == set(M.METRIC_KEYS) and set(m.row()) == {*M.METRIC_KEYS, "error"}
    for key in ("block_error", "shift_error", "wrap_error", "coupling_in", "coupling_out"):
        assert m[key] < 1e-8, key
    for key in ("probe_acc", "rnd_acc_in", "rnd_acc_out", "crosstalk_match"):
        assert m[key] == 1.0, key
    for key in ("probe_cos_in", "probe_cos_out", "rnd_cos_mean", "rnd_cos_min"):
        assert m[key] > 1 - 1e-9, key
    assert m["n_eig_ge1"] == 12 and m["spectrum_counts_ok"] == 1
    assert dict(m)["block_error"] == m.main["block_error"]  # main first, then values


def test_a_flipped_wrap_around_is_seen(rng):
    """Memory 1 -> memory s with a sign flip: contents flip at every wrap."""
    s, kappa, n = 4, 3, 12
    bad = C.repeat_copy_phi(s, kappa)
    bad[n - kappa :, :kappa] *= -1
    w = circuit(rng, 20, s, kappa, phi=bad)
    m = M.figure3(w, s, alpha=1.0, nonlinearity="linear", inputs=probe_inputs(rng, s, kappa))
    assert m["shift_error"] < 1e-8  # forced by the construction for alpha = 1
    assert abs(m["wrap_error"] - 2.0) < 1e-8  # -I against I
    assert m["block_error"] > 0.4
    # the input phase is untouched (nothing has wrapped yet), the output phase is not
    assert m["rnd_acc_in"] == 1.0 and m["probe_cos_in"] > 1 - 1e-9
    assert m["rnd_acc_out"] < 0.75 and m["rnd_cos_min"] < 0
    assert m["probe_cos_out"] < -1 + 1e-9 and m["probe_acc"] < 1.0


def test_metrics_are_reproducible_and_seeded(rng):
    w = circuit(rng)
    a = M.figure3(w, S, seed=1, nonlinearity="linear").row()
    b = M.figure3(w, S, kappa=KAPPA, seed=1, nonlinearity="linear").row()
    c = M.figure3(w, S, seed=2, nonlinearity="linear").row()
    assert a == b
    assert a["rnd_cos_mean"] == pytest.approx(c["rnd_cos_mean"], abs=1e-9)  # exact either way


def test_failure_of_algorithm_1_is_recorded_not_raised(rng):
    w_hh = rng.standard_normal((N_H, N_H))
    w_hh *= 0.5 / np.abs(np.linalg.eigvals(w_hh)).max()  # no eigenvalue of modulus >= 1
    w = {"W_hh": w_hh, "W_uh": rng.standard_normal((N_H, KAPPA)), "W_r": np.ones((KAPPA, N_H))}
    m = M.figure3(w, S)
    assert "only 0 eigenvalues of W_hh have modulus >= threshold" in m.error
    assert "alpha = 0.5" in m.error and "shift_defects" in m.error
    assert m.memories is None and m.memories_error and m.memories_error in m.error
    assert math.isnan(m["block_error_a05"]) and math.isnan(m["crosstalk_match"])
    assert m["n_eig_ge1"] == 0 and math.isfinite(m["angle_error_mean_deg"])


def test_bad_arguments(rng):
    w = circuit(rng)
    cases = [
        (({"W_hh": w["W_hh"], "W_uh": w["W_uh"]}, S), {}, "is missing"),
        ((w, S), {"kappa": 3}, "kappa = 3 does not match"),
        ((w, S), {"nonlinearity": "relu"}, "nonlinearity"),
        ((w, S), {"readout": "inverse"}, "readout must be one of"),
        ((w, S), {"removal": "all"}, "removal must be one of"),
        ((w, S), {"select": "best"}, "select must be one of"),
        ((w, S), {"alpha": 2.0}, "alpha must"),
        ((w, 7), {}, "larger than the hidden size"),
        ((w, 0), {}, "s must be a positive integer"),
        ((w, S), {"inputs": {"states": 1}}, "unknown keys"),
        ((w, S), {"inputs": {"pca": np.zeros((2, 8, 3))}}, "kappa = 2"),
        ((w, S), {"inputs": {"batch": (np.zeros((2, S, 2)), np.zeros((2, S, 2)))}}, "past the"),
        ((w, S), {"inputs": {"probe": (np.zeros((S, 2)), np.zeros((S, 2)))}}, "one run of shape"),
        ((w, S), {"inputs": {"probe": (np.zeros((9, 2)), np.zeros((3, 2)))}}, "probe's inputs"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            M.figure3(*args, **kwargs)


def test_probe_batch_has_distinct_inputs():
    u, x = M.probe_batch(5, 4, 2, 3, np.random.default_rng(0))
    assert u.shape == (5, 7, 2) and np.array_equal(u[:, :4], x) and not u[:, 4:].any()
    assert all(len({tuple(row) for row in run}) == 4 for run in x)
    assert set(np.unique(x)) == {-1.0, 1.0}
    _, many = M.probe_batch(2, 9, 2, 0, np.random.default_rng(0))  # 9 > 2**2: repeats allowed
    assert many.shape == (2, 9, 2)


# ------------------------------------------------------------------------ the one cut rule


def diagonal(moduli) -> np.ndarray:
    """A real matrix with the given eigenvalue moduli (positive real eigenvalues)."""
    return np.diag(np.asarray(moduli, dtype=float))


def test_memory_cut_threshold_top_and_auto():
    w = diagonal([1.2, 1.1, 0.9, 0.8, 0.5])
    assert A.memory_cut(w, 2, select="threshold") == 1.0
    assert A.memory_cut(w, 3, select="threshold") == 1.0  # the paper's rule ignores n
    assert A.memory_cut(w, 3, select="top") == pytest.approx(0.85)  # halfway to the next
    assert A.memory_cut(w, 2, select="auto") == 1.0  # two reach 1: the threshold
    assert A.memory_cut(w, 3, select="auto") == pytest.approx(0.85)  # too few: the top cut
    assert A.memory_cut(w, 5, select="top") == 0.0  # everything kept
    with pytest.raises(ValueError, match="select must be one of"):
        A.memory_cut(w, 2, select="best")
    with pytest.raises(ValueError, match="n must be an integer in 1..n_h"):
        A.memory_cut(w, 6)


def test_memory_cut_keeps_a_near_tie_whole():
    """The (n+1)-th modulus lies 1e-7 below the n-th: more than EIG_TOL, less than TIE_RTOL.

    A cut at the n-th modulus itself (the sweep's former rule) kept n here; the one rule treats
    the two as a tie, keeps both, and so does Algorithm 1 with select="top".
    """
    w = diagonal([0.9, 0.8, 0.8 - 1e-7, 0.3])
    cut = A.memory_cut(w, 2, select="auto")
    assert cut == pytest.approx((0.8 - 1e-7 + 0.3) / 2)
    kept = int(np.sum(np.abs(np.linalg.eigvals(w)) >= cut - A.EIG_TOL))
    assert kept == 3


def test_figure3_with_select_auto_equals_the_threshold_at_the_cut(rng):
    w = circuit(rng)
    damped = {**w, "W_hh": 0.97 * w["W_hh"]}  # memory eigenvalues at 0.97: fewer than s*kappa >= 1
    auto = M.figure3(damped, S, select="auto", nonlinearity="linear")
    assert auto.cut == pytest.approx((0.97 + 0.0) / 2) and auto.error == ""
    fixed = M.figure3(damped, S, threshold=auto.cut, nonlinearity="linear")
    assert auto.row() == fixed.row()
    assert auto["block_error_a05"] < 0.05  # the memory block is 0.97 Phi


# ------------------------------------------------------- the call sites give the same numbers


def _same(a, b) -> bool:
    return (isinstance(a, float) and math.isnan(a) and math.isnan(b)) or a == b


def check_call_sites_agree(w, s, seed, tmp_path=None, source=None):
    """nulls.compare, sweep.table_cells and emt analyze read figure3's numbers unchanged."""
    trained = M.figure3(w, s, seed=seed).row()
    compared = nulls.compare(w, s, seed, nulls=False)["trained"]
    cells = sweep.table_cells(w, s, seed)
    assert all(_same(trained[k], compared[k]) for k in trained)
    assert all(_same(trained[k], cells[k]) for k in M.METRIC_KEYS)
    assert _same(trained["error"], cells["analysis_error"])
    top = M.figure3(w, s, seed=seed, select="auto").row()
    assert all(_same(top[k], cells[f"top__{k}"]) for k in sweep.TOP_KEYS)
    if source is not None:
        r = report.analyze(source, s=s, out=tmp_path / "report", progress=False)
        network = r["metrics"]["network"]
        cut = A.memory_cut(w["W_hh"], s * w["W_uh"].shape[1], select="auto")
        expected = M.figure3(w, s, seed=0, threshold=cut).row()
        assert all(_same(expected[k], network[k]) for k in M.METRIC_KEYS)
        main = M.figure3(w, s, seed=0, select="auto").main
        block = r["algorithm1"]["block_report"]
        assert all(_same(main[k], block[k]) for k in block)


def test_call_sites_agree_on_an_exact_circuit(rng, tmp_path):
    w = circuit(rng, 16)
    path = tmp_path / "net.npz"
    np.savez(path, **w)
    check_call_sites_agree(w, S, seed=3, tmp_path=tmp_path, source=path)
    damped = {**w, "W_hh": 0.97 * w["W_hh"]}  # the top columns come from select="auto"
    np.savez(path, **damped)
    check_call_sites_agree(damped, S, seed=3, tmp_path=tmp_path, source=path)


@pytest.mark.slow
def test_call_sites_agree_on_the_book_network(tmp_path, monkeypatch):
    """The book's network (s = 16, kappa = 5, 128 units), from the chapters' network cache."""
    from emt import rnn

    trained = rnn.get_trained(rnn.TrainConfig(), progress=False)
    monkeypatch.setattr(nulls, "null_models", lambda weights, s, seed=0: {})
    w = {k: v for k, v in trained.weights().items() if k in ("W_hh", "W_uh", "W_r")}
    check_call_sites_agree(w, 16, seed=0, tmp_path=tmp_path, source=trained.path)
