"""Every Figure 3 metric of one network, and the null models that calibrate them.

Chapter "How general is the circuit?"; paper Sec. 6 (Algorithm 1, Eq. 14-15) and Sec. 7
(Figure 3A-D). The chapter "Checking the reading" shows that part of what Algorithm 1
returns holds for *every* recurrent matrix (section "What the construction forces"). To tell what
a trained network shows from what the construction forces, each metric of
:func:`network_metrics` is computed on the trained network and on null models, each of which
keeps some of the trained structure and destroys the rest:

``untrained_orth``
    the network before training, with the book's initialisation (:func:`untrained`, orthogonal
    ``W_hh``): what Algorithm 1 reads into a network that has learned nothing.
``untrained_pytorch``
    the same with PyTorch's default uniform initialisation (:func:`untrained`): spectral radius
    about ``1/sqrt(3)``, so Algorithm 1's threshold keeps no eigenvalue and it cannot run.
``spectrum``
    the trained eigenvalues with random eigenvectors, and the trained ``W_uh`` and ``W_r``
    (:func:`same_spectrum`): everything of Figure 3B is forced, so this separates the spectrum
    from the alignment of the eigenvectors with the input and readout weights.
``wrong_s``
    the trained network analysed with a wrong number of memories (:func:`wrong_s`): what the
    metrics give when the theory's ``s`` is not the network's.
``random_uh``
    the trained ``W_hh`` and ``W_r`` with a random ``W_uh`` of the same Frobenius norm
    (:func:`random_input_weights`): the recurrent dynamics are trained, the writing is not.

:func:`null_models` builds all five, :func:`compare` measures the trained network and each of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from emt import _validate, analysis, circuits, elman, tasks
from emt._validate import positive_int as _pos_int

#: The values of alpha (Eq. 14-15) at which the memory block is compared with Phi, and the suffix
#: of their columns. At alpha = 1/2 also the couplings and the decoding are measured.
ALPHAS = (0.0, 0.5, 1.0)
ALPHA_TAGS = {0.0: "a0", 0.5: "a05", 1.0: "a1"}
#: Eigenvalues of modulus at least this (minus :data:`emt.analysis.EIG_TOL`) are kept by
#: Algorithm 1 and counted in ``n_eig_ge1`` (paper Sec. 6).
THRESHOLD = 1.0
#: Hidden states for the PCA of Algorithm 1: random +-1 sequences, input phase plus
#: ``PCA_PERIODS`` output periods.
PCA_SEQUENCES, PCA_PERIODS = 64, 4
#: Probe runs for decoding, cross-talk and read-before-write (:func:`probe_batch`).
PROBE_SEQUENCES, PROBE_PERIODS = 64, 3
#: Every random draw of :func:`network_metrics` comes from ``default_rng([PROBE_SEED, seed])``
#: and every draw of :func:`null_models` from ``default_rng([NULL_SEED, seed, i])``.
PROBE_SEED, NULL_SEED = 20231, 20233
#: Condition number of the random eigenvector matrix of :func:`same_spectrum`.
EIGENVECTOR_COND = 10.0
#: Ways of running the network for the probes: Eq. 6 (``tanh``) or the linear circuit of Sec. 5.2.
NONLINEARITIES = ("tanh", "linear")

#: Keys of :func:`emt.analysis.block_report` kept for every alpha of :data:`ALPHAS`.
BLOCK_PARTS = ("block_error", "wrap_error", "shift_error", "row_wrap_error", "row_shift_error")
#: Keys of :func:`emt.analysis.block_report` kept at alpha = 1/2 only.
COUPLING_KEYS = ("coupling_in", "coupling_out", "rest", "rest_radius")
#: Keys of :func:`emt.analysis.batch_decoding` (alpha = 1/2).
DECODING_KEYS = (
    "rnd_acc_in",
    "rnd_acc_out",
    "rnd_cos_mean",
    "rnd_cos_min",
    "crosstalk_match",
    "read_before_write",
)
#: The numeric keys of :func:`network_metrics`, in order (it also returns ``error``, a string).
METRIC_KEYS: tuple[str, ...] = (
    "n_eig_ge1",
    "spectrum_counts_ok",
    "spectrum_count_excess",
    "angle_error_mean_deg",
    "angle_error_max_deg",
    "spectrum_gap",
    *(f"{key}_{ALPHA_TAGS[a]}" for a in ALPHAS for key in BLOCK_PARTS),
    "defect_forward_max",
    "defect_backward_mean",
    "n_pca",
    "basis_condition",
    *COUPLING_KEYS,
    *DECODING_KEYS,
)
#: The null models of :func:`null_models`, in order.
NULL_MODELS = ("untrained_orth", "untrained_pytorch", "spectrum", "wrong_s", "random_uh")


# ----------------------------------------------------------------------------- the metrics


def probe_batch(
    n_seq: int, s: int, kappa: int, n_out: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat-copy probe runs whose s inputs differ from each other when they can.

    Chapter "How general is the circuit?"; paper Eq. 5. Returns ``(u, x)``: ``u``
    ``(n_seq, s + n_out, kappa)`` with the inputs ``x`` ``(n_seq, s, kappa)`` (bits +-1) in the
    first s steps and zeros after. When ``s <= 2**kappa`` the s inputs of a run are distinct
    patterns drawn without replacement, so that the cross-talk test
    (:func:`emt.analysis.strongest_memory`) can name the memory of every input; otherwise they are
    independent bits and repeated inputs are left out of that test.
    """
    n_seq, s, kappa = (_pos_int(n, v) for n, v in (("n_seq", n_seq), ("s", s), ("kappa", kappa)))
    n_out = _validate.integer("n_out", n_out, lo=0)
    if kappa <= 20 and s <= 2**kappa:
        codes = np.array([rng.choice(2**kappa, size=s, replace=False) for _ in range(n_seq)])
        bits = (codes[..., None] >> np.arange(kappa)) & 1
        x = 2.0 * bits - 1.0
    else:
        x = tasks.random_vectors((n_seq, s, kappa), rng)
    u = np.zeros((n_seq, s + n_out, kappa))
    u[:, :s] = x
    return u, x


