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
printed with each configuration. Exit code: 0 when every configuration passed.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

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


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


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


def main(argv: list[str]) -> int:
    notebooks = argv or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb"))
    configs = plan()
    results = []
    for kernel, threads, note in configs:
        env = environment(kernel, threads)
        core = kernel_in_use(env)
        label = f"OPENBLAS_CORETYPE={kernel or '(default)'} threads={threads}"
        print(f"\n=== {label}: OpenBLAS uses {core}" + (f" ({note})" if note else ""), flush=True)
        start = time.time()
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "-q",
            "-p",
            "no:cacheprovider",
            *notebooks,
        ]
        code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        results.append((label, core, code, time.time() - start))
    print("\nportability summary")
    for label, core, code, seconds in results:
        verdict = "passed" if code == 0 else f"FAILED (pytest exit code {code})"
        print(f"  {label:42s} core {core:12s} {verdict}  ({seconds:.0f} s)")
    cores = {core for _, core, _, _ in results}
    failed = [r for r in results if r[2] != 0]
    if platform.machine().lower() in ("x86_64", "amd64") and len(cores) < 3:
        print(f"only {len(cores)} different kernels could be used on this CPU; three are required")
        return 1
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
