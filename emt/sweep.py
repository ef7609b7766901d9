"""Sweeps over trained networks: grid files, a local and a Slurm backend, a resumable results table.

Chapter "How general is the circuit?"; paper Sec. 7, where the analysis of one network
is said to give "similar results for any seed and sequence size". A sweep trains one network per
configuration of a grid (through the checkpoint cache of :func:`emt.rnn.get_trained`), measures
each with the numbers of Figure 3 and each of its null models (:func:`run_network`,
:mod:`emt.nulls`), and collects one row per network in a
table that a rerun completes instead of recomputing. The command line is ``emt sweep``
(:mod:`emt.cli`).

Grid files
----------
A grid file is TOML::

    description = "what this sweep is for"   # optional
    seeds = [0, 1, 2]                        # the seeds of every point (unless a point has its own)

    [defaults]                               # optional: TrainConfig fields shared by all points
    max_steps = 4000

    [[point]]                                # one table per configuration
    s = 16
    kappa = 5
    hidden = 128

    [[point]]
    name = "pytorch init"                    # optional label, copied to the column point_name
    s = 16
    kappa = 5
    hidden = 128
    init = "pytorch"
    seeds = [0, 1]                           # optional: replaces the top-level seeds

A point may set any field of :class:`emt.rnn.TrainConfig` except ``seed`` (s, kappa, hidden, bias
and the training recipe: init, stage_periods, stage_batch, stage_lr, clip, max_steps, ...); the
values of ``[defaults]`` fill in what it leaves out, and TrainConfig's own defaults the rest.
Every (point, seed) pair is one configuration. :func:`load_grid` rejects, before anything is
trained, with a ValueError that names the point: an unknown key or field, a value TrainConfig
refuses, ``s * kappa > hidden`` (fewer hidden units than the variable memories need), a seed that
is not a non-negative integer, repeated seeds, and two entries that describe the same network.

The results table
-----------------
A CSV file (pandas) with one row per network: ``config_hash`` (:meth:`TrainConfig.key`),
``grid_hash`` (SHA-256 of the grid file's bytes, first 16 hex digits), ``grid_file``, ``point``
(0-based index of the [[point]] table), ``point_name``, every TrainConfig field (sequences as JSON
lists), and the metrics of :func:`run_network`: those of the trained network
(:data:`ANALYSIS_COLUMNS`, with ``spectrum_counts`` and ``analysis_error``) and the same metrics
of every null model of :data:`emt.nulls.NULL_MODELS`, prefixed with ``null_<model>__``
(:data:`NULL_COLUMNS`). A configuration whose ``config_hash`` is already
in the table is skipped, so a killed sweep loses at most the networks in flight and a rerun
completes it without duplicate rows. Rows keep the ``grid_hash`` of the grid file that made them:
after an edit of the grid (more seeds, another point) a rerun adds only the new networks, and
rows of configurations no longer in the grid stay in the table. The table is rewritten after
every finished network, into a temporary file in the same folder that then replaces it
(``os.replace``), so it is never seen half written. A lock file (``.NAME.lock`` beside the
table) keeps two sweeps from writing the same table.

Backends
--------
``local``: joblib's loky processes, one torch and BLAS thread each, ``n_jobs`` of them (default:
the CPUs this process may use). ``slurm``: submitit job arrays, ``per_task`` networks per array
task and at most ``slurm_array_parallelism`` tasks at once; the driver polls for finished tasks
and writes their rows. Both run :func:`run_network` and give the same rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import getpass
import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from emt import _io, _numerics, analysis, metrics, nulls
from emt.rnn import (
    CriterionWarning,
    TrainConfig,
    evaluate,
    get_trained,
    resolve_cache_dir,
)

#: Version of the metrics computed by :func:`run_network`; stored in every row. A results table
#: made by another version is refused rather than mixed (write to a new file instead).
#: Version 2: every Figure 3 metric of :func:`emt.metrics.figure3` (alpha = 0, 1/2, 1,
#: cross-talk, read-before-write) for the network and its null models.
#: Version 3: the ``top__`` columns (:data:`TOP_COLUMNS`), Algorithm 1 keeping the s*kappa
#: largest eigenvalues when fewer than s*kappa reach modulus 1.
METRICS_VERSION = 3

#: Fields of TrainConfig, in their order; ``seed`` comes from the grid's seeds.
CONFIG_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))
POINT_FIELDS = frozenset(CONFIG_FIELDS) - {"seed"}
_TOP_KEYS = frozenset({"description", "seeds", "defaults", "point"})
_POINT_EXTRA = frozenset({"name", "seeds"})

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


class SweepError(RuntimeError):
    """Some networks of a sweep failed; the others are in the table.

    ``failures`` lists (config hash, error message) pairs.
    """

    def __init__(self, failures: list[tuple[str, str]], out: Path) -> None:
        self.failures = failures
        lines = "\n".join(f"  {key}: {msg.strip().splitlines()[-1]}" for key, msg in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        super().__init__(
            f"{len(failures)} network(s) failed and are not in {out}; rerun the sweep to retry "
            f"them:\n{lines}{more}"
        )


class SweepLocked(RuntimeError):
    """Another sweep is writing the same results table."""


# --------------------------------------------------------------------------------------------
# Grid files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One configuration of a grid: the network, the [[point]] it comes from, and its label."""

    config: TrainConfig
    point: int
    point_name: str

    @property
    def key(self) -> str:
        return self.config.key()


