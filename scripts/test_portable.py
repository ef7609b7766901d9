"""Rerun the chapter notebooks under several BLAS kernels and thread counts.

Usage: python scripts/test_portable.py [book/chapter.ipynb ...]   (default: every chapter)

`pytest --nbval` compares each notebook's text outputs with the stored ones,
verbatim. Those outputs were written on one machine; this script checks that
they do not depend on it. It runs the notebooks once per configuration below,
each in a fresh pytest process whose environment selects OpenBLAS's kernel
(``OPENBLAS_CORETYPE``) and the thread counts of OpenBLAS and torch, and
fails if any output differs from the stored one under any configuration.

On x86-64 the kernels are Prescott (SSE3, the oldest), Haswell (AVX2) and
SkylakeX (AVX-512). OpenBLAS stops with an illegal instruction when it is told
to use a kernel the CPU cannot run, so a kernel the CPU lacks is replaced by
the next older one that it has (said in the log), and the run fails if fewer
than three different kernels could be used. On arm64 the generic ARMV8 kernel
and the one OpenBLAS picks itself are used.

The kernel OpenBLAS really used is read back (``OPENBLAS_VERBOSE=2``) and
printed with each configuration.

The last leg varies torch instead: its matrix products go through MKL, whose
path ``import emt`` pins to AVX2 (``MKL_CBWR``, see ``emt/_numerics.py``). The
leg sets ``MKL_CBWR`` to another path (AVX512 where an Intel CPU has it, else AVX;
COMPATIBLE, MKL's SSE path, on other CPUs, where MKL ignores AVX512)
and trains every network again from an empty cache, so the chapters read
networks other than the ones their outputs were stored from; it fails if any
stored output or assert differs. It then counts how many of the networks it
trained have other weights than the first legs' (zero would mean the leg tested
nothing, and it fails). On a CPU without AVX2, or off x86-64 (where torch does
not use MKL), the log says why the leg cannot run.

Exit code: 0 when every configuration passed.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emt._numerics import PINNED_BRANCH, cpu_flags, is_intel

ROOT = Path(__file__).resolve().parents[1]

# kernel -> CPU flags it needs (x86-64), oldest first
X86_KERNELS = {
    "Prescott": {"sse2", "pni"},  # pni: how /proc/cpuinfo names SSE3
    "SandyBridge": {"avx"},
    "Haswell": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512bw", "avx512vl", "avx512dq"},
}
# what the check asks for: (kernel, threads for OpenBLAS and torch)
X86_PLAN = [("Prescott", 1), ("Haswell", 2), ("SkylakeX", 2)]


def plan() -> list[tuple[str | None, int, str]]:
    """Configurations to run: (OPENBLAS_CORETYPE or None, threads, note)."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        flags = cpu_flags()
        usable = [k for k, need in X86_KERNELS.items() if need <= flags]
        configs, used = [], set()
        for kernel, threads in X86_PLAN:
            note = ""
            if kernel not in usable:
                older = list(X86_KERNELS)[: list(X86_KERNELS).index(kernel)]
                spare = [k for k in reversed(older) if k in usable and k not in used]
                if not spare:
                    continue
                note = f"this CPU cannot run {kernel}; {spare[0]} instead"
                kernel = spare[0]
            used.add(kernel)
            configs.append((kernel, threads, note))
        return configs
    if machine in ("aarch64", "arm64"):
        return [("ARMV8", 1, "generic arm64 kernel"), (None, 2, "kernel picked by OpenBLAS")]
    return [(None, 1, f"unknown machine {machine}"), (None, 2, "")]


