"""The report directory of ``emt analyze``: report.json, report.md and Figures 3A, 3B, 3D.

Chapter "Analyse your own network", section "The command" (``sec-an-command``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Version of the layout of ``report.json``.
REPORT_FORMAT = 1
#: Figure files of the report directory.
FIGURES = {
    "3A": "fig3a_basis.png",
    "3B": "fig3b_spectrum.png",
    "3D": "fig3d_memories.png",
}


def _write(out: Path, report: dict, md: str, figs: dict) -> None:
    """Build the report directory beside ``out`` and rename it into place."""
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    old = None
    try:
        for key, fig in figs.items():
            fig.savefig(tmp / FIGURES[key], dpi=110)
        (tmp / "report.json").write_text(
            json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        (tmp / "report.md").write_text(md, encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
            os.replace(out, old / "report")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "report").exists() and not out.exists():
            os.replace(old / "report", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


# ============================================================================ report.md

#: One line per metric for the table of report.md.
METRIC_HELP = {
    "n_eig_ge1": "eigenvalues with modulus >= threshold",
    "spectrum_counts_ok": "1 if kappa of the s\\*kappa largest point in every direction (3B)",
    "spectrum_count_excess": "eigenvalues in the wrong direction",
    "angle_error_mean_deg": "mean angle to the nearest s-th root of unity (deg)",
    "angle_error_max_deg": "largest angle to the nearest s-th root of unity (deg)",
    "spectrum_gap": "modulus ratio of eigenvalue s\\*kappa to the next (3B)",
    "block_error_a0": "memory block vs. Phi, readout (backward) estimate only, alpha = 0",
    "block_error_a1": "memory block vs. Phi, input (forward) estimate only, alpha = 1",
    "shift_error_a05": "the shift part of the memory block vs. Phi",
    "wrap_error_a05": "the wrap-around block (memory s receives memory 1) vs. Phi",
    "defect_forward_max": "shift defect of the forward estimates (forced to 0)",
    "coupling_out": "Psi_perp^* W_hh Psi relative to the memory block (forced to 0)",
    "rest": "Psi_perp^* W_hh Psi_perp relative to the memory block",
    "rnd_cos_min": "smallest cosine of the reads",
    "block_error_a05": "memory block vs. Phi of Eq. 12, alpha = 1/2 (3A)",
    "defect_backward_mean": "shift defect of the backward estimates",
    "n_pca": "principal components in Psi_perp",
    "basis_condition": "condition of [Psi; Psi_perp]",
    "coupling_in": "Psi^* W_hh Psi_perp relative to the memory block",
    "rest_radius": "spectral radius of the rest block",
    "rnd_acc_in": "bits read at the predicted memory, input phase (3D)",
    "rnd_acc_out": "bits read at the predicted memory, output phase (3D)",
    "rnd_cos_mean": "mean cosine of the reads",
    "crosstalk_match": "inputs whose strongest read is the predicted memory",
    "read_before_write": "what the memories read before their input is written",
}


def _md_text(text: str) -> str:
    """Free text for report.md: asterisks escaped, so that "s*kappa ... s*kappa" is no emphasis."""
    return str(text).replace("*", r"\*")


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.3g}"


def _md_input(r: dict) -> list[str]:
    """The report's title, verdict line, what was loaded, and s and kappa."""
    inp, sk, ver = r["input"], r["s_kappa"], r["verdict"]
    src = inp["path"] or "a weights dict"
    lines = [
        f"# emt analyze: {Path(src).name if inp['path'] else src}",
        "",
        f"**Verdict: {ver['line']}.**",
        "",
        "## What was loaded",
        "",
        (
            f"- file: `{src}` ({inp['format']}), sha256 `{inp['sha256']}`"
            if inp["path"]
            else "- source: a weights dict passed to emt.report.analyze"
        ),
        "- weights: " + ", ".join(f"{k} = `{v}`" for k, v in inp["keys"].items()),
        f"- hidden size N_h = {inp['n_h']}, input size kappa = {inp['kappa']}; nonlinearity "
        f"{inp['nonlinearity']}",
        "- hidden bias: "
        + (f"yes, norm {_fmt(inp['hidden_bias_norm'])}" if inp["has_hidden_bias"] else "none"),
        "",
        "## s and kappa",
        "",
        (
            f"s = {sk['s']}, kappa = {sk['kappa']}, {sk['source']}"
            + (f" (p = {sk['p_value']:.2g})" if sk.get("p_value") is not None else "")
            if sk["s"] is not None
            else "No s and kappa were found"
        )
        + ". The spectrum's evidence (`emt.analysis.infer_s_kappa`):",
        "",
        "```",
        sk["evidence"],
        "```",
        "",
    ]
    return lines


