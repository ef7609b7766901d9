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
        "encoding": "01",
        "s_curriculum": (4, 8, 16),
        "horizon_unit": "steps",
        "advance_on": "bit",
        "snapshot_every": 100,
        "engine": "bptt",
    }
    # "task" away from its default needs kappa == s: tested in tests/test_compose_copy.py
    fields = {f.name for f in dataclasses.fields(rnn.TrainConfig)}
    assert set(changed) | {"task"} == fields, "test every field"
    keys = {base.key()}
    for name, value in changed.items():
        other = dataclasses.replace(base, **{name: value})
        assert other.key() != base.key(), name
        assert other.filename() != base.filename(), name
        keys.add(other.key())
    assert len(keys) == len(changed) + 1
    base_key = base.key()
    monkeypatch.setattr(rnn.config, "FORMAT_VERSION", rnn.FORMAT_VERSION + 1)
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
        ({"encoding": "bce"}, "encoding must be one of"),
        ({"encoding": "01 "}, "encoding must be one of"),
        ({"horizon_unit": "epochs"}, "horizon_unit must be one of"),
        ({"advance_on": "loss"}, "advance_on must be one of"),
        ({"s_curriculum": (4, 8)}, "s_curriculum must end at s=16"),
        ({"s_curriculum": (8, 4, 16)}, "s_curriculum must be strictly increasing"),
        ({"s_curriculum": (4, 4, 16)}, "s_curriculum must be strictly increasing"),
        ({"s_curriculum": (16,)}, "s_curriculum needs at least two lengths"),
        ({"s_curriculum": (0, 16)}, r"s_curriculum\[0\] must be a positive integer"),
        ({"s_curriculum": (4.5, 16)}, r"s_curriculum\[0\] must be a positive integer"),
        ({"s_curriculum": "4,16"}, "s_curriculum must be a sequence"),
        ({"s_curriculum": 16}, "s_curriculum must be a sequence"),
    ],
)
def test_config_bad_values(changes, msg):
    with pytest.raises(ValueError, match=msg):
        rnn.TrainConfig(**changes)


def test_default_key_and_dict_are_unchanged_by_later_fields():
    """The cache key of the default recipe must not move: the chapters' cached networks, the
    committed book/data/hidden_search.json (whose base_recipe the training chapter compares with
    TrainConfig().as_dict()) and the sweep tables are keyed by it. The value below was computed
    before the fields encoding, s_curriculum, horizon_unit and advance_on were added."""
    c = rnn.TrainConfig()
    assert c.key() == "9a5d3028c64ca46a3048"
    later = {
        "encoding", "s_curriculum", "horizon_unit", "advance_on", "task", "snapshot_every", "engine"
    }  # fmt: skip
    assert later.isdisjoint(c.as_dict())
    assert set(c.as_dict(full=True)) == {f.name for f in dataclasses.fields(rnn.TrainConfig)}
    assert {k: v for k, v in c.as_dict(full=True).items() if k not in later} == c.as_dict()
    # a later field away from its default enters the dictionary and the key
    d = rnn.TrainConfig(advance_on="bit").as_dict()
    assert d["advance_on"] == "bit" and later - {"advance_on"} <= later - set(d)
    assert rnn.TrainConfig(s_curriculum=[4, 16]).as_dict()["s_curriculum"] == [4, 16]
    # giving a later field its default explicitly is the same configuration
    explicit = rnn.TrainConfig(encoding="pm1", s_curriculum=(), horizon_unit="periods")
    assert explicit == c and explicit.key() == c.key()


def test_presets():
    assert rnn.TrainConfig.preset("book") == rnn.TrainConfig()
    assert rnn.TrainConfig.preset("book", seed=3) == rnn.TrainConfig(seed=3)
    p = rnn.TrainConfig.preset("published", s=8, kappa=8, seed=2)
    assert (p.s, p.kappa, p.hidden, p.seed) == (8, 8, 128, 2)
    assert p.init == "pytorch" and not p.bias and p.encoding == "pm1"
    assert p.stage_periods == (10, 20, 40, 60, 100) and p.horizon_unit == "steps"
    assert p.stage_batch == (64,) * 5 and p.stage_lr == (1e-3,) * 5 and p.final_lr_decay == 1.0
    assert p.advance_on == "bit" and p.advance_accuracy == 0.96 and p.max_steps == 20000
    assert [st["n_out"] for st in p.schedule()] == [10, 20, 40, 60, 100]
    assert rnn.TrainConfig.preset("published", max_steps=50).max_steps == 50
    f = rnn.TrainConfig.preset("fast", seed=1)
    assert f.stage_lr == (3e-3,) * 3 and f.final_lr_decay == 0.05 and f.seed == 1
    assert f.stage_periods == rnn.TrainConfig().stage_periods and f.init == "orthogonal"
    std = rnn.TrainConfig.preset("standard", s=8, kappa=4, hidden=64)
    assert std.init == "pytorch" and std.bias and std.encoding == "01" and std.clip == 1.0
    assert std.s_curriculum == (2, 4, 8) and std.long_steps == 24 and std.long_bit_accuracy == 1
    assert [(st["s"], st["n_out"]) for st in std.schedule()] == [
        (2, 4), (4, 8), (8, 16), (8, 32), (8, 64),
    ]  # fmt: skip
    assert rnn.TrainConfig.preset("standard", s=4, kappa=2, hidden=8).s_curriculum == (2, 4)
    assert rnn.TrainConfig.preset("standard", s=3, kappa=2, hidden=6).s_curriculum == ()
    assert len({rnn.TrainConfig.preset(n).key() for n in rnn.PRESETS}) == len(rnn.PRESETS)
    with pytest.raises(ValueError, match="unknown preset 'paper'"):
        rnn.TrainConfig.preset("paper")
    with pytest.raises(ValueError, match="stage_batch"):
        rnn.TrainConfig.preset("published", stage_batch=(64,))


