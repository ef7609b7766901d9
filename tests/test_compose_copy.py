"""Unit tests of compose copy as a training task of emt.rnn (TrainConfig.task = "compose_copy").

Chapter "Compose copy, trained" (book/compose_copy.md); the task is emt.tasks.compose_copy.
"""

import warnings

import numpy as np
import pytest

from emt import circuits, rnn, tasks

# small enough to train in a fraction of a second (it does not solve the task)
TINY = dict(
    s=3,
    kappa=3,
    hidden=12,
    n_val=50,
    eval_every=10,
    max_steps=30,
    stage_batch=(16, 16, 16),
    task="compose_copy",
)


def test_default_keys_unchanged():
    """The field task at its default leaves dictionaries and cache keys as they were: the
    values below were computed before the field existed."""
    assert rnn.TrainConfig().key() == "9a5d3028c64ca46a3048"
    assert rnn.TrainConfig(s=4, kappa=4, hidden=32).key() == "1db448592bb909e4243b"
    assert rnn.TrainConfig.preset("published", s=8, kappa=8).key() == "ccbf059bfebc371f094c"
    assert "task" not in rnn.TrainConfig().as_dict()
    assert rnn.TrainConfig().as_dict(full=True)["task"] == "repeat_copy"
    explicit = rnn.TrainConfig(task="repeat_copy")
    assert explicit == rnn.TrainConfig() and explicit.key() == rnn.TrainConfig().key()
    cc = rnn.TrainConfig(s=4, kappa=4, hidden=32, task="compose_copy")
    assert cc.as_dict()["task"] == "compose_copy"
    assert cc.key() != rnn.TrainConfig(s=4, kappa=4, hidden=32).key()


@pytest.mark.parametrize(
    "changes, msg",
    [
        ({"s": 4, "kappa": 3}, "compose_copy needs kappa == s"),
        ({"s": 16, "kappa": 5}, "compose_copy needs kappa == s"),
        ({"s": 4, "kappa": 4, "s_curriculum": (2, 4)}, "s_curriculum is not supported"),
    ],
)
def test_bad_configs(changes, msg):
    with pytest.raises(ValueError, match=msg):
        rnn.TrainConfig(task="compose_copy", **changes)


def test_unknown_task():
    with pytest.raises(ValueError, match="task must be one of"):
        rnn.TrainConfig(task="adding")
    with pytest.raises(ValueError, match="task must be one of"):
        rnn.task_batch("adding", 2, 3, 3, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="compose_copy needs kappa == s"):
        rnn.task_batch("compose_copy", 2, 3, 2, 4, np.random.default_rng(0))


@pytest.mark.parametrize("s", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("encoding", ["pm1", "01"])
def test_data_follow_the_task(s, encoding):
    n_out = 3 * s + 2
    u, y = rnn.task_batch("compose_copy", 7, s, s, n_out, np.random.default_rng(s), encoding)
    x = u[:, :s]
    assert u.shape == y.shape == (7, s + n_out, s)
    assert not np.any(u[:, s:])
    assert np.array_equal(y[:, :s], x)  # the echo of the input phase
    ref = tasks.continue_sequence(tasks.compose_copy(s), x, n_out)
    assert np.array_equal(y[:, s:], ref)
    # the definition, entry by entry: component i (1-based) copies itself s - i + 1 steps back
    for i in range(1, s + 1):
        lag = s - i + 1
        assert np.array_equal(y[:, s:, i - 1], y[:, s - lag : -lag, i - 1])
    # the same inputs as repeat copy draws from the same generator
    u_rc, _ = rnn.task_batch("repeat_copy", 7, s, s, n_out, np.random.default_rng(s), encoding)
    assert np.array_equal(u, u_rc)


def test_repeat_copy_data_unchanged(rng):
    a = rnn.task_batch("repeat_copy", 5, 4, 2, 9, np.random.default_rng(3))
    b = tasks.repeat_copy_batch(5, 4, 2, 9, np.random.default_rng(3))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))


def test_evaluate_judges_compose_copy():
    """evaluate with task="compose_copy" judges the outputs against the task's continuation by
    the sign rule (recomputed here by hand on the same sequences); repeat copy's targets differ."""
    s, h = 3, 10
    g = np.random.default_rng(5)
    w = {
        "W_hh": g.standard_normal((h, h)) / np.sqrt(h),
        "W_uh": g.standard_normal((h, s)),
        "W_r": g.standard_normal((s, h)),
    }
    ev = rnn.evaluate(w, n_seq=50, n_periods=2, rng=7, s=s, long_steps=6, task="compose_copy")
    u, target = tasks.linear_task_batch(tasks.compose_copy(s), 50, 2 * s, np.random.default_rng(7))
    _, y = rnn.simulate(w, u)
    ok = (y * target)[:, s:] > 0
    assert ev["task"] == "compose_copy"
    assert ev["bit_accuracy"] == pytest.approx(ok.mean(), abs=1e-12)
    assert ev["sequence_accuracy"] == pytest.approx(ok.all(axis=(1, 2)).mean(), abs=1e-12)
    assert ev["echo_bit_accuracy"] == pytest.approx(((y * target)[:, :s] > 0).mean(), abs=1e-12)
    rc = rnn.evaluate(w, n_seq=50, n_periods=2, rng=7, s=s, long_steps=6)
    assert rc["task"] == "repeat_copy" and rc["bit_accuracy"] != ev["bit_accuracy"]
    with pytest.raises(ValueError, match="task must be one of"):
        rnn.evaluate(w, s=s, task="adding")


def test_tiny_training_run_completes(tmp_path):
    c = rnn.TrainConfig(**TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        t = rnn.get_trained(c, cache_dir=tmp_path, progress=False)
    assert t.meta["steps"] == len(t.history["step"]) <= c.max_steps
    assert t.weights()["W_uh"].shape == (12, 3)
    ev = rnn.evaluate(t, n_seq=20)
    assert ev["task"] == "compose_copy" and ev["s"] == ev["kappa"] == 3
    assert 0.0 <= ev["bit_accuracy"] <= 1.0
    with pytest.raises(ValueError, match="contradicts"):
        rnn.evaluate(t, task="repeat_copy")
    # the checkpoint is found again under its own key
    again = rnn.get_trained(c, cache_dir=tmp_path, progress=False)
    assert again.from_cache and again.meta == t.meta


@pytest.mark.parametrize("s", [1, 2, 3, 5])
def test_companion_steps_the_sequence_and_is_phi_reversed(s):
    F = tasks.compose_copy(s)
    comp = tasks.companion(F)
    x = np.random.default_rng(s).standard_normal((s, s))
    seq = np.concatenate([x, tasks.continue_sequence(F, x, 3 * s)])
    for k in range(s, 3 * s):
        z_now = seq[k - s : k][::-1].reshape(-1)
        z_next = seq[k - s + 1 : k + 1][::-1].reshape(-1)
        assert np.array_equal(comp @ z_now, z_next)
    rev = np.kron(np.eye(s)[::-1], np.eye(s))
    assert np.array_equal(circuits.shift_phi(F, s, s), rev @ comp @ rev)
    with pytest.raises(ValueError, match="F must have shape"):
        tasks.companion(np.zeros((2, 3)))
