"""The checkpoint cache: one file per configuration, written atomically, checked when read.

Chapter "Training the Elman RNN" (book/training.md). The cache directory is, in this order, the
``cache_dir`` argument, the environment variable ``EMT_CACHE_DIR``, ``.cache/emt`` under the
repository root (when the package sits in its repository; the folder is gitignored), or
``~/.cache/emt`` (:func:`resolve_cache_dir`).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch

from emt import _io
from emt.rnn.config import FORMAT_VERSION, TrainConfig, stored_mismatch
from emt.rnn.model import ElmanRNN
from emt.rnn.train import _HISTORY_KEYS, _VAL_KEYS, Trained, checkpoint_interval, train


class CacheWarning(UserWarning):
    """A cache file could not be used (unreadable, truncated, or from another configuration)."""


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``cache_dir`` if given, else ``$EMT_CACHE_DIR``, else ``.cache/emt``
    under the repository root when the package sits in its repository, else ``~/.cache/emt``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("EMT_CACHE_DIR")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[2]  # emt/rnn/cache.py -> the repository
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
    why = stored_mismatch(
        payload, config, {"format", "key", "config", "state", "history", "meta"}, "checkpoint"
    )
    if why is not None:
        reject(why)
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


def partial_path(config: TrainConfig, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`get_trained` keeps ``config``'s partial checkpoint while it trains."""
    name = config.filename()
    return resolve_cache_dir(cache_dir) / (name[: -len(".pt")] + ".partial.pt")


def get_trained(
    config: TrainConfig = TrainConfig(),
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    checkpoint_every: int | None = None,
) -> Trained:
    """A trained network for ``config``: from the cache if a valid checkpoint exists, else trained and stored.

    Chapter "Training the Elman RNN". The checkpoint (weights, history, configuration) lives in
    :func:`resolve_cache_dir` under :meth:`TrainConfig.filename`, which contains the hash of the
    whole configuration. It is written atomically (temporary file, then ``os.replace``) and read
    with ``torch.load(weights_only=True)``; an unreadable, truncated or mismatched file raises a
    :class:`CacheWarning` and is replaced by a freshly trained network, never used.

    Long runs: with ``checkpoint_every`` > 0 (default ``$EMT_CHECKPOINT_EVERY``, see
    :func:`checkpoint_interval`) the training state is saved every that many steps to
    :func:`partial_path`; a run that is killed (a Slurm time limit, a closed laptop) resumes
    there on the next call, with the same result as an uninterrupted run, and the partial file
    is removed once the network is stored. A partial file is resumed from whenever it exists.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    every = checkpoint_interval(checkpoint_every)
    path = resolve_cache_dir(cache_dir) / config.filename()
    if path.exists():
        trained = _load(path, config)
        if trained is not None:
            return trained
    partial = partial_path(config, cache_dir)
    trained = train(config, progress=progress, checkpoint=partial, checkpoint_every=every)
    _save(trained, path)
    partial.unlink(missing_ok=True)
    trained.path = path
    return trained
