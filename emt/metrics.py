"""The numbers of Figure 3 for one network: one function, :func:`figure3`, and its result.

Chapter "How general is the circuit?" (book/universality.md), with the analysis of the chapters
"Reading the trained network" and "Appendix: checking the reading"; paper Sec. 6 (Algorithm 1,
Eq. 14-15) and Sec. 7 (Figure 3A-D). Every part of ``emt`` that measures a network goes through
:func:`figure3`: the chapters, the null models (:func:`emt.nulls.compare`), the sweep's results
table (:func:`emt.sweep.table_cells`) and ``emt analyze`` (:mod:`emt.report`). Which eigenvalues
Algorithm 1 keeps is decided by one rule, :func:`emt.analysis.memory_cut`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from emt import _validate, analysis, circuits, elman, tasks
from emt._validate import positive_int as _pos_int

#: The values of alpha (Eq. 14-15) at which the memory block is compared with Phi, and the suffix
#: of their keys. At the main alpha (default 1/2) also the couplings and the decoding are measured.
ALPHAS = (0.0, 0.5, 1.0)
ALPHA_TAGS = {0.0: "a0", 0.5: "a05", 1.0: "a1"}
#: Eigenvalues of modulus at least this (minus :data:`emt.analysis.EIG_TOL`) are kept by
#: Algorithm 1 and counted in ``n_eig_ge1`` (paper Sec. 6).
THRESHOLD = 1.0
#: Hidden states for the PCA of Algorithm 1: random +-1 sequences, input phase plus
#: ``PCA_PERIODS`` output periods.
PCA_SEQUENCES, PCA_PERIODS = 64, 4
#: Probe runs for decoding, cross-talk and read-before-write (:func:`probe_batch`).
PROBE_SEQUENCES, PROBE_PERIODS = 64, 3
#: Every random draw of :func:`figure3` comes from ``default_rng([PROBE_SEED, seed])``.
PROBE_SEED = 20231
#: Ways of running the network for the probes: Eq. 6 (``tanh``) or the linear circuit of Sec. 5.2.
NONLINEARITIES = ("tanh", "linear")

#: Keys of :func:`emt.analysis.block_report` kept for every alpha of :data:`ALPHAS`.
BLOCK_PARTS = ("block_error", "wrap_error", "shift_error", "row_wrap_error", "row_shift_error")
#: Keys of :func:`emt.analysis.block_report` kept at the main alpha only.
COUPLING_KEYS = ("coupling_in", "coupling_out", "rest", "rest_radius")
#: Keys of :func:`emt.analysis.batch_decoding` (main alpha).
DECODING_KEYS = (
    "rnd_acc_in",
    "rnd_acc_out",
    "rnd_cos_mean",
    "rnd_cos_min",
    "crosstalk_match",
    "read_before_write",
)
#: The keys of :attr:`Figure3.values`, in order (:meth:`Figure3.row` adds ``error``).
METRIC_KEYS: tuple[str, ...] = (
    "n_eig_ge1",
    "spectrum_counts_ok",
    "spectrum_count_excess",
    "angle_error_mean_deg",
    "angle_error_max_deg",
    "spectrum_gap",
    *(f"{key}_{ALPHA_TAGS[a]}" for a in ALPHAS for key in BLOCK_PARTS),
    "defect_forward_max",
    "defect_backward_mean",
    "n_pca",
    "basis_condition",
    *COUPLING_KEYS,
    *DECODING_KEYS,
)
#: Keys of :attr:`Figure3.main` from a single probe run (``inputs["probe"]``).
PROBE_KEYS = ("probe_acc", "probe_cos_in", "probe_cos_out")


def probe_batch(
    n_seq: int, s: int, kappa: int, n_out: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat-copy probe runs whose s inputs differ from each other when they can.

    Chapter "How general is the circuit?"; paper Eq. 5. Returns ``(u, x)``: ``u``
    ``(n_seq, s + n_out, kappa)`` with the inputs ``x`` ``(n_seq, s, kappa)`` (bits +-1) in the
    first s steps and zeros after. When ``s <= 2**kappa`` the s inputs of a run are distinct
    patterns drawn without replacement, so that the cross-talk test
    (:func:`emt.analysis.strongest_memory`) can name the memory of every input; otherwise they are
    independent bits and repeated inputs are left out of that test.
    """
    n_seq, s, kappa = (_pos_int(n, v) for n, v in (("n_seq", n_seq), ("s", s), ("kappa", kappa)))
    n_out = _validate.integer("n_out", n_out, lo=0)
    if kappa <= 20 and s <= 2**kappa:
        codes = np.array([rng.choice(2**kappa, size=s, replace=False) for _ in range(n_seq)])
        bits = (codes[..., None] >> np.arange(kappa)) & 1
        x = 2.0 * bits - 1.0
    else:
        x = tasks.random_vectors((n_seq, s, kappa), rng)
    u = np.zeros((n_seq, s + n_out, kappa))
    u[:, :s] = x
    return u, x


