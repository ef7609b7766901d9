"""Every Figure 3 metric of one network, and the null models that calibrate them.

Chapter "How general is the circuit?"; paper Sec. 6 (Algorithm 1, Eq. 14-15) and Sec. 7
(Figure 3A-D). The chapter "Appendix: checking the reading" shows that part of what Algorithm 1
returns holds for *every* recurrent matrix (section "What the construction forces"). To tell what
a trained network shows from what the construction forces, each metric of
:func:`emt.metrics.figure3` is computed on the trained network and on null models, each of which
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
``shuffled``
    the entries of the trained ``W_hh`` permuted at random (:func:`shuffled`), ``W_uh`` and ``W_r``
    trained: the same weights, none of their arrangement.

:func:`null_models` builds the first five, :func:`compare` measures the trained network and each
of them once (the sweep's columns); :func:`null_draws` draws every null model, the shuffle
included, many times, so that a verdict can rank the trained value among the draws (``emt
analyze``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from emt import _validate, analysis, circuits, elman, metrics
from emt._validate import positive_int as _pos_int

#: Every random draw of :func:`null_models` comes from ``default_rng([NULL_SEED, seed, i])``.
NULL_SEED = 20233
#: Condition number of the random eigenvector matrix of :func:`same_spectrum`.
EIGENVECTOR_COND = 10.0
#: The null models of :func:`null_models`, in order.
NULL_MODELS = ("untrained_orth", "untrained_pytorch", "spectrum", "wrong_s", "random_uh")
#: The null models of :func:`null_draws`, in order.
DRAWN_MODELS = NULL_MODELS + ("shuffled",)
#: Default number of draws per null model of :func:`null_draws` (``emt analyze --null-draws``).
NULL_DRAWS = 20


# ----------------------------------------------------------------------------- the null models


def untrained(kappa: int, hidden: int, seed: int, init: str = "orthogonal") -> dict:
    """The network before training: the null model ``untrained_orth`` or ``untrained_pytorch``.

    Chapter "How general is the circuit?"; paper Sec. 7. Calibrates every metric of
    :func:`emt.metrics.figure3` against a network that has learned nothing: what Algorithm 1 and the
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


def shuffled(weights: Mapping[str, np.ndarray], rng: np.random.Generator) -> dict:
    """The trained network with the entries of ``W_hh`` permuted at random: null model ``shuffled``.

    Chapter "Analyse your own network"; paper Sec. 7. Calibrates what the distribution of the
    recurrent weights gives without their arrangement: ``W_uh``, ``W_r`` (and biases) stay trained.
    """
    w = elman.check_weights(weights, finite=True)
    out = dict(w)
    out["W_hh"] = rng.permutation(w["W_hh"].ravel()).reshape(w["W_hh"].shape)
    return out


def wrong_s(s: int, kappa: int, hidden: int) -> int:
    """The wrong number of memories of the null model ``wrong_s``.

    Chapter "How general is the circuit?"; paper Sec. 6-7 (Algorithm 1 needs s).
    Calibrates how specific each metric is to the right s: the trained network is analysed by
    :func:`emt.metrics.figure3` with ``s' = s // 2`` for ``s >= 4`` (a divisor of s when s is even,
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
    threshold: float = metrics.THRESHOLD,
    nulls: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`emt.metrics.figure3` of a network and of each of its null models, as table rows.

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
            out[name] = {**{key: math.nan for key in metrics.METRIC_KEYS}, "error": error}
        else:
            out[name] = metrics.figure3(
                w, s_model, seed=seed, nonlinearity=nonlinearity, threshold=threshold
            ).row()
        if progress is not None:
            progress(name)
    return out


def null_draws(
    weights: Mapping[str, np.ndarray],
    s: int,
    seed: int = 0,
    n_draws: int = NULL_DRAWS,
    *,
    nonlinearity: str = "tanh",
    threshold: float = metrics.THRESHOLD,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The trained network's metrics and ``n_draws`` draws of every null model of :data:`DRAWN_MODELS`.

    Chapter "Analyse your own network", section "The command" (``sec-an-command``); paper Sec. 7.
    Returns ``{"trained": row, name: [row, ...]}`` with one row of :func:`emt.metrics.figure3`
    per draw. Draw d of a model: ``untrained_*`` start from seed ``seed + d``; ``spectrum``,
    ``random_uh`` and ``shuffled`` use ``default_rng([NULL_SEED, seed, i, d])`` (model index i;
    draw 0 of the first two is the draw of :func:`compare`); ``wrong_s`` is deterministic except
    for its probe sequences, which are drawn with seed ``seed + d`` (every other model keeps the
    trained network's probes). A model that cannot be built has one row of NaN with its
    ``error``. ``progress`` is called with ``"name d/n"`` after each draw.
    """
    w = elman.check_weights(weights, finite=True)
    s = _pos_int("s", s)
    n_draws = _pos_int("n_draws", n_draws)
    _validate.integer("seed", seed, lo=0)
    _, _, _, n_h, kappa = analysis.check_weights(w["W_hh"], w["W_uh"], w["W_r"], s)

    def row(wd, s_model, probe_seed=seed):
        return metrics.figure3(
            wd, s_model, seed=probe_seed, nonlinearity=nonlinearity, threshold=threshold
        ).row()

    def rng(i: int, d: int) -> np.random.Generator:
        return np.random.default_rng([NULL_SEED, int(seed), i] + ([d] if d else []))

    try:
        s_wrong, why = wrong_s(s, kappa, n_h), ""
    except ValueError as exc:
        s_wrong, why = None, str(exc)
    out: dict[str, Any] = {"trained": row(w, s)}
    for i, name in enumerate(DRAWN_MODELS):
        rows = []
        for d in range(n_draws):
            if name == "untrained_orth":
                rows.append(row(untrained(kappa, n_h, int(seed) + d, "orthogonal"), s))
            elif name == "untrained_pytorch":
                rows.append(row(untrained(kappa, n_h, int(seed) + d, "pytorch"), s))
            elif name == "spectrum":
                rows.append(row(same_spectrum(w, rng(i, d)), s))
            elif name == "wrong_s":
                if s_wrong is None:
                    rows.append({**{k: math.nan for k in metrics.METRIC_KEYS}, "error": why})
                    break
                rows.append(row(w, s_wrong, int(seed) + d))
            elif name == "random_uh":
                rows.append(row(random_input_weights(w, rng(i, d)), s))
            else:
                rows.append(row(shuffled(w, rng(i, d)), s))
            if progress is not None:
                progress(f"{name} {d + 1}/{n_draws}")
        out[name] = rows
    return out
