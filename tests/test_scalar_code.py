"""Straight-line scalar code for tiny networks: the same values as the compiled array code, faster.

The array code (``symprop.compile``) is itself checked against the exact scalar
pass and against autograd (tests/test_compile.py); here the float code is held
against it, entry by entry, on every elementwise activation, loss, reduction
and bias mode it writes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import symprop
from symprop.nn import MLP, Sequential
from symprop.optim import SGD
from symprop.scalar_code import SCALAR_WORK, ScalarStep, scalar_code
from symprop.train import Stepper, TrainingDiverged, train

XOR_X = np.array([[1, 1], [0, 1], [1, 0], [0, 0]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)


def both(mlp, x, y, params):
    """(scalar loss, scalar grads by name), (array loss, array grads)."""
    compiled = symprop.compile(mlp)
    step = ScalarStep(compiled, scalar_code(mlp, len(x)), x, y)
    loss, grads = step(step.flatten(params))
    return (loss, step.unflatten(grads)), compiled.loss_and_grads(params, x, y)


def assert_close(ours, theirs):
    (loss, grads), (loss0, grads0) = ours, theirs
    assert loss == pytest.approx(float(loss0), rel=1e-13, abs=1e-300)
    for name, g in grads0.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-13, atol=1e-15, err_msg=name)


CASES = [
    ("sigmoid", "half_squared_error"), ("tanh", "squared_error"), ("relu", "mse"),
    ("leaky_relu", "half_squared_error"), ("softplus", "mse"), ("identity", "half_squared_error"),
    (["tanh", "sigmoid"], "binary_cross_entropy"), (["relu", "sigmoid"], "binary_cross_entropy"),
]


@pytest.mark.parametrize("activation,loss", CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("bias", ["neuron", "layer", "none"])
def test_the_scalar_code_gives_the_array_codes_values(activation, loss, reduction, bias):
    mlp = MLP([2, 3, 1], activation, loss, reduction, bias)
    rng = np.random.default_rng(7)
    x = rng.normal(0, 2, (5, 2))
    y = rng.uniform(0, 1, (5, 1)).round() if loss == "binary_cross_entropy" else rng.normal(0, 1, (5, 1))
    params = mlp.validate_params(mlp.init_params(3))
    assert_close(*both(mlp, x, y, params))


def test_two_hidden_layers_and_several_outputs():
    mlp = MLP([3, 4, 2, 2], ["tanh", "relu", "sigmoid"], "half_squared_error")
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, (3, 3)), rng.uniform(0, 1, (3, 2))
    assert_close(*both(mlp, x, y, mlp.validate_params(mlp.init_params(0))))


def test_a_layer_list_of_linear_layers_and_activations_too():
    net = Sequential(2, [{"linear": 3}, "tanh", {"linear": 2}, {"linear": 1}, "sigmoid"], loss="half_squared_error")
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, (4, 2)), rng.uniform(0, 1, (4, 1))
    assert_close(*both(net, x, y, net.validate_params(net.init_params(0))))


def test_the_xor_nets_source_reads_as_the_derived_formulas():
    source = scalar_code(MLP([2, 3, 1], "sigmoid", "half_squared_error", "sum"), 4).source
    lines = [line.strip() for line in source.splitlines()]
    assert "z1_0_0 = W1_0_0*x_0_0 + W1_0_1*x_0_1 + b1_0" in lines
    assert "a1_0_0 = 1/(1 + exp(700.0 if z1_0_0 < -700.0 else -z1_0_0))" in lines
    assert "dz2_3_0 = a2_3_0*(1 - a2_3_0)*(a2_3_0 - y_3_0)" in lines
    # dL/da1 (dz2 times W2) goes straight into the hidden layer's delta, times sigmoid' = a(1 - a)
    assert "dz1_1_2 = (dz2_1_0*W2_0_2)*(a1_1_2*(1 - a1_1_2))" in lines
    assert "numpy" not in source and not any(line.startswith(("for ", "while ")) for line in lines)


def test_not_written_where_numpy_is_the_better_tool():
    assert scalar_code(MLP([2, 3, 3], ["relu", "softmax"], "cross_entropy"), 4) is None  # a vector activation
    assert scalar_code(MLP([2, 3, 1], "relu", "binary_cross_entropy"), 4) is None  # BCE clips a relu output
    big = MLP([2, 8, 1], "sigmoid")
    assert 33 * 8 > SCALAR_WORK and scalar_code(big, 8) is None
    assert scalar_code(Sequential(2, [{"linear": 3}, {"dropout": 0.5}, "tanh", {"linear": 1}]), 4) is None
    assert scalar_code(MLP([2, 3, 1], "sigmoid"), 4) is not None


def test_a_nan_passes_through_as_numpy_lets_it():
    mlp = MLP([2, 3, 1], "sigmoid", "half_squared_error", "sum")
    step = ScalarStep(symprop.compile(mlp), scalar_code(mlp, 4), XOR_X, XOR_Y)
    theta = step.flatten(mlp.validate_params(mlp.init_params(1)))
    theta[0] = math.nan  # sigmoid(nan) must not be read as sigmoid(-700) ~ 0
    loss, grads = step(theta)
    assert math.isnan(loss) and np.isnan(grads[0])


def test_an_overflow_is_computed_by_the_array_code():
    mlp = MLP([1, 1], "identity", "half_squared_error", "sum")
    step = ScalarStep(symprop.compile(mlp), scalar_code(mlp, 2), np.array([[1.0], [2.0]]), np.array([[0.0], [0.0]]))
    with np.errstate(over="ignore"):
        loss, grads = step(np.array([1e200, 0.0]))  # (1e200)**2 raises OverflowError in Python floats
    assert loss == math.inf  # numpy's inf, where Python's floats raise
    assert grads[0] == pytest.approx(5e200, rel=1e-15)  # dL/dw = (w*1)*1 + (w*2)*2 at w = 1e200



def test_the_training_loop_takes_the_scalar_code_for_the_xor_net_and_gets_the_same_training():
    mlp = MLP([2, 3, 1], "sigmoid", "half_squared_error", "sum")
    compiled = symprop.compile(mlp)
    params = mlp.validate_params(mlp.init_params(1))
    assert Stepper(compiled, params, XOR_X, XOR_Y, SGD(0.5), steps=2000).scalar is not None
    assert Stepper(compiled, params, XOR_X, XOR_Y, SGD(0.5), steps=10).scalar is None  # not worth writing
    fast = train(compiled, params, XOR_X, XOR_Y, steps=2000, lr=0.5)
    slow_stepper = Stepper(compiled, params, XOR_X, XOR_Y, SGD(0.5), steps=10)
    losses = []
    for k in range(2000):
        losses.append(slow_stepper.evaluate(k))
        slow_stepper.advance()
    np.testing.assert_allclose(fast.loss_history, losses, rtol=1e-9)
    for name, p in slow_stepper.params.items():
        np.testing.assert_allclose(fast.params[name], p, rtol=1e-9, atol=1e-12)
    assert fast.final_loss < 0.01  # it learned XOR


def test_a_divergence_on_the_scalar_path_is_reported_as_on_the_array_path():
    mlp = MLP([1, 1], "identity", "half_squared_error", "sum")
    x, y = np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]])
    with pytest.raises(TrainingDiverged) as caught:
        train(mlp, {"W1": [[0.0]], "b1": [0.0]}, x, y, steps=1000, lr=10.0)
    kept = caught.value.result
    assert kept.params["W1"].shape == (1, 1) and math.isfinite(kept.final_loss)
    assert "training diverged at step" in str(caught.value)


@pytest.mark.parametrize("optimizer,lr,rtol", [("momentum", 0.05, 1e-9), ("adam", 0.01, 1e-9), ("rmsprop", 0.002, 1e-5)])
def test_every_optimizer_moves_the_flat_vector_as_it_moves_the_arrays(optimizer, lr, rtol):
    """rmsprop divides each gradient by its running size, so a gradient that is 0 up to rounding (1e-17 one
    way, 1e-17 the other) takes a step of about lr either way: its runs part at that step, for any two
    summation orders (hence its looser tolerance)."""
    mlp = MLP([2, 3, 1], "tanh", "half_squared_error")
    compiled = symprop.compile(mlp)
    params = mlp.validate_params(mlp.init_params(4))
    fast = train(compiled, params, XOR_X, XOR_Y, steps=400, lr=lr, optimizer=optimizer)
    from symprop.optim import make_optimizer

    slow = Stepper(compiled, params, XOR_X, XOR_Y, make_optimizer(optimizer, lr), steps=10)
    assert slow.scalar is None
    losses = []
    for k in range(400):
        losses.append(slow.evaluate(k))
        slow.advance()
    np.testing.assert_allclose(fast.loss_history, losses, rtol=rtol)
    for name, p in slow.params.items():
        np.testing.assert_allclose(fast.params[name], p, rtol=rtol, atol=1e-12 if rtol < 1e-6 else 1e-6)


def test_show_code_prints_the_float_code_when_the_run_trains_on_it(capsys):
    from symprop.cli import main

    spec = str(Path(__file__).resolve().parent.parent / "examples" / "xor.toml")
    assert main(["train", "--spec", spec, "--show-code"]) == 0  # 2,500 steps: the float code
    out = capsys.readouterr().out
    assert "def loss_and_grads(params, x, y):" in out and "def loss_and_grads(p, xs, ys):" in out
    assert "# This run (2,500 steps on 4 samples) trains on the straight-line float code" in out
    assert "dz2_0_0 = a2_0_0*(1 - a2_0_0)*(a2_0_0 - y_0_0)" in out
    assert main(["train", "--spec", spec, "--show-code", "--steps", "10"]) == 0  # too short to pay for it
    out = capsys.readouterr().out
    assert "def loss_and_grads(params, x, y):" in out and "def loss_and_grads(p, xs, ys):" not in out
