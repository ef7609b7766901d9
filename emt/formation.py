"""The circuit forming during training: the Figure 3 reading of every recorded snapshot.

Chapter "The circuit forming" (book/formation.md; sections ``sec-fo-track`` and
``sec-fo-lockin``); paper Sec. 7 (Figure 3) and the claim of Sec. 8 that gradient descent builds
the variable-binding circuit. A network trained with ``TrainConfig(snapshot_every=...)`` keeps its
weights every few hundred steps (:meth:`emt.rnn.Trained.snapshots`); :func:`track` reads each of
them as :mod:`emt.analysis` reads a finished network, :func:`null_band` gives the same numbers for
untrained networks of the same start, and :func:`lock_in` finds the step from which on the
spectrum has the circuit's s-th roots of unity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emt import _validate, analysis, metrics, nulls

#: Columns of :class:`Track`, one value per snapshot.
TRACK_KEYS = (
    "step",
    "p_value",
    "counts_equal",
    "inferred_s",
    "block_error",
    "sequence_accuracy",
    "radius",
)


@dataclass(frozen=True)
class Track:
    """One network's snapshots read one by one (:func:`track`); every field has one entry each.

    ``step``; ``p_value``: the p-value of the s-th roots of unity in the spectrum of ``W_hh``
    against random angles (:func:`emt.analysis.infer_s_kappa` restricted to the network's s and
    kappa; 1 where its cluster does not stand out); ``counts_equal``: kappa eigenvalues in every
    direction; ``inferred_s``: what the unrestricted inference reads (0 where it refuses);
    ``block_error``: Figure 3A's block error at alpha = 1/2 (:func:`emt.metrics.figure3`,
    ``select="auto"``, the network's own tanh dynamics with its biases); ``sequence_accuracy``:
    the fraction of fresh sequences recalled exactly over 3 periods
    (:func:`emt.rnn.evaluate`); ``radius``: the spectral radius of ``W_hh``; ``eigenvalues``:
    every snapshot's eigenvalues, ``(n_snapshots, N_h)``.
    """

    step: np.ndarray
    p_value: np.ndarray
    counts_equal: np.ndarray
    inferred_s: np.ndarray
    block_error: np.ndarray
    sequence_accuracy: np.ndarray
    radius: np.ndarray
    eigenvalues: np.ndarray

    def row(self, i: int) -> dict:
        """Snapshot ``i`` as a dict of :data:`TRACK_KEYS`."""
        return {k: getattr(self, k)[i].item() for k in TRACK_KEYS}


def _reading(weights, s: int, kappa: int) -> tuple[float, bool, int, float]:
    """(p-value for s, counts equal, unrestricted s or 0, block error) of one set of weights."""
    w_hh = weights["W_hh"]
    fixed = analysis.infer_s_kappa(w_hh, s_range=(s, s), kappa=kappa)
    free = analysis.infer_s_kappa(w_hh, kappa=kappa)
    p = float(fixed.p_value) if fixed.stands_out else 1.0
    block = metrics.figure3(weights, s, select="auto").values["block_error_a05"]
    return p, bool(fixed.stands_out and fixed.counts_equal), int(free.s or 0), float(block)


def track(
    trained,
    *,
    n_seq: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> Track:
    """Read every snapshot of ``trained`` (an :class:`emt.rnn.Trained` with snapshots).

    Chapter "The circuit forming" (``sec-fo-track``). s, kappa and the encoding of the
    accuracy's inputs come from ``trained.config``. ``n_seq`` fresh sequences (the same for every
    snapshot) measure the task. ``progress(i, n)`` is called after each snapshot. Raises
    ValueError when ``trained`` has no snapshots.
    """
    from emt import rnn

    shots = trained.snapshots()
    if not shots:
        raise ValueError(
            "the network has no snapshots: train it with TrainConfig(snapshot_every=...)"
        )
    n_seq = _validate.positive_int("n_seq", n_seq)
    c = trained.config
    cols: dict[str, list] = {k: [] for k in TRACK_KEYS}
    eigs = []
    for i, (step, w) in enumerate(shots):
        p, equal, s_free, block = _reading(w, c.s, c.kappa)
        acc = rnn.evaluate(w, n_seq=n_seq, n_periods=3, s=c.s, encoding=c.encoding)
        ev = np.linalg.eigvals(w["W_hh"])
        for k, v in zip(
            TRACK_KEYS,
            (step, p, equal, s_free, block, acc["sequence_accuracy"], np.abs(ev).max()),
        ):
            cols[k].append(v)
        eigs.append(ev[np.argsort(-np.abs(ev), kind="stable")])
        if progress is not None:
            progress(i + 1, len(shots))
    arrays = {k: np.asarray(v) for k, v in cols.items()}
    return Track(**arrays, eigenvalues=np.asarray(eigs))


def lock_in(tr: Track, level: float = analysis.INFER_LEVEL) -> int | None:
    """The first step from which on every snapshot's spectrum has the circuit's roots of unity.

    Chapter "The circuit forming" (``sec-fo-lockin``): the earliest snapshot such that it and
    every later one have ``p_value <= level`` and kappa eigenvalues in every direction; None if
    the last snapshot does not.
    """
    ok = (tr.p_value <= level) & tr.counts_equal.astype(bool)
    if not ok.size or not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    first = 0 if bad.size == 0 else int(bad[-1]) + 1
    return int(tr.step[first])


def first_step(tr: Track, key: str, threshold: float) -> int | None:
    """The first snapshot's step at which ``key`` reaches ``threshold`` (None if none does)."""
    hit = np.flatnonzero(getattr(tr, key) >= threshold)
    return int(tr.step[hit[0]]) if hit.size else None