@dataclass(frozen=True)
class Figure3:
    """Result of :func:`figure3`.

    ``values``: the numbers of :data:`METRIC_KEYS` (NaN where a stage failed); ``error``: why
    stages failed ("" if none did); ``cut``: the modulus cut Algorithm 1 used
    (:func:`emt.analysis.memory_cut`); ``main``: the scalars of
    :func:`emt.analysis.block_report` at the main alpha, and :data:`PROBE_KEYS` when a probe run
    was given; ``memories``: Algorithm 1 at the main alpha (None if it failed, its reason in
    ``memories_error``); ``spectrum``: :func:`emt.analysis.spectrum_report` on the s*kappa
    largest eigenvalues; for the probe run, ``probe`` (:func:`emt.analysis.decode_memories`),
    ``probe_contents`` (memory contents per step) and ``probe_outputs`` (the network's outputs).
    ``m[key]`` (and ``dict(m)``, ``**m``) reads ``main`` first, then ``values``.
    """

    values: dict[str, float]
    error: str
    cut: float
    main: dict[str, float]
    memories: Any
    memories_error: str
    spectrum: analysis.SpectrumReport
    probe: Any = None
    probe_contents: np.ndarray | None = None
    probe_outputs: np.ndarray | None = None

    def __getitem__(self, key: str) -> float:
        return self.main[key] if key in self.main else self.values[key]

    def keys(self) -> list[str]:
        """The keys of ``main``, then those of ``values`` that ``main`` lacks."""
        return [*self.main, *(k for k in self.values if k not in self.main)]

    def row(self) -> dict[str, Any]:
        """The numbers of :data:`METRIC_KEYS` and ``error``: one row of a table."""
        return {**self.values, "error": self.error}


def _simulate(w: Mapping[str, np.ndarray], u: np.ndarray, nonlinearity: str):
    with np.errstate(over="ignore", invalid="ignore"):
        if nonlinearity == "linear":
            return elman.simulate({k: w[k] for k in elman.MATRICES}, u, nonlinearity="linear")
        return elman.simulate(w, u)


