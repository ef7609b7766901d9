"""Figure 3B: the spectrum on the roots of unity, and s and kappa read from it.

Chapter "Reading the trained network", section "Figure 3B" (``sec-rt-figure3b``), and chapter
"Analyse your own network", section "Which s and kappa?" (``sec-an-infer``); paper Sec. 5.2
(the eigenvalues of Phi, Eq. 12) and Sec. 7 (Figure 3B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

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

#: Defaults of :func:`infer_s_kappa`: the family-wise false-positive rate of the inference (the
#: Bonferroni-corrected p-value of the chosen candidate must be at most this). The rate is
#: measured on matrices without a circuit (Gaussian, PyTorch-default and orthogonal, N_h = 32,
#: 64, 128) in ``tests/test_infer.py::test_false_positive_rate`` and in the analyze chapter
#: (``sec-an-infer``) ...
INFER_LEVEL = 0.01
#: ... the smallest gap ``|lambda_n| / |lambda_{n+1}|`` below a cluster (a cluster that does not
#: stand out from the rest of the spectrum is not a set of memories) ...
INFER_GAP_MIN = 1.02
#: ... the largest spread ``|lambda_1| / |lambda_n|`` of a cluster when kappa is given and no gap
#: is required (the memory eigenvalues of a circuit share one modulus; measured on the trained
#: networks of the book and of the foreign zoo: at most 1.16, ``tests/test_zoo.py``; the
#: linearised flip-flop network of the zoo, which has no circuit: 9.0) ...
INFER_SPREAD_MAX = 1.5
#: ... and the smallest cluster ``s * kappa`` considered.
INFER_MIN_CLUSTER = 6


def random_angle_pvalue(fractions) -> float:
    """P(mean of m independent U(0, 1) <= the mean of ``fractions``): the Irwin-Hall distribution.

    Chapter "Analyse your own network", section "Which s and kappa?" (``sec-an-infer``). An angle
    drawn uniformly on the circle lies at a distance from the nearest multiple of ``2 pi / s`` that,
    divided by the half-spacing ``pi / s``, is uniform on [0, 1]; so for m eigenvalues with random
    angles the sum of these fractions has the Irwin-Hall distribution of m uniforms, and this is the
    probability that random angles sit at least as close to the s directions as ``fractions`` do.
    Computed exactly in rational arithmetic (the alternating sum cancels badly in floats).
    """
    r = np.asarray(fractions, dtype=float).ravel()
    m = r.size
    if m == 0:
        return 1.0
    x = float(r.sum())
    if x <= 0:
        return 0.0
    if x >= m:
        return 1.0
    xf = Fraction(x)
    total = sum((-1) ** k * math.comb(m, k) * (xf - k) ** m for k in range(int(math.floor(x)) + 1))
    return float(min(1.0, max(0.0, total / math.factorial(m))))


@dataclass(frozen=True)
class SKInference:
    """What :func:`infer_s_kappa` read from a spectrum: s, kappa, a p-value and the evidence.

    Chapters "Analyse your own network" and "Networks with bias"; paper Sec. 7, Figure 3B.
    ``s`` and ``kappa`` are None when ``refused`` (``reason`` says why). The evidence describes
    ``candidate``, the inferred ``(s, kappa)`` or, after a refusal, the best candidate examined
    (None if none was):

    * ``n_cluster`` = s * kappa, the number of largest-modulus eigenvalues in the cluster, with
      moduli between ``cluster_moduli[0]`` and ``cluster_moduli[1]``; ``next_modulus`` the next
      one and ``gap`` = ``cluster_moduli[0] / next_modulus`` (inf if there is none or it is 0);
    * ``counts`` ``(s,)``: how many cluster eigenvalues point in direction ``2 pi j / s``;
      ``counts_equal``: kappa in every direction (the circuit's spectrum exactly);
      ``stands_out``: the cluster stands out from the rest (conditions 1-3 of
      :func:`infer_s_kappa`; its angles are then tested);
    * ``residuals`` ``(n_cluster,)``: each eigenvalue's angular distance (radians) to the nearest
      multiple of ``2 pi / s``; ``residual_fraction`` the largest and ``mean_fraction`` the mean
      of them over the ``n_angles`` eigenvalues with angle in (0, pi) (one per conjugate pair;
      real eigenvalues too for s = 2, whose directions are real), as fractions of the
      half-spacing ``pi / s`` (0: on the directions, 1: halfway between);
    * ``p_raw``: :func:`random_angle_pvalue` of those fractions, the probability that random
      angles fit the s directions as well; ``p_value`` = ``min(1, p_raw * n_tests)`` (Bonferroni
      over the ``n_tests`` candidates examined); the inference passes at ``p_value <= level``;
    * ``runner_up``: ``(s, kappa, p_value)`` of the next best candidate whose cluster stands out
      (every direction occupied, a gap below it), passing or not, or None; ``n_passing``: how many
      candidates pass.

    ``confidence`` = ``1 - p_value`` when inferred, 0 when refused. :meth:`evidence` formats all of
    it for printing.
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
    counts_equal: bool
    stands_out: bool
    residuals: np.ndarray
    residual_fraction: float
    mean_fraction: float
    n_angles: int
    p_raw: float
    p_value: float
    n_tests: int
    level: float
    runner_up: tuple[int, int, float] | None
    n_passing: int
    s_range: tuple[int, int]

    def evidence(self) -> str:
        """The inference and its evidence as a few lines of text."""
        if self.refused:
            lines = [f"s and kappa not inferred: {self.reason}"]
        else:
            lines = [
                f"s = {self.s}, kappa = {self.kappa} (p = {_p(self.p_value)} that random angles "
                f"fit as well, {self.n_tests} candidates, level {self.level:g})"
            ]
        if self.candidate is None:
            return "\n".join(lines)
        s, kappa = self.candidate
        pre = "  " if not self.refused else f"  best candidate s = {s}, kappa = {kappa}: "
        half = 180.0 / s
        lines += [
            f"{pre}cluster of the {self.n_cluster} largest eigenvalues, |lambda| in "
            f"[{self.cluster_moduli[0]:.4f}, {self.cluster_moduli[1]:.4f}]; next |lambda| = "
            f"{self.next_modulus:.4f}, gap {self.gap:.4f}",
            f"  angles: mean residual to a multiple of 2 pi/{s} = {self.mean_fraction:.3g} of "
            f"the half-spacing {half:.3g} deg (largest {self.residual_fraction:.3g}; random "
            f"angles: 0.5); p = {_p(self.p_value)}",
            f"  eigenvalues per direction j = 0..{s - 1}: {' '.join(str(c) for c in self.counts)}"
            + ("" if self.counts_equal else f" (not {kappa} in every direction)"),
        ]
        if self.runner_up is None:
            lines.append(
                f"  no other (s, kappa) with s in {self.s_range[0]}..{self.s_range[1]} has a "
                "cluster that stands out"
            )
        else:
            rs, rk, rp = self.runner_up
            lines.append(
                f"  runner-up: s = {rs}, kappa = {rk} (p = {_p(rp)}); "
                f"{self.n_passing} candidates pass"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.evidence()


def _p(p: float) -> str:
    """A p-value for printing: two significant digits, or a bound below 1e-12."""
    return "< 1e-12" if p < 1e-12 else f"{p:.2g}"


def _sk_candidate(ev, moduli: np.ndarray, s: int, kappa: int) -> dict:
    """The fit of the ``s * kappa`` largest eigenvalues (``ev`` by decreasing modulus) to (s, kappa)."""
    n = s * kappa
    top = ev[:n]
    theta = np.angle(top)
    step = 2 * np.pi / s
    j = np.mod(np.round(theta / step), s).astype(int)
    resid = np.abs(np.angle(np.exp(1j * (theta - j * step))))
    counts = np.bincount(j, minlength=s)
    # one angle per conjugate pair: the independent angles. A real matrix has real eigenvalues
    # whatever its structure, and they sit on a direction by construction (angle 0, and pi for
    # even s), so they are no evidence, except for s = 2, whose two directions are both real.
    tol = 1e-12 * max(float(moduli[0]), 1e-300)
    upper = top.imag > tol if s > 2 else top.imag >= -tol
    frac = resid[upper] / (np.pi / s)
    gap = _gap(moduli, n)
    spread = moduli[0] / moduli[n - 1] if moduli[n - 1] > 0 else np.inf
    return {
        "s": s,
        "kappa": kappa,
        "n": n,
        "counts": counts,
        "equal": bool(np.all(counts == kappa)),
        "occupied": bool(np.all(counts > 0)),
        "residuals": resid,
        "fraction": float(resid.max() / (np.pi / s)),
        "mean": float(frac.mean()) if frac.size else 1.0,
        "m": int(frac.size),
        "frac": frac,
        "gap": gap,
        "spread": float(spread),
        "moduli": (float(moduli[n - 1]), float(moduli[0])),
        "next": float(moduli[n]) if n < moduli.size else 0.0,
    }


def infer_s_kappa(
    w_hh,
    s_range: tuple[int, int] = (2, 64),
    kappa_max: int | None = None,
    *,
    kappa: int | None = None,
    level: float = INFER_LEVEL,
    gap_min: float = INFER_GAP_MIN,
    min_cluster: int = INFER_MIN_CLUSTER,
    require_gap: bool | None = None,
    spread_max: float = INFER_SPREAD_MAX,
    extra_tests: int = 1,
) -> SKInference:
    """Infer the number of memories s and their size kappa from the spectrum of ``W_hh``.

    Chapters "Analyse your own network" (``sec-an-infer``) and "Networks with bias" (for a
    network with bias, pass the matrix of the chosen operating point); paper Sec. 6 (Algorithm 1
    needs s and kappa) and Sec. 7, Figure 3B: the repeat-copy circuit has the s-th roots of unity
    as eigenvalues, each kappa times, and a trained network has them as its largest-modulus
    eigenvalues, with a gap to the decaying rest.

    Every candidate ``(s, kappa)`` with ``s`` in ``s_range`` (inclusive), ``kappa`` the one given
    or any ``kappa <= kappa_max`` (default: as many as fit) and ``min_cluster <= s * kappa <= n_h``
    is fitted to the ``n = s * kappa`` largest-modulus eigenvalues. Its cluster *stands out* when

    1. every one of the s directions ``2 pi j / s`` holds at least one of them (nearest
       direction), which rules out the multiples of the true s (2s, 3s, ... leave directions
       empty); kappa in every direction is reported (``counts_equal``), not required;
    2. the gap ``|lambda_n| / |lambda_{n+1}| >= gap_min``; and
    3. the cluster is tighter than the gap: ``|lambda_1| / |lambda_n| < |lambda_n| / |lambda_{n+1}|``
       (the memory eigenvalues of a circuit share one modulus); when the cluster is the whole
       spectrum (``n = n_h``), ``|lambda_1| / |lambda_n| < gap_min``.

    Conditions 2 and 3 tell kappa apart when it is not known (``require_gap``, default: when
    ``kappa`` is None). With ``kappa`` given the cluster's size is fixed and condition 1 is
    required with a looser form of 3, ``|lambda_1| / |lambda_n| <= spread_max``: a trained
    network's memory eigenvalues need not be separated from the rest by modulus (the book's
    recipe at s = 8, kappa = 4, N_h = 64 leaves a gap of 1.004, chapter "The circuit forming"),
    and the angle test keeps the false-positive rate below the level (measured with and without
    kappa in ``tests/test_infer.py::test_false_positive_rate``).

    Its angles are then scored against random angles (:func:`random_angle_pvalue`: the mean
    distance to the nearest direction, one angle per conjugate pair: a real eigenvalue lies on a
    direction by construction and is no evidence, except for s = 2), and the p-value is multiplied
    by the number of candidates examined times ``extra_tests`` (Bonferroni; ``extra_tests``
    counts other matrices of the same network tested as well, as ``emt analyze`` does for a
    network with bias), so that a matrix without a circuit is
    inferred to have one with probability at most ``level``. The divisors of the true s fail here:
    half of the true directions lie halfway between theirs. The candidate that stands out with the
    smallest p-value (then the widest gap, then the smallest n) is returned if its p-value is at
    most ``level``; else the result is *refused* (``refused=True``, ``s = kappa = None``) with the
    reason and the best candidate as evidence. The inference rests on the spectrum alone: any
    matrix with the same eigenvalues (for example the null model :func:`emt.nulls.same_spectrum`)
    gets the same answer; an unstable direction above the memory eigenvalues, or memories of
    different sizes, are not recognised.

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
    if kappa is not None:
        kappa = _pos_int("kappa", kappa)
    min_cluster = _pos_int("min_cluster", min_cluster)
    _validate.number_in("level", level, 0.0, 1.0, lo_open=True)
    if not (1 <= gap_min and np.isfinite(gap_min)):
        raise ValueError(f"need 1 <= gap_min < inf, got gap_min={gap_min!r}")
    require_gap = kappa is None if require_gap is None else bool(require_gap)
    ev = np.linalg.eigvals(w)
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    moduli = np.abs(ev)

    cands = []
    for s in range(lo, min(hi, n_h) + 1):
        k_top = n_h // s if kappa_max is None else min(kappa_max, n_h // s)
        kappas = range(1, k_top + 1) if kappa is None else ([kappa] if kappa <= k_top else [])
        cands.extend(_sk_candidate(ev, moduli, s, k) for k in kappas if s * k >= min_cluster)
    extra_tests = _pos_int("extra_tests", extra_tests)
    if not (np.isfinite(spread_max) and spread_max >= 1):
        raise ValueError(f"need 1 <= spread_max < inf, got spread_max={spread_max!r}")
    n_tests = max(1, len(cands)) * extra_tests
    for c in cands:
        c["tight"] = c["spread"] < (c["gap"] if c["n"] < n_h else gap_min)
        if require_gap:
            c["stands_out"] = c["occupied"] and c["gap"] >= gap_min and c["tight"]
        else:
            c["stands_out"] = c["occupied"] and c["spread"] <= spread_max
        c["p_raw"] = random_angle_pvalue(c["frac"]) if c["occupied"] else 1.0
        c["p"] = min(1.0, c["p_raw"] * n_tests)
    key = lambda c: (c["p"], -c["gap"], c["n"])  # noqa: E731
    standing = sorted((c for c in cands if c["stands_out"]), key=key)
    passing = [c for c in standing if c["p"] <= level]

    def result(c, refused, reason, runner_up=None):
        if c is None:
            return SKInference(
                None, None, 0.0, True, reason, None, 0, (np.nan, np.nan), np.nan, np.nan,
                np.zeros(0, int), False, False, np.zeros(0), np.nan, np.nan, 0, 1.0, 1.0, n_tests,
                level,
                None, 0, (lo, hi),
            )  # fmt: skip
        return SKInference(
            s=None if refused else c["s"],
            kappa=None if refused else c["kappa"],
            confidence=0.0 if refused else 1.0 - c["p"],
            refused=refused,
            reason=reason,
            candidate=(c["s"], c["kappa"]),
            n_cluster=c["n"],
            cluster_moduli=c["moduli"],
            next_modulus=c["next"],
            gap=c["gap"],
            counts=c["counts"],
            counts_equal=c["equal"],
            stands_out=bool(c["stands_out"]),
            residuals=c["residuals"],
            residual_fraction=c["fraction"],
            mean_fraction=c["mean"],
            n_angles=c["m"],
            p_raw=c["p_raw"],
            p_value=c["p"],
            n_tests=n_tests,
            level=level,
            runner_up=runner_up,
            n_passing=len(passing),
            s_range=(lo, hi),
        )

    if moduli[0] == 0:
        return result(None, True, "W_hh is nilpotent: every eigenvalue is 0")
    if not cands:
        k_text = "kappa" if kappa is None else f"kappa = {kappa}"
        return result(
            None, True,
            f"no candidate: s in {lo}..{hi} with {min_cluster} <= s*{k_text} <= n_h = {n_h}",
        )  # fmt: skip
    if standing:
        best = standing[0]
        second = standing[1] if len(standing) > 1 else None
        runner = None if second is None else (second["s"], second["kappa"], second["p"])
        if passing:
            return result(best, False, "", runner)
        reason = (
            f"no cluster's angles sit on the s-th roots of unity better than random angles "
            f"would: the best, s = {best['s']}, kappa = {best['kappa']}, has p = {_p(best['p'])} "
            f"> level {level:g}"
        )
        return result(best, True, reason, runner)
    return result(*_no_cluster(cands, moduli, n_h, lo, hi, level, gap_min, min_cluster))


def _no_cluster(cands, moduli, n_h, lo, hi, level, gap_min, min_cluster):
    """``(candidate, True, reason)`` when no candidate's cluster stands out from the spectrum."""
    cuts = moduli[:-1] / np.where(moduli[1:] > 0, moduli[1:], np.inf)  # |l_i| / |l_(i+1)|
    cuts = cuts[min_cluster - 1 : max(min_cluster, n_h // 2)]  # the upper half of the spectrum
    widest = (
        f"the widest gap in the upper half of the spectrum, |lambda_n| / |lambda_(n+1)| for "
        f"{min_cluster} <= n <= {max(min_cluster, n_h // 2)}, is "
        f"{cuts.max():.4f} (n = {int(np.argmax(cuts)) + min_cluster})"
        if cuts.size
        else "there is no eigenvalue below the candidates"
    )
    fitting = [c for c in cands if c["occupied"] and c["p"] <= level]
    if fitting:
        c = max(fitting, key=lambda c: (c["gap"], -c["p"]))
        if c["gap"] < gap_min:
            why = (
                f"|lambda_{c['n']}| / |lambda_{c['n'] + 1}| = {c['gap']:.4f} < gap_min = {gap_min}"
            )
        else:
            below = f"the gap {c['gap']:.4f} below it" if c["n"] < n_h else f"gap_min = {gap_min}"
            why = f"the cluster's moduli spread by a factor {c['spread']:.4f}, more than {below}"
        reason = (
            f"no gap below the cluster: the angles fit s = {c['s']}, kappa = {c['kappa']} "
            f"(p = {_p(c['p'])}), but {why}"
        )
        return c, True, reason
    c = min(cands, key=lambda c: (np.abs(c["counts"] - c["kappa"]).sum() / c["n"], c["p"]))
    nogap = cuts.size and cuts.max() < gap_min
    reason = (
        f"{'no gap and ' if nogap else ''}for no s in {lo}..{hi} do the s*kappa largest "
        f"eigenvalues stand out from the rest with every direction 2 pi j/s occupied and angles "
        f"closer to them than random (p <= {level:g}); {widest}"
    )
    return c, True, reason
