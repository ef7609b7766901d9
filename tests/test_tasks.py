"""Unit tests of emt.tasks: the task generators, the linear tasks F, and the text bitmap."""

import numpy as np
import pytest

from emt import circuits, tasks

# --- random_vectors and repeat_copy_batch (used by the training code) -------------------------


@pytest.mark.parametrize("values, allowed", [("pm1", {-1.0, 1.0}), ("01", {0.0, 1.0})])
def test_random_vectors_bits(values, allowed, rng):
    v = tasks.random_vectors((50, 7), rng, values)
    assert v.shape == (50, 7)
    assert set(np.unique(v)) == allowed


def test_random_vectors_real_and_seed():
    a = tasks.random_vectors((3, 4), np.random.default_rng(5), "real")
    b = tasks.random_vectors((3, 4), np.random.default_rng(5), "real")
    assert np.array_equal(a, b)
    assert len(np.unique(a)) == 12


def test_random_vectors_bad_kind(rng):
    with pytest.raises(ValueError, match="values must be one of"):
        tasks.random_vectors((2, 2), rng, "gauss")


def test_repeat_copy_batch_format():
    u, y = tasks.repeat_copy_batch(4, 3, 2, 7, np.random.default_rng(1))
    assert u.shape == y.shape == (4, 10, 2)
    assert np.all(u[:, 3:] == 0)
    for k in range(10):
        assert np.array_equal(y[:, k], u[:, k % 3])
    assert set(np.unique(u[:, :3])) <= {-1.0, 1.0}
    u2, y2 = tasks.repeat_copy_batch(4, 3, 2, 7, np.random.default_rng(1))
    assert np.array_equal(u, u2) and np.array_equal(y, y2)


def test_repeat_copy_batch_n_out_zero_and_values(rng):
    u, y = tasks.repeat_copy_batch(2, 5, 3, 0, rng, values="01")
    assert u.shape == (2, 5, 3)
    assert np.array_equal(u, y)
    assert set(np.unique(u)) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "args, msg",
    [
        ((0, 3, 2, 4), "batch must be a positive integer"),
        ((2, 0, 2, 4), "s must be a positive integer"),
        ((2, 3, -1, 4), "kappa must be a positive integer"),
        ((2, 3, 2, -1), "n_out must be a non-negative integer"),
        ((2, 3, 2, 1.5), "n_out must be a non-negative integer"),
        ((2, 2.0, 2, 1), "s must be a positive integer"),
    ],
)
def test_repeat_copy_batch_errors(args, msg, rng):
    with pytest.raises(ValueError, match=msg):
        tasks.repeat_copy_batch(*args, rng)


def test_repeat_copy_batch_bad_values(rng):
    with pytest.raises(ValueError, match="values must be one of"):
        tasks.repeat_copy_batch(2, 3, 2, 1, rng, values="bits")


# --- task constructors -----------------------------------------------------------------------


def test_task_shape():
    assert tasks.task_shape(np.zeros((3, 12))) == (4, 3)
    assert tasks.task_shape(np.zeros((1, 1))) == (1, 1)


@pytest.mark.parametrize(
    "F, msg",
    [
        (np.zeros(6), "2-D array"),
        (np.zeros((2, 2, 2)), "2-D array"),
        (np.zeros((3, 7)), "not a positive multiple"),
        (np.zeros((0, 3)), "s, kappa >= 1"),
        (np.array([[1.0, np.nan]]), "finite"),
        (np.array([["a", "b"]]), "finite numbers"),
    ],
)
def test_task_shape_errors(F, msg):
    with pytest.raises(ValueError, match=msg):
        tasks.task_shape(F)


def test_lag_block_orders_newest_last():
    F = np.arange(2 * 6).reshape(2, 6).astype(float)  # s = 3, kappa = 2
    assert np.array_equal(tasks.lag_block(F, 1), F[:, 4:6])  # newest = block s
    assert np.array_equal(tasks.lag_block(F, 3), F[:, 0:2])  # oldest = block 1
    for bad in (0, 4, 1.0, True):
        with pytest.raises(ValueError, match="lag must be an integer in 1..s"):
            tasks.lag_block(F, bad)


