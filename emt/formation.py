"""The circuit forming during training: the Figure 3 reading of every recorded snapshot.

Chapter "The circuit forming" (book/formation.md; sections ``sec-fo-track`` and
``sec-fo-lockin``); paper Sec. 7 (Figure 3) and the claim of Sec. 8 that gradient descent builds
the variable-binding circuit. A network trained with ``TrainConfig(snapshot_every=...)`` keeps its
weights every few hundred steps (:meth:`emt.rnn.Trained.snapshots`); :func:`track` reads each of
them as :mod:`emt.analysis` reads a finished network, :func:`null_band` gives the same numbers for
untrained networks of the same start, and :func:`lock_in` finds the step from which on the
spectrum has the circuit's s-th roots of unity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emt import _validate, analysis, metrics, nulls

#: Columns of :class:`Track`, one value per snapshot.
TRACK_KEYS = (
    "step",
    "p_value",
    "counts_equal",
    "inferred_s",
    "block_error",
    "sequence_accuracy",
    "radius",
)


@dataclass(frozen=True)
class Track:
    """One network's snapshots read one by one (:func:`track`); every field has one entry each.

    ``step``; ``p_value``: the p-value of the s-th roots of unity in the spectrum of ``W_hh``
    against random angles (:func:`emt.analysis.infer_s_kappa` restricted to the network's s and
    kappa; 1 where its cluster does not stand out); ``counts_equal``: kappa eigenvalues in every
    direction; ``inferred_s``: what the unrestricted inference reads (0 where it refuses);
    ``block_error``: Figure 3A's block error at alpha = 1/2 (:func:`emt.metrics.figure3`,
    ``select="auto"``, the network's own tanh dynamics with its biases); ``sequence_accuracy``:
    the fraction of fresh sequences recalled exactly over 3 periods
    (:func:`emt.rnn.evaluate`); ``radius``: the spectral radius of ``W_hh``; ``eigenvalues``:
    every snapshot's eigenvalues, ``(n_snapshots, N_h)``.
    """

    step: np.ndarray
    p_value: np.ndarray
    counts_equal: np.ndarray
    inferred_s: np.ndarray
    block_error: np.ndarray
    sequence_accuracy: np.ndarray
    radius: np.ndarray
    eigenvalues: np.ndarray

    def row(self, i: int) -> dict:
        """Snapshot ``i`` as a dict of :data:`TRACK_KEYS`."""
        return {k: getattr(self, k)[i].item() for k in TRACK_KEYS}


def _reading(weights, s: int, kappa: int) -> tuple[float, bool, int, float]:
    """(p-value for s, counts equal, unrestricted s or 0, block error) of one set of weights."""
    w_hh = weights["W_hh"]
    fixed = analysis.infer_s_kappa(w_hh, s_range=(s, s), kappa=kappa)
    free = analysis.infer_s_kappa(w_hh, kappa=kappa)
    p = float(fixed.p_value) if fixed.stands_out else 1.0
    block = metrics.figure3(weights, s, select="auto").values["block_error_a05"]
    return p, bool(fixed.stands_out and fixed.counts_equal), int(free.s or 0), float(block)


def track(
    trained,
    *,
    n_seq: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> Track:
    """Read every snapshot of ``trained`` (an :class:`emt.rnn.Trained` with snapshots).

    Chapter "The circuit forming" (``sec-fo-track``). s, kappa and the encoding of the
    accuracy's inputs come from ``trained.config``. ``n_seq`` fresh sequences (the same for every
    snapshot) measure the task. ``progress(i, n)`` is called after each snapshot. Raises
    ValueError when ``trained`` has no snapshots.
    """
    from emt import rnn

    shots = trained.snapshots()
    if not shots:
        raise ValueError(
            "the network has no snapshots: train it with TrainConfig(snapshot_every=...)"
        )
    n_seq = _validate.positive_int("n_seq", n_seq)
    c = trained.config
    cols: dict[str, list] = {k: [] for k in TRACK_KEYS}
    eigs = []
    for i, (step, w) in enumerate(shots):
        p, equal, s_free, block = _reading(w, c.s, c.kappa)
        acc = rnn.evaluate(w, n_seq=n_seq, n_periods=3, s=c.s, encoding=c.encoding)
        ev = np.linalg.eigvals(w["W_hh"])
        for k, v in zip(
            TRACK_KEYS,
            (step, p, equal, s_free, block, acc["sequence_accuracy"], np.abs(ev).max()),
        ):
            cols[k].append(v)
        eigs.append(ev[np.argsort(-np.abs(ev), kind="stable")])
        if progress is not None:
            progress(i + 1, len(shots))
    arrays = {k: np.asarray(v) for k, v in cols.items()}
    return Track(**arrays, eigenvalues=np.asarray(eigs))


def lock_in(tr: Track, level: float = analysis.INFER_LEVEL) -> int | None:
    """The first step from which on every snapshot's spectrum has the circuit's roots of unity.

    Chapter "The circuit forming" (``sec-fo-lockin``): the earliest snapshot such that it and
    every later one have ``p_value <= level`` and kappa eigenvalues in every direction; None if
    the last snapshot does not.
    """
    ok = (tr.p_value <= level) & tr.counts_equal.astype(bool)
    if not ok.size or not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    first = 0 if bad.size == 0 else int(bad[-1]) + 1
    return int(tr.step[first])


def first_step(tr: Track, key: str, threshold: float) -> int | None:
    """The first snapshot's step at which ``key`` reaches ``threshold`` (None if none does)."""
    hit = np.flatnonzero(getattr(tr, key) >= threshold)
    return int(tr.step[hit[0]]) if hit.size else None


def null_band(
    config, n_draws: int = nulls.NULL_DRAWS, seed: int = 10_000
) -> dict[str, dict[str, float]]:
    """The reading of ``n_draws`` untrained networks of ``config``'s start (the null band).

    Chapter "The circuit forming" (``sec-fo-track``). The networks are
    :class:`emt.rnn.ElmanRNN` at ``config``'s initialisation and bias with seeds ``seed``,
    ``seed + 1``, ...: what the reading gives for a network of the same start that learned
    nothing. Returns ``{key: {"median", "p05", "p95", "n"}}`` for ``block_error`` and
    ``p_value`` over the finite draws.
    """
    from emt.report.verdict import spread
    from emt.rnn import ElmanRNN

    n_draws = _validate.positive_int("n_draws", n_draws)
    values: dict[str, list[float]] = {"block_error": [], "p_value": []}
    for d in range(n_draws):
        w = ElmanRNN(
            config.kappa, config.hidden, bias=config.bias, init=config.init, seed=seed + d
        ).weights()
        p, _, _, block = _reading(w, config.s, config.kappa)
        values["p_value"].append(p)
        values["block_error"].append(block if math.isfinite(block) else math.nan)
    return {k: spread(v) for k, v in values.items()}
