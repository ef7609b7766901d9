"""Grid files: the configurations of a sweep, checked before anything is trained.

Chapter "How general is the circuit?", section "The sweep" (``sec-un-sweep``). The format is
described in :mod:`emt.sweep`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from emt.rnn import (
    PRESETS,
    TrainConfig,
)

#: Fields of TrainConfig, in their order; ``seed`` comes from the grid's seeds.
CONFIG_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))
POINT_FIELDS = frozenset(CONFIG_FIELDS) - {"seed"}
_TOP_KEYS = frozenset({"description", "seeds", "defaults", "point"})
_POINT_EXTRA = frozenset({"name", "seeds", "preset"})
_DEFAULTS_EXTRA = frozenset({"preset"})


@dataclass(frozen=True)
class Entry:
    """One configuration of a grid: the network, the [[point]] it comes from, and its label."""

    config: TrainConfig
    point: int
    point_name: str

    @property
    def key(self) -> str:
        return self.config.key()


@dataclass(frozen=True)
class Grid:
    """A parsed and validated grid file (chapter "How general is the circuit?"; paper Sec. 7)."""

    path: Path | None
    hash: str
    description: str
    entries: tuple[Entry, ...]

    @property
    def configs(self) -> list[TrainConfig]:
        return [e.config for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)


def _check_seeds(seeds: Any, where: str) -> list[int]:
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f"{where}: seeds must be a non-empty list of integers, got {seeds!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"{where}: every seed must be a non-negative integer, got {seed!r}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"{where}: seeds {repeated} appear more than once")
    return list(seeds)


def _check_fields(table: Mapping[str, Any], where: str, extra: frozenset[str]) -> None:
    if "seed" in table:
        raise ValueError(f"{where}: 'seed' is not set here; list the seeds in 'seeds = [...]'")
    unknown = sorted(set(table) - POINT_FIELDS - extra)
    if unknown:
        hint = ""
        if set(unknown) & _TOP_KEYS:
            hint = " (in TOML, top-level keys such as seeds must come before the first [table])"
        raise ValueError(
            f"{where}: unknown field(s) {unknown}; allowed are the TrainConfig fields "
            f"{sorted(POINT_FIELDS)}" + (f" and {sorted(extra)}" if extra else "") + hint
        )


def parse_grid(data: Mapping[str, Any], *, source: str = "grid", file_hash: str = "") -> Grid:
    """Validate a parsed grid (the dict that TOML gives) and expand it into configurations.

    Chapter "How general is the circuit?"; paper Sec. 7. See the module docstring for the format
    and for what is rejected (ValueError naming the point). Nothing is trained here.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: a grid must be a table, got {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValueError(
            f"{source}: unknown top-level key(s) {unknown}; allowed are {sorted(_TOP_KEYS)} "
            "(configuration fields go into [defaults] or [[point]] tables)"
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"{source}: description must be a string, got {description!r}")
    top_seeds = _check_seeds(data["seeds"], f"{source}: seeds") if "seeds" in data else None
    defaults = data.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ValueError(f"{source}: [defaults] must be a table, got {defaults!r}")
    _check_fields(defaults, f"{source}: [defaults]", _DEFAULTS_EXTRA)
    points = data.get("point")
    if not isinstance(points, list) or not points:
        raise ValueError(f"{source}: the grid needs at least one [[point]] table")

    entries: list[Entry] = []
    seen: dict[str, str] = {}
    for i, point in enumerate(points):
        where = f"{source}: [[point]] #{i}"
        if not isinstance(point, Mapping):
            raise ValueError(f"{where} must be a table, got {point!r}")
        _check_fields(point, where, _POINT_EXTRA)
        name = point.get("name", "")
        if not isinstance(name, str):
            raise ValueError(f"{where}: name must be a string, got {name!r}")
        if "seeds" in point:
            seeds = _check_seeds(point["seeds"], f"{where}: seeds")
        elif top_seeds is not None:
            seeds = top_seeds
        else:
            raise ValueError(
                f"{where} has no seeds: give 'seeds = [...]' at the top or in the point"
            )
        fields = {**defaults, **{k: v for k, v in point.items() if k not in _POINT_EXTRA}}
        preset = point.get("preset", fields.pop("preset", None))
        fields.pop("preset", None)
        if preset is not None and preset not in PRESETS:
            raise ValueError(
                f"{where}: unknown preset {preset!r}; known presets are {sorted(PRESETS)}"
            )
        s = fields.get("s", TrainConfig.s)
        kappa = fields.get("kappa", TrainConfig.kappa)
        hidden = fields.get("hidden", TrainConfig.hidden)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (s, kappa, hidden)):
            if s * kappa > hidden:
                raise ValueError(
                    f"{where}: s*kappa = {s}*{kappa} = {s * kappa} is larger than hidden = "
                    f"{hidden}; the s variable memories of kappa dimensions need at least s*kappa "
                    "hidden units"
                )
        for seed in seeds:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # any warning of TrainConfig is an error here
                    config = (
                        TrainConfig(**fields, seed=seed)
                        if preset is None
                        else TrainConfig.preset(preset, **fields, seed=seed)
                    )
            except (ValueError, TypeError, UserWarning) as exc:
                raise ValueError(f"{where}, seed {seed}: {exc}") from None
            label = f"[[point]] #{i} seed {seed}"
            key = config.key()
            if key in seen:
                raise ValueError(
                    f"{source}: {label} is the same network as {seen[key]} (config hash {key}); "
                    "remove one of them"
                )
            seen[key] = label
            entries.append(Entry(config, i, name))
    return Grid(None, file_hash, description, tuple(entries))


def load_grid(path: str | os.PathLike) -> Grid:
    """Read, validate and expand a grid file (TOML); chapter "How general is the circuit?".

    Raises ValueError for a missing or unreadable file, bad TOML, and everything
    :func:`parse_grid` rejects. The grid's hash is that of the file's bytes.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the grid file {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path} is not a valid TOML file: {exc}") from None
    file_hash = hashlib.sha256(raw).hexdigest()[:16]
    grid = parse_grid(data, source=str(path), file_hash=file_hash)
    return dataclasses.replace(grid, path=path)