def test_repeat_copy_F():
    F = tasks.repeat_copy(3, 2)
    expected = np.zeros((2, 6))
    expected[:, :2] = np.eye(2)
    assert np.array_equal(F, expected)
    assert np.array_equal(tasks.lag_block(F, 3), np.eye(2))


def test_compose_copy_F_by_hand():
    F = tasks.compose_copy(3)
    expected = np.zeros((3, 9))
    expected[0, 0] = 1  # component 1 from lag 3 (oldest), component 1
    expected[1, 4] = 1  # component 2 from lag 2, component 2
    expected[2, 8] = 1  # component 3 from lag 1 (newest), component 3
    assert np.array_equal(F, expected)


@pytest.mark.parametrize("s", [1, 2, 5])
def test_compose_copy_component_periods(s, rng):
    x = rng.standard_normal((s, s))
    seq = np.concatenate([x, tasks.continue_sequence(tasks.compose_copy(s), x, 40)])
    for i in range(s):  # 0-based component i copies itself from lag s - i
        lag = s - i
        for k in range(s, s + 40):
            assert seq[k, i] == seq[k - lag, i]
        # the last `lag` inputs of component i repeat forever; the older ones are forgotten
        assert np.array_equal(seq[s : s + lag, i], x[s - lag :, i])


def test_compose_copy_errors():
    for bad in (0, -2, 2.5):
        with pytest.raises(ValueError, match="s must be a positive integer"):
            tasks.compose_copy(bad)


def test_signed_permutation_entries_and_sequence(rng):
    s, kappa = 4, 3
    perm, lags, signs = [2, 0, 1], [4, 1, 2], [1, -1, -1]
    F = tasks.signed_permutation(s, kappa, perm, lags, signs)
    assert np.count_nonzero(F) == kappa
    assert F[0, 0 * kappa + 2] == 1 and F[1, 3 * kappa + 0] == -1 and F[2, 2 * kappa + 1] == -1
    x = rng.standard_normal((s, kappa))
    seq = np.concatenate([x, tasks.continue_sequence(F, x, 30)])
    for k in range(s, s + 30):
        for i in range(kappa):
            assert seq[k, i] == signs[i] * seq[k - lags[i], perm[i]]


@pytest.mark.parametrize(
    "perm, lags, signs, msg",
    [
        ([0, 0, 1], [1, 1, 1], [1, 1, 1], "perm must be a permutation"),
        ([0, 1, 3], [1, 1, 1], [1, 1, 1], "perm must be a permutation"),
        ([0.0, 1.0, 2.0], [1, 1, 1], [1, 1, 1], "perm must be a permutation"),
        ([0, 1], [1, 1, 1], [1, 1, 1], "perm must have kappa = 3 entries"),
        ([0, 1, 2], [0, 1, 1], [1, 1, 1], "lags must be integers in 1..s"),
        ([0, 1, 2], [1, 5, 1], [1, 1, 1], "lags must be integers in 1..s"),
        ([0, 1, 2], [1, 1], [1, 1, 1], "lags must have kappa = 3 entries"),
        ([0, 1, 2], [1, 1, 1], [1, 2, 1], "signs must be"),
        ([0, 1, 2], [1, 1, 1], [1, 1], "signs must have kappa = 3 entries"),
    ],
)
def test_signed_permutation_errors(perm, lags, signs, msg):
    with pytest.raises(ValueError, match=msg):
        tasks.signed_permutation(4, 3, perm, lags, signs)


