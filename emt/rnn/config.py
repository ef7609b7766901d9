"""The training recipe as data: :class:`TrainConfig`, and the batches it draws.

Chapter "Training the Elman RNN" (book/training.md); paper Sec. 5.1 (Eq. 5) and Sec. 7.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from emt._validate import positive_int as _positive_int
from emt.tasks import compose_copy, linear_task_batch, repeat_copy_batch

#: Version of the checkpoint format; it enters the cache key, so a change invalidates old files.
FORMAT_VERSION = 1

_INITS = ("orthogonal", "pytorch")
_ENCODINGS = ("pm1", "01")
_HORIZON_UNITS = ("periods", "steps")
_ADVANCE_ON = ("sequence", "bit")
_TASKS = ("repeat_copy", "compose_copy")
_ENGINES = ("rnn", "bptt")

#: Fields added to :class:`TrainConfig` after its first release, with their defaults. A field at
#: its default is left out of :meth:`TrainConfig.as_dict` and so of :meth:`TrainConfig.key`: every
#: configuration that existed before keeps its dictionary, its cache key and its checkpoint.
_LATER_FIELDS: dict[str, Any] = {
    "encoding": "pm1",
    "s_curriculum": (),
    "horizon_unit": "periods",
    "advance_on": "sequence",
    "task": "repeat_copy",
    "snapshot_every": 0,
    "engine": "rnn",
}


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
    * ``snapshot_every``: 0 (default) or a number of steps: the weights are recorded before the
      first step, every ``snapshot_every`` steps and after the last one
      (:meth:`emt.rnn.Trained.snapshots`; chapter "The circuit forming"). Recording changes
      nothing in the training; the field is part of the key only so that the cache file holds
      the snapshots.
    * ``engine``: "rnn" (default): the recurrence is torch's ``nn.RNN``; "bptt": a hand-written
      forward and backward pass (:class:`emt.rnn.model.ElmanRNN`, section ``sec-tr-engine`` of
      chapter "Training the Elman RNN"), the same gradient to rounding in fewer operations per
      step. Rounding differs, so the trained weights differ; the field is part of the key.

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
    snapshot_every: int = 0
    engine: str = "rnn"

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
        if (
            isinstance(self.snapshot_every, bool)
            or not isinstance(self.snapshot_every, (int, np.integer))
            or self.snapshot_every < 0
        ):
            raise ValueError(
                f"snapshot_every must be a non-negative integer (0: no snapshots), got "
                f"{self.snapshot_every!r}"
            )
        if self.engine not in _ENGINES:
            raise ValueError(f"engine must be one of {_ENGINES}, got {self.engine!r}")
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
        "standard" is training as people usually do it (chapter "The circuit forming"): torch's
        default initialisation with biases, bits in {0, 1} and binary cross-entropy, Adam at
        2e-3, batch 64, gradient norm clipped at 1, a curriculum over the length (s // 4, s // 2,
        then s items, the shorter ones dropped below 2) and then over the horizon (2, 4, 8
        periods), a stage ending when 99% of a batch is exact; it is solved when 1000 held-out
        sequences are exact over 3 periods (``long_steps`` = 3 s, so the long-horizon part of
        the book's criterion asks nothing more); 40,000 steps at most.
        Raises ValueError for an unknown name.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; known presets are {sorted(PRESETS)}")
        preset = dict(PRESETS[name])
        if name == "standard":
            s = fields.get("s", cls.s)
            val_periods = fields.get("val_periods", cls.val_periods)
            lengths = sorted({n for n in (s // 4, s // 2, s) if n >= 2} | {s})
            preset["s_curriculum"] = tuple(lengths) if len(lengths) > 1 else ()
            preset["long_steps"] = val_periods * s
        return cls(**{**preset, **fields})

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
    # training as people usually do it; s_curriculum and long_steps depend on s (preset())
    "standard": {
        "init": "pytorch",
        "bias": True,
        "encoding": "01",
        "stage_periods": (2, 4, 8),
        "stage_batch": (64, 64, 64),
        "stage_lr": (2e-3, 2e-3, 2e-3),
        "final_lr_decay": 1.0,
        "advance_accuracy": 0.99,
        "long_bit_accuracy": 1.0,
        "max_steps": 40000,
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


def stored_mismatch(payload, config: TrainConfig, fields: set[str], kind: str) -> str | None:
    """Why a payload loaded from disk is not a ``kind`` of ``config``; None if it is one.

    Shared by the cache (:func:`emt.rnn.cache._load`, ``kind`` "checkpoint") and resumable
    training (:func:`emt.rnn.train.load_partial`, "partial checkpoint"): the payload must be a
    dict with ``fields``, of this :data:`FORMAT_VERSION`, and of ``config`` exactly (its key
    and its full dictionary).
    """
    if not isinstance(payload, dict) or not fields <= payload.keys():
        return f"is not an emt.rnn {kind} (missing fields)"
    if payload["format"] != FORMAT_VERSION:
        return f"has format {payload['format']!r}, expected {FORMAT_VERSION}"
    if payload["key"] != config.key() or payload["config"] != json.dumps(
        config.as_dict(), sort_keys=True
    ):
        return (
            f"belongs to another configuration (stored key {payload['key']!r}, wanted "
            f"{config.key()!r})"
        )
    return None