@dataclass(frozen=True)
class Grid:
    """A parsed and validated grid file (chapter "How general is the circuit?"; paper Sec. 7)."""

    path: Path | None
    hash: str
    description: str
    entries: tuple[Entry, ...]

    @property
    def configs(self) -> list[TrainConfig]:
        return [e.config for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)


def _check_seeds(seeds: Any, where: str) -> list[int]:
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f"{where}: seeds must be a non-empty list of integers, got {seeds!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"{where}: every seed must be a non-negative integer, got {seed!r}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"{where}: seeds {repeated} appear more than once")
    return list(seeds)


def _check_fields(table: Mapping[str, Any], where: str, extra: frozenset[str]) -> None:
    if "seed" in table:
        raise ValueError(f"{where}: 'seed' is not set here; list the seeds in 'seeds = [...]'")
    unknown = sorted(set(table) - POINT_FIELDS - extra)
    if unknown:
        hint = ""
        if set(unknown) & _TOP_KEYS:
            hint = " (in TOML, top-level keys such as seeds must come before the first [table])"
        raise ValueError(
            f"{where}: unknown field(s) {unknown}; allowed are the TrainConfig fields "
            f"{sorted(POINT_FIELDS)}" + (f" and {sorted(extra)}" if extra else "") + hint
        )


