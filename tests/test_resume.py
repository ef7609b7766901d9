"""Resumable training (emt.rnn.train's partial checkpoints; appendix section sec-at-resume).

A run killed part-way and resumed from its last partial checkpoint must give the network, and
the history, that the same run gives when nobody stops it.
"""

from __future__ import annotations

import importlib
import warnings

import pytest
import torch

from emt import rnn
from emt.rnn import TrainConfig

TIMING = {"wall", "val_wall"}
# the module, not the function emt.rnn.train that the package exports under the same name
train_module = importlib.import_module("emt.rnn.train")


class Killed(Exception):
    """Stands for the signal that ends a job (a Slurm time limit, Ctrl-C)."""


def kill_at_step(monkeypatch, step: int) -> None:
    """Make training die when it draws the batch of ``step`` (the first draw is the validation set)."""
    real = train_module.task_batch
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step + 1:
            raise Killed(f"killed at step {step}")
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "task_batch", dying)


def same_run(a: rnn.Trained, b: rnn.Trained) -> None:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"weights {k} differ"
    assert a.history.keys() == b.history.keys()
    for k in a.history:
        if k in TIMING:
            assert len(a.history[k]) == len(b.history[k])
        elif k == "snapshot_state":
            assert len(a.history[k]) == len(b.history[k])
            for x, y in zip(a.history[k], b.history[k]):
                assert all(torch.equal(x[n], y[n]) for n in x)
        else:
            assert a.history[k] == b.history[k], f"history {k} differs"
    assert a.meta["steps"] == b.meta["steps"] and a.meta["solved"] == b.meta["solved"]


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(s=4, kappa=3, hidden=12, seed=0, max_steps=260, snapshot_every=40),
        TrainConfig.preset("standard", s=4, kappa=3, hidden=12, seed=1, max_steps=260),
    ],
    ids=["book", "standard"],
)
def test_a_killed_run_resumes_to_the_same_network(config, tmp_path, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        reference = rnn.train(config, progress=False)
    assert reference.meta["steps"] > 170, "the run must still be training when it is killed"

    kill_at_step(monkeypatch, 170)
    with pytest.raises(Killed):
        rnn.get_trained(config, cache_dir=tmp_path, progress=False, checkpoint_every=50)
    partial = rnn.partial_path(config, tmp_path)
    assert partial.exists() and not (tmp_path / config.filename()).exists()
    assert rnn.load_partial(partial, config)["step"] == 150  # the last multiple of 50 before 170
    monkeypatch.undo()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        resumed = rnn.get_trained(config, cache_dir=tmp_path, progress=False, checkpoint_every=50)
    assert resumed.meta["resumed_from"] == 150 and reference.meta["resumed_from"] == 0
    same_run(resumed, reference)
    assert not partial.exists(), "the partial checkpoint is removed once the network is stored"
    assert (tmp_path / config.filename()).exists()


def test_a_partial_checkpoint_of_another_configuration_is_not_resumed(tmp_path, monkeypatch):
    a = TrainConfig(s=4, kappa=3, hidden=12, seed=0, max_steps=120)
    b = TrainConfig(s=4, kappa=3, hidden=12, seed=1, max_steps=120)
    kill_at_step(monkeypatch, 70)
    with pytest.raises(Killed):
        rnn.train(a, progress=False, checkpoint=tmp_path / "p.pt", checkpoint_every=50)
    monkeypatch.undo()
    with pytest.warns(rnn.ResumeWarning, match="another configuration"):
        assert rnn.load_partial(tmp_path / "p.pt", b) is None
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(rnn.ResumeWarning, match="cannot be read"):
        assert rnn.load_partial(tmp_path / "junk.pt", a) is None
    assert rnn.load_partial(tmp_path / "absent.pt", a) is None


def test_checkpoint_interval_reads_the_environment(monkeypatch):
    monkeypatch.delenv("EMT_CHECKPOINT_EVERY", raising=False)
    assert rnn.checkpoint_interval() == 0
    monkeypatch.setenv("EMT_CHECKPOINT_EVERY", "2000")
    assert rnn.checkpoint_interval() == 2000
    assert rnn.checkpoint_interval(10) == 10
    monkeypatch.setenv("EMT_CHECKPOINT_EVERY", "often")
    with pytest.raises(ValueError, match="EMT_CHECKPOINT_EVERY"):
        rnn.checkpoint_interval()
    with pytest.raises(ValueError, match="int >= 0"):
        rnn.checkpoint_interval(-1)
    with pytest.raises(ValueError, match="needs a checkpoint path"):
        rnn.train(TrainConfig(s=4, kappa=3, hidden=12, max_steps=5), checkpoint_every=5)


def test_sweep_option_reaches_the_workers_through_the_environment(tmp_path, monkeypatch, capsys):
    """``emt sweep --checkpoint-every N`` sets $EMT_CHECKPOINT_EVERY, which loky and sbatch pass on."""
    from emt.cli import main

    monkeypatch.delenv("EMT_CHECKPOINT_EVERY", raising=False)
    grid = tmp_path / "grid.toml"
    grid.write_text("seeds = [0]\n\n[[point]]\ns = 4\nkappa = 3\nhidden = 12\nmax_steps = 10\n")
    assert main(["sweep", str(grid), "--dry-run", "--checkpoint-every", "2000"]) == 0
    assert rnn.checkpoint_interval() == 2000
    with pytest.raises(SystemExit):
        main(["sweep", str(grid), "--dry-run", "--checkpoint-every", "-5"])