@pytest.mark.parametrize("lags", [None, (3, 1), (1, 2)])
def test_add_two_sequence(lags, rng):
    s, kappa = 4, 2
    F = tasks.add_two(s, kappa, lags)
    a, b = (s, 1) if lags is None else lags
    x = rng.standard_normal((s, kappa))
    seq = np.concatenate([x, tasks.continue_sequence(F, x, 25)])
    for k in range(s, s + 25):
        np.testing.assert_allclose(seq[k], seq[k - a] + seq[k - b], rtol=1e-13, atol=0)


def test_add_two_grows():
    x = np.ones((5, 1))
    out = tasks.continue_sequence(tasks.add_two(5, 1), x, 60)
    assert out[-1, 0] > 100 * out[0, 0]


@pytest.mark.parametrize(
    "lags, msg",
    [
        ((2, 2), "must differ"),
        ((0, 1), "1..s"),
        ((1, 5), "1..s"),
        ((1,), "pair"),
        ((1, 2, 3), "pair"),
    ],
)
def test_add_two_errors(lags, msg):
    with pytest.raises(ValueError, match=msg):
        tasks.add_two(4, 2, lags)


# --- sequence generators ---------------------------------------------------------------------


def test_continue_sequence_fibonacci_by_hand():
    F = np.array([[1.0, 1.0]])  # s = 2, kappa = 1: x[k] = x[k-2] + x[k-1]
    out = tasks.continue_sequence(F, np.array([[1.0], [1.0]]), 6)
    assert out[:, 0].tolist() == [2, 3, 5, 8, 13, 21]


def test_continue_sequence_block_order():
    # s = 3, kappa = 1, F = [a, b, c]: next = a * oldest + b * middle + c * newest
    F = np.array([[2.0, 3.0, 5.0]])
    out = tasks.continue_sequence(F, np.array([[1.0], [10.0], [100.0]]), 2)
    assert out[0, 0] == 2 * 1 + 3 * 10 + 5 * 100
    assert out[1, 0] == 2 * 10 + 3 * 100 + 5 * out[0, 0]


def test_continue_sequence_batch_matches_single_and_n_out_zero(rng):
    F = tasks.signed_permutation(3, 2, [1, 0], [3, 2], [-1, 1])
    x = rng.standard_normal((4, 3, 2))
    batch = tasks.continue_sequence(F, x, 9)
    assert batch.shape == (4, 9, 2)
    for b in range(4):
        assert np.array_equal(batch[b], tasks.continue_sequence(F, x[b], 9))
    assert tasks.continue_sequence(F, x, 0).shape == (4, 0, 2)


def test_continue_sequence_repeat_copy_is_periodic(rng):
    x = rng.standard_normal((5, 3))
    out = tasks.continue_sequence(tasks.repeat_copy(5, 3), x, 23)
    assert np.array_equal(out, x[np.arange(23) % 5])


@pytest.mark.parametrize(
    "window, n_out, msg",
    [
        (np.zeros((3, 3)), 4, "u_inputs must have shape"),
        (np.zeros((2, 2)), 4, "u_inputs must have shape"),
        (np.zeros((1, 1, 3, 2)), 4, "u_inputs must have shape"),
        (np.zeros((3, 2)), -1, "n_out must be a non-negative integer"),
        (np.zeros((3, 2)), 2.0, "n_out must be a non-negative integer"),
    ],
)
def test_continue_sequence_errors(window, n_out, msg):
    with pytest.raises(ValueError, match=msg):
        tasks.continue_sequence(tasks.repeat_copy(3, 2), window, n_out)


def test_continue_sequence_bad_F():
    with pytest.raises(ValueError, match="F must have shape"):
        tasks.continue_sequence(np.zeros((2, 5)), np.zeros((2, 2)), 3)


def test_driven_sequence_by_hand():
    F = np.array([[1.0, 1.0]])  # s = 2, kappa = 1
    w = np.array([[1.0], [0.0], [0.0], [0.0]])
    v = tasks.driven_sequence(F, w)
    # v0 = 1; v1 = 0 + (0 + 1) = 1; v2 = 1 + 1 = 2; v3 = 1 + 2 = 3
    assert v[:, 0].tolist() == [1, 1, 2, 3]


