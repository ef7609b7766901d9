"""Benchmark of the training recipe (chapter "Training the Elman RNN"; paper Sec. 7).

Run ``python -m emt.bench``: trains the default configuration (s=16, kappa=5, 128 hidden units)
from scratch for 3 seeds, bypassing the cache, and prints per seed the steps, the wall seconds,
the sequence and bit accuracy over 3 output periods and the bit accuracy over 200 output steps on
1000 fresh sequences, then the median and the maximum wall time against the targets (median
<= 120 s, every seed <= 240 s).

``python -m emt.bench --hidden-search`` also looks for the smallest hidden size that still
meets the criterion: it walks down a list of sizes (default 128 112 96 88 80; the theory's floor
is s*kappa = 80) and trains each size for the given seeds until a size fails. It takes long.

``python -m emt.bench --throughput`` compares training paths (chapter "Appendix: training
details", section ``sec-tr-engine``): at s=16 (book's recipe) and at s=8 (standard recipe) it
times one training step of each path of :data:`THROUGHPUT_PATHS` (``nn.RNN`` or the
hand-written BPTT, with glibc's malloc defaults or with freed memory kept,
:mod:`emt._malloc`), each in a process of its own, against the single-core sgemm limit of the
step's shape, prints what stands in the way of the chosen path, then sweeps
``--throughput-networks`` fresh seeds (default 4) with 2 workers for today's path and the
chosen one and prints the networks per hour of each (:func:`engine_throughput`).

``python -m emt.bench --workers`` measures the sweep engine (chapter "How general is the
circuit?"): it runs :func:`emt.sweep.run_sweep` on the book's point (s=16, kappa=5, 128 hidden
units) for ``--throughput-networks`` fresh seeds (default 4; the chapter used 6; seeds 100, 101,
...), once with 1 worker and once with 2, each from an empty cache, and prints the networks per
hour of each (training, evaluation, the metrics and the null models of every network) and the
speedup, against the targets (at least 150 networks per hour with 2 workers, speedup at least
1.7). Both runs train the same networks, so they do the same work.

Other options: ``--seeds 0 1 2``, ``--threads N`` (torch threads during training),
``--hidden N``, ``--sizes ...``, ``--search-seeds ...``, ``--search-only`` (skip the 3-seed
run), ``--max-steps N``, ``--out PATH`` (write the search as JSON: command,
machine, recipe, one row per seed; the book reads
``book/data/hidden_search.json``). Wall times include only training and depend
on the machine's load, which is printed with every row.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import torch

from emt import _numerics
from emt.rnn import CriterionWarning, TrainConfig, evaluate, train

MEDIAN_TARGET = 120.0
MAX_TARGET = 240.0
THROUGHPUT_TARGET = 150.0  # networks per hour with 2 workers
SPEEDUP_TARGET = 1.7


def _load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
    except OSError:  # pragma: no cover
        return "load average unavailable"


def run_one(config: TrainConfig) -> dict:
    """Train ``config`` (no cache) and evaluate it on 1000 fresh sequences."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriterionWarning)
        t = train(config, progress=False)
    ev = evaluate(t, n_seq=1000, n_periods=3, long_steps=200)
    return {
        "seed": config.seed,
        "hidden": config.hidden,
        "steps": t.meta["steps"],
        "wall": t.meta["wall_seconds"],
        "solved": t.solved,
        "seq3": ev["sequence_accuracy"],
        "bit3": ev["bit_accuracy"],
        "bit200": ev["long_bit_accuracy"],
        "criterion": ev["criterion"] and ev["long_bit_accuracy"] >= 0.999,
    }


def _row(r: dict) -> str:
    return (
        f"{r['hidden']:>6d} {r['seed']:>4d} {r['steps']:>6d} {r['wall']:>8.1f} "
        f"{100 * r['seq3']:>9.1f} {100 * r['bit3']:>9.3f} {100 * r['bit200']:>10.3f}   "
        f"{'yes' if r['criterion'] else 'NO'}"
    )


HEADER = (
    f"{'hidden':>6} {'seed':>4} {'steps':>6} {'wall s':>8} {'seq% 3p':>9} {'bit% 3p':>9} "
    f"{'bit% 200':>10}   criterion"
)


