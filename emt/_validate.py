"""Argument checks shared by the emt modules: each raises a ValueError that names the argument."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def positive_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise ValueError unless it is a positive integer (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_ints(**values) -> None:
    """Check several positive integers at once, given as keyword arguments."""
    for name, value in values.items():
        positive_int(name, value)


def matrix(a, name: str, finite: bool = False) -> np.ndarray:
    """Return ``a`` as a 2-D float array, or raise ValueError (also on non-finite entries if ``finite``)."""
    a = np.asarray(a, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {a.shape}")
    if finite and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite entries")
    return a


def non_negative(name: str, value) -> float:
    """Return ``value`` as a float, or raise ValueError naming ``name`` unless finite and >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}") from None
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return v


def threshold(value) -> float:
    """Return a modulus threshold as a float, or raise ValueError unless finite and >= 0."""
    return non_negative("threshold", value)


def rnn_weights(weights: Any, finite: bool = False) -> dict[str, np.ndarray]:
    """Check an Elman RNN's weights (W_hh, W_uh, W_r [, b_h, b_r]) and return them as float arrays.

    Raises ValueError when ``weights`` is not a mapping, lacks a matrix, or the shapes do not fit
    (also on non-finite entries if ``finite``).
    """
    if not isinstance(weights, Mapping):
        raise ValueError(
            f"weights must be a dict with W_hh, W_uh, W_r, got {type(weights).__name__}"
        )
    missing = [k for k in ("W_hh", "W_uh", "W_r") if k not in weights]
    if missing:
        raise ValueError(f"weights is missing {missing}")
    w = {k: np.asarray(v, dtype=float) for k, v in weights.items()}
    if finite:
        bad = [k for k, v in w.items() if not np.all(np.isfinite(v))]
        if bad:
            raise ValueError(f"{', '.join(bad)} contain non-finite entries")
    W_hh, W_uh, W_r = w["W_hh"], w["W_uh"], w["W_r"]
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1]:
        raise ValueError(f"W_hh must be square (hidden x hidden), got shape {W_hh.shape}")
    n = W_hh.shape[0]
    if W_uh.ndim != 2 or W_uh.shape[0] != n:
        raise ValueError(f"W_uh must have shape ({n}, kappa), got {W_uh.shape}")
    kappa = W_uh.shape[1]
    if W_r.shape != (kappa, n):
        raise ValueError(f"W_r must have shape ({kappa}, {n}), got {W_r.shape}")
    if "b_h" in w and w["b_h"].shape != (n,):
        raise ValueError(f"b_h must have shape ({n},), got {w['b_h'].shape}")
    if "b_r" in w and w["b_r"].shape != (kappa,):
        raise ValueError(f"b_r must have shape ({kappa},), got {w['b_r'].shape}")
    return w
