"""The results table of a sweep: read, locked, and rewritten atomically after every network.

Chapter "How general is the circuit?", section "The sweep" (``sec-un-sweep``). The layout is
described in :mod:`emt.sweep`.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emt import _io, nulls
from emt.sweep.grid import CONFIG_FIELDS
from emt.sweep.network import ID_COLUMNS, METRIC_COLUMNS, METRICS_VERSION


class SweepLocked(RuntimeError):
    """Another sweep is writing the same results table."""


def load_results(path: str | os.PathLike):
    """The results table as a pandas DataFrame, hash and text columns as strings.

    Chapter "How general is the circuit?"; :func:`config_from_row` rebuilds a row's TrainConfig.
    """
    import pandas as pd

    df = pd.read_csv(
        path,
        dtype={
            "config_hash": str,
            "grid_hash": str,
            "grid_file": str,
            "point_name": str,
            "encoding": str,  # "01" would otherwise be read as the number 1
            "spectrum_counts": str,
            "analysis_error": str,
            "top__error": str,
            **{f"null_{model}__error": str for model in nulls.NULL_MODELS},
        },
    )
    text = ("grid_file", "point_name", "spectrum_counts", "analysis_error", "top__error")
    errors = [f"null_{model}__error" for model in nulls.NULL_MODELS]
    for column in (*text, *errors):
        if column in df.columns:
            df[column] = df[column].fillna("").astype(str)
    return df.copy()  # one block per dtype: later column additions do not warn


def read_raw_table(path: Path):
    """The results table at ``path`` with every cell as the text stored (empty if no file).

    Chapter "How general is the circuit?", section "The sweep" (``sec-un-sweep``). Old rows are
    rewritten from this unchanged. Raises ValueError for a file that is not a results table or
    holds rows of another :data:`METRICS_VERSION`.
    """
    import pandas as pd

    if not path.exists():
        return pd.DataFrame(columns=list(ID_COLUMNS))
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} exists but is not a results table: {exc}") from None
    if "config_hash" not in df.columns:
        raise ValueError(f"{path} exists but is not a results table (no column config_hash)")
    versions = set(df.get("metrics_version", pd.Series(dtype=str))) - {str(METRICS_VERSION)}
    if versions:
        raise ValueError(
            f"{path} holds rows of metrics version {sorted(versions)}, this is version "
            f"{METRICS_VERSION}; write to another file (--out)"
        )
    return df.drop_duplicates("config_hash", keep="first")


def write_table_atomic(df, path: str | os.PathLike) -> None:
    """Write ``df`` as CSV to ``path`` through a temporary file in the same folder and os.replace.

    A reader (or a crash) never sees a half-written table: either the old file or the new one.
    """
    _io.atomic_write(path, lambda f: df.to_csv(f, index=False), text=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.NAME.lock`` beside the table; remove stale temporary files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(f".{path.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SweepLocked(f"another sweep is writing {path} (lock {lock})") from None
        try:  # the holder before us may have removed the file: lock the one that is there
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed sweep
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


class _Table:
    """The results table in memory, written atomically after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.df = read_raw_table(path)
        self.done = set(self.df["config_hash"])
        self.changed = False

    def add(self, row: dict) -> None:
        import pandas as pd

        cells = {k: _cell(v) for k, v in row.items()}
        new = pd.DataFrame([cells], columns=list(cells), dtype=str)
        if len(self.df) == 0:
            self.df = new
        else:
            columns = list(self.df.columns) + [c for c in new.columns if c not in self.df.columns]
            self.df = pd.concat([self.df, new], ignore_index=True).reindex(columns=columns)
            self.df = self.df.fillna("")
        self.done.add(row["config_hash"])
        self.changed = True
        write_table_atomic(self.df, self.path)

    def finish(self, order: Sequence[str]) -> None:
        """Sort the rows into the grid's order (others after, as they were) and write."""
        rank = {key: i for i, key in enumerate(order)}
        pos = [rank.get(k, len(rank) + j) for j, k in enumerate(self.df["config_hash"])]
        perm = np.argsort(pos, kind="stable")
        if self.changed or np.any(perm != np.arange(len(perm))):
            self.df = self.df.iloc[perm].reset_index(drop=True)
            write_table_atomic(self.df, self.path)


def _cell(value: Any) -> str:
    """A table cell as text: NaN and None empty, floats with all their digits (repr)."""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    return "" if value is None else str(value)


def _table_order(columns: Iterable[str]) -> list[str]:
    preferred = [*ID_COLUMNS, *CONFIG_FIELDS, *METRIC_COLUMNS]
    columns = list(columns)
    return [c for c in preferred if c in columns] + [c for c in columns if c not in preferred]