def _run(weights: Mapping[str, np.ndarray], u: np.ndarray, nonlinearity: str) -> np.ndarray:
    if nonlinearity == "linear":
        return elman.simulate({k: weights[k] for k in elman.MATRICES}, u, nonlinearity="linear")[0]
    return elman.simulate(weights, u)[0]


def network_metrics(
    weights: Mapping[str, np.ndarray],
    s: int,
    kappa: int | None = None,
    seed: int = 0,
    *,
    nonlinearity: str = "tanh",
    threshold: float = THRESHOLD,
) -> dict[str, Any]:
    """Every Figure 3 metric of one network, as a flat dict of numbers and an ``error`` string.

    Chapter "How general is the circuit?", with the analysis of the chapter "Reading
    the trained network"; paper Sec. 6 (Algorithm 1, Eq. 14-15) and Sec. 7 (Figure 3A-D).
    ``weights`` holds ``W_hh``, ``W_uh``, ``W_r`` (and ``b_h``, ``b_r`` if the network has
    biases; they enter the simulation only); ``s`` is the number of memories the analysis assumes
    and ``kappa`` (default: the columns of ``W_uh``, which it must match) their size. Hidden
    states come from running the network (Eq. 6 with ``nonlinearity="tanh"``, or the linear
    circuit of Sec. 5.2 with ``"linear"``) on random +-1 sequences drawn from
    ``np.random.default_rng([PROBE_SEED, seed])``: :data:`PCA_SEQUENCES` for the PCA of
    Algorithm 1 and :data:`PROBE_SEQUENCES` probe runs (:func:`probe_batch`).

    Keys (:data:`METRIC_KEYS`):

    * Figure 3B (:func:`emt.analysis.spectrum_report` on the s*kappa largest eigenvalues):
      ``n_eig_ge1`` (eigenvalues with modulus >= ``threshold``, up to
      :data:`emt.analysis.EIG_TOL`), ``spectrum_counts_ok`` (1 if kappa point in every
      root-of-unity direction), ``spectrum_count_excess`` (how many would have to move to another
      direction for that), ``angle_error_mean_deg``, ``angle_error_max_deg``, ``spectrum_gap``;
    * Figure 3A at alpha = 0, 1/2, 1 (suffix ``_a0``, ``_a05``, ``_a1``;
      :func:`emt.analysis.block_report` against Phi of Eq. 12): ``block_error``, ``wrap_error``
      (the wrap-around column, free at alpha = 1), ``shift_error`` (forced at alpha = 1),
      ``row_wrap_error`` (block row s-1, free at alpha = 0), ``row_shift_error`` (forced at
      alpha = 0); the shift defects of :func:`emt.analysis.shift_defects`,
      ``defect_forward_max`` (forced to 0) and ``defect_backward_mean`` (free);
    * at alpha = 1/2 with the PCA: ``n_pca``, ``basis_condition``, the coupling blocks
      ``coupling_in``, ``coupling_out`` (forced to 0 by the oblique removal), ``rest``,
      ``rest_radius``;
    * Figure 3D at alpha = 1/2 on the probe runs (:func:`emt.analysis.batch_decoding`):
      ``rnd_acc_in``/``rnd_acc_out`` (bits read with the right sign at the slot the theory
      predicts), ``rnd_cos_mean``/``rnd_cos_min`` (their cosines), ``crosstalk_match`` (the
      memory with the largest read of each input is the predicted one) and
      ``read_before_write`` (what the memories read before their input is written, relative to
      the written ones; the paper's remark that it is close to 0).

    Where Algorithm 1 cannot run (e.g. fewer than s*kappa eigenvalues above the threshold) the
    affected keys are NaN and ``error`` says why ("" if nothing failed); nothing is raised for
    that. Raises ValueError for bad arguments: missing or mismatched weights, ``s`` not a
    positive integer, ``s * kappa`` larger than the hidden size, a ``kappa`` that is not that of
    ``W_uh``, an unknown ``nonlinearity``.
    """
    w = elman.check_weights(weights, finite=True)
    s = _pos_int("s", s)
    w_hh, w_uh, w_r, n_h, k_w = analysis.check_weights(w["W_hh"], w["W_uh"], w["W_r"], s)
    if kappa is not None and _pos_int("kappa", kappa) != k_w:
        raise ValueError(f"kappa = {kappa} does not match W_uh, which has {k_w} columns")
    kappa = k_w
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    n_mem = s * kappa
    out: dict[str, Any] = {key: math.nan for key in METRIC_KEYS}
    errors: dict[str, list[str]] = {}

    def fail(stage: str, exc: Exception) -> None:
        errors.setdefault(str(exc), []).append(stage)

    spec = analysis.spectrum_report(w_hh, s, n_mem)
    excess = np.maximum(spec.counts - kappa, 0)
    out.update(
        n_eig_ge1=int(np.sum(np.abs(spec.eigenvalues) >= threshold - analysis.EIG_TOL)),
        spectrum_counts_ok=int(np.all(spec.counts == kappa)),
        spectrum_count_excess=int(excess.sum()),
        angle_error_mean_deg=spec.mean_angular_error_deg,
        angle_error_max_deg=spec.max_angular_error_deg,
        spectrum_gap=float(spec.gap),
    )

    rng = np.random.default_rng([PROBE_SEED, seed])
    u_pca, _ = tasks.repeat_copy_batch(PCA_SEQUENCES, s, kappa, PCA_PERIODS * s, rng)
    u_probe, x_probe = probe_batch(PROBE_SEQUENCES, s, kappa, PROBE_PERIODS * s, rng)
    with np.errstate(over="ignore", invalid="ignore"):
        h_pca, h_probe = _run(w, u_pca, nonlinearity), _run(w, u_probe, nonlinearity)
    finite = bool(np.all(np.isfinite(h_pca)) and np.all(np.isfinite(h_probe)))
    if not finite:
        fail("simulation", ValueError("the hidden states are not finite (the run diverges)"))

    phi = circuits.repeat_copy_phi(s, kappa)
    for a in ALPHAS:
        tag = ALPHA_TAGS[a]
        half = a == 0.5
        try:
            vm = analysis.variable_memories(
                w_hh,
                w_uh,
                w_r,
                s,
                alpha=a,
                threshold=threshold,
                hidden_states=h_pca if half and finite else None,
                n_components=None if half else 0,  # the memory block does not need Psi_perp
            )
            rep = analysis.block_report(vm, phi)
        except ValueError as exc:
            fail(f"variable_memories (alpha = {a:g})", exc)
            continue
        out.update({f"{key}_{tag}": float(rep[key]) for key in BLOCK_PARTS})
        if half:
            out.update(n_pca=int(vm.n_pca), basis_condition=float(vm.meta["basis_condition"]))
            out.update({key: float(rep[key]) for key in COUPLING_KEYS})
            if finite:
                out.update(analysis.batch_decoding(vm, h_probe, x_probe))
    if s >= 2:
        try:
            defects = analysis.shift_defects(w_hh, w_uh, w_r, s, threshold=threshold)
            out.update(
                defect_forward_max=float(defects["forward"].max()),
                defect_backward_mean=float(defects["backward"].mean()),
            )
        except ValueError as exc:
            fail("shift_defects", exc)
    out["error"] = "; ".join(f"{', '.join(stages)}: {msg}" for msg, stages in errors.items())
    return out


