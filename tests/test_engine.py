"""The hand-written BPTT engine (``TrainConfig.engine = "bptt"``) against torch's nn.RNN.

Chapter "Training the Elman RNN", section ``sec-tr-engine``.
"""

import warnings

import pytest
import torch

from emt.rnn import CriterionWarning, TrainConfig, train
from emt.rnn.model import ElmanRNN


def _pair(bias: bool, hidden: int = 24, kappa: int = 3):
    a = ElmanRNN(kappa, hidden, bias=bias, seed=5)
    b = ElmanRNN(kappa, hidden, bias=bias, seed=5, engine="bptt")
    if bias:  # biases start at zero: give them values so that their gradients are tested
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for name, p in a.named_parameters():
                if "bias" in name:
                    p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("bias", [False, True])
def test_bptt_forward_and_gradients_equal_nn_rnn(bias):
    a, b = _pair(bias)
    gen = torch.Generator().manual_seed(2)
    u = torch.randn(7, 30, 3, generator=gen)
    y = torch.randn(7, 30, 3, generator=gen)
    outs = []
    for m in (a, b):
        out, h = m(u)
        torch.mean((out - y) ** 2).backward()
        outs.append((out.detach(), h.detach()))
    assert torch.allclose(outs[0][1], outs[1][1], atol=1e-6, rtol=0)
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-6, rtol=0)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        scale = pa.grad.abs().max().item()
        assert scale > 0, name
        assert (pa.grad - pb.grad).abs().max().item() <= 1e-5 * scale, name


@pytest.mark.parametrize("bias", [False, True])
def test_engine_gradient_gap_is_rounding_and_sees_a_wrong_gradient(bias, monkeypatch):
    from emt.rnn import model

    assert model.engine_gradient_gap(3, 20, 25, bias=bias, seed=1) < 1e-5
    # a backward pass that drops the recurrent term must be caught
    real = model._TanhRecurrence.backward

    def broken(ctx, grad_h):
        g, grad_w = real(ctx, grad_h)
        return g, 0.5 * grad_w

    monkeypatch.setattr(model._TanhRecurrence, "backward", staticmethod(broken))
    assert model.engine_gradient_gap(3, 20, 25, bias=bias, seed=1) > 0.1


def test_bptt_one_step_sequence_and_hidden_state_layout():
    a, b = _pair(False, hidden=8, kappa=2)
    u = torch.ones(3, 1, 2)
    assert torch.allclose(a(u)[1], b(u)[1], atol=1e-7)
    assert b(torch.zeros(2, 5, 2))[1].shape == (2, 5, 8)


def test_engine_is_validated_and_default_key_unchanged():
    with pytest.raises(ValueError, match="engine"):
        TrainConfig(engine="cuda")
    with pytest.raises(ValueError, match="engine"):
        ElmanRNN(2, 8, engine="fast")
    assert "engine" not in TrainConfig().as_dict()
    assert TrainConfig(engine="bptt").key() != TrainConfig().key()


def test_bptt_training_is_deterministic_and_learns():
    c = TrainConfig(s=4, kappa=2, hidden=16, max_steps=300, engine="bptt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriterionWarning)
        one, two = train(c, progress=False), train(c, progress=False)
    w1, w2 = one.weights(), two.weights()
    assert all((w1[k] == w2[k]).all() for k in w1)
    loss = one.history["loss"]
    assert sum(loss[-20:]) / 20 < 0.5 * sum(loss[:20]) / 20


def test_step_rates_reports_both_engines_against_the_limit():
    from emt.bench import step_rates

    r = step_rates(TrainConfig(s=4, kappa=2, hidden=16), reps=3)
    assert set(r) == {
        "sgemm_gflops", "sgemm_us", "limit_ms", "recurrence_ms", "tanh_ms", "time_steps", "rnn", "bptt"
    }  # fmt: skip
    assert r["sgemm_gflops"] > 0 and r["limit_ms"] > 0 and r["tanh_ms"] > 0
    for engine in ("rnn", "bptt"):
        # no step can beat the arithmetic of its W_hh products at the measured sgemm rate
        assert r[engine]["ms"] > 0.5 * r["limit_ms"]
    assert r["recurrence_ms"] < 2 * r["bptt"]["ms"]


def test_keeping_freed_memory_changes_no_weight():
    from emt import _malloc
    from emt.bench import in_fresh_process

    fields = {"s": 4, "kappa": 2, "hidden": 16, "max_steps": 200, "seed": 1}
    kept, default = (
        in_fresh_process("train_digest", keep, preset="standard", fields=fields)
        for keep in (True, False)
    )
    assert kept["kept_memory"] is _malloc.keep_freed_memory() and not default["kept_memory"]
    assert kept["digest"] == default["digest"]


def test_paths_are_timed_in_processes_of_their_own():
    from emt import _malloc
    from emt.bench import in_fresh_process

    glibc = _malloc.keep_freed_memory()  # this process: True wherever mallopt exists
    tiny = {"s": 4, "kappa": 2, "hidden": 16}
    for keep in (False, True):
        r = in_fresh_process(
            "path_step_rates", keep, preset="book", fields=tiny, engine="bptt", reps=3
        )
        assert r["kept_memory"] is (keep and glibc)
        assert r["bptt"]["ms"] > 0.5 * r["limit_ms"]


def test_a_failing_fresh_process_says_why():
    from emt.bench import in_fresh_process

    with pytest.raises(RuntimeError, match="train_digest failed in its process"):
        in_fresh_process("train_digest", True, preset="no such preset", fields={})
