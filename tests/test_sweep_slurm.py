"""The Slurm backend of emt.sweep end to end, on a real cluster (chapter "How general is the
circuit?", paper Sec. 7).

Skipped unless ``sinfo`` answers with a usable node; ``make test-slurm`` first starts a
single-node cluster on this machine (scripts/slurm-local.sh, as root), then runs this file.
The same grid file is then run by the local backend, which must give the same numbers.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from emt import sweep

REPO = Path(__file__).resolve().parents[1]


def _slurm_partition() -> tuple[str | None, str]:
    """(default partition, "") if sinfo shows a usable node, else (None, why not)."""
    if shutil.which("sinfo") is None:
        return None, "sinfo is not installed"
    try:
        res = subprocess.run(
            ["sinfo", "--noheader", "--format=%P %T"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, "sinfo does not answer within 20 s"
    if res.returncode != 0:
        return None, f"sinfo fails: {res.stderr.strip()[:200]}"
    for line in res.stdout.splitlines():
        partition, state = line.split()
        if state.rstrip("*~#") in ("idle", "mixed", "allocated", "completing"):
            return partition.rstrip("*"), ""
    return None, f"no usable node: {res.stdout.strip()[:200]}"


PARTITION, WHY_NOT = _slurm_partition()
pytestmark = [
    pytest.mark.slow,  # trains networks on Slurm: left out by `make test-fast`
    pytest.mark.skipif(
        PARTITION is None,
        reason=f"no Slurm cluster here ({WHY_NOT}); start one with scripts/slurm-local.sh "
        "or run `make test-slurm`",
    ),
]

GRID = """
description = "tiny networks for the Slurm test"
seeds = [0, 1]

[defaults]
s = 2
kappa = 2
hidden = 8
max_steps = 150
eval_every = 50
n_val = 50
stage_batch = [16, 16, 16]

[[point]]
name = "h8"

[[point]]
name = "h10"
hidden = 10

[[point]]
name = "h12"
hidden = 12
seeds = [7]
"""


def test_slurm_backend_job_array_resume_and_same_rows_as_local(tmp_path):
    grid_path = tmp_path / "grid.toml"
    grid_path.write_text(GRID)
    grid = sweep.load_grid(grid_path)
    assert len(grid) == 5
    out = tmp_path / "slurm.csv"
    cache = tmp_path / "cache"
    folder = tmp_path / "submitit"
    env = {**os.environ, "EMT_CACHE_DIR": str(cache)}

    # 1. the command line: the first 3 networks, 2 per array task, at most 2 tasks at once
    cmd = [
        sys.executable,
        "-m",
        "emt",
        "sweep",
        str(grid_path),
        "--out",
        str(out),
        "--backend",
        "slurm",
        "--slurm-partition",
        PARTITION,
        "--per-task",
        "2",
        "--slurm-array-parallelism",
        "2",
        "--slurm-folder",
        str(folder),
        "--limit",
        "3",
        "--no-progress",
    ]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "submitted 2 array task(s)" in res.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["config_hash"] for r in rows] == [e.key for e in grid.entries[:3]]
    logs = list(folder.rglob("*_log.out"))
    assert len(logs) == 2, logs  # one log per array task
    scripts = [p.read_text() for p in folder.rglob("*_submission.sh")]
    assert len(scripts) == 1 and "#SBATCH --array=0-1%2" in scripts[0]  # one array, 2 at once

    # 2. the API resumes: the 2 missing networks in one array task, nothing run twice
    df = sweep.run_sweep(
        grid_path,
        out,
        backend="slurm",
        per_task=2,
        slurm_partition=PARTITION,
        slurm_array_parallelism=2,
        slurm_folder=folder,
        cache_dir=cache,
        poll_s=1.0,
        progress=False,
    )
    assert list(df["config_hash"]) == [e.key for e in grid.entries]
    assert list(df["point_name"]) == ["h8", "h8", "h10", "h10", "h12"]
    assert set(df["grid_hash"]) == {grid.hash}
    assert len(list(folder.rglob("*_log.out"))) == 3
    assert not df["from_cache"].any()  # each network was trained once, inside a Slurm job

    # 3. the same grid file on the local backend gives the same numbers
    local = sweep.run_sweep(
        grid_path,
        tmp_path / "local.csv",
        backend="local",
        n_jobs=2,
        cache_dir=cache,
        progress=False,
    )
    assert local["from_cache"].all()
    columns = [
        "config_hash",
        "solved",
        "steps",
        "wall_seconds",
        *(f"eval_{k}" for k in sweep.EVAL_KEYS),
        "spectrum_counts",
        *sweep.ANALYSIS_COLUMNS,
        "analysis_error",
    ]
    pd.testing.assert_frame_equal(df[columns], local[columns])


def test_failing_networks_are_reported_and_retried(tmp_path):
    grid_path = tmp_path / "grid.toml"
    grid_path.write_text(GRID)
    out = tmp_path / "r.csv"
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder should be")  # no checkpoint can be saved
    options = dict(
        backend="slurm",
        limit=2,
        per_task=1,
        slurm_partition=PARTITION,
        slurm_folder=tmp_path / "submitit",
        cache_dir=cache,
        poll_s=1.0,
        progress=False,
    )
    with pytest.raises(sweep.SweepError, match="2 network") as exc:
        sweep.run_sweep(grid_path, out, **options)
    errors = [msg.strip().splitlines()[-1].split(":")[0] for _, msg in exc.value.failures]
    assert len(errors) == 2 and set(errors) <= {"FileExistsError", "NotADirectoryError"}, errors
    assert not out.exists()
    cache.unlink()
    df = sweep.run_sweep(grid_path, out, **options)  # the rerun retries them
    assert len(df) == 2 and df["config_hash"].is_unique


def test_job_that_leaves_the_queue_without_a_result_is_reported(tmp_path):
    grid_path = tmp_path / "grid.toml"
    grid_path.write_text(GRID)
    name = f"emt-lost-{os.getpid()}"
    # the array task is held for an hour, then cancelled: it never writes a result
    params = {"name": name, "slurm_additional_parameters": {"begin": "now+3600"}}
    errors: list[BaseException] = []

    def run() -> None:
        try:
            sweep.run_sweep(
                grid_path,
                tmp_path / "r.csv",
                backend="slurm",
                limit=1,
                slurm_partition=PARTITION,
                slurm_folder=tmp_path / "submitit",
                slurm_params=params,
                cache_dir=tmp_path / "cache",
                poll_s=0.5,
                progress=False,
            )
        except BaseException as exc:  # checked below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    job_ids: list[str] = []
    deadline = time.monotonic() + 60
    while not job_ids and time.monotonic() < deadline:
        res = subprocess.run(
            ["squeue", "--noheader", f"--name={name}", "--format=%A"],
            capture_output=True,
            text=True,
            check=False,
        )
        job_ids = res.stdout.split()
        time.sleep(0.2)
    try:
        assert len(job_ids) == 1, "the held job did not appear in squeue"
    finally:
        for job_id in job_ids:  # the job this test submitted, by its id
            subprocess.run(["scancel", job_id], check=False)
    thread.join(timeout=120)
    assert not thread.is_alive(), "the sweep did not notice that its job was gone"
    assert len(errors) == 1 and isinstance(errors[0], sweep.SweepError), errors
    assert "left the queue without a result" in str(errors[0])
