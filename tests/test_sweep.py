"""Tests of emt.sweep and ``emt sweep`` (chapter "How general is the circuit?", paper Sec. 7).

The networks are tiny (s=2, kappa=2, 8 hidden units, at most 150 training steps), so that each
one trains in about a second; the Slurm backend is tested in tests/test_sweep_slurm.py.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emt import analysis, circuits, sweep
from emt.cli import main
from emt.rnn import TrainConfig

REPO = Path(__file__).resolve().parents[1]

TINY = """
[defaults]
s = 2
kappa = 2
hidden = 8
max_steps = 150
eval_every = 50
n_val = 50
stage_batch = [16, 16, 16]
"""


def write_grid(folder: Path, body: str, name: str = "grid.toml", defaults: str = TINY) -> Path:
    """A grid file: ``body`` (top-level keys, then tables), then the tiny [defaults] table."""
    path = folder / name
    path.write_text(body + defaults)
    return path


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One checkpoint cache for the module: a network trained once is loaded by later tests."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _cache_env(cache, monkeypatch):
    monkeypatch.setenv("EMT_CACHE_DIR", str(cache))


# --------------------------------------------------------------------------------------------
# Grid files
# --------------------------------------------------------------------------------------------


def test_grid_is_expanded_point_by_seed(tmp_path):
    body = """
seeds = [0, 1, 2]
description = "two points"

[[point]]
name = "small"

[[point]]
hidden = 12
init = "pytorch"
seeds = [5]
"""
    path = write_grid(tmp_path, body)
    grid = sweep.load_grid(path)
    assert grid.description == "two points"
    assert grid.hash == hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert len(grid) == 4
    assert [(e.point, e.point_name, e.config.seed) for e in grid.entries] == [
        (0, "small", 0),
        (0, "small", 1),
        (0, "small", 2),
        (1, "", 5),
    ]
    first, last = grid.entries[0].config, grid.entries[-1].config
    assert (first.s, first.kappa, first.hidden, first.init) == (2, 2, 8, "orthogonal")
    assert (last.hidden, last.init, last.max_steps, last.stage_batch) == (
        12,
        "pytorch",
        150,
        (16,) * 3,
    )
    expected = TrainConfig(
        s=2,
        kappa=2,
        hidden=12,
        init="pytorch",
        seed=5,
        max_steps=150,
        eval_every=50,
        n_val=50,
        stage_batch=(16, 16, 16),
    )
    assert grid.entries[-1].key == expected.key()
    assert len({e.key for e in grid.entries}) == 4


def test_grid_recipe_is_a_preset(tmp_path):
    """``preset`` in a point or in [defaults] starts from TrainConfig.preset; fields override."""
    body = """
seeds = [0]

[defaults]
s = 8
kappa = 2
hidden = 16
preset = "standard"

[[point]]
name = "standard"

[[point]]
name = "book"
preset = "book"

