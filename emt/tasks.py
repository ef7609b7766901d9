"""Tasks as data: sequence generators for the chapters and for training.

Conventions (used by every chapter): a sequence has T time steps indexed
k = 0, ..., T-1; the input phase is k < s, the output phase k >= s, where the
input is the zero vector. For repeat copy the target at every step is
y[k] = u[k mod s]: during the input phase the network echoes the vector it has
just written (the reader sees the writer's slot), afterwards it recalls the
input with period s (paper Sec. 5.1, Eq. 5; Sec. 5.2, Eq. 12-13).

Linear tasks (chapter "Any linear function of the history", book/linear_tasks.md;
paper Eq. 5 and Eq. 9). A linear task with history length s and vectors of kappa
components is a ``(kappa, s*kappa)`` matrix ``F``: the next vector of the sequence is

    x[k] = F @ concat(x[k-s], x[k-s+1], ..., x[k-1]),

so block j = 1..s of F (columns ``(j-1)*kappa .. j*kappa - 1``) multiplies the input
``s - j + 1`` steps back: block 1 acts on the oldest input of the window, block s on
the newest. This is the ordering of the variable memories c = [c_1; ...; c_s] of
:func:`emt.circuits.shift_phi` (memory 1 oldest, memory s newest), so ``F`` is
exactly the last block row of the paper's Phi (Eq. 9).

Text bitmaps (chapters on the analysis of the trained network, paper Fig. 3C):
:func:`text_bitmap` draws text in a pixel font 5 pixels tall, one column per time step.
"""

from __future__ import annotations

import numpy as np

from emt._validate import positive_ints as _check_sizes

_VALUE_KINDS = ("pm1", "01", "real")


def _check_n_out(n_out) -> None:
    if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or n_out < 0:
        raise ValueError(f"n_out must be a non-negative integer, got {n_out!r}")


def random_vectors(
    shape: tuple[int, ...], rng: np.random.Generator, values: str = "pm1"
) -> np.ndarray:
    """Random input vectors: 'pm1' bits in {-1, +1}, '01' bits in {0, 1}, or 'real' standard normal."""
    if values == "pm1":
        return rng.integers(0, 2, size=shape).astype(float) * 2.0 - 1.0
    if values == "01":
        return rng.integers(0, 2, size=shape).astype(float)
    if values == "real":
        return rng.standard_normal(shape)
    raise ValueError(f"values must be one of {_VALUE_KINDS}, got {values!r}")


