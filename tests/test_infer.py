"""Unit tests of the graceful Algorithm 1 (``select=``, diagnostics) and of ``infer_s_kappa``.

Issue 10, items 2 and 3; chapters "Analyse your own network" and "Networks with bias" (planned);
paper Sec. 6 (Algorithm 1) and Sec. 7 (Figure 3B).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from emt import analysis as A
from emt import circuits as C
from emt import nulls

#: seed of the ``rng`` fixture (tests/conftest.py)
RNG_SEED = 10


def leaky(rng, n_h, s, kappa, decay=0.4, cond=10.0):
    """Repeat copy in a random non-orthogonal basis with a decaying rest (emt.circuits)."""
    phi = C.repeat_copy_phi(s, kappa)
    return phi, C.leaky_circuit(phi, kappa, n_h, rng, decay=decay, cond=cond)


def exact(rng, s, kappa, orthogonal=False):
    """Repeat copy filling the whole hidden space (n_h = s*kappa): no eigenvalue below the cluster."""
    basis = C.random_basis(s * kappa, s * kappa, rng, orthogonal=orthogonal)
    return C.circuit(C.repeat_copy_phi(s, kappa), basis, kappa)[0]


def trained_weights(config):
    from emt.rnn import get_trained

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_trained(config, progress=False).weights()


@pytest.fixture(scope="module")
def book_net():
    """Seed 0 of the book's configuration (s = 16, kappa = 5, 128 hidden units; cached)."""
    from emt.rnn import TrainConfig

    return trained_weights(TrainConfig())


# ------------------------------------------------------------------ item 2: select= and diagnostics


def test_default_unchanged_and_diagnostics_on_exact_circuit(rng):
    phi, lc = leaky(rng, 20, 4, 3)
    vm = A.variable_memories(lc.w_hh, lc.w_uh, lc.w_r, 4)
    d = vm.diagnostics
    assert d.select == "threshold" and d.ok and d.warnings == ()
    assert d.n_above_threshold == d.n_kept == vm.n_large == 12
    assert d.gap == pytest.approx(1 / 0.4, rel=1e-8)
    assert d.cutoff == 1.0 and 1 <= d.psi_condition < 1e3 and np.isfinite(d.basis_condition)
    assert np.abs(vm.memory_block - phi).max() < 1e-8
    top = A.variable_memories(lc.w_hh, lc.w_uh, lc.w_r, 4, select="top")
    assert top.diagnostics.select == "top" and top.diagnostics.ok
    assert 0.4 < top.diagnostics.cutoff < 1
    assert np.abs(top.phi_learned - vm.phi_learned).max() < 1e-9


def test_top_analyses_memories_below_the_threshold(rng):
    """The issue's case: the memory eigenvalues sit below the threshold (here all of them)."""
    phi, lc = leaky(rng, 20, 4, 3)
    w_hh = 0.94 * lc.w_hh  # memory eigenvalues at modulus 0.94, the rest at 0.376
    with pytest.raises(ValueError, match='select="top"'):
        A.variable_memories(w_hh, lc.w_uh, lc.w_r, 4, threshold=0.95)
    for select in ("top", "auto"):
        vm = A.variable_memories(w_hh, lc.w_uh, lc.w_r, 4, threshold=0.95, select=select)
        d = vm.diagnostics
        assert d.select == "top" and d.n_above_threshold == 0 and d.n_kept == 12
        assert d.gap == pytest.approx(2.5, rel=1e-8)
        assert any("only 0 of s*kappa = 12" in w for w in d.warnings)
        # the memories span the circuit's memory space, which does not leak into the rest ...
        coef = np.linalg.lstsq(lc.psi, vm.psi, rcond=None)[0]
        assert np.abs(lc.psi @ coef - vm.psi).max() < 1e-8 * np.abs(vm.psi).max()
        assert np.abs(vm.from_memory_block).max() < 1e-8  # oblique removal: Psi_perp^* W Psi = 0
        # ... and the memory block is 0.94 Phi up to a rescaling of each memory (W_hh^k shrinks)
        ev = np.linalg.eigvals(vm.memory_block)
        assert np.abs(np.abs(ev) - 0.94).max() < 1e-8
        assert np.abs(np.sort(np.abs(np.linalg.eigvals(phi))) - 1).max() < 1e-12
    # auto keeps the paper's rule when it works
    assert A.variable_memories(w_hh, lc.w_uh, lc.w_r, 4, 0.5, 0.9, select="auto").diagnostics.ok


