"""Training by a :class:`TrainConfig`'s recipe, and the trained network with its history.

Chapter "Training the Elman RNN" (book/training.md), with section "The same recipe on another
computer" (``sec-tr-portable``) for the floating-point path; paper Sec. 7.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emt import _io, _numerics
from emt._malloc import keep_freed_memory
from emt.rnn.config import (
    FORMAT_VERSION,
    CriterionWarning,
    TrainConfig,
    stored_mismatch,
    task_batch,
)
from emt.rnn.model import ElmanRNN

_HISTORY_KEYS = ("step", "loss", "accuracy", "bit_accuracy", "stage", "n_out", "wall")
_VAL_KEYS = ("val_step", "val_sequence_accuracy", "val_long_bit_accuracy", "val_wall")


class ResumeWarning(UserWarning):
    """A partial checkpoint could not be resumed (unreadable, or from another configuration)."""


class Trained:
    """A trained network with its configuration and training history (chapter "Training the Elman RNN").

    Attributes: ``config`` (:class:`TrainConfig`), ``history`` (dict of lists: per step ``step``,
    ``loss``, ``accuracy`` (fraction of the batch's sequences entirely correct over the stage's
    output phase), ``bit_accuracy``, ``stage`` (0-based index in :meth:`TrainConfig.schedule`),
    ``n_out`` (output steps per sequence), [``s`` (input steps), only with an ``s_curriculum``],
    ``wall`` (seconds since the start); per validation ``val_step``,
    ``val_sequence_accuracy``, ``val_long_bit_accuracy``, ``val_wall``), ``meta`` (``solved``:
    the validation criterion was met; ``steps``; ``wall_seconds``; ``torch``; ``threads``),
    ``model`` (the :class:`ElmanRNN`, in eval mode), ``path`` (the cache file, if any) and
    ``from_cache``.
    """

    def __init__(
        self,
        config: TrainConfig,
        state: dict[str, torch.Tensor],
        history: dict[str, list],
        meta: dict[str, Any],
        path: Path | None = None,
        from_cache: bool = False,
    ) -> None:
        self.config = config
        self.history = history
        self.meta = meta
        self.path = path
        self.from_cache = from_cache
        self.model = ElmanRNN(
            config.kappa, config.hidden, bias=config.bias, init=config.init, seed=config.seed
        )
        self.model.load_state_dict(state)
        self.model.eval()

    @property
    def solved(self) -> bool:
        return bool(self.meta["solved"])

    def weights(self) -> dict[str, np.ndarray]:
        """W_hh (hidden x hidden), W_uh (hidden x kappa), W_r (kappa x hidden) [, b_h, b_r].

        As numpy float64 arrays.
        """
        return self.model.weights()

    def snapshots(self) -> list[tuple[int, dict[str, np.ndarray]]]:
        """The recorded weights ``[(step, weights), ...]`` (``config.snapshot_every`` > 0).

        Chapter "The circuit forming". ``weights`` as :meth:`weights` gives them; step 0 is the
        initialisation and the last entry the returned network. Empty without snapshots.
        """
        steps = self.history.get("snapshot_step", [])
        states = self.history.get("snapshot_state", [])
        out = []
        model = ElmanRNN(self.config.kappa, self.config.hidden, bias=self.config.bias, seed=0)
        for step, state in zip(steps, states):
            model.load_state_dict(state)
            out.append((int(step), model.weights()))
        return out

    def __repr__(self) -> str:
        src = f"cache {self.path}" if self.from_cache else "trained now"
        return (
            f"Trained(s={self.config.s}, kappa={self.config.kappa}, hidden={self.config.hidden}, "
            f"seed={self.config.seed}, solved={self.solved}, steps={self.meta['steps']}, {src})"
        )


def _progress_bar(total: int, enabled: bool):
    return _io.progress_bar(total, enabled, mininterval=1.0, unit="step", desc="training")


def checkpoint_interval(checkpoint_every: int | None = None) -> int:
    """``checkpoint_every`` if given, else ``$EMT_CHECKPOINT_EVERY`` (steps; 0 or unset: none).

    The environment variable reaches the workers of a sweep, local or Slurm, without a
    parameter of its own; it changes where training can be resumed from, never its result.
    """
    if checkpoint_every is None:
        raw = os.environ.get("EMT_CHECKPOINT_EVERY", "").strip() or "0"
        try:
            checkpoint_every = int(raw)
        except ValueError:
            raise ValueError(
                f"EMT_CHECKPOINT_EVERY must be a whole number of steps, got {raw!r}"
            ) from None
    if (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, int)
        or (checkpoint_every < 0)
    ):
        raise ValueError(f"checkpoint_every must be an int >= 0, got {checkpoint_every!r}")
    return checkpoint_every


def _partial_payload(c, model, opt, data_rng, history, step, stage, in_stage, wall) -> dict:
    return {
        "format": FORMAT_VERSION,
        "key": c.key(),
        "config": json.dumps(c.as_dict(), sort_keys=True),
        "step": step,
        "stage": stage,
        "in_stage": in_stage,
        "wall": wall,
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "data_rng": json.dumps(data_rng.bit_generator.state),
        "history": history,
    }


def load_partial(path: str | Path, config: TrainConfig) -> dict | None:
    """The partial checkpoint at ``path`` if it is intact and belongs to ``config``, else None.

    A partial checkpoint is what :func:`train` writes every ``checkpoint_every`` steps: the
    weights, Adam's state, the state of the training-data generator, the curriculum's stage and
    the history so far. Chapter "Training the Elman RNN", appendix section ``sec-at-resume``. A
    file that cannot be read or belongs to another configuration warns (:class:`ResumeWarning`)
    and is ignored.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        payload = _io.load_torch(path)
    except _io.UnreadableFile as exc:
        warnings.warn(
            f"emt.rnn: partial checkpoint {path} cannot be read ({exc}); training "
            "starts from step 0",
            ResumeWarning,
            stacklevel=2,
        )
        return None
    fields = {"format", "key", "config", "step", "stage", "in_stage", "wall", "state"}
    fields |= {"optimizer", "data_rng", "history"}
    why = stored_mismatch(payload, config, fields, "partial checkpoint")
    if why is None and not 0 < payload["step"] <= config.max_steps:
        why = f"stopped at step {payload['step']}, outside 1..max_steps={config.max_steps}"
    if why is None:
        return payload
    warnings.warn(
        f"emt.rnn: partial checkpoint {path} {why}; training starts from step 0",
        ResumeWarning,
        stacklevel=2,
    )
    return None


