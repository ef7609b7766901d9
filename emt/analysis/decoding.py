"""Figure 3D: the stored inputs read from the memories, slot by slot.

Chapter "Reading the trained network", section "Figure 3D" (``sec-rt-figure3d``); paper
Sec. 7 (Figure 3C-D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emt import _validate
from emt._validate import positive_int as _pos_int
from emt.analysis.memories import VariableMemories
from emt.circuits import slot_of

# ----------------------------------------------------------------------------- Figure 3D numbers


def memory_slots(s: int, T: int) -> np.ndarray:
    """Predicted memory (1..s) of input mu (1..s) at time step k = 0..T-1; 0 if not yet written.

    Chapter "Reading the trained network" (Figure 3D). Input mu is written into memory s at step
    ``k = mu - 1`` and moves one memory down per step, cyclically; in terms of the (checked) slot
    formula of the chapter "Linear repeat copy", :func:`emt.circuits.slot_of`, it sits at
    ``slot_of(mu, t, s)`` with ``t = k - (s - 1)`` steps after the input phase, and since the slot
    is s-periodic in t we may use ``t = (k + 1) mod s``. Returns an int array of shape ``(T, s)``.
    """
    s = _pos_int("s", s)
    T = _validate.integer("T", T, lo=0)
    k = np.arange(T)[:, None]
    mu = np.arange(1, s + 1)[None, :]
    slots = (
        slot_of(np.broadcast_to(mu, (T, s)).copy(), np.broadcast_to((k + 1) % s, (T, s)).copy(), s)
        if T
        else np.zeros((0, s), int)
    )
    return np.where(mu - 1 <= k, slots, 0)


@dataclass(frozen=True)
class DecodingReport:
    """How well the memories, read with Psi_k^*, hold the inputs where the theory puts them (Figure 3D)."""

    slots: np.ndarray  # (T, s) predicted memory of input mu at step k (0: not yet written)
    cosine: np.ndarray  # (T, s) cosine between Psi_slot^* h[k] and u(mu); nan where not written
    signs_ok: (
        np.ndarray
    )  # (T, s) every bit of u(mu) has the sign read from its memory (False if not written)
    bit_accuracy: float  # fraction of written bits whose sign is right
    bits_ok: np.ndarray  # (T, s, kappa) the sign of each bit is right (False if not written)

    @property
    def written(self) -> np.ndarray:
        return self.slots > 0

    @property
    def min_cosine(self) -> float:
        return float(np.nanmin(self.cosine))

    @property
    def all_signs_ok(self) -> bool:
        return bool(np.all(self.signs_ok[self.written]))

    def accuracy(self, steps=slice(None)) -> float:
        """Fraction of written bits with the right sign among the time steps ``steps`` (an index or slice)."""
        w = self.written[steps]
        return float(self.bits_ok[steps][w].mean()) if w.any() else float("nan")


def _contents_and_inputs(contents, inputs) -> tuple[np.ndarray, np.ndarray]:
    """Memory contents ``(T, s, kappa)`` and the inputs ``(s, kappa)`` they are read against."""
    c = np.asarray(contents, dtype=float)
    u = np.asarray(inputs, dtype=float)
    if c.ndim != 3:
        raise ValueError(f"contents must have shape (T, s, kappa), got {c.shape}")
    _, s, kappa = c.shape
    if u.shape != (s, kappa):
        raise ValueError(f"inputs must have shape (s, kappa) = ({s}, {kappa}), got {u.shape}")
    return c, u


def decode_memories(contents, inputs) -> DecodingReport:
    """Read every written input from the memory where the slot formula puts it (Figure 3D).

    Chapter "Reading the trained network". ``contents`` ``(T, s, kappa)`` are the memory contents
    ``Psi_j^* h[k]`` (:meth:`VariableMemories.contents`), ``inputs`` ``(s, kappa)`` the input
    vectors u(1..s) with entries of either sign (e.g. bits mapped to -1/+1). The *correlation* is
    the cosine (uncentred correlation) between the read vector and u(mu): a bitmap column can be
    constant, so a centred Pearson correlation would be undefined.
    """
    c, u = _contents_and_inputs(contents, inputs)
    T, s, kappa = c.shape
    if np.any(np.linalg.norm(u, axis=1) == 0):
        raise ValueError("an input vector is zero: its cosine with the memory content is undefined")
    slots = memory_slots(s, T)
    written = slots > 0
    kk, mm = np.nonzero(written)
    read = c[kk, slots[kk, mm] - 1]  # (pairs, kappa): the memory the slot formula names
    want = u[mm]
    nr = np.linalg.norm(read, axis=1)
    cos = np.where(
        nr > 0,
        np.sum(read * want, axis=1) / np.where(nr > 0, nr, 1.0) / np.linalg.norm(want, axis=1),
        0.0,
    )
    ok = np.sign(read) == np.sign(want)
    cosine = np.full((T, s), np.nan)
    cosine[kk, mm] = cos
    signs_ok = np.zeros((T, s), dtype=bool)
    signs_ok[kk, mm] = ok.all(axis=1)
    bits_ok = np.zeros((T, s, kappa), dtype=bool)
    bits_ok[kk, mm] = ok
    acc = float(ok.mean()) if ok.size else float("nan")
    return DecodingReport(slots, cosine, signs_ok, acc, bits_ok)


def strongest_memory(contents, inputs) -> np.ndarray:
    """For each stored input, the memory that reads most of it: the cross-talk test of Figure 3D.

    Chapter "How general is the circuit?" (it calibrates the reading of Figure 3D in the
    chapter "Reading the trained network"); paper Sec. 7. ``contents`` ``(T, s, kappa)`` are the
    memory contents ``Psi_j^* h[k]`` and ``inputs`` ``(s, kappa)`` the inputs u(1..s). The *read*
    of u(mu) from memory j at step k is the projection coefficient
    ``<Psi_j^* h[k], u(mu)> / |u(mu)|^2`` (1 where u(mu) is stored, the overlap with the stored
    input elsewhere, 0 in an empty memory). Returns an int array ``(T, s)``: the memory (1..s)
    with the largest read of u(mu) at step k, or 0 where u(mu) is not yet written or is not
    identifiable because another input is equal to it (the two would tie). Compare it with
    :func:`memory_slots`: for the exact circuit they agree wherever it is non-zero.
    """
    c, u = _contents_and_inputs(contents, inputs)
    T, s, kappa = c.shape
    norms = np.sum(u**2, axis=1)
    if np.any(norms == 0):
        raise ValueError("an input vector is zero: its read from a memory is undefined")
    reads = np.einsum("kji,mi->kmj", c, u) / norms[None, :, None]  # (T, mu, memory j)
    best = np.argmax(reads, axis=2) + 1
    unique = ~np.any(np.all(u[:, None] == u[None], axis=2) & ~np.eye(s, dtype=bool), axis=1)
    written = memory_slots(s, T) > 0
    return np.where(written & unique[None, :], best, 0)


def read_before_write(contents) -> float:
    """How much the memories that hold no input yet read: the remark on Figure 3D (paper Sec. 7).

    Chapter "How general is the circuit?"; paper Sec. 7 (before an input is written,
    its memory reads close to 0). ``contents`` ``(..., T, s, kappa)`` are memory contents
    (:meth:`VariableMemories.contents`) of runs whose input phase is steps ``0..s-1``. At input
    step ``k < s - 1`` the memories that :func:`memory_slots` names for the inputs 1..k+1 are
    occupied and the other ``s - k - 1`` are empty. Returns the root-mean-square content of the
    empty memories divided by that of the occupied ones, over those steps and all runs: 0 for the
    exact circuit, about 1 when the readers do not separate the memories. NaN for ``s = 1`` or
    runs shorter than the input phase (no empty memory to read).
    """
    c = np.asarray(contents, dtype=float)
    if c.ndim < 3:
        raise ValueError(f"contents must have shape (..., T, s, kappa), got {c.shape}")
    T, s = c.shape[-3], c.shape[-2]
    if s < 2 or T < s:
        return float("nan")
    slots = memory_slots(s, s - 1)  # (s-1, s): steps 0..s-2
    occupied = np.zeros((s - 1, s), dtype=bool)
    for k in range(s - 1):
        occupied[k, slots[k][slots[k] > 0] - 1] = True
    power = np.sum(c[..., : s - 1, :, :] ** 2, axis=-1).reshape(-1, s - 1, s).sum(axis=0)
    full = power[occupied].sum() / occupied.sum()
    empty = power[~occupied].sum() / (~occupied).sum()
    if full == 0:
        return float("nan") if empty == 0 else float("inf")
    return float(np.sqrt(empty / full))


def batch_decoding(vm: VariableMemories, states, inputs) -> dict:
    """Figure 3D read on a batch of runs: decoding, cross-talk and read-before-write.

    Chapter "Reading the trained network" (Figure 3D) and "How general is the circuit?";
    paper Sec. 7. ``states`` ``(B, T, n_h)`` are hidden states of B runs whose input
    phase is steps ``0..s-1`` (T > s), ``inputs`` ``(B, s, kappa)`` their inputs. Returns:

    * ``rnd_acc_in``/``rnd_acc_out``: the mean over runs of the fraction of stored bits whose
      sign is read right from the memory the slot formula names (:func:`decode_memories`), in
      the input/output phase; ``rnd_cos_mean``/``rnd_cos_min``: the mean and the smallest cosine
      over all (run, step, input) pairs;
    * ``crosstalk_match``: the fraction of (run, step, stored input) pairs for which the memory
      with the largest read of the input is the one the slot formula names
      (:func:`strongest_memory`; inputs equal to another input of the run are left out);
    * ``read_before_write``: :func:`read_before_write` over the batch.
    """
    states = np.asarray(states, dtype=float)
    inputs = np.asarray(inputs, dtype=float)
    n_h, s, kappa = vm.basis.shape[0], vm.s, vm.kappa
    n_b = states.shape[0] if states.ndim == 3 else 0
    if n_b < 1 or states.shape[2] != n_h:
        raise ValueError(f"states must have shape (B, T, n_h = {n_h}), got {states.shape}")
    if inputs.shape != (n_b, s, kappa):
        raise ValueError(
            f"inputs must have shape (B, s, kappa) = ({n_b}, {s}, {kappa}), got {inputs.shape}"
        )
    if states.shape[1] <= s:
        raise ValueError(f"the runs must go on past the input phase: T > s = {s} steps")
    contents = vm.contents(states)
    runs = [decode_memories(c, u) for c, u in zip(contents, inputs)]
    cos = np.array([r.cosine for r in runs])
    slots = runs[0].slots
    best = np.array([strongest_memory(c, u) for c, u in zip(contents, inputs)])
    counted = best > 0
    return {
        "rnd_acc_in": float(np.mean([r.accuracy(slice(0, s)) for r in runs])),
        "rnd_acc_out": float(np.mean([r.accuracy(slice(s, None)) for r in runs])),
        "rnd_cos_mean": float(np.nanmean(cos)),
        "rnd_cos_min": float(np.nanmin(cos)),
        "crosstalk_match": (
            float(np.mean(best[counted] == np.broadcast_to(slots, best.shape)[counted]))
            if counted.any()
            else float("nan")
        ),
        "read_before_write": read_before_write(contents),
    }
