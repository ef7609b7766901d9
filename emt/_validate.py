"""Argument checks shared by the emt modules: each raises a ValueError that names the argument.

The check of an Elman RNN's weight set lives with the model, :func:`emt.elman.check_weights`.
"""

from __future__ import annotations

import numpy as np


def integer(name: str, value, lo: int | None = None, hi: int | None = None, what: str = "") -> int:
    """Return ``value`` as an int, or raise ValueError unless it is an integer in ``lo..hi``.

    The one integer rule of ``emt`` (bools refused; either bound may be open). The message names
    the argument and the range: "must be a positive integer" (``lo=1``), "a non-negative
    integer" (``lo=0``), "an integer >= lo" or "an integer in lo..hi"; ``what`` explains a
    bound, e.g. ``"1..s"``.
    """
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
    ok = ok and (lo is None or value >= lo) and (hi is None or value <= hi)
    if not ok:
        if hi is None and lo == 1:
            rule = "a positive integer"
        elif hi is None and lo == 0:
            rule = "a non-negative integer"
        elif hi is None:
            rule = f"an integer >= {what or lo}" + (f" = {lo}" if what else "")
        else:
            rule = f"an integer in {what or f'{lo}..{hi}'}" + (f" = {lo}..{hi}" if what else "")
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def positive_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise ValueError unless it is a positive integer (bools refused)."""
    return integer(name, value, lo=1)


def number_in(
    name: str, value, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False
) -> float:
    """Return ``value`` as a float, or raise ValueError unless it lies in the interval lo..hi.

    The one interval rule of ``emt``: ``[lo, hi]`` by default, ``(lo`` with ``lo_open`` and
    ``hi)`` with ``hi_open``; NaN and non-numbers are refused, with the interval in the message.
    """
    interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}") from None
    above = v > lo if lo_open else v >= lo
    below = v < hi if hi_open else v <= hi
    if not (above and below):  # also refuses nan
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return v


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
