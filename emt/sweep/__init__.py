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
A recipe is data: ``preset = "standard"`` (in ``[defaults]`` or a point; any name of
:data:`emt.rnn.PRESETS`) starts from :meth:`TrainConfig.preset`, and the fields given override
it.
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

The package: :mod:`emt.sweep.grid` (grid files), :mod:`emt.sweep.network` (one network, one
row), :mod:`emt.sweep.table` (the results table) and :mod:`emt.sweep.backends`
(:func:`run_sweep`). Every public name is importable from ``emt.sweep``.
"""

from __future__ import annotations

from emt.sweep.backends import (
    SweepError,
    default_n_jobs,
    machine_type,
    run_sweep,
)
from emt.sweep.grid import (
    CONFIG_FIELDS,
    POINT_FIELDS,
    Entry,
    Grid,
    load_grid,
    parse_grid,
)
from emt.sweep.network import (
    ANALYSIS_COLUMNS,
    EVAL_KEYS,
    ID_COLUMNS,
    METRIC_COLUMNS,
    METRICS_VERSION,
    NULL_COLUMNS,
    TOP_COLUMNS,
    TOP_KEYS,
    config_columns,
    config_from_row,
    run_chunk,
    run_network,
    table_cells,
)
from emt.sweep.table import (
    SweepLocked,
    load_results,
    read_raw_table,
    write_table_atomic,
)

__all__ = [
    "CONFIG_FIELDS",
    "POINT_FIELDS",
    "Entry",
    "Grid",
    "parse_grid",
    "load_grid",
    "METRICS_VERSION",
    "ID_COLUMNS",
    "ANALYSIS_COLUMNS",
    "NULL_COLUMNS",
    "TOP_KEYS",
    "TOP_COLUMNS",
    "EVAL_KEYS",
    "METRIC_COLUMNS",
    "config_columns",
    "config_from_row",
    "table_cells",
    "run_network",
    "run_chunk",
    "SweepLocked",
    "load_results",
    "read_raw_table",
    "write_table_atomic",
    "SweepError",
    "machine_type",
    "default_n_jobs",
    "run_sweep",
]
