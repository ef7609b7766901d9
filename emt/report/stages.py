"""``emt analyze`` stage by stage: load, choose s and the linearisation, measure, nulls, render.

Chapter "Analyse your own network", sections "Which s and kappa?" (``sec-an-infer``) and "The
command" (``sec-an-command``); paper Sec. 6-7 and App. C. :func:`analyze` runs the stages in
turn; each reports progress through a callable and raises :class:`BadInput` for input it cannot
analyse.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import platform
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emt.report.reading import BadInput, read_network
from emt.report.render import FIGURES, REPORT_FORMAT, _markdown, _write
from emt.report.verdict import verdict


def _jsonable(x):
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        if np.iscomplexobj(x):
            return {"real": _jsonable(x.real.tolist()), "imag": _jsonable(x.imag.tolist())}
        return _jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, complex):
        return {"real": _jsonable(x.real), "imag": _jsonable(x.imag)}
    return x


def _sk_dict(inf) -> dict:
    fields = (
        "s", "kappa", "confidence", "refused", "reason", "candidate", "n_cluster",
        "cluster_moduli", "next_modulus", "gap", "counts", "counts_equal", "stands_out",
        "residual_fraction",
        "mean_fraction", "n_angles", "p_raw", "p_value", "n_tests", "level", "runner_up",
        "n_passing", "s_range",
    )  # fmt: skip
    return {f: getattr(inf, f) for f in fields}


def _probe_input(s: int, kappa: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The input of Figure 3D: "3141" for s = 16, kappa = 5, else a seeded random +-1 sequence."""
    from emt import metrics, tasks

    if s == 16 and kappa == tasks.FONT_HEIGHT:
        x = tasks.to_pm1(tasks.text_bitmap("3141"))
        name = 'the bitmap "3141" (Figure 3C/D)'
    else:
        rng = np.random.default_rng([metrics.PROBE_SEED, 3141])
        x = metrics.probe_batch(1, s, kappa, 0, rng)[1][0]
        name = "a random +-1 sequence (seeded)"
    u = np.zeros((4 * s, kappa))
    u[:s] = x
    return u, x, name