def _md_analysis(r: dict) -> list[str]:
    """The linearisation (for a biased network) and Algorithm 1."""
    sk, alg1 = r["s_kappa"], r["algorithm1"]
    lines: list[str] = []
    lin, op = r["linearisation"], r.get("operating_point")
    if op is not None:
        lines += [
            "## What is analysed",
            "",
            f"The network has a hidden bias, so three matrices could carry its circuit. The rule: "
            f"{op['criterion']}. Chosen: **{op['chosen']}**, that is {r['analysed']}. The "
            f"linearisations use inputs with s = {op['input_s']} ({op['input_s_source']}); the "
            f"linearisation is around its {lin['kind'].replace('_', ' ')} (one-step prediction "
            f"error {_fmt(lin['one_step_error'])}).",
            "",
            "| candidate | s | p-value | mean angle residual | kappa in every direction |",
            "|---|---|---|---|---|",
        ]
        for name, c in op["candidates"].items():
            s_txt = str(c["s"]) if not c["refused"] else "none"
            lines.append(
                f"| {name} | {s_txt} | {_fmt(c['p_value'])} | {_fmt(c['mean_fraction'])} "
                f"| {'yes' if c['counts_equal'] else 'no'} |"
            )
        lines.append("")
    if alg1 is None:
        return lines
    lines += [
        "## Algorithm 1",
        "",
        f"alpha = {alg1['alpha']:g}; "
        + (
            f"Algorithm 1 failed: {_md_text(alg1['error'])}"
            if alg1["error"]
            else f"selection '{alg1['select']}' kept {alg1['n_kept']} directions "
            f"({alg1['n_above_threshold']} with |lambda| >= 1, s\\*kappa = {sk['s'] * sk['kappa']}); "
            f"gap {_fmt(alg1['gap'])}, basis condition {_fmt(alg1['basis_condition'])}; "
            f"memory block error {_fmt(alg1['block_report'].get('block_error'))}"
        ),
        "",
    ]
    for w in alg1.get("warnings", []):
        lines.append(f"- warning: {_md_text(w)}")
    if alg1.get("warnings"):
        lines.append("")
    if alg1["threshold_for_metrics"] != 1.0:
        lines += [
            f"Fewer than s\\*kappa eigenvalues reach modulus 1, so every metric below uses the "
            f"cut {alg1['threshold_for_metrics']:.4g} instead of the threshold 1.",
            "",
        ]
    return lines


def _md_evidence(r: dict) -> list[str]:
    """The verdict's criteria and every metric beside the null models."""
    from emt import metrics

    lines = ["## Verdict", ""]
    if r["metrics"] is None:
        moduli = ", ".join(_fmt(v) for v in r["spectrum"]["largest_moduli"][:10])
        return lines + [
            f"{r['verdict']['line']}. Without s and kappa there are no variable memories to read, "
            "so Algorithm 1 and the metrics of Figure 3 are not computed. The ten largest "
            f"eigenvalue moduli: {moduli}. Pass --s S (and --kappa) to analyse the network "
            "with a repeat-copy circuit of that size all the same.",
            "",
        ]
    for c in r["verdict"]["criteria"]:
        lines.append(
            f"- Figure {c['figure']}, {c['name']}: **{'pass' if c['passed'] else 'fail'}** "
            f"({c['detail']})"
        )
    nl = r["metrics"]["nulls"]
    lines += [
        "",
        "## Metrics beside the null models",
        "",
        f"Each null model (`emt.nulls`) drawn {r['metrics'].get('null_draws', 1)} times; a cell "
        "is the median [5%, 95%] of its draws. untrained_orth / untrained_pytorch = an untrained "
        "network (orthogonal / PyTorch init), spectrum = the same eigenvalues with random "
        "eigenvectors, wrong_s = the network analysed with a wrong s, random_uh = a random W_uh, "
        "shuffled = the entries of W_hh permuted.",
        "",
    ]
    names = list(nl)
    head = "| metric | network | " + " | ".join(names) + " | meaning |"
    lines += [head, "|" + "---|" * (len(names) + 3)]
    net = r["metrics"]["network"]
    for key in metrics.METRIC_KEYS:
        vals = [_fmt(net.get(key))] + [_spread_cell(nl[n], key) for n in names]
        lines.append(f"| {key} | " + " | ".join(vals) + f" | {METRIC_HELP.get(key, '')} |")
    rows = [("network", net)] + [(n, d) for n, v in nl.items() for d in _rows(v)[:1]]
    errs = [(n, d.get("error")) for n, d in rows if d.get("error")]
    if errs:
        lines += ["", "Where a value is n/a, Algorithm 1 could not run:", ""]
        lines += [f"- {n}: {e}" for n, e in errs]
    return lines