# ----------------------------------------------------------------------------- the null models


def untrained(kappa: int, hidden: int, seed: int, init: str = "orthogonal") -> dict:
    """The network before training: the null model ``untrained_orth`` or ``untrained_pytorch``.

    Chapter "How general is the circuit?"; paper Sec. 7. Calibrates every metric of
    :func:`network_metrics` against a network that has learned nothing: what Algorithm 1 and the
    decoding read into arbitrary weights. The weights are the initial weights of
    :class:`emt.rnn.ElmanRNN` with the same ``kappa``, ``hidden``, ``init`` and ``seed``, i.e.
    the starting point of the training of :func:`emt.rnn.train` for that configuration (no
    bias). ``init="orthogonal"`` is the book's initialisation; its ``W_hh`` is made orthogonal in
    float64 (the polar factor of torch's float32 matrix, a change of about 1e-7) so that its
    eigenvalues lie on the unit circle to rounding and Algorithm 1's threshold of 1 keeps all of
    them rather than a random half. ``init="pytorch"`` is torch's uniform default.
    """
    from emt.rnn import ElmanRNN

    model = ElmanRNN(kappa, hidden, bias=False, init=init, seed=seed)  # validates the arguments
    w = model.weights()
    if init == "orthogonal":
        u, _, vt = np.linalg.svd(w["W_hh"])
        w["W_hh"] = u @ vt
    return w