def _runs(w, s: int, kappa: int, seed: int, inputs: Mapping[str, Any] | None, nonlinearity: str):
    """Hidden states for the PCA and the batch, and the probe run: ``(h_pca, h_batch, x_batch,
    probe)`` with ``probe`` None or ``(states, outputs, x)``."""
    inputs = dict(inputs or {})
    unknown = set(inputs) - {"pca", "batch", "probe"}
    if unknown:
        raise ValueError(f"inputs has unknown keys {sorted(unknown)}: use 'pca', 'batch', 'probe'")
    rng = np.random.default_rng([PROBE_SEED, seed])
    if "pca" in inputs:
        u_pca = np.asarray(inputs["pca"], dtype=float)
    else:
        u_pca, _ = tasks.repeat_copy_batch(PCA_SEQUENCES, s, kappa, PCA_PERIODS * s, rng)
    if "batch" in inputs:
        u_batch, x_batch = (np.asarray(a, dtype=float) for a in inputs["batch"])
    else:
        u_batch, x_batch = probe_batch(PROBE_SEQUENCES, s, kappa, PROBE_PERIODS * s, rng)
    for name, u in (("pca", u_pca), ("batch", u_batch)):
        if u.ndim != 3 or u.shape[2] != kappa:
            raise ValueError(
                f"inputs[{name!r}] must have shape (B, T, kappa = {kappa}), got {u.shape}"
            )
    if u_batch.shape[1] <= s:
        raise ValueError(f"the batch runs must go on past the input phase: T > s = {s} steps")
    probe = None
    if "probe" in inputs:
        u_probe, x_probe = (np.asarray(a, dtype=float) for a in inputs["probe"])
        if u_probe.ndim != 2 or u_probe.shape[1] != kappa or u_probe.shape[0] <= s:
            raise ValueError(
                f"inputs['probe'] must be one run of shape (T > s = {s}, kappa = {kappa}), "
                f"got {u_probe.shape}"
            )
        if x_probe.shape != (s, kappa):
            raise ValueError(f"the probe's inputs must have shape (s, kappa) = ({s}, {kappa})")
        probe = (*_simulate(w, u_probe, nonlinearity), x_probe)
    h_pca = _simulate(w, u_pca, nonlinearity)[0]
    h_batch = _simulate(w, u_batch, nonlinearity)[0]
    return h_pca, h_batch, x_batch, probe


def _spectrum_values(w_hh, s: int, kappa: int, cut: float) -> tuple[dict, analysis.SpectrumReport]:
    spec = analysis.spectrum_report(w_hh, s, s * kappa)
    excess = np.maximum(spec.counts - kappa, 0)
    return {
        "n_eig_ge1": int(np.sum(np.abs(spec.eigenvalues) >= cut - analysis.EIG_TOL)),
        "spectrum_counts_ok": int(np.all(spec.counts == kappa)),
        "spectrum_count_excess": int(excess.sum()),
        "angle_error_mean_deg": spec.mean_angular_error_deg,
        "angle_error_max_deg": spec.max_angular_error_deg,
        "spectrum_gap": float(spec.gap),
    }, spec


