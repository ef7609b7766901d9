"""Tests of emt.formation: the reading of a network's training snapshots (chapter "The circuit
forming")."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from emt import analysis, formation, rnn

TINY = dict(s=4, kappa=2, hidden=12, n_val=50, eval_every=10, max_steps=30)


def _track(p, equal, steps=None):
    n = len(p)
    steps = np.arange(n) * 100 if steps is None else np.asarray(steps)
    z = np.zeros(n)
    return formation.Track(
        step=steps, p_value=np.asarray(p, float), counts_equal=np.asarray(equal, bool),
        inferred_s=z.astype(int), block_error=z, sequence_accuracy=np.linspace(0, 1, n),
        radius=z, eigenvalues=np.zeros((n, 3), complex),
    )  # fmt: skip


def test_lock_in_is_the_first_step_from_which_on_the_spectrum_holds():
    lv = analysis.INFER_LEVEL
    assert formation.lock_in(_track([1, 1e-9, 1, 1e-9, 1e-9], [1, 1, 1, 1, 1])) == 300
    assert formation.lock_in(_track([1e-9] * 3, [1, 1, 1])) == 0
    assert formation.lock_in(_track([1e-9, 1e-9, 1], [1, 1, 1])) is None  # lost at the end
    assert formation.lock_in(_track([1e-9, 1e-9, 1e-9], [1, 0, 1])) == 200  # counts matter
    assert formation.lock_in(_track([lv, lv], [1, 1])) == 0  # at the level: passes
    assert formation.first_step(_track([1, 1, 1], [1, 1, 1]), "sequence_accuracy", 0.5) == 100
    assert formation.first_step(_track([1, 1], [1, 1]), "sequence_accuracy", 2.0) is None


def test_track_reads_every_snapshot():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        tr = rnn.train(rnn.TrainConfig(**TINY, snapshot_every=10), progress=False)
        plain = rnn.train(rnn.TrainConfig(**TINY), progress=False)
    calls = []
    t = formation.track(tr, n_seq=20, progress=lambda i, n: calls.append((i, n)))
    n = len(tr.snapshots())
    assert list(t.step) == [0, 10, 20, 30] and calls[-1] == (n, n)
    assert all(len(getattr(t, k)) == n for k in formation.TRACK_KEYS)
    assert t.eigenvalues.shape == (n, TINY["hidden"])
    assert np.all((t.p_value >= 0) & (t.p_value <= 1))
    assert np.all((t.sequence_accuracy >= 0) & (t.sequence_accuracy <= 1))
    first = np.abs(np.linalg.eigvals(tr.snapshots()[0][1]["W_hh"])).max()
    assert t.radius[0] == pytest.approx(first)
    assert set(t.row(0)) == set(formation.TRACK_KEYS)
    with pytest.raises(ValueError, match="snapshot_every"):
        formation.track(plain)


def test_null_band_of_untrained_networks():
    band = formation.null_band(rnn.TrainConfig(**TINY), n_draws=5)
    assert set(band) == {"block_error", "p_value"}
    assert band["p_value"]["n"] == 5 and band["p_value"]["p05"] <= band["p_value"]["p95"]
    # an untrained orthogonal network has no 4-fold circuit in its spectrum
    assert band["p_value"]["median"] > analysis.INFER_LEVEL