def test_schedule():
    assert rnn.TrainConfig().schedule() == [
        {"s": 16, "n_out": 32, "batch": 128, "lr": 3e-3},
        {"s": 16, "n_out": 64, "batch": 64, "lr": 2e-3},
        {"s": 16, "n_out": 128, "batch": 32, "lr": 1e-3},
    ]
    c = rnn.TrainConfig(s_curriculum=(4, 8, 16))
    assert [(st["s"], st["n_out"], st["batch"]) for st in c.schedule()] == [
        (4, 8, 128),
        (8, 16, 128),
        (16, 32, 128),
        (16, 64, 64),
        (16, 128, 32),
    ]
    c = rnn.TrainConfig(s_curriculum=(4, 16), horizon_unit="steps", stage_periods=(10, 20, 40))
    assert [(st["s"], st["n_out"]) for st in c.schedule()] == [
        (4, 10),
        (16, 10),
        (16, 20),
        (16, 40),
    ]


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


def test_evaluate_01_encoding():
    """With encoding "01" the inputs are bits in {0, 1} and the output is judged by its sign
    against the target written in {-1, +1} (a logit > 0 means bit 1)."""
    s, kappa = 5, 3
    w = oracle_weights(s, kappa)  # recalls its input exactly: output 1 for a 1, 0 for a 0
    ev = rnn.evaluate(w, n_seq=200, rng=2, s=s, long_steps=20, encoding="01")
    assert ev["encoding"] == "01"
    u, _ = repeat_copy_batch(200, s, kappa, 4 * s, np.random.default_rng(2), "01")
    # every 1-bit right, every 0-bit wrong (an output of exactly 0 is not below 0)
    assert ev["bit_accuracy"] == pytest.approx(u[:, :s].mean(), abs=1e-12)
    assert not ev["criterion"]
    # a read-out bias of -1/2 turns the recalled {0, 1} into logits of the right sign
    shifted = {**w, "b_r": -0.5 * np.ones(kappa)}
    assert rnn.evaluate(shifted, n_seq=200, rng=2, s=s, encoding="01")["criterion"]
    assert rnn.evaluate(w, n_seq=200, rng=2, s=s)["encoding"] == "pm1"
    with pytest.raises(ValueError, match="encoding must be one of"):
        rnn.evaluate(w, s=s, encoding="bits")


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


def _first_batch(config):
    """The first training batch as train() draws it, and the initial model."""
    st = config.schedule()[0]
    u, y = repeat_copy_batch(
        st["batch"],
        st["s"],
        config.kappa,
        st["n_out"],
        np.random.default_rng([config.seed, 1]),
        config.encoding,
    )
    model = rnn.ElmanRNN(
        config.kappa, config.hidden, bias=config.bias, init=config.init, seed=config.seed
    )
    out, _ = model(torch.tensor(u, dtype=torch.float32))
    return u, torch.tensor(y, dtype=torch.float32), out


def test_training_loss_follows_the_encoding():
    c = tiny(max_steps=1)
    _, y, out = _first_batch(c)
    loss = quiet_train(c).history["loss"][0]
    assert loss == pytest.approx(torch.mean((out - y) ** 2).item(), rel=1e-5)
    c01 = tiny(max_steps=1, encoding="01")
    u, y, out = _first_batch(c01)
    assert set(np.unique(u[:, : c01.s])) == {0.0, 1.0}
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out, y).item()
    t = quiet_train(c01)
    assert t.history["loss"][0] == pytest.approx(bce, rel=1e-5)
    assert abs(bce - torch.mean((out - y) ** 2).item()) > 1e-3  # the two losses differ here
    # the accuracy of a batch is judged with the targets in {-1, +1}
    ok = (out * (2 * y - 1))[:, c01.s :] > 0
    assert t.history["bit_accuracy"][0] == pytest.approx(ok.float().mean().item())
    assert rnn.evaluate(t, n_seq=10)["encoding"] == "01"
    with pytest.raises(ValueError, match="contradicts"):
        rnn.evaluate(t, n_seq=10, encoding="pm1")