def figure3(
    weights: Mapping[str, np.ndarray],
    s: int,
    *,
    kappa: int | None = None,
    seed: int = 0,
    alpha: float = 0.5,
    readout: str = "dual",
    removal: str = "oblique",
    threshold: float = THRESHOLD,
    select: str = "threshold",
    nonlinearity: str = "tanh",
    inputs: Mapping[str, Any] | None = None,
) -> Figure3:
    """Every Figure 3 number of one network: spectrum, memory block, couplings, decoding.

    Chapter "How general is the circuit?", section "What the metrics can tell apart"
    (``sec-un-metrics``), with the analysis of "Reading the trained network"; paper Sec. 6
    (Algorithm 1, Eq. 14-15) and Sec. 7 (Figure 3A-D).

    ``weights`` holds ``W_hh``, ``W_uh``, ``W_r`` (and ``b_h``, ``b_r`` if the network has biases;
    they enter the simulation only); ``s`` is the number of memories the analysis assumes and
    ``kappa`` (default: the columns of ``W_uh``, which it must match) their size. Hidden states
    come from running the network (Eq. 6 with ``nonlinearity="tanh"``, or the linear circuit of
    Sec. 5.2 with ``"linear"``). By default the inputs are random +-1 sequences drawn from
    ``np.random.default_rng([PROBE_SEED, seed])``: :data:`PCA_SEQUENCES` for the PCA of
    Algorithm 1 and :data:`PROBE_SEQUENCES` runs for the decoding (:func:`probe_batch`).
    ``inputs`` replaces them: ``"pca"`` ``(B, T, kappa)``, ``"batch"`` ``(u, x)`` with ``u``
    ``(B, T > s, kappa)`` and its stored inputs ``x`` ``(B, s, kappa)``, and adds ``"probe"``,
    one run ``(u, x)`` read as in Figure 3D (keys :data:`PROBE_KEYS`).

    Algorithm 1 (:func:`emt.analysis.variable_memories`) runs with ``readout``, ``removal``,
    ``threshold`` and ``select`` at every alpha of :data:`ALPHAS` and at the main ``alpha``; the
    eigenvalues it keeps are those above :func:`emt.analysis.memory_cut`. The numbers
    (:data:`METRIC_KEYS`):

    * Figure 3B (:func:`emt.analysis.spectrum_report` on the s*kappa largest eigenvalues):
      ``n_eig_ge1`` (eigenvalues with modulus >= the cut, up to :data:`emt.analysis.EIG_TOL`),
      ``spectrum_counts_ok`` (1 if kappa point in every root-of-unity direction),
      ``spectrum_count_excess`` (how many would have to move to another direction for that),
      ``angle_error_mean_deg``, ``angle_error_max_deg``, ``spectrum_gap``;
    * Figure 3A at alpha = 0, 1/2, 1 (suffix ``_a0``, ``_a05``, ``_a1``;
      :func:`emt.analysis.block_report` against Phi of Eq. 12): ``block_error``, ``wrap_error``
      (the wrap-around column, free at alpha = 1), ``shift_error`` (forced at alpha = 1),
      ``row_wrap_error`` (block row s-1, free at alpha = 0), ``row_shift_error`` (forced at
      alpha = 0); the shift defects of :func:`emt.analysis.shift_defects`,
      ``defect_forward_max`` (forced to 0) and ``defect_backward_mean`` (free);
    * at the main alpha with the PCA: ``n_pca``, ``basis_condition``, the coupling blocks
      ``coupling_in``, ``coupling_out`` (forced to 0 by the oblique removal), ``rest``,
      ``rest_radius``;
    * Figure 3D at the main alpha on the batch (:func:`emt.analysis.batch_decoding`):
      ``rnd_acc_in``/``rnd_acc_out`` (bits read with the right sign at the slot the theory
      predicts), ``rnd_cos_mean``/``rnd_cos_min`` (their cosines), ``crosstalk_match`` (the
      memory with the largest read of each input is the predicted one) and
      ``read_before_write`` (what the memories read before their input is written, relative to
      the written ones; the paper's remark that it is close to 0).

    Where Algorithm 1 cannot run (e.g. fewer than s*kappa eigenvalues above the threshold with
    ``select="threshold"``) the affected numbers are NaN and :attr:`Figure3.error` says why;
    nothing is raised for that. Raises ValueError for bad arguments: missing or mismatched
    weights, ``s`` not a positive integer, ``s * kappa`` larger than the hidden size, a ``kappa``
    that is not that of ``W_uh``, an unknown ``nonlinearity``, ``readout``, ``removal`` or
    ``select``, inputs of the wrong shape.
    """
    w = elman.check_weights(weights, finite=True)
    s = _pos_int("s", s)
    w_hh, w_uh, w_r, _, k_w = analysis.check_weights(w["W_hh"], w["W_uh"], w["W_r"], s)
    if kappa is not None and _pos_int("kappa", kappa) != k_w:
        raise ValueError(f"kappa = {kappa} does not match W_uh, which has {k_w} columns")
    kappa = k_w
    _check_choices(nonlinearity=nonlinearity, readout=readout, removal=removal)
    alpha = float(_validate.number_in("alpha", alpha, 0.0, 1.0))
    cut = analysis.memory_cut(w_hh, s * kappa, threshold, select)
    values: dict[str, Any] = {key: math.nan for key in METRIC_KEYS}
    errors: dict[str, list[str]] = {}

    def fail(stage: str, exc: Exception) -> None:
        errors.setdefault(str(exc), []).append(stage)

    spec_values, spec = _spectrum_values(w_hh, s, kappa, cut)
    values.update(spec_values)
    h_pca, h_batch, x_batch, probe = _runs(w, s, kappa, seed, inputs, nonlinearity)
    finite = bool(np.all(np.isfinite(h_pca)) and np.all(np.isfinite(h_batch)))
    if not finite:
        fail("simulation", ValueError("the hidden states are not finite (the run diverges)"))

    phi = circuits.repeat_copy_phi(s, kappa)
    options = dict(threshold=threshold, select=select, readout=readout, removal=removal)
    main: dict[str, float] = {}
    vm_main, vm_error = None, ""
    for a in sorted({*ALPHAS, alpha}):
        is_main = a == alpha
        try:
            vm = analysis.variable_memories(
                w_hh, w_uh, w_r, s, alpha=a, **options,
                hidden_states=h_pca if is_main and finite else None,
                n_components=None if is_main else 0,  # the memory block does not need Psi_perp
            )  # fmt: skip
            rep = analysis.block_report(vm, phi)
        except ValueError as exc:
            fail(f"variable_memories (alpha = {a:g})", exc)
            vm_error = str(exc) if is_main else vm_error
            continue
        if a in ALPHA_TAGS:
            values.update({f"{key}_{ALPHA_TAGS[a]}": float(rep[key]) for key in BLOCK_PARTS})
        if is_main:
            vm_main = vm
            main = {k: float(v) for k, v in rep.items() if np.ndim(v) == 0}
            values.update(n_pca=int(vm.n_pca), basis_condition=float(vm.meta["basis_condition"]))
            values.update({key: float(rep[key]) for key in COUPLING_KEYS})
            if finite:
                values.update(analysis.batch_decoding(vm, h_batch, x_batch))
    if s >= 2:
        try:
            values.update(_defects(w_hh, w_uh, w_r, s, readout, removal, cut))
        except ValueError as exc:
            fail("shift_defects", exc)
    error = "; ".join(f"{', '.join(stages)}: {msg}" for msg, stages in errors.items())
    read = _read_probe(vm_main, probe, s)
    main.update(read[3])
    return Figure3(values, error, cut, main, vm_main, vm_error, spec, *read[:3])