def test_top_on_trained_network_with_some_memories_below(book_net):
    w = book_net
    ref = A.variable_memories(w["W_hh"], w["W_uh"], w["W_r"], 16)
    moduli = np.sort(np.abs(np.linalg.eigvals(w["W_hh"])))[::-1]
    i = next(i for i in range(76, 80) if moduli[i - 1] - moduli[i] > 1e-7)  # not inside a pair
    thr = float(moduli[i - 1] + moduli[i]) / 2  # about 76 of the 80 above it, as in the issue
    with pytest.raises(ValueError, match=f"only {i} eigenvalues"):
        A.variable_memories(w["W_hh"], w["W_uh"], w["W_r"], 16, threshold=thr)
    vm = A.variable_memories(w["W_hh"], w["W_uh"], w["W_r"], 16, threshold=thr, select="top")
    d = vm.diagnostics
    assert d.n_above_threshold == i and d.n_kept == 80 and len(d.warnings) == 1
    assert d.gap == pytest.approx(moduli[79] / moduli[80])
    assert np.abs(vm.phi_learned - ref.phi_learned).max() < 1e-8


def test_top_keeps_a_conjugate_pair_whole(rng):
    """s = 3 read from a circuit with 8 unit eigenvalues: the cut after 6 splits a tie."""
    _, lc = leaky(rng, 16, 4, 2)
    vm = A.variable_memories(lc.w_hh, lc.w_uh, lc.w_r, 3, alpha=1.0, select="top")
    d = vm.diagnostics
    assert d.n_kept == 8 and d.gap == pytest.approx(1.0)
    assert any("ties" in w for w in d.warnings) and any(
        "small spectral gap" in w for w in d.warnings
    )


def test_more_than_s_kappa_above_threshold_is_reported(rng):
    from emt.nulls import untrained

    w = untrained(2, 16, 0)
    vm = A.variable_memories(w["W_hh"], w["W_uh"], w["W_r"], 4)
    assert vm.diagnostics.n_above_threshold == 16
    assert any("more than s*kappa = 8" in m for m in vm.diagnostics.warnings)


def test_no_result_still_raises(rng):
    _, lc = leaky(rng, 20, 4, 3)
    with pytest.raises(ValueError, match="singular"):
        A.variable_memories(lc.w_hh, np.zeros_like(lc.w_uh), lc.w_r, 4, alpha=1.0, select="top")


@pytest.mark.parametrize(
    "change,match",
    [
        (dict(select="largest"), "select must be one of"),
        (dict(alpha=1.5), "alpha"),
        (dict(threshold=-1.0), "threshold"),
        (dict(threshold=float("nan")), "threshold"),
        (dict(s=7), "larger than the hidden size"),
        (dict(w_hh="nan"), "non-finite"),
        (dict(w_hh="shape"), "square"),
    ],
)
def test_invalid_input_raises_in_every_mode(rng, change, match):
    _, lc = leaky(rng, 20, 4, 3)
    args = dict(w_hh=lc.w_hh, w_uh=lc.w_uh, w_r=lc.w_r, s=4, select="top")
    args.update(change)
    if args["w_hh"] is not None and isinstance(args["w_hh"], str):
        bad = lc.w_hh.copy()
        if change["w_hh"] == "nan":
            bad[0, 0] = np.nan
        else:
            bad = bad[:, :-1]
        args["w_hh"] = bad
    with pytest.raises(ValueError, match=match):
        A.variable_memories(**args)


# ------------------------------------------------------------------ item 3: inferring s and kappa


