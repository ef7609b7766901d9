"""The Elman RNN of the paper, its training on repeat copy, and a checkpoint cache.

Chapter "Training the Elman RNN" (book/training.md); paper Sec. 5.1, Eq. 5-6, and Sec. 7.

The model (paper Eq. 6) is

    h(t+1) = tanh(W_hh h(t) + W_uh u(t)),     y(t) = W_r h(t+1),     h(0) = 0,

without biases unless asked for. Time is indexed as in :mod:`emt.tasks`: step k = 0, ..., T-1
reads the input u[k], and the state after it, ``h[k]`` in the arrays returned here, is the
paper's h(k+1); the output is y[k] = W_r h[k], and the repeat-copy target is u[k mod s].

This is the one module of ``emt`` that works with torch tensors (the model and its training);
:func:`simulate`, :func:`evaluate` and :meth:`Trained.weights` speak numpy.

Cache: :func:`get_trained` looks for a checkpoint under the cache directory, which is, in this
order, the ``cache_dir`` argument, the environment variable ``EMT_CACHE_DIR``, ``.cache/emt``
under the repository root (when the package sits in its repository; the folder is gitignored),
or ``~/.cache/emt``. See :func:`resolve_cache_dir`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emt import _io, _numerics, elman
from emt._validate import positive_int as _positive_int
from emt.tasks import compose_copy, linear_task_batch, repeat_copy_batch

#: Version of the checkpoint format; it enters the cache key, so a change invalidates old files.
FORMAT_VERSION = 1

#: Default seed of :func:`evaluate`. Training draws its data from ``np.random.default_rng([seed, 1])``
#: and its validation set from ``np.random.default_rng([seed, 2])`` (two-word seeds), so sequences
#: drawn from this single-integer seed are fresh for every configuration.
EVAL_SEED = 20230

_INITS = ("orthogonal", "pytorch")
_ENCODINGS = ("pm1", "01")
_HORIZON_UNITS = ("periods", "steps")
_ADVANCE_ON = ("sequence", "bit")
_TASKS = ("repeat_copy", "compose_copy")

#: Fields added to :class:`TrainConfig` after its first release, with their defaults. A field at
#: its default is left out of :meth:`TrainConfig.as_dict` and so of :meth:`TrainConfig.key`: every
#: configuration that existed before keeps its dictionary, its cache key and its checkpoint.
_LATER_FIELDS: dict[str, Any] = {
    "encoding": "pm1",
    "s_curriculum": (),
    "horizon_unit": "periods",
    "advance_on": "sequence",
    "task": "repeat_copy",
}
_HISTORY_KEYS = ("step", "loss", "accuracy", "bit_accuracy", "stage", "n_out", "wall")
_VAL_KEYS = ("val_step", "val_sequence_accuracy", "val_long_bit_accuracy", "val_wall")


class CacheWarning(UserWarning):
    """A cache file could not be used (unreadable, truncated, or from another configuration)."""


class CriterionWarning(UserWarning):
    """Training stopped at ``max_steps`` without meeting the criterion."""


def _warn_small_hidden(hidden: int, s: int, kappa: int) -> None:
    if hidden < s * kappa:
        warnings.warn(
            f"hidden={hidden} is below s*kappa={s * kappa}: the theory needs at least s*kappa "
            "dimensions to hold s variable memories of kappa dimensions each",
            UserWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained network (chapter "Training the Elman RNN").

    Task and model: ``s`` input steps of ``kappa`` bits in {-1, +1} (paper Sec. 5.1, Eq. 5), an
    Elman RNN with ``hidden`` units (Eq. 6), biases if ``bias``. The defaults are the paper's
    repeat-copy experiment (s=16, kappa=5) with 128 hidden units.

    Recipe (the defaults are the recipe of the chapter): ``init`` "orthogonal" draws W_hh as a
    random orthogonal matrix ("pytorch" keeps torch's uniform default); mean squared error
    between the linear read-out and the {-1, +1} targets at every step; Adam; gradient norm
    clipped at ``clip`` (0 disables it); a curriculum over the output horizon with
    ``stage_periods[i]`` output periods (of s steps) per sequence, ``stage_batch[i]`` sequences
    per step and learning rate ``stage_lr[i]``; in the last stage the learning rate decays by the
    factor ``final_lr_decay`` every 1000 steps, but not below ``min_lr``. A stage ends when a
    training batch has at least
    ``advance_accuracy`` of its sequences entirely correct over the output phase. In the last
    stage, every ``eval_every`` steps, a fixed validation set of ``n_val`` sequences is run; training
    stops as soon as every bit of every validation sequence is right over ``val_periods`` output
    periods and the bit accuracy over ``long_steps`` output steps is at least ``long_bit_accuracy``;
    at the latest after ``max_steps`` steps. ``threads`` is torch's intra-op thread count during
    training (it affects floating-point order, hence it is part of the configuration).

    Other recipes (chapter "How general is the circuit?"). Each field below changes
    one thing and, at its default, is left out of :meth:`as_dict` and :meth:`key`, so the
    configurations that existed before keep their cache keys:

    * ``encoding``: "pm1" (default) draws the bits in {-1, +1} for inputs and targets and trains
      the mean squared error of the linear read-out; "01" draws them in {0, 1} for inputs and
      targets and trains binary cross-entropy on the read-out taken as logits
      (``binary_cross_entropy_with_logits``). The output phase feeds the zero vector in both.
      Accuracy (for the curriculum, the stopping criterion and :func:`evaluate`) is judged the
      same way for both: a bit is right when the output has the sign of the target written in
      {-1, +1} (for "01": the logit is positive exactly when the target bit is 1).
    * ``s_curriculum``: empty (default) or strictly increasing sequence lengths ending at ``s``,
      e.g. (4, 8, 16). Before the horizon stages, the network is trained on repeat copy with
      ``s_curriculum[0]``, then ``s_curriculum[1]``, ... input steps: in such a stage a sequence
      is s' input vectors, then ``stage_periods[0]`` output periods of the stage's own s' (or
      ``stage_periods[0]`` output steps, see ``horizon_unit``) of zero input, with targets
      u[k mod s'] at every step; batch ``stage_batch[0]`` and learning rate ``stage_lr[0]``. The
      network (``hidden`` units, ``kappa`` inputs) is the same in every stage; only the data
      change. Each stage ends on the same rule as the horizon stages (``advance_on``,
      ``advance_accuracy``); then the horizon stages run at the target ``s``.
    * ``horizon_unit``: "periods" (default): ``stage_periods[i]`` counts output periods of s
      steps; "steps": it counts output steps (the output phase may end within a period).
    * ``advance_on``: "sequence" (default): a stage ends when at least ``advance_accuracy`` of
      the batch's sequences are entirely right over the output phase; "bit": when at least
      ``advance_accuracy`` of the batch's output bits are right.
    * ``task``: "repeat_copy" (default) or "compose_copy" (chapter "Compose copy, trained",
      book/compose_copy.md; the task of :func:`emt.tasks.compose_copy`, which needs
      ``kappa == s``). The sequences of compose copy are those of
      :func:`emt.tasks.linear_task_batch`: the s input vectors, then zero input; the targets
      echo the input just read during the input phase (as for repeat copy) and are the
      continuation generated by the task's F from the s inputs in the output phase. Horizons,
      "periods" of ``horizon_unit`` and the validation periods still count blocks of s steps
      (not the task's true period lcm(1..s)). ``s_curriculum`` must stay empty (the network's
      kappa = s is fixed, so shorter compose-copy tasks do not fit it).

    :meth:`schedule` lists the stages as they are trained; :meth:`preset` builds named recipes
    (:data:`PRESETS`: "book", the default; "published", the recipe of the paper's published code
    as described to us, not taken from it; "fast", the book's recipe with a larger learning rate
    in the later stages).

    Raises ValueError for non-positive sizes and other bad values; warns (UserWarning) when
    ``hidden < s * kappa``, below what the theory needs.
    """

    s: int = 16
    kappa: int = 5
    hidden: int = 128
    seed: int = 0
    bias: bool = False
    init: str = "orthogonal"
    stage_periods: tuple[int, ...] = (2, 4, 8)
    stage_batch: tuple[int, ...] = (128, 64, 32)
    stage_lr: tuple[float, ...] = (3e-3, 2e-3, 1e-3)
    final_lr_decay: float = 0.2
    min_lr: float = 1e-4
    advance_accuracy: float = 0.95
    clip: float = 1.0
    eval_every: int = 100
    n_val: int = 1000
    val_periods: int = 3
    long_steps: int = 200
    long_bit_accuracy: float = 0.9995
    max_steps: int = 8000
    threads: int = 1
    encoding: str = "pm1"
    s_curriculum: tuple[int, ...] = ()
    horizon_unit: str = "periods"
    advance_on: str = "sequence"
    task: str = "repeat_copy"

    def __post_init__(self) -> None:
        for name in (
            "s",
            "kappa",
            "hidden",
            "eval_every",
            "n_val",
            "val_periods",
            "long_steps",
            "max_steps",
            "threads",
        ):
            _positive_int(name, getattr(self, name))
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, (int, np.integer))
            or self.seed < 0
        ):
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")
        if self.init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {self.init!r}")
        for name in ("stage_periods", "stage_batch", "stage_lr"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) == 0:
                raise ValueError(f"{name} must be a non-empty sequence, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not len(self.stage_periods) == len(self.stage_batch) == len(self.stage_lr):
            raise ValueError(
                "stage_periods, stage_batch and stage_lr must have the same length, got "
                f"{len(self.stage_periods)}, {len(self.stage_batch)}, {len(self.stage_lr)}"
            )
        for i, (p, b, lr) in enumerate(zip(self.stage_periods, self.stage_batch, self.stage_lr)):
            _positive_int(f"stage_periods[{i}]", p)
            _positive_int(f"stage_batch[{i}]", b)
            if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
                raise ValueError(f"stage_lr[{i}] must be a positive number, got {lr!r}")
        object.__setattr__(self, "stage_lr", tuple(float(lr) for lr in self.stage_lr))
        if not (
            isinstance(self.min_lr, (int, float))
            and math.isfinite(self.min_lr)
            and self.min_lr >= 0
        ):
            raise ValueError(f"min_lr must be a non-negative number, got {self.min_lr!r}")
        for name in ("advance_accuracy", "long_bit_accuracy", "final_lr_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value <= 1):
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        if not (
            isinstance(self.clip, (int, float)) and math.isfinite(self.clip) and self.clip >= 0
        ):
            raise ValueError(
                f"clip must be a non-negative number (0 disables clipping), got {self.clip!r}"
            )
        for name, allowed in (
            ("encoding", _ENCODINGS),
            ("horizon_unit", _HORIZON_UNITS),
            ("advance_on", _ADVANCE_ON),
            ("task", _TASKS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        sc = self.s_curriculum
        if isinstance(sc, (str, bytes)) or not hasattr(sc, "__len__"):
            raise ValueError(f"s_curriculum must be a sequence of lengths, got {sc!r}")
        sc = tuple(sc)
        if sc:
            if len(sc) < 2:
                raise ValueError(
                    f"s_curriculum needs at least two lengths ending at s={self.s}, got {sc!r} "
                    "(leave it empty for no curriculum over s)"
                )
            for i, v in enumerate(sc):
                _positive_int(f"s_curriculum[{i}]", v)
            if any(b <= a for a, b in zip(sc, sc[1:])):
                raise ValueError(f"s_curriculum must be strictly increasing, got {sc!r}")
            if sc[-1] != self.s:
                raise ValueError(f"s_curriculum must end at s={self.s}, got {sc!r}")
        object.__setattr__(self, "s_curriculum", tuple(int(v) for v in sc))
        if self.task == "compose_copy":
            if self.kappa != self.s:
                raise ValueError(
                    f"compose_copy needs kappa == s, got s={self.s}, kappa={self.kappa}"
                )
            if sc:
                raise ValueError(
                    f"s_curriculum is not supported for compose_copy (kappa = s is fixed), got {sc!r}"
                )
        _warn_small_hidden(self.hidden, self.s, self.kappa)

    def as_dict(self, full: bool = False) -> dict[str, Any]:
        """The fields as plain JSON-compatible values (tuples become lists).

        Fields added after the first release (encoding, s_curriculum, horizon_unit, advance_on,
        task) are left out at their default values, so that the dictionary (and :meth:`key`) of every
        older configuration is unchanged; ``full=True`` includes every field (for tables with one
        column per field).
        """
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(self).items()
            if full or k not in _LATER_FIELDS or v != _LATER_FIELDS[k]
        }

    def schedule(self) -> list[dict[str, Any]]:
        """The training stages in order, each a dict with ``s`` (input steps), ``n_out`` (output
        steps per sequence), ``batch`` and ``lr`` (the learning rate at the stage's start).

        Chapter "Training the Elman RNN" (recipe). First one stage per length of
        ``s_curriculum`` below ``s`` (with the first horizon stage's horizon, batch and learning
        rate), then the horizon stages at ``s``. Training validates (and may stop) only in the
        last stage; the history's ``stage`` is the index in this list.
        """

        def n_out(periods: int, s: int) -> int:
            return periods * s if self.horizon_unit == "periods" else periods

        stages = [
            {
                "s": s_i,
                "n_out": n_out(self.stage_periods[0], s_i),
                "batch": self.stage_batch[0],
                "lr": self.stage_lr[0],
            }
            for s_i in self.s_curriculum[:-1]
        ]
        stages += [
            {"s": self.s, "n_out": n_out(p, self.s), "batch": b, "lr": lr}
            for p, b, lr in zip(self.stage_periods, self.stage_batch, self.stage_lr)
        ]
        return stages

    @classmethod
    def preset(cls, name: str, **fields: Any) -> TrainConfig:
        """A named recipe (:data:`PRESETS`) with ``fields`` (s, kappa, hidden, seed, ...) set.

        Chapter "How general is the circuit?". "book" is the default recipe of chapter
        "Training the Elman RNN"; "published" is the recipe of the paper's published code as
        the project's tracker describes it (not read from that code): torch's default
        initialisation, Adam at a fixed learning rate of
        1e-3, batch 64, mean squared error, a horizon curriculum of 10, 20, 40, 60, 100 output
        steps advancing at 96% bit accuracy, 20,000 steps at most; no gradient clipping (the
        description names none); bits in {-1, +1} (the description does not say). Stopping and
        evaluation are the book's (validation criterion in the last stage), so that steps and
        accuracies compare across recipes. The paper's code demonstrates it at s=8 with 8-bit
        inputs and 128 hidden units: ``preset("published", s=8, kappa=8)``. Fields given here
        override the preset's. "fast" is the book's recipe with the learning rate 3e-3 in every
        stage and a decay by 20x per 1000 steps in the last one: at s=16, kappa=5, 128 hidden
        units it met the book's criterion on seeds 0-2 in 1341-1379 steps (book: 1609-1683);
        a learning rate of 5e-3 in the last stage broke the network, so its margin is narrow.
        Raises ValueError for an unknown name.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; known presets are {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **fields})

    def key(self) -> str:
        """Hash of every field and of :data:`FORMAT_VERSION`: the cache key."""
        text = json.dumps({"format": FORMAT_VERSION, "config": self.as_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def filename(self) -> str:
        """Name of this configuration's checkpoint file (readable prefix, then the key)."""
        return f"elman-s{self.s}-k{self.kappa}-h{self.hidden}-seed{self.seed}-{self.key()}.pt"


#: Named recipes for :meth:`TrainConfig.preset`: the fields each one sets.
PRESETS: dict[str, dict[str, Any]] = {
    "book": {},
    "published": {
        "init": "pytorch",
        "stage_periods": (10, 20, 40, 60, 100),
        "stage_batch": (64,) * 5,
        "stage_lr": (1e-3,) * 5,
        "horizon_unit": "steps",
        "advance_on": "bit",
        "advance_accuracy": 0.96,
        "final_lr_decay": 1.0,
        "clip": 0.0,
        "max_steps": 20000,
    },
    # the book's recipe with a learning rate of 3e-3 in every stage and a faster decay in the
    # last one (by 20x per 1000 steps, down to min_lr): fewer steps to the same criterion
    "fast": {
        "stage_lr": (3e-3, 3e-3, 3e-3),
        "final_lr_decay": 0.05,
    },
}


def task_batch(
    task: str,
    batch: int,
    s: int,
    kappa: int,
    n_out: int,
    rng: np.random.Generator,
    encoding: str = "pm1",
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets ``(u, y)`` of a training task (see ``TrainConfig.task``).

    "repeat_copy": :func:`emt.tasks.repeat_copy_batch`; "compose_copy" (kappa must equal s):
    :func:`emt.tasks.linear_task_batch` with ``F = compose_copy(s)``, which draws the inputs
    from the same random stream. Both have shape ``(batch, s + n_out, kappa)``.
    """
    if task == "repeat_copy":
        return repeat_copy_batch(batch, s, kappa, n_out, rng, encoding)
    if task == "compose_copy":
        if kappa != s:
            raise ValueError(f"compose_copy needs kappa == s, got s={s}, kappa={kappa}")
        return linear_task_batch(compose_copy(s), batch, n_out, rng, encoding)
    raise ValueError(f"task must be one of {_TASKS}, got {task!r}")


# --------------------------------------------------------------------------------------------
# Model and simulation
# --------------------------------------------------------------------------------------------


class ElmanRNN(torch.nn.Module):
    """Elman RNN of the paper's Eq. 6 (chapter "Training the Elman RNN").

    h(t+1) = tanh(W_hh h(t) + W_uh u(t)) [+ b_h], y(t) = W_r h(t+1) [+ b_r], h(0) = 0. The
    recurrence is torch's fused ``torch.nn.RNN`` (tanh); ``forward(u)`` takes u of shape
    (batch, T, kappa) and returns ``(y, h)`` with y of shape (batch, T, kappa) and h of shape
    (batch, T, hidden), where ``h[:, k]`` is the state after reading ``u[:, k]``.

    ``init="orthogonal"`` draws W_hh as a random orthogonal matrix, ``"pytorch"`` keeps torch's
    uniform(-1/sqrt(hidden), 1/sqrt(hidden)); W_uh and W_r are always uniform on that interval
    and biases start at zero. ``seed`` makes the initial weights reproducible without touching
    torch's global random state.
    """

    def __init__(
        self,
        kappa: int,
        hidden: int,
        bias: bool = False,
        init: str = "orthogonal",
        seed: int | None = None,
    ) -> None:
        _positive_int("kappa", kappa)
        _positive_int("hidden", hidden)
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        super().__init__()
        self.kappa, self.hidden, self.bias = int(kappa), int(hidden), bool(bias)
        with torch.random.fork_rng(
            devices=[]
        ):  # torch's own initialisation must not move the global RNG
            self.rnn = torch.nn.RNN(
                kappa, hidden, num_layers=1, nonlinearity="tanh", bias=bias, batch_first=True
            )
            self.readout = torch.nn.Linear(hidden, kappa, bias=bias)
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        bound = 1.0 / math.sqrt(hidden)
        with torch.no_grad():
            if init == "orthogonal":
                torch.nn.init.orthogonal_(self.rnn.weight_hh_l0, generator=gen)
            else:
                self.rnn.weight_hh_l0.uniform_(-bound, bound, generator=gen)
            self.rnn.weight_ih_l0.uniform_(-bound, bound, generator=gen)
            self.readout.weight.uniform_(-bound, bound, generator=gen)
            if bias:
                self.rnn.bias_ih_l0.zero_()
                self.rnn.bias_hh_l0.zero_()
                self.readout.bias.zero_()

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if u.dim() != 3 or u.shape[-1] != self.kappa:
            raise ValueError(f"u must have shape (batch, T, {self.kappa}), got {tuple(u.shape)}")
        h, _ = self.rnn(u)
        return self.readout(h), h

    def weights(self) -> dict[str, np.ndarray]:
        """W_hh (hidden x hidden), W_uh (hidden x kappa), W_r (kappa x hidden) [, b_h, b_r] as float64."""

        def a(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().double().numpy().copy()

        w = {
            "W_hh": a(self.rnn.weight_hh_l0),
            "W_uh": a(self.rnn.weight_ih_l0),
            "W_r": a(self.readout.weight),
        }
        if self.bias:
            w["b_h"] = a(self.rnn.bias_ih_l0 + self.rnn.bias_hh_l0)
            w["b_r"] = a(self.readout.bias)
        return w


#: The numpy forward pass, re-exported: the one implementation lives in :mod:`emt.elman`.
simulate = elman.simulate


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def evaluate(
    net: Any,
    n_seq: int = 1000,
    n_periods: int = 3,
    rng: np.random.Generator | int | None = None,
    *,
    s: int | None = None,
    long_steps: int = 200,
    encoding: str | None = None,
    task: str | None = None,
) -> dict[str, Any]:
    """Accuracy on fresh repeat-copy sequences (chapter "Training the Elman RNN"; paper Sec. 7).

    ``net`` is a :class:`Trained` (then s comes from its configuration), an :class:`ElmanRNN`
    or a weights dict. ``rng`` is a numpy Generator or a seed (default :data:`EVAL_SEED`). The
    network is run in float64 (:func:`simulate`) on ``n_seq`` sequences with s input steps and
    max(n_periods * s, long_steps) output steps, rounded up to whole periods; a bit is correct when
    the output has the sign of the target written in {-1, +1}.

    ``encoding`` is how the inputs are drawn: "pm1" (bits in {-1, +1}) or "01" (bits in {0, 1},
    for networks trained with ``TrainConfig(encoding="01")``, whose outputs are logits); it comes
    from the configuration of a :class:`Trained` and defaults to "pm1" otherwise. The judgement
    is the same for both (sign of the output against the target in {-1, +1}), so accuracies of
    networks trained with either encoding and either loss are comparable.

    ``task`` ("repeat_copy" or "compose_copy", see ``TrainConfig.task``) comes from the
    configuration of a :class:`Trained` and defaults to "repeat_copy" otherwise; for compose copy
    the targets are the task's continuation (:func:`task_batch`), judged by the same rule, and
    "periods" are still blocks of s output steps.

    ``s`` defaults to the paper's 16 for a model or weights dict. Returns a dict with ``n_seq``,
    ``n_periods``, ``s``, ``kappa``, ``long_steps`` and: ``sequence_accuracy`` (fraction of
    sequences with every bit of every output step correct over the first ``n_periods`` output
    periods: the criterion is that this is 1),
    ``bit_accuracy`` (same steps, per bit), ``long_bit_accuracy`` and ``long_sequence_accuracy``
    (over the first ``long_steps`` output steps), ``period_bit_accuracy`` and
    ``period_sequence_accuracy`` (arrays, one entry per output period), ``echo_bit_accuracy``
    (the input phase, where the target is the input just read), ``min_margin_per_period``
    (smallest y * target per output period), and ``criterion`` (bool).
    """
    if isinstance(net, Trained):
        if s is not None and s != net.config.s:
            raise ValueError(f"s={s} contradicts the network's configuration (s={net.config.s})")
        s = net.config.s
        if encoding is not None and encoding != net.config.encoding:
            raise ValueError(
                f"encoding={encoding!r} contradicts the network's configuration "
                f"(encoding={net.config.encoding!r})"
            )
        encoding = net.config.encoding
        if task is not None and task != net.config.task:
            raise ValueError(
                f"task={task!r} contradicts the network's configuration (task={net.config.task!r})"
            )
        task = net.config.task
        weights = net.weights()
    elif isinstance(net, ElmanRNN):
        weights = net.weights()
    else:
        weights = elman.check_weights(net)
    s = 16 if s is None else s
    encoding = "pm1" if encoding is None else encoding
    task = "repeat_copy" if task is None else task
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
    if encoding not in _ENCODINGS:
        raise ValueError(f"encoding must be one of {_ENCODINGS}, got {encoding!r}")
    _positive_int("s", s)
    _positive_int("n_seq", n_seq)
    _positive_int("n_periods", n_periods)
    _positive_int("long_steps", long_steps)
    if rng is None:
        rng = np.random.default_rng(EVAL_SEED)
    elif not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    kappa = weights["W_uh"].shape[1]
    n_total = max(n_periods, math.ceil(long_steps / s))
    u, target = task_batch(task, n_seq, s, kappa, n_total * s, rng, encoding)
    if encoding == "01":
        target = 2 * target - 1
    _, y = simulate(weights, u)
    margin = y * target
    correct = margin > 0
    out = correct[:, s:]  # (n_seq, n_total * s, kappa)
    first = out[:, : n_periods * s]
    long = out[:, :long_steps]
    per = out.reshape(n_seq, n_total, s, kappa)
    seq_acc = float(first.all(axis=(1, 2)).mean())
    return {
        "n_seq": n_seq,
        "n_periods": n_periods,
        "s": s,
        "kappa": kappa,
        "long_steps": long_steps,
        "encoding": encoding,
        "task": task,
        "sequence_accuracy": seq_acc,
        "bit_accuracy": float(first.mean()),
        "long_bit_accuracy": float(long.mean()),
        "long_sequence_accuracy": float(long.all(axis=(1, 2)).mean()),
        "period_bit_accuracy": per.mean(axis=(0, 2, 3)),
        "period_sequence_accuracy": per.all(axis=(2, 3)).mean(axis=0),
        "echo_bit_accuracy": float(correct[:, :s].mean()),
        "min_margin_per_period": margin[:, s:]
        .reshape(n_seq, n_total, s, kappa)
        .min(axis=(0, 2, 3)),
        "criterion": seq_acc == 1.0,
    }


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


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
        model = ElmanRNN(c.kappa, c.hidden, bias=c.bias, init=c.init, seed=c.seed)
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


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``cache_dir`` if given, else ``$EMT_CACHE_DIR``, else ``.cache/emt``
    under the repository root when the package sits in its repository, else ``~/.cache/emt``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("EMT_CACHE_DIR")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "book").is_dir():
        return root / ".cache" / "emt"
    return Path.home() / ".cache" / "emt"


def _save(trained: Trained, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT_VERSION,
        "key": trained.config.key(),
        "config": json.dumps(trained.config.as_dict(), sort_keys=True),
        "state": {k: v.detach().cpu() for k, v in trained.model.state_dict().items()},
        "history": trained.history,
        "meta": trained.meta,
    }
    _io.atomic_write(path, lambda f: torch.save(payload, f))


def _load(path: Path, config: TrainConfig) -> Trained | None:
    """The checkpoint at ``path`` if it is intact and belongs to ``config``.

    Otherwise warn and return None.
    """

    def reject(why: str) -> None:
        warnings.warn(
            f"emt.rnn: cache file {path} {why}; it is ignored and the network is retrained",
            CacheWarning,
            stacklevel=3,
        )

    try:
        payload = _io.load_torch(path)
    except _io.UnreadableFile as exc:  # truncated, corrupt, not a torch file, foreign objects
        reject(f"cannot be read ({exc})")
        return None
    if (
        not isinstance(payload, dict)
        or not {"format", "key", "config", "state", "history", "meta"} <= payload.keys()
    ):
        reject("is not an emt.rnn checkpoint (missing fields)")
        return None
    if payload["format"] != FORMAT_VERSION:
        reject(f"has format {payload['format']!r}, expected {FORMAT_VERSION}")
        return None
    if payload["key"] != config.key() or payload["config"] != json.dumps(
        config.as_dict(), sort_keys=True
    ):
        reject(
            f"belongs to another configuration (stored {payload['config']}, key {payload['key']!r}; "
            f"wanted key {config.key()!r})"
        )
        return None
    state, history, meta = payload["state"], payload["history"], payload["meta"]
    reference = ElmanRNN(config.kappa, config.hidden, bias=config.bias, seed=0).state_dict()
    if (
        not isinstance(state, dict)
        or state.keys() != reference.keys()
        or any(
            not isinstance(state[k], torch.Tensor) or state[k].shape != reference[k].shape
            for k in reference
        )
    ):
        reject("holds weights of the wrong names or shapes")
        return None
    if any(not torch.isfinite(v).all() for v in state.values()):
        reject("holds non-finite weights")
        return None
    if (
        not isinstance(history, dict)
        or any(not isinstance(history.get(k), list) for k in _HISTORY_KEYS + _VAL_KEYS)
        or len({len(history[k]) for k in _HISTORY_KEYS}) != 1
        or len({len(history[k]) for k in _VAL_KEYS}) != 1
    ):
        reject("holds a malformed training history")
        return None
    if not isinstance(meta, dict) or not {"solved", "steps", "wall_seconds"} <= meta.keys():
        reject("holds malformed metadata")
        return None
    return Trained(config, state, history, meta, path=path, from_cache=True)


def get_trained(
    config: TrainConfig = TrainConfig(),
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Trained:
    """A trained network for ``config``: from the cache if a valid checkpoint exists, else trained and stored.

    Chapter "Training the Elman RNN". The checkpoint (weights, history, configuration) lives in
    :func:`resolve_cache_dir` under :meth:`TrainConfig.filename`, which contains the hash of the
    whole configuration. It is written atomically (temporary file, then ``os.replace``) and read
    with ``torch.load(weights_only=True)``; an unreadable, truncated or mismatched file raises a
    :class:`CacheWarning` and is replaced by a freshly trained network, never used.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    path = resolve_cache_dir(cache_dir) / config.filename()
    if path.exists():
        trained = _load(path, config)
        if trained is not None:
            return trained
    trained = train(config, progress=progress)
    _save(trained, path)
    trained.path = path
    return trained