def parse_grid(data: Mapping[str, Any], *, source: str = "grid", file_hash: str = "") -> Grid:
    """Validate a parsed grid (the dict that TOML gives) and expand it into configurations.

    Chapter "How general is the circuit?"; paper Sec. 7. See the module docstring for the format
    and for what is rejected (ValueError naming the point). Nothing is trained here.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: a grid must be a table, got {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValueError(
            f"{source}: unknown top-level key(s) {unknown}; allowed are {sorted(_TOP_KEYS)} "
            "(configuration fields go into [defaults] or [[point]] tables)"
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{source}: description must be a string, got {description!r}")
    top_seeds = _check_seeds(data["seeds"], f"{source}: seeds") if "seeds" in data else None
    defaults = data.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ValueError(f"{source}: [defaults] must be a table, got {defaults!r}")
    _check_fields(defaults, f"{source}: [defaults]", frozenset())
    points = data.get("point")
    if not isinstance(points, list) or not points:
        raise ValueError(f"{source}: the grid needs at least one [[point]] table")

    entries: list[Entry] = []
    seen: dict[str, str] = {}
    for i, point in enumerate(points):
        where = f"{source}: [[point]] #{i}"
        if not isinstance(point, Mapping):
            raise ValueError(f"{where} must be a table, got {point!r}")
        _check_fields(point, where, _POINT_EXTRA)
        name = point.get("name", "")
        if not isinstance(name, str):
            raise ValueError(f"{where}: name must be a string, got {name!r}")
        if "seeds" in point:
            seeds = _check_seeds(point["seeds"], f"{where}: seeds")
        elif top_seeds is not None:
            seeds = top_seeds
        else:
            raise ValueError(
                f"{where} has no seeds: give 'seeds = [...]' at the top or in the point"
            )
        fields = {**defaults, **{k: v for k, v in point.items() if k not in _POINT_EXTRA}}
        s = fields.get("s", TrainConfig.s)
        kappa = fields.get("kappa", TrainConfig.kappa)
        hidden = fields.get("hidden", TrainConfig.hidden)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (s, kappa, hidden)):
            if s * kappa > hidden:
                raise ValueError(
                    f"{where}: s*kappa = {s}*{kappa} = {s * kappa} is larger than hidden = "
                    f"{hidden}; the s variable memories of kappa dimensions need at least s*kappa "
                    "hidden units"
                )
        for seed in seeds:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # any warning of TrainConfig is an error here
                    config = TrainConfig(**fields, seed=seed)
            except (ValueError, TypeError, UserWarning) as exc:
                raise ValueError(f"{where}, seed {seed}: {exc}") from None
            label = f"[[point]] #{i} seed {seed}"
            key = config.key()
            if key in seen:
                raise ValueError(
                    f"{source}: {label} is the same network as {seen[key]} (config hash {key}); "
                    "remove one of them"
                )
            seen[key] = label
            entries.append(Entry(config, i, name))
    return Grid(None, file_hash, description, tuple(entries))


def load_grid(path: str | os.PathLike) -> Grid:
    """Read, validate and expand a grid file (TOML); chapter "How general is the circuit?".

    Raises ValueError for a missing or unreadable file, bad TOML, and everything
    :func:`parse_grid` rejects. The grid's hash is that of the file's bytes.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the grid file {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path} is not a valid TOML file: {exc}") from None
    file_hash = hashlib.sha256(raw).hexdigest()[:16]
    grid = parse_grid(data, source=str(path), file_hash=file_hash)
    return dataclasses.replace(grid, path=path)


# --------------------------------------------------------------------------------------------
# One network
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The results table
# --------------------------------------------------------------------------------------------


def load_results(path: str | os.PathLike):
    """The results table as a pandas DataFrame, hash and text columns as strings.

    Chapter "How general is the circuit?"; :func:`config_from_row` rebuilds a row's TrainConfig.
    """
    import pandas as pd

    df = pd.read_csv(
        path,
        dtype={
            "config_hash": str,
            "grid_hash": str,
            "grid_file": str,
            "point_name": str,
            "spectrum_counts": str,
            "analysis_error": str,
            "top__error": str,
            **{f"null_{model}__error": str for model in nulls.NULL_MODELS},
        },
    )
    text = ("grid_file", "point_name", "spectrum_counts", "analysis_error", "top__error")
    errors = [f"null_{model}__error" for model in nulls.NULL_MODELS]
    for column in (*text, *errors):
        if column in df.columns:
            df[column] = df[column].fillna("").astype(str)
    return df.copy()  # one block per dtype: later column additions do not warn


def _read_raw(path: Path):
    """The table with every cell as the text stored, so that old rows are rewritten unchanged."""
    import pandas as pd

    if not path.exists():
        return pd.DataFrame(columns=list(ID_COLUMNS))
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} exists but is not a results table: {exc}") from None
    if "config_hash" not in df.columns:
        raise ValueError(f"{path} exists but is not a results table (no column config_hash)")
    versions = set(df.get("metrics_version", pd.Series(dtype=str))) - {str(METRICS_VERSION)}
    if versions:
        raise ValueError(
            f"{path} holds rows of metrics version {sorted(versions)}, this is version "
            f"{METRICS_VERSION}; write to another file (--out)"
        )
    return df.drop_duplicates("config_hash", keep="first")


