"""The verdict of ``emt analyze``: one criterion per panel of Figure 3, against the nulls.

Chapter "Analyse your own network", section "The command" (``sec-an-command``); paper Sec. 7.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: Thresholds of the verdict (see :func:`verdict`): the largest angular error of the s*kappa
#: largest eigenvalues as a fraction of the half-spacing 180/s degrees ...
VERDICT_ANGLE_FRACTION = 0.1
#: ... the largest relative error of the memory block at alpha = 1/2, and the factor by which it
#: must beat every null model ...
VERDICT_BLOCK_ERROR, VERDICT_BLOCK_FACTOR = 0.25, 0.5
#: ... and the decoding of the output phase (fraction of bits, and of inputs found in the
#: predicted memory).
VERDICT_BITS, VERDICT_CROSSTALK = 0.99, 0.9


def _num(d: Mapping[str, Any], key: str) -> float:
    v = d.get(key, math.nan)
    return float(v) if isinstance(v, (int, float, np.number)) else math.nan


def _finite_values(rows: list[Mapping[str, Any]], key: str) -> list[float]:
    return [_num(d, key) for d in rows if math.isfinite(_num(d, key))]


def _g3(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3g}"


def _criterion_3b(m: Mapping[str, Any], s: int) -> dict[str, Any]:
    half = 180.0 / s
    ang = _num(m, "angle_error_max_deg")
    counts_ok = _num(m, "spectrum_counts_ok") == 1
    return {
        "figure": "3B",
        "name": "spectrum: kappa eigenvalues on every s-th root of unity",
        "passed": bool(counts_ok and ang <= VERDICT_ANGLE_FRACTION * half),
        "detail": f"counts ok {bool(counts_ok)}, largest angular "
        f"error {_g3(ang)} deg (limit {VERDICT_ANGLE_FRACTION * half:.3g} deg)",
    }


def _criterion_3a(m: Mapping[str, Any], nulls_: list[Mapping[str, Any]]) -> dict[str, Any]:
    be, be_null = _num(m, "block_error_a05"), _finite_values(nulls_, "block_error_a05")
    passed = (
        math.isfinite(be)
        and be <= VERDICT_BLOCK_ERROR
        and all(be <= VERDICT_BLOCK_FACTOR * v for v in be_null)
    )
    return {
        "figure": "3A",
        "name": "memory block of W_hh in the variable-memory basis is Phi (Eq. 12)",
        "passed": bool(passed),
        "detail": f"block error {_g3(be)} (limit {VERDICT_BLOCK_ERROR}; null models "
        f"{', '.join(_g3(v) for v in be_null) or 'n/a'})",
    }


def _criterion_3d(m: Mapping[str, Any], nulls_: list[Mapping[str, Any]]) -> dict[str, Any]:
    bits, cross = _num(m, "rnd_acc_out"), _num(m, "crosstalk_match")
    bits_null = _finite_values(nulls_, "rnd_acc_out")
    cross_null = _finite_values(nulls_, "crosstalk_match")
    passed = (
        bits >= VERDICT_BITS
        and cross >= VERDICT_CROSSTALK
        and all(bits > v for v in bits_null)
        and all(cross > v for v in cross_null)
    )
    return {
        "figure": "3D",
        "name": "stored inputs are read at the memory the theory predicts",
        "passed": bool(passed),
        "detail": f"output-phase bits {_g3(bits)} (limit {VERDICT_BITS}; null models up to "
        f"{_g3(max(bits_null)) if bits_null else 'n/a'}), cross-talk match {_g3(cross)} "
        f"(limit {VERDICT_CROSSTALK}; null models up to "
        f"{_g3(max(cross_null)) if cross_null else 'n/a'})",
    }


def verdict(metrics: Mapping[str, Mapping[str, Any]], s: int) -> dict[str, Any]:
    """Does the repeat-copy circuit look present? Three criteria, one per panel of Figure 3.

    Chapter "Analyse your own network"; paper Sec. 7. ``metrics`` is ``{"trained": ..., null:
    ...}`` as :func:`emt.nulls.compare` returns it. 3B: kappa eigenvalues in every root-of-unity
    direction and the largest angular error below :data:`VERDICT_ANGLE_FRACTION` of the
    half-spacing; 3A: the memory block at alpha = 1/2 within :data:`VERDICT_BLOCK_ERROR` of Phi
    (Eq. 12) and below :data:`VERDICT_BLOCK_FACTOR` times every null model's; 3D: at least
    :data:`VERDICT_BITS` of the output-phase bits decoded at the predicted memory, at least
    :data:`VERDICT_CROSSTALK` of the inputs found there, and both above every null model.
    ``present`` is "yes" (all three), "partly" or "no" (none).
    """
    m = metrics["trained"]
    nulls_ = [v for k, v in metrics.items() if k != "trained"]
    criteria = [_criterion_3b(m, s), _criterion_3a(m, nulls_), _criterion_3d(m, nulls_)]
    n_ok = sum(c["passed"] for c in criteria)
    present = "yes" if n_ok == 3 else ("no" if n_ok == 0 else "partly")
    line = {
        "yes": "the repeat-copy circuit of the theory looks present (3 of 3 criteria)",
        "partly": f"the repeat-copy circuit looks partly present ({n_ok} of 3 criteria)",
        "no": "the repeat-copy circuit does not look present (0 of 3 criteria)",
    }[present]
    return {"present": present, "n_passed": n_ok, "criteria": criteria, "line": line}