def check_inferred(r, s, kappa):
    assert not r.refused and r.reason == ""
    assert (r.s, r.kappa) == (s, kappa) == r.candidate
    assert r.p_value <= r.level == A.INFER_LEVEL and r.confidence == 1 - r.p_value
    assert r.n_cluster == s * kappa and np.all(r.counts == kappa) and r.counts.size == s
    assert r.counts_equal and r.residuals.shape == (s * kappa,) and r.mean_fraction < 0.1
    text = r.evidence()
    assert f"s = {s}, kappa = {kappa}" in text and " ".join([str(kappa)] * s) in text


SK = [(4, 2), (8, 3), (16, 5), (2, 4), (5, 3), (32, 1), (7, 3)]


@pytest.mark.parametrize("s,kappa", SK)
def test_exact_circuit_with_decaying_rest(rng, s, kappa):
    _, lc = leaky(rng, s * kappa + 17, s, kappa)
    r = A.infer_s_kappa(lc.w_hh)
    check_inferred(r, s, kappa)
    assert r.gap == pytest.approx(2.5, rel=1e-6) and r.n_passing == 1
    assert r.runner_up is None or r.runner_up[2] > A.INFER_LEVEL  # a divisor of s, at best


@pytest.mark.parametrize("s,kappa", SK)
@pytest.mark.parametrize("orthogonal", [False, True])
def test_exact_circuit_filling_the_space(rng, s, kappa, orthogonal):
    r = A.infer_s_kappa(exact(rng, s, kappa, orthogonal))
    check_inferred(r, s, kappa)
    assert r.gap == np.inf and r.next_modulus == 0.0


def test_perturbed_circuit(rng):
    _, lc = leaky(rng, 96, 16, 5)
    clean = A.infer_s_kappa(lc.w_hh)
    noisy = A.infer_s_kappa(lc.w_hh + 0.01 * rng.standard_normal((96, 96)) / np.sqrt(96))
    check_inferred(noisy, 16, 5)
    assert noisy.p_raw >= clean.p_raw and noisy.mean_fraction > clean.mean_fraction
    assert noisy.residual_fraction > 100 * clean.residual_fraction


def test_neither_multiples_nor_divisors_fit(rng):
    """With the true s out of range the inference refuses rather than pick 2s or s/2."""
    _, lc = leaky(rng, 96, 16, 5)
    below = A.infer_s_kappa(lc.w_hh, s_range=(2, 15))  # divisors 8, 4, 2 leave angles between
    above = A.infer_s_kappa(lc.w_hh, s_range=(17, 64))  # multiples 32, 48 leave directions empty
    fewer = A.infer_s_kappa(lc.w_hh, kappa_max=4)
    for r in (below, above, fewer):
        assert r.refused and r.s is None and r.kappa is None and r.confidence == 0
        assert "better than random" in r.reason or "for no s in" in r.reason
        assert "not inferred" in r.evidence()
    # the divisors stand out (a gap, every direction occupied) but their angles are random-like
    assert below.candidate[0] in (8, 4, 2) and below.p_value > A.INFER_LEVEL


@pytest.mark.slow
def test_trained_book_network_and_same_spectrum_null(book_net, rng):
    r = A.infer_s_kappa(book_net["W_hh"])
    check_inferred(r, 16, 5)
    assert r.gap > 1.05 and r.residual_fraction < 0.02
    # the same eigenvalues with random eigenvectors: the inference rests on the spectrum alone
    null = A.infer_s_kappa(nulls.same_spectrum(book_net, rng)["W_hh"])
    check_inferred(null, 16, 5)
    assert null.mean_fraction == pytest.approx(r.mean_fraction, abs=1e-6)


@pytest.mark.slow
def test_small_trained_network():
    """s = 5, kappa = 2, 24 hidden units: solved in about 8000 steps (half a minute if not cached)."""
    from emt.rnn import TrainConfig

    w = trained_weights(TrainConfig(s=5, kappa=2, hidden=24, seed=0))
    check_inferred(A.infer_s_kappa(w["W_hh"]), 5, 2)