def _rows(v) -> list:
    return list(v) if isinstance(v, list) else [v]


def _spread_cell(v, key: str) -> str:
    """The median [5%, 95%] of a null model's draws of ``key`` (one value for a single draw)."""
    from emt.report.verdict import spread

    draws = [d.get(key) for d in _rows(v)]
    draws = [float(x) for x in draws if isinstance(x, (int, float)) and not isinstance(x, bool)]
    sp = spread(draws)
    if sp["n"] == 0:
        return "n/a"
    if sp["n"] == 1:
        return _fmt(sp["median"])
    return f"{_fmt(sp['median'])} [{_fmt(sp['p05'])}, {_fmt(sp['p95'])}]"


def _md_figures(r: dict) -> list[str]:
    """The figures with their captions, and the versions."""
    probe = r["probe"] or {}
    lines = ["", "## Figures", ""] if r["figures"] else [""]
    captions = {
        "3A": "Figure 3A: W_hh in the basis [Psi; Psi_perp] (memory block outlined) beside Phi.",
        "3B": "Figure 3B: eigenvalues, with the count of the s\\*kappa largest per direction.",
        "3D": f"Figure 3D: the hidden states of {probe.get('input')} read on the variable memories; "
        f"bits decoded with the right sign: {_fmt(probe.get('bit_accuracy'))}.",
    }
    for key in ("3A", "3B", "3D"):
        if key in r["figures"]:
            lines += [f"![{captions[key]}]({r['figures'][key]})", "", f"*{captions[key]}*", ""]
    v = r["versions"]
    lines += [
        "---",
        f"emt {v['emt']}, Python {v['python']}, numpy {v['numpy']}"
        + (f", torch {v['torch']}" if "torch" in v else "")
        + f"; {r['created']}. Every number is in report.json.",
        "",
    ]
    return lines


def _markdown(r: dict) -> str:
    """report.md: the report in words (every number is in report.json)."""
    return "\n".join(_md_input(r) + _md_analysis(r) + _md_evidence(r) + _md_figures(r))


def summary(report: Mapping[str, Any]) -> str:
    """A few lines for the terminal."""
    inp, sk, ver = report["input"], report["s_kappa"], report["verdict"]
    net = report["metrics"]["network"] if report["metrics"] else None
    lines = [
        f"loaded {inp['path'] or 'weights dict'} ({inp['format']}): N_h = {inp['n_h']}, "
        f"kappa = {inp['kappa']}"
        + (
            ""
            if not report["linearisation"]
            else f", hidden bias: analysed {report['operating_point']['chosen']}"
        ),
        (
            f"s = {sk['s']}, kappa = {sk['kappa']} ({sk['source']}"
            + (f", p = {sk['p_value']:.2g}" if sk.get("p_value") is not None else "")
            + ")"
            if sk["s"] is not None
            else "s and kappa: not found"
        ),
    ]
    lines += sk["evidence"].splitlines()[1:]
    if net is not None:
        lines.append(
            f"block error (3A) {_fmt(net.get('block_error_a05'))}, output bits (3D) "
            f"{_fmt(net.get('rnd_acc_out'))}, spectrum counts ok (3B) "
            f"{_fmt(net.get('spectrum_counts_ok'))}"
        )
    lines.append(f"verdict: {ver['line']}")
    if "out" in report:
        lines.append(f"report: {Path(report['out']) / 'report.md'}")
    return "\n".join(lines)
