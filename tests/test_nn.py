"""Networks: the scalar graph's exact gradients against sympy.diff, finite differences and numpy."""

import itertools

import numpy as np
import pytest
import sympy
from helpers import is_zero

from symprop.errors import SpecError
from symprop.nn import ACTIVATIONS, LOSSES, MLP, Network, forward_numpy, loss_numpy, network_graph

ELEMENTWISE = [name for name, activation in ACTIVATIONS.items() if activation.elementwise]


def _target(loss, k, rng):
    """Targets that fit the loss: one-hot for cross_entropy, in (0, 1) for the others."""
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, size=2)]
    return rng.uniform(0.1, 0.9, size=(2, k))


def _pairs():
    for activation, loss in itertools.product(ELEMENTWISE, LOSSES):
        if loss == "cross_entropy":
            continue
        yield activation, loss
    for hidden in ELEMENTWISE:
        yield [hidden, "softmax"], "cross_entropy"


PAIRS = list(_pairs())


def _output_ok(activation, loss):
    """binary_cross_entropy needs outputs in (0, 1): sigmoid is the output there."""
    if loss == "binary_cross_entropy":
        return [activation, "sigmoid"]
    return activation if isinstance(activation, list) else [activation, activation]


@pytest.mark.parametrize("activation, loss", PAIRS, ids=[f"{a}-{l}" for a, l in PAIRS])
def test_every_gradient_equals_sympy_diff_of_the_whole_loss(activation, loss):
    # a tiny [1, 2, 2] net: diff of the expanded loss stays cheap for every pair
    mlp = MLP([1, 2, 2], _output_ok(activation, loss), loss)
    net = Network(mlp, None, [[0.7]], _target(loss, 2, np.random.default_rng(1))[:1], seed=3)
    bp = net.backward()
    graph = bp.graph
    whole = graph.expanded(graph.output)
    point = {s: bp.values[s] for s in graph.leaves}
    for name, adjoint in bp.gradients.items():
        reference = sympy.diff(whole, graph.symbol(name))
        assert abs(float(reference.xreplace(point).evalf()) - float(adjoint.value)) < 1e-9, name
    # symbolically too: the expanded gradient minus diff is 0 at other points (exact, 30 digits)
    rng = np.random.default_rng(4)
    for _ in range(3):
        other = {s: sympy.Float(rng.uniform(-1, 1), 30) for s in point}
        for name in ("W1_0_0", "b1_1", "W2_1_0"):
            adjoint = bp.gradients[name]
            difference = (adjoint.expanded - sympy.diff(whole, graph.symbol(name))).xreplace(other)
            assert abs(float(difference.evalf(30))) < 1e-20, name
    if activation == "sigmoid" and loss == "half_squared_error":  # and simplify says 0
        assert is_zero(bp.gradients["W2_0_0"].expanded - sympy.diff(whole, graph.symbol("W2_0_0")))