def write_table_atomic(df, path: str | os.PathLike) -> None:
    """Write ``df`` as CSV to ``path`` through a temporary file in the same folder and os.replace.

    A reader (or a crash) never sees a half-written table: either the old file or the new one.
    """
    _io.atomic_write(path, lambda f: df.to_csv(f, index=False), text=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.NAME.lock`` beside the table; remove stale temporary files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(f".{path.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SweepLocked(f"another sweep is writing {path} (lock {lock})") from None
        try:  # the holder before us may have removed the file: lock the one that is there
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed sweep
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


class _Table:
    """The results table in memory, written atomically after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.df = _read_raw(path)
        self.done = set(self.df["config_hash"])
        self.changed = False

    def add(self, row: dict) -> None:
        import pandas as pd

        cells = {k: _cell(v) for k, v in row.items()}
        new = pd.DataFrame([cells], columns=list(cells), dtype=str)
        if len(self.df) == 0:
            self.df = new
        else:
            columns = list(self.df.columns) + [c for c in new.columns if c not in self.df.columns]
            self.df = pd.concat([self.df, new], ignore_index=True).reindex(columns=columns)
            self.df = self.df.fillna("")
        self.done.add(row["config_hash"])
        self.changed = True
        write_table_atomic(self.df, self.path)

    def finish(self, order: Sequence[str]) -> None:
        """Sort the rows into the grid's order (others after, as they were) and write."""
        rank = {key: i for i, key in enumerate(order)}
        pos = [rank.get(k, len(rank) + j) for j, k in enumerate(self.df["config_hash"])]
        perm = np.argsort(pos, kind="stable")
        if self.changed or np.any(perm != np.arange(len(perm))):
            self.df = self.df.iloc[perm].reset_index(drop=True)
            write_table_atomic(self.df, self.path)


def _cell(value: Any) -> str:
    """A table cell as text: NaN and None empty, floats with all their digits (repr)."""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    return "" if value is None else str(value)


def _table_order(columns: Iterable[str]) -> list[str]:
    preferred = [*ID_COLUMNS, *CONFIG_FIELDS, *METRIC_COLUMNS]
    columns = list(columns)
    return [c for c in preferred if c in columns] + [c for c in columns if c not in preferred]


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


def machine_type() -> dict[str, str]:
    """CPU model name, architecture, torch version and MKL's pinned path: what training depends on.

    Chapter "How general is the circuit?": training is deterministic on one machine type (same
    CPU model, torch build and thread count), so a results table records the type it was made
    on, and a rerun on the same type must give the same steps (``tests/test_universality_slice.py``).
    """
    import platform

    import torch

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    out = {
        "cpu": model or platform.processor(),
        "machine": platform.machine(),
        "torch": str(torch.__version__),
    }
    branch = _numerics.mkl_branch()
    if branch:  # the MKL path pinned (emt._numerics); tables made before the pin lack it
        out["mkl_cbwr"] = branch
    return out


def default_n_jobs() -> int:
    """The number of CPUs this process may run on (``len(os.sched_getaffinity(0))``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _iter_local(configs: list[dict], n_jobs: int, cache_dir: str) -> Iterator[tuple]:
    if n_jobs == 1 or len(configs) <= 1:
        for c in configs:
            yield _run_safely(c, cache_dir)
        return
    import joblib

    mode = "generator_unordered"
    if tuple(int(x) for x in joblib.__version__.split(".")[:2]) < (1, 4):
        mode = "generator"  # joblib 1.3: results in submission order
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as=mode, batch_size=1)
        yield from parallel(joblib.delayed(_run_safely)(c, cache_dir) for c in configs)


def _squeue_ids() -> set[str] | None:
    """Ids (``123``, ``123_4``) of this user's jobs that Slurm still lists; None if squeue fails."""
    try:
        res = subprocess.run(
            ["squeue", "--noheader", "--array", "--format=%i", f"--user={getpass.getuser()}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    return {line.strip() for line in res.stdout.split() if line.strip()}


def _iter_slurm(
    configs: list[dict],
    cache_dir: str,
    *,
    per_task: int,
    partition: str | None,
    array_parallelism: int,
    timeout_min: int,
    folder: Path,
    poll_s: float,
    slurm_params: Mapping[str, Any] | None,
) -> Iterator[tuple]:
    import submitit

    executor = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm")
    params: dict[str, Any] = {
        "name": "emt-sweep",
        "timeout_min": timeout_min,
        "cpus_per_task": 1,
        "slurm_array_parallelism": array_parallelism,
        "slurm_setup": [
            f"export {v}=1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        ],
    }
    if partition:
        params["slurm_partition"] = partition
    params.update(slurm_params or {})
    executor.update_parameters(**params)
    chunks = [configs[i : i + per_task] for i in range(0, len(configs), per_task)]
    jobs = executor.map_array(run_chunk, chunks, [cache_dir] * len(chunks))
    print(
        f"emt sweep: submitted {len(chunks)} array task(s) as Slurm job "
        f"{jobs[0].job_id.split('_')[0]} (logs in {folder})",
        file=sys.stderr,
    )
    pending = dict(enumerate(jobs))
    missing: dict[int, int] = {}
    try:
        while pending:
            for i, job in list(pending.items()):
                if not _has_result(job):
                    continue
                del pending[i]
                try:
                    results = job.result()
                except Exception as exc:  # the array task failed as a whole
                    msg = f"Slurm job {job.job_id} failed: {exc}"
                    results = [(_key_of(c), None, msg) for c in chunks[i]]
                yield from results
            if not pending:
                break
            listed = _squeue_ids()
            for i, job in list(pending.items()):
                if listed is None or job.job_id in listed or job.job_id.split("_")[0] in listed:
                    missing.pop(i, None)
                    continue
                missing[i] = missing.get(i, 0) + 1
                if missing[i] >= 3 and not _has_result(job):  # left the queue without a result
                    del pending[i]
                    msg = (
                        f"Slurm job {job.job_id} left the queue without a result "
                        f"(see {job.paths.stderr})"
                    )
                    yield from [(_key_of(c), None, msg) for c in chunks[i]]
            time.sleep(poll_s)
    except BaseException:
        for job in pending.values():
            with contextlib.suppress(Exception):
                job.cancel(check=False)
        raise


def _has_result(job) -> bool:
    """Whether a submitit job has written its result file (no sacct: it needs accounting)."""
    folder = job.paths.folder
    with contextlib.suppress(OSError):
        folder.chmod(folder.stat().st_mode)  # refresh a network file system's attribute cache
    return job.paths.result_pickle.exists()


def _key_of(config: dict) -> str:
    return TrainConfig(**config).key()


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def run_sweep(
    grid: Grid | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    backend: str = "local",
    n_jobs: int | None = None,
    limit: int | None = None,
    per_task: int = 1,
    slurm_partition: str | None = None,
    slurm_array_parallelism: int = 16,
    slurm_timeout_min: int = 240,
    slurm_folder: str | os.PathLike | None = None,
    slurm_params: Mapping[str, Any] | None = None,
    poll_s: float = 5.0,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
):
    """Run the sweep of a grid file and return the results table (pandas DataFrame).

    Chapter "How general is the circuit?"; paper Sec. 7. ``grid`` is a :class:`Grid` or
    the path of a grid file; ``out`` the CSV table (default: the grid file with suffix ``.csv``).
    ``limit`` restricts the sweep to the first ``limit`` configurations of the grid (in file
    order). Configurations already in ``out`` (same config hash) are skipped; every other one is
    run by :func:`run_network` on ``backend`` "local" (``n_jobs`` processes, default
    :func:`default_n_jobs`) or "slurm" (submitit job arrays with ``per_task`` networks per task,
    ``slurm_array_parallelism`` tasks at once, in ``slurm_partition``, logs under
    ``slurm_folder``, default ``<cache>/submitit``; ``slurm_params`` go to submitit's
    ``update_parameters``). Rows are written as networks finish.

    Raises ValueError for a bad grid, bad options or a table that cannot be resumed (all before
    anything is trained), :class:`SweepLocked` if another sweep writes ``out``, and
    :class:`SweepError` at the end if some networks failed (the others are in the table).
    """
    if not isinstance(grid, Grid):
        grid = load_grid(grid)
    if backend not in ("local", "slurm"):
        raise ValueError(f"backend must be 'local' or 'slurm', got {backend!r}")
    n_jobs = default_n_jobs() if n_jobs is None else _positive("n_jobs", n_jobs)
    per_task = _positive("per_task", per_task)
    slurm_array_parallelism = _positive("slurm_array_parallelism", slurm_array_parallelism)
    slurm_timeout_min = _positive("slurm_timeout_min", slurm_timeout_min)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
    if backend == "slurm" and shutil.which("sbatch") is None:
        raise ValueError(
            "the slurm backend needs Slurm's sbatch on PATH (see scripts/slurm-local.sh)"
        )
    if out is None:
        if grid.path is None:
            raise ValueError("out is needed when the grid does not come from a file")
        out = grid.path.with_suffix(".csv")
    out = Path(out)
    cache = str(resolve_cache_dir(cache_dir).resolve())
    entries = list(grid.entries[:limit] if limit is not None else grid.entries)
    grid_file = grid.path.name if grid.path is not None else ""

    with _locked(out):
        table = _Table(out)
        todo = [e for e in entries if e.key not in table.done]
        by_key = {e.key: e for e in todo}
        print(
            f"emt sweep: {grid_file or 'grid'} ({grid.hash or 'no hash'}): {len(entries)} "
            f"configuration(s), {len(entries) - len(todo)} already in {out}, {len(todo)} to run"
            + (f" on {backend}" if todo else ""),
            file=sys.stderr,
        )
        failures: list[tuple[str, str]] = []
        if todo:
            configs = [e.config.as_dict() for e in todo]
            if backend == "local":
                results = _iter_local(configs, min(n_jobs, len(configs)), cache)
            else:
                folder = Path(slurm_folder) if slurm_folder else Path(cache) / "submitit"
                results = _iter_slurm(
                    configs,
                    cache,
                    per_task=per_task,
                    partition=slurm_partition,
                    array_parallelism=slurm_array_parallelism,
                    timeout_min=slurm_timeout_min,
                    folder=folder.resolve(),
                    poll_s=poll_s,
                    slurm_params=slurm_params,
                )
            bar = _sweep_bar(len(entries), len(entries) - len(todo), progress)
            try:
                for key, row, error in results:
                    if row is None:
                        failures.append((key, error))
                    else:
                        entry = by_key[key]
                        ids = {
                            "config_hash": key,
                            "grid_hash": grid.hash,
                            "grid_file": grid_file,
                            "point": entry.point,
                            "point_name": entry.point_name,
                        }
                        full = {**ids, **row}
                        table.add({c: full[c] for c in _table_order(full)})
                    bar.update(1)
                    bar.set_postfix(failed=len(failures), refresh=False)
            finally:
                bar.close()
                with contextlib.suppress(Exception):
                    results.close()
        table.finish([e.key for e in grid.entries])
    if failures:
        raise SweepError(failures, out)
    return load_results(out) if out.exists() else table.df


def _sweep_bar(total: int, initial: int, enabled: bool):
    return _io.progress_bar(
        total, enabled, initial=initial, unit="net", desc="sweep", file=sys.stderr
    )