def repeat_copy_batch(
    batch: int, s: int, kappa: int, n_out: int, rng: np.random.Generator, values: str = "pm1"
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of repeat-copy sequences (chapters "Linear repeat copy" and
    "Training the Elman RNN"; paper Eq. 5, 12).

    Returns ``(u, y)``, both of shape ``(batch, s + n_out, kappa)``: ``u[:, :s]`` holds
    the s input vectors and ``u[:, s:]`` is zero; ``y[:, k] = u[:, k mod s]``.
    """
    _check_sizes(batch=batch, s=s, kappa=kappa)
    _check_n_out(n_out)
    x = random_vectors((batch, s, kappa), rng, values)
    u = np.zeros((batch, s + n_out, kappa))
    u[:, :s] = x
    y = x[:, np.arange(s + n_out) % s]
    return u, y


# ---------------------------------------------------------------------------------------------
# Linear tasks: F as a (kappa, s*kappa) matrix (chapter "Any linear function of the history")
# ---------------------------------------------------------------------------------------------


def task_shape(F) -> tuple[int, int]:
    """``(s, kappa)`` of a linear task ``F`` of shape ``(kappa, s*kappa)``; ValueError if F is not one.

    Chapter "Any linear function of the history" (book/linear_tasks.md; paper Eq. 5).
    """
    F = np.asarray(F)
    if F.ndim != 2:
        raise ValueError(f"F must be a 2-D array of shape (kappa, s*kappa), got shape {F.shape}")
    kappa, n = F.shape
    if kappa < 1 or n < 1 or n % kappa:
        raise ValueError(
            f"F must have shape (kappa, s*kappa) with s, kappa >= 1, got {F.shape} "
            f"({n} columns is not a positive multiple of kappa = {kappa})"
        )
    if not np.issubdtype(F.dtype, np.number) or not np.all(np.isfinite(F)):
        raise ValueError("F must hold finite numbers")
    return n // kappa, kappa


def _as_task(F) -> tuple[np.ndarray, int, int]:
    s, kappa = task_shape(F)
    return np.asarray(F, dtype=float), s, kappa


def lag_block(F, lag: int) -> np.ndarray:
    """The ``(kappa, kappa)`` block of F that multiplies the input ``lag`` steps back (1 <= lag <= s).

    Chapter "Any linear function of the history". Lag 1 is the newest input (block s of F),
    lag s the oldest (block 1).
    """
    F, s, kappa = _as_task(F)
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or not 1 <= lag <= s:
        raise ValueError(f"lag must be an integer in 1..s = 1..{s}, got {lag!r}")
    j = s - lag  # 0-based block index
    return F[:, j * kappa : (j + 1) * kappa].copy()


def repeat_copy(s: int, kappa: int) -> np.ndarray:
    """Repeat copy as a linear task: ``x[k] = x[k - s]``, i.e. ``F = [I, 0, ..., 0]``.

    Chapter "Any linear function of the history" (paper Eq. 12: the last block row of Phi
    copies memory 1, the oldest, into memory s). The sequence is periodic with period s.
    """
    _check_sizes(s=s, kappa=kappa)
    F = np.zeros((kappa, s * kappa))
    F[:, :kappa] = np.eye(kappa)
    return F


def compose_copy(s: int) -> np.ndarray:
    """Compose copy as a linear task with kappa = s (the paper names the task in Sec. 7 only).

    Chapter "Any linear function of the history" (book/linear_tasks.md), where the choice is
    discussed. Definition used in this book: for i = 1..s, component i of the next vector copies
    component i of the input ``s - i + 1`` steps back,

        x^i[k] = x^i[k - (s - i + 1)],

    so the output vector is composed of one component from each slot of the history window
    (component 1 from the oldest input, component s from the newest): block j of F is the
    projection on component j, ``F[i-1, (i-1)*s + (i-1)] = 1``. Component i is periodic with
    period ``s - i + 1``, the whole sequence with period lcm(1, ..., s).
    """
    _check_sizes(s=s)
    kappa = s
    F = np.zeros((kappa, s * kappa))
    for i in range(kappa):  # 0-based component i reads block i (lag s - i)
        F[i, i * kappa + i] = 1.0
    return F


def signed_permutation(s: int, kappa: int, perm, lags, signs) -> np.ndarray:
    """A signed permutation of components across lags: ``x^i[k] = signs[i] * x^{perm[i]}[k - lags[i]]``.

    Chapter "Any linear function of the history". Indices are 0-based: component ``i`` of the
    next vector is component ``perm[i]`` of the input ``lags[i]`` steps back (1 <= lags[i] <= s),
    multiplied by ``signs[i]`` (+1 or -1). ``perm`` must be a permutation of 0..kappa-1. F has a
    single nonzero entry, ``signs[i]``, per row: ``F[i, (s - lags[i])*kappa + perm[i]]``.
    Each cycle (i_1 -> perm[i_1] -> ...) of the permutation, of total lag L and sign product
    sigma, contributes the L-th roots of sigma to the spectrum of Phi; the rest is zero.
    """
    _check_sizes(s=s, kappa=kappa)
    perm = np.asarray(perm)
    lags = np.asarray(lags)
    signs = np.asarray(signs)
    for name, a in (("perm", perm), ("lags", lags), ("signs", signs)):
        if a.shape != (kappa,):
            raise ValueError(f"{name} must have kappa = {kappa} entries, got shape {a.shape}")
    if perm.dtype.kind not in "iu" or sorted(perm.tolist()) != list(range(kappa)):
        raise ValueError(f"perm must be a permutation of 0..{kappa - 1}, got {perm.tolist()}")
    if lags.dtype.kind not in "iu" or np.any(lags < 1) or np.any(lags > s):
        raise ValueError(f"lags must be integers in 1..s = 1..{s}, got {lags.tolist()}")
    if not np.all(np.isin(signs, (-1, 1))):
        raise ValueError(f"signs must be +1 or -1, got {signs.tolist()}")
    F = np.zeros((kappa, s * kappa))
    for i in range(kappa):
        F[i, (s - int(lags[i])) * kappa + int(perm[i])] = float(signs[i])
    return F


def add_two(s: int, kappa: int, lags: tuple[int, int] | None = None) -> np.ndarray:
    """Adding task: the sum of two earlier inputs, ``x[k] = x[k - a] + x[k - b]`` with lags ``(a, b)``.

    Chapter "Any linear function of the history". ``lags`` defaults to ``(s, 1)`` (the oldest and
    the newest input of the window); the two lags must differ and lie in 1..s. Each component
    follows the scalar recurrence with characteristic polynomial ``z^s - z^(s-a) - z^(s-b)``,
    whose largest root exceeds 1: the values grow geometrically.
    """
    _check_sizes(s=s, kappa=kappa)
    if lags is None:
        lags = (s, 1)
    if len(lags) != 2:
        raise ValueError(f"lags must be a pair (a, b), got {lags!r}")
    a, b = lags
    for lag in (a, b):
        if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or not 1 <= lag <= s:
            raise ValueError(f"lags must be integers in 1..s = 1..{s}, got {lags!r}")
    if a == b:
        raise ValueError(f"the two lags must differ, got {lags!r}")
    F = np.zeros((kappa, s * kappa))
    for lag in (a, b):
        j = s - lag
        F[:, j * kappa : (j + 1) * kappa] = np.eye(kappa)
    return F


def companion(F) -> np.ndarray:
    """The block companion matrix of a linear task, acting on the window stacked newest first.

    Chapters "Any linear function of the history" and "Compose copy, trained"
    (book/compose_copy.md). With ``z[k] = (x[k-1], x[k-2], ..., x[k-s])``, ``z[k+1] = C z[k]``:
    the first block row holds the blocks of F ordered by lag (lag 1 first), below it an identity
    shifts the window. It is Phi of the paper's Eq. 9 (:func:`emt.circuits.shift_phi`) with the
    order of the s blocks reversed, so the two share their eigenvalues; built here from the
    columns of F without Phi.
    """
    F, s, kappa = _as_task(F)
    n = s * kappa
    comp = np.zeros((n, n))
    for lag in range(1, s + 1):
        j = s - lag  # 0-based block of F acting on this lag
        comp[:kappa, (lag - 1) * kappa : lag * kappa] = F[:, j * kappa : (j + 1) * kappa]
    comp[kappa:, : n - kappa] = np.eye(n - kappa)
    return comp


def _check_window(x, s: int, kappa: int, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim not in (2, 3) or x.shape[-2:] != (s, kappa):
        raise ValueError(
            f"{name} must have shape (s, kappa) or (batch, s, kappa) = (..., {s}, {kappa}) "
            f"for this F, got {x.shape}"
        )
    return x


def continue_sequence(F, u_inputs, n_out: int) -> np.ndarray:
    """The task's own continuation of a history window: the reference for every linear circuit.

    Chapter "Any linear function of the history" (paper Eq. 5). ``u_inputs`` holds the s inputs
    x[0], ..., x[s-1] (shape (s, kappa) or (batch, s, kappa)); returns x[s], ..., x[s+n_out-1]
    (shape (n_out, kappa) or (batch, n_out, kappa)) computed by applying
    ``x[k] = F @ concat(x[k-s], ..., x[k-1])`` on a sliding window. Independent of emt.circuits.
    """
    F, s, kappa = _as_task(F)
    _check_n_out(n_out)
    x = _check_window(u_inputs, s, kappa, "u_inputs")
    lead = x.shape[:-2]
    buf = np.zeros(lead + (s + n_out, kappa))
    buf[..., :s, :] = x
    for k in range(s, s + n_out):
        window = buf[..., k - s : k, :].reshape(lead + (s * kappa,))
        buf[..., k, :] = window @ F.T
    return buf[..., s:, :]


def driven_sequence(F, w) -> np.ndarray:
    """The task's recurrence driven by inputs: ``v[k] = w[k] + F @ concat(v[k-s], ..., v[k-1])``.

    Chapter "Any linear function of the history" (paper Eq. 9 with the writer of Eq. 11). Values
    before time 0 are zero. ``w`` has shape (T, kappa) or (batch, T, kappa) (any T >= 0); returns
    ``v`` of the same shape. This is what a linear RNN built from F by Eq. 9-11 reads out when
    fed ``w``: the writer *adds* the input to what F computes from the partly filled memories.
    """
    F, s, kappa = _as_task(F)
    w = np.asarray(w, dtype=float)
    if w.ndim not in (2, 3) or w.shape[-1] != kappa:
        raise ValueError(
            f"w must have shape (T, kappa) or (batch, T, kappa) with kappa = {kappa}, got {w.shape}"
        )
    lead, T = w.shape[:-2], w.shape[-2]
    buf = np.zeros(lead + (s + T, kappa))  # s leading zeros hold the empty history
    for k in range(T):
        window = buf[..., k : k + s, :].reshape(lead + (s * kappa,))
        buf[..., s + k, :] = w[..., k, :] + window @ F.T
    return buf[..., s:, :]


def write_inputs(F, u_inputs) -> np.ndarray:
    """Inputs that make the driven recurrence (and so the Eq. 9-11 circuit) store ``u_inputs`` exactly.

    Chapter "Any linear function of the history". Returns ``w`` with
    ``w[k] = x[k] - F @ concat(x[k-s], ..., x[k-1])`` for k = 0..s-1 (zero before time 0), so that
    ``driven_sequence(F, w)[..., :s, :] == u_inputs``. For repeat copy, whose F reads only the
    oldest input, ``w == u_inputs``. Shapes as in :func:`continue_sequence`.
    """
    F, s, kappa = _as_task(F)
    x = _check_window(u_inputs, s, kappa, "u_inputs")
    lead = x.shape[:-2]
    buf = np.zeros(lead + (2 * s, kappa))
    buf[..., s:, :] = x
    w = np.empty_like(x)
    for k in range(s):
        window = buf[..., k : k + s, :].reshape(lead + (s * kappa,))
        w[..., k, :] = x[..., k, :] - window @ F.T
    return w


def linear_task_batch(
    F,
    batch: int,
    n_out: int,
    rng: np.random.Generator,
    values: str = "pm1",
    compensate: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """A seedable batch ``(u, y)`` of any linear task, in the format of :func:`repeat_copy_batch`.

    Chapters "Any linear function of the history" and "Training the Elman RNN" (paper Eq. 5). Both arrays have
    shape ``(batch, s + n_out, kappa)``. The s inputs ``x`` are drawn by :func:`random_vectors`
    (same random stream as :func:`repeat_copy_batch`); the targets echo them in the input phase,
    ``y[:, :s] = x``, and continue them by the task afterwards,
    ``y[:, s:] = continue_sequence(F, x, n_out)``. The input is ``u[:, :s] = x`` and zero after,
    or, with ``compensate=True``, ``u[:, :s] = write_inputs(F, x)``: the inputs with which the
    linear circuit of Eq. 9-11 reproduces ``y`` exactly. For ``F = repeat_copy(s, kappa)`` the
    batch equals ``repeat_copy_batch(batch, s, kappa, n_out, rng, values)``.
    """
    F, s, kappa = _as_task(F)
    _check_sizes(batch=batch)
    _check_n_out(n_out)
    x = random_vectors((batch, s, kappa), rng, values)
    u = np.zeros((batch, s + n_out, kappa))
    u[:, :s] = write_inputs(F, x) if compensate else x
    y = np.empty((batch, s + n_out, kappa))
    y[:, :s] = x
    y[:, s:] = continue_sequence(F, x, n_out)
    return u, y


# ---------------------------------------------------------------------------------------------
# Text as a bitmap (paper Fig. 3C: the input "3141")
# ---------------------------------------------------------------------------------------------

#: Glyphs of the 3x5 pixel font, rows from top to bottom ('#' = 1, '.' = 0).
_GLYPHS: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", "..#", "..#", "..#"),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    " ": ("...", "...", "...", "...", "..."),
    "-": ("...", "...", "###", "...", "..."),
    ".": ("...", "...", "...", "...", ".#."),
    "A": (".#.", "#.#", "###", "#.#", "#.#"),
    "B": ("##.", "#.#", "##.", "#.#", "##."),
    "C": (".##", "#..", "#..", "#..", ".##"),
    "D": ("##.", "#.#", "#.#", "#.#", "##."),
    "E": ("###", "#..", "##.", "#..", "###"),
    "F": ("###", "#..", "##.", "#..", "#.."),
    "G": (".##", "#..", "#.#", "#.#", ".##"),
    "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "I": ("###", ".#.", ".#.", ".#.", "###"),
    "J": ("..#", "..#", "..#", "#.#", ".#."),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "L": ("#..", "#..", "#..", "#..", "###"),
    "M": ("#.#", "###", "###", "#.#", "#.#"),
    "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "O": (".#.", "#.#", "#.#", "#.#", ".#."),
    "P": ("##.", "#.#", "##.", "#..", "#.."),
    "Q": (".#.", "#.#", "#.#", "##.", ".##"),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "S": (".##", "#..", ".#.", "..#", "##."),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"),
    "V": ("#.#", "#.#", "#.#", "#.#", ".#."),
    "W": ("#.#", "#.#", "###", "###", "#.#"),
    "X": ("#.#", "#.#", ".#.", "#.#", "#.#"),
    "Y": ("#.#", "#.#", ".#.", ".#.", ".#."),
    "Z": ("###", "..#", ".#.", "#..", "###"),
}

#: The characters :func:`text_bitmap` can draw (letters are case-insensitive).
FONT_CHARS = "".join(sorted(_GLYPHS))

#: Pixel height of the font (= kappa of the bitmap) and columns per glyph (+1 blank column).
FONT_HEIGHT = 5
GLYPH_WIDTH = 3


def text_bitmap(text: str, kappa: int = FONT_HEIGHT) -> np.ndarray:
    """Text drawn in a 3x5 pixel font, one column per time step (paper Fig. 3C, the input "3141").

    Chapters "Any linear function of the history" and the analysis of the trained network.
    Each character is 3 columns wide and followed by one blank column, so a text of n characters
    gives ``4 n`` columns ("3141" fills s = 16 steps). Returns an array of shape
    ``(4 n, kappa)`` with entries 0.0 / 1.0: time steps along axis 0, pixel rows along axis 1
    (index 0 = top row). Only ``kappa = 5`` is supported. Letters are case-insensitive;
    characters not in :data:`FONT_CHARS` raise ValueError naming them.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if not text:
        raise ValueError("text must not be empty")
    if isinstance(kappa, bool) or not isinstance(kappa, (int, np.integer)) or kappa != FONT_HEIGHT:
        raise ValueError(
            f"the pixel font is {FONT_HEIGHT} pixels tall: kappa must be {FONT_HEIGHT}, got {kappa!r}"
        )
    missing = sorted({c for c in text if c.upper() not in _GLYPHS})
    if missing:
        raise ValueError(f"the font lacks the characters {missing!r}; available: {FONT_CHARS!r}")
    cols = []
    for c in text:
        glyph = np.array(
            [[p == "#" for p in row] for row in _GLYPHS[c.upper()]], dtype=float
        )  # (5, 3)
        cols.append(glyph.T)  # (3, 5): one row per time step
        cols.append(np.zeros((1, FONT_HEIGHT)))
    return np.concatenate(cols, axis=0)


def to_pm1(bits) -> np.ndarray:
    """Map bits {0, 1} to {-1, +1} (``2 b - 1``), the encoding of the training chapter.

    Chapters "Training the Elman RNN" and "Reading the trained network" (the "3141" input of Fig. 3C).
    Raises ValueError if an entry is not 0 or 1.
    """
    b = np.asarray(bits, dtype=float)
    if not np.all((b == 0) | (b == 1)):
        raise ValueError("bits must be 0 or 1")
    return 2.0 * b - 1.0