def environment(kernel: str | None, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if kernel:
        env["OPENBLAS_CORETYPE"] = kernel
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def kernel_in_use(env: dict[str, str]) -> str:
    """The kernel numpy's OpenBLAS reports when it starts in this environment."""
    probe = "import numpy as np; a = np.ones((64, 64)); a @ a"
    env = dict(env, OPENBLAS_VERBOSE="2")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return f"unusable (exit code {out.returncode})"
    for line in (out.stdout + out.stderr).splitlines():
        if line.strip().startswith("Core:"):
            return line.split(":", 1)[1].strip()
    return "not reported"


def other_mkl_branch() -> tuple[str | None, str]:
    """The ``MKL_CBWR`` value of the torch leg, and a note; None where the leg cannot run."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None, "not x86-64: torch does not use MKL here, so there is no other MKL path"
    flags = cpu_flags()
    if not {"avx2", "fma"} <= flags:
        return None, "this CPU has no AVX2: emt does not pin MKL here, and the leg is skipped"
    if not is_intel():  # measured on an AMD EPYC: MKL_CBWR=AVX512 gave the AVX2 path's bits
        return "COMPATIBLE", "not an Intel CPU, where MKL keeps AVX2 for AVX512; its SSE path"
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "AVX512", "the path MKL takes by itself on this CPU"
    return "AVX", "this CPU has no AVX-512; MKL's older AVX path instead"


def _weights(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)["state"]


def compare_caches(pinned: Path, other: Path) -> tuple[int, int]:
    """(networks in both caches, how many of them have other weights) by checkpoint file name."""
    import torch

    both = sorted(p.name for p in other.glob("*.pt") if (pinned / p.name).exists())
    differ = 0
    for name in both:
        a, b = _weights(pinned / name), _weights(other / name)
        differ += any(not torch.equal(a[k], b[k]) for k in a)
    return len(both), differ


def run_notebooks(notebooks: list[str], env: dict[str, str]) -> tuple[int, float]:
    start = time.time()
    cmd = [sys.executable, "-m", "pytest", "--nbval", "-q", "-p", "no:cacheprovider", *notebooks]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode, time.time() - start


def main(argv: list[str]) -> int:
    notebooks = argv or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb"))
    pinned = os.environ.get("MKL_CBWR", PINNED_BRANCH)
    results = []
    for kernel, threads, note in plan():
        env = environment(kernel, threads)
        core = kernel_in_use(env)
        label = f"OPENBLAS_CORETYPE={kernel or '(default)'} threads={threads}"
        print(f"\n=== {label}: OpenBLAS uses {core}" + (f" ({note})" if note else ""), flush=True)
        code, seconds = run_notebooks(notebooks, env)
        results.append((label, f"core {core}", code, seconds))
    cores = {core for _, core, _, _ in results}

    # the torch leg: another MKL path, every network trained again from an empty cache
    branch, note = other_mkl_branch()
    if branch is None:
        print(f"\n=== torch leg skipped: {note}", flush=True)
    else:
        from emt.rnn import resolve_cache_dir

        first_cache = resolve_cache_dir()
        with tempfile.TemporaryDirectory(prefix="emt-mkl-") as cache:
            env = environment(None, 1)
            env.update(MKL_CBWR=branch, EMT_CACHE_DIR=cache)
            label = f"MKL_CBWR={branch} threads=1 empty cache"
            print(
                f"\n=== {label}: torch's products on MKL's {branch} path instead of {pinned} "
                f"({note}); every network is trained again",
                flush=True,
            )
            code, seconds = run_notebooks(notebooks, env)
            n_both, n_differ = compare_caches(first_cache, Path(cache))
        print(
            f"networks trained by this leg that the first legs also used: {n_both}; "
            f"with other weights: {n_differ}",
            flush=True,
        )
        if code == 0 and n_differ == 0:
            print("no network differs: this leg tested nothing, and it fails")
            code = 1
        results.append((label, f"{n_differ} of {n_both} networks differ", code, seconds))

    print("\nportability summary")
    for label, what, code, seconds in results:
        verdict = "passed" if code == 0 else f"FAILED (exit code {code})"
        print(f"  {label:42s} {what:28s} {verdict}  ({seconds:.0f} s)")
    failed = [r for r in results if r[2] != 0]
    if platform.machine().lower() in ("x86_64", "amd64") and len(cores) < 3:
        print(f"only {len(cores)} different kernels could be used on this CPU; three are required")
        return 1
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
