"""The matrix (Jacobian) view: the same numbers as the scalar view, the Jacobians' formulas, and derive's backward formulas."""

import json
from pathlib import Path

import numpy as np
import pytest
import sympy

from symprop.matrix import matrix_view
from symprop.nn import get_activation
from symprop.nn.activations import softmax_jacobian
from symprop.nn import MLP, Network
from symprop.render.matrix import matrix_dict, render_matrix_text

CASES = [
    (MLP([2, 3, 2], "sigmoid", "half_squared_error", bias="layer"), "uniform"),
    (MLP([2, 3, 2], ["tanh", "identity"], "mse", reduction="sum"), "xavier"),
    (MLP([2, 3, 3], ["relu", "softmax"], "cross_entropy"), "he"),
    (MLP([2, 2, 1], ["leaky_relu", "sigmoid"], "binary_cross_entropy", bias="none"), "uniform"),
    (MLP([3, 2], "softplus", "squared_error"), "uniform"),
]


@pytest.mark.parametrize("mlp, init", CASES, ids=[f"{m.activations}-{m.loss}-{m.bias}" for m, _ in CASES])
def test_matrix_view_numbers_equal_the_scalar_view(mlp, init):
    rng = np.random.default_rng(3)
    y = np.eye(mlp.layers[-1])[[0, 2, 1]] if mlp.loss == "cross_entropy" else rng.uniform(0.1, 0.9, (3, mlp.layers[-1]))
    net = Network(mlp, None, rng.uniform(-1, 1, (3, mlp.layers[0])), y, seed=1, init=init)
    for sample in (None, 1):
        view = matrix_view(net, sample)
        bp = net.backward(sample)
        scalar = net.gradient_arrays(bp)
        for name, grad in view.gradients().items():
            assert grad.shape == net.params[name].shape
            np.testing.assert_allclose(grad, scalar[name], rtol=1e-12, atol=1e-15, err_msg=name)
        assert float(view.loss) == pytest.approx(float(bp.loss), rel=1e-12)
        # and delta_l is dL/dz_l of the scalar view, node by node
        if sample is not None:
            for layer in view.layers:
                for j in range(layer.delta.rows):
                    adjoint = bp.adjoints.get(bp.graph.symbol(f"z{layer.index}_{j}"))
                    assert float(layer.delta[j, 0]) == pytest.approx(float(adjoint.value), rel=1e-12, abs=1e-15)


def test_jacobian_formulas():
    assert str(get_activation("sigmoid").derivative()) == "a*(1 - a)"
    assert str(get_activation("tanh").derivative()) == "1 - a**2"
    assert str(get_activation("relu").derivative()) == "Heaviside(z, 0)"
    a, jacobian = softmax_jacobian(3)
    assert jacobian == sympy.Matrix(3, 3, lambda i, j: a[i] * ((1 if i == j else 0) - a[j])).expand()


def test_exact_matrix_view_and_renderers():
    net = Network(MLP([2, 2, 1], "identity", bias="neuron"), {"W1": [[1, 2], [3, 4]], "b1": [0, 1], "W2": [[1, -1]], "b2": [0]},
                  [[1, 1]], [[0]], exact=True)
    view = matrix_view(net)
    # a1 = W1 x + b1 = (3, 8), z2 = 3 - 8 = -5, L = 25/2, delta2 = -5, dL/da1 = W2^T delta2 = (-5, 5)
    assert view.loss == sympy.Rational(25, 2)
    assert view.layers[1].delta == sympy.Matrix([[-5]]) and view.layers[1].dW == sympy.Matrix([[-15, -40]])
    assert view.layers[0].dW == sympy.Matrix([[-5, -5], [5, 5]]) and view.layers[0].db == sympy.Matrix([-5, 5])
    text = render_matrix_text(view)
    assert "dL/dW1 = delta1·a0^T = " in text and "-40" in text
    data = matrix_dict(view)
    assert data["layers"][0]["dL_dW"] == [[-5.0, -5.0], [5.0, 5.0]] and data["loss"] == 12.5


# -- the backward formulas are derive's, evaluated sample by sample ------------------------------------

