"""Derive once, evaluate fast: the vectorized exact gradients equal the scalar pass's, node by node.

``Network.exact_gradients()`` evaluates the derived formulas on whole arrays in
float mode; ``exact_gradients(scalar=True)`` runs the recorded backward pass of
the scalar graph. Both are float64 arithmetic on the same formulas, summed in
another order: they agree to within 1e-13 of the largest gradient of a parameter
or a named intermediate, the size of the terms each sum adds (bit for bit is not
to be had; a gradient that is 0 in exact arithmetic, as a softmax's shared bias, is
rounding noise in both), for every activation, loss, bias mode, reduction and
layer kind, for the batch and for one sample's own loss, and so do the
gradients of the named intermediates.
"""

import numpy as np
import pytest

from symprop.nn import MLP, Network, Sequential
from symprop.nn.activations import ACTIVATIONS
from symprop.nn.losses import LOSSES

from test_layers import CASES, IDS, _network

#: |vectorized - scalar| <= TOLERANCE * scale_of(network)
TOLERANCE = 1e-13


def scale_of(net: Network, sample=None) -> float:
    """The largest gradient of a parameter or a named intermediate: the size of the terms every sum adds."""
    arrays = [*net.exact_gradients(sample, scalar=True).values(), *net.exact_intermediates(sample, scalar=True).values()]
    return max(float(np.max(np.abs(v))) for v in arrays if v.size)


def assert_agree(fast: dict, scalar: dict, scale: float) -> None:
    assert list(fast) == list(scalar)
    for name, value in scalar.items():
        assert fast[name].shape == value.shape, name
        worst = float(np.max(np.abs(fast[name] - value), initial=0.0))
        assert worst <= TOLERANCE * scale, (name, worst, scale)


def _targets(loss: str, activation: str, rng, m: int, k: int) -> np.ndarray:
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, m)]
    return rng.uniform(0.1, 0.9, (m, k))


ELEMENTWISE = [name for name, entry in ACTIVATIONS.items() if entry.elementwise]
HEADS = [(a, loss) for loss in LOSSES for a in ACTIVATIONS
         if (LOSSES[loss].requires in (None, a)) and not (loss == "binary_cross_entropy" and a not in ("sigmoid",))
         and not (a == "softmax" and loss == "binary_cross_entropy")]


@pytest.mark.parametrize("hidden", ELEMENTWISE)
@pytest.mark.parametrize("head,loss", HEADS, ids=[f"{a}-{l}" for a, l in HEADS])
def test_every_activation_and_loss(hidden, head, loss):
    rng = np.random.default_rng(len(hidden) * 7 + len(head) + len(loss))
    bias = ["neuron", "layer", "none"][(len(hidden) + len(loss)) % 3]
    reduction = ["mean", "sum"][len(head) % 2]
    mlp = MLP([3, 4, 3], [hidden, head], loss, reduction, bias)
    net = Network(mlp, None, rng.normal(size=(5, 3)), _targets(loss, head, rng, 5, 3), seed=2, init="xavier")
    assert net.evaluation() is not None  # the vectorized path, not a fall-back
    assert_agree(net.exact_gradients(), net.exact_gradients(scalar=True), scale_of(net))
    assert_agree(net.exact_intermediates(), net.exact_intermediates(scalar=True), scale_of(net))
    assert_agree(net.exact_gradients(3), net.exact_gradients(3, scalar=True), scale_of(net, 3))  # one sample's own loss
    assert_agree(net.exact_intermediates(3), net.exact_intermediates(3, scalar=True), scale_of(net, 3))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_layer_kind(case):
    net = _network(case)
    assert net.evaluation() is not None
    assert_agree(net.exact_gradients(), net.exact_gradients(scalar=True), scale_of(net))
    assert_agree(net.exact_intermediates(), net.exact_intermediates(scalar=True), scale_of(net))
    if net.mlp.separable and net.samples > 1:
        assert_agree(net.exact_gradients(1), net.exact_gradients(1, scalar=True), scale_of(net, 1))


def test_a_wide_batch_sums_in_another_order_and_still_agrees():
    rng = np.random.default_rng(0)
    mlp = MLP([6, 12, 5], ["tanh", "softmax"], "cross_entropy")
    net = Network(mlp, None, rng.normal(size=(40, 6)), np.eye(5)[rng.integers(0, 5, 40)], seed=1)
    assert_agree(net.exact_gradients(), net.exact_gradients(scalar=True), scale_of(net))


def test_exact_inputs_keep_exact_arithmetic():
    net = Network(MLP([2, 2, 1], "sigmoid"), {"W1": [[0.5, -0.25], [1, 2]]}, [[1, 2]], [[0.5]], seed=0, exact=True)
    assert net.evaluation() is None
    bp = net.backward()
    assert not bp.gradients["W1[0,0]"].value.is_Float  # an exact closed form
    np.testing.assert_allclose(net.exact_gradients()["W1"][0, 0], float(bp.gradients["W1[0,0]"].value), rtol=1e-15)


def test_where_the_compiled_loss_would_clip_the_scalar_pass_answers():
    # binary cross-entropy after an identity output: the compiled loss clips yhat to [1e-12, 1 - 1e-12]
    mlp = MLP([1, 1], "identity", "binary_cross_entropy")
    inside = Network(mlp, {"W1": [[0.5]], "b1": [0.2]}, [[1.0]], [[1.0]])
    assert inside.evaluation() is not None
    edge = Network(mlp, {"W1": [[0.5]], "b1": [0.5 - 1e-14]}, [[1.0]], [[1.0]])  # yhat = 1 - 1e-14
    assert edge.evaluation() is None
    exact = edge.exact_gradients()  # the scalar pass: d/dyhat of -log(yhat) = -1/yhat, not clipped
    assert exact["W1"][0, 0] == pytest.approx(-1 / (1 - 1e-14), rel=1e-12)


def test_a_vector_activation_without_numpy_code_takes_the_scalar_pass():
    import sympy

    from symprop.nn.activations import Activation, register_activation, softmax_jacobian

    entry = Activation("softmax_copy_test", lambda zs, slope: [sympy.exp(z) / sympy.Add(*map(sympy.exp, zs)) for z in zs],
                       lambda z, slope: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), "softmax", "softmax",
                       elementwise=False, last_layer_only=True, jacobian=softmax_jacobian)
    register_activation(entry)
    try:
        net = Network(MLP([2, 2], "softmax_copy_test", "mse"), None, [[0.1, 0.2]], [[0.3, 0.7]], seed=0)
        assert net.evaluation() is None
        assert net.exact_gradients()["W1"].shape == (2, 2)
    finally:
        del ACTIVATIONS["softmax_copy_test"]


def test_a_layer_list_of_one_sample_and_a_coupled_batch():
    seq = Sequential(2, [{"linear": 3}, "batchnorm", "relu", {"linear": 2}, "softmax"], "cross_entropy")
    rng = np.random.default_rng(3)
    net = Network(seq, None, rng.normal(size=(6, 2)), np.eye(2)[rng.integers(0, 2, 6)], seed=4)
    assert_agree(net.exact_gradients(), net.exact_gradients(scalar=True), scale_of(net))
    with pytest.raises(Exception, match="couples the samples"):
        net.exact_gradients(0)
