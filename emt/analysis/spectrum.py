"""Figure 3B: the spectrum on the roots of unity, and s and kappa read from it.

Chapter "Reading the trained network", section "Figure 3B" (``sec-rt-figure3b``), and chapter
"Analyse your own network", section "Which s and kappa?" (``sec-an-infer``); paper Sec. 5.2
(the eigenvalues of Phi, Eq. 12) and Sec. 7 (Figure 3B).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emt import _validate
from emt._validate import matrix
from emt._validate import positive_int as _pos_int
from emt.analysis.memories import _gap

# ----------------------------------------------------------------------------- Figure 3B numbers


@dataclass(frozen=True)
class SpectrumReport:
    """Eigenvalues sorted into the s directions of the s-th roots of unity (Figure 3B)."""

    eigenvalues: np.ndarray  # all eigenvalues, sorted by decreasing modulus
    selected: np.ndarray  # the n_select largest in modulus
    direction: (
        np.ndarray
    )  # for each selected eigenvalue, the index j of the nearest direction 2 pi j / s
    counts: np.ndarray  # (s,) how many selected eigenvalues point in each direction
    angular_error: np.ndarray  # (n_select,) |angle - 2 pi j / s| in radians
    gap: float  # |lambda_{n_select}| / |lambda_{n_select + 1}| (inf if there is no next one)

    @property
    def mean_angular_error_deg(self) -> float:
        return float(np.degrees(self.angular_error.mean()))

    @property
    def max_angular_error_deg(self) -> float:
        return float(np.degrees(self.angular_error.max()))


def spectrum_report(w, s: int, n_select: int) -> SpectrumReport:
    """Sort the ``n_select`` largest-modulus eigenvalues of ``w`` into the s root-of-unity directions.

    Chapter "Reading the trained network" (Figure 3B; the theory: Phi of Eq. 12 has the s-th roots
    of unity as eigenvalues, each kappa times). An eigenvalue at angle theta is assigned to the
    direction ``j = round(theta s / 2 pi) mod s``; its angular error is the distance to ``2 pi j / s``.
    """
    w = matrix(w, "W", finite=True)
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"W must be square, got shape {w.shape}")
    s = _pos_int("s", s)
    n_select = _pos_int("n_select", n_select)
    if n_select > w.shape[0]:
        raise ValueError(f"n_select = {n_select} exceeds the size {w.shape[0]} of W")
    ev = np.linalg.eigvals(w)
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    sel = ev[:n_select]
    theta = np.angle(sel)
    step = 2 * np.pi / s
    j = np.mod(np.round(theta / step), s).astype(int)
    err = np.abs(np.angle(np.exp(1j * (theta - j * step))))
    counts = np.bincount(j, minlength=s)
    gap = (
        float(np.abs(ev[n_select - 1]) / np.abs(ev[n_select]))
        if n_select < ev.size and ev[n_select] != 0
        else np.inf
    )
    return SpectrumReport(ev, sel, j, counts, err, gap)


# ----------------------------------------------------------------------------- inferring s and kappa

#: Defaults of :func:`infer_s_kappa`: the largest angle residual allowed, as a fraction of half the
#: spacing ``pi / s`` between two directions ...
INFER_RESID_MAX = 0.1
#: ... the smallest gap ``|lambda_n| / |lambda_{n+1}|`` below the cluster, and the gap at which the
#: gap is taken as fully convincing ...
INFER_GAP_MIN = 1.02
INFER_GAP_FULL = 1.10
#: ... and the smallest cluster ``s * kappa`` considered (smaller ones fit random matrices by chance).
INFER_MIN_CLUSTER = 6


@dataclass(frozen=True)
class SKInference:
    """What :func:`infer_s_kappa` read from a spectrum: s, kappa, a confidence and the evidence.

    Chapters "Analyse your own network" and "Networks with bias"; paper Sec. 7,
    Figure 3B. ``s`` and ``kappa`` are None when ``refused`` (``reason`` says why). The evidence
    describes ``candidate``, the inferred ``(s, kappa)`` or, after a refusal, the candidate that
    came closest (None if none was examined):

    * ``n_cluster`` = s * kappa, the number of largest-modulus eigenvalues in the cluster, with
      moduli between ``cluster_moduli[0]`` and ``cluster_moduli[1]``; ``next_modulus`` the next
      one and ``gap`` = ``cluster_moduli[0] / next_modulus`` (inf if there is none or it is 0);
    * ``counts`` ``(s,)``: how many cluster eigenvalues point in direction ``2 pi j / s``;
    * ``residuals`` ``(n_cluster,)``: each eigenvalue's angular distance (radians) to the nearest
      multiple of ``2 pi / s``; ``residual_fraction``: the largest one divided by ``pi / s``
      (0: on the directions, 1: halfway between two of them);
    * ``angle_score`` = ``1 - residual_fraction / resid_max`` and ``gap_score`` =
      ``log(gap / gap_min) / log(gap_full / gap_min)`` clipped to [0, 1], their product ``score``;
    * ``runner_up``: ``(s, kappa, score)`` of the next best candidate that also passed, or None;
      ``n_passing``: how many candidates passed.

    ``confidence`` = ``score - runner_up score`` (0 if refused). It is a heuristic in [0, 1], not a
    probability: 1 means the angles sit on the directions to rounding, the gap is at least
    ``gap_full`` and no other (s, kappa) passes; it falls to 0 as the largest residual approaches
    ``resid_max`` of the half-spacing, as the gap shrinks to ``gap_min``, or as another candidate
    explains the spectrum as well. :meth:`evidence` formats all of it for printing.
    """

    s: int | None
    kappa: int | None
    confidence: float
    refused: bool
    reason: str
    candidate: tuple[int, int] | None
    n_cluster: int
    cluster_moduli: tuple[float, float]
    next_modulus: float
    gap: float
    counts: np.ndarray
    residuals: np.ndarray
    residual_fraction: float
    angle_score: float
    gap_score: float
    score: float
    runner_up: tuple[int, int, float] | None
    n_passing: int
    s_range: tuple[int, int]

    def evidence(self) -> str:
        """The inference and its evidence as a few lines of text."""
        if self.refused:
            lines = [f"s and kappa not inferred: {self.reason}"]
        else:
            lines = [
                f"s = {self.s}, kappa = {self.kappa} (confidence {self.confidence:.2f}; "
                f"angle score {self.angle_score:.2f}, gap score {self.gap_score:.2f})"
            ]
        if self.candidate is None:
            return "\n".join(lines)
        s, kappa = self.candidate
        pre = "  " if not self.refused else f"  closest candidate s = {s}, kappa = {kappa}: "
        half = 180.0 / s
        lines += [
            f"{pre}cluster of the {self.n_cluster} largest eigenvalues, |lambda| in "
            f"[{self.cluster_moduli[0]:.4f}, {self.cluster_moduli[1]:.4f}]; next |lambda| = "
            f"{self.next_modulus:.4f}, gap {self.gap:.4f}",
            f"  angles: largest residual to a multiple of 2 pi/{s} = "
            f"{np.degrees(self.residuals.max()):.3g} deg = {self.residual_fraction:.3g} of the "
            f"half-spacing {half:.3g} deg; mean {np.degrees(self.residuals.mean()):.3g} deg",
            f"  eigenvalues per direction j = 0..{s - 1}: {' '.join(str(c) for c in self.counts)}",
        ]
        if not self.refused:
            if self.runner_up is None:
                lines.append(
                    f"  no other (s, kappa) with s in {self.s_range[0]}..{self.s_range[1]} passes"
                )
            else:
                rs, rk, rsc = self.runner_up
                lines.append(
                    f"  runner-up: s = {rs}, kappa = {rk} (score {rsc:.2f}); "
                    f"{self.n_passing} candidates pass"
                )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.evidence()


def _sk_candidates(ev: np.ndarray, moduli: np.ndarray, s: int, kappas) -> list[dict]:
    """Fits of the ``s * kappa`` largest eigenvalues (``ev`` by decreasing modulus) to (s, kappa)."""
    theta = np.angle(ev)
    step = 2 * np.pi / s
    j_all = np.mod(np.round(theta / step), s).astype(int)
    resid_all = np.abs(np.angle(np.exp(1j * (theta - j_all * step))))
    return [_sk_candidate(j_all, resid_all, moduli, s, kappa) for kappa in kappas]


def _sk_candidate(j_all, resid_all, moduli: np.ndarray, s: int, kappa: int) -> dict:
    n = s * kappa
    resid = resid_all[:n]
    counts = np.bincount(j_all[:n], minlength=s)
    nxt = float(moduli[n]) if n < moduli.size else 0.0
    return {
        "s": s,
        "kappa": kappa,
        "n": n,
        "counts": counts,
        "residuals": resid,
        "fraction": float(resid.max() / (np.pi / s)),
        "equal": bool(np.all(counts == kappa)),
        "gap": _gap(moduli, n),
        "moduli": (float(moduli[n - 1]), float(moduli[0])),
        "next": nxt,
    }


def infer_s_kappa(
    w_hh,
    s_range: tuple[int, int] = (2, 64),
    kappa_max: int | None = None,
    resid_max: float = INFER_RESID_MAX,
    gap_min: float = INFER_GAP_MIN,
    gap_full: float = INFER_GAP_FULL,
    min_cluster: int = INFER_MIN_CLUSTER,
) -> SKInference:
    """Infer the number of memories s and their size kappa from the spectrum of ``W_hh``.

    Chapters "Analyse your own network" and "Networks with bias" (for a network with
    bias, pass the Jacobian at its operating point); paper Sec. 6 (Algorithm 1 needs s and kappa)
    and Sec. 7, Figure 3B: the repeat-copy circuit has the s-th roots of unity as eigenvalues, each
    kappa times, and a trained network has them as its largest-modulus eigenvalues, with a gap to
    the decaying rest.

    Every candidate ``(s, kappa)`` with ``s`` in ``s_range`` (inclusive), ``kappa <= kappa_max``
    (default: as many as fit) and ``min_cluster <= s * kappa <= n_h`` is fitted to the
    ``n = s * kappa`` largest-modulus eigenvalues. It *passes* when

    1. every one of the s directions ``2 pi j / s`` holds exactly kappa of them (nearest
       direction), which rules out the multiples of the true s (2s, 3s, ... leave directions
       empty) and lets kappa and s be told apart at a fixed n;
    2. the largest angular residual is at most ``resid_max`` of the half-spacing ``pi / s``, which
       rules out the divisors of the true s (their directions miss the others by half a spacing or
       nearly); and
    3. the gap ``|lambda_n| / |lambda_{n+1}| >= gap_min``: the cluster is separated from the rest;
    4. the cluster is tighter than the gap: ``|lambda_1| / |lambda_n| < |lambda_n| / |lambda_{n+1}|``
       (the memory eigenvalues of a circuit share one modulus); when the cluster is the whole
       spectrum (``n = n_h``, no gap to measure), ``|lambda_1| / |lambda_n| < gap_min``.

    The passing candidate with the best score (:class:`SKInference`) is returned; if none passes,
    the result is *refused* (``refused=True``, ``s = kappa = None``) with the reason and the
    closest candidate as evidence. An untrained orthogonal ``W_hh`` (eigenvalues spread over the
    unit circle, no gap) and a random Gaussian matrix are refused. The inference rests on the
    spectrum alone: any matrix with the same eigenvalues (for example the null model
    :func:`emt.nulls.same_spectrum`) gets the same answer, and an unstable direction above the
    memory eigenvalues, or memories of different sizes, are not recognised.

    Raises ValueError for a non-square or non-finite ``W_hh`` and for bad options.
    """
    w = matrix(w_hh, "W_hh", finite=True)
    n_h = w.shape[0]
    if w.shape != (n_h, n_h):
        raise ValueError(f"W_hh must be square, got shape {w.shape}")
    try:
        lo, hi = (_pos_int("s_range[0]", s_range[0]), _pos_int("s_range[1]", s_range[1]))
    except (TypeError, IndexError):
        raise ValueError(f"s_range must be a pair of positive integers, got {s_range!r}") from None
    if len(s_range) != 2 or lo > hi:
        raise ValueError(f"s_range must be a pair (low, high) with low <= high, got {s_range!r}")
    if kappa_max is not None:
        kappa_max = _pos_int("kappa_max", kappa_max)
    min_cluster = _pos_int("min_cluster", min_cluster)
    _validate.number_in("resid_max", resid_max, 0.0, 1.0, lo_open=True)
    if not (1 <= gap_min < gap_full and np.isfinite(gap_full)):
        raise ValueError(
            f"need 1 <= gap_min < gap_full < inf, got gap_min={gap_min!r}, gap_full={gap_full!r}"
        )
    ev = np.linalg.eigvals(w)
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    moduli = np.abs(ev)

    cands = []
    for s in range(lo, min(hi, n_h) + 1):
        k_top = n_h // s if kappa_max is None else min(kappa_max, n_h // s)
        kappas = [k for k in range(1, k_top + 1) if s * k >= min_cluster]
        cands.extend(_sk_candidates(ev, moduli, s, kappas))
    for c in cands:
        c["angles_ok"] = c["equal"] and c["fraction"] <= resid_max
        spread = c["moduli"][1] / c["moduli"][0] if c["moduli"][0] > 0 else np.inf
        c["tight"] = spread < (c["gap"] if c["n"] < n_h else gap_min)
        c["passes"] = c["angles_ok"] and c["gap"] >= gap_min and c["tight"]
        c["angle_score"] = max(0.0, 1.0 - c["fraction"] / resid_max)
        g = np.log(c["gap"] / gap_min) / np.log(gap_full / gap_min) if c["gap"] > 0 else 0.0
        c["gap_score"] = float(np.clip(g, 0.0, 1.0))
        c["score"] = c["angle_score"] * c["gap_score"] if c["passes"] else 0.0
    passing = sorted(
        (c for c in cands if c["passes"]), key=lambda c: (-c["score"], -c["gap"], c["n"])
    )

    def result(c, s, kappa, confidence, refused, reason, runner_up=None):
        if c is None:
            return SKInference(
                s, kappa, confidence, refused, reason, None, 0, (np.nan, np.nan), np.nan,
                np.nan, np.zeros(0, int), np.zeros(0), np.nan, 0.0, 0.0, 0.0, None, 0, (lo, hi),
            )  # fmt: skip
        return SKInference(
            s=s,
            kappa=kappa,
            confidence=float(confidence),
            refused=refused,
            reason=reason,
            candidate=(c["s"], c["kappa"]),
            n_cluster=c["n"],
            cluster_moduli=c["moduli"],
            next_modulus=c["next"],
            gap=c["gap"],
            counts=c["counts"],
            residuals=c["residuals"],
            residual_fraction=c["fraction"],
            angle_score=c["angle_score"],
            gap_score=c["gap_score"],
            score=c["score"],
            runner_up=runner_up,
            n_passing=len(passing),
            s_range=(lo, hi),
        )

    if moduli[0] == 0:
        return result(None, None, None, 0.0, True, "W_hh is nilpotent: every eigenvalue is 0")
    if not cands:
        return result(
            None, None, None, 0.0, True,
            f"no candidate: s in {lo}..{hi} with {min_cluster} <= s*kappa <= n_h = {n_h}",
        )  # fmt: skip
    if passing:
        best = passing[0]
        second = passing[1] if len(passing) > 1 else None
        runner = None if second is None else (second["s"], second["kappa"], second["score"])
        conf = best["score"] - (second["score"] if second else 0.0)
        return result(best, best["s"], best["kappa"], conf, False, "", runner)
    cuts = moduli[:-1] / np.where(moduli[1:] > 0, moduli[1:], np.inf)  # |l_i| / |l_(i+1)|
    cuts = cuts[min_cluster - 1 : max(min_cluster, n_h // 2)]  # the upper half of the spectrum
    widest = (
        f"the widest gap in the upper half of the spectrum, |lambda_n| / |lambda_(n+1)| for "
        f"{min_cluster} <= n <= {max(min_cluster, n_h // 2)}, is "
        f"{cuts.max():.4f} (n = {int(np.argmax(cuts)) + min_cluster})"
        if cuts.size
        else "there is no eigenvalue below the candidates"
    )
    fitting = [c for c in cands if c["angles_ok"]]
    if fitting:
        c = max(fitting, key=lambda c: (c["gap"], -c["fraction"]))
        if c["gap"] < gap_min:
            why = (
                f"|lambda_{c['n']}| / |lambda_{c['n'] + 1}| = {c['gap']:.4f} < gap_min = {gap_min}"
            )
        else:
            below = f"the gap {c['gap']:.4f} below it" if c["n"] < n_h else f"gap_min = {gap_min}"
            why = (
                f"the cluster's moduli spread by a factor {c['moduli'][1] / c['moduli'][0]:.4f}, "
                "more than "
                f"{below}"
            )
        reason = (
            f"no gap below the cluster: the angles fit s = {c['s']}, kappa = {c['kappa']}, "
            f"but {why}"
        )
        return result(c, None, None, 0.0, True, reason)
    c = min(cands, key=lambda c: (np.abs(c["counts"] - c["kappa"]).sum() / c["n"], c["fraction"]))
    nogap = cuts.size and cuts.max() < gap_min
    reason = (
        f"{'no gap and ' if nogap else ''}for no s in {lo}..{hi} do the s*kappa largest "
        f"eigenvalues sit on the multiples of 2 pi/s (within {resid_max:g} of the half-spacing) "
        f"with kappa in every direction; {widest}"
    )
    return result(c, None, None, 0.0, True, reason)
