"""Reading a user's network: checkpoint formats, weight names, and what is refused.

Chapter "Analyse your own network", sections "The command" (``sec-an-command``) and "What it
refuses" (``sec-an-refuses``). :func:`load_weights` returns ``W_hh``, ``W_uh``, ``W_r`` and the
biases of a one-layer tanh Elman RNN, or raises :class:`BadInput` saying why it cannot.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emt import elman

#: The names of :func:`load_weights`'s result and of the ``keys`` map.
WEIGHT_NAMES = ("W_hh", "W_uh", "W_r", "b_h", "b_r")
#: Names a ``keys`` map may use: those of :data:`WEIGHT_NAMES` and torch's two hidden biases.
KEY_NAMES = ("W_hh", "W_uh", "W_r", "b_ih", "b_hh", "b_h", "b_r")
#: Containers of a state dict inside a checkpoint dict, tried in this order.
CONTAINERS = ("state_dict", "model_state_dict", "state", "model", "net", "module")
#: Keys of a checkpoint's non-tensor part that name the nonlinearity.
NONLINEARITY_KEYS = ("nonlinearity", "activation", "nonlin")


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


def _refuse_other_shapes(arrays: Mapping[str, np.ndarray], used: Mapping[str, str]) -> None:
    """What the generic check cannot say: a GRU's or an LSTM's stacked W_hh, a readout that is
    not repeat copy's (as many outputs as inputs)."""
    w_hh, w_uh, w_r = arrays["W_hh"], arrays["W_uh"], arrays["W_r"]
    if w_hh.ndim == 2 and w_hh.shape[0] != w_hh.shape[1]:
        for k, cell in ((3, "a GRU"), (4, "an LSTM")):
            if w_hh.shape[0] == k * w_hh.shape[1]:
                raise BadInput(
                    f"{used['W_hh']} has shape {w_hh.shape} = ({k} N_h, N_h): {cell}, "
                    "not an Elman RNN"
                )
    fits = w_hh.ndim == w_uh.ndim == w_r.ndim == 2 and w_r.shape[1] == w_hh.shape[0]
    if fits and w_r.shape[0] != w_uh.shape[1]:
        raise BadInput(
            f"the readout {used['W_r']} has {w_r.shape[0]} outputs but the network reads "
            f"kappa = {w_uh.shape[1]} inputs; repeat copy (the theory's task) needs as many "
            "outputs as inputs"
        )


def _elman_check(
    weights: Mapping[str, np.ndarray], names: Mapping[str, str], require=elman.MATRICES
) -> dict:
    """:func:`emt.elman.check_weights` (finite entries too), its message naming the file's keys."""
    try:
        return elman.check_weights(weights, finite=True, require=require)
    except ValueError as exc:
        msg = str(exc)
        for name, key in names.items():
            msg = re.sub(rf"\b{name}\b(?! \()", f"{name} ({key})", msg)
        raise BadInput(msg) from None


def _weights_from_flat(
    flat: Mapping, keys: dict[str, str] | None, hints: Mapping[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Resolve, convert and check the weights; BadInput on anything unanalysable."""
    _refuse_other_cells(hints)
    used = _resolve(flat, keys)
    arrays = {name: _to_numpy(flat[key], key) for name, key in used.items()}
    _refuse_other_shapes(arrays, used)
    matrices = {k: arrays[k] for k in ("W_hh", "W_uh", "W_r")}
    names = {k: used[k] for k in matrices}
    out = _elman_check(matrices, names)
    hidden = [n for n in ("b_ih", "b_hh", "b_h") if n in arrays]
    for n in hidden:  # each hidden bias on its own, before nn.RNN's two are added up
        bias = {"W_hh": out["W_hh"], "b_h": arrays[n]}
        _elman_check(bias, {"W_hh": used["W_hh"], "b_h": f"{n} = {used[n]}"}, require=("W_hh",))
    if hidden:
        out["b_h"] = arrays[hidden[0]]
        for n in hidden[1:]:
            out["b_h"] = out["b_h"] + arrays[n]
        names["b_h"] = " + ".join(used[n] for n in hidden)
    if "b_r" in arrays:
        out["b_r"], names["b_r"] = arrays["b_r"], used["b_r"]
    return _elman_check(out, names), used


def read_network(source, keys=None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`load_weights` for a path or a weights dict, with a description of what was read.

    Chapter "Analyse your own network", section "The command" (``sec-an-command``). Returns
    ``(weights, info)``: ``info`` has ``path``, ``sha256`` and ``size_bytes`` of the file (None
    for a dict), ``format`` (e.g. "state_dict", "emt checkpoint", "npz", "dict"), ``keys``
    (the entry each weight came from) and ``hints`` (``s``, ``kappa``, ``hidden``, ``seed``,
    ``bias`` where the checkpoint records them). Raises :class:`BadInput` as
    :func:`load_weights` does.
    """
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
    return read_network(path, keys)[0]
