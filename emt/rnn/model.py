"""The Elman RNN of the paper's Eq. 6 as a torch module, and its numpy simulation.

Chapter "Training the Elman RNN" (book/training.md); paper Sec. 5.1, Eq. 6.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from emt import elman
from emt._validate import positive_int as _positive_int
from emt.rnn.config import _ENGINES, _INITS


class _TanhRecurrence(torch.autograd.Function):
    """h(t) = tanh(x(t) + W_hh h(t-1)), h(-1) = 0, with a hand-written backward pass (BPTT).

    Chapter "Training the Elman RNN", section ``sec-tr-engine``. ``x`` is time-major
    ``(T, batch, hidden)`` and already holds ``W_uh u(t)`` and the biases. The time loops keep
    only what must be sequential (one product and one elementwise operation per step, into
    preallocated storage); the gradient of ``W_hh``, a sum over all steps, is one large
    product after the loop instead of one small product per step.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
        h = torch.empty_like(x, memory_format=torch.contiguous_format).copy_(x)
        steps = h.unbind(0)  # views: each step is updated in place, no copies
        w_t = w_hh.t()
        steps[0].tanh_()
        for t in range(1, len(steps)):
            steps[t].addmm_(steps[t - 1], w_t).tanh_()
        ctx.save_for_backward(h, w_hh)
        return h

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w_hh = ctx.saved_tensors
        slope = (1.0 - h * h).unbind(0)  # tanh' at every step, all at once
        g = torch.empty_like(h).copy_(grad_h)  # becomes the gradient of the pre-activation
        steps = g.unbind(0)
        last = len(steps) - 1
        steps[last].mul_(slope[last])
        for t in range(last - 1, -1, -1):
            steps[t].addmm_(steps[t + 1], w_hh).mul_(slope[t])
        n = h.shape[-1]
        grad_w = g[1:].reshape(-1, n).t() @ h[:-1].reshape(-1, n)
        return g, grad_w


class ElmanRNN(torch.nn.Module):
    """Elman RNN of the paper's Eq. 6 (chapter "Training the Elman RNN").

    h(t+1) = tanh(W_hh h(t) + W_uh u(t)) [+ b_h], y(t) = W_r h(t+1) [+ b_r], h(0) = 0. The
    recurrence is torch's fused ``torch.nn.RNN`` (tanh); ``forward(u)`` takes u of shape
    (batch, T, kappa) and returns ``(y, h)`` with y of shape (batch, T, kappa) and h of shape
    (batch, T, hidden), where ``h[:, k]`` is the state after reading ``u[:, k]``.

    ``init="orthogonal"`` draws W_hh as a random orthogonal matrix, ``"pytorch"`` keeps torch's
    uniform(-1/sqrt(hidden), 1/sqrt(hidden)); W_uh and W_r are always uniform on that interval
    and biases start at zero. ``seed`` makes the initial weights reproducible without touching
    torch's global random state. ``engine="bptt"`` computes the recurrence (forward and
    gradient) by the hand-written :class:`_TanhRecurrence` instead of ``torch.nn.RNN``: the
    same function and the same parameters, faster to train, equal to rounding.
    """

    def __init__(
        self,
        kappa: int,
        hidden: int,
        bias: bool = False,
        init: str = "orthogonal",
        seed: int | None = None,
        engine: str = "rnn",
    ) -> None:
        _positive_int("kappa", kappa)
        if engine not in _ENGINES:
            raise ValueError(f"engine must be one of {_ENGINES}, got {engine!r}")
        _positive_int("hidden", hidden)
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        super().__init__()
        self.kappa, self.hidden, self.bias = int(kappa), int(hidden), bool(bias)
        self.engine = engine
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
        if self.engine == "bptt":
            h = self._bptt_states(u)
        else:
            h, _ = self.rnn(u)
        return self.readout(h), h

    def _bptt_states(self, u: torch.Tensor) -> torch.Tensor:
        """The hidden states by :class:`_TanhRecurrence` (``engine="bptt"``), batch-first."""
        r = self.rnn
        batch, steps, _ = u.shape
        x = u.transpose(0, 1).reshape(steps * batch, self.kappa) @ r.weight_ih_l0.t()
        x = x.reshape(steps, batch, self.hidden)
        if self.bias:
            x = x + (r.bias_ih_l0 + r.bias_hh_l0)
        return _TanhRecurrence.apply(x, r.weight_hh_l0).transpose(0, 1)

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


def engine_gradient_gap(
    kappa: int, hidden: int, steps: int, *, bias: bool, seed: int = 0, batch: int = 8
) -> float:
    """Largest gradient difference between the two engines, relative to the largest gradient.

    Chapter "Training the Elman RNN", section ``sec-tr-engine``. Two networks with the same
    initial weights (``seed``; biases set to 0.1 where ``bias``, so that their gradients count),
    one with ``nn.RNN`` and one with the hand-written BPTT, take the squared error of their
    outputs against seeded random inputs of ``steps`` steps; returns, over every parameter,
    the largest ``max |grad_rnn - grad_bptt| / max |grad_rnn|``: rounding only, if the
    engines compute the same gradient.
    """
    pair = [ElmanRNN(kappa, hidden, bias=bias, seed=seed, engine=e) for e in _ENGINES]
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, steps, kappa, generator=gen)
    for m in pair:
        with torch.no_grad():
            for name, p in m.named_parameters():
                if "bias" in name:
                    p.fill_(0.1)
        out, _ = m(u)
        torch.mean((out - u) ** 2).backward()
    return max(
        ((a.grad - b.grad).abs().max() / a.grad.abs().max()).item()
        for a, b in zip(pair[0].parameters(), pair[1].parameters())
    )


#: The numpy forward pass, re-exported: the one implementation lives in :mod:`emt.elman`.
simulate = elman.simulate
