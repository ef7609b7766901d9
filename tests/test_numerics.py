"""The MKL pin of ``import emt`` (emt._numerics; chapter "Training", section sec-tr-portable)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from emt import _numerics

#: Products of the shapes a training step multiplies (batch 32, 128 hidden units, 5 bits),
#: hashed: two MKL paths that round differently give different hashes.
PROBE = """
import hashlib, sys
import torch
if sys.argv[1] == "emt":
    import emt  # noqa: F401  (pins MKL's path unless MKL_CBWR is set)
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
h = hashlib.sha256()
for m, k, n in [(32, 128, 128), (128, 32, 128), (32, 5, 128), (64, 128, 128)]:
    a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
    h.update((a @ b).numpy().tobytes())
print(h.hexdigest())
"""


def _probe(env_extra: dict[str, str], import_emt: bool) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MKL_")}
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, "emt" if import_emt else "plain"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_pin_sets_avx2_where_the_cpu_has_it(monkeypatch):
    monkeypatch.setattr(_numerics, "is_x86", lambda: True)
    monkeypatch.setattr(_numerics, "cpu_flags", lambda: {"avx2", "fma", "avx"})
    env: dict[str, str] = {}
    assert _numerics.pin_mkl_branch(env) == "AVX2"
    assert env == {"MKL_CBWR": "AVX2"}


def test_pin_leaves_a_users_setting_alone(monkeypatch):
    monkeypatch.setattr(_numerics, "is_x86", lambda: True)
    monkeypatch.setattr(_numerics, "cpu_flags", lambda: {"avx2", "fma"})
    env = {"MKL_CBWR": "AUTO"}
    assert _numerics.pin_mkl_branch(env) == "AUTO"
    assert env == {"MKL_CBWR": "AUTO"}


@pytest.mark.parametrize(
    "x86, flags", [(False, {"avx2", "fma"}), (True, {"avx", "sse2"}), (True, set())]
)
def test_pin_does_nothing_where_avx2_cannot_run(monkeypatch, x86, flags):
    monkeypatch.setattr(_numerics, "is_x86", lambda: x86)
    monkeypatch.setattr(_numerics, "cpu_flags", lambda: flags)
    env: dict[str, str] = {}
    assert _numerics.pin_mkl_branch(env) == ""
    assert env == {}


@pytest.mark.skipif(
    not (_numerics.is_x86() and {"avx2", "fma"} <= _numerics.cpu_flags()),
    reason="the pin applies to x86-64 CPUs with AVX2 only",
)
@pytest.mark.slow
def test_import_emt_puts_torch_on_the_avx2_path():
    """After ``import emt`` torch's products are those of MKL's AVX2 path, bit for bit."""
    pinned = _probe({}, import_emt=True)
    assert pinned == _probe({"MKL_CBWR": "AVX2"}, import_emt=False)
    # the same as MKL restricted to AVX2 instructions, without the pin
    assert pinned == _probe({"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, import_emt=False)
    avx512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= _numerics.cpu_flags()
    if avx512 and _numerics.is_intel():
        # here MKL's own choice is AVX-512, which rounds otherwise: the pin changes something
        # (on an AMD CPU MKL keeps AVX2 by itself, so there is nothing to compare)
        assert pinned != _probe({}, import_emt=False)
