"""Files and progress: atomic writes, reading a torch file without running its code, progress bars.

Used by the checkpoint cache (:mod:`emt.rnn`), the sweep's results table (:mod:`emt.sweep`)
and ``emt analyze`` (:mod:`emt.report`); one implementation each, so that they behave and
report alike.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], text: bool = False) -> None:
    """Write ``path`` through a temporary file in the same folder, then ``os.replace``.

    ``write(f)`` fills the open temporary file (binary, or text with ``text=True``). A reader,
    or a crash, never sees a half-written file: either the old one or the new one. The new file
    keeps the mode of the file it replaces (or the umask's default for a new one), not the
    private mode of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w" if text else "wb", **({"newline": ""} if text else {})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class UnreadableFile(ValueError):
    """A file that :func:`load_torch` could not read; the message says why, in one line."""


def load_torch(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with one-line errors.

    Nothing in the file is run: objects other than tensors and plain containers are refused.
    Raises :class:`UnreadableFile` (a ValueError) for a missing, truncated or corrupt file, one
    that is not a torch file, or one that holds such objects; its message names the cause and,
    for the last case, what to save instead.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and pickle raise many types on a broken file
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if "WeightsUnpickler error" in ln), "")
        detail = detail or (lines[0] if lines else "")
        hint = ""
        if "WeightsUnpickler" in str(exc) or "weights_only" in str(exc):
            hint = (
                "; the file holds objects other than tensors (a pickled module or code), which "
                "are not loaded: save model.state_dict() instead"
            )
        raise UnreadableFile(f"{type(exc).__name__}: {detail[:300]}{hint}") from None


def progress_bar(total: int, enabled: bool = True, **options: Any):
    """A tqdm bar (``tqdm.auto``: a widget in Jupyter, text elsewhere); a no-op when not enabled.

    ``options`` go to tqdm (``desc``, ``unit``, ``initial``, ``file``, ``mininterval``, ...).
    """
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # tqdm.auto warns when ipywidgets is missing, then uses text
        from tqdm.auto import tqdm
    return tqdm(total=total, disable=not enabled, **options)
