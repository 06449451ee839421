"""The matrix (Jacobian) view: the same numbers as the scalar view, and the Jacobians' formulas."""

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