def same_spectrum(weights: Mapping[str, np.ndarray], rng: np.random.Generator) -> dict:
    """The trained eigenvalues with random eigenvectors: the null model ``spectrum``.

    Chapter "How general is the circuit?"; paper Sec. 7 (Figure 3B). Calibrates the
    metrics that need more than the spectrum: the spectrum metrics are forced to be those of the
    trained network, while Algorithm 1 and the decoding see eigenvectors that have nothing to do
    with ``W_uh`` and ``W_r``. ``W_hh`` is replaced by ``B D B^-1``: ``D`` is the real form of the
    trained spectrum (a 1x1 block per real eigenvalue, a block ``[[a, b], [-b, a]]`` per complex
    pair ``a +- ib``) and ``B`` a random real matrix of condition number
    :data:`EIGENVECTOR_COND` (:func:`emt.circuits.random_basis`), so the eigenvalues are kept to
    rounding. ``W_uh``, ``W_r`` (and biases) are the trained ones.
    """
    w = elman.check_weights(weights, finite=True)
    w_hh = w["W_hh"]
    n = w_hh.shape[0]
    if w_hh.shape != (n, n):
        raise ValueError(f"W_hh must be square, got shape {w_hh.shape}")
    ev = np.linalg.eigvals(w_hh)
    d = np.zeros((n, n))
    i = 0
    for lam in ev[np.argsort(np.abs(ev.imag) > 0, kind="stable")]:  # real ones first
        if lam.imag == 0:
            d[i, i] = lam.real
            i += 1
        elif lam.imag > 0:  # LAPACK returns exact conjugate pairs; one block per pair
            d[i : i + 2, i : i + 2] = [[lam.real, lam.imag], [-lam.imag, lam.real]]
            i += 2
    if i != n:
        raise ValueError("the complex eigenvalues of W_hh do not come in conjugate pairs")
    b = circuits.random_basis(n, n, rng, cond=EIGENVECTOR_COND)
    out = dict(w)
    out["W_hh"] = np.linalg.solve(b.T, (b @ d).T).T  # B D B^-1
    return out


def random_input_weights(weights: Mapping[str, np.ndarray], rng: np.random.Generator) -> dict:
    """The trained network with a random ``W_uh`` of the same Frobenius norm: null model ``random_uh``.

    Chapter "How general is the circuit?"; paper Sec. 5.2 (Eq. 11: ``W_uh = Psi_s``)
    and Sec. 7. Calibrates how much of the reading depends on the input weights being the
    memory that the trained dynamics move along: ``W_hh``, ``W_r`` (and biases) stay trained,
    ``W_uh`` becomes a Gaussian matrix rescaled to the trained ``||W_uh||_F``.
    """
    w = elman.check_weights(weights, finite=True)
    g = rng.standard_normal(w["W_uh"].shape)
    norm = np.linalg.norm(w["W_uh"])
    out = dict(w)
    out["W_uh"] = g * (norm / np.linalg.norm(g))
    return out