[[point]]
name = "standard, shorter"
max_steps = 500
"""
    grid = sweep.load_grid(write_grid(tmp_path, body, defaults=""))
    shape = dict(s=8, kappa=2, hidden=16, seed=0)
    std, book, short = (e.config for e in grid.entries)
    assert std == TrainConfig.preset("standard", **shape) and std.s_curriculum == (2, 4, 8)
    assert book == TrainConfig.preset("book", **shape)
    assert short == TrainConfig.preset("standard", **shape, max_steps=500)
    bad = body.replace('preset = "book"', 'preset = "paper"')
    with pytest.raises(ValueError, match="unknown preset 'paper'"):
        sweep.load_grid(write_grid(tmp_path, bad, defaults=""))


def test_grid_hash_follows_the_file(tmp_path):
    a = sweep.load_grid(write_grid(tmp_path, "seeds = [0]\n[[point]]\n", "a.toml"))
    b = sweep.load_grid(write_grid(tmp_path, "seeds = [0]\n[[point]]\n# a comment\n", "b.toml"))
    assert a.entries == b.entries and a.hash != b.hash


BAD_GRIDS = {
    "unknown field": ("seeds = [0]\n[[point]]\nhiden = 8\n", r"unknown field.*'hiden'"),
    "unknown default": ("seeds = [0]\n[[point]]\n", r"\[defaults\]: unknown field.*'lr'"),
    "unknown top-level key": ("seed = [0]\n[[point]]\n", r"unknown top-level key.*'seed'"),
    "seed in a point": ("seeds = [0]\n[[point]]\nseed = 3\n", r"'seed' is not set here"),
    "s*kappa > hidden": ("seeds = [0]\n[[point]]\ns = 5\n", r"s\*kappa = 5\*2 = 10 is larger than"),
    "negative seed": ("seeds = [0, -1]\n[[point]]\n", r"non-negative integer, got -1"),
    "seed not an integer": ("seeds = [0.5]\n[[point]]\n", r"non-negative integer, got 0.5"),
    "repeated seed": ("seeds = [1, 1]\n[[point]]\n", r"seeds \[1\] appear more than once"),
    "duplicate entry": (
        "seeds = [0, 1]\n[[point]]\nname = 'x'\n[[point]]\nhidden = 8\nseeds = [1]\n",
        r"\[\[point\]\] #1 seed 1 is the same network as \[\[point\]\] #0 seed 1",
    ),
    "no points": ("seeds = [0]\n", r"at least one \[\[point\]\]"),
    "no seeds": ("[[point]]\n", r"has no seeds"),
    "TrainConfig refuses": ("seeds = [0]\n[[point]]\ninit = 'zeros'\n", r"#0, seed 0: init must"),
    "wrong type": ("seeds = [0]\n[[point]]\nkappa = 2.0\n", r"kappa must be a positive integer"),
    "bad TOML": ("seeds = [0\n", r"not a valid TOML file"),
}


@pytest.mark.parametrize("case", sorted(BAD_GRIDS))
def test_bad_grid_is_rejected(tmp_path, case):
    body, message = BAD_GRIDS[case]
    defaults = TINY + "lr = 1\n" if case == "unknown default" else TINY
    with pytest.raises(ValueError, match=message):
        sweep.load_grid(write_grid(tmp_path, body, defaults=defaults))


def test_missing_grid_file_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="cannot read the grid file"):
        sweep.load_grid(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "case", ["unknown field", "s*kappa > hidden", "negative seed", "duplicate entry"]
)
def test_cli_rejects_bad_grid_with_exit_2_before_training(tmp_path, monkeypatch, capsys, case):
    calls = []
    monkeypatch.setattr(sweep.network, "get_trained", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(sweep.network, "run_network", lambda *a, **k: calls.append(a))
    path = write_grid(tmp_path, BAD_GRIDS[case][0])
    out = tmp_path / "out.csv"
    assert main(["sweep", str(path), "--out", str(out), "--n-jobs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emt sweep: error: ") and str(path) in err
    assert calls == [] and not out.exists()


def test_cli_rejects_bad_options_with_exit_2(tmp_path, capsys):
    path = write_grid(tmp_path, "seeds = [0]\n[[point]]\n")
    for extra in (["--n-jobs", "0"], ["--per-task", "x"], ["--limit", "-1"], ["--backend", "pbs"]):
        with pytest.raises(SystemExit) as exc:
            main(["sweep", str(path), *extra])
        assert exc.value.code == 2
        assert "error: argument" in capsys.readouterr().err
    assert not path.with_suffix(".csv").exists()


def test_python_m_emt_exit_code_and_stderr(tmp_path):
    path = write_grid(tmp_path, "seeds = [0]\n[[point]]\nkappa = 9\n")
    res = subprocess.run(
        [sys.executable, "-m", "emt", "sweep", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert "s*kappa = 2*9 = 18 is larger than hidden = 8" in res.stderr
    assert res.stdout == ""


def test_dry_run_trains_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        sweep.network, "get_trained", lambda *a, **k: pytest.fail("trained in a dry run")
    )
    path = write_grid(tmp_path, "seeds = [0, 1]\n[[point]]\n")
    assert main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr()
    assert out.out.count("todo ") == 2 and "2 to run" in out.err
    assert not path.with_suffix(".csv").exists()


# --------------------------------------------------------------------------------------------
# One network
# --------------------------------------------------------------------------------------------


def test_metric_columns_do_not_collide_with_config_fields():
    names = [*sweep.ID_COLUMNS, *sweep.CONFIG_FIELDS, *sweep.METRIC_COLUMNS]
    assert len(names) == len(set(names))


#: One network of the TINY grid, as a configuration (trains in about a second).
TINY_CONFIG = TrainConfig(
    s=2, kappa=2, hidden=8, seed=0, max_steps=150, eval_every=50, n_val=50, stage_batch=(16, 16, 16)
)


def test_run_network_row(cache):
    config = TINY_CONFIG
    row = sweep.run_network(config.as_dict(), cache_dir=cache)
    assert set(row) == {"config_hash", *sweep.CONFIG_FIELDS, *sweep.METRIC_COLUMNS}
    assert row["config_hash"] == config.key()
    assert (row["s"], row["hidden"], row["stage_batch"]) == (2, 8, "[16, 16, 16]")
    assert sweep.config_from_row(row) == config
    assert 1 <= row["steps"] <= 150 and row["wall_seconds"] > 0
    for k in sweep.EVAL_KEYS:
        assert 0 <= row[f"eval_{k}"] <= 1
    counts = json.loads(row["spectrum_counts"])
    assert len(counts) == 2 and sum(counts) == 4
    assert row["spectrum_counts_ok"] == (counts == [2, 2])
    assert 0 <= row["n_eig_ge1"] <= 8
    if row["analysis_error"]:
        assert math.isnan(row["block_error_a05"])
    else:  # Algorithm 1 ran: its numbers are finite and the PCA completes the basis
        assert row["n_pca"] == 4 and all(math.isfinite(row[k]) for k in BLOCK_COLUMNS)
    # every null model has its columns; the untrained orthogonal one can always be analysed
    assert row["null_untrained_orth__error"] == ""
    assert all(math.isfinite(row[f"null_untrained_orth__{k}"]) for k in BLOCK_COLUMNS)
    assert row["null_wrong_s__n_eig_ge1"] == row["n_eig_ge1"]  # same network, s' = 3
    assert row["analysis_seconds"] > 0
    assert sweep.run_network(config, cache_dir=cache)["from_cache"] is True


#: Numeric columns of Algorithm 1 at alpha = 1/2 (NaN when it cannot run).
BLOCK_COLUMNS = ("block_error_a05", "wrap_error_a05", "coupling_in", "coupling_out", "rest")


def test_analysis_error_is_recorded_not_raised():
    # a contraction (spectral radius 1/2): no eigenvalue of modulus >= 1 for Algorithm 1 to keep
    rng = np.random.default_rng(0)
    w_hh = rng.normal(size=(8, 8))
    w_hh *= 0.5 / np.abs(np.linalg.eigvals(w_hh)).max()
    weights = {"W_hh": w_hh, "W_uh": rng.normal(size=(8, 2)), "W_r": rng.normal(size=(2, 8))}
    m = sweep.table_cells(weights, s=2)
    assert m["analysis_error"].startswith("variable_memories (alpha = 0), ")
    assert "only 0 eigenvalues of W_hh have modulus >= threshold" in m["analysis_error"]
    assert all(math.isnan(m[k]) for k in (*BLOCK_COLUMNS, "n_pca", "basis_condition"))
    assert m["n_eig_ge1"] == 0 and sum(json.loads(m["spectrum_counts"])) == 4  # still measured


def test_top_columns_analyse_the_largest_eigenvalues():
    # the exact repeat-copy circuit in a random basis of R^16 (s = 4, kappa = 2), damped so that
    # its memory eigenvalues sit at modulus 0.97: Algorithm 1 as printed keeps none of them, the
    # top selection keeps the s*kappa = 8 largest and finds the circuit
    rng = np.random.default_rng(4)
    s, kappa, n_h = 4, 2, 16
    basis = circuits.random_basis(n_h, s * kappa, rng)
    w_hh, w_uh, w_r = circuits.circuit(circuits.repeat_copy_phi(s, kappa), basis, kappa)
    exact = {"W_hh": w_hh, "W_uh": w_uh, "W_r": w_r}
    m = sweep.table_cells(exact, s=s)
    assert m["top_threshold"] == 1.0 and m["analysis_error"] == ""
    for k in sweep.TOP_KEYS:  # at least s*kappa eigenvalues reach 1: the same numbers
        assert m[f"top__{k}"] == m[k] if k != "error" else m["top__error"] == ""
    damped = {**exact, "W_hh": 0.97 * w_hh}
    m = sweep.table_cells(damped, s=s)
    assert "fewer than s*kappa" in m["analysis_error"] and math.isnan(m["block_error_a05"])
    assert abs(m["top_threshold"] - 0.97) < 1e-9 and m["top__error"] == ""
    assert m["top__block_error_a05"] < 0.05  # the memory block is Phi


def test_analysis_value_error_in_run_network(cache, monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(analysis, "variable_memories", boom)
    config = TINY_CONFIG
    row = sweep.run_network(config, cache_dir=cache)
    expected = (
        "variable_memories (alpha = 0), variable_memories (alpha = 0.5), "
        "variable_memories (alpha = 1): boom"
    )
    assert row["analysis_error"] == expected and row["null_spectrum__error"] == expected
    assert math.isnan(row["block_error_a05"]) and row["spectrum_counts"] != ""


# --------------------------------------------------------------------------------------------
# Sweeps, resuming, the table
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_local_backend_two_workers_end_to_end(tmp_path, cache, monkeypatch):
    path = write_grid(tmp_path, "seeds = [0, 1]\n[[point]]\n[[point]]\nhidden = 10\n")
    grid = sweep.load_grid(path)
    out = tmp_path / "results.csv"
    df = sweep.run_sweep(path, out, n_jobs=2, cache_dir=cache, progress=False)
    assert list(df["config_hash"]) == [e.key for e in grid.entries]  # once each, in grid order
    assert set(df["grid_hash"]) == {grid.hash} and set(df["grid_file"]) == {"grid.toml"}
    assert list(df["point"]) == [0, 0, 1, 1] and list(df["seed"]) == [0, 1, 0, 1]
    assert list(df["hidden"]) == [8, 8, 10, 10]
    assert (df["metrics_version"] == sweep.METRICS_VERSION).all()
    assert df["eval_long_bit_accuracy"].between(0, 1).all()
    assert df.columns[: len(sweep.ID_COLUMNS)].tolist() == list(sweep.ID_COLUMNS)
    assert not list(tmp_path.glob(".results.csv.*"))  # no temporary or lock file left
    assert (out.stat().st_mode & 0o777) != 0o600  # not left private by mkstemp

    # the same rows from one in-process worker (the networks now come from the cache)
    again = sweep.run_sweep(path, tmp_path / "again.csv", n_jobs=1, cache_dir=cache, progress=False)
    assert again["from_cache"].all()
    numeric = [
        "steps",
        "wall_seconds",
        *(f"eval_{k}" for k in sweep.EVAL_KEYS),
        *sweep.ANALYSIS_COLUMNS,
    ]
    pd.testing.assert_frame_equal(df[numeric], again[numeric])
    assert list(df["analysis_error"]) == list(again["analysis_error"])

    # a rerun has nothing to do: no network is run, the file is not rewritten
    monkeypatch.setattr(
        sweep.network, "run_network", lambda *a, **k: pytest.fail("ran a finished network")
    )
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    sweep.run_sweep(path, out, n_jobs=2, cache_dir=cache, progress=False)
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before


def test_simulated_crash_then_rerun(tmp_path, cache, monkeypatch):
    path = write_grid(tmp_path, "seeds = [0, 1, 2]\n[[point]]\n")
    out = tmp_path / "r.csv"
    real = sweep.run_network
    calls = []

    def crash_on_third(config, cache_dir=None):
        calls.append(config["seed"])
        if len(calls) == 3:
            raise KeyboardInterrupt  # like Ctrl-C or a kill in the middle of the third network
        return real(config, cache_dir=cache_dir)

    monkeypatch.setattr(sweep.network, "run_network", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(path, out, n_jobs=1, cache_dir=cache, progress=False)
    rows = read_rows(out)
    assert [r["seed"] for r in rows] == ["0", "1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml", "r.csv"]

    monkeypatch.setattr(sweep.network, "run_network", real)
    df = sweep.run_sweep(path, out, n_jobs=1, cache_dir=cache, progress=False)
    assert list(df["seed"]) == [0, 1, 2] and df["config_hash"].is_unique
    assert read_rows(out)[:2] == rows  # the finished rows are kept as they were


def start_sweep(tmp_path, path, out, n_jobs):
    """A sweep in a subprocess of its own session (for the test to kill), with its own cache."""
    cmd = [sys.executable, "-m", "emt", "sweep", str(path), "--out", str(out)]
    cmd += ["--n-jobs", str(n_jobs), "--no-progress"]
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env={**os.environ, "EMT_CACHE_DIR": str(tmp_path / "cache")},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_a_row(proc, out, seconds: float = 120) -> None:
    """Poll until the sweep ``proc`` has written a first row to ``out`` (or has ended)."""
    deadline = time.monotonic() + seconds
    while not (out.exists() and read_rows(out)) and proc.poll() is None:
        assert time.monotonic() < deadline, f"no row appeared within {seconds:g} s"
        time.sleep(0.02)


@pytest.mark.slow
def test_killed_sweep_is_completed_by_a_rerun(tmp_path):
    path = write_grid(tmp_path, "seeds = [0, 1, 2, 3, 4, 5]\n[[point]]\n")
    out = tmp_path / "r.csv"
    proc = start_sweep(tmp_path, path, out, n_jobs=1)
    try:
        wait_for_a_row(proc, out)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = read_rows(out)  # parses: the table was never caught half written
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    assert 1 <= len(first) < 6
    assert len({r["config_hash"] for r in first}) == len(first)

    rerun = start_sweep(tmp_path, path, out, n_jobs=1)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"{len(first)} already in" in err
    rows = read_rows(out)
    keys = [e.key for e in sweep.load_grid(path).entries]
    assert [r["config_hash"] for r in rows] == keys  # every configuration exactly once
    assert [r for r in rows if r["config_hash"] in {f["config_hash"] for f in first}] == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "grid.toml", "r.csv"]


def test_failed_network_is_reported_and_retried(tmp_path, cache, monkeypatch, capsys):
    path = write_grid(tmp_path, "seeds = [0, 1]\n[[point]]\n")
    out = tmp_path / "r.csv"
    real = sweep.run_network

    def fail_seed_1(config, cache_dir=None):
        if config["seed"] == 1:
            raise RuntimeError("the node caught fire")
        return real(config, cache_dir=cache_dir)

    monkeypatch.setattr(sweep.network, "run_network", fail_seed_1)
    argv = ["sweep", str(path), "--out", str(out), "--n-jobs", "1", "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "1 network(s) failed" in err and "RuntimeError: the node caught fire" in err
    assert [r["seed"] for r in read_rows(out)] == ["0"]
    monkeypatch.setattr(sweep.network, "run_network", real)
    assert main(argv) == 0
    assert [r["seed"] for r in read_rows(out)] == ["0", "1"]


def test_limit_takes_the_first_configurations(tmp_path, cache):
    path = write_grid(tmp_path, "seeds = [0, 1, 2]\n[[point]]\n")
    out = tmp_path / "r.csv"
    df = sweep.run_sweep(path, out, limit=2, n_jobs=1, cache_dir=cache, progress=False)
    assert list(df["seed"]) == [0, 1]
    df = sweep.run_sweep(path, out, limit=0, n_jobs=1, cache_dir=cache, progress=False)
    assert list(df["seed"]) == [0, 1]


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    out = tmp_path / "t.csv"
    old = pd.DataFrame({"config_hash": ["a", "b"], "x": [1, 2]})
    sweep.write_table_atomic(old, out)
    before = out.read_bytes()

    def half_then_crash(self, f, **kwargs):
        f.write("config_hash,x\na,1\nb,")  # half a table, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_crash)
    with pytest.raises(OSError, match="No space left"):
        sweep.write_table_atomic(pd.DataFrame({"config_hash": ["c"], "x": [3]}), out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_stale_temporary_file_is_removed(tmp_path, cache):
    path = write_grid(tmp_path, "seeds = [0]\n[[point]]\n")
    stale = tmp_path / ".r.csv.abc123.tmp"  # what a sweep killed inside os.replace leaves
    stale.write_text("config_hash\nhalf")
    sweep.run_sweep(path, tmp_path / "r.csv", n_jobs=1, cache_dir=cache, progress=False)
    assert not stale.exists()


def test_second_sweep_on_the_same_table_is_refused(tmp_path, capsys):
    path = write_grid(tmp_path, "seeds = [0]\n[[point]]\n")
    out = tmp_path / "r.csv"
    with sweep.table._locked(out):
        with pytest.raises(sweep.SweepLocked, match="another sweep is writing"):
            sweep.run_sweep(path, out, n_jobs=1, progress=False)
        assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 1
    assert "another sweep" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n", "no column config_hash"),
        ("config_hash,metrics_version\nabc,0\n", r"metrics version \['0'\]"),
    ],
)
def test_table_that_cannot_be_resumed_is_refused(tmp_path, capsys, content, message):
    path = write_grid(tmp_path, "seeds = [0]\n[[point]]\n")
    out = tmp_path / "r.csv"
    out.write_text(content)
    with pytest.raises(ValueError, match=message):
        sweep.run_sweep(path, out, n_jobs=1, progress=False)
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 2
    assert out.read_text() == content


@pytest.mark.slow
def test_sigterm_stops_the_workers_and_keeps_the_rows(tmp_path):
    path = write_grid(tmp_path, "seeds = [0, 1, 2, 3, 4, 5, 6, 7]\n[[point]]\n")
    out = tmp_path / "r.csv"
    proc = start_sweep(tmp_path, path, out, n_jobs=2)
    try:
        wait_for_a_row(proc, out)
        proc.send_signal(signal.SIGTERM)  # the driver only, as a scheduler or `kill` would
        assert proc.wait(timeout=60) == 130
        assert "interrupted" in proc.stderr.read()
        deadline = time.monotonic() + 30
        while True:  # the loky workers go with the driver
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, "worker processes outlived the sweep"
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    rows = read_rows(out)
    assert 1 <= len(rows) < 8 and len({r["config_hash"] for r in rows}) == len(rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "grid.toml", "r.csv"]


def test_rows_of_the_committed_table_rebuild_their_config():
    """The committed table predates the ``task`` field: its rows still give their configs."""
    df = sweep.load_results(REPO / "book/data/universality.csv")
    assert "task" not in df.columns
    for _, row in df.head(5).iterrows():
        config = sweep.config_from_row(row)
        assert config.task == "repeat_copy"
        assert config.key() == row["config_hash"]


def test_a_table_of_01_networks_only_keeps_its_encoding():
    """A table whose rows all have encoding "01" (the long runs' table) must not read it as 1."""
    from pathlib import Path

    from emt.sweep import config_from_row, load_results

    path = Path(__file__).resolve().parents[1] / "book" / "data" / "standard_start_long.csv"
    table = load_results(path)
    assert table["encoding"].tolist() == ["01"] * len(table) and len(table) == 3
    for row in table.to_dict("records"):
        assert config_from_row(row).key() == row["config_hash"]