def null_band(
    config, n_draws: int = nulls.NULL_DRAWS, seed: int = 10_000
) -> dict[str, dict[str, float]]:
    """The reading of ``n_draws`` untrained networks of ``config``'s start (the null band).

    Chapter "The circuit forming" (``sec-fo-track``). The networks are
    :class:`emt.rnn.ElmanRNN` at ``config``'s initialisation and bias with seeds ``seed``,
    ``seed + 1``, ...: what the reading gives for a network of the same start that learned
    nothing. Returns ``{key: {"median", "p05", "p95", "n"}}`` for ``block_error`` and
    ``p_value`` over the finite draws.
    """
    from emt.report.verdict import spread
    from emt.rnn import ElmanRNN

    n_draws = _validate.positive_int("n_draws", n_draws)
    values: dict[str, list[float]] = {"block_error": [], "p_value": []}
    for d in range(n_draws):
        w = ElmanRNN(
            config.kappa, config.hidden, bias=config.bias, init=config.init, seed=seed + d
        ).weights()
        p, _, _, block = _reading(w, config.s, config.kappa)
        values["p_value"].append(p)
        values["block_error"].append(block if math.isfinite(block) else math.nan)
    return {k: spread(v) for k, v in values.items()}


# ---------------------------------------------------------------- the grid: who solves, and how

#: Columns that :func:`read_sweep` adds to a sweep's rows (section ``sec-fo-grid``).
VERDICT_COLUMNS = (
    "config_hash", "verdict", "n_passed", "failed", "s_read", "analysed", "not_beaten"
)  # fmt: skip


def read_network(weights: dict, *, null_draws: int | None = None) -> dict:
    """``emt analyze``'s reading of one network, without its report files.

    Chapter "The circuit forming", section ``sec-fo-grid``. The stages of
    :func:`emt.report.analyze` with nothing given but the weights: s and kappa inferred, the
    operating point chosen, every Figure 3 metric ranked among ``null_draws`` draws of each null
    model. Returns ``verdict`` ("found", "partly" or "none"), ``n_passed`` (of 3 tests),
    ``failed`` (the failing panels, comma-separated), ``s_read`` (0 where no s is found) and
    ``analysed`` (the matrix read: "W_hh", or the biased network's chosen candidate) and
    ``not_beaten``: for each failed panel of 3A and 3D, the null models that the network does
    not beat (``"3D: random_uh"``; ``;``-separated), empty where none.
    """
    import tempfile
    from pathlib import Path

    from emt.report import stages

    def quiet(line: str) -> None:
        return None

    with tempfile.TemporaryDirectory(prefix="emt-read-") as tmp:
        inp = stages.load_stage(dict(weights), out=Path(tmp) / "unused", null_draws=null_draws)
    choice = stages.choose_stage(inp, quiet)
    analysed = choice.operating["chosen"] if choice.operating else "W_hh"
    if choice.s is None:
        return {"verdict": "none", "n_passed": 0, "failed": "3A,3B,3D", "s_read": 0,
                "analysed": analysed, "not_beaten": ""}  # fmt: skip
    measured = stages.measure_stage(inp, choice)
    _, v = stages.nulls_stage(inp, choice, measured, quiet)
    word = {"yes": "found", "partly": "partly", "no": "none"}[v["present"]]
    level = verdict_level()
    not_beaten = []
    for c in v["criteria"]:
        if c["passed"] or "tests" not in c:
            continue
        names = sorted({n for tests in c["tests"].values() for n, r in tests.items()
                        if r["p"] > level})  # fmt: skip
        not_beaten.append(f"{c['figure']}: {', '.join(names)}")
    return {"verdict": word, "n_passed": int(v["n_passed"]), "failed": ",".join(v["failed"]),
            "s_read": int(choice.s), "analysed": analysed,
            "not_beaten": "; ".join(not_beaten)}  # fmt: skip


