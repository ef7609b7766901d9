"""Argument checks shared by the emt modules: each raises a ValueError that names the argument.

The check of an Elman RNN's weight set lives with the model, :func:`emt.elman.check_weights`.
"""

from __future__ import annotations

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
