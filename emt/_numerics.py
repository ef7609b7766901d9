"""Which floating-point path torch's matrix products take, and pinning it.

Chapter "Training the Elman RNN", section ``sec-tr-portable``.

torch on x86-64 multiplies matrices with Intel's MKL, which picks its kernels by the CPU it runs
on: AVX-512 kernels on a CPU that has them, AVX2 kernels on most others. The two round
differently, and after thousands of training steps the difference is another network (the
book's ``make test-portable`` trains under both and shows it). MKL's *conditional numerical
reproducibility* setting, the environment variable ``MKL_CBWR``, makes every CPU that can run a
named path take that one; MKL's documentation promises it for Intel CPUs and warns that on
other CPUs MKL may fall back to its own choice. :func:`pin_mkl_branch` sets ``MKL_CBWR=AVX2``
unless the variable is set already or the CPU lacks AVX2; ``import emt`` calls it.

MKL reads the variable once, at its first call in the process (measured: set after ``import
torch`` but before the first product, it takes effect; set after a product, it does not). A
script that multiplies with torch before it imports ``emt`` should set ``MKL_CBWR=AVX2`` in its
environment itself. To let MKL choose, set ``MKL_CBWR=AUTO`` before importing ``emt``.

numpy uses OpenBLAS, which is not affected; the book's stored outputs are made independent of
OpenBLAS's kernel in another way (they print what an assertion decided, not rounding digits).
"""

from __future__ import annotations

import os
import platform
from collections.abc import MutableMapping
from pathlib import Path

#: The MKL path that :func:`pin_mkl_branch` selects.
PINNED_BRANCH = "AVX2"


def cpu_flags() -> set[str]:
    """The CPU's feature flags as ``/proc/cpuinfo`` names them (empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def is_intel() -> bool:
    """Whether ``/proc/cpuinfo`` names an Intel CPU (True where it cannot be read).

    MKL takes its AVX-512 path by itself only on Intel CPUs; on an AMD EPYC with AVX-512 it
    kept the AVX2 path (measured: the same bits with and without ``MKL_CBWR=AVX512``).
    """
    try:
        return "GenuineIntel" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return True


def is_x86() -> bool:
    """Whether this is an x86-64 machine (the only kind whose torch uses MKL)."""
    return platform.machine().lower() in ("x86_64", "amd64")


def pin_mkl_branch(environ: MutableMapping[str, str] | None = None) -> str:
    """Set ``MKL_CBWR`` to :data:`PINNED_BRANCH` where that is possible; return the setting in force.

    Chapter "Training the Elman RNN", section ``sec-tr-portable``. Leaves an existing
    ``MKL_CBWR`` alone (the user's choice wins) and does nothing off x86-64 or on a CPU without
    AVX2 (there MKL could not take the AVX2 path; the result is then ``""``, MKL chooses).
    """
    env = os.environ if environ is None else environ
    if "MKL_CBWR" in env:
        return env["MKL_CBWR"]
    if not is_x86():
        return ""
    flags = cpu_flags()
    if not {"avx2", "fma"} <= flags:
        return ""
    env["MKL_CBWR"] = PINNED_BRANCH
    return PINNED_BRANCH


def mkl_branch() -> str:
    """The MKL path in force as the environment states it (``""``: MKL chooses by the CPU)."""
    return os.environ.get("MKL_CBWR", "")