def verdict_level() -> float:
    """The level of the ranked tests (:data:`emt.report.verdict.VERDICT_LEVEL`)."""
    from emt.report.verdict import VERDICT_LEVEL

    return VERDICT_LEVEL


def _read_row(row: dict, cache_dir, null_draws: int | None) -> dict:
    import warnings

    from emt import rnn
    from emt.sweep import config_from_row

    config = config_from_row(row)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        trained = rnn.get_trained(config, cache_dir=cache_dir, progress=False)
    return {
        "config_hash": row["config_hash"],
        **read_network(trained.weights(), null_draws=null_draws),
    }


def read_sweep(
    results, out, *, cache_dir=None, null_draws: int | None = None, n_jobs: int = 1,
    progress: bool = True,
):  # fmt: skip
    """Read every network of a sweep's results table with :func:`read_network`; write a table.

    Chapter "The circuit forming", section ``sec-fo-grid``. ``results``: the CSV of
    :func:`emt.sweep.run_sweep` (its networks are loaded from the cache ``cache_dir``, or
    retrained, deterministically, where missing); ``out``: the CSV written, one row per
    network with :data:`VERDICT_COLUMNS`. Rows already in ``out`` are kept and not read again,
    so an interrupted reading resumes. ``n_jobs`` worker processes (joblib). Returns the table.
    """
    import os

    import joblib
    import pandas as pd

    from emt import _io
    from emt.sweep import load_results

    table = load_results(results)
    done = pd.read_csv(out, dtype={"config_hash": str}) if os.path.exists(out) else None
    have = set(done["config_hash"]) if done is not None else set()
    todo = [r for r in table.to_dict("records") if r["config_hash"] not in have]
    rows = [] if done is None else done.to_dict("records")
    bar = _io.progress_bar(len(todo), progress, desc="reading networks", unit="network")
    jobs = (joblib.delayed(_read_row)(r, cache_dir, null_draws) for r in todo)
    runner = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    try:
        for row in runner(jobs):
            rows.append(row)
            bar.update(1)
            tmp = f"{out}.tmp"
            pd.DataFrame(rows, columns=list(VERDICT_COLUMNS)).to_csv(tmp, index=False)
            os.replace(tmp, out)
    finally:
        bar.close()
    order = {h: i for i, h in enumerate(table["config_hash"])}
    df = pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))
    df = df.sort_values("config_hash", key=lambda c: c.map(order)).reset_index(drop=True)
    df.to_csv(out, index=False)
    return df