def test_write_inputs_make_driven_equal_task(rng):
    for F in (
        tasks.compose_copy(4),
        tasks.add_two(4, 2),
        tasks.signed_permutation(4, 3, [1, 2, 0], [2, 4, 1], [1, -1, 1]),
    ):
        s, kappa = tasks.task_shape(F)
        x = rng.standard_normal((3, s, kappa))
        w = tasks.write_inputs(F, x)
        assert not np.allclose(w, x)  # these tasks read more than the oldest input
        u = np.concatenate([w, np.zeros((3, 20, kappa))], axis=1)
        v = tasks.driven_sequence(F, u)
        np.testing.assert_allclose(v[:, :s], x, atol=1e-12)
        np.testing.assert_allclose(
            v[:, s:], tasks.continue_sequence(F, x, 20), rtol=1e-10, atol=1e-10
        )


def test_write_inputs_identity_for_repeat_copy(rng):
    x = rng.standard_normal((5, 2))
    assert np.array_equal(tasks.write_inputs(tasks.repeat_copy(5, 2), x), x)


def test_driven_sequence_matches_linear_circuit(rng):
    F = tasks.signed_permutation(4, 3, [1, 2, 0], [2, 4, 1], [1, -1, 1])
    s, kappa = tasks.task_shape(F)
    basis = circuits.random_basis(s * kappa + 4, s * kappa, rng)
    w_hh, w_uh, w_r = circuits.circuit(circuits.shift_phi(F, s, kappa), basis, kappa)
    u = rng.standard_normal((2, 30, kappa))
    _, y = circuits.run_linear(w_hh, w_uh, w_r, u)
    np.testing.assert_allclose(y, tasks.driven_sequence(F, u), atol=1e-10)


@pytest.mark.parametrize("w", [np.zeros((4, 3)), np.zeros(4), np.zeros((1, 1, 4, 2))])
def test_driven_sequence_errors(w):
    with pytest.raises(ValueError, match="w must have shape"):
        tasks.driven_sequence(tasks.repeat_copy(3, 2), w)


def test_write_inputs_errors():
    with pytest.raises(ValueError, match="u_inputs must have shape"):
        tasks.write_inputs(tasks.repeat_copy(3, 2), np.zeros((4, 2)))


# --- linear_task_batch -----------------------------------------------------------------------


@pytest.mark.parametrize("values", ["pm1", "01", "real"])
def test_linear_task_batch_equals_repeat_copy_batch(values):
    g1, g2 = np.random.default_rng(11), np.random.default_rng(11)  # equal
    a = tasks.linear_task_batch(tasks.repeat_copy(4, 3), 5, 9, g1, values)
    b = tasks.repeat_copy_batch(5, 4, 3, 9, g2, values)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("compensate", [False, True])
def test_linear_task_batch_format(compensate):
    F = tasks.add_two(3, 2, (3, 2))
    kw = dict(values="real", compensate=compensate)
    u, y = tasks.linear_task_batch(F, 6, 8, np.random.default_rng(12), **kw)
    assert u.shape == y.shape == (6, 11, 2)
    assert np.all(u[:, 3:] == 0)
    x = y[:, :3]
    assert np.array_equal(y[:, 3:], tasks.continue_sequence(F, x, 8))
    assert np.array_equal(u[:, :3], tasks.write_inputs(F, x) if compensate else x)
    if compensate:
        np.testing.assert_allclose(tasks.driven_sequence(F, u), y, rtol=1e-12, atol=1e-12)
    u2, y2 = tasks.linear_task_batch(F, 6, 8, np.random.default_rng(12), **kw)
    assert np.array_equal(u, u2) and np.array_equal(y, y2)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(batch=0, n_out=3), "batch must be a positive integer"),
        (dict(batch=2, n_out=-3), "n_out must be a non-negative integer"),
        (dict(batch=2, n_out=3, values="x"), "values must be one of"),
    ],
)
def test_linear_task_batch_errors(kwargs, msg, rng):
    with pytest.raises(ValueError, match=msg):
        tasks.linear_task_batch(tasks.repeat_copy(3, 2), rng=rng, **kwargs)