def _network(mlp, seed=1):
    rng = np.random.default_rng(seed)
    width = mlp.n_outputs
    y = np.eye(width)[[0, width - 1, 1 % width]] if mlp.loss == "cross_entropy" else rng.uniform(0.1, 0.9, (3, width))
    return Network(mlp, None, rng.uniform(-1, 1, (3, mlp.n_inputs)), y, seed=seed)


@pytest.mark.parametrize("mlp, init", CASES, ids=[f"{m.activations}-{m.loss}-{m.bias}" for m, _ in CASES])
def test_each_layer_shows_the_formulas_derive_network_derives(mlp, init):
    from symprop.derive.network import derive_network

    view = matrix_view(_network(mlp))
    derived = derive_network(mlp)
    x, a0 = derived.derivation.leaves["x"], sympy.MatrixSymbol("a0", mlp.n_inputs, 1)
    as_viewed = lambda step: step.compact.xreplace({x: a0})  # noqa: E731 - the view calls the input a0
    for layer, formulas in zip(view.layers, derived.layers):
        expected = {"delta": formulas.delta_step, "dL_dW": formulas.dW_step, "dL_db": formulas.db_step,
                    "dL_da_prev": formulas.da_prev_step}
        assert layer.formulas == {key: as_viewed(step) for key, step in expected.items() if step is not None}
        assert not layer.closed_forms
    assert view.loss_formula == derived.loss_step.compact


def test_the_numbers_come_from_the_derived_formulas(monkeypatch):
    """Change the derived formula of dL/dW and the matrix view's dL/dW changes with it: no template behind it."""
    import symprop.matrix as matrix
    from symprop.derive.layers import LayerDerivation

    mlp = MLP([2, 3, 1], "tanh", "half_squared_error")
    net = _network(mlp)
    right = matrix_view(net).gradients()
    real = matrix.derive_layer

    def doubled(layer):
        f = real(layer)
        if layer.kind != "linear":
            return f
        step = f.steps["W"]
        twice = type(step)(step.node, step.input, step.rule, 2 * step.compact, 2 * step.formula)
        return LayerDerivation(f.output, f.gradient, f.inputs, {**f.steps, "W": twice}, f.derivation)

    monkeypatch.setattr(matrix, "derive_layer", doubled)
    wrong = matrix_view(net)
    for name in ("W1", "W2"):
        np.testing.assert_allclose(wrong.gradients()[name], 2 * right[name], rtol=1e-12)
    np.testing.assert_allclose(wrong.gradients()["b1"], right["b1"], rtol=1e-12)
    assert "dL/dW2 = 2·delta2·a1^T" in render_matrix_text(wrong)