def wrong_s(s: int, kappa: int, hidden: int) -> int:
    """The wrong number of memories of the null model ``wrong_s``.

    Chapter "How general is the circuit?"; paper Sec. 6-7 (Algorithm 1 needs s).
    Calibrates how specific each metric is to the right s: the trained network is analysed by
    :func:`network_metrics` with ``s' = s // 2`` for ``s >= 4`` (a divisor of s when s is even,
    so the s'-th roots of unity are among the trained eigenvalues and Figure 3B is only half
    wrong), and with ``s' = s + 1`` for s < 4, where s // 2 would leave at most one memory; kappa
    stays that of the network (it is the width of ``W_uh``). Raises ValueError if ``s' * kappa``
    would exceed the hidden size.
    """
    s, kappa, hidden = _pos_int("s", s), _pos_int("kappa", kappa), _pos_int("hidden", hidden)
    s_wrong = s // 2 if s >= 4 else s + 1
    if s_wrong * kappa > hidden:
        raise ValueError(
            f"no wrong s for s = {s}: s' = {s_wrong} gives s'*kappa = {s_wrong * kappa} > "
            f"hidden = {hidden}"
        )
    return s_wrong


def null_models(
    weights: Mapping[str, np.ndarray], s: int, seed: int = 0
) -> dict[str, tuple[dict | None, int | None, str]]:
    """The five null models of a network: ``{name: (weights, s, error)}`` in :data:`NULL_MODELS` order.

    Chapter "How general is the circuit?"; paper Sec. 7. ``seed`` is the network's
    training seed (the untrained models start from it) and seeds the random draws
    (``default_rng([NULL_SEED, seed, i])`` for the i-th model). A model that cannot be built
    (e.g. no wrong s fits into the hidden size) has weights and s None and its reason in
    ``error``; ValueError for bad weights or s.
    """
    w = elman.check_weights(weights, finite=True)
    s = _pos_int("s", s)
    _validate.integer("seed", seed, lo=0)
    _, _, _, n_h, kappa = analysis.check_weights(w["W_hh"], w["W_uh"], w["W_r"], s)

    def rng(i: int) -> np.random.Generator:
        return np.random.default_rng([NULL_SEED, int(seed), i])

    out: dict[str, tuple[dict | None, int | None, str]] = {
        "untrained_orth": (untrained(kappa, n_h, int(seed), "orthogonal"), s, ""),
        "untrained_pytorch": (untrained(kappa, n_h, int(seed), "pytorch"), s, ""),
        "spectrum": (same_spectrum(w, rng(2)), s, ""),
    }
    try:
        out["wrong_s"] = (w, wrong_s(s, kappa, n_h), "")
    except ValueError as exc:
        out["wrong_s"] = (None, None, str(exc))
    out["random_uh"] = (random_input_weights(w, rng(4)), s, "")
    return out


def compare(
    weights: Mapping[str, np.ndarray],
    s: int,
    seed: int = 0,
    *,
    nonlinearity: str = "tanh",
    threshold: float = THRESHOLD,
    nulls: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`network_metrics` of a network and of each of its null models.

    Chapter "How general is the circuit?"; paper Sec. 7. Returns
    ``{"trained": metrics, name: metrics, ...}`` (names of :data:`NULL_MODELS`; ``nulls=False``
    gives the first entry only). Every model is measured with the same probe sequences
    (``seed``), the same ``nonlinearity`` and ``threshold``; a model that cannot be built has NaN
    metrics and its reason in ``error``. ``progress``, if given, is called with each model's name
    once it is measured.
    """
    models: dict[str, tuple[dict | None, int | None, str]] = {"trained": (dict(weights), s, "")}
    if nulls:
        models.update(null_models(weights, s, seed))
    out = {}
    for name, (w, s_model, error) in models.items():
        if w is None:
            out[name] = {**{key: math.nan for key in METRIC_KEYS}, "error": error}
        else:
            out[name] = network_metrics(
                w, s_model, seed=seed, nonlinearity=nonlinearity, threshold=threshold
            )
        if progress is not None:
            progress(name)
    return out