def train(
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 0,
) -> Trained:
    """Train an Elman RNN on ``config.task`` (default repeat copy) by ``config``'s recipe; no cache.

    Chapter "Training the Elman RNN"; paper Sec. 5.1 (Eq. 5-6) and Sec. 7. The stages are those
    of :meth:`TrainConfig.schedule`; every stage but the last ends on ``advance_on`` and
    ``advance_accuracy``, and the last one checks the validation criterion every ``eval_every``
    steps, with ±1 decoding of the outputs whatever the encoding and loss (see
    :class:`TrainConfig`). Deterministic: the
    same configuration on the same machine (same torch build and thread count) gives identical
    weights. Across x86-64 CPUs the weights are the same only where torch's products take the
    same MKL path, which ``import emt`` pins (:mod:`emt._numerics`); ``meta["mkl_cbwr"]`` records
    it. Warns with :class:`CriterionWarning` if ``max_steps`` pass without meeting the
    criterion (the network is returned anyway, with ``meta["solved"] = False``).

    Resumable: with a ``checkpoint`` path and ``checkpoint_every`` > 0 the training state is
    written there (atomically) every ``checkpoint_every`` steps, and a valid partial checkpoint
    found at ``checkpoint`` is resumed from (:func:`load_partial`). A resumed run gives the same
    weights and history as one that was never stopped (``wall`` and the timings aside); the
    file is left in place, :func:`emt.rnn.get_trained` removes it once the network is stored.

    The first call in a process sets glibc's malloc to keep freed memory for reuse
    (:func:`emt._malloc.keep_freed_memory`; ``EMT_KEEP_FREED_MEMORY=0`` leaves it): the same
    weights, fewer page faults.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    checkpoint_every = checkpoint_interval(checkpoint_every)
    if checkpoint_every and checkpoint is None:
        raise ValueError("checkpoint_every > 0 needs a checkpoint path")
    keep_freed_memory()
    c = config
    stages = c.schedule()
    last = len(stages) - 1
    pm1 = c.encoding == "pm1"
    old_threads = torch.get_num_threads()
    torch.set_num_threads(c.threads)
    try:
        model = ElmanRNN(c.kappa, c.hidden, bias=c.bias, init=c.init, seed=c.seed, engine=c.engine)
        params = list(model.parameters())
        opt = torch.optim.Adam(params, lr=stages[0]["lr"])
        data_rng = np.random.default_rng([c.seed, 1])
        n_val_out = max(c.val_periods * c.s, c.long_steps)
        vu, vy = task_batch(
            c.task, c.n_val, c.s, c.kappa, n_val_out, np.random.default_rng([c.seed, 2]), c.encoding
        )
        vu, vy = torch.tensor(vu, dtype=torch.float32), torch.tensor(vy, dtype=torch.float32)
        if not pm1:
            vy = 2 * vy - 1  # accuracy is judged against the targets written in {-1, +1}
        history: dict[str, list] = {k: [] for k in _HISTORY_KEYS + _VAL_KEYS}
        if c.s_curriculum:
            history["s"] = []
        if c.snapshot_every:
            history["snapshot_step"], history["snapshot_state"] = [], []

        def snapshot(at: int) -> None:
            if c.snapshot_every:
                history["snapshot_step"].append(at)
                history["snapshot_state"].append(
                    {k: v.detach().clone() for k, v in model.state_dict().items()}
                )

        stage, in_stage, solved, step, wall_before = 0, 0, False, 0, 0.0
        resumed = load_partial(checkpoint, c) if checkpoint is not None else None
        if resumed is None:
            snapshot(0)
        else:
            model.load_state_dict(resumed["state"])
            opt.load_state_dict(resumed["optimizer"])
            data_rng.bit_generator.state = json.loads(resumed["data_rng"])
            history = resumed["history"]
            stage, in_stage, step = resumed["stage"], resumed["in_stage"], resumed["step"]
            wall_before = float(resumed["wall"])
        start = step
        t0 = time.perf_counter() - wall_before
        bar = _progress_bar(c.max_steps, progress)
        bar.update(start)
        try:
            for step in range(start + 1, c.max_steps + 1):
                s_now, n_out = stages[stage]["s"], stages[stage]["n_out"]
                if stage == last and c.final_lr_decay != 1.0:
                    lr = max(stages[last]["lr"] * c.final_lr_decay ** (in_stage / 1000), c.min_lr)
                    for group in opt.param_groups:
                        group["lr"] = lr
                u, y = task_batch(
                    c.task, stages[stage]["batch"], s_now, c.kappa, n_out, data_rng, c.encoding
                )
                u, y = torch.tensor(u, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
                out, _ = model(u)
                if pm1:
                    loss = torch.mean((out - y) ** 2)
                else:
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(out, y)
                    y = 2 * y - 1
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if c.clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, c.clip)
                opt.step()
                with torch.no_grad():
                    ok = (out * y)[:, s_now:] > 0
                    acc = ok.all(dim=2).all(dim=1).float().mean().item()
                    bit_acc = ok.float().mean().item()
                wall = time.perf_counter() - t0
                for k, v in zip(
                    _HISTORY_KEYS, (step, loss.item(), acc, bit_acc, stage, n_out, wall)
                ):
                    history[k].append(v)
                if c.s_curriculum:
                    history["s"].append(s_now)
                in_stage += 1
                if c.snapshot_every and step % c.snapshot_every == 0:
                    snapshot(step)
                bar.update(1)
                bar.set_postfix(
                    stage=f"{stage + 1}/{last + 1} (s={s_now}, n_out={n_out})",
                    loss=f"{loss.item():.4f}",
                    acc=f"{acc:.2f}",
                    refresh=False,
                )
                if stage < last:
                    if (acc if c.advance_on == "sequence" else bit_acc) >= c.advance_accuracy:
                        stage, in_stage = stage + 1, 0
                        for group in opt.param_groups:
                            group["lr"] = stages[stage]["lr"]
                elif in_stage % c.eval_every == 0:
                    with torch.no_grad():
                        vout, _ = model(vu)
                        vok = (vout * vy)[:, c.s :] > 0
                        v_seq = (
                            vok[:, : c.val_periods * c.s]
                            .all(dim=2)
                            .all(dim=1)
                            .float()
                            .mean()
                            .item()
                        )
                        v_long = vok[:, : c.long_steps].float().mean().item()
                    for k, v in zip(_VAL_KEYS, (step, v_seq, v_long, time.perf_counter() - t0)):
                        history[k].append(v)
                    bar.set_postfix(
                        stage=f"{stage + 1}/{last + 1} (s={s_now}, n_out={n_out})",
                        loss=f"{loss.item():.4f}",
                        val_seq=f"{v_seq:.3f}",
                        val_bits200=f"{v_long:.4f}",
                        refresh=False,
                    )
                    if v_seq == 1.0 and v_long >= c.long_bit_accuracy:
                        solved = True
                        break
                if checkpoint_every and step % checkpoint_every == 0:
                    wall = time.perf_counter() - t0
                    payload = _partial_payload(
                        c, model, opt, data_rng, history, step, stage, in_stage, wall
                    )
                    _io.atomic_write(checkpoint, lambda f, p=payload: torch.save(p, f))
        finally:
            bar.close()
        if c.snapshot_every and history["snapshot_step"][-1] != step:
            snapshot(step)
        meta = {
            "resumed_from": start,
            "solved": solved,
            "steps": step,
            "wall_seconds": time.perf_counter() - t0,
            "torch": str(torch.__version__),
            "threads": c.threads,
            "mkl_cbwr": _numerics.mkl_branch(),
            "format": FORMAT_VERSION,
        }
    finally:
        torch.set_num_threads(old_threads)
    if not solved:
        warnings.warn(
            f"training stopped after max_steps={c.max_steps} steps without meeting the "
            "validation criterion",
            CriterionWarning,
            stacklevel=2,
        )
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return Trained(config, state, history, meta)
