"""The Elman RNN in numpy: its weight set, one step, a run, and the Jacobian of a step.

Chapter "Training the Elman RNN" (the model, paper Eq. 6) and chapter "Networks with bias"
(the Jacobian at a state, paper App. C, Eq. 35-37). This is the one forward pass that every
analysis in ``emt`` uses; the torch model of :mod:`emt.rnn` computes the same map
(``tests/test_elman.py`` checks both on random weights to 1e-12 in float64). It imports no
torch, so an ``.npz`` can be analysed without it.

The model, in the time convention of :mod:`emt.tasks`::

    h[k] = tanh(W_hh h[k-1] + W_uh u[k] + b_h),   h[-1] = h0 (zero by default),
    y[k] = W_r h[k] + b_r,

so ``h[k]`` is the paper's h(k+1); the biases are optional (absent means zero), and
``nonlinearity="linear"`` drops the tanh (the linear RNN of the repeat-copy chapters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: The matrices of a weight set, and the optional biases.
MATRICES = ("W_hh", "W_uh", "W_r")
BIASES = ("b_h", "b_r")
NONLINEARITIES = ("tanh", "linear")


def check_weights(
    weights: Any,
    finite: bool = False,
    require: tuple[str, ...] = MATRICES,
    outputs_match_inputs: bool = True,
) -> dict[str, np.ndarray]:
    """Check an Elman RNN's weight set and return it as float arrays: the one check of ``emt``.

    ``weights`` maps names to arrays: ``W_hh`` (n_h, n_h), ``W_uh`` (n_h, kappa), ``W_r``
    (kappa, n_h), and optionally ``b_h`` (n_h,) and ``b_r`` (kappa,). The names in ``require``
    must be present (by default the three matrices; ``("W_hh", "b_h")`` for the recurrence
    alone). With ``outputs_match_inputs=False`` the read-out may have another number of outputs
    than there are inputs (a general linear task). Raises ValueError that names the argument when
    ``weights`` is not a mapping, a required array is missing, a shape does not fit, or (with
    ``finite``) an entry is NaN or infinite. Other keys pass through unchanged.
    """
    if not isinstance(weights, Mapping):
        raise ValueError(
            f"weights must be a dict with {', '.join(require)}, got {type(weights).__name__}"
        )
    missing = [k for k in ("W_hh", *require) if k not in weights]
    if missing:
        raise ValueError(f"weights is missing {sorted(set(missing), key=missing.index)}")
    w = dict(weights)
    for k in (*MATRICES, *BIASES):
        if k in w:
            w[k] = np.asarray(w[k], dtype=float)
    if finite:
        bad = [k for k in (*MATRICES, *BIASES) if k in w and not np.all(np.isfinite(w[k]))]
        if bad:
            raise ValueError(f"{', '.join(bad)} contain non-finite entries")
    for k in MATRICES:
        if k in w and w[k].ndim != 2:
            raise ValueError(f"{k} must be a 2-D array, got shape {w[k].shape}")
    W_hh = w["W_hh"]
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1] or W_hh.shape[0] == 0:
        raise ValueError(f"W_hh must be square (hidden x hidden), got shape {W_hh.shape}")
    n = W_hh.shape[0]
    kappa = None
    if "W_uh" in w:
        if w["W_uh"].ndim != 2 or w["W_uh"].shape[0] != n or w["W_uh"].shape[1] == 0:
            raise ValueError(f"W_uh must have shape ({n}, kappa), got {w['W_uh'].shape}")
        kappa = w["W_uh"].shape[1]
    n_out = None
    if "W_r" in w:
        W_r = w["W_r"]
        if outputs_match_inputs and kappa is not None:
            if W_r.shape != (kappa, n):
                raise ValueError(f"W_r must have shape ({kappa}, {n}), got {W_r.shape}")
        elif W_r.ndim != 2 or W_r.shape[1] != n or W_r.shape[0] == 0:
            raise ValueError(f"W_r must have shape (n_out, {n}), got {W_r.shape}")
        n_out = W_r.shape[0]
    if "b_h" in w and w["b_h"].shape != (n,):
        raise ValueError(f"b_h must have shape ({n},), got {w['b_h'].shape}")
    if "b_r" in w:
        size = n_out if n_out is not None else kappa
        if w["b_r"].ndim != 1 or (size is not None and w["b_r"].shape != (size,)):
            raise ValueError(f"b_r must have shape ({size},), got {w['b_r'].shape}")
    return w


def _activation(nonlinearity: str):
    if nonlinearity == "tanh":
        return np.tanh
    if nonlinearity == "linear":
        return lambda x: x
    raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")


def step(weights: Mapping[str, np.ndarray], h, u, nonlinearity: str = "tanh") -> np.ndarray:
    """One step ``tanh(W_hh h + W_uh u + b_h)`` of a checked weight set; ``h``, ``u`` may be batched.

    Chapter "Training the Elman RNN" (paper Eq. 6). ``h`` has shape (..., n_h) and ``u``
    (..., kappa); ``weights`` as returned by :func:`check_weights`.
    """
    a = (
        np.asarray(h, dtype=float) @ weights["W_hh"].T
        + np.asarray(u, dtype=float) @ weights["W_uh"].T
    )
    if "b_h" in weights:
        a = a + weights["b_h"]
    return _activation(nonlinearity)(a)


def states(weights: Mapping[str, Any], u, h0=None, nonlinearity: str = "tanh") -> np.ndarray:
    """The hidden states of a run on inputs ``u`` in float64 (no read-out needed).

    Chapter "Training the Elman RNN" (paper Eq. 6). ``u`` has shape (T, kappa) or
    (batch, T, kappa); returns ``h`` of shape (..., T, n_h), ``h[k]`` being the paper's h(k+1).
    ``h0`` is the state before the first input (zero by default), of shape (n_h,) or
    (batch, n_h). ``weights`` needs ``W_hh`` and ``W_uh`` (``b_h`` if the network has one).
    """
    w = check_weights(weights, require=("W_hh", "W_uh"), outputs_match_inputs=False)
    act = _activation(nonlinearity)
    u = np.asarray(u, dtype=float)
    n, kappa = w["W_uh"].shape
    if u.ndim not in (2, 3) or u.shape[-1] != kappa:
        raise ValueError(f"u must have shape (T, {kappa}) or (batch, T, {kappa}), got {u.shape}")
    single = u.ndim == 2
    if single:
        u = u[None]
    batch, T, _ = u.shape
    state = np.zeros((batch, n))
    if h0 is not None:
        h0 = np.asarray(h0, dtype=float)
        if h0.shape not in ((n,), (batch, n)):
            raise ValueError(f"h0 must have shape ({n},) or ({batch}, {n}), got {h0.shape}")
        state = state + h0
    drive = u @ w["W_uh"].T
    if "b_h" in w:
        drive = drive + w["b_h"]
    W_hh_T = w["W_hh"].T
    h = np.zeros((batch, T, n))
    for k in range(T):
        state = act(state @ W_hh_T + drive[:, k])
        h[:, k] = state
    return h[0] if single else h


def simulate(
    weights: Mapping[str, Any], u, h0=None, nonlinearity: str = "tanh"
) -> tuple[np.ndarray, np.ndarray]:
    """Run the Elman RNN on inputs ``u`` in float64; returns ``(h, y)``.

    Chapter "Training the Elman RNN" (paper Eq. 6). As :func:`states`, with the read-out
    ``y[k] = W_r h[k] + b_r`` of shape (..., T, n_out), which on repeat copy should equal
    u[k mod s]. Raises ValueError on weights or inputs of the wrong shape.
    """
    w = check_weights(weights)
    h = states(w, u, h0=h0, nonlinearity=nonlinearity)
    y = h @ w["W_r"].T
    if "b_r" in w:
        y = y + w["b_r"]
    return h, y


def jacobian(W_hh, b, h) -> np.ndarray:
    """The Jacobian ``diag(1 - tanh(W_hh h + b)^2) W_hh`` of the zero-input step at state ``h``.

    Chapter "Networks with bias" (paper App. C, Eq. 36-37: at a fixed point h* the factor is
    ``1 - h*^2``). ``b`` is the hidden bias (zeros for a bias-free network).
    """
    w = check_weights({"W_hh": W_hh, "b_h": b}, finite=True, require=("W_hh", "b_h"))
    n = w["W_hh"].shape[0]
    h = np.asarray(h, dtype=float)
    if h.shape != (n,):
        raise ValueError(f"h must have shape ({n},), got {h.shape}")
    d = 1.0 - np.tanh(w["W_hh"] @ h + w["b_h"]) ** 2
    return d[:, None] * w["W_hh"]
