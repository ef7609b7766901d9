"""``emt analyze``: Algorithm 1 and every Figure 3 metric of a user's own Elman RNN.

Chapter "Analyse your own network"; paper Sec. 6 (Algorithm 1, Eq. 14-15), Sec. 7
(Figure 3A-D) and App. C (networks with bias, Eq. 35-37). :func:`analyze` reads the weights of a
one-layer tanh Elman RNN with a linear readout (:func:`load_weights`), infers the number of
memories s and their size kappa from the spectrum when they are not given
(:func:`emt.analysis.infer_s_kappa`), linearises a network with a hidden bias around its fixed or
operating point (:func:`emt.linearise.linearise`), runs Algorithm 1
(:func:`emt.analysis.variable_memories` with ``select="auto"``), measures the network and its null
models (:func:`emt.metrics.figure3`, as :func:`emt.nulls.compare` does) and writes a report
directory: ``report.json``, ``report.md`` and the figures 3A, 3B and 3D.

Inputs (:func:`load_weights`):

* a torch ``state_dict`` of ``nn.RNN`` (one layer, tanh: ``weight_ih_l0``, ``weight_hh_l0``,
  optional ``bias_ih_l0``, ``bias_hh_l0``; ``nn.RNNCell`` names without ``_l0`` also work) with a
  linear readout (``<name>.weight`` of shape ``(kappa, N_h)``, optional ``<name>.bias``), under any
  key prefix, also wrapped in a checkpoint dict (Lightning's ``{"state_dict": ...}``);
* a checkpoint of :mod:`emt.rnn` (the book's networks);
* ``.npz`` with ``W_hh``, ``W_uh``, ``W_r`` and optional ``b_h`` (or ``b``), ``b_r``;
* ``.safetensors`` if the ``safetensors`` package is installed.

Files are read without running code from them: ``torch.load(..., weights_only=True)`` and
``np.load(..., allow_pickle=False)``. Everything that cannot be analysed raises :class:`BadInput`
before anything is written. The nonlinearity cannot be read from the weights: it is assumed to be
tanh, and a checkpoint that says otherwise (e.g. Lightning's ``hyper_parameters`` with
``nonlinearity="relu"``) is refused.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Version of the layout of ``report.json``.
REPORT_FORMAT = 1
#: The names of :func:`load_weights`'s result and of the ``keys`` map.
WEIGHT_NAMES = ("W_hh", "W_uh", "W_r", "b_h", "b_r")
#: Names a ``keys`` map may use: those of :data:`WEIGHT_NAMES` and torch's two hidden biases.
KEY_NAMES = ("W_hh", "W_uh", "W_r", "b_ih", "b_hh", "b_h", "b_r")
#: Containers of a state dict inside a checkpoint dict, tried in this order.
CONTAINERS = ("state_dict", "model_state_dict", "state", "model", "net", "module")
#: Keys of a checkpoint's non-tensor part that name the nonlinearity.
NONLINEARITY_KEYS = ("nonlinearity", "activation", "nonlin")
#: Figure files of the report directory.
FIGURES = {
    "3A": "fig3a_basis.png",
    "3B": "fig3b_spectrum.png",
    "3D": "fig3d_memories.png",
}
#: Thresholds of the verdict (see :func:`verdict`): the largest angular error of the s*kappa
#: largest eigenvalues as a fraction of the half-spacing 180/s degrees ...
VERDICT_ANGLE_FRACTION = 0.1
#: ... the largest relative error of the memory block at alpha = 1/2, and the factor by which it
#: must beat every null model ...
VERDICT_BLOCK_ERROR, VERDICT_BLOCK_FACTOR = 0.25, 0.5
#: ... and the decoding of the output phase (fraction of bits, and of inputs found in the
#: predicted memory).
VERDICT_BITS, VERDICT_CROSSTALK = 0.99, 0.9


class BadInput(ValueError):
    """A checkpoint or an option that ``emt analyze`` cannot analyse; the message says why."""


# ============================================================================ loading


def _short(names, n: int = 12) -> str:
    names = list(names)
    more = f", ... ({len(names) - n} more)" if len(names) > n else ""
    return ", ".join(repr(k) for k in names[:n]) + more


def parse_keys(text: str | None) -> dict[str, str] | None:
    """Parse ``--keys`` (``W_hh=a.b,W_uh=c,W_r=d``) into a dict; BadInput if malformed."""
    if text is None:
        return None
    out: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, key = part.partition("=")
        name, key = name.strip(), key.strip()
        if not sep or not key:
            raise BadInput(f"--keys: expected NAME=KEY pairs separated by commas, got {part!r}")
        if name not in KEY_NAMES:
            raise BadInput(f"--keys: unknown name {name!r}; the names are {', '.join(KEY_NAMES)}")
        if name in out:
            raise BadInput(f"--keys: {name} is given twice")
        out[name] = key
    if not out:
        raise BadInput("--keys: empty map")
    return out


def _check_keys_map(keys) -> dict[str, str] | None:
    if keys is None:
        return None
    if isinstance(keys, str):
        return parse_keys(keys)
    if not isinstance(keys, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keys.items()
    ):
        raise BadInput("keys must map names (W_hh, W_uh, W_r, b_ih, b_hh, b_h, b_r) to key strings")
    bad = [k for k in keys if k not in KEY_NAMES]
    if bad:
        raise BadInput(f"keys: unknown names {bad}; the names are {', '.join(KEY_NAMES)}")
    return dict(keys)


def _is_tensor(x) -> bool:
    if isinstance(x, np.ndarray):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _to_numpy(x, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        a = x
    else:
        try:
            a = x.detach().cpu().double().numpy()
        except (RuntimeError, TypeError) as exc:
            raise BadInput(f"{name} cannot be read as a real array ({exc})") from None
    if a.dtype.kind not in "fiub":
        raise BadInput(f"{name} has dtype {a.dtype}, expected real numbers")
    return np.array(a, dtype=float)


def _flatten(obj, prefix: str = "", depth: int = 0, out=None) -> dict:
    """Every tensor/array in nested dicts (and lists) as ``{"a.b.c": tensor}``."""
    out = {} if out is None else out
    if depth > 6:
        return out
    if _is_tensor(obj):
        out[prefix] = obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), depth + 1, out)
    return out


def _hints(obj, depth: int = 0, out=None) -> dict[str, Any]:
    """Scalar hints (strings and numbers) from the non-tensor part of a checkpoint."""
    out = {} if out is None else out
    if depth > 4 or not isinstance(obj, Mapping):
        return out
    for k, v in obj.items():
        if isinstance(v, (str, int, float, bool)) and not isinstance(k, int):
            out.setdefault(str(k), v)
        elif isinstance(v, Mapping) and not _flatten(v):
            _hints(v, depth + 1, out)
        elif isinstance(v, Mapping) and str(k) in ("hyper_parameters", "hparams", "config"):
            _hints(v, depth + 1, out)
    return out


def _state_dict(payload) -> tuple[dict, str, dict[str, Any]]:
    """The flat state dict of a loaded object, the kind of container, and hints."""
    if not isinstance(payload, Mapping):
        raise BadInput(
            f"the file holds a {type(payload).__name__}, not a state dict or a checkpoint dict"
        )
    hints = _hints(payload)
    kind = "state_dict"
    if {"format", "key", "config", "state"} <= payload.keys() and isinstance(
        payload.get("config"), str
    ):
        kind = "emt checkpoint"
        try:
            cfg = json.loads(payload["config"])
        except ValueError:
            cfg = {}
        if isinstance(cfg, Mapping):
            hints.update({k: v for k, v in cfg.items() if isinstance(v, (str, int, float, bool))})
    direct = {k: v for k, v in payload.items() if _is_tensor(v)}
    if direct:
        return _flatten(direct), kind, hints
    for name in CONTAINERS:
        inner = payload.get(name)
        if isinstance(inner, Mapping):
            flat = _flatten(inner)
            if flat:
                if kind == "state_dict":
                    kind = "lightning checkpoint" if name == "state_dict" else f"checkpoint[{name}]"
                return flat, kind, hints
    flat = _flatten(payload)
    if not flat:
        raise BadInput("the file holds no tensors: it is not a state dict or a checkpoint")
    return flat, "nested checkpoint", hints


def _read_file(path: Path) -> tuple[dict, str, dict[str, Any]]:
    """Read a file into (flat dict of arrays/tensors, format, hints). BadInput on failure."""
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if not path.is_file():
        raise BadInput(f"{path}: not a file")
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise BadInput(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    names: list[str] = []
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            names = []
    is_npz = suffix == ".npz" or (bool(names) and all(n.endswith(".npy") for n in names))
    if is_npz:
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: np.array(z[k]) for k in z.files}
        except Exception as exc:  # corrupt, truncated, object arrays (pickles) refused
            raise BadInput(
                f"{path}: cannot be read as .npz ({type(exc).__name__}: {exc})"
            ) from None
        if not arrays:
            raise BadInput(f"{path}: the .npz file holds no arrays")
        return arrays, "npz", {}
    st_header = (
        len(head) >= 9 and int.from_bytes(head[:8], "little") < 100_000_000 and head[8:9] == b"{"
    )
    if suffix == ".safetensors" or st_header:
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise BadInput(
                f"{path}: reading safetensors needs the 'safetensors' package, which is not "
                "installed; install it, or save the weights as a torch state_dict or an .npz"
            ) from None
        try:
            return dict(load_file(str(path))), "safetensors", {}
        except Exception as exc:
            raise BadInput(f"{path}: cannot be read as safetensors ({exc})") from None
    from emt import _io

    try:
        payload = _io.load_torch(path)
    except _io.UnreadableFile as exc:
        raise BadInput(f"{path}: cannot be read as a torch checkpoint ({exc})") from None
    flat, kind, hints = _state_dict(payload)
    return flat, kind, hints


def _refuse_other_layouts(all_keys: list[str]) -> None:
    """BadInput for a stacked or bidirectional nn.RNN: emt analyze reads one layer, one way."""
    deep = sorted(k for k in all_keys if re.search(r"(^|\.)weight_hh_l([1-9]\d*)$", k))
    if deep:
        raise BadInput(
            f"the network has several layers ({_short(deep)}): emt analyze reads one-layer "
            "Elman RNNs only"
        )
    rev = sorted(k for k in all_keys if re.search(r"_reverse$", k))
    if rev:
        raise BadInput(f"the network is bidirectional ({_short(rev)}): not an Elman RNN")


def _recurrent_key(flat: Mapping, keys: dict[str, str]) -> str:
    """The key of W_hh: given, ``W_hh``, or the one ``weight_hh[_l0]`` of an nn.RNN(Cell)."""
    if "W_hh" in keys:
        return keys["W_hh"]
    if "W_hh" in flat:
        return "W_hh"
    cands = sorted(k for k in flat if re.search(r"(^|\.)weight_hh(_l0)?$", k))
    if not cands:
        raise BadInput(
            "no recurrent weights found: expected a key 'weight_hh_l0' (nn.RNN), "
            f"'weight_hh' (nn.RNNCell) or 'W_hh'; the keys are {_short(list(flat), 30)}"
        )
    if len(cands) > 1:
        raise BadInput(
            f"ambiguous recurrent weights, candidates {_short(cands)}; choose one with "
            "--keys W_hh=KEY,W_uh=KEY,W_r=KEY"
        )
    return cands[0]


def _beside_recurrent(flat: Mapping, keys: dict[str, str], hh: str) -> dict[str, str]:
    """The keys of W_uh and the hidden biases (b_ih, b_hh or b_h) that belong with W_hh ``hh``."""
    prefix, stem = "", hh
    for suffix in ("weight_hh_l0", "weight_hh"):
        if hh == suffix or hh.endswith("." + suffix):
            prefix, stem = hh[: len(hh) - len(suffix)], suffix
            break
    layer = stem[len("weight_hh") :] if stem.startswith("weight_hh") else None
    out: dict[str, str] = {}
    for name, default in (
        ("W_uh", f"{prefix}weight_ih{layer}" if layer is not None else None),
        ("b_ih", f"{prefix}bias_ih{layer}" if layer is not None else None),
        ("b_hh", f"{prefix}bias_hh{layer}" if layer is not None else None),
    ):
        if name in keys:
            out[name] = keys[name]
        elif default is not None and default in flat:
            out[name] = default
        elif name == "W_uh" and "W_uh" in flat:
            out["W_uh"] = "W_uh"
    if "W_uh" not in out:
        raise BadInput(
            f"no input weights found beside {hh!r} (expected {prefix}weight_ih_l0 or W_uh); "
            "give them with --keys W_uh=KEY"
        )
    if "b_h" in keys:
        out["b_h"] = keys["b_h"]
    elif "b_ih" not in out and "b_hh" not in out:
        for name in ("b_h", "b"):
            if name in flat and layer is None:
                out["b_h"] = name
                break
    return out


def _readout_keys(flat: Mapping, keys: dict[str, str], rnn_keys: set[str], hh: str) -> dict:
    """The keys of W_r and b_r: given, ``W_r``, or the one linear layer that reads N_h units."""
    out: dict[str, str] = {}
    if "W_r" in keys:
        out["W_r"] = keys["W_r"]
    elif "W_r" in flat:
        out["W_r"] = "W_r"
    else:
        n_h = tuple(getattr(flat[hh], "shape", ()))[-1:] or (None,)
        cands = sorted(
            k
            for k in flat
            if (k == "weight" or k.endswith(".weight"))
            and k not in rnn_keys
            and len(getattr(flat[k], "shape", ())) == 2
            and flat[k].shape[1] == n_h[0]
        )
        if not cands:
            raise BadInput(
                f"no linear readout found: expected a key '<name>.weight' of shape "
                f"(kappa, {n_h[0]}); give it with --keys W_r=KEY (keys: {_short(list(flat), 30)})"
            )
        if len(cands) > 1:
            raise BadInput(
                f"ambiguous readout, candidates {_short(cands)}; choose one with --keys W_r=KEY"
            )
        out["W_r"] = cands[0]
    if "b_r" in keys:
        out["b_r"] = keys["b_r"]
    elif out["W_r"] == "W_r":
        if "b_r" in flat:
            out["b_r"] = "b_r"
    else:
        bias = out["W_r"][: -len("weight")] + "bias"
        if bias in flat:
            out["b_r"] = bias
    return out


def _resolve(flat: Mapping, keys: dict[str, str] | None) -> dict[str, str]:
    """Map the names W_hh, W_uh, W_r [, b_ih, b_hh, b_h, b_r] to keys of ``flat``."""
    keys = dict(keys or {})
    missing = [k for k in keys.values() if k not in flat]
    if missing:
        raise BadInput(
            f"--keys names {_short(missing)}, not in the file; its keys are {_short(flat, 30)}"
        )
    _refuse_other_layouts(list(flat))
    hh = _recurrent_key(flat, keys)
    out = {"W_hh": hh, **_beside_recurrent(flat, keys, hh)}
    out.update(_readout_keys(flat, keys, set(out.values()), hh))
    return out


def _refuse_other_cells(hints: Mapping[str, Any]) -> None:
    """BadInput where the checkpoint says it holds a ReLU RNN, a GRU or an LSTM."""
    for name in NONLINEARITY_KEYS:
        v = hints.get(name)
        if not isinstance(v, str):
            continue
        low = v.strip().lower()
        # "nonlinearity" is nn.RNN's own option; other names may describe another layer
        if ("tanh" not in low) if name == "nonlinearity" else ("relu" in low):
            raise BadInput(
                f"the checkpoint says {name} = {v!r}: emt analyze reads tanh Elman RNNs only "
                "(the theory's Eq. 6)"
            )
    for name in ("mode", "cell", "rnn_type", "cell_type"):
        v = hints.get(name)
        if isinstance(v, str) and v.strip().upper() in ("GRU", "LSTM"):
            raise BadInput(f"the checkpoint says {name} = {v!r}: not an Elman RNN")


def _check_matrices(arrays: Mapping[str, np.ndarray], used: Mapping[str, str]) -> tuple[int, int]:
    """``(n_h, kappa)`` of W_hh, W_uh, W_r, or BadInput naming the key whose shape is wrong."""
    w_hh, w_uh, w_r = arrays["W_hh"], arrays["W_uh"], arrays["W_r"]
    if w_hh.ndim != 2:
        raise BadInput(f"W_hh ({used['W_hh']}) must be a matrix, got shape {w_hh.shape}")
    rows, cols = w_hh.shape
    if rows != cols:
        for k, cell in ((3, "a GRU"), (4, "an LSTM")):
            if rows == k * cols:
                raise BadInput(
                    f"{used['W_hh']} has shape {w_hh.shape} = ({k} N_h, N_h): {cell}, "
                    "not an Elman RNN"
                )
        raise BadInput(f"W_hh ({used['W_hh']}) must be square, got shape {w_hh.shape}")
    n_h = rows
    if w_uh.ndim != 2 or w_uh.shape[0] != n_h:
        raise BadInput(f"W_uh ({used['W_uh']}) must have shape ({n_h}, kappa), got {w_uh.shape}")
    kappa = w_uh.shape[1]
    if w_r.ndim != 2 or w_r.shape[1] != n_h:
        raise BadInput(f"W_r ({used['W_r']}) must have shape (kappa, {n_h}), got {w_r.shape}")
    if w_r.shape[0] != kappa:
        raise BadInput(
            f"the readout {used['W_r']} has {w_r.shape[0]} outputs but the network reads "
            f"kappa = {kappa} inputs; repeat copy (the theory's task) needs as many outputs as "
            "inputs"
        )
    return n_h, kappa


def _weights_from_flat(
    flat: Mapping, keys: dict[str, str] | None, hints: Mapping[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Resolve, convert and check the weights; BadInput on anything unanalysable."""
    _refuse_other_cells(hints)
    used = _resolve(flat, keys)
    arrays = {name: _to_numpy(flat[key], key) for name, key in used.items()}
    n_h, kappa = _check_matrices(arrays, used)
    out = {k: arrays[k] for k in ("W_hh", "W_uh", "W_r")}
    for name, size in (("b_ih", n_h), ("b_hh", n_h), ("b_h", n_h), ("b_r", kappa)):
        if name in arrays and arrays[name].shape != (size,):
            raise BadInput(
                f"{name} ({used[name]}) must have shape ({size},), got {arrays[name].shape}"
            )
    hidden = [arrays[n] for n in ("b_ih", "b_hh", "b_h") if n in arrays]
    if hidden:  # nn.RNN adds b_ih and b_hh at every step: one hidden bias
        out["b_h"] = hidden[0]
        for b in hidden[1:]:
            out["b_h"] = out["b_h"] + b
    if "b_r" in arrays:
        out["b_r"] = arrays["b_r"]
    bad = [f"{n} ({used.get(n, n)})" for n, a in out.items() if not np.all(np.isfinite(a))]
    bad += [
        f"{n} ({used[n]})"
        for n in ("b_ih", "b_hh")
        if n in arrays and not np.all(np.isfinite(arrays[n]))
    ]
    if bad:
        raise BadInput(f"non-finite weights (NaN or inf) in {', '.join(dict.fromkeys(bad))}")
    return out, used


