"""Train the foreign zoo: RNNs made the way people usually make them, without emt's trainer.

    python scripts/train_zoo.py [--out book/data/zoo] [--only NAME ...]

The analysis of ``emt analyze`` (chapter "Analyse your own network") must hold on networks the
project did not shape. This script is deliberately independent of ``emt``: it imports torch and
numpy only, uses PyTorch's default initialisation, and trains the usual way (biases, inputs and
targets in {0, 1}, BCE with logits, Adam, gradient-norm clipping, a curriculum over the length of
the task). It writes one small state dict per network (``nn.RNN`` under ``rnn.``, the readout
``nn.Linear`` under ``out.``) and ``zoo.json`` with what each network is and how it was made.

Positives (repeat copy: s inputs of kappa bits, then the same s inputs repeated, input zero):

* ``rc_s8_k4_h64``: s = 8, kappa = 4, N_h = 64, with biases, {0,1}, BCE;
* ``rc_s12_k3_h96``: s = 12, kappa = 3, N_h = 96, with biases, {0,1}, BCE;
* ``rc_pm1_s8_k4_h64``: s = 8, kappa = 4, N_h = 64, no bias anywhere, inputs and targets +-1,
  squared error on the linear readout.

Negatives (valid Elman RNNs that do something else):

* ``flipflop_h64``: a 3-bit flip-flop (each output holds the sign of its channel's last pulse),
  64 units, with biases;
* ``untrained_h128``: ``nn.RNN(5, 128)`` and ``nn.Linear(128, 5)`` at PyTorch's default init;
* ``gauss_h64``: a Gaussian W_hh rescaled to spectral radius 1.05, Gaussian W_uh and W_r.

A repeat-copy stage ends when 1000 fresh sequences of its length are recalled exactly (every
bit) over 3 output periods (2 for the stages trained with 2); the curriculum is s/4 items, s/2
items, then s items trained with 2, 4 and 8 output periods. A network counts as solved when the
last stage ends; ``sequences_exact_3_periods`` is then measured on 1000 other fresh sequences.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]


class Net(nn.Module):
    """nn.RNN (tanh, one layer, batch first) and a linear readout."""

    def __init__(self, n_in: int, n_h: int, n_out: int, bias: bool = True) -> None:
        super().__init__()
        self.rnn = nn.RNN(n_in, n_h, batch_first=True, bias=bias)
        self.out = nn.Linear(n_h, n_out, bias=bias)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(u)[0])


# ------------------------------------------------------------------------------ repeat copy


def repeat_copy(rng, n: int, s: int, kappa: int, periods: int, pm1: bool):
    """Inputs (n, s + periods*s, kappa) and targets (n, periods*s, kappa) of repeat copy."""
    bits = rng.integers(0, 2, size=(n, s, kappa)).astype(np.float32)
    x = 2 * bits - 1 if pm1 else bits
    u = np.zeros((n, s + periods * s, kappa), dtype=np.float32)
    u[:, :s] = x
    y = np.tile(bits, (1, periods, 1))
    return torch.from_numpy(u), torch.from_numpy(y)


def recalled(net: Net, rng, s: int, kappa: int, pm1: bool, n: int = 1000, periods: int = 3):
    """Fraction of n fresh sequences whose every output bit is right over ``periods`` periods."""
    u, y = repeat_copy(rng, n, s, kappa, periods, pm1)
    with torch.no_grad():
        z = net(u)[:, s:]
    right = (z > 0) == (y > 0.5)
    return float(right.all(dim=(1, 2)).float().mean())


def train_repeat_copy(s, kappa, n_h, seed, pm1=False, max_steps=40_000, check_every=200):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    check_rng = np.random.default_rng(seed + 10_000)
    net = Net(kappa, n_h, kappa, bias=not pm1)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = nn.MSELoss() if pm1 else nn.BCEWithLogitsLoss()
    stages = [(max(1, s // 4), 2), (max(1, s // 2), 2), (s, 2), (s, 4), (s, 8)]
    stage, step, t0 = 0, 0, time.perf_counter()
    while step < max_steps:
        length, periods = stages[stage]
        u, y = repeat_copy(rng, 64, length, kappa, periods, pm1)
        z = net(u)[:, length:]
        target = 2 * y - 1 if pm1 else y
        loss = loss_fn(z, target)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        check = min(periods, 3)  # a 2-period stage is not asked to extrapolate to a third
        if (
            step % check_every == 0
            and recalled(net, check_rng, length, kappa, pm1, periods=check) == 1.0
        ):
            stage += 1
            print(f"  step {step}: stage {stage} of {len(stages)} done", flush=True)
            if stage == len(stages):
                break
    final = recalled(net, np.random.default_rng(seed + 20_000), s, kappa, pm1)
    return net, {
        "task": "repeat copy",
        "s": s,
        "kappa": kappa,
        "hidden": n_h,
        "seed": seed,
        "bias": not pm1,
        "encoding": "pm1" if pm1 else "01",
        "loss": "MSE" if pm1 else "BCE with logits",
        "steps": step,
        "solved": stage == len(stages),
        "sequences_exact_3_periods": final,
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }


# ------------------------------------------------------------------------------- negatives


def flip_flop(rng, n: int, T: int, bits: int, p: float = 0.05):
    """Pulses of +-1 on each channel with probability p; the target holds the last pulse."""
    pulse = rng.random((n, T, bits)) < p
    sign = np.where(rng.random((n, T, bits)) < 0.5, -1.0, 1.0)
    u = (pulse * sign).astype(np.float32)
    y = np.zeros_like(u)
    state = np.zeros((n, bits), dtype=np.float32)
    for t in range(T):
        state = np.where(pulse[:, t], sign[:, t], state)
        y[:, t] = state
    return torch.from_numpy(u), torch.from_numpy(y)


def train_flip_flop(n_h=64, bits=3, seed=0, steps=3000):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Net(bits, n_h, bits)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        u, y = flip_flop(rng, 64, 100, bits)
        loss = nn.functional.mse_loss(net(u), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    u, y = flip_flop(np.random.default_rng(seed + 20_000), 500, 200, bits)
    with torch.no_grad():
        z = net(u)
    held = y != 0  # steps after the first pulse of a channel
    acc = float(((z > 0) == (y > 0))[held].float().mean())
    return net, {
        "task": "3-bit flip-flop",
        "hidden": n_h,
        "kappa": bits,
        "seed": seed,
        "bias": True,
        "steps": steps,
        "sign_accuracy": acc,
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }


def untrained(n_in=5, n_h=128, seed=0):
    torch.manual_seed(seed)
    info = {"task": "none (untrained)", "hidden": n_h, "kappa": n_in, "seed": seed, "bias": True}
    return Net(n_in, n_h, n_in), info


def gaussian(n_h=64, kappa=4, radius=1.05, seed=0):
    rng = np.random.default_rng(seed)
    net = Net(kappa, n_h, kappa, bias=False)
    w = rng.standard_normal((n_h, n_h))
    w *= radius / np.abs(np.linalg.eigvals(w)).max()
    with torch.no_grad():
        net.rnn.weight_hh_l0.copy_(torch.from_numpy(w))
        net.rnn.weight_ih_l0.copy_(torch.from_numpy(rng.standard_normal((n_h, kappa))))
        net.out.weight.copy_(torch.from_numpy(rng.standard_normal((kappa, n_h)) / np.sqrt(n_h)))
    info = {"task": "none (Gaussian weights)", "hidden": n_h, "kappa": kappa, "seed": seed}
    return net, {**info, "bias": False, "radius": radius}


ZOO = {
    "rc_s8_k4_h64": ("positive", lambda: train_repeat_copy(8, 4, 64, seed=0)),
    "rc_s12_k3_h96": ("positive", lambda: train_repeat_copy(12, 3, 96, seed=0)),
    "rc_pm1_s8_k4_h64": ("positive", lambda: train_repeat_copy(8, 4, 64, seed=0, pm1=True)),
    "flipflop_h64": ("negative", train_flip_flop),
    "untrained_h128": ("negative", untrained),
    "gauss_h64": ("negative", gaussian),
}


def _cpu_model() -> str:
    """The CPU's model name (Linux), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "book" / "data" / "zoo"))
    p.add_argument("--only", nargs="*", choices=sorted(ZOO), help="train these networks only")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    index_path = out / "zoo.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {"networks": {}}
    for name in a.only or list(ZOO):
        kind, make = ZOO[name]
        print(f"{name} ({kind}) ...", flush=True)
        net, info = make()
        torch.save(net.state_dict(), out / f"{name}.pt")
        index["networks"][name] = {"kind": kind, **info}
        print(f"  {info}", flush=True)
    index["made_by"] = "scripts/train_zoo.py"
    index["machine"] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
    }
    index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
