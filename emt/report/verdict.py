"""The verdict of ``emt analyze``: one criterion per panel of Figure 3, each a calibrated test.

Chapter "Analyse your own network", section "The command" (``sec-an-command``); paper Sec. 7.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from emt.analysis.spectrum import INFER_LEVEL

#: The level of the empirical p-values of Figures 3A and 3D: the trained value must be better than
#: the draws of every null model with ``p = (1 + #draws at least as good) / (n_draws + 1) <=``
#: this. A conventional 5% per null model, not a measurement; with 20 draws (the default) it asks
#: the network to beat every draw, and fewer than 19 draws can never pass.
VERDICT_LEVEL = 0.05
#: The level of Figure 3B: the spectrum's p-value against random angles
#: (:func:`emt.analysis.random_angle_pvalue`, Bonferroni-corrected), the family-wise
#: false-positive rate of :func:`emt.analysis.infer_s_kappa`, measured in
#: ``tests/test_infer.py::test_false_positive_rate``.
VERDICT_SPECTRUM_LEVEL = INFER_LEVEL
#: The metrics of the criteria: (key, True if larger is better).
CRITERION_METRICS = {
    "3A": (("block_error_a05", False),),
    "3D": (("rnd_acc_out", True), ("crosstalk_match", True)),
}


def _num(d: Mapping[str, Any], key: str) -> float:
    v = d.get(key, math.nan)
    return float(v) if isinstance(v, (int, float, np.number)) else math.nan


def _g3(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3g}"


def _draws(value) -> list[Mapping[str, Any]]:
    """A null model's rows: a list of draws, or one row (``emt.nulls.compare``)."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def empirical_p(trained: float, draws, larger_is_better: bool) -> float:
    """``(1 + #draws at least as good as trained) / (n + 1)`` over the n finite draws (NaN if none).

    Chapter "Analyse your own network" (``sec-an-command``): the rank of the trained value among
    the null model's draws, as a p-value (the smallest possible is ``1 / (n + 1)``). A trained
    value that is not finite gets p = 1.
    """
    d = np.asarray([x for x in draws if math.isfinite(x)], dtype=float)
    if d.size == 0:
        return math.nan
    if not math.isfinite(trained):
        return 1.0
    as_good = d >= trained if larger_is_better else d <= trained
    return float((1 + np.count_nonzero(as_good)) / (d.size + 1))


def spread(values) -> dict[str, float]:
    """Median and 5-95% range of the finite values (NaN where there are none), and their count."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"median": math.nan, "p05": math.nan, "p95": math.nan, "n": 0}
    p05, med, p95 = np.percentile(v, [5, 50, 95])
    return {"median": float(med), "p05": float(p05), "p95": float(p95), "n": int(v.size)}


def _ranked(m, nulls_: Mapping[str, Any], key: str, larger: bool) -> tuple[bool, str, dict]:
    """Is the trained ``key`` better than every null model's draws at :data:`VERDICT_LEVEL`?"""
    value = _num(m, key)
    tests = {}
    for name, rows in nulls_.items():
        draws = [_num(r, key) for r in _draws(rows)]
        p = empirical_p(value, draws, larger)
        if math.isfinite(p):
            tests[name] = {"p": p, **spread(draws)}
    passed = (
        bool(tests)
        and math.isfinite(value)
        and all(t["p"] <= VERDICT_LEVEL for t in tests.values())
    )
    if not tests:
        return False, f"{key} {_g3(value)}: no null model gives a value", tests
    worst = max(tests, key=lambda k: tests[k]["p"])
    t = tests[worst]
    detail = (
        f"{key} {_g3(value)}; the closest null model, {worst}: median {_g3(t['median'])} "
        f"[5-95% {_g3(t['p05'])}, {_g3(t['p95'])}] over {t['n']} draws, p = {t['p']:.2g}"
    )
    return passed, detail, tests