def _read_network(source, keys=None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`load_weights` with a description of what was read."""
    keys = _check_keys_map(keys)
    if isinstance(source, Mapping):
        flat = _flatten(source)
        if not flat:
            raise BadInput("the weights dict holds no arrays")
        w, used = _weights_from_flat(flat, keys, _hints(source))
        return w, {"path": None, "sha256": None, "size_bytes": None, "format": "dict",
                   "keys": used, "hints": {}}  # fmt: skip
    if not isinstance(source, (str, os.PathLike)):
        raise BadInput(f"source must be a path or a weights dict, got {type(source).__name__}")
    path = Path(source)
    flat, kind, hints = _read_file(path)
    w, used = _weights_from_flat(flat, keys, hints)
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    info = {
        "path": str(path),
        "sha256": sha.hexdigest(),
        "size_bytes": path.stat().st_size,
        "format": kind,
        "keys": used,
        "hints": {k: v for k, v in hints.items() if k in ("s", "kappa", "hidden", "seed", "bias")},
    }
    return w, info


def load_weights(path, keys=None) -> dict[str, np.ndarray]:
    """The weights of a one-layer tanh Elman RNN with a linear readout, from a file.

    Chapter "Analyse your own network"; the network of the paper's Eq. 6. Returns
    float64 arrays ``W_hh`` ``(N_h, N_h)``, ``W_uh`` ``(N_h, kappa)``, ``W_r`` ``(kappa, N_h)``
    and, when present, ``b_h`` (``bias_ih + bias_hh``) and ``b_r``. ``path`` is a torch state dict
    or checkpoint (any key prefix; read with ``weights_only=True``), an :mod:`emt.rnn`
    checkpoint, an ``.npz`` (``allow_pickle=False``) or a ``.safetensors`` file (if the package
    is installed); ``keys`` (a dict or the ``--keys`` string ``W_hh=KEY,W_uh=KEY,W_r=KEY``)
    names the entries where the automatic resolution is ambiguous. Raises :class:`BadInput`
    for anything that is not such a network: unreadable, truncated or non-checkpoint files,
    pickles that would run code, GRU/LSTM or multi-layer weights, a non-tanh nonlinearity named
    in the checkpoint, shapes that do not fit, non-finite entries, ambiguous keys (the message
    lists the candidates).
    """
    return _read_network(path, keys)[0]


# ============================================================================ analysis


def _jsonable(x):
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        if np.iscomplexobj(x):
            return {"real": _jsonable(x.real.tolist()), "imag": _jsonable(x.imag.tolist())}
        return _jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, complex):
        return {"real": _jsonable(x.real), "imag": _jsonable(x.imag)}
    return x


def _sk_dict(inf) -> dict:
    fields = (
        "s", "kappa", "confidence", "refused", "reason", "candidate", "n_cluster",
        "cluster_moduli", "next_modulus", "gap", "counts", "residual_fraction", "angle_score",
        "gap_score", "score", "runner_up", "n_passing", "s_range",
    )  # fmt: skip
    return {f: getattr(inf, f) for f in fields}


def _probe_input(s: int, kappa: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The input of Figure 3D: "3141" for s = 16, kappa = 5, else a seeded random +-1 sequence."""
    from emt import metrics, tasks

    if s == 16 and kappa == tasks.FONT_HEIGHT:
        x = tasks.to_pm1(tasks.text_bitmap("3141"))
        name = 'the bitmap "3141" (Figure 3C/D)'
    else:
        rng = np.random.default_rng([metrics.PROBE_SEED, 3141])
        x = metrics.probe_batch(1, s, kappa, 0, rng)[1][0]
        name = "a random +-1 sequence (seeded)"
    u = np.zeros((4 * s, kappa))
    u[:s] = x
    return u, x, name


def _num(d: Mapping[str, Any], key: str) -> float:
    v = d.get(key, math.nan)
    return float(v) if isinstance(v, (int, float, np.number)) else math.nan


def _finite_values(rows: list[Mapping[str, Any]], key: str) -> list[float]:
    return [_num(d, key) for d in rows if math.isfinite(_num(d, key))]


def _g3(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3g}"


def _criterion_3b(m: Mapping[str, Any], s: int) -> dict[str, Any]:
    half = 180.0 / s
    ang = _num(m, "angle_error_max_deg")
    counts_ok = _num(m, "spectrum_counts_ok") == 1
    return {
        "figure": "3B",
        "name": "spectrum: kappa eigenvalues on every s-th root of unity",
        "passed": bool(counts_ok and ang <= VERDICT_ANGLE_FRACTION * half),
        "detail": f"counts ok {bool(counts_ok)}, largest angular "
        f"error {_g3(ang)} deg (limit {VERDICT_ANGLE_FRACTION * half:.3g} deg)",
    }


def _criterion_3a(m: Mapping[str, Any], nulls_: list[Mapping[str, Any]]) -> dict[str, Any]:
    be, be_null = _num(m, "block_error_a05"), _finite_values(nulls_, "block_error_a05")
    passed = (
        math.isfinite(be)
        and be <= VERDICT_BLOCK_ERROR
        and all(be <= VERDICT_BLOCK_FACTOR * v for v in be_null)
    )
    return {
        "figure": "3A",
        "name": "memory block of W_hh in the variable-memory basis is Phi (Eq. 12)",
        "passed": bool(passed),
        "detail": f"block error {_g3(be)} (limit {VERDICT_BLOCK_ERROR}; null models "
        f"{', '.join(_g3(v) for v in be_null) or 'n/a'})",
    }


def _criterion_3d(m: Mapping[str, Any], nulls_: list[Mapping[str, Any]]) -> dict[str, Any]:
    bits, cross = _num(m, "rnd_acc_out"), _num(m, "crosstalk_match")
    bits_null = _finite_values(nulls_, "rnd_acc_out")
    cross_null = _finite_values(nulls_, "crosstalk_match")
    passed = (
        bits >= VERDICT_BITS
        and cross >= VERDICT_CROSSTALK
        and all(bits > v for v in bits_null)
        and all(cross > v for v in cross_null)
    )
    return {
        "figure": "3D",
        "name": "stored inputs are read at the memory the theory predicts",
        "passed": bool(passed),
        "detail": f"output-phase bits {_g3(bits)} (limit {VERDICT_BITS}; null models up to "
        f"{_g3(max(bits_null)) if bits_null else 'n/a'}), cross-talk match {_g3(cross)} "
        f"(limit {VERDICT_CROSSTALK}; null models up to "
        f"{_g3(max(cross_null)) if cross_null else 'n/a'})",
    }


def verdict(metrics: Mapping[str, Mapping[str, Any]], s: int) -> dict[str, Any]:
    """Does the repeat-copy circuit look present? Three criteria, one per panel of Figure 3.

    Chapter "Analyse your own network"; paper Sec. 7. ``metrics`` is ``{"trained": ..., null:
    ...}`` as :func:`emt.nulls.compare` returns it. 3B: kappa eigenvalues in every root-of-unity
    direction and the largest angular error below :data:`VERDICT_ANGLE_FRACTION` of the
    half-spacing; 3A: the memory block at alpha = 1/2 within :data:`VERDICT_BLOCK_ERROR` of Phi
    (Eq. 12) and below :data:`VERDICT_BLOCK_FACTOR` times every null model's; 3D: at least
    :data:`VERDICT_BITS` of the output-phase bits decoded at the predicted memory, at least
    :data:`VERDICT_CROSSTALK` of the inputs found there, and both above every null model.
    ``present`` is "yes" (all three), "partly" or "no" (none).
    """
    m = metrics["trained"]
    nulls_ = [v for k, v in metrics.items() if k != "trained"]
    criteria = [_criterion_3b(m, s), _criterion_3a(m, nulls_), _criterion_3d(m, nulls_)]
    n_ok = sum(c["passed"] for c in criteria)
    present = "yes" if n_ok == 3 else ("no" if n_ok == 0 else "partly")
    line = {
        "yes": "the repeat-copy circuit of the theory looks present (3 of 3 criteria)",
        "partly": f"the repeat-copy circuit looks partly present ({n_ok} of 3 criteria)",
        "no": "the repeat-copy circuit does not look present (0 of 3 criteria)",
    }[present]
    return {"present": present, "n_passed": n_ok, "criteria": criteria, "line": line}


def _versions() -> dict[str, str]:
    import matplotlib
    import scipy

    import emt

    out = {
        "emt": getattr(emt, "__version__", "?"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.__version__
    return out


def _check_options(s, kappa, alpha, n_h: int, kappa_w: int):
    from emt import _validate

    try:
        s = None if s is None else _validate.positive_int("s", s)
        kappa = None if kappa is None else _validate.positive_int("kappa", kappa)
        a = _validate.number_in("alpha", alpha, 0.0, 1.0)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if kappa is not None and kappa != kappa_w:
        raise BadInput(f"kappa = {kappa} does not match W_uh, which has {kappa_w} columns")
    if s is not None and s * kappa_w > n_h:
        raise BadInput(f"s*kappa = {s}*{kappa_w} = {s * kappa_w} exceeds the hidden size {n_h}")
    return s, a


def _default_out(source) -> Path:
    stem = Path(source).stem if isinstance(source, (str, os.PathLike)) else "weights"
    return Path(f"emt-report-{stem}")


def _prepare_out(out) -> Path:
    out = Path(out)
    if out.exists() and not (out.is_dir() and (out / "report.json").is_file()):
        if not (out.is_dir() and not any(out.iterdir())):
            raise BadInput(
                f"{out} exists and is not an emt report directory; refusing to overwrite it"
            )
    return out


# ------------------------------------------------------------------ emt analyze, stage by stage
#
# load_stage -> choose_stage -> measure_stage -> nulls_stage -> render_stage; :func:`analyze`
# runs them in turn. Each stage reports progress through ``say`` (a callable taking one line;
# the CLI prints it) and raises BadInput for input that cannot be analysed.

Say = Callable[[str], None]


def _reporter(progress) -> Say:
    """``progress``: a callable (used as it is), True (lines to the ``emt.report`` logger) or False."""
    if callable(progress):
        return progress
    if progress:
        log = logging.getLogger("emt.report")
        return lambda line: log.info("%s", line)
    return lambda line: None


@dataclass
class Input:
    """Stage 1 (:func:`load_stage`): the weights read and checked, and the options."""

    weights: dict[str, np.ndarray]
    info: dict[str, Any]
    n_h: int
    kappa: int
    has_bias: bool
    hint_s: int | None  # the s an emt checkpoint stores, where it fits
    seed: int
    s_given: int | None
    alpha: float
    out: Path


def load_stage(source, *, s=None, kappa=None, alpha=0.5, keys=None, out=None) -> Input:
    """Read ``source`` (:func:`load_weights`' formats, or a weights dict) and check the options."""
    weights, info = _read_network(source, keys)
    n_h, kappa_w = weights["W_uh"].shape
    s_given, a = _check_options(s, kappa, alpha, n_h, kappa_w)
    out = _prepare_out(out if out is not None else _default_out(source))
    checkpoint = info["format"] == "emt checkpoint"
    hint_s = info["hints"].get("s") if checkpoint else None
    hint_s = int(hint_s) if isinstance(hint_s, int) and hint_s * kappa_w <= n_h else None
    seed = info["hints"].get("seed", 0) if checkpoint else 0
    seed = int(seed) if isinstance(seed, int) and seed >= 0 else 0
    has_bias = "b_h" in weights and bool(np.any(weights["b_h"] != 0))
    return Input(weights, info, n_h, kappa_w, has_bias, hint_s, seed, s_given, a, out)


@dataclass
class Choice:
    """Stage 2 (:func:`choose_stage`): what is analysed, with which s, and why."""

    analysed: dict[str, np.ndarray]  # W_hh, W_uh, W_r (the linearised triple for a biased net)
    nonlinearity: str  # of the probe runs: "tanh", or "linear" for the linearised system
    lin_info: dict[str, Any] | None
    s: int
    s_source: str  # "given", "inferred" or "checkpoint"
    inference: Any  # the emt.analysis.infer_s_kappa result the report quotes


def _infer(inp: Input, w_hh):
    """(inference, usable): the s of W_hh's spectrum, usable if not refused and kappa matches."""
    from emt import analysis

    inf = analysis.infer_s_kappa(w_hh)
    if inf.kappa is not None and inf.kappa != inp.kappa:
        return inf, False
    return inf, not inf.refused


def _linearisation(inp: Input, say: Say):
    """Paper App. C: the network linearised at its best point; returns (lin, its info, inferences)."""
    from emt import linearise as lin_mod
    from emt import metrics, tasks

    w = inp.weights

    def linearise(s_in: int):
        rng = np.random.default_rng([metrics.PROBE_SEED, inp.seed, 1])
        u, _ = tasks.repeat_copy_batch(32, s_in, inp.kappa, 3 * s_in, rng)
        try:
            return lin_mod.linearise(w["W_hh"], w["W_uh"], w["b_h"], u, W_r=w["W_r"], seed=inp.seed)
        except ValueError as exc:
            raise BadInput(f"the network cannot be linearised: {exc}") from None

    inferences = []
    if inp.s_given is not None:
        s0, s0_source = inp.s_given, "given"
    elif inp.hint_s is not None:
        s0, s0_source = inp.hint_s, "checkpoint"
    else:
        inf0, ok0 = _infer(inp, w["W_hh"])
        s0, s0_source = (inf0.s, "W_hh") if ok0 else (max(1, inp.n_h // (4 * inp.kappa)), "guess")
    say(f"linearising around a fixed or operating point (inputs with s = {s0})")
    lin = linearise(s0)
    if inp.s_given is None:
        inf, ok = _infer(inp, lin.J)
        inferences.append(inf)
        if ok and inf.s != s0:
            say(f"linearising again with the inferred s = {inf.s}")
            lin = linearise(inf.s)
            s0, s0_source = inf.s, "inferred"
        else:
            say("linearisation kept")
    else:
        say("linearisation done")
    info = {
        "kind": lin.kind,
        "one_step_error": lin.one_step_error,
        "h0_rms": float(np.sqrt(np.mean(lin.h0**2))),
        "offset_max": float(np.max(np.abs(lin.c))),
        "n_fixed_points": len(lin.fixed_points),
        "candidates": lin.candidates,
        "diagnostics": lin.diagnostics,
        "input_s": s0,
        "input_s_source": s0_source,
        "h0": lin.h0,
    }
    return lin, info, inferences


def choose_stage(inp: Input, say: Say) -> Choice:
    """What to analyse (W_hh itself, or the linearisation of a biased network) and s."""
    from emt import analysis

    if inp.has_bias:
        lin, lin_info, inferences = _linearisation(inp, say)
        analysed, nonlinearity = lin.weights(), "linear"
    else:
        say("no hidden bias: W_hh, W_uh, W_r are analysed directly")
        analysed = {k: inp.weights[k] for k in ("W_hh", "W_uh", "W_r")}
        lin_info, inferences, nonlinearity = None, [], "tanh"
    inf = inferences[-1] if inferences else analysis.infer_s_kappa(analysed["W_hh"])
    if inp.s_given is not None:
        s_used, s_source = inp.s_given, "given"
    elif not inf.refused and inf.kappa == inp.kappa:
        s_used, s_source = int(inf.s), "inferred"
    elif inp.hint_s is not None:
        s_used, s_source = inp.hint_s, "checkpoint"
    else:
        why = inf.evidence()
        if not inf.refused:
            why = f"inferred kappa = {inf.kappa} does not match W_uh's {inp.kappa} columns\n{why}"
        raise BadInput(
            f"s could not be inferred from the spectrum of "
            f"{'the Jacobian' if inp.has_bias else 'W_hh'}; pass --s S.\n{why}"
        )
    say(f"s = {s_used} ({s_source}), kappa = {inp.kappa}")
    return Choice(analysed, nonlinearity, lin_info, s_used, s_source, inf)


@dataclass
class Measured:
    """Stage 3 (:func:`measure_stage`): Algorithm 1 at the user's alpha and the probe run."""

    phi: np.ndarray
    vm: Any  # emt.analysis.VariableMemories, or None where Algorithm 1 could not run
    alg1: dict[str, Any]
    threshold: float  # the modulus threshold the metrics use
    probe: dict[str, Any]
    contents: np.ndarray | None
    decoding: Any
    spectrum: Any  # emt.analysis.spectrum_report of the analysed W_hh


def _algorithm1_summary(inp: Input, f3) -> dict[str, Any]:
    """What report.json says of Algorithm 1 at the user's alpha (``f3``: a Figure3)."""
    from emt import metrics

    alg1: dict[str, Any] = {
        "alpha": inp.alpha, "error": f3.memories_error, "threshold_for_metrics": f3.cut
    }  # fmt: skip
    vm = f3.memories
    if vm is not None:
        d = vm.diagnostics
        alg1.update(
            select=d.select, n_above_threshold=d.n_above_threshold, n_kept=d.n_kept,
            cutoff=d.cutoff, gap=d.gap, psi_condition=d.psi_condition,
            basis_condition=d.basis_condition, warnings=list(d.warnings), n_pca=vm.n_pca,
            block_report={k: v for k, v in f3.main.items() if k not in metrics.PROBE_KEYS},
        )  # fmt: skip
    return alg1


def measure_stage(inp: Input, choice: Choice) -> Measured:
    """Algorithm 1 at the user's alpha, the probe of Figure 3D, and the spectrum (Figure 3B).

    One call of :func:`emt.metrics.figure3` with ``select="auto"``: the threshold of 1 when at
    least s*kappa eigenvalues reach it, else the s*kappa largest (:func:`emt.analysis.memory_cut`).
    """
    from emt import circuits, metrics

    s = choice.s
    u_probe, x_probe, probe_name = _probe_input(s, inp.kappa)
    f3 = metrics.figure3(
        choice.analysed, s, seed=inp.seed, alpha=inp.alpha, select="auto",
        nonlinearity=choice.nonlinearity, inputs={"probe": (u_probe, x_probe)},
    )  # fmt: skip
    probe: dict[str, Any] = {"input": probe_name, "steps": int(u_probe.shape[0])}
    if f3.probe is not None:
        target = x_probe[np.arange(u_probe.shape[0]) % s]
        probe.update(
            bit_accuracy=f3.probe.bit_accuracy,
            all_signs_ok=f3.probe.all_signs_ok,
            min_cosine=f3.probe.min_cosine,
            output_sign_accuracy=float(np.mean(np.sign(f3.probe_outputs) == target)),
        )
    phi = circuits.repeat_copy_phi(s, inp.kappa)
    return Measured(
        phi, f3.memories, _algorithm1_summary(inp, f3), f3.cut, probe, f3.probe_contents,
        f3.probe, f3.spectrum,
    )  # fmt: skip


def nulls_stage(inp: Input, choice: Choice, measured: Measured, say: Say):
    """Every metric of the network and of its null models (:func:`emt.nulls.compare`); verdict."""
    from emt import nulls

    n_models = 1 + len(nulls.NULL_MODELS)
    say(f"measuring the network and {n_models - 1} null models ...")
    done = iter(range(1, n_models + 1))
    try:
        metrics = nulls.compare(
            choice.analysed, choice.s, inp.seed, nonlinearity=choice.nonlinearity,
            threshold=measured.threshold,
            progress=lambda name: say(f"  {next(done)}/{n_models} {name}"),
        )  # fmt: skip
    except ValueError as exc:
        raise BadInput(f"the metrics cannot be computed: {exc}") from None
    say("metrics measured")
    return metrics, verdict(metrics, choice.s)


def _report_dict(inp: Input, choice: Choice, m: Measured, metrics, verdict_, figs) -> dict:
    w, spec, n_mem = inp.weights, m.spectrum, choice.s * inp.kappa
    inf = choice.inference
    return {
        "report_format": REPORT_FORMAT,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": {
            **inp.info, "n_h": inp.n_h, "kappa": inp.kappa, "has_hidden_bias": inp.has_bias,
            "hidden_bias_norm": float(np.linalg.norm(w.get("b_h", np.zeros(1)))),
            "readout_bias_norm": float(np.linalg.norm(w.get("b_r", np.zeros(1)))),
            "nonlinearity": "tanh (assumed: it cannot be read from the weights)",
        },
        "s_kappa": {
            "s": choice.s, "kappa": inp.kappa, "source": choice.s_source,
            "confidence": inf.confidence if choice.s_source == "inferred" else None,
            "evidence": inf.evidence(), "inference": _sk_dict(inf), "checkpoint_s": inp.hint_s,
        },
        "linearisation": choice.lin_info,
        "analysed": "linearised triple (J, B, W_r)" if inp.has_bias else "W_hh, W_uh, W_r",
        "probe_dynamics": choice.nonlinearity,
        "seed": inp.seed,
        "algorithm1": m.alg1,
        "spectrum": {
            "counts": spec.counts, "mean_angular_error_deg": spec.mean_angular_error_deg,
            "max_angular_error_deg": spec.max_angular_error_deg, "gap": spec.gap,
            "largest_moduli": np.abs(spec.eigenvalues[: n_mem + 5]),
        },
        "probe": m.probe,
        "metrics": {"network": metrics["trained"],
                    "nulls": {k: v for k, v in metrics.items() if k != "trained"}},
        "verdict": verdict_,
        "figures": {k: FIGURES[k] for k in figs},
        "versions": _versions(),
    }  # fmt: skip


def render_stage(inp: Input, choice: Choice, measured: Measured, metrics, verdict_) -> dict:
    """Figures 3A, 3B, 3D, report.json and report.md, written atomically into ``inp.out``."""
    import matplotlib.pyplot as plt

    from emt.plotting import analysis as plots

    s, kappa, m = choice.s, inp.kappa, measured
    spec, figs = m.spectrum, {}
    try:
        figs["3B"] = plots.spectrum(
            spec.eigenvalues, np.linalg.eigvals(m.phi), s, spec.counts, s * kappa
        )
        if m.vm is not None:
            figs["3A"] = plots.basis_matrix(m.vm.phi_learned, m.phi, s, kappa)
        if m.contents is not None:
            figs["3D"] = plots.memory_states(m.contents, s, kappa, m.decoding.slots, mu=1)
        report = _jsonable(_report_dict(inp, choice, m, metrics, verdict_, figs))
        _write(inp.out, report, _markdown(report), figs)
    finally:
        for f in figs.values():
            plt.close(f)
    report["out"] = str(inp.out)
    return report


def analyze(
    source,
    *,
    s: int | None = None,
    kappa: int | None = None,
    alpha: float = 0.5,
    keys=None,
    out=None,
    progress: bool | Say = True,
) -> dict:
    """Analyse a user's Elman RNN: s and kappa, Algorithm 1, every Figure 3 metric and its nulls.

    Chapter "Analyse your own network"; paper Sec. 6 (Algorithm 1), Sec. 7 (Figure 3)
    and App. C (bias). ``source`` is a file (:func:`load_weights`) or a weights dict;
    ``s`` (default: inferred by :func:`emt.analysis.infer_s_kappa`, else the ``s`` stored in an
    :mod:`emt.rnn` checkpoint) and ``kappa`` (default and only allowed value: the columns of
    ``W_uh``) fix the memories; ``alpha`` weighs the two estimates of Eq. 14-15 for the figures
    and the headline block report (the metrics are measured at alpha = 0, 1/2 and 1). A network
    with a non-zero hidden bias is linearised (:func:`emt.linearise.linearise`, App. C) and the
    bias-free triple ``(J, B, W_r)`` is analysed, with probe runs of the linear system.

    The stages, each a function of this module: :func:`load_stage` (read and check),
    :func:`choose_stage` (what is analysed, and s), :func:`measure_stage` (Algorithm 1, the
    probe, the spectrum), :func:`nulls_stage` (every metric beside its null models, the
    verdict) and :func:`render_stage` (figures and files).

    Writes into ``out`` (default ``emt-report-<file stem>``; ``None`` with a dict source:
    ``emt-report-weights``) atomically: the directory is built beside it and renamed, so a failure
    leaves nothing half-written; an existing report directory is replaced, anything else there is
    refused. Files: ``report.json`` (:func:`analyze`'s return value), ``report.md`` and the PNGs
    of :data:`FIGURES`. ``progress``: a callable that receives one line per step (the CLI prints
    them), True to send the lines to the ``emt.report`` logger, False for none. Returns the
    report as a dict (``"out"``: the directory). Raises :class:`BadInput` (before writing
    anything) for input that cannot be analysed, including an s that can neither be given nor
    inferred.
    """
    say = _reporter(progress)
    inp = load_stage(source, s=s, kappa=kappa, alpha=alpha, keys=keys, out=out)
    say(
        f"loaded {inp.info['path'] or 'weights dict'} ({inp.info['format']}): N_h = {inp.n_h}, "
        f"kappa = {inp.kappa}, {'hidden bias' if inp.has_bias else 'no hidden bias'}"
    )
    choice = choose_stage(inp, say)
    measured = measure_stage(inp, choice)
    metrics, verdict_ = nulls_stage(inp, choice, measured, say)
    return render_stage(inp, choice, measured, metrics, verdict_)


def _write(out: Path, report: dict, md: str, figs: dict) -> None:
    """Build the report directory beside ``out`` and rename it into place."""
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    old = None
    try:
        for key, fig in figs.items():
            fig.savefig(tmp / FIGURES[key], dpi=110)
        (tmp / "report.json").write_text(
            json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        (tmp / "report.md").write_text(md, encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
            os.replace(out, old / "report")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "report").exists() and not out.exists():
            os.replace(old / "report", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


# ============================================================================ report.md

#: One line per metric for the table of report.md.
METRIC_HELP = {
    "n_eig_ge1": "eigenvalues with modulus >= threshold",
    "spectrum_counts_ok": "1 if kappa of the s*kappa largest point in every direction (3B)",
    "spectrum_count_excess": "eigenvalues in the wrong direction",
    "angle_error_mean_deg": "mean angle to the nearest s-th root of unity (deg)",
    "angle_error_max_deg": "largest angle to the nearest s-th root of unity (deg)",
    "spectrum_gap": "modulus ratio of eigenvalue s*kappa to the next (3B)",
    "block_error_a0": "memory block vs. Phi, readout (backward) estimate only, alpha = 0",
    "block_error_a1": "memory block vs. Phi, input (forward) estimate only, alpha = 1",
    "shift_error_a05": "the shift part of the memory block vs. Phi",
    "wrap_error_a05": "the wrap-around block (memory s receives memory 1) vs. Phi",
    "defect_forward_max": "shift defect of the forward estimates (forced to 0)",
    "coupling_out": "Psi_perp^* W_hh Psi relative to the memory block (forced to 0)",
    "rest": "Psi_perp^* W_hh Psi_perp relative to the memory block",
    "rnd_cos_min": "smallest cosine of the reads",
    "block_error_a05": "memory block vs. Phi of Eq. 12, alpha = 1/2 (3A)",
    "defect_backward_mean": "shift defect of the backward estimates",
    "n_pca": "principal components in Psi_perp",
    "basis_condition": "condition of [Psi; Psi_perp]",
    "coupling_in": "Psi^* W_hh Psi_perp relative to the memory block",
    "rest_radius": "spectral radius of the rest block",
    "rnd_acc_in": "bits read at the predicted memory, input phase (3D)",
    "rnd_acc_out": "bits read at the predicted memory, output phase (3D)",
    "rnd_cos_mean": "mean cosine of the reads",
    "crosstalk_match": "inputs whose strongest read is the predicted memory",
    "read_before_write": "what the memories read before their input is written",
}


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.3g}"


def _md_input(r: dict) -> list[str]:
    """The report's title, verdict line, what was loaded, and s and kappa."""
    inp, sk, ver = r["input"], r["s_kappa"], r["verdict"]
    src = inp["path"] or "a weights dict"
    lines = [
        f"# emt analyze: {Path(src).name if inp['path'] else src}",
        "",
        f"**Verdict: {ver['line']}.**",
        "",
        "## What was loaded",
        "",
        (
            f"- file: `{src}` ({inp['format']}), sha256 `{inp['sha256']}`"
            if inp["path"]
            else "- source: a weights dict passed to emt.report.analyze"
        ),
        "- weights: " + ", ".join(f"{k} = `{v}`" for k, v in inp["keys"].items()),
        f"- hidden size N_h = {inp['n_h']}, input size kappa = {inp['kappa']}; nonlinearity "
        f"{inp['nonlinearity']}",
        "- hidden bias: "
        + (f"yes, norm {_fmt(inp['hidden_bias_norm'])}" if inp["has_hidden_bias"] else "none"),
        "",
        "## s and kappa",
        "",
        f"s = {sk['s']}, kappa = {sk['kappa']}, {sk['source']}"
        + (f" with confidence {sk['confidence']:.2f}" if sk["confidence"] is not None else "")
        + ". The spectrum's evidence (`emt.analysis.infer_s_kappa`):",
        "",
        "```",
        sk["evidence"],
        "```",
        "",
    ]
    return lines


def _md_analysis(r: dict) -> list[str]:
    """The linearisation (for a biased network) and Algorithm 1."""
    sk, alg1 = r["s_kappa"], r["algorithm1"]
    lines: list[str] = []
    lin = r["linearisation"]
    if lin is not None:
        lines += [
            "## Linearisation (paper App. C)",
            "",
            f"The network has a hidden bias, so it was linearised around its {lin['kind']} "
            f"(RMS of h0 {_fmt(lin['h0_rms'])}, {lin['n_fixed_points']} fixed point(s) found, "
            f"one-step prediction error {_fmt(lin['one_step_error'])}); the bias-free triple "
            "(J, B, W_r) is analysed below and the probe runs use the linear system.",
            "",
        ]
    lines += [
        "## Algorithm 1",
        "",
        f"alpha = {alg1['alpha']:g}; "
        + (
            f"Algorithm 1 failed: {alg1['error']}"
            if alg1["error"]
            else f"selection '{alg1['select']}' kept {alg1['n_kept']} directions "
            f"({alg1['n_above_threshold']} with |lambda| >= 1, s*kappa = {sk['s'] * sk['kappa']}); "
            f"gap {_fmt(alg1['gap'])}, basis condition {_fmt(alg1['basis_condition'])}; "
            f"memory block error {_fmt(alg1['block_report'].get('block_error'))}"
        ),
        "",
    ]
    for w in alg1.get("warnings", []):
        lines.append(f"- warning: {w}")
    if alg1.get("warnings"):
        lines.append("")
    if alg1["threshold_for_metrics"] != 1.0:
        lines += [
            f"Fewer than s*kappa eigenvalues reach modulus 1, so every metric below uses the "
            f"cut {alg1['threshold_for_metrics']:.4g} instead of the threshold 1.",
            "",
        ]
    return lines


def _md_evidence(r: dict) -> list[str]:
    """The verdict's criteria and every metric beside the null models."""
    from emt import metrics, nulls

    lines = ["## Verdict", ""]
    for c in r["verdict"]["criteria"]:
        lines.append(
            f"- Figure {c['figure']}, {c['name']}: **{'pass' if c['passed'] else 'fail'}** "
            f"({c['detail']})"
        )
    lines += [
        "",
        "## Metrics beside the null models",
        "",
        "Null models (`emt.nulls`): untrained_orth / untrained_pytorch = an untrained network "
        "(orthogonal / PyTorch init), spectrum = the same eigenvalues with random eigenvectors, "
        "wrong_s = the network analysed with a wrong s, random_uh = a random W_uh.",
        "",
    ]
    names = list(nulls.NULL_MODELS)
    head = "| metric | network | " + " | ".join(names) + " | meaning |"
    lines += [head, "|" + "---|" * (len(names) + 3)]
    net, nl = r["metrics"]["network"], r["metrics"]["nulls"]
    for key in metrics.METRIC_KEYS:
        vals = [_fmt(net.get(key))] + [_fmt(nl.get(n, {}).get(key)) for n in names]
        lines.append(f"| {key} | " + " | ".join(vals) + f" | {METRIC_HELP.get(key, '')} |")
    errs = [(n, d.get("error")) for n, d in [("network", net), *nl.items()] if d.get("error")]
    if errs:
        lines += ["", "Where a value is n/a, Algorithm 1 could not run:", ""]
        lines += [f"- {n}: {e}" for n, e in errs]
    return lines


def _md_figures(r: dict) -> list[str]:
    """The figures with their captions, and the versions."""
    probe = r["probe"]
    lines = ["", "## Figures", ""]
    captions = {
        "3A": "Figure 3A: W_hh in the basis [Psi; Psi_perp] (memory block outlined) beside Phi.",
        "3B": "Figure 3B: eigenvalues, with the count of the s*kappa largest per direction.",
        "3D": f"Figure 3D: the hidden states of {probe['input']} read on the variable memories; "
        f"bits decoded with the right sign: {_fmt(probe.get('bit_accuracy'))}.",
    }
    for key in ("3A", "3B", "3D"):
        if key in r["figures"]:
            lines += [f"![{captions[key]}]({r['figures'][key]})", "", f"*{captions[key]}*", ""]
    v = r["versions"]
    lines += [
        "---",
        f"emt {v['emt']}, Python {v['python']}, numpy {v['numpy']}"
        + (f", torch {v['torch']}" if "torch" in v else "")
        + f"; {r['created']}. Every number is in report.json.",
        "",
    ]
    return lines


def _markdown(r: dict) -> str:
    """report.md: the report in words (every number is in report.json)."""
    return "\n".join(_md_input(r) + _md_analysis(r) + _md_evidence(r) + _md_figures(r))


def summary(report: Mapping[str, Any]) -> str:
    """A few lines for the terminal."""
    inp, sk, ver = report["input"], report["s_kappa"], report["verdict"]
    net = report["metrics"]["network"]
    lines = [
        f"loaded {inp['path'] or 'weights dict'} ({inp['format']}): N_h = {inp['n_h']}, "
        f"kappa = {inp['kappa']}"
        + (", linearised (hidden bias)" if report["linearisation"] else ""),
        f"s = {sk['s']}, kappa = {sk['kappa']} ({sk['source']}"
        + (f", confidence {sk['confidence']:.2f}" if sk["confidence"] is not None else "")
        + ")",
    ]
    lines += sk["evidence"].splitlines()[1:]
    lines.append(
        f"block error (3A) {_fmt(net.get('block_error_a05'))}, output bits (3D) "
        f"{_fmt(net.get('rnd_acc_out'))}, spectrum counts ok (3B) "
        f"{_fmt(net.get('spectrum_counts_ok'))}"
    )
    lines.append(f"verdict: {ver['line']}")
    if "out" in report:
        lines.append(f"report: {Path(report['out']) / 'report.md'}")
    return "\n".join(lines)