@pytest.mark.parametrize("hidden,kappa", [(16, 2), (128, 5)])
@pytest.mark.parametrize("init", ["orthogonal", "pytorch"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refuses_untrained(hidden, kappa, init, seed):
    r = A.infer_s_kappa(nulls.untrained(kappa, hidden, seed, init=init)["W_hh"])
    assert r.refused and r.s is None and r.confidence == 0 and r.reason
    if init == "orthogonal":  # every eigenvalue on the unit circle: one cluster, random angles
        assert "better than random" in r.reason and r.n_cluster == hidden


@pytest.mark.slow
@pytest.mark.parametrize("n", [8, 16, 32, 64, 128])
def test_refuses_gaussian(rng, n):
    for _ in range(20):
        r = A.infer_s_kappa(rng.standard_normal((n, n)) / np.sqrt(n))
        assert r.refused and r.s is None and r.confidence == 0


def test_refuses_angles_without_gap():
    """Eigenvalues exactly on the 4 directions, 8 in each, but moduli spread evenly (no gap)."""
    from scipy.linalg import block_diag

    radii = np.geomspace(1.0, 0.5, 32)  # neighbours differ by 2.3%, below gap_min
    blocks, k = [], 0
    for _ in range(8):  # per group: +r, -r (real) and a pair at +-pi/2
        a, b, c = radii[k : k + 3]
        blocks += [np.array([[a]]), np.array([[-b]]), np.array([[0.0, -c], [c, 0.0]])]
        k += 3
    blocks += [np.array([[x]]) for x in radii[24:]]  # 8 more below, at angle 0
    q = C.random_basis(40, 40, np.random.default_rng(0))
    r = A.infer_s_kappa(q @ block_diag(*blocks) @ np.linalg.inv(q))
    assert r.refused and r.reason.startswith("no gap")
    assert "angles fit s = 4" in r.reason and r.candidate[0] == 4
    # the same 32 eigenvalues filling the whole space: still refused (the cluster is not tight)
    q = C.random_basis(32, 32, np.random.default_rng(0))
    r = A.infer_s_kappa(q @ block_diag(*blocks[:24]) @ np.linalg.inv(q))
    assert r.refused and "spread" in r.reason


def test_runner_up_of_nested_clusters(rng):
    """Two nested clusters on the 4 directions: 8 eigenvalues at modulus 1, 4 more at 0.97."""
    from scipy.linalg import block_diag

    blocks = []
    for r0 in (1.0, 1.0, 0.97):  # per group: +r, -r and a pair at +-pi/2
        blocks += [np.array([[r0]]), np.array([[-r0]]), np.array([[0.0, -r0], [r0, 0.0]])]
    blocks.append(0.92 * np.eye(28))
    q = C.random_basis(40, 40, rng)
    r = A.infer_s_kappa(q @ block_diag(*blocks) @ np.linalg.inv(q))
    # kappa = 3 has the wider gap (0.97/0.92) than kappa = 2 (1/0.97): it wins, with little margin
    assert (r.s, r.kappa) == (4, 3) and r.runner_up is not None and r.runner_up[:2] == (4, 2)
    assert r.p_value <= A.INFER_LEVEL and r.runner_up[2] <= A.INFER_LEVEL and r.n_passing == 2
    assert "runner-up: s = 4, kappa = 2" in str(r)


def test_refuses_without_candidates():
    r = A.infer_s_kappa(np.zeros((8, 8)))
    assert r.refused and "nilpotent" in r.reason and r.candidate is None
    assert r.evidence() == "s and kappa not inferred: W_hh is nilpotent: every eigenvalue is 0"
    r = A.infer_s_kappa(np.eye(8), s_range=(9, 12))
    assert r.refused and r.reason.startswith("no candidate") and r.n_cluster == 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(w_hh=np.ones((3, 4))), "square"),
        (dict(w_hh=np.full((4, 4), np.nan)), "non-finite"),
        (dict(s_range=(5, 2)), "s_range"),
        (dict(s_range=(0, 2)), "s_range"),
        (dict(level=0.0), "level"),
        (dict(gap_min=0.5), "gap_min"),
        (dict(kappa=0), "kappa"),
        (dict(kappa_max=0), "kappa_max"),
    ],
)
def test_infer_rejects_invalid_input(kwargs, match):
    args = dict(w_hh=np.eye(8))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        A.infer_s_kappa(**args)


