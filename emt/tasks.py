"""Tasks as data: sequence generators for the chapters and for training.

Conventions (used by every chapter): a sequence has T time steps indexed
k = 0, ..., T-1; the input phase is k < s, the output phase k >= s, where the
input is the zero vector. For repeat copy the target at every step is
y[k] = u[k mod s]: during the input phase the network echoes the vector it has
just written (the reader sees the writer's slot), afterwards it recalls the
input with period s (paper Sec. 5.1, Eq. 5; Sec. 5.2, Eq. 12-13).
"""

from __future__ import annotations

import numpy as np

_VALUE_KINDS = ("pm1", "01", "real")


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def random_vectors(shape: tuple[int, ...], rng: np.random.Generator, values: str = "pm1") -> np.ndarray:
    """Random input vectors: 'pm1' bits in {-1, +1}, '01' bits in {0, 1}, or 'real' standard normal."""
    if values == "pm1":
        return rng.integers(0, 2, size=shape).astype(float) * 2.0 - 1.0
    if values == "01":
        return rng.integers(0, 2, size=shape).astype(float)
    if values == "real":
        return rng.standard_normal(shape)
    raise ValueError(f"values must be one of {_VALUE_KINDS}, got {values!r}")


def repeat_copy_batch(
    batch: int, s: int, kappa: int, n_out: int, rng: np.random.Generator, values: str = "pm1"
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of repeat-copy sequences (chapters "Linear repeat copy" and "Training"; paper Eq. 5, 12).

    Returns ``(u, y)``, both of shape ``(batch, s + n_out, kappa)``: ``u[:, :s]`` holds
    the s input vectors and ``u[:, s:]`` is zero; ``y[:, k] = u[:, k mod s]``.
    """
    _check_sizes(batch=batch, s=s, kappa=kappa)
    if not isinstance(n_out, (int, np.integer)) or n_out < 0:
        raise ValueError(f"n_out must be a non-negative integer, got {n_out!r}")
    x = random_vectors((batch, s, kappa), rng, values)
    u = np.zeros((batch, s + n_out, kappa))
    u[:, :s] = x
    y = x[:, np.arange(s + n_out) % s]
    return u, y
