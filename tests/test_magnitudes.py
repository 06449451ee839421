"""The gradient scale in matrix form equals the scalar pass's sum over chain-rule paths.

``path_magnitudes`` reads every local derivative off the exact scalar backward
pass; ``network_magnitudes`` takes the backward pass with every factor in
absolute value, as matrices. They must agree on every parameter scalar.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from symprop.check.magnitudes import network_magnitudes
from symprop.check.subjects import NetworkSubject
from symprop.cli import main
from symprop.nn import MLP, Network, Sequential


def scalar_pass_magnitudes(network: Network, sample=None) -> dict[str, np.ndarray]:
    subject = NetworkSubject(network, sample=sample)
    return network.reduce_passes(subject._magnitudes, sample)


def made_up(mlp, m=4, seed=0, classes=False, probabilities=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.5, (m, mlp.n_inputs))
    if classes:
        y = np.eye(mlp.n_outputs)[rng.integers(0, mlp.n_outputs, m)]
    elif probabilities:
        y = rng.uniform(0, 1, (m, mlp.n_outputs)).round()
    else:
        y = rng.normal(0, 1, (m, mlp.n_outputs))
    return Network(mlp, mlp.init_params(seed), x, y)


CASES = [
    (["tanh", "sigmoid"], "half_squared_error", {}),
    (["relu", "identity"], "mse", {}),
    (["leaky_relu", "tanh"], "squared_error", {}),
    (["softplus", "sigmoid"], "binary_cross_entropy", {"probabilities": True}),
    (["sigmoid", "softmax"], "cross_entropy", {"classes": True}),
    (["tanh", "softmax"], "squared_error", {}),
]


@pytest.mark.parametrize("activations,loss,data", CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("bias", ["neuron", "layer", "none"])
def test_the_matrix_form_is_the_scalar_pass_sum(activations, loss, data, reduction, bias):
    network = made_up(MLP([3, 4, 3], activations, loss, reduction, bias), **data)
    fast = network_magnitudes(network)
    slow = scalar_pass_magnitudes(network)
    assert fast is not None
    for name in slow:
        np.testing.assert_allclose(fast[name], slow[name], rtol=1e-12, atol=1e-300, err_msg=name)
    # larger than |dL/dparam| where terms cancel, never smaller
    exact = network.exact_gradients()
    assert all(np.all(fast[n] >= np.abs(exact[n]) * (1 - 1e-12)) for n in exact)


def test_one_samples_own_loss_and_a_deeper_layer_list():
    net = Sequential(2, [{"linear": 3}, "tanh", {"linear": 3}, {"linear": 2}, "softmax"], loss="cross_entropy")
    network = made_up(net, m=3, classes=True)
    for sample in (None, 2):
        fast, slow = network_magnitudes(network, sample), scalar_pass_magnitudes(network, sample)
        for name in slow:
            np.testing.assert_allclose(fast[name], slow[name], rtol=1e-12, err_msg=f"{name}, sample {sample}")


def test_where_the_matrix_form_does_not_apply_it_says_none():
    norm = Sequential(2, [{"linear": 3}, "batchnorm", "tanh", {"linear": 1}])
    assert network_magnitudes(made_up(norm)) is None
    decay = Sequential(2, [{"linear": 3}, "tanh", {"linear": 1}], weight_decay=0.1)
    assert network_magnitudes(made_up(decay)) is None
    exact = MLP([2, 2, 1], "sigmoid")
    assert network_magnitudes(Network(exact, {"W1": [[1, 2], [3, 4]], "b1": [0, 0], "W2": [[1, 1]], "b2": [0]},
                                      [[1, 2]], [[1]], exact=True)) is None  # exact arithmetic: the scalar pass


MNIST_GRADS = '''
import numpy as np

def grads(params, x, y):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    a1 = 1 / (1 + np.exp(-(x @ W1.T + b1)))
    z2 = a1 @ W2.T + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    d2 = (e / e.sum(axis=1, keepdims=True) - y) / x.shape[0]
    d1 = (d2 @ W2) * a1 * (1 - a1)
    return {"W1": d1.T @ x, "b1": d1.sum(0), "W2": d2.T @ a1, "b2": d2.sum(0)}
'''


def run_cli(capsys, *args):
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_check_against_compares_every_entry_of_an_mnist_size_network(tmp_path, capsys):
    """79,510 entries against the exact gradient: the scale in matrix form, no scalar pass needed."""
    code = tmp_path / "mnist_grads.py"
    # the same, with the hidden layer's sigmoid derivative forgotten
    forgot = MNIST_GRADS.replace("def grads", "def forgot_the_sigmoid").replace(" * a1 * (1 - a1)", "")
    code.write_text(MNIST_GRADS + forgot)
    spec = str(Path(__file__).resolve().parent.parent / "examples" / "mnist_size.toml")
    status, out, err = run_cli(capsys, "check", "--spec", spec, "--against", f"{code}:grads")
    assert status == 0, err
    assert out.strip().endswith("passed: 79510 of 79510 agree")
    assert "0.0001 × 0.7147, the gradient scale" in out
    # a table of 79,510 rows that agree says nothing: it is counted, and --json keeps every row
    assert "(79,510 of the 79,510 rows agree and are not shown; --json lists every row)" in " ".join(out.split())
    assert len(out.splitlines()) < 8
    status, out, err = run_cli(capsys, "check", "--spec", spec, "--against", f"{code}:grads", "--json")
    assert status == 0 and len(json.loads(out)["rows"]) == 79510
    status, out, err = run_cli(capsys, "check", "--spec", spec, "--against", f"{code}:forgot_the_sigmoid")
    assert status == 1, err
    assert "FAILED: 20210 of 79510 agree; wrong: W1, b1" in out
    assert "the first 40 of the 59,300 others are" in " ".join(out.split())
    assert sum(line.endswith("WRONG") for line in out.splitlines()) == 40
    assert "W2, b2 agree, so dL/dz2 is right" in out
    # the worst entry's derivation would take the scalar pass of 80,650 steps: it is left out, and said
    assert "the derivation of W1[94,432] is not shown: the exact backward pass of" in " ".join(out.split())