# ------------------------------------------------------------------ the calibration of the inference


def test_random_angle_pvalue_exact_and_uniform():
    """The Irwin-Hall p-value: exact for small m, and uniform when the angles are random."""
    assert A.random_angle_pvalue([0.5]) == pytest.approx(0.5)
    assert A.random_angle_pvalue([0.1, 0.1]) == pytest.approx(0.2**2 / 2)  # triangle below 1
    assert A.random_angle_pvalue([0.0] * 4) == 0.0 and A.random_angle_pvalue([]) == 1.0
    rng = np.random.default_rng(7)
    for m in (1, 3, 10, 40):
        p = np.array([A.random_angle_pvalue(rng.random(m)) for _ in range(2000)])
        # uniform: each tenth of [0, 1] holds 200 of 2000 (binomial sd 13.4; 5 sd allowed)
        hist = np.histogram(p, bins=10, range=(0, 1))[0]
        assert np.all(np.abs(hist - 200) < 67), (m, hist)


def _null_matrices():
    rng = np.random.default_rng(11)
    for n in (32, 64, 128):
        for i in range(60):
            yield f"gaussian {n}", rng.standard_normal((n, n)) * (1.05 / np.sqrt(n))
            yield f"pytorch {n}", nulls.untrained(4, n, i, init="pytorch")["W_hh"]
        for i in range(20):
            yield f"orthogonal {n}", nulls.untrained(4, n, i, init="orthogonal")["W_hh"]


@pytest.mark.slow
@pytest.mark.parametrize("kappa", [None, 4])
def test_false_positive_rate(kappa):
    """INFER_LEVEL is a family-wise false-positive rate: measured on 420 matrices without a
    circuit, the fraction inferred to have one stays within the binomial spread of the level,
    both when kappa is inferred (the gap is required) and when it is given (angles alone)."""
    from scipy.stats import binom

    results = [(name, A.infer_s_kappa(w, kappa=kappa)) for name, w in _null_matrices()]
    false = [name for name, r in results if not r.refused]
    bound = binom.ppf(0.999, len(results), A.INFER_LEVEL)
    assert len(results) == 420 and len(false) <= bound, false


def test_kappa_given_needs_no_gap(rng):
    """A circuit whose memory moduli are not separated from the rest: with kappa given the angles
    decide; without it the cluster does not stand out and the inference refuses."""
    from scipy.linalg import block_diag

    blocks = []
    for r0 in np.linspace(1.01, 1.0, 4):  # 4 memories of s = 4: +r, -r, a pair at +-pi/2
        blocks += [np.array([[r0]]), np.array([[-r0]]), np.array([[0.0, -r0], [r0, 0.0]])]
    theta = rng.uniform(0, np.pi, 8)  # the rest at random angles, moduli 0.999 .. 0.99
    for t, r0 in zip(theta, np.linspace(0.999, 0.99, 8)):
        c, s_ = r0 * np.cos(t), r0 * np.sin(t)
        blocks.append(np.array([[c, -s_], [s_, c]]))
    q = C.random_basis(32, 32, rng)
    w = q @ block_diag(*blocks) @ np.linalg.inv(q)
    free = A.infer_s_kappa(w)
    given = A.infer_s_kappa(w, kappa=4)
    assert free.refused and not given.refused and (given.s, given.kappa) == (4, 4)
    assert given.gap < A.INFER_GAP_MIN and given.stands_out and given.p_value <= A.INFER_LEVEL
    assert A.infer_s_kappa(w, kappa=4, require_gap=True).refused