def test_text_and_json_carry_each_formula(capsys):
    from symprop.cli import main

    mazur = str(Path(__file__).resolve().parent.parent / "examples" / "mazur_2_2_2.toml")
    assert main(["explain", "--spec", mazur, "--view", "matrix", "--format", "text"]) == 0
    out = capsys.readouterr().out
    for line in ["with the formulas 'symprop derive' derives", "dL/da2 = a2 - y = ", "delta2 = dL/dz2 = dL/da2 ⊙ a2 ⊙ (1 - a2) = ",
                 "dL/dW2 = delta2·a1^T = ", "dL/db2 = 1^T·delta2 = [0.1004]", "dL/da1 = W2^T·delta2 = "]:
        assert line in out, line
    assert "closed form" not in out
    assert main(["explain", "--spec", mazur, "--view", "matrix", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loss_formula"] == "a2 - y"
    assert data["layers"][1]["formulas"]["dL_db"] == "OneMatrix(1, 2)*delta2"  # a shared bias: the sum of delta's entries
    assert data["layers"][0]["formulas"]["dL_dW"] == "delta1*a0.T" and "closed_forms" not in data["layers"][0]
    assert round(data["layers"][1]["dL_dW"][0][0], 9) == 0.082167041  # Mazur's dE/dw5, unchanged


EVERY_LAYER = ('[{linear = 3}, "batchnorm", "tanh", {dropout = 0.5}, {residual = [{linear = 3}, "layernorm", "relu"]}, '
               '{linear = 2}, "softmax"]')


def test_layers_without_derived_formulas_say_they_use_their_closed_form(tmp_path, capsys):
    from symprop.cli import main

    spec = tmp_path / "every.toml"
    spec.write_text(f'[network]\ninputs = 2\nlayers = {EVERY_LAYER}\nloss = "cross_entropy"\nweight_decay = 0.01\n'
                    "[data]\nx = [[0.5, -1.0], [1.5, 0.25], [-0.5, 0.75]]\ny = [[1, 0], [0, 1], [0, 1]]\n")
    assert main(["explain", "--spec", str(spec), "--view", "matrix", "--format", "text"]) == 0
    out = capsys.readouterr().out
    for kind in ("batchnorm", "layernorm", "dropout", "residual"):
        assert f"    {kind}: the layer's closed form (derive has no matrix formulas for it)" in out, kind
    backward = out[out.index("Backward pass"):]
    said = backward.index("batchnorm: the layer's closed form")
    assert backward.index("dL/dgamma1 = (dL/dbn1 ⊙ xhat1)·1") > said > backward.index("dL/dbn1 = dL/da1 ⊙ (1 - a1^∘2)")
    assert "delta3 = dL/dz3 = dL/da3 ⊙ a3 - a3·a3^T·dL/da3, column by column" in out  # softmax, derived
    assert "dL/dW3 = delta3·res2^T, summed over the samples, + λ·W3 (weight decay)" in out
    assert main(["explain", "--spec", str(spec), "--view", "matrix", "--format", "json"]) == 0
    layers = {layer["layer"]: layer for layer in json.loads(capsys.readouterr().out)["layers"]}
    # the tanh after batchnorm: its input is bn1, so its formula is dL/dbn1's (not delta1, which batchnorm gives)
    assert layers[1]["formulas"] == {"dL_dbn1": "HadamardProduct(dL_da1, -HadamardPower(a1, 2) + OneMatrix(3, 1))",
                                     "dL_dW": "delta1*a0.T", "dL_db": "delta1", "dL_da_prev": "W1.T*delta1"}
    assert layers[1]["closed_forms"] == {
        "dL/da1": "mask1 ⊙ dL/ddrop1 / (1 - 1/2)",  # dropout
        "dL/dgamma1": "(dL/dbn1 ⊙ xhat1)·1", "dL/dbeta1": "dL/dbn1·1", "dL/dxhat1": "gamma1 ⊙ dL/dbn1",
        "dL/dz1": "(dxhat − mean(dxhat) − xhat1 ⊙ mean(dxhat ⊙ xhat1)) ⊙ 1/sqrt(var1 + eps), means per row, "
                  "dxhat = dL/dxhat1",
        "dL/dW1 (weight decay)": "λ·W1",
    }
    assert set(layers[2]["formulas"]) == {"dL_dln2", "dL_dW", "dL_db", "dL_da_prev"}
    assert layers[2]["closed_forms"]["dL/ddrop1"] == "dL/dres2 + (the block's dL/ddrop1)"  # the residual's skip
    assert layers[3]["formulas"]["delta"] == "HadamardProduct(a3, dL_da3) - a3*a3.T*dL_da3"


def test_the_derived_formulas_have_ascii_spellings(tmp_path):
    """A stream that cannot encode ⊙, ⊘, ∘ or λ gets them spelled, with no note on stderr (README row S3)."""
    import os
    import subprocess
    import sys

    spec = tmp_path / "every.toml"
    spec.write_text(f'[network]\ninputs = 2\nlayers = {EVERY_LAYER}\nloss = "cross_entropy"\nweight_decay = 0.01\n'
                    "[data]\nx = [[0.5, -1.0], [1.5, 0.25], [-0.5, 0.75]]\ny = [[1, 0], [0, 1], [0, 1]]\n")
    done = subprocess.run([sys.executable, "-m", "symprop", "explain", "--spec", str(spec), "--view", "matrix",
                           "--format", "text"], capture_output=True, env={**os.environ, "PYTHONIOENCODING": "ascii:strict"})
    out = done.stdout.decode("ascii")
    assert (done.returncode, done.stderr) == (0, b""), done.stderr
    assert "dL/dbn1 = dL/da1 (*) (1 - a1^o2), column by column" in out
    assert "dL/da3 = -(y (/) a3)/3, column by column" in out and "+ lambda*W3 (weight decay)" in out