def _versions() -> dict[str, str]:
    import matplotlib
    import scipy

    import emt

    out = {
        "emt": getattr(emt, "__version__", "?"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.__version__
    return out


def _check_options(s, kappa, alpha, n_h: int, kappa_w: int):
    from emt import _validate

    try:
        s = None if s is None else _validate.positive_int("s", s)
        kappa = None if kappa is None else _validate.positive_int("kappa", kappa)
        a = _validate.number_in("alpha", alpha, 0.0, 1.0)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if kappa is not None and kappa != kappa_w:
        raise BadInput(f"kappa = {kappa} does not match W_uh, which has {kappa_w} columns")
    if s is not None and s * kappa_w > n_h:
        raise BadInput(f"s*kappa = {s}*{kappa_w} = {s * kappa_w} exceeds the hidden size {n_h}")
    return s, a


def _default_out(source) -> Path:
    stem = Path(source).stem if isinstance(source, (str, os.PathLike)) else "weights"
    return Path(f"emt-report-{stem}")


def _prepare_out(out) -> Path:
    out = Path(out)
    if out.exists() and not (out.is_dir() and (out / "report.json").is_file()):
        if not (out.is_dir() and not any(out.iterdir())):
            raise BadInput(
                f"{out} exists and is not an emt report directory; refusing to overwrite it"
            )
    return out


# ------------------------------------------------------------------ emt analyze, stage by stage
#
# load_stage -> choose_stage -> measure_stage -> nulls_stage -> render_stage; :func:`analyze`
# runs them in turn. Each stage reports progress through ``say`` (a callable taking one line;
# the CLI prints it) and raises BadInput for input that cannot be analysed.

Say = Callable[[str], None]
#: ``Choice.s_source`` of a network in whose spectrum no s and kappa were found.
NOT_FOUND = "not found"
#: The verdict line of such a network.
NO_CIRCUIT = "no repeat-copy circuit found"


def _reporter(progress) -> Say:
    """``progress``: a callable (used as it is), True (lines to the ``emt.report`` logger) or False."""
    if callable(progress):
        return progress
    if progress:
        log = logging.getLogger("emt.report")
        return lambda line: log.info("%s", line)
    return lambda line: None


@dataclass
class Input:
    """Stage 1 (:func:`load_stage`): the weights read and checked, and the options."""

    weights: dict[str, np.ndarray]
    info: dict[str, Any]
    n_h: int
    kappa: int
    has_bias: bool
    hint_s: int | None  # the s an emt checkpoint stores, where it fits
    seed: int
    s_given: int | None
    alpha: float
    out: Path
    null_draws: int = 20


def load_stage(
    source, *, s=None, kappa=None, alpha=0.5, keys=None, out=None, null_draws=None
) -> Input:
    """Read ``source`` (:func:`load_weights`' formats, or a weights dict) and check the options."""
    from emt import _validate, nulls

    try:
        draws = _validate.positive_int(
            "null_draws", nulls.NULL_DRAWS if null_draws is None else null_draws
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    weights, info = read_network(source, keys)
    n_h, kappa_w = weights["W_uh"].shape
    s_given, a = _check_options(s, kappa, alpha, n_h, kappa_w)
    out = _prepare_out(out if out is not None else _default_out(source))
    checkpoint = info["format"] == "emt checkpoint"
    hint_s = info["hints"].get("s") if checkpoint else None
    hint_s = int(hint_s) if isinstance(hint_s, int) and hint_s * kappa_w <= n_h else None
    seed = info["hints"].get("seed", 0) if checkpoint else 0
    seed = int(seed) if isinstance(seed, int) and seed >= 0 else 0
    has_bias = "b_h" in weights and bool(np.any(weights["b_h"] != 0))
    return Input(weights, info, n_h, kappa_w, has_bias, hint_s, seed, s_given, a, out, draws)


@dataclass
class Choice:
    """Stage 2 (:func:`choose_stage`): what is analysed, with which s, and why."""

    analysed: dict[str, np.ndarray]  # W_hh, W_uh, W_r (the linearised triple for a biased net)
    nonlinearity: str  # of the probe runs: "tanh", or "linear" for the linearised system
    lin_info: dict[str, Any] | None
    s: int | None
    s_source: str  # "given", "inferred", "checkpoint" or NOT_FOUND
    inference: Any  # the emt.analysis.infer_s_kappa result the report quotes
    #: for a biased network: which candidate matrix is analysed (a key of :data:`ANALYSED`), why,
    #: and every candidate's inference (:data:`OPERATING_CRITERION`); None without a hidden bias
    operating: dict[str, Any] | None = None


def _usable(inp: Input, inf) -> bool:
    """An inference gives s and kappa, and kappa is the width of W_uh."""
    return not inf.refused and inf.kappa == inp.kappa


def _infer(inp: Input, w_hh):
    """The inference of s (kappa: the width of W_uh; s: the one given, if given) from a matrix.

    For a network with a hidden bias three matrices are tested (:data:`OPERATING_CRITERION`),
    and the Bonferroni correction counts all three.
    """
    from emt import analysis

    s_range = (2, 64) if inp.s_given is None else (inp.s_given, inp.s_given)
    extra = len(ANALYSED) if inp.has_bias else 1
    return analysis.infer_s_kappa(w_hh, s_range=s_range, kappa=inp.kappa, extra_tests=extra)


#: How :func:`choose_stage` picks the matrix to analyse in a network with a hidden bias.
OPERATING_CRITERION = (
    "of three candidates (W_hh itself, with the network's own tanh dynamics; the linearisation at "
    "the network's best fixed or operating point, paper App. C; the Jacobian averaged over the "
    "network's own recall), those whose spectrum gives s and kappa (emt.analysis.infer_s_kappa, "
    "kappa = the width of W_uh) compete, with kappa eigenvalues in every direction if any has "
    "them, and the one whose matrix is closest to Phi in its own variable-memory basis (the "
    "smallest Figure 3A block error at alpha = 1/2) is analysed; where none gives s and kappa, "
    "the one with the smallest p-value is reported"
)


def _score(inf) -> tuple:
    mean = inf.mean_fraction if np.isfinite(inf.mean_fraction) else np.inf
    return (inf.refused, inf.p_value, mean)


def _recall_inputs(inp: Input, s_in: int) -> tuple[np.ndarray, int]:
    from emt import metrics, tasks

    rng = np.random.default_rng([metrics.PROBE_SEED, inp.seed, 1])
    u, _ = tasks.repeat_copy_batch(32, s_in, inp.kappa, 3 * s_in, rng)
    return u, s_in


def _linearised_candidates(inp: Input, s_in: int) -> dict[str, tuple]:
    """The linearisation (App. C) and the trajectory-averaged Jacobian, at inputs of ``s_in`` items.

    ``{name: (weights, nonlinearity, extra)}``; the linearisation's extra is its info dict.
    """
    from emt import elman
    from emt import linearise as lin_mod

    w = inp.weights
    u, s_in = _recall_inputs(inp, s_in)
    try:
        lin = lin_mod.linearise(w["W_hh"], w["W_uh"], w["b_h"], u, W_r=w["W_r"], seed=inp.seed)
    except ValueError as exc:
        raise BadInput(f"the network cannot be linearised: {exc}") from None
    lin_info = {
        "kind": lin.kind,
        "one_step_error": lin.one_step_error,
        "h0_rms": float(np.sqrt(np.mean(lin.h0**2))),
        "offset_max": float(np.max(np.abs(lin.c))),
        "n_fixed_points": len(lin.fixed_points),
        "candidates": lin.candidates,
        "diagnostics": lin.diagnostics,
        "input_s": s_in,
        "h0": lin.h0,
    }
    # paper App. C, averaged: the slope of tanh along the network's own recall (t >= s_in)
    h = elman.states({"W_hh": w["W_hh"], "W_uh": w["W_uh"], "b_h": w["b_h"]}, u)
    d_bar = np.mean(1.0 - h[:, s_in:] ** 2, axis=(0, 1))
    traj = {"W_hh": d_bar[:, None] * w["W_hh"], "W_uh": d_bar[:, None] * w["W_uh"], "W_r": w["W_r"]}
    return {
        "linearisation": (lin.weights(), "linear", lin_info),
        "trajectory_mean": (traj, "linear", {"input_s": s_in}),
    }


def _operating(inp: Input, say: Say):
    """For a biased network: the candidates of :data:`OPERATING_CRITERION`, scored, and the best.

    Returns ``(analysed, nonlinearity, inference, lin_info, operating)``.
    """
    from emt import metrics

    w = inp.weights
    raw = {k: v for k, v in w.items() if k in ("W_hh", "W_uh", "W_r", "b_h", "b_r")}
    cands: dict[str, tuple] = {"W_hh": (raw, "tanh", None)}
    infs = {"W_hh": _infer(inp, w["W_hh"])}
    if inp.s_given is not None:
        s_in, s_in_source = inp.s_given, "given"
    elif inp.hint_s is not None:
        s_in, s_in_source = inp.hint_s, "checkpoint"
    elif _usable(inp, infs["W_hh"]):
        s_in, s_in_source = int(infs["W_hh"].s), "W_hh"
    else:
        s_in, s_in_source = max(1, inp.n_h // (4 * inp.kappa)), "guess"
    for attempt in range(2):
        say(f"linearising around the network's operating points (inputs with s = {s_in})")
        cands.update(_linearised_candidates(inp, s_in))
        for name in ("linearisation", "trajectory_mean"):
            infs[name] = _infer(inp, cands[name][0]["W_hh"])
        best = min(infs, key=lambda k: _score(infs[k]))
        s_best = infs[best].s if _usable(inp, infs[best]) else None
        if attempt or inp.s_given is not None or not _usable(inp, infs[best]) or s_best == s_in:
            break
        s_in, s_in_source = int(s_best), "inferred"
    summaries = {k: _summary_of(v) for k, v in infs.items()}
    usable = [k for k in infs if _usable(inp, infs[k])]
    for k in usable:
        weights, nonlinearity, _ = cands[k]
        f3 = metrics.figure3(
            weights, int(infs[k].s), seed=inp.seed, select="auto", nonlinearity=nonlinearity
        )
        summaries[k]["block_error"] = float(f3.values["block_error_a05"])
    for name, c in summaries.items():
        found = (
            f"s = {c['s']}, p = {c['p_value']:.2g}, block error {c['block_error']:.3g}"
            if "block_error" in c
            else "no s"
        )
        say(f"  {name}: {found}")
    if usable:
        exact = [k for k in usable if infs[k].counts_equal]
        pool = exact or usable
        be = {k: summaries[k]["block_error"] for k in pool}
        best = min(pool, key=lambda k: be[k] if np.isfinite(be[k]) else np.inf)
    say(f"analysed: {best}")
    operating = {
        "chosen": best,
        "criterion": OPERATING_CRITERION,
        "input_s": s_in,
        "input_s_source": s_in_source,
        "candidates": summaries,
    }
    analysed, nonlinearity, _ = cands[best]
    return analysed, nonlinearity, infs[best], cands["linearisation"][2], operating


def _summary_of(inf) -> dict[str, Any]:
    return {
        "s": inf.s, "kappa": inf.kappa, "p_value": inf.p_value, "mean_fraction": inf.mean_fraction,
        "counts_equal": inf.counts_equal, "refused": inf.refused, "reason": inf.reason,
        "candidate": inf.candidate,
    }  # fmt: skip


def choose_stage(inp: Input, say: Say) -> Choice:
    """What to analyse (W_hh itself, or the linearisation of a biased network) and s.

    For a network with a hidden bias the matrix is chosen among candidates by
    :data:`OPERATING_CRITERION`. s is the one given, else the one
    :func:`emt.analysis.infer_s_kappa` reads from the spectrum (with kappa the width of ``W_uh``),
    else the one an :mod:`emt.rnn` checkpoint stores. Where
    none of them exists, ``Choice.s`` is None and ``s_source`` is :data:`NOT_FOUND`: the network
    shows no repeat-copy circuit (:func:`analyze` then writes a report that says so).
    """
    operating = None
    if inp.has_bias:
        analysed, nonlinearity, inf, lin_info, operating = _operating(inp, say)
    else:
        say("no hidden bias: W_hh, W_uh, W_r are analysed directly")
        analysed = {k: inp.weights[k] for k in ("W_hh", "W_uh", "W_r")}
        lin_info, nonlinearity = None, "tanh"
        inf = _infer(inp, analysed["W_hh"])
    if inp.s_given is not None:
        s_used, s_source = inp.s_given, "given"
    elif not inf.refused and inf.kappa == inp.kappa:
        s_used, s_source = int(inf.s), "inferred"
    elif inp.hint_s is not None:
        s_used, s_source = inp.hint_s, "checkpoint"
    else:  # a valid network whose spectrum shows no repeat-copy pattern: an answer, not an error
        say(f"no s and kappa in the spectrum of {_where(inp)}")
        return Choice(analysed, nonlinearity, lin_info, None, NOT_FOUND, inf, operating)
    say(f"s = {s_used} ({s_source}), kappa = {inp.kappa}")
    return Choice(analysed, nonlinearity, lin_info, s_used, s_source, inf, operating)


@dataclass
class Measured:
    """Stage 3 (:func:`measure_stage`): Algorithm 1 at the user's alpha and the probe run."""

    phi: np.ndarray
    vm: Any  # emt.analysis.VariableMemories, or None where Algorithm 1 could not run
    alg1: dict[str, Any]
    threshold: float  # the modulus threshold the metrics use
    probe: dict[str, Any]
    contents: np.ndarray | None
    decoding: Any
    spectrum: Any  # emt.analysis.spectrum_report of the analysed W_hh


def _algorithm1_summary(inp: Input, f3) -> dict[str, Any]:
    """What report.json says of Algorithm 1 at the user's alpha (``f3``: a Figure3)."""
    from emt import metrics

    alg1: dict[str, Any] = {
        "alpha": inp.alpha, "error": f3.memories_error, "threshold_for_metrics": f3.cut
    }  # fmt: skip
    vm = f3.memories
    if vm is not None:
        d = vm.diagnostics
        alg1.update(
            select=d.select, n_above_threshold=d.n_above_threshold, n_kept=d.n_kept,
            cutoff=d.cutoff, gap=d.gap, psi_condition=d.psi_condition,
            basis_condition=d.basis_condition, warnings=list(d.warnings), n_pca=vm.n_pca,
            block_report={k: v for k, v in f3.main.items() if k not in metrics.PROBE_KEYS},
        )  # fmt: skip
    return alg1


def measure_stage(inp: Input, choice: Choice) -> Measured:
    """Algorithm 1 at the user's alpha, the probe of Figure 3D, and the spectrum (Figure 3B).

    One call of :func:`emt.metrics.figure3` with ``select="auto"``: the threshold of 1 when at
    least s*kappa eigenvalues reach it, else the s*kappa largest (:func:`emt.analysis.memory_cut`).
    """
    from emt import circuits, metrics

    s = choice.s
    u_probe, x_probe, probe_name = _probe_input(s, inp.kappa)
    f3 = metrics.figure3(
        choice.analysed, s, seed=inp.seed, alpha=inp.alpha, select="auto",
        nonlinearity=choice.nonlinearity, inputs={"probe": (u_probe, x_probe)},
    )  # fmt: skip
    probe: dict[str, Any] = {"input": probe_name, "steps": int(u_probe.shape[0])}
    if f3.probe is not None:
        target = x_probe[np.arange(u_probe.shape[0]) % s]
        probe.update(
            bit_accuracy=f3.probe.bit_accuracy,
            all_signs_ok=f3.probe.all_signs_ok,
            min_cosine=f3.probe.min_cosine,
            output_sign_accuracy=float(np.mean(np.sign(f3.probe_outputs) == target)),
        )
    phi = circuits.repeat_copy_phi(s, inp.kappa)
    return Measured(
        phi, f3.memories, _algorithm1_summary(inp, f3), f3.cut, probe, f3.probe_contents,
        f3.probe, f3.spectrum,
    )  # fmt: skip


def nulls_stage(inp: Input, choice: Choice, measured: Measured, say: Say, bar: bool = False):
    """The network's metrics beside ``inp.null_draws`` draws of every null model; the verdict.

    :func:`emt.nulls.null_draws` with the analysed matrix, s, the probe dynamics and the modulus
    cut of :func:`measure_stage`; Figure 3B's p-value is the inference's for this s
    (:func:`emt.analysis.infer_s_kappa` restricted to it). ``bar``: a progress bar on stderr.
    """
    from emt import _io, analysis, nulls

    n_models = len(nulls.DRAWN_MODELS)
    total = n_models * inp.null_draws
    say(f"measuring the network and {inp.null_draws} draws of {n_models} null models ...")
    progress_bar = _io.progress_bar(
        total, enabled=bar, desc="null draws", unit="draw", file=sys.stderr, leave=False
    )
    step = max(1, total // 6)
    done = iter(range(1, total + 1))

    def progress(name: str) -> None:
        progress_bar.update(1)
        k = next(done)
        if k % step == 0 or k == total:
            say(f"  {k}/{total} draws ({name})")

    try:
        metrics = nulls.null_draws(
            choice.analysed, choice.s, inp.seed, inp.null_draws,
            nonlinearity=choice.nonlinearity, threshold=measured.threshold, progress=progress,
        )  # fmt: skip
    except ValueError as exc:
        raise BadInput(f"the metrics cannot be computed: {exc}") from None
    finally:
        progress_bar.close()
    spec = analysis.infer_s_kappa(
        choice.analysed["W_hh"], s_range=(choice.s, choice.s), kappa=inp.kappa
    )
    spectrum_p = spec.p_value if not spec.refused else 1.0
    say("metrics measured")
    return metrics, verdict(metrics, choice.s, spectrum_p=spectrum_p)


def _where(inp: Input) -> str:
    return "any candidate matrix (W_hh and two linearisations)" if inp.has_bias else "W_hh"


#: What is analysed, by the name of the chosen candidate of :data:`OPERATING_CRITERION`.
ANALYSED = {
    "W_hh": "W_hh, W_uh, W_r of the network itself (tanh dynamics with its biases)",
    "linearisation": "the linearised triple (J, B, W_r) at the network's fixed or operating point",
    "trajectory_mean": "the Jacobian averaged over the network's recall, (D W_hh, D W_uh, W_r)",
}


def _analysed_text(inp: Input, choice: Choice) -> str:
    if not inp.has_bias:
        return "W_hh, W_uh, W_r"
    return ANALYSED[choice.operating["chosen"]]


def _input_dict(inp: Input) -> dict[str, Any]:
    w = inp.weights
    return {
        **inp.info, "n_h": inp.n_h, "kappa": inp.kappa, "has_hidden_bias": inp.has_bias,
        "hidden_bias_norm": float(np.linalg.norm(w.get("b_h", np.zeros(1)))),
        "readout_bias_norm": float(np.linalg.norm(w.get("b_r", np.zeros(1)))),
        "nonlinearity": "tanh (assumed: it cannot be read from the weights)",
    }  # fmt: skip


def _report_dict(inp: Input, choice: Choice, m: Measured, metrics, verdict_, figs) -> dict:
    spec, n_mem = m.spectrum, choice.s * inp.kappa
    inf = choice.inference
    return {
        "report_format": REPORT_FORMAT,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": _input_dict(inp),
        "s_kappa": {
            "s": choice.s, "kappa": inp.kappa, "source": choice.s_source,
            "p_value": inf.p_value if choice.s_source == "inferred" else None,
            "evidence": inf.evidence(), "inference": _sk_dict(inf), "checkpoint_s": inp.hint_s,
        },
        "linearisation": choice.lin_info,
        "analysed": _analysed_text(inp, choice),
        "operating_point": choice.operating,
        "probe_dynamics": choice.nonlinearity,
        "seed": inp.seed,
        "algorithm1": m.alg1,
        "spectrum": {
            "counts": spec.counts, "mean_angular_error_deg": spec.mean_angular_error_deg,
            "max_angular_error_deg": spec.max_angular_error_deg, "gap": spec.gap,
            "largest_moduli": np.abs(spec.eigenvalues[: n_mem + 5]),
        },
        "probe": m.probe,
        "metrics": {"network": metrics["trained"], "null_draws": inp.null_draws,
                    "nulls": {k: v for k, v in metrics.items() if k != "trained"}},
        "verdict": verdict_,
        "figures": {k: FIGURES[k] for k in figs},
        "versions": _versions(),
    }  # fmt: skip


def render_stage(inp: Input, choice: Choice, measured: Measured, metrics, verdict_) -> dict:
    """Figures 3A, 3B, 3D, report.json and report.md, written atomically into ``inp.out``."""
    import matplotlib.pyplot as plt

    from emt.plotting import analysis as plots

    s, kappa, m = choice.s, inp.kappa, measured
    spec, figs = m.spectrum, {}
    try:
        figs["3B"] = plots.spectrum(
            spec.eigenvalues, np.linalg.eigvals(m.phi), s, spec.counts, s * kappa
        )
        if m.vm is not None:
            figs["3A"] = plots.basis_matrix(m.vm.phi_learned, m.phi, s, kappa)
        if m.contents is not None:
            figs["3D"] = plots.memory_states(m.contents, s, kappa, m.decoding.slots, mu=1)
        report = _jsonable(_report_dict(inp, choice, m, metrics, verdict_, figs))
        _write(inp.out, report, _markdown(report), figs)
    finally:
        for f in figs.values():
            plt.close(f)
    report["out"] = str(inp.out)
    return report


def render_no_circuit(inp: Input, choice: Choice) -> dict:
    """report.json and report.md for a network without s and kappa: the verdict and the evidence.

    Chapter "Analyse your own network", section "What it refuses" (``sec-an-refuses``): a valid
    Elman RNN that does something else (or nothing yet) gets a report, not an error.
    """
    inf, w = choice.inference, choice.analysed["W_hh"]
    moduli = np.sort(np.abs(np.linalg.eigvals(w)))[::-1]
    where = _where(inp)
    reason = inf.reason if inf.refused else (
        f"the inferred kappa = {inf.kappa} is not the width {inp.kappa} of W_uh"
    )  # fmt: skip
    verdict_ = {
        "present": "no", "n_passed": 0, "criteria": [],
        "line": f"{NO_CIRCUIT} (no s and kappa in the spectrum of {where}: {reason})",
    }  # fmt: skip
    report = {
        "report_format": REPORT_FORMAT,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": _input_dict(inp),
        "s_kappa": {
            "s": None, "kappa": inp.kappa, "source": NOT_FOUND, "p_value": None,
            "evidence": inf.evidence(), "inference": _sk_dict(inf), "checkpoint_s": inp.hint_s,
        },
        "linearisation": choice.lin_info,
        "analysed": _analysed_text(inp, choice),
        "operating_point": choice.operating,
        "probe_dynamics": choice.nonlinearity, "seed": inp.seed, "algorithm1": None,
        "spectrum": {"largest_moduli": moduli[:20]}, "probe": None, "metrics": None,
        "verdict": verdict_, "figures": {}, "versions": _versions(),
    }  # fmt: skip
    report = _jsonable(report)
    _write(inp.out, report, _markdown(report), {})
    report["out"] = str(inp.out)
    return report


def analyze(
    source,
    *,
    s: int | None = None,
    kappa: int | None = None,
    alpha: float = 0.5,
    keys=None,
    out=None,
    null_draws: int | None = None,
    progress: bool | Say = True,
    bar: bool = False,
) -> dict:
    """Analyse a user's Elman RNN: s and kappa, Algorithm 1, every Figure 3 metric and its nulls.

    Chapter "Analyse your own network"; paper Sec. 6 (Algorithm 1), Sec. 7 (Figure 3)
    and App. C (bias). ``source`` is a file (:func:`load_weights`) or a weights dict;
    ``s`` (default: inferred by :func:`emt.analysis.infer_s_kappa`, else the ``s`` stored in an
    :mod:`emt.rnn` checkpoint) and ``kappa`` (default and only allowed value: the columns of
    ``W_uh``) fix the memories; ``alpha`` weighs the two estimates of Eq. 14-15 for the figures
    and the headline block report (the metrics are measured at alpha = 0, 1/2 and 1). For a network
    with a non-zero hidden bias, the matrix analysed is chosen among W_hh (with the network's own
    tanh dynamics), its linearisation (:func:`emt.linearise.linearise`, App. C) and the Jacobian
    averaged over its recall (both with probe runs of the linear system) by
    :data:`OPERATING_CRITERION`; every candidate's scores are in ``report["operating_point"]``.
    Every null model of :data:`emt.nulls.DRAWN_MODELS` is drawn ``null_draws`` times (default
    :data:`emt.nulls.NULL_DRAWS`) and the verdict ranks the network among the draws
    (:func:`emt.report.verdict`).

    The stages, each a function of this module: :func:`load_stage` (read and check),
    :func:`choose_stage` (what is analysed, and s), :func:`measure_stage` (Algorithm 1, the
    probe, the spectrum), :func:`nulls_stage` (every metric beside its null models, the
    verdict) and :func:`render_stage` (figures and files).

    Writes into ``out`` (default ``emt-report-<file stem>``; ``None`` with a dict source:
    ``emt-report-weights``) atomically: the directory is built beside it and renamed, so a failure
    leaves nothing half-written; an existing report directory is replaced, anything else there is
    refused. Files: ``report.json`` (:func:`analyze`'s return value), ``report.md`` and the PNGs
    of :data:`FIGURES`. ``progress``: a callable that receives one line per step (the CLI prints
    them), True to send the lines to the ``emt.report`` logger, False for none; ``bar``: a
    progress bar of the null draws on stderr. Returns the
    report as a dict (``"out"``: the directory). A valid network in whose spectrum no s and kappa
    are found (and none is given) gets a report whose verdict is :data:`NO_CIRCUIT`
    (:func:`render_no_circuit`). Raises :class:`BadInput` (before writing anything) for input
    that cannot be analysed: unreadable files, networks that are not one-layer tanh Elman RNNs,
    bad options.
    """
    say = _reporter(progress)
    inp = load_stage(
        source, s=s, kappa=kappa, alpha=alpha, keys=keys, out=out, null_draws=null_draws
    )
    say(
        f"loaded {inp.info['path'] or 'weights dict'} ({inp.info['format']}): N_h = {inp.n_h}, "
        f"kappa = {inp.kappa}, {'hidden bias' if inp.has_bias else 'no hidden bias'}"
    )
    choice = choose_stage(inp, say)
    if choice.s is None:
        return render_no_circuit(inp, choice)
    measured = measure_stage(inp, choice)
    metrics, verdict_ = nulls_stage(inp, choice, measured, say, bar)
    return render_stage(inp, choice, measured, metrics, verdict_)
