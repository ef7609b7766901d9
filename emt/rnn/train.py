"""Training by a :class:`TrainConfig`'s recipe, and the trained network with its history.

Chapter "Training the Elman RNN" (book/training.md), with section "The same recipe on another
computer" (``sec-tr-portable``) for the floating-point path; paper Sec. 7.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emt import _io, _numerics
from emt.rnn.config import FORMAT_VERSION, CriterionWarning, TrainConfig, task_batch
from emt.rnn.model import ElmanRNN

_HISTORY_KEYS = ("step", "loss", "accuracy", "bit_accuracy", "stage", "n_out", "wall")
_VAL_KEYS = ("val_step", "val_sequence_accuracy", "val_long_bit_accuracy", "val_wall")


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


def train(config: TrainConfig = TrainConfig(), progress: bool = True) -> Trained:
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
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
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

        snapshot(0)
        stage, in_stage, solved, step = 0, 0, False, 0
        t0 = time.perf_counter()
        bar = _progress_bar(c.max_steps, progress)
        try:
            for step in range(1, c.max_steps + 1):
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
        finally:
            bar.close()
        if c.snapshot_every and history["snapshot_step"][-1] != step:
            snapshot(step)
        meta = {
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
