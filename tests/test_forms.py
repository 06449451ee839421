"""``symprop grad`` of a network in float mode: the forms derived once, written per sample, are the scalar pass's text.

The fast path (:mod:`symprop.nn.forms`) derives one sample's graph and writes
every sample's compact forms from its patterns; the scalar pass derives the
whole batch's graph node by node. What they print must be the same, character
for character: text and JSON, the batch and one sample's own loss.
"""

import json

import numpy as np
import pytest
import sympy

from symprop.nn import MLP, Network, NetworkProblem, Sequential
from symprop.nn.activations import ACTIVATIONS
from symprop.nn.forms import gradient_forms
from symprop.render.json import dumps
from symprop.render.network import grad_json, grad_json_forms
from symprop.render.numbers import format_expr
from symprop.render.text import render_gradient_forms, render_gradients

from test_layers import CASES, IDS, _network

ELEMENTWISE = [name for name, entry in ACTIVATIONS.items() if entry.elementwise]


def both_texts(net: Network, sample=None, digits=6):
    """(the fast path's text, the scalar pass's text) of ``symprop grad``."""
    forms = gradient_forms(net, sample, lambda e: format_expr(e, digits))
    assert forms is not None
    fast = render_gradient_forms(forms, digits=digits)
    slow = render_gradients(NetworkProblem(net, sample).backward(), digits=digits)
    return fast, slow


def both_json(net: Network, sample=None):
    forms = gradient_forms(net, sample, sympy.sstr)
    problem = NetworkProblem(net, sample)
    return dumps(grad_json_forms(net.params, forms)), dumps(grad_json(problem, problem.backward()))


@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_every_hidden_activation_prints_as_the_scalar_pass(hidden):
    rng = np.random.default_rng(len(hidden))
    mlp = MLP([2, 3, 2], [hidden, "softmax"], "cross_entropy")
    net = Network(mlp, None, rng.normal(size=(3, 2)), np.eye(2)[[0, 1, 1]], seed=3)
    fast, slow = both_texts(net)
    assert fast == slow
    assert "dL/dW1[0,0]" in fast and "(s2)" in fast  # every sample's terms are written


@pytest.mark.parametrize("loss", ["mse", "half_squared_error", "binary_cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_losses_and_reductions(loss, reduction):
    rng = np.random.default_rng(7)
    mlp = MLP([3, 2, 1], ["tanh", "sigmoid"], loss, reduction)
    net = Network(mlp, None, rng.normal(size=(4, 3)), rng.uniform(0.1, 0.9, (4, 1)), seed=1)
    fast, slow = both_texts(net)
    assert fast == slow
    fast_json, slow_json = (json.loads(text) for text in both_json(net))
    assert fast_json["symbolic"] == slow_json["symbolic"]  # the forms: character for character
    assert set(fast_json) == set(slow_json) == {"loss", "gradients", "symbolic"}
    # the values: vectorized float64 against the scalar pass, summed in another order (within 1e-13)
    assert fast_json["loss"] == pytest.approx(slow_json["loss"], rel=1e-13)
    fast_grads, slow_grads = (np.array([v for name in sorted(d["gradients"]) for v in np.ravel(d["gradients"][name])])
                              for d in (fast_json, slow_json))
    assert np.allclose(fast_grads, slow_grads, rtol=1e-13, atol=1e-13 * np.max(np.abs(slow_grads)))


def test_eleven_samples_order_their_terms_as_sympy_does():
    """SymPy sorts (s10) before (s2): the batch's sums must keep that order."""
    rng = np.random.default_rng(11)
    net = Network(MLP([2, 2, 1], "sigmoid", "mse"), None, rng.normal(size=(11, 2)), rng.uniform(size=(11, 1)), seed=0)
    fast, slow = both_texts(net)
    assert fast == slow
    assert fast.index("x[0](s10)") < fast.index("x[0](s2)")


def test_one_samples_own_loss_and_other_digits():
    rng = np.random.default_rng(2)
    net = Network(MLP([2, 4, 3], ["relu", "softmax"], "cross_entropy"), None, rng.normal(size=(3, 2)),
                  np.eye(3)[[0, 2, 1]], seed=4)
    for sample, digits in ((1, 6), (None, 3), (None, 12)):
        fast, slow = both_texts(net, sample, digits)
        assert fast == slow, (sample, digits)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_layer_lists_print_as_the_scalar_pass(case):
    net = _network(case, samples=3 if case is not CASES[3] else 4)
    forms = gradient_forms(net, None, lambda e: format_expr(e, 6))
    if forms is None:  # coupled samples (batchnorm, weight decay): only the scalar pass narrates them
        assert not net.mlp.separable
        return
    fast, slow = both_texts(net)
    assert fast == slow


def test_exact_inputs_and_coupled_samples_take_the_scalar_pass():
    rng = np.random.default_rng(0)
    mlp = MLP([2, 2, 1], "sigmoid", "mse")
    exact = Network(mlp, None, [[1, 2], [3, 4]], [[0], [1]], seed=0, exact=True)
    assert gradient_forms(exact, None, sympy.sstr) is None
    decay = Sequential(inputs=2, layers=[{"linear": 2}, "sigmoid", {"linear": 1}], loss="mse", weight_decay=0.1)
    coupled = Network(decay, None, rng.normal(size=(2, 2)), rng.uniform(size=(2, 1)), seed=0)
    assert gradient_forms(coupled, None, sympy.sstr) is None
