"""Running a sweep: joblib processes on this machine, or submitit job arrays on Slurm.

Chapter "How general is the circuit?", section "The sweep" (``sec-un-sweep``). :func:`run_sweep`
is the entry point; the command line is ``emt sweep`` (:mod:`emt.cli`).
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from emt import _io, _numerics, _validate
from emt.rnn import (
    TrainConfig,
    resolve_cache_dir,
)
from emt.sweep.grid import Grid, load_grid
from emt.sweep.network import _run_safely, run_chunk
from emt.sweep.table import _locked, _Table, _table_order, load_results


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
    say: Callable[[str], None],
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
    say(
        f"submitted {len(chunks)} array task(s) as Slurm job "
        f"{jobs[0].job_id.split('_')[0]} (logs in {folder})"
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


Say = Callable[[str], None]


def _status(say: Say | None) -> Say:
    """``say`` if given, else lines to the ``emt.sweep`` logger (the library prints nothing)."""
    if say is not None:
        return say
    log = logging.getLogger("emt.sweep")
    return lambda line: log.info("%s", line)


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
    say: Say | None = None,
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
    ``update_parameters``). Rows are written as networks finish. ``progress`` draws a bar;
    status lines (what is done, what was submitted) go to ``say``, by default to the
    ``emt.sweep`` logger.

    Raises ValueError for a bad grid, bad options or a table that cannot be resumed (all before
    anything is trained), :class:`SweepLocked` if another sweep writes ``out``, and
    :class:`SweepError` at the end if some networks failed (the others are in the table).
    """
    if not isinstance(grid, Grid):
        grid = load_grid(grid)
    status = _status(say)
    if backend not in ("local", "slurm"):
        raise ValueError(f"backend must be 'local' or 'slurm', got {backend!r}")
    n_jobs = default_n_jobs() if n_jobs is None else _validate.integer("n_jobs", n_jobs, lo=1)
    per_task = _validate.integer("per_task", per_task, lo=1)
    slurm_array_parallelism = _validate.integer(
        "slurm_array_parallelism", slurm_array_parallelism, lo=1
    )
    slurm_timeout_min = _validate.integer("slurm_timeout_min", slurm_timeout_min, lo=1)
    if limit is not None:
        limit = _validate.integer("limit", limit, lo=0)
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
        status(
            f"{grid_file or 'grid'} ({grid.hash or 'no hash'}): {len(entries)} "
            f"configuration(s), {len(entries) - len(todo)} already in {out}, {len(todo)} to run"
            + (f" on {backend}" if todo else "")
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
                    say=status,
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
