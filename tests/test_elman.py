"""emt.elman: the one numpy Elman RNN (chapter "Training the Elman RNN", paper Eq. 6; App. C)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from emt import circuits, elman, rnn


def random_weights(rng, n=12, kappa=3, bias=True, scale=0.5) -> dict:
    w = {
        "W_hh": scale * rng.standard_normal((n, n)),
        "W_uh": rng.standard_normal((n, kappa)),
        "W_r": rng.standard_normal((kappa, n)),
    }
    if bias:
        w["b_h"] = 0.3 * rng.standard_normal(n)
        w["b_r"] = 0.3 * rng.standard_normal(kappa)
    return w


@pytest.mark.parametrize("bias", [False, True])
def test_torch_model_and_numpy_agree_in_float64(rng, bias):
    """The torch model (emt.rnn.ElmanRNN, torch's fused RNN) and elman.simulate, to 1e-12."""
    w = random_weights(rng, bias=bias)
    model = rnn.ElmanRNN(3, 12, bias=bias, seed=0).double()
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(torch.from_numpy(w["W_hh"]))
        model.rnn.weight_ih_l0.copy_(torch.from_numpy(w["W_uh"]))
        model.readout.weight.copy_(torch.from_numpy(w["W_r"]))
        if bias:
            model.rnn.bias_ih_l0.copy_(torch.from_numpy(w["b_h"]))
            model.rnn.bias_hh_l0.zero_()
            model.readout.bias.copy_(torch.from_numpy(w["b_r"]))
    u = rng.choice([-1.0, 1.0], size=(5, 20, 3))
    y_t, h_t = model(torch.from_numpy(u))
    h, y = elman.simulate(model.weights(), u)
    assert np.max(np.abs(h - h_t.detach().numpy())) <= 1e-12
    assert np.max(np.abs(y - y_t.detach().numpy())) <= 1e-12
    # rnn.simulate is the same function
    assert rnn.simulate is elman.simulate


def test_states_follow_the_update_equation_step_by_step(rng):
    w = random_weights(rng)
    u = rng.standard_normal((4, 7, 3))
    h0 = 0.1 * rng.standard_normal(12)
    h = elman.states(w, u, h0=h0)
    prev = np.broadcast_to(h0, (4, 12))
    for k in range(7):
        expected = np.tanh(prev @ w["W_hh"].T + u[:, k] @ w["W_uh"].T + w["b_h"])
        assert np.allclose(h[:, k], expected, rtol=0, atol=1e-14)
        assert np.allclose(elman.step(w, prev, u[:, k]), expected, rtol=0, atol=1e-14)
        prev = h[:, k]
    # one sequence without a batch axis gives the first row of the batch (to rounding: the
    # products of a batch of one may take another BLAS kernel)
    assert np.allclose(elman.states(w, u[0], h0=h0), h[0], rtol=0, atol=1e-14)


def test_linear_run_is_run_linear(rng):
    w = random_weights(rng, bias=False)
    u = rng.standard_normal((2, 9, 3))
    h, y = elman.simulate(w, u, nonlinearity="linear")
    h2, y2 = circuits.run_linear(w["W_hh"], w["W_uh"], w["W_r"], u)
    assert np.array_equal(h, h2) and np.array_equal(y, y2)
    # and it is the linear recurrence
    assert np.allclose(h[:, 1], h[:, 0] @ w["W_hh"].T + u[:, 1] @ w["W_uh"].T, atol=1e-13)


def test_jacobian_matches_finite_differences(rng):
    w = random_weights(rng)
    h = 0.5 * rng.standard_normal(12)
    J = elman.jacobian(w["W_hh"], w["b_h"], h)
    eps = 1e-6
    fd = np.empty((12, 12))
    for j in range(12):
        e = np.zeros(12)
        e[j] = eps
        f = elman.step(w, h + e, np.zeros(3)) - elman.step(w, h - e, np.zeros(3))
        fd[:, j] = f / (2 * eps)
    assert np.max(np.abs(J - fd)) < 1e-8


@pytest.mark.parametrize(
    "change, message",
    [
        ({"W_hh": np.zeros((12, 11))}, "W_hh must be square"),
        ({"W_uh": np.zeros((11, 3))}, "W_uh must have shape"),
        ({"W_r": np.zeros((2, 12))}, "W_r must have shape"),
        ({"b_h": np.zeros(11)}, "b_h must have shape"),
        ({"b_r": np.zeros(4)}, "b_r must have shape"),
        ({"W_hh": np.full((12, 12), np.nan)}, "non-finite"),
    ],
)
def test_check_weights_names_what_is_wrong(rng, change, message):
    w = random_weights(rng) | change
    with pytest.raises(ValueError, match=message):
        elman.check_weights(w, finite=True)


def test_check_weights_refuses_missing_or_foreign_input(rng):
    w = random_weights(rng)
    with pytest.raises(ValueError, match="missing"):
        elman.check_weights({"W_hh": w["W_hh"]})
    with pytest.raises(ValueError, match="must be a dict"):
        elman.check_weights([w["W_hh"]])
    # a read-out with other outputs than inputs only where asked for
    other = w | {"W_r": np.zeros((5, 12)), "b_r": np.zeros(5)}
    with pytest.raises(ValueError, match="W_r must have shape"):
        elman.check_weights(other)
    assert elman.check_weights(other, outputs_match_inputs=False)["W_r"].shape == (5, 12)
    with pytest.raises(ValueError, match="nonlinearity"):
        elman.states(w, np.zeros((4, 3)), nonlinearity="relu")


def test_importable_without_torch():
    """An .npz can be simulated where torch is not installed."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from emt import elman\n"
        "w = {'W_hh': np.eye(3), 'W_uh': np.ones((3, 1)), 'W_r': np.ones((1, 3))}\n"
        "print(elman.simulate(w, np.ones((2, 1)))[1].shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(2, 1)"
