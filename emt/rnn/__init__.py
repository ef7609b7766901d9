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
or ``~/.cache/emt``. See :func:`resolve_cache_dir`. Long runs can be resumed: with
``checkpoint_every`` (or ``$EMT_CHECKPOINT_EVERY``) the training state is saved as it goes and a
killed run continues where it stopped (:func:`get_trained`, :func:`load_partial`).

The package: :mod:`emt.rnn.config` (the recipe), :mod:`emt.rnn.model` (the network),
:mod:`emt.rnn.train` (training), :mod:`emt.rnn.evaluate` (accuracy) and :mod:`emt.rnn.cache`
(checkpoints). Every public name is importable from ``emt.rnn``.
"""

from __future__ import annotations

from emt.rnn.cache import (
    CacheWarning,
    checkpoint_interval,
    get_trained,
    partial_path,
    resolve_cache_dir,
)
from emt.rnn.config import (
    FORMAT_VERSION,
    PRESETS,
    CriterionWarning,
    TrainConfig,
    task_batch,
)
from emt.rnn.evaluate import (
    EVAL_SEED,
    evaluate,
)
from emt.rnn.model import (
    ElmanRNN,
    engine_gradient_gap,
    simulate,
)
from emt.rnn.train import (
    ResumeWarning,
    Trained,
    load_partial,
    train,
)

__all__ = [
    "FORMAT_VERSION",
    "CriterionWarning",
    "TrainConfig",
    "PRESETS",
    "task_batch",
    "ElmanRNN",
    "engine_gradient_gap",
    "simulate",
    "EVAL_SEED",
    "evaluate",
    "Trained",
    "train",
    "ResumeWarning",
    "load_partial",
    "CacheWarning",
    "resolve_cache_dir",
    "get_trained",
    "checkpoint_interval",
    "partial_path",
]
