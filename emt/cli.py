"""The command line of emt: ``emt sweep`` and ``emt analyze`` (also ``python -m emt ...``).

``emt analyze CHECKPOINT`` analyses a user's own Elman RNN (:mod:`emt.report`; chapter "Analyse
your own network"): exit code 0 when analysed, 2 on bad input (message on stderr, nothing
written).

``emt sweep GRID`` trains and measures every network of a grid file and collects one row per
network in a resumable results table; it serves the chapter "How general is the circuit?"
(paper Sec. 7) and is described in :mod:`emt.sweep`. Exit codes: 0 on success, 1 if some
networks failed (the others are in the table; a rerun retries them) or another sweep holds the
table, 2 on bad input (a bad option, an unreadable or invalid grid file, a table that cannot be
resumed), with the message on stderr, before anything is trained; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence


def _integer_at_least(lo: int, rule: str):
    """An argparse type: the text as an int >= ``lo`` (:func:`emt._validate.integer`'s rule)."""

    def convert(text: str) -> int:
        from emt import _validate

        try:
            return _validate.integer("value", int(text), lo=lo)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {rule}, got {text!r}") from None

    return convert


_positive_int = _integer_at_least(1, "a positive integer")
_non_negative_int = _integer_at_least(0, "a non-negative integer")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``emt`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="emt",
        description="Tools of the executable book on the Episodic Memory Theory of RNNs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sweep = sub.add_parser(
        "sweep",
        help="train and measure every network of a grid file (resumable)",
        description=(
            "Train (through the checkpoint cache, $EMT_CACHE_DIR) and measure every (point, seed) "
            "configuration of a TOML grid file, and write one row per network to a CSV table. "
            "Networks already in the table are skipped, so rerunning a killed sweep completes it. "
            "Chapter 'How general is the circuit?'; paper Sec. 7."
        ),
        epilog="Grid format: see the docstring of emt.sweep or book/data/grids/example.toml.",
    )
    sweep.add_argument("grid", metavar="GRID", help="grid file (TOML)")
    analyze = sub.add_parser(
        "analyze",
        help="analyse your own Elman RNN: s, kappa, Algorithm 1, Figure 3 metrics and null models",
        description=(
            "Read a one-layer tanh Elman RNN with a linear readout (a torch state_dict of nn.RNN + "
            "nn.Linear under any key prefix, a Lightning checkpoint, an emt checkpoint, or an .npz "
            "with W_hh, W_uh, W_r [, b_h, b_r]), infer s and kappa from its spectrum, run "
            "Algorithm 1 (linearising a network with hidden bias, paper App. C), measure every "
            "Figure 3 metric beside its null models, and write report.json, report.md and the "
            "figures 3A, 3B, 3D into a report directory. Files are read without running code "
            "(torch.load weights_only=True, np.load allow_pickle=False); the nonlinearity is "
            "assumed to be tanh. Chapter 'Analyse your own network'; paper Sec. 6-7."
        ),
        epilog=(
            "Verdict: three tests, one per panel of Figure 3 (3B: the spectrum's angles against "
            "random angles, p <= 0.01; 3A and 3D: the network beats every draw of every null "
            "model, p <= 0.05): 'repeat-copy circuit found' (3 of 3), 'partly found' (naming the "
            "panels that fail), or 'no repeat-copy circuit found' (no s and kappa in the "
            "spectrum). Exit status: 0 when a report was written, whatever its verdict (a valid "
            "network that does something else is an answer, not an error); 2 for input that "
            "cannot be analysed (an unreadable or code-running file, a GRU, LSTM or "
            "multi-layer network, wrong shapes, NaN, bad options), with the reason on stderr "
            "and nothing written."
        ),
    )
    analyze.add_argument("checkpoint", metavar="CHECKPOINT", help="weights file (.pt/.ckpt/.npz)")
    analyze.add_argument(
        "--s", type=_positive_int, metavar="S", help="number of memories (default: inferred)"
    )
    analyze.add_argument(
        "--kappa",
        type=_positive_int,
        metavar="K",
        help="memory size (default: the columns of W_uh, the only value allowed)",
    )
    analyze.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        metavar="A",
        help="weight of the forward estimate in Algorithm 1 (Eq. 14-15; default 0.5)",
    )
    analyze.add_argument(
        "--keys",
        metavar="MAP",
        help="explicit key map where the automatic one is ambiguous, e.g. "
        "W_hh=model.rnn.weight_hh_l0,W_uh=model.rnn.weight_ih_l0,W_r=model.out.weight "
        "(names: W_hh, W_uh, W_r, b_ih, b_hh, b_h, b_r)",
    )
    analyze.add_argument(
        "--out", metavar="DIR", help="report directory (default: emt-report-<checkpoint stem>)"
    )
    analyze.add_argument(
        "--null-draws",
        type=_positive_int,
        default=20,
        metavar="N",
        help="draws of each null model (default 20; the verdict ranks the network among them at "
        "level 0.05, so fewer than 19 draws can never pass)",
    )
    analyze.add_argument(
        "--no-progress", action="store_true", help="no progress lines or bar on stderr"
    )
    sub.add_parser(
        "bench",
        help="benchmarks of training and of the sweep (python -m emt.bench; see its --help)",
        add_help=False,
    )
    sweep.add_argument(
        "--out", metavar="CSV", help="results table (default: GRID with the suffix .csv)"
    )
    sweep.add_argument("--backend", choices=("local", "slurm"), default="local")
    sweep.add_argument(
        "--n-jobs",
        type=_positive_int,
        metavar="N",
        help="local backend: worker processes (default: the CPUs this process may use)",
    )
    sweep.add_argument(
        "--limit",
        type=_non_negative_int,
        metavar="N",
        help="only the first N configurations of the grid (in file order)",
    )
    sweep.add_argument(
        "--dry-run",
        action="store_true",
        help="validate the grid and list the configurations to run; train nothing",
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument(
        "--checkpoint-every",
        type=_non_negative_int,
        metavar="N",
        help="save each network's training state every N steps, so that a killed sweep resumes "
        "its unfinished networks where they stopped (sets $EMT_CHECKPOINT_EVERY for the workers; "
        "the results do not change)",
    )
    slurm = sweep.add_argument_group("Slurm backend (submitit job arrays)")
    slurm.add_argument("--slurm-partition", metavar="P", help="partition (default: the cluster's)")
    slurm.add_argument(
        "--slurm-array-parallelism",
        type=_positive_int,
        default=16,
        metavar="K",
        help="at most K array tasks at once (default 16)",
    )
    slurm.add_argument(
        "--per-task",
        type=_positive_int,
        default=1,
        metavar="M",
        help="networks trained one after the other by each array task (default 1)",
    )
    slurm.add_argument(
        "--slurm-timeout-min",
        type=_positive_int,
        default=240,
        metavar="T",
        help="time limit of an array task in minutes (default 240)",
    )
    slurm.add_argument(
        "--slurm-folder",
        metavar="DIR",
        help="submitit's folder for job files and logs (default: <cache>/submitit)",
    )
    return parser


def _sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emt import sweep

    try:
        grid = sweep.load_grid(args.grid)
    except ValueError as exc:
        print(f"emt sweep: error: {exc}", file=sys.stderr)
        return 2
    if args.checkpoint_every is not None:
        import os

        os.environ["EMT_CHECKPOINT_EVERY"] = str(args.checkpoint_every)
    if args.dry_run:
        out = Path(args.out) if args.out else grid.path.with_suffix(".csv")
        try:
            done = sweep.read_raw_table(out)["config_hash"].tolist() if out.exists() else []
        except ValueError as exc:
            print(f"emt sweep: error: {exc}", file=sys.stderr)
            return 2
        entries = grid.entries[: args.limit] if args.limit is not None else grid.entries
        for e in entries:
            status = "done" if e.key in done else "todo"
            c = e.config
            print(
                f"{status}  {e.key}  point {e.point} {e.point_name!r}  s={c.s} kappa={c.kappa} "
                f"hidden={c.hidden} seed={c.seed}"
            )
        n_done = sum(e.key in done for e in entries)
        print(
            f"{len(entries)} configuration(s), {n_done} in {out}, {len(entries) - n_done} to run",
            file=sys.stderr,
        )
        return 0
    try:
        sweep.run_sweep(
            grid,
            args.out,
            backend=args.backend,
            n_jobs=args.n_jobs,
            limit=args.limit,
            per_task=args.per_task,
            slurm_partition=args.slurm_partition,
            slurm_array_parallelism=args.slurm_array_parallelism,
            slurm_timeout_min=args.slurm_timeout_min,
            slurm_folder=args.slurm_folder,
            progress=not args.no_progress,
            say=lambda line: print(f"emt sweep: {line}", file=sys.stderr, flush=True),
        )
    except ValueError as exc:
        print(f"emt sweep: error: {exc}", file=sys.stderr)
        return 2
    except (sweep.SweepError, sweep.SweepLocked) as exc:
        print(f"emt sweep: {exc}", file=sys.stderr)
        return 1
    return 0


def _progress_lines(prefix: str):
    """A progress callback that prints each line on stderr with the seconds since it was made."""
    t0 = time.perf_counter()

    def say(line: str) -> None:
        print(f"{prefix}: {line} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    return say


def _analyze(args: argparse.Namespace) -> int:
    from emt import report

    try:
        result = report.analyze(
            args.checkpoint,
            s=args.s,
            kappa=args.kappa,
            alpha=args.alpha,
            keys=report.parse_keys(args.keys),
            out=args.out,
            null_draws=args.null_draws,
            progress=False if args.no_progress else _progress_lines("emt analyze"),
            bar=not args.no_progress,
        )
    except report.BadInput as exc:
        print(f"emt analyze: error: {exc}", file=sys.stderr)
        return 2
    print(report.summary(result))
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``emt`` and ``python -m emt``; returns the exit code.

    SIGTERM is handled like Ctrl-C: the sweep stops its workers (or cancels its Slurm jobs), keeps
    the rows written so far and exits with code 130.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # its options belong to emt.bench
        from emt import bench

        bench.main(argv[1:])
        return 0
    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "analyze":
            return _analyze(args)
    except KeyboardInterrupt:
        print("emt: interrupted", file=sys.stderr)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse allows no other


if __name__ == "__main__":
    sys.exit(main())