def test_linear_task_batch_bad_F(rng):
    with pytest.raises(ValueError, match="F must"):
        tasks.linear_task_batch(np.zeros((2, 3)), 2, 3, rng)


# --- constructors' size errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: tasks.repeat_copy(0, 2),
        lambda: tasks.repeat_copy(2, 0),
        lambda: tasks.signed_permutation(0, 1, [0], [1], [1]),
        lambda: tasks.add_two(3, 0),
        lambda: tasks.add_two(True, 2),
    ],
)
def test_constructor_size_errors(make):
    with pytest.raises(ValueError, match="must be a positive integer"):
        make()


# --- text bitmap -------------------------------------------------------------------------------


def test_bitmap_3141_known_pixels():
    bm = tasks.text_bitmap("3141")
    assert bm.shape == (16, 5)
    assert set(np.unique(bm)) == {0.0, 1.0}
    # "3": columns 0-2 (top row first)
    assert bm[0].tolist() == [1, 0, 1, 0, 1]
    assert bm[1].tolist() == [1, 0, 1, 0, 1]
    assert bm[2].tolist() == [1, 1, 1, 1, 1]
    # "1": columns 4-6
    assert bm[4].tolist() == [0, 1, 0, 0, 1]
    assert bm[5].tolist() == [1, 1, 1, 1, 1]
    assert bm[6].tolist() == [0, 0, 0, 0, 1]
    # "4": columns 8-10
    assert bm[8].tolist() == [1, 1, 1, 0, 0]
    assert bm[9].tolist() == [0, 0, 1, 0, 0]
    assert bm[10].tolist() == [1, 1, 1, 1, 1]
    # the second "1" repeats the first; one blank column after each glyph
    assert np.array_equal(bm[12:15], bm[4:7])
    for blank in (3, 7, 11, 15):
        assert not bm[blank].any()
    assert int(bm.sum()) == 11 + 8 + 9 + 8


def test_bitmap_font_covers_digits_space_letters_and_is_unambiguous():
    for c in "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ-.":
        assert c in tasks.FONT_CHARS
    glyphs = {c: tasks.text_bitmap(c)[:3].tobytes() for c in tasks.FONT_CHARS}
    assert len(set(glyphs.values())) == len(glyphs)  # no two characters look alike
    assert not tasks.text_bitmap(" ").any()
    assert np.array_equal(tasks.text_bitmap("emt"), tasks.text_bitmap("EMT"))
    assert tasks.text_bitmap("AB 12").shape == (20, 5)


@pytest.mark.parametrize(
    "text, kappa, msg",
    [
        ("3141", 4, "kappa must be 5"),
        ("3141", 7, "kappa must be 5"),
        ("3141", 5.0, "kappa must be 5"),
        ("", 5, "must not be empty"),
        (3141, 5, "text must be a string"),
        ("3,14!", 5, r"lacks the characters \[',', '!'\]|lacks the characters \['!', ','\]"),
        ("pi=3", 5, "'='"),
    ],
)
def test_bitmap_errors(text, kappa, msg):
    with pytest.raises(ValueError, match=msg):
        tasks.text_bitmap(text, kappa)


def test_to_pm1():
    bm = tasks.text_bitmap("3141")
    pm = tasks.to_pm1(bm)
    assert set(np.unique(pm)) == {-1.0, 1.0}
    assert np.array_equal(pm == 1, bm == 1)
    assert tasks.to_pm1([0, 1]).tolist() == [-1.0, 1.0]
    with pytest.raises(ValueError, match="bits must be 0 or 1"):
        tasks.to_pm1([0, 2])
    with pytest.raises(ValueError, match="bits must be 0 or 1"):
        tasks.to_pm1([-1.0, 1.0])
