"""How well a network recalls: accuracies on fresh sequences, over one and many periods.

Chapter "Training the Elman RNN" (book/training.md); paper Sec. 7.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from emt import elman
from emt._validate import positive_int as _positive_int
from emt.rnn.config import _ENCODINGS, _TASKS, task_batch
from emt.rnn.model import ElmanRNN, simulate
from emt.rnn.train import Trained

#: Default seed of :func:`evaluate`. Training draws its data from ``np.random.default_rng([seed, 1])``
#: and its validation set from ``np.random.default_rng([seed, 2])`` (two-word seeds), so sequences
#: drawn from this single-integer seed are fresh for every configuration.
EVAL_SEED = 20230


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
