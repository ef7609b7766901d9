"""The Elman RNN of the paper's Eq. 6 as a torch module, and its numpy simulation.

Chapter "Training the Elman RNN" (book/training.md); paper Sec. 5.1, Eq. 6.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from emt import elman
from emt._validate import positive_int as _positive_int
from emt.rnn.config import _INITS


class ElmanRNN(torch.nn.Module):
    """Elman RNN of the paper's Eq. 6 (chapter "Training the Elman RNN").

    h(t+1) = tanh(W_hh h(t) + W_uh u(t)) [+ b_h], y(t) = W_r h(t+1) [+ b_r], h(0) = 0. The
    recurrence is torch's fused ``torch.nn.RNN`` (tanh); ``forward(u)`` takes u of shape
    (batch, T, kappa) and returns ``(y, h)`` with y of shape (batch, T, kappa) and h of shape
    (batch, T, hidden), where ``h[:, k]`` is the state after reading ``u[:, k]``.

    ``init="orthogonal"`` draws W_hh as a random orthogonal matrix, ``"pytorch"`` keeps torch's
    uniform(-1/sqrt(hidden), 1/sqrt(hidden)); W_uh and W_r are always uniform on that interval
    and biases start at zero. ``seed`` makes the initial weights reproducible without touching
    torch's global random state.
    """

    def __init__(
        self,
        kappa: int,
        hidden: int,
        bias: bool = False,
        init: str = "orthogonal",
        seed: int | None = None,
    ) -> None:
        _positive_int("kappa", kappa)
        _positive_int("hidden", hidden)
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        super().__init__()
        self.kappa, self.hidden, self.bias = int(kappa), int(hidden), bool(bias)
        with torch.random.fork_rng(
            devices=[]
        ):  # torch's own initialisation must not move the global RNG
            self.rnn = torch.nn.RNN(
                kappa, hidden, num_layers=1, nonlinearity="tanh", bias=bias, batch_first=True
            )
            self.readout = torch.nn.Linear(hidden, kappa, bias=bias)
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        bound = 1.0 / math.sqrt(hidden)
        with torch.no_grad():
            if init == "orthogonal":
                torch.nn.init.orthogonal_(self.rnn.weight_hh_l0, generator=gen)
            else:
                self.rnn.weight_hh_l0.uniform_(-bound, bound, generator=gen)
            self.rnn.weight_ih_l0.uniform_(-bound, bound, generator=gen)
            self.readout.weight.uniform_(-bound, bound, generator=gen)
            if bias:
                self.rnn.bias_ih_l0.zero_()
                self.rnn.bias_hh_l0.zero_()
                self.readout.bias.zero_()

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if u.dim() != 3 or u.shape[-1] != self.kappa:
            raise ValueError(f"u must have shape (batch, T, {self.kappa}), got {tuple(u.shape)}")
        h, _ = self.rnn(u)
        return self.readout(h), h

    def weights(self) -> dict[str, np.ndarray]:
        """W_hh (hidden x hidden), W_uh (hidden x kappa), W_r (kappa x hidden) [, b_h, b_r] as float64."""

        def a(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().double().numpy().copy()

        w = {
            "W_hh": a(self.rnn.weight_hh_l0),
            "W_uh": a(self.rnn.weight_ih_l0),
            "W_r": a(self.readout.weight),
        }
        if self.bias:
            w["b_h"] = a(self.rnn.bias_ih_l0 + self.rnn.bias_hh_l0)
            w["b_r"] = a(self.readout.bias)
        return w


#: The numpy forward pass, re-exported: the one implementation lives in :mod:`emt.elman`.
simulate = elman.simulate
