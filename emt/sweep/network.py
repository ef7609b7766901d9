"""One network of a sweep: train it (or load it from the cache), measure it, one table row.

Chapter "How general is the circuit?", sections "The sweep" (``sec-un-sweep``) and "What the
metrics can tell apart" (``sec-un-metrics``); paper Sec. 7. :func:`run_network` is the job that
every backend runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from emt import analysis, metrics, nulls
from emt.rnn import (
    CriterionWarning,
    TrainConfig,
    evaluate,
    get_trained,
)
from emt.sweep.grid import CONFIG_FIELDS

#: Version of the metrics computed by :func:`run_network`; stored in every row. A results table
#: made by another version is refused rather than mixed (write to a new file instead).
#: Version 2: every Figure 3 metric of :func:`emt.metrics.figure3` (alpha = 0, 1/2, 1,
#: cross-talk, read-before-write) for the network and its null models.
#: Version 3: the ``top__`` columns (:data:`TOP_COLUMNS`), Algorithm 1 keeping the s*kappa
#: largest eigenvalues when fewer than s*kappa reach modulus 1.
METRICS_VERSION = 3


#: Columns that identify a row and where it came from, before the configuration's fields.
ID_COLUMNS = ("config_hash", "grid_hash", "grid_file", "point", "point_name")
#: Columns of :func:`table_cells` that hold numbers (NaN when the analysis fails): the keys
#: of :func:`emt.metrics.figure3` (:data:`emt.metrics.METRIC_KEYS`).
ANALYSIS_COLUMNS: tuple[str, ...] = metrics.METRIC_KEYS
#: The same numbers and the error text for each null model of :func:`emt.nulls.null_models`.
NULL_COLUMNS: tuple[str, ...] = tuple(
    f"null_{model}__{key}" for model in nulls.NULL_MODELS for key in (*metrics.METRIC_KEYS, "error")
)
#: Metrics of the trained network with Algorithm 1 keeping the s*kappa largest-modulus eigenvalues
#: (``select="auto"``, the cut of :func:`emt.analysis.memory_cut`; the column ``top_threshold`` is
#: min(1, modulus of the (s*kappa)-th largest)): where at least s*kappa eigenvalues reach modulus 1
#: they equal the plain columns; where fewer do, Algorithm 1 as printed cannot run and these say
#: what the analysis finds all the same. Each with the prefix ``top__``.
TOP_KEYS = (
    "block_error_a05",
    "wrap_error_a1",
    "row_wrap_error_a0",
    "defect_backward_mean",
    "coupling_in",
    "rnd_acc_out",
    "rnd_cos_mean",
    "crosstalk_match",
    "read_before_write",
    "error",
)
TOP_COLUMNS = ("top_threshold", *(f"top__{k}" for k in TOP_KEYS))
#: Accuracies of :func:`emt.rnn.evaluate` in the table, each with the prefix ``eval_`` (so that
#: ``eval_long_bit_accuracy`` does not collide with the TrainConfig field ``long_bit_accuracy``).
EVAL_KEYS = (
    "sequence_accuracy",
    "bit_accuracy",
    "long_sequence_accuracy",
    "long_bit_accuracy",
    "echo_bit_accuracy",
)
#: Metric columns written by :func:`run_network`, in table order.
METRIC_COLUMNS = (
    "solved",
    "steps",
    "wall_seconds",
    "from_cache",
    *(f"eval_{k}" for k in EVAL_KEYS),
    "eval_criterion",
    "spectrum_counts",
    *ANALYSIS_COLUMNS,
    "analysis_error",
    *TOP_COLUMNS,
    *NULL_COLUMNS,
    "analysis_seconds",
    "metrics_version",
    "torch",
    "host",
    "job_seconds",
    "finished_at",
)


def _config_cell(value: Any) -> Any:
    return json.dumps(list(value)) if isinstance(value, (tuple, list)) else value


def config_columns(config: TrainConfig) -> dict[str, Any]:
    """The configuration's fields as table cells (sequences become JSON lists)."""
    return {k: _config_cell(v) for k, v in config.as_dict(full=True).items()}


def config_from_row(row: Mapping[str, Any]) -> TrainConfig:
    """Rebuild the TrainConfig of a row of the results table (inverse of :func:`config_columns`).

    A column that the row lacks, or leaves empty, takes the field's default: tables written
    before a field existed (``task``, added for the chapter "Compose copy, trained") stay
    readable."""
    fields = {}
    for name in CONFIG_FIELDS:
        value = row.get(name) if hasattr(row, "get") else row[name]
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        default = getattr(TrainConfig, name)
        if isinstance(default, tuple):
            value = tuple(json.loads(value)) if isinstance(value, str) else tuple(value)
        elif isinstance(default, bool):
            value = value if isinstance(value, bool) else str(value) == "True"
        elif isinstance(default, int):
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        fields[name] = value
    return TrainConfig(**fields)