def survival(steps, solved) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of the fraction still unsolved after each step count.

    Chapter "The circuit forming", section ``sec-fo-grid``. ``steps``: the step at which each
    run met its criterion, or its budget where it did not (``solved`` False: censored there).
    Returns ``(t, S)``: the distinct solve steps in increasing order with 0 in front, and the
    estimated fraction unsolved just after each (S[0] = 1). A run censored at step c counts
    as at risk at every solve step up to and including c.
    """
    steps = np.asarray(steps, dtype=float)
    solved = np.asarray(solved, dtype=bool)
    if steps.shape != solved.shape or steps.ndim != 1 or steps.size == 0:
        raise ValueError("steps and solved must be non-empty 1-d arrays of the same length")
    times = np.unique(steps[solved])
    s_vals, s_now = [1.0], 1.0
    for t in times:
        at_risk = np.sum(steps >= t)
        events = np.sum((steps == t) & solved)
        s_now *= 1.0 - events / at_risk
        s_vals.append(s_now)
    return np.concatenate([[0.0], times]), np.asarray(s_vals)


def censored_median(steps, solved) -> float:
    """The step by which half the runs are solved, by :func:`survival`; inf if never reached."""
    t, s_vals = survival(steps, solved)
    below = np.nonzero(s_vals <= 0.5)[0]
    return float(t[below[0]]) if below.size else math.inf


#: The four recipes of the grid ``book/data/grids/standard_start.toml``, in the order shown.
GRID_RECIPES = (
    "book, orthogonal",
    "book, default init",
    "standard, default init",
    "standard, orthogonal",
)


def grid_table(results, readings):
    """One row per network of the grid: its configuration, steps, solved, accuracy, reading.

    Chapter "The circuit forming", section ``sec-fo-grid``. ``results``: the sweep's table
    (path or DataFrame); ``readings``: :func:`read_sweep`'s table (path or DataFrame). Raises
    ValueError where a network of ``results`` has no reading.
    """
    import pandas as pd

    from emt.sweep import load_results

    res = load_results(results) if not isinstance(results, pd.DataFrame) else results
    rd = (
        pd.read_csv(readings, dtype={"config_hash": str, "failed": str, "not_beaten": str})
        if not isinstance(readings, pd.DataFrame)
        else readings
    )
    cols = ["config_hash", "point_name", "s", "kappa", "hidden", "seed", "init", "solved",
            "steps", "max_steps", "eval_sequence_accuracy"]  # fmt: skip
    cols += [c for c in ("eval_bit_accuracy", "n_eig_ge1") if c in res]  # where the sweep has them
    df = res[cols].merge(rd, on="config_hash", how="left", validate="one_to_one")
    missing = df["verdict"].isna()
    if missing.any():
        raise ValueError(f"{int(missing.sum())} networks of the sweep have no reading")
    for col in ("failed", "not_beaten"):
        df[col] = df[col].fillna("") if col in df else ""
    return df


def load_grid_tables(parts):
    """:func:`grid_table` of several sweeps at once, each checked against the grid file that made it.

    Chapter "The circuit forming", section ``sec-fo-grid``. ``parts``: ``(grid file, results
    table, readings table)`` triples, paths. Raises ValueError where a results table does not
    hold exactly its grid's networks (one missing, or one of another grid) or was made by
    another version of the grid file (``grid_hash``). Returns the rows of all parts, in order.
    """
    import pandas as pd

    from emt.sweep import load_grid, load_results

    tables = []
    for grid_file, results_file, readings_file in parts:
        grid = load_grid(grid_file)
        results = load_results(results_file)
        wanted, have = {e.key for e in grid.entries}, set(results["config_hash"])
        if wanted != have:
            raise ValueError(
                f"{results_file} holds {len(have & wanted)} of the {len(wanted)} networks of "
                f"{grid_file} and {len(have - wanted)} of another grid"
            )
        if not (results["grid_hash"] == grid.hash).all():
            raise ValueError(f"{results_file} was made by another version of {grid_file}")
        tables.append(grid_table(results, readings_file))
    return pd.concat(tables, ignore_index=True)


def grid_summary(df, by=("s", "point_name")):
    """Solve rate, steps to solve (censored median) and verdicts, per group of :func:`grid_table`.

    Chapter "The circuit forming", section ``sec-fo-grid``. Per group: ``networks``, ``solved``,
    ``median_steps`` (:func:`censored_median`; inf where fewer than half solved within the
    budget), ``budget`` (the largest ``max_steps``), and the verdicts of the solved networks
    (``found``, ``partly``, ``none``) and of the unsolved ones (``unsolved_found``, ...).
    """
    import pandas as pd

    rows = []
    for key, g in df.groupby(list(by), sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        sol = g[g["solved"].astype(bool)]
        uns = g[~g["solved"].astype(bool)]
        row.update(
            networks=len(g), solved=len(sol),
            median_steps=censored_median(g["steps"], g["solved"].astype(bool)),
            budget=int(g["max_steps"].max()),
            **{v: int((sol["verdict"] == v).sum()) for v in ("found", "partly", "none")},
            **{f"unsolved_{v}": int((uns["verdict"] == v).sum())
               for v in ("found", "partly", "none")},
        )  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def budget_check(df, reference: str = "book, orthogonal", factor: float = 10.0):
    """Is each cell's budget at least ``factor`` times the reference recipe's median steps?

    Chapter "The circuit forming", section ``sec-fo-grid`` (the grid's rule: budgets at least
    10x the book recipe's median steps for that size). One row per (s, kappa, hidden): the
    reference's censored median, the budget, and ``ok`` (False also where the median itself is
    censored, i.e. fewer than half of the reference runs solved).
    """
    ref = df[df["point_name"] == reference]
    out = grid_summary(ref, by=("s", "kappa", "hidden"))[["s", "kappa", "hidden", "median_steps",
                                                            "budget"]]  # fmt: skip
    out["ok"] = factor * out["median_steps"] <= out["budget"]
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m emt.formation RESULTS --out VERDICTS``: :func:`read_sweep` from the shell."""
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m emt.formation",
        description="Read every network of a sweep's results table as emt analyze does "
        "(verdict, tests passed, s read) and write one row per network. Chapter 'The circuit "
        "forming', section sec-fo-grid.",
    )
    p.add_argument("results", help="results table of `python -m emt sweep` (CSV)")
    p.add_argument("--out", required=True, help="the table of readings (CSV; resumed if present)")
    p.add_argument("--null-draws", type=int, default=None, help="draws of every null model")
    p.add_argument("--n-jobs", type=int, default=1, help="worker processes")
    a = p.parse_args(argv)
    df = read_sweep(a.results, a.out, null_draws=a.null_draws, n_jobs=a.n_jobs)
    print(df["verdict"].value_counts().to_string())


if __name__ == "__main__":
    main()
