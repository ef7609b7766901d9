"""Keeping freed memory in the process, so that training does not page-fault every step.

Chapter "Appendix: training details" (book/appendix_training.md), section ``sec-tr-engine``.

A training step of the book's point allocates and frees a few arrays of (time x batch x N_h)
floats (2.4 MB at s = 16, N_h = 128). glibc's ``malloc`` serves blocks that large with ``mmap``
and gives them back to the kernel when they are freed, or trims them off the heap; the next
step's arrays then start on fresh pages, and every 4 KiB page costs a page fault the first time
it is written. Measured with torch's profiler on that step, copies and elementwise operations
on such arrays took 100-500 us each, far more than their arithmetic. :func:`keep_freed_memory`
asks glibc (``mallopt``) to serve blocks of up to 32 MiB from the heap and to keep up to
256 MiB of freed heap, so a process reuses its pages. The results do not change (the
operations and their order are the same; only where the arrays live does), and the process's
memory stays at its peak instead of shrinking after it.

:func:`emt.rnn.train` calls it. Set ``EMT_KEEP_FREED_MEMORY=0`` to leave glibc's defaults; on a C
library without ``mallopt`` (macOS, musl) nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024

_state: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep freed blocks for reuse (once per process); True if it is set.

    Chapter "Appendix: training details", section ``sec-tr-engine`` (module :mod:`emt._malloc`). False
    where ``$EMT_KEEP_FREED_MEMORY`` is ``0`` or the C library has no ``mallopt``.
    """
    global _state
    if _state is not None:
        return _state
    if os.environ.get("EMT_KEEP_FREED_MEMORY", "1").strip() == "0":
        _state = False
        return _state
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        _state = False
        return _state
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _state = bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    )
    return _state