def table_cells(
    weights: Mapping[str, np.ndarray], s: int, seed: int = 0, *, nulls_too: bool = False
) -> dict[str, Any]:
    """The Figure 3 numbers of one network, as table cells (chapter "How general is the circuit?").

    Paper Sec. 6 (Algorithm 1) and Sec. 7 (Figure 3A-D). ``weights`` holds ``W_hh``, ``W_uh``,
    ``W_r`` (numpy). The numbers are those of :func:`emt.metrics.figure3` (spectrum, memory
    block at alpha = 0, 1/2, 1 with its forced and free parts, shift defects, couplings,
    decoding, cross-talk, read-before-write; probe sequences seeded by ``seed``), in the columns
    :data:`ANALYSIS_COLUMNS`, plus ``spectrum_counts`` (JSON list: how many of the s*kappa
    largest eigenvalues point in each of the s root-of-unity directions). Where Algorithm 1
    cannot run (e.g. fewer than s*kappa eigenvalues of modulus >= 1) the affected cells are NaN
    and the reason is in ``analysis_error`` ("" when there is none); the :data:`TOP_COLUMNS`
    then hold the analysis with ``select="auto"`` (:func:`emt.analysis.memory_cut`: the s*kappa
    largest eigenvalues are kept), and ``top_threshold`` is the modulus of the (s*kappa)-th
    largest eigenvalue, or 1 where at least s*kappa reach 1. With ``nulls_too`` the same
    numbers of each null model of :func:`emt.nulls.null_models` follow, in :data:`NULL_COLUMNS`
    (``null_<model>__<metric>``, the reason of a failure in ``null_<model>__error``).
    """
    w = {k: np.asarray(v, dtype=float) for k, v in weights.items()}
    results = nulls.compare(w, s, seed, nulls=nulls_too)
    trained = results.pop("trained")
    kappa = w["W_uh"].shape[1]
    spec = analysis.spectrum_report(w["W_hh"], s, s * kappa)
    out: dict[str, Any] = {"spectrum_counts": json.dumps([int(c) for c in spec.counts])}
    out.update({k: trained[k] for k in ANALYSIS_COLUMNS})
    out["analysis_error"] = trained["error"]
    kth = float(np.abs(spec.selected[-1]))  # the (s*kappa)-th largest modulus
    reach = kth >= metrics.THRESHOLD - analysis.EIG_TOL
    top = trained if reach else metrics.figure3(w, s, seed=seed, select="auto").row()
    out["top_threshold"] = metrics.THRESHOLD if reach else kth
    out.update({f"top__{k}": top[k] for k in TOP_KEYS})
    for model, row in results.items():
        out.update({f"null_{model}__{k}": v for k, v in row.items()})
    return out


def run_network(config: Mapping[str, Any], cache_dir: str | os.PathLike | None = None) -> dict:
    """Train (or load) one network and measure it: one row of the results table.

    Chapter "How general is the circuit?"; paper Sec. 7. This one function is the job of every
    backend. ``config`` is a TrainConfig or its fields as a dict (:meth:`TrainConfig.as_dict`).
    The network comes from :func:`emt.rnn.get_trained` (the checkpoint cache in ``cache_dir``,
    default :func:`emt.rnn.resolve_cache_dir`); it is measured by :func:`emt.rnn.evaluate` (1000
    fresh sequences, 3 output periods, 200 output steps) and by :func:`table_cells`, for
    the network and its null models (:mod:`emt.nulls`).

    Returns ``config_hash``, the configuration's fields and the metrics: ``solved``, ``steps``
    and ``wall_seconds`` of the training, ``from_cache``; the accuracies of evaluate
    (``eval_sequence_accuracy``, ``eval_bit_accuracy``, ``eval_long_sequence_accuracy``,
    ``eval_long_bit_accuracy``, ``eval_echo_bit_accuracy``, ``eval_criterion``); the analysis
    numbers of :func:`table_cells` with its null models, and ``analysis_seconds``, the time
    they took; ``metrics_version``, ``torch``, ``host``, ``job_seconds`` (time spent here) and
    ``finished_at`` (UTC, ISO 8601).
    """
    t0 = time.perf_counter()
    cfg = config if isinstance(config, TrainConfig) else TrainConfig(**dict(config))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriterionWarning)  # recorded in the column "solved"
        trained = get_trained(cfg, cache_dir=cache_dir, progress=False)
    ev = evaluate(trained)
    row: dict[str, Any] = {"config_hash": cfg.key(), **config_columns(cfg)}
    row.update(
        solved=bool(trained.meta["solved"]),
        steps=int(trained.meta["steps"]),
        wall_seconds=float(trained.meta["wall_seconds"]),
        from_cache=bool(trained.from_cache),
        **{f"eval_{k}": float(ev[k]) for k in EVAL_KEYS},
        eval_criterion=bool(ev["criterion"]),
    )
    t1 = time.perf_counter()
    row.update(table_cells(trained.weights(), cfg.s, seed=cfg.seed, nulls_too=True))
    row["analysis_seconds"] = time.perf_counter() - t1
    import torch

    row.update(
        metrics_version=METRICS_VERSION,
        torch=str(torch.__version__),
        host=socket.gethostname(),
        job_seconds=time.perf_counter() - t0,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return row


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """torch (and, where it can, BLAS) on one thread while measuring; restored afterwards."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _run_safely(config: dict, cache_dir: str | None) -> tuple[str, dict | None, str]:
    """(config hash, row or None, error text): a failure of one network does not stop the sweep."""
    key = TrainConfig(**config).key()
    try:
        with _one_thread():
            return key, run_network(config, cache_dir=cache_dir), ""
    except Exception:  # reported per network, the sweep goes on
        return key, None, traceback.format_exc()


def run_chunk(
    configs: Sequence[dict], cache_dir: str | None = None
) -> list[tuple[str, dict | None, str]]:
    """Run several networks one after the other: the work of one Slurm array task."""
    return [_run_safely(c, cache_dir) for c in configs]