Say = Callable[[str], None]


def _silent(line: str) -> None:
    """Where the measuring functions' lines go unless a caller (the command line) takes them."""


def _say(line: str) -> None:
    print(line, flush=True)


def bench_seeds(base: TrainConfig, seeds: list[int], say: Say = _silent) -> list[dict]:
    """Train ``base`` for each seed and time it; each row and the summary go to ``say``."""
    say(HEADER)
    rows = []
    for seed in seeds:
        r = run_one(dataclasses.replace(base, seed=seed))
        rows.append(r)
        say(f"{_row(r)}  ({_load_average()})")
    walls = [r["wall"] for r in rows]
    med, mx = statistics.median(walls), max(walls)
    say(
        f"median wall {med:.1f} s (target <= {MEDIAN_TARGET:.0f} s: "
        f"{'met' if med <= MEDIAN_TARGET else 'NOT met'}); "
        f"max wall {mx:.1f} s (target <= {MAX_TARGET:.0f} s: "
        f"{'met' if mx <= MAX_TARGET else 'NOT met'})"
    )
    say(
        f"median steps {statistics.median(r['steps'] for r in rows):.0f}; criterion (every bit of 1000 fresh "
        f"sequences over 3 periods, and >= 99.9% of bits over 200 steps) met by "
        f"{sum(r['criterion'] for r in rows)}/{len(rows)} seeds"
    )
    return rows