@pytest.mark.parametrize("advance_on", ["sequence", "bit"])
def test_training_s_curriculum_and_advance_rule(advance_on):
    """With s_curriculum=(2, 4) the first stage trains on sequences of 2 input steps, and every
    stage ends exactly at the first step whose batch meets the rule."""
    c = tiny(s_curriculum=(2, 4), advance_on=advance_on, advance_accuracy=0.3, max_steps=80)
    t = quiet_train(c)
    h = t.history
    sched = c.schedule()
    assert len(sched) == 4 and sched[0]["s"] == 2
    assert h["s"] == [sched[st]["s"] for st in h["stage"]]
    assert h["n_out"] == [sched[st]["n_out"] for st in h["stage"]]
    assert h["s"][0] == 2 and h["n_out"][0] == 2 * c.stage_periods[0]
    rule = h["accuracy"] if advance_on == "sequence" else h["bit_accuracy"]
    for k in range(1, len(h["step"])):
        if h["stage"][k - 1] < len(sched) - 1:
            advanced = h["stage"][k] == h["stage"][k - 1] + 1
            assert advanced == (rule[k - 1] >= 0.3), k
    assert max(h["stage"]) >= 1
    # the first batch is the curriculum's shortest sequences
    u, y, out = _first_batch(c)
    assert u.shape == (16, 2 + 2 * c.stage_periods[0], 2)
    assert h["loss"][0] == pytest.approx(torch.mean((out - y) ** 2).item(), rel=1e-5)
    assert "s" not in quiet_train(tiny(max_steps=2)).history  # the old history format


def test_training_horizon_in_steps():
    c = tiny(horizon_unit="steps", stage_periods=(3, 5, 7), advance_accuracy=0.05, max_steps=40)
    h = quiet_train(c).history
    assert h["n_out"][0] == 3 and set(h["n_out"]) <= {3, 5, 7}


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
        d == Path(rnn.__file__).resolve().parents[2] / ".cache" / "emt"
    )  # the repository checkout


def test_cache_round_trip(tmp_path, monkeypatch):
    c = tiny()
    first = quiet_get(c, tmp_path)
    assert not first.from_cache and first.path.exists()
    assert first.path.name == c.filename() and c.key() in first.path.name
    assert [p.name for p in tmp_path.iterdir()] == [c.filename()]  # no temporary file left

    def no_training(*args, **kwargs):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(rnn.cache, "train", no_training)
    second = rnn.get_trained(c, cache_dir=tmp_path, progress=False)
    assert second.from_cache
    for k, v in first.weights().items():
        assert np.array_equal(v, second.weights()[k])
    assert second.history == first.history
    assert second.meta["steps"] == first.meta["steps"]


def test_cache_round_trip_with_a_curriculum(tmp_path):
    c = tiny(s_curriculum=(2, 4), encoding="01", max_steps=5)
    first = quiet_get(c, tmp_path)
    second = quiet_get(c, tmp_path)
    assert second.from_cache and second.history == first.history and "s" in second.history
    assert second.config == c


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
        rnn.cache._save(t, t.path)
    assert t.path.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == [c.filename()]  # and no temporary file is left


# ------------------------------------------------------------------ snapshots (chapter "The circuit forming")


def test_snapshots_record_the_weights_without_changing_the_training(tmp_path):
    plain = quiet_train(tiny())
    snap_cfg = tiny(snapshot_every=7)
    snapped = quiet_train(snap_cfg)
    for k, v in plain.weights().items():
        assert np.array_equal(v, snapped.weights()[k])  # recording changes nothing
    shots = snapped.snapshots()
    steps = [step for step, _ in shots]
    last = snapped.meta["steps"]
    assert steps == sorted(set(range(0, last + 1, 7)) | {last}) and plain.snapshots() == []
    init = rnn.ElmanRNN(TINY["kappa"], TINY["hidden"], seed=TINY.get("seed", 0)).weights()
    assert all(np.array_equal(shots[0][1][k], init[k]) for k in init)
    assert all(np.array_equal(shots[-1][1][k], v) for k, v in snapped.weights().items())
    assert snap_cfg.key() != tiny().key() and tiny(snapshot_every=0).key() == tiny().key()
    # the cache keeps them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        rnn.get_trained(snap_cfg, cache_dir=tmp_path, progress=False)
        cached = rnn.get_trained(snap_cfg, cache_dir=tmp_path, progress=False)
    assert cached.from_cache and [s for s, _ in cached.snapshots()] == steps
    with pytest.raises(ValueError, match="snapshot_every"):
        tiny(snapshot_every=-1)