def _criterion_3b(m: Mapping[str, Any], s: int, spectrum_p: float | None) -> dict[str, Any]:
    counts_ok = _num(m, "spectrum_counts_ok") == 1
    p = math.nan if spectrum_p is None else float(spectrum_p)
    passed = counts_ok and math.isfinite(p) and p <= VERDICT_SPECTRUM_LEVEL
    p_txt = "n/a" if not math.isfinite(p) else ("< 1e-12" if p < 1e-12 else f"{p:.2g}")
    return {
        "figure": "3B",
        "name": "spectrum: kappa eigenvalues on every s-th root of unity",
        "passed": bool(passed),
        "detail": f"kappa in every direction: {'yes' if counts_ok else 'no'}; angles: p = {p_txt} "
        f"that random angles sit as close to the {s} directions (level {VERDICT_SPECTRUM_LEVEL:g}"
        f"); largest angular error {_g3(_num(m, 'angle_error_max_deg'))} deg",
        "p": p,
    }


def _criterion(figure: str, name: str, m, nulls_) -> dict[str, Any]:
    results = [_ranked(m, nulls_, key, larger) for key, larger in CRITERION_METRICS[figure]]
    return {
        "figure": figure,
        "name": name,
        "passed": all(r[0] for r in results),
        "detail": "; ".join(r[1] for r in results) + f" (level {VERDICT_LEVEL:g} per null model)",
        "tests": {key: r[2] for (key, _), r in zip(CRITERION_METRICS[figure], results)},
    }


def verdict(
    metrics: Mapping[str, Any], s: int, *, spectrum_p: float | None = None
) -> dict[str, Any]:
    """Does the repeat-copy circuit look present? Three tests, one per panel of Figure 3.

    Chapter "Analyse your own network" (``sec-an-command``); paper Sec. 7. ``metrics`` is
    ``{"trained": row, null: rows}`` as :func:`emt.nulls.null_draws` returns it (a list of draws
    per null model; one row per model, as :func:`emt.nulls.compare` gives, also works).

    * 3B: kappa eigenvalues in every root-of-unity direction, and ``spectrum_p`` (the p-value of
      the analysed matrix's angles for this s against random angles) at most
      :data:`VERDICT_SPECTRUM_LEVEL`; without ``spectrum_p`` the test fails.
    * 3A: the memory block at alpha = 1/2 closer to Phi (Eq. 12) than the draws of every null
      model, each at :data:`VERDICT_LEVEL` (:func:`empirical_p`);
    * 3D: the output-phase bits and the cross-talk match above the draws of every null model,
      each at :data:`VERDICT_LEVEL`.

    Null models whose draws give no value (Algorithm 1 keeps no direction in them) are left
    out of the test and listed in ``tests`` only when they do. ``present`` is "yes" (all three),
    "partly" or "no" (none); ``failed`` names the panels that fail.
    """
    m = metrics["trained"]
    nulls_ = {k: v for k, v in metrics.items() if k != "trained"}
    criteria = [
        _criterion_3b(m, s, spectrum_p),
        _criterion("3A", "memory block of W_hh in the variable-memory basis is Phi (Eq. 12)",
                   m, nulls_),
        _criterion("3D", "stored inputs are read at the memory the theory predicts", m, nulls_),
    ]  # fmt: skip
    n_ok = sum(c["passed"] for c in criteria)
    failed = [c["figure"] for c in criteria if not c["passed"]]
    present = "yes" if n_ok == 3 else ("no" if n_ok == 0 else "partly")
    line = {
        "yes": "repeat-copy circuit found (3 of 3 tests)",
        "partly": f"repeat-copy circuit partly found ({n_ok} of 3 tests; "
        f"Figure {', '.join(failed)} {'fails' if len(failed) == 1 else 'fail'})",
        "no": "the repeat-copy circuit does not look present (0 of 3 tests)",
    }[present]
    return {
        "present": present, "n_passed": n_ok, "failed": failed, "criteria": criteria,
        "line": line,
    }  # fmt: skip