def hidden_search(
    base: TrainConfig,
    sizes: list[int],
    seeds: list[int],
    rows_out: list[dict] | None = None,
    say: Say = _silent,
) -> int | None:
    """Walk the sizes down; append every row to ``rows_out`` when given; lines go to ``say``."""
    say(
        f"\nsmallest hidden size: sizes {sizes}, seeds {seeds} "
        f"(theory's floor s*kappa = {base.s * base.kappa})"
    )
    say(HEADER)
    smallest = None
    for hidden in sorted(sizes, reverse=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # sizes below s*kappa warn by design
            configs = [dataclasses.replace(base, hidden=hidden, seed=seed) for seed in seeds]
        rows = [run_one(c) for c in configs]
        if rows_out is not None:
            rows_out.extend(rows)
        for r in rows:
            say(f"{_row(r)}  ({_load_average()})")
        if all(r["criterion"] for r in rows):
            smallest = hidden
        else:
            say(
                f"hidden={hidden} fails the criterion for {sum(not r['criterion'] for r in rows)} of "
                f"{len(rows)} seeds; the search stops"
            )
            break
    say(f"smallest hidden size meeting the criterion for all seeds: {smallest}")
    return smallest


#: The points of ``--throughput``: (label, recipe preset, fields). s = 16 is the book's point with
#: the book's recipe; s = 8 is the point of chapter "The circuit forming" with the standard recipe.
THROUGHPUT_POINTS = (
    ("s=16, kappa=5, N_h=128, book recipe", "book", {"s": 16, "kappa": 5, "hidden": 128}),
    ("s=8, kappa=4, N_h=64, standard recipe", "standard", {"s": 8, "kappa": 4, "hidden": 64}),
)
#: Targets of ``--throughput`` for the chosen engine: networks per hour against today's path, and
#: the one-network step against the single-core sgemm limit of the step's shape.
ENGINE_SPEEDUP_TARGET = 2.0
STEP_LIMIT_TARGET = 1.5


def _median_ms(fn: Callable[[], object], reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _train_step(model, u: torch.Tensor, y: torch.Tensor, encoding: str) -> Callable[[], None]:
    """One step of :func:`emt.rnn.train` on a fixed batch: forward, loss, backward, clip, Adam."""
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)

    def step() -> None:
        o, _ = model(u)
        if encoding == "pm1":
            loss = torch.mean((o - y) ** 2)
        else:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(o, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    return step


def step_rates(config: TrainConfig, engines=("rnn", "bptt"), reps: int = 60) -> dict:
    """One training step of ``config``'s last stage, timed per engine, beside the sgemm limit.

    Chapter "Training the Elman RNN", section ``sec-tr-engine``. The step is what
    :func:`emt.rnn.train` does per step (a batch of the last stage, forward, loss, backward,
    clipping, Adam), on one thread; its W_hh work is 3 products of (batch x N_h) by (N_h x N_h)
    per time step (forward, the gradient of the state, the gradient of W_hh). The limit is that
    work at the median rate of a single-core sgemm of the shape (batch x N_h x N_h), timed in the
    same call (``sgemm_us``: one such product). ``recurrence_ms`` is the hand-written recurrence
    alone (forward and backward on the step's shape), the part of the "bptt" step that the time
    loops cost; ``tanh_ms`` is the forward loop's elementwise ``tanh_`` of a (batch x N_h) state,
    timed alone, times the number of time steps: work that no engine keeping torch's tanh can
    drop, on top of the products. Returns ``{"limit_ms", "sgemm_gflops", "sgemm_us",
    "recurrence_ms", "tanh_ms", "time_steps", engine: {"ms", "gflops"}}``.
    """
    import numpy as np

    from emt.rnn.config import task_batch
    from emt.rnn.model import ElmanRNN, _TanhRecurrence

    last = config.schedule()[-1]
    b, n, s = last["batch"], config.hidden, last["s"]
    steps = s + last["n_out"]
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, w = torch.randn(b, n), torch.randn(n, n)
        sgemm_ms = _median_ms(lambda: a @ w, 50 * reps)
        flop = 3 * steps * 2 * b * n * n
        out: dict = {"sgemm_gflops": 2 * b * n * n / sgemm_ms / 1e6, "sgemm_us": 1000 * sgemm_ms}
        out["limit_ms"] = flop / (out["sgemm_gflops"] * 1e6)
        state = torch.randn(b, n)
        out["tanh_ms"] = steps * _median_ms(state.tanh_, 50 * reps)
        out["time_steps"] = steps
        u, y = task_batch(
            config.task, b, s, config.kappa, last["n_out"], np.random.default_rng(0),
            config.encoding,
        )  # fmt: skip
        u, y = torch.tensor(u, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
        for engine in engines:
            model = ElmanRNN(config.kappa, n, bias=config.bias, init=config.init, engine=engine)
            ms = _median_ms(_train_step(model, u, y, config.encoding), reps)
            out[engine] = {"ms": ms, "gflops": flop / ms / 1e6}
        x = torch.randn(steps, b, n, requires_grad=True)
        w_hh = torch.nn.init.orthogonal_(torch.empty(n, n)).requires_grad_()

        def recurrence() -> None:
            _TanhRecurrence.apply(x, w_hh).sum().backward()

        out["recurrence_ms"] = _median_ms(recurrence, reps)
    finally:
        torch.set_num_threads(old)
    return out


def sweep_throughput(
    n_networks: int = 6,
    workers: tuple[int, ...] = (1, 2),
    say: Say = _silent,
    *,
    point: dict | None = None,
    preset: str | None = None,
    label: str = "s=16, kappa=5, N_h=128, book recipe",
) -> list[dict]:
    """Networks per hour of :func:`emt.sweep.run_sweep`, per worker count.

    Chapter "How general is the circuit?"; paper Sec. 7. Each worker count sweeps the same
    ``n_networks`` seeds (100, 101, ...) of ``point`` (grid fields; default the book's point
    s=16, kappa=5, 128 hidden units; ``preset`` a recipe of :data:`emt.rnn.PRESETS`) from an
    empty cache in a temporary folder; wall time covers the whole sweep (start-up, training,
    evaluation, metrics and null models). One line per worker count and the speedup go to
    ``say``; returns the rows.
    """
    import tempfile

    from emt import sweep

    seeds = list(range(100, 100 + n_networks))
    fields = {"name": "bench", "s": 16, "kappa": 5, "hidden": 128, **(point or {})}
    if preset is not None:
        fields["preset"] = preset
    grid = sweep.parse_grid({"seeds": seeds, "point": [fields]}, source="throughput benchmark")
    rows = []
    for n_jobs in workers:
        with tempfile.TemporaryDirectory(prefix="emt-throughput-") as tmp:
            start = time.perf_counter()
            df = sweep.run_sweep(
                grid, os.path.join(tmp, "t.csv"), n_jobs=n_jobs, cache_dir=tmp, progress=False
            )
            wall = time.perf_counter() - start
        row = {
            "workers": n_jobs,
            "networks": len(df),
            "solved": int(df["solved"].sum()),
            "wall": wall,
            "per_hour": len(df) / wall * 3600,
            "median_train": float(df["wall_seconds"].median()),
            "median_steps": float(df["steps"].median()),
            "median_job": float(df["job_seconds"].median()),
        }
        rows.append(row)
        say(
            f"{label}, workers {n_jobs}: {row['networks']} networks ({row['solved']} solved) in "
            f"{wall:.0f} s = {row['per_hour']:.0f} networks/hour; median per network: "
            f"{row['median_steps']:.0f} steps, training {row['median_train']:.1f} s, whole job "
            f"{row['median_job']:.1f} s; {_load_average()}"
        )
    by = {r["workers"]: r for r in rows}
    if 2 in by and point is None:
        say(
            f"2 workers: {by[2]['per_hour']:.0f} networks/hour (target >= {THROUGHPUT_TARGET:.0f}): "
            f"{'met' if by[2]['per_hour'] >= THROUGHPUT_TARGET else 'NOT met'}"
        )
    if 1 in by and 2 in by:
        speedup = by[2]["per_hour"] / by[1]["per_hour"]
        say(
            f"speedup 2 vs 1 worker: {speedup:.2f} (target >= {SPEEDUP_TARGET}): "
            f"{'met' if speedup >= SPEEDUP_TARGET else 'NOT met'}"
        )
    return rows


#: The paths ``--throughput`` compares: (label, engine, keep freed memory). "today" is the
#: chapters' path as the issue measured it (``nn.RNN``, glibc's defaults); "chosen" is the
#: hand-written BPTT with :func:`emt._malloc.keep_freed_memory`. The two between show each
#: lever alone (step times only).
THROUGHPUT_PATHS = (
    ("today: nn.RNN", "rnn", False),
    ("nn.RNN, kept memory", "rnn", True),
    ("bptt", "bptt", False),
    ("chosen: bptt, kept memory", "bptt", True),
)


def in_fresh_process(function: str, keep: bool, **kwargs):
    """``emt.bench.<function>(**kwargs)`` in a fresh Python process; its JSON result.

    Chapter "Appendix: training details", section ``sec-tr-engine``.

    ``EMT_KEEP_FREED_MEMORY`` is set for that process (and so for its sweep's workers): glibc
    reads its malloc settings per process, so the paths are compared in processes of their own.
    """
    import subprocess

    code = (
        "import json, sys; from emt import bench; "
        "print(json.dumps(getattr(bench, sys.argv[1])(**json.loads(sys.argv[2]))))"
    )
    env = {**os.environ, "EMT_KEEP_FREED_MEMORY": "1" if keep else "0"}
    done = subprocess.run(
        [sys.executable, "-c", code, function, json.dumps(kwargs)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"emt.bench.{function} failed in its process: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def path_step_rates(preset: str, fields: dict, engine: str, reps: int = 60) -> dict:
    """:func:`step_rates` of ``TrainConfig.preset(preset, **fields)`` for one engine, after
    :func:`emt._malloc.keep_freed_memory` (which honours ``$EMT_KEEP_FREED_MEMORY``)."""
    from emt._malloc import keep_freed_memory

    kept = keep_freed_memory()
    out = step_rates(TrainConfig.preset(preset, **fields), engines=(engine,), reps=reps)
    out["kept_memory"] = kept
    return out


def train_digest(preset: str, fields: dict) -> dict:
    """Train ``TrainConfig.preset(preset, **fields)`` without the cache; a digest of its weights.

    Chapter "Appendix: training details", section ``sec-tr-engine``. Returns ``{"digest"``: the
    SHA-1 of the weights' bytes, ``"kept_memory"``: whether :func:`emt._malloc.keep_freed_memory`
    took effect in this process``}``; run it with :func:`in_fresh_process` to compare the two
    memory settings.
    """
    import hashlib

    from emt._malloc import keep_freed_memory

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriterionWarning)
        w = train(TrainConfig.preset(preset, **fields), progress=False).weights()
    digest = hashlib.sha1(b"".join(w[k].tobytes() for k in sorted(w))).hexdigest()
    return {"digest": digest, "kept_memory": keep_freed_memory()}


def engine_throughput(
    n_networks: int = 4, workers: int = 2, say: Say = _silent, rounds: int = 3
) -> list[dict]:
    """Today's training path beside the chosen one, in one run (:data:`THROUGHPUT_PATHS`).

    Chapter "Appendix: training details", section ``sec-tr-engine``. For each point of
    :data:`THROUGHPUT_POINTS`: the one-network step of each path against the sgemm limit
    (:func:`step_rates`, each path in a process of its own, ``rounds`` times interleaved; the
    round of median step time is reported, with the range over rounds), what stands in the way of the
    chosen one (its time loops, the tanh of every time step, the rest), then the networks per
    hour of a sweep of ``n_networks`` seeds with ``workers`` workers for today's path and the
    chosen one (:func:`sweep_throughput`). The engines round differently, so the same seed may
    need a different number of steps: the step time is the like-for-like figure, the networks
    per hour the one a sweep sees. Returns one row per point.
    """
    out = []
    for label, preset, fields in THROUGHPUT_POINTS:
        config = TrainConfig.preset(preset, **fields)
        runs = {name: [] for name, _, _ in THROUGHPUT_PATHS}
        for _ in range(rounds):  # paths interleaved, so a slow spell of the machine hits all
            for name, engine, keep in THROUGHPUT_PATHS:
                runs[name].append(
                    in_fresh_process("path_step_rates", keep, preset=preset, fields=fields,
                                engine=engine)
                )  # fmt: skip
        rates, spread = {}, {}
        for name, engine, _ in THROUGHPUT_PATHS:  # per path, the round of median step time
            ordered = sorted(runs[name], key=lambda r: r[engine]["ms"])
            rates[name] = ordered[len(ordered) // 2]
            spread[name] = (ordered[0][engine]["ms"], ordered[-1][engine]["ms"])
        today, chosen = rates[THROUGHPUT_PATHS[0][0]], rates[THROUGHPUT_PATHS[-1][0]]
        limit = chosen["limit_ms"]
        say(
            f"{label}: one training step of the last stage, one thread; sgemm "
            f"{config.schedule()[-1]['batch']} x {config.hidden} x {config.hidden}: "
            f"{chosen['sgemm_gflops']:.1f} GFLOP/s, so the W_hh work's limit is {limit:.2f} ms"
        )
        for name, engine, keep in THROUGHPUT_PATHS:
            r = rates[name][engine]
            say(
                f"  {name:<26}: {r['ms']:.2f} ms per step = {r['gflops']:.1f} GFLOP/s of W_hh "
                f"work, {r['ms'] / limit:.2f}x the limit (rounds {spread[name][0]:.2f}-"
                f"{spread[name][1]:.2f} ms)"
                + ("" if rates[name]["kept_memory"] == keep else " (memory setting NOT applied)")
            )
        step_ms = chosen["bptt"]["ms"]
        rest = step_ms - chosen["recurrence_ms"]
        floor = limit + chosen["tanh_ms"]
        tanh_us = 1000 * chosen["tanh_ms"] / chosen["time_steps"]
        say(
            f"  what stands in the way of the chosen step: its time loops (forward and backward) "
            f"take {chosen['recurrence_ms']:.2f} ms, the rest (input and readout products, loss, "
            f"clipping, Adam) {rest:.2f} ms. Per time step the tanh of the state alone takes "
            f"{tanh_us:.1f} us against {chosen['sgemm_us']:.1f} us for one product, so the "
            f"products at the limit plus the tanh come to {floor / limit:.2f}x the limit, and "
            f"with the rest as measured to {(floor + rest) / limit:.2f}x"
        )
        per_hour = {}
        for name, engine, keep in (THROUGHPUT_PATHS[0], THROUGHPUT_PATHS[-1]):
            rows = in_fresh_process(
                "sweep_throughput", keep, n_networks=n_networks, workers=[workers],
                point={**fields, "engine": engine}, preset=preset,
            )  # fmt: skip
            r = rows[0]
            per_hour[name] = r["per_hour"]
            say(
                f"  sweep, {name:<24}: {r['networks']} networks ({r['solved']} solved) in "
                f"{r['wall']:.0f} s = {r['per_hour']:.0f} networks/hour with {workers} workers; "
                f"median {r['median_steps']:.0f} steps, training {r['median_train']:.1f} s"
            )
        step_gain = today["rnn"]["ms"] / step_ms
        gain = per_hour[THROUGHPUT_PATHS[-1][0]] / per_hour[THROUGHPUT_PATHS[0][0]]
        to_limit = step_ms / limit
        say(
            f"  chosen vs today: step {step_gain:.2f}x faster; networks/hour {gain:.2f}x (target "
            f">= {ENGINE_SPEEDUP_TARGET}: {'met' if gain >= ENGINE_SPEEDUP_TARGET else 'NOT met'})"
            f"; chosen step {to_limit:.2f}x the sgemm limit (target <= {STEP_LIMIT_TARGET}: "
            f"{'met' if to_limit <= STEP_LIMIT_TARGET else 'NOT met'}); {_load_average()}"
        )
        out.append({"point": label, "rates": rates, "per_hour": per_hour})
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m emt.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the recipe's)"
    )
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument(
        "--hidden-search", action="store_true", help="also find the smallest hidden size"
    )
    p.add_argument("--search-only", action="store_true", help="skip the 3-seed benchmark")
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 112, 96, 88, 80])
    p.add_argument(
        "--search-seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds per size in the search (default: --seeds)",
    )
    p.add_argument("--out", default=None, help="write the search's rows as JSON to this path")
    p.add_argument(
        "--throughput",
        action="store_true",
        help="only measure the training engines (step time against the sgemm limit, networks "
        "per hour of a sweep with 2 workers) at s=16 and s=8",
    )
    p.add_argument("--throughput-networks", type=int, default=4, help="networks per sweep")
    p.add_argument(
        "--workers",
        action="store_true",
        help="only measure the sweep's networks per hour with 1 and 2 workers (book's point)",
    )
    a = p.parse_args(argv)
    if a.throughput or a.workers:
        print(
            f"emt.bench {'--throughput' if a.throughput else '--workers'}: torch {torch.__version__}, python "
            f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; {_load_average()}"
        )
        start = time.perf_counter()
        if a.throughput:
            engine_throughput(a.throughput_networks, say=_say)
        else:
            sweep_throughput(a.throughput_networks, say=_say)
        print(f"total {time.perf_counter() - start:.0f} s; {_load_average()}")
        return
    changes = {"hidden": a.hidden}
    if a.threads is not None:
        changes["threads"] = a.threads
    if a.max_steps is not None:
        changes["max_steps"] = a.max_steps
    base = dataclasses.replace(TrainConfig(), **changes)
    print(
        f"emt.bench: torch {torch.__version__}, python {platform.python_version()}, {platform.machine()}, "
        f"threads {base.threads}; MKL path {_numerics.mkl_branch() or 'chosen by MKL'}; {_load_average()}"
    )
    print(f"recipe: {base}")
    start = time.perf_counter()
    if not a.search_only:
        bench_seeds(base, a.seeds, say=_say)
    if a.hidden_search or a.search_only:
        rows: list[dict] = []
        seeds = a.search_seeds or a.seeds
        smallest = hidden_search(base, a.sizes, seeds, rows, say=_say)
        if a.out:
            _write(a.out, argv, base, a.sizes, seeds, smallest, rows)
            print(f"wrote {a.out}", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s; {_load_average()}")


def _write(
    path: str,
    argv: list[str] | None,
    base: TrainConfig,
    sizes: list[int],
    seeds: list[int],
    smallest: int | None,
    rows: list[dict],
) -> None:
    """The hidden-size search as JSON: command, machine, recipe, rows."""
    args = sys.argv[1:] if argv is None else argv
    doc = {
        "command": " ".join(["python -m emt.bench", *args]),
        "machine": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "load": _load_average(),
        },
        "base_recipe": base.as_dict(),  # rows set hidden and seed
        "sizes": sizes,
        "seeds": seeds,
        "criterion": "every bit of 1000 fresh sequences over 3 output "
        "periods, and >= 99.9% of bits over 200 output steps",
        "smallest_all_seeds": smallest,
        "rows": [
            {k: (bool(v) if k in ("solved", "criterion") else v) for k, v in r.items()}
            for r in rows
        ],
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