def _numeric_gradient(net, h=1e-6):
    grads = {}
    for name, array in net.params.items():
        grad = np.zeros(array.shape)
        for index in np.ndindex(*array.shape):
            saved = array[index]
            array[index] = saved + h
            plus = net.loss()
            array[index] = saved - h
            minus = net.loss()
            array[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        grads[name] = grad
    return grads


@pytest.mark.parametrize("activation, loss", PAIRS, ids=[f"{a}-{l}" for a, l in PAIRS])
@pytest.mark.parametrize("bias", ["neuron", "layer", "none"])
def test_batch_gradients_match_central_differences(activation, loss, bias):
    rng = np.random.default_rng(7)
    acts = _output_ok(activation, loss)
    mlp = MLP([2, 3, 2], acts, loss, reduction="sum" if bias == "layer" else "mean", bias=bias)
    x = rng.uniform(-1, 1, size=(2, 2))
    net = Network(mlp, None, x, _target(loss, 2, rng), seed=5)
    exact = net.exact_gradients()
    numeric = _numeric_gradient(net)
    for name in exact:
        assert exact[name].shape == net.params[name].shape
        np.testing.assert_allclose(exact[name], numeric[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_batch_backward_equals_the_reduction_of_per_sample_gradients():
    rng = np.random.default_rng(0)
    for reduction in ("mean", "sum"):
        net = Network(MLP([2, 3, 1], reduction=reduction), None, rng.uniform(size=(3, 2)), rng.uniform(size=(3, 1)))
        per_sample = [net.exact_gradients(k, scalar=True) for k in range(3)]
        batch = net.gradient_arrays(net.backward())  # the batch graph, all samples at once
        for name in batch:
            total = sum(g[name] for g in per_sample)
            np.testing.assert_allclose(batch[name], total / 3 if reduction == "mean" else total, rtol=1e-12)
            np.testing.assert_allclose(net.exact_gradients()[name], batch[name], rtol=1e-12)
        assert float(net.backward().loss) == pytest.approx(net.loss(), rel=1e-12)


def test_relu_derivative_at_zero_is_zero():
    # z1_0 = 0 exactly: relu'(0) = 0, so no gradient reaches W1 through it
    net = Network(MLP([1, 1, 1], ["relu", "identity"], bias="none"), {"W1": [[0]], "W2": [[2]]}, [[1]], [[1]], exact=True)
    bp = net.backward()
    assert bp.gradients["W1_0_0"].value == 0
    assert bp.gradients["W2_0_0"].value == 0  # a1_0 = relu(0) = 0


def test_softmax_cross_entropy_gradient_is_output_minus_target():
    mlp = MLP([2, 3], "softmax", "cross_entropy", bias="neuron")
    net = Network(mlp, None, [[0.5, -0.25]], [[0, 1, 0]], seed=2)
    yhat = forward_numpy(mlp, net.params, net.x)
    np.testing.assert_allclose(net.exact_gradients()["b1"], (yhat - net.y)[0], rtol=1e-10)


def test_exact_numbers_stay_exact():
    net = Network(MLP([1, 1], "identity", bias="neuron"), {"W1": [[0.5]], "b1": [0.25]}, [[2]], [[1]], exact=True)
    bp = net.backward()
    assert bp.loss == sympy.Rational(1, 32) and bp.gradients["W1_0_0"].value == sympy.Rational(1, 2)


def test_numpy_forward_and_loss_are_stable():
    mlp = MLP([1, 1], "sigmoid", "binary_cross_entropy")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yhat = forward_numpy(mlp, {"W1": [[1.0]], "b1": [0.0]}, [[-800.0], [800.0]])
        assert yhat[0, 0] == 0.0 and yhat[1, 0] == 1.0
        assert loss_numpy(mlp, {"W1": [[1.0]], "b1": [0.0]}, [[-800.0]], [[1.0]]) == pytest.approx(800.0)
    soft = MLP([1, 2], "softmax", "cross_entropy", bias="none")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert loss_numpy(soft, {"W1": [[1000.0], [0.0]]}, [[1.0]], [[0, 1]]) == pytest.approx(1000.0)


def test_names_and_labels():
    g = network_graph(MLP([2, 2, 1], bias="layer"))
    assert g.formulas()[0] == "z1_0 = W1_0_0*x_0 + W1_0_1*x_1 + b1"
    assert g.label(g.symbol("W1_0_1")) == "W1[0,1]" and g.label(g.symbol("a1_1")) == "a1[1]"
    batch = network_graph(MLP([2, 2, 1]), samples=2)
    assert batch.label(batch.symbol("s1_z1_0")) == "z1[0](s1)"
    assert str(batch.node("L").formula) == "s0_L/2 + s1_L/2"


def test_graph_grows_linearly():
    sizes = [len(network_graph(MLP([2] + [4] * depth + [1])).nodes) for depth in (1, 2, 3, 4)]
    assert np.diff(sizes).tolist() == [8, 8, 8]


def test_bad_data_names_the_key():
    mlp = MLP([2, 1])
    with pytest.raises(SpecError, match=r"data\.x: each row needs 2 numbers"):
        Network(mlp, None, [[1, 2, 3]], [[1]])
    with pytest.raises(SpecError, match=r"data\.y: each row needs 1 numbers"):
        Network(mlp, None, [[1, 2]], [[1, 2]])
    with pytest.raises(SpecError, match=r"data\.x: row 0 contains NaN"):
        Network(mlp, None, [[np.nan, 2]], [[1]])
    with pytest.raises(SpecError, match=r"params\.W1: expected shape \(1, 2\), got \(2, 1\)"):
        Network(mlp, {"W1": [[1], [2]]}, [[1, 2]], [[1]])