def _check_choices(**chosen: str) -> None:
    allowed = {
        "nonlinearity": NONLINEARITIES,
        "readout": analysis.READOUTS,
        "removal": analysis.REMOVALS,
    }
    for name, value in chosen.items():
        if value not in allowed[name]:
            raise ValueError(f"{name} must be one of {allowed[name]}, got {value!r}")


def _defects(w_hh, w_uh, w_r, s: int, readout: str, removal: str, cut: float) -> dict:
    """The shift defects of Algorithm 1's two branches, summarised (forced and free)."""
    d = analysis.shift_defects(w_hh, w_uh, w_r, s, readout=readout, removal=removal, threshold=cut)
    return {
        "defect_forward_max": float(d["forward"].max()),
        "defect_backward_mean": float(d["backward"].mean()),
    }


def _read_probe(vm, probe, s: int) -> tuple:
    """``(decoding, contents, outputs, numbers)`` of the probe run (Nones and {} without one)."""
    if probe is None:
        return None, None, None, {}
    h_probe, outputs, x_probe = probe
    if vm is None or not np.all(np.isfinite(h_probe)):
        return None, None, outputs, {}
    contents = vm.contents(h_probe)
    decoded = analysis.decode_memories(contents, x_probe)
    numbers = {
        "probe_acc": decoded.bit_accuracy,
        "probe_cos_in": float(np.nanmin(decoded.cosine[:s])),
        "probe_cos_out": float(np.nanmin(decoded.cosine[s:])),
    }
    return decoded, contents, outputs, numbers
