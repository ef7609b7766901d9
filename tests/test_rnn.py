"""Unit tests of emt.rnn: the Elman RNN of Eq. 6, its numpy twin, evaluation, training and the cache."""

import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from emt import rnn
from emt.tasks import repeat_copy_batch

# A configuration small enough to train in a fraction of a second (it does not solve the task).
TINY = dict(
    s=4, kappa=2, hidden=12, n_val=50, eval_every=10, max_steps=30, stage_batch=(16, 16, 16)
)


def tiny(**changes):
    return rnn.TrainConfig(**{**TINY, **changes})


def quiet_train(config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        return rnn.train(config, progress=False)


def quiet_get(config, cache_dir, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        return rnn.get_trained(config, cache_dir=cache_dir, progress=False, **kw)


def oracle_weights(s, kappa, amplitude=0.5):
    """A hand-built tanh network that solves repeat copy exactly: s slots of kappa neurons,
    W_hh shifts slot i to slot i-1 (slot 0 to slot s-1) with the gain that keeps the amplitude,
    W_uh writes into slot s-1, W_r reads slot s-1."""
    n = s * kappa
    c = np.arctanh(amplitude)
    W_hh = np.zeros((n, n))
    for i in range(s):
        for j in range(kappa):
            W_hh[((i - 1) % s) * kappa + j, i * kappa + j] = c / amplitude
    W_uh = np.zeros((n, kappa))
    W_r = np.zeros((kappa, n))
    for j in range(kappa):
        W_uh[(s - 1) * kappa + j, j] = c
        W_r[j, (s - 1) * kappa + j] = 1.0 / amplitude
    return {"W_hh": W_hh, "W_uh": W_uh, "W_r": W_r}


# --- configuration ---------------------------------------------------------------------------


def test_config_defaults_and_hash():
    c = rnn.TrainConfig()
    assert (c.s, c.kappa, c.hidden, c.seed, c.bias) == (16, 5, 128, 0, False)
    assert hash(c) == hash(rnn.TrainConfig())
    assert c.key() == rnn.TrainConfig().key()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.s = 3


def test_config_key_depends_on_every_field_and_on_the_format(monkeypatch):
    base = rnn.TrainConfig()
    changed = {
        "s": 15,
        "kappa": 4,
        "hidden": 129,
        "seed": 1,
        "bias": True,
        "init": "pytorch",
        "stage_periods": (2, 4, 9),
        "stage_batch": (128, 64, 33),
        "stage_lr": (3e-3, 2e-3, 2e-3),
        "final_lr_decay": 0.3,
        "min_lr": 2e-4,
        "advance_accuracy": 0.9,
        "clip": 2.0,
        "eval_every": 50,
        "n_val": 999,
        "val_periods": 4,
        "long_steps": 201,
        "long_bit_accuracy": 0.999,
        "max_steps": 8001,
        "threads": 2,
    }
    assert set(changed) == {f.name for f in dataclasses.fields(rnn.TrainConfig)}, "test every field"
    keys = {base.key()}
    for name, value in changed.items():
        other = dataclasses.replace(base, **{name: value})
        assert other.key() != base.key(), name
        assert other.filename() != base.filename(), name
        keys.add(other.key())
    assert len(keys) == len(changed) + 1
    base_key = base.key()
    monkeypatch.setattr(rnn, "FORMAT_VERSION", rnn.FORMAT_VERSION + 1)
    assert rnn.TrainConfig().key() != base_key


def test_config_lists_become_tuples():
    c = rnn.TrainConfig(stage_periods=[2, 4], stage_batch=[8, 8], stage_lr=[1e-3, 1e-3])
    assert c.stage_periods == (2, 4) and isinstance(c.stage_lr, tuple)
    hash(c)


@pytest.mark.parametrize(
    "changes, msg",
    [
        ({"s": 0}, "s must be a positive integer"),
        ({"kappa": 0}, "kappa must be a positive integer"),
        ({"hidden": 0}, "hidden must be a positive integer"),
        ({"hidden": -5}, "hidden must be a positive integer"),
        ({"s": 2.5}, "s must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"bias": 1}, "bias must be True or False"),
        ({"init": "xavier"}, "init must be one of"),
        ({"stage_periods": (2, 4)}, "same length"),
        ({"stage_periods": ()}, "non-empty"),
        ({"stage_batch": (128, 0, 32)}, r"stage_batch\[1\] must be a positive integer"),
        ({"stage_lr": (1e-3, -1.0, 1e-3)}, r"stage_lr\[1\] must be a positive number"),
        ({"advance_accuracy": 0.0}, "advance_accuracy must be in"),
        ({"long_bit_accuracy": 1.5}, "long_bit_accuracy must be in"),
        ({"final_lr_decay": 0.0}, "final_lr_decay must be in"),
        ({"clip": -1.0}, "clip must be a non-negative number"),
        ({"min_lr": -1e-3}, "min_lr must be a non-negative number"),
        ({"threads": 0}, "threads must be a positive integer"),
        ({"max_steps": 0}, "max_steps must be a positive integer"),
    ],
)
def test_config_bad_values(changes, msg):
    with pytest.raises(ValueError, match=msg):
        rnn.TrainConfig(**changes)


def test_small_hidden_warns_but_is_allowed():
    with pytest.warns(UserWarning, match=r"below s\*kappa=80: the theory needs at least s\*kappa"):
        c = rnn.TrainConfig(hidden=79)
    assert c.hidden == 79
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnn.TrainConfig(hidden=80)  # exactly s*kappa: no warning


# --- model and simulation --------------------------------------------------------------------


@pytest.mark.parametrize("bias", [False, True])
def test_model_is_eq6(bias):
    model = rnn.ElmanRNN(3, 7, bias=bias, seed=1)
    if bias:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "bias" in name:
                    p.normal_()
    u = torch.randn(4, 9, 3, generator=torch.Generator().manual_seed(0))
    y, h = model(u)
    w = {k: torch.tensor(v) for k, v in model.weights().items()}
    state = torch.zeros(4, 7, dtype=torch.float64)
    for k in range(9):
        pre = state @ w["W_hh"].T + u[:, k].double() @ w["W_uh"].T
        if bias:
            pre = pre + w["b_h"]
        state = torch.tanh(pre)
        assert torch.allclose(h[:, k].double(), state, atol=1e-5)
        out = state @ w["W_r"].T + (w["b_r"] if bias else 0)
        assert torch.allclose(y[:, k].double(), out, atol=1e-5)
    # the numpy twin agrees with the torch model
    hn, yn = rnn.simulate(model.weights(), u.numpy())
    assert np.allclose(hn, h.detach().numpy(), atol=1e-5)
    assert np.allclose(yn, y.detach().numpy(), atol=1e-5)


def test_model_weights_shapes_and_biases():
    m = rnn.ElmanRNN(5, 20, seed=0)
    w = m.weights()
    assert set(w) == {"W_hh", "W_uh", "W_r"}
    assert w["W_hh"].shape == (20, 20) and w["W_uh"].shape == (20, 5) and w["W_r"].shape == (5, 20)
    assert all(v.dtype == np.float64 for v in w.values())
    assert not any(name.startswith("bias") or "bias" in name for name, _ in m.named_parameters())
    wb = rnn.ElmanRNN(5, 20, bias=True, seed=0).weights()
    assert set(wb) == {"W_hh", "W_uh", "W_r", "b_h", "b_r"}
    assert wb["b_h"].shape == (20,) and wb["b_r"].shape == (5,)


def test_model_init_orthogonal_and_seeded():
    W = rnn.ElmanRNN(5, 32, seed=3).weights()["W_hh"]
    assert np.allclose(W @ W.T, np.eye(32), atol=1e-5)
    assert np.array_equal(W, rnn.ElmanRNN(5, 32, seed=3).weights()["W_hh"])
    assert not np.array_equal(W, rnn.ElmanRNN(5, 32, seed=4).weights()["W_hh"])
    Wp = rnn.ElmanRNN(5, 32, init="pytorch", seed=3).weights()["W_hh"]
    assert np.abs(Wp).max() <= 1 / np.sqrt(32) + 1e-7


@pytest.mark.parametrize(
    "args, msg",
    [
        ((0, 5), "kappa must be a positive integer"),
        ((5, 0), "hidden must be a positive integer"),
        ((5, -3), "hidden must be a positive integer"),
    ],
)
def test_model_bad_sizes(args, msg):
    with pytest.raises(ValueError, match=msg):
        rnn.ElmanRNN(*args)


def test_model_bad_input_shape():
    with pytest.raises(ValueError, match="u must have shape"):
        rnn.ElmanRNN(3, 4, seed=0)(torch.zeros(2, 5, 4))


def test_simulate_time_convention_on_a_hand_built_solution():
    """y[k] = W_r h[k] must equal u[k mod s], with h[k] the state after reading u[k] (h(k+1) of Eq. 6)."""
    s, kappa = 5, 3
    w = oracle_weights(s, kappa)
    u, target = repeat_copy_batch(20, s, kappa, 4 * s, np.random.default_rng(0))
    h, y = rnn.simulate(w, u)
    assert np.allclose(y, target, atol=1e-9)
    # h[0] = tanh(W_uh u[0]) (h(0) = 0)
    assert np.allclose(h[:, 0], np.tanh(u[:, 0] @ w["W_uh"].T))
    # single sequence (T, kappa) gives the same as the batch
    h1, y1 = rnn.simulate(w, u[3])
    assert np.allclose(h1, h[3]) and np.allclose(y1, y[3])


def test_simulate_bad_arguments():
    w = oracle_weights(3, 2)
    with pytest.raises(ValueError, match="u must have shape"):
        rnn.simulate(w, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="W_hh must be square"):
        rnn.simulate({**w, "W_hh": np.zeros((6, 5))}, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="W_uh must have shape"):
        rnn.simulate({**w, "W_uh": np.zeros((5, 2))}, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="W_r must have shape"):
        rnn.simulate({**w, "W_r": np.zeros((2, 5))}, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="missing"):
        rnn.simulate({"W_hh": w["W_hh"]}, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="b_h must have shape"):
        rnn.simulate({**w, "b_h": np.zeros(5)}, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="weights must be a dict"):
        rnn.simulate([1, 2], np.zeros((4, 2)))


# --- evaluation ------------------------------------------------------------------------------


def test_evaluate_perfect_and_broken_networks():
    s, kappa = 6, 3
    w = oracle_weights(s, kappa)
    ev = rnn.evaluate(w, n_seq=100, n_periods=3, rng=1, s=s, long_steps=50)
    assert ev["criterion"] and ev["sequence_accuracy"] == 1.0 and ev["bit_accuracy"] == 1.0
    assert ev["long_bit_accuracy"] == 1.0 and ev["echo_bit_accuracy"] == 1.0
    assert len(ev["period_bit_accuracy"]) == 9  # ceil(50 / 6) output periods
    assert np.all(ev["period_sequence_accuracy"] == 1.0)
    assert np.allclose(ev["min_margin_per_period"], 1.0)
    # one wrong read-out sign: that bit is always wrong, every sequence fails
    bad = {**w, "W_r": w["W_r"].copy()}
    bad["W_r"][1] *= -1
    ev = rnn.evaluate(bad, n_seq=100, rng=1, s=s)
    assert not ev["criterion"] and ev["sequence_accuracy"] == 0.0
    assert abs(ev["bit_accuracy"] - 2 / 3) < 1e-12
    # a weak output of the wrong sign is wrong, and so is an output of exactly zero
    assert rnn.evaluate({**w, "W_r": -0.1 * w["W_r"]}, n_seq=50, rng=1, s=s)["bit_accuracy"] == 0.0
    assert rnn.evaluate({**w, "W_r": 0.0 * w["W_r"]}, n_seq=50, rng=1, s=s)["bit_accuracy"] == 0.0
    assert rnn.evaluate({**w, "W_r": 0.1 * w["W_r"]}, n_seq=50, rng=1, s=s)["criterion"]
    # the same network judged with the wrong period fails too
    assert not rnn.evaluate(w, n_seq=100, rng=1, s=s + 1)["criterion"]


def test_evaluate_is_reproducible_and_fresh():
    w = rnn.ElmanRNN(2, 10, seed=0).weights()
    a = rnn.evaluate(w, n_seq=30, s=4)
    b = rnn.evaluate(w, n_seq=30, s=4, rng=rnn.EVAL_SEED)
    assert a["bit_accuracy"] == b["bit_accuracy"]
    assert np.array_equal(a["period_bit_accuracy"], b["period_bit_accuracy"])


def test_evaluate_bad_arguments():
    w = oracle_weights(3, 2)
    for kw, msg in [
        ({"n_seq": 0}, "n_seq"),
        ({"n_periods": 0}, "n_periods"),
        ({"long_steps": 0}, "long_steps"),
        ({"s": 0}, "s must be"),
    ]:
        with pytest.raises(ValueError, match=msg):
            rnn.evaluate(w, **{"s": 3, **kw})


# --- training --------------------------------------------------------------------------------


def test_training_is_deterministic():
    c = tiny()
    a, b = quiet_train(c), quiet_train(c)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.history["loss"] == b.history["loss"]
    other = quiet_train(dataclasses.replace(c, seed=1))
    assert not torch.equal(other.model.state_dict()["rnn.weight_hh_l0"], sa["rnn.weight_hh_l0"])


def test_training_restores_threads_and_global_rng():
    before_threads = torch.get_num_threads()
    before_rng = torch.get_rng_state()
    quiet_train(tiny(threads=1, max_steps=3))
    assert torch.get_num_threads() == before_threads
    assert torch.equal(torch.get_rng_state(), before_rng)


def test_training_history_and_trained_object():
    t = quiet_train(tiny(max_steps=25))
    h = t.history
    for k in ("step", "loss", "accuracy", "bit_accuracy", "stage", "n_out", "wall"):
        assert len(h[k]) == t.meta["steps"], k
    assert h["step"] == list(range(1, t.meta["steps"] + 1))
    assert all(
        n == t.config.stage_periods[st] * t.config.s for st, n in zip(h["stage"], h["n_out"])
    )
    assert all(b >= a for a, b in zip(h["wall"], h["wall"][1:]))
    w = t.weights()
    assert w["W_hh"].shape == (12, 12) and w["W_uh"].shape == (12, 2) and w["W_r"].shape == (2, 12)
    assert isinstance(t.model, rnn.ElmanRNN) and not t.model.training
    assert "solved=False" in repr(t)


def test_training_warns_when_the_criterion_is_not_met():
    with pytest.warns(rnn.CriterionWarning, match="without meeting"):
        t = rnn.train(tiny(max_steps=3), progress=False)
    assert not t.solved


def test_training_solves_a_small_task():
    """The recipe solves s=4, kappa=2 with 16 units (long horizon shortened to 32 steps)."""
    c = rnn.TrainConfig(
        s=4,
        kappa=2,
        hidden=16,
        n_val=200,
        eval_every=25,
        long_steps=32,
        long_bit_accuracy=0.999,
        stage_batch=(32, 32, 32),
        max_steps=1500,
    )
    t = rnn.train(c, progress=False)
    assert t.solved
    ev = rnn.evaluate(t, n_seq=500, long_steps=32)
    assert ev["criterion"] and ev["long_bit_accuracy"] >= 0.995
    assert ev["echo_bit_accuracy"] == 1.0
    assert max(t.history["stage"]) == 2  # the curriculum went through all three stages


def test_train_bad_config():
    with pytest.raises(ValueError, match="config must be a TrainConfig"):
        rnn.train({"s": 4})
    with pytest.raises(ValueError, match="config must be a TrainConfig"):
        rnn.get_trained("default")


def test_evaluate_trained_uses_its_s():
    t = quiet_train(tiny(max_steps=3))
    assert rnn.evaluate(t, n_seq=10)["s"] == 4
    with pytest.raises(ValueError, match="contradicts"):
        rnn.evaluate(t, n_seq=10, s=5)


# --- cache -----------------------------------------------------------------------------------


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("EMT_CACHE_DIR", str(tmp_path / "env"))
    assert rnn.resolve_cache_dir() == tmp_path / "env"
    assert rnn.resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("EMT_CACHE_DIR")
    d = rnn.resolve_cache_dir()
    assert (
        d == Path(rnn.__file__).resolve().parents[1] / ".cache" / "emt"
    )  # the repository checkout


def test_cache_round_trip(tmp_path, monkeypatch):
    c = tiny()
    first = quiet_get(c, tmp_path)
    assert not first.from_cache and first.path.exists()
    assert first.path.name == c.filename() and c.key() in first.path.name
    assert [p.name for p in tmp_path.iterdir()] == [c.filename()]  # no temporary file left

    def no_training(*args, **kwargs):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(rnn, "train", no_training)
    second = rnn.get_trained(c, cache_dir=tmp_path, progress=False)
    assert second.from_cache
    for k, v in first.weights().items():
        assert np.array_equal(v, second.weights()[k])
    assert second.history == first.history
    assert second.meta["steps"] == first.meta["steps"]


def test_cache_uses_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("EMT_CACHE_DIR", str(tmp_path))
    t = quiet_get(tiny(max_steps=2), None)
    assert t.path.parent == tmp_path and t.path.exists()


def _retrains_with_warning(config, tmp_path, match):
    with pytest.warns(rnn.CacheWarning, match=match):
        t = quiet_get(config, tmp_path)
    assert not t.from_cache
    # the bad file was replaced by a valid checkpoint
    again = quiet_get(config, tmp_path)
    assert again.from_cache
    return t


def test_cache_corrupt_file_is_retrained(tmp_path):
    c = tiny(max_steps=2)
    (tmp_path / c.filename()).write_bytes(b"this is not a checkpoint" * 10)
    _retrains_with_warning(c, tmp_path, "cannot be read")


def test_cache_truncated_file_is_retrained(tmp_path):
    c = tiny(max_steps=2)
    t = quiet_get(c, tmp_path)
    data = t.path.read_bytes()
    t.path.write_bytes(data[: len(data) // 2])
    _retrains_with_warning(c, tmp_path, "cannot be read")


def test_cache_file_from_another_configuration_is_retrained(tmp_path):
    a, b = tiny(max_steps=2), tiny(max_steps=2, seed=5)
    ta = quiet_get(a, tmp_path)
    os.replace(ta.path, tmp_path / b.filename())
    tb = _retrains_with_warning(b, tmp_path, "belongs to another configuration")
    assert tb.config == b


def test_cache_other_format_and_bad_contents_are_retrained(tmp_path):
    c = tiny(max_steps=2)
    t = quiet_get(c, tmp_path)
    good = torch.load(t.path, weights_only=True)
    cases = [
        ({**good, "format": 0}, "has format"),
        ({k: v for k, v in good.items() if k != "history"}, "missing fields"),
        (
            {**good, "state": {**good["state"], "rnn.weight_hh_l0": torch.zeros(3, 3)}},
            "wrong names or shapes",
        ),
        (
            {
                **good,
                "state": {**good["state"], "rnn.weight_hh_l0": torch.full((12, 12), float("nan"))},
            },
            "non-finite",
        ),
        (
            {**good, "history": {**good["history"], "loss": good["history"]["loss"][:-1]}},
            "malformed training history",
        ),
        ([1, 2, 3], "missing fields"),
    ]
    for payload, match in cases:
        torch.save(payload, t.path)
        _retrains_with_warning(c, tmp_path, match)


class _NotAllowed:
    pass


def test_cache_is_read_with_weights_only(tmp_path):
    """A file holding an arbitrary Python object is refused by torch.load(weights_only=True)."""
    c = tiny(max_steps=2)
    path = tmp_path / c.filename()
    torch.save({"format": rnn.FORMAT_VERSION, "evil": _NotAllowed()}, path)
    _retrains_with_warning(c, tmp_path, "cannot be read")


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    c = tiny(max_steps=2)
    t = quiet_get(c, tmp_path)
    before = t.path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        rnn._save(t, t.path)
    assert t.path.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == [c.filename()]  # and no temporary file is left
