"""Layer-list networks against references symprop did not write: HIPS autograd and finite differences.

The autograd forward pass below reads the same layer list and follows the
README's conventions (names, batchnorm in training mode with the biased
variance, eps 1e-5, inverted dropout, weight decay λ/2·ΣW² over the weights),
but is written here, independently of symprop's layers. Every layer and
option appears in the fixed networks, and a seeded generator draws more.
"""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import symprop
from symprop.compiler import compile as compile_network
from symprop.matrix import matrix_view
from symprop.nn import Network, Sequential

# -- an independent forward pass, in autograd.numpy ------------------------------------------------


def _kind(entry):
    if isinstance(entry, str):
        return entry, {}
    (kind, value), = entry.items()
    first = {"linear": "width", "dropout": "p", "residual": "layers", "leaky_relu": "slope"}.get(kind)
    return kind, (dict(value) if isinstance(value, dict) else {first: value})


ACTIVATIONS = {
    "sigmoid": lambda z, s: 1 / (1 + anp.exp(-z)),
    "tanh": lambda z, s: anp.tanh(z),
    "relu": lambda z, s: anp.maximum(z, 0.0),
    "leaky_relu": lambda z, s: anp.where(z > 0, z, s * z),
    "softplus": lambda z, s: anp.logaddexp(0.0, z),
    "identity": lambda z, s: z,
}


class AutogradNet:
    """The network's loss as a function of (params, probes): probes are zeros added to every named value."""

    def __init__(self, inputs, layers, loss, reduction="mean", bias="neuron", slope=0.01, weight_decay=0.0):
        self.inputs, self.layers, self.loss, self.reduction = inputs, layers, loss, reduction
        self.bias, self.slope, self.decay = bias, slope, weight_decay

    def run(self, params, probes, x, y, masks):
        self.stage, self.shapes = 0, {}
        self.params, self.probes, self.masks = params, probes, masks
        a = self.stack(self.layers, x)
        K = a.shape[1]
        per = {
            "half_squared_error": lambda: 0.5 * anp.sum((y - a) ** 2, axis=1),
            "squared_error": lambda: anp.sum((y - a) ** 2, axis=1),
            "mse": lambda: anp.sum((y - a) ** 2, axis=1) / K,
            "binary_cross_entropy": lambda: -anp.sum(y * anp.log(a) + (1 - y) * anp.log(1 - a), axis=1),
            "cross_entropy": lambda: -anp.sum(y * anp.log(a), axis=1),
        }[self.loss]()
        total = anp.mean(per) if self.reduction == "mean" else anp.sum(per)
        for name, value in params.items():
            if name.startswith("W"):
                total = total + self.decay / 2 * anp.sum(value**2)
        return total

    def probe(self, name, value):
        self.shapes[name] = value.shape
        return value + self.probes[name] if name in self.probes else value

    def stack(self, layers, h):
        for entry in layers:
            kind, opts = _kind(entry)
            l = self.stage + (kind == "linear")
            if kind == "linear":
                self.stage = l
                h = anp.dot(h, self.params[f"W{l}"].T)
                if opts.get("bias", self.bias) != "none":
                    h = h + self.params[f"b{l}"]
                h = self.probe(f"z{l}", h)
            elif kind in ("batchnorm", "layernorm"):
                eps = opts.get("eps", 1e-5)
                p, axis = ("", 0) if kind == "batchnorm" else ("ln", 1)
                names = (f"{p}mu{l}", f"{p}var{l}", f"{p}hat{l}" if p else f"xhat{l}", f"{p or 'bn'}{l}")
                mu = self.probe(names[0], anp.mean(h, axis=axis))
                mu_b = mu if axis == 0 else mu[:, None]
                var = self.probe(names[1], anp.mean((h - mu_b) ** 2, axis=axis))
                var_b = var if axis == 0 else var[:, None]
                xhat = self.probe(names[2], (h - mu_b) / anp.sqrt(var_b + eps))
                h = self.probe(names[3], self.params[f"{p}gamma{l}"] * xhat + self.params[f"{p}beta{l}"])
            elif kind == "dropout":
                h = self.probe(f"drop{l}", h * self.masks[f"mask{l}"] / (1 - opts["p"]))
            elif kind == "residual":
                inner = self.stack(opts["layers"], h)
                h = self.probe(f"res{self.stage}", h + inner)
            elif kind == "softmax":
                e = anp.exp(h)  # sumexp is the sum of exp(z) itself (moderate logits here)
                total = self.probe(f"sumexp{l}", anp.sum(e, axis=1))
                h = self.probe(f"a{l}", e / total[:, None])
            else:
                h = self.probe(f"a{l}", ACTIVATIONS[kind](h, opts.get("slope", self.slope)))
        return h

    def gradients(self, params, x, y, masks):
        """dL/dparams, and dL/d(every named value) through zero probes."""
        self.run(params, {}, x, y, masks)  # learn the shapes
        probes = {name: np.zeros(shape) for name, shape in self.shapes.items()}
        loss = lambda p, q: self.run(p, q, x, y, masks)  # noqa: E731
        return grad(loss, 0)(params, probes), grad(loss, 1)(params, probes), float(loss(params, probes))


# -- the networks -------------------------------------------------------------------------------------

FIXED = [
    # batchnorm, tanh, softmax + cross-entropy (the "backprop ninja" MLP)
    dict(inputs=3, layers=[{"linear": 4}, "batchnorm", "tanh", {"linear": 3}, "softmax"], loss="cross_entropy"),
    # layernorm of the input, relu, dropout, weight decay, sigmoid + binary cross-entropy
    dict(inputs=3, layers=["layernorm", {"linear": 4}, "relu", {"dropout": 0.25}, {"linear": 1}, "sigmoid"],
         loss="binary_cross_entropy", weight_decay=0.05),
    # a residual block with batchnorm inside (it couples the samples), leaky_relu with its own slope, sum
    dict(inputs=2, layers=[{"linear": 3}, {"leaky_relu": {"slope": 0.2}},
                           {"residual": [{"linear": 3}, "batchnorm", "sigmoid"]}, {"linear": 2}, "identity"],
         loss="mse", reduction="sum"),
    # no bias before batchnorm, a batchnorm eps, a shared bias, a given mask, a last layer without activation
    dict(inputs=2, layers=[{"linear": {"width": 4, "bias": "none"}}, {"batchnorm": {"eps": 1e-3}}, "softplus",
                           {"residual": [{"linear": {"width": 4, "bias": "layer"}}, "tanh", "layernorm"]},
                           {"dropout": {"p": 0.5, "mask": [[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 1], [1, 1, 1, 0]]}},
                           {"linear": 2}], loss="half_squared_error", weight_decay=0.1),
    # dropout without batchnorm, on a single sample
    dict(inputs=2, layers=[{"linear": 3}, "sigmoid", {"dropout": 0.5}, {"linear": 2}, "softmax"], loss="mse"),
]


def _random_layers(rng, inputs, outputs):
    """A random layer list using every kind: linear, batchnorm, activations, dropout, residual, layernorm."""
    layers, width = [], inputs
    if rng.random() < 0.3:
        layers.append("layernorm")
    for _ in range(rng.integers(1, 3)):
        width = int(rng.integers(2, 5))
        bias = ["neuron", "layer", "none"][rng.integers(0, 3)]
        layers.append({"linear": width} if bias == "neuron" else {"linear": {"width": width, "bias": bias}})
        if rng.random() < 0.5:
            layers.append("batchnorm" if rng.random() < 0.7 else {"batchnorm": {"eps": 1e-3}})
        layers.append(["sigmoid", "tanh", "relu", "softplus", "leaky_relu", "identity"][rng.integers(0, 6)])
        if rng.random() < 0.4:
            layers.append({"dropout": float(rng.choice([0.2, 0.5]))})
        if rng.random() < 0.4:
            inner = [{"linear": width}, ["tanh", "sigmoid", "batchnorm", "layernorm"][rng.integers(0, 4)]]
            layers.append({"residual": inner})
    layers.append({"linear": outputs})
    head = ["sigmoid", "softmax", "identity", None][rng.integers(0, 4)]
    if head:
        layers.append(head)
    loss = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(head, "half_squared_error")
    if rng.random() < 0.3:
        loss = "mse"
    return dict(inputs=inputs, layers=layers, loss=loss, reduction=["mean", "sum"][rng.integers(0, 2)],
                weight_decay=float(rng.choice([0.0, 0.0, 0.01])))


RANDOM = [_random_layers(np.random.default_rng(seed), 2, 2) for seed in range(10)]
CASES = FIXED + RANDOM
IDS = [f"fixed{k}" for k in range(len(FIXED))] + [f"random{k}" for k in range(len(RANDOM))]


def _network(case, seed=0, samples=4):
    rng = np.random.default_rng(100 + seed)
    arch = Sequential(**case)
    x = rng.normal(size=(1 if case is FIXED[4] else samples, case["inputs"]))
    m, k = x.shape[0], arch.n_outputs
    if case["loss"] == "cross_entropy":
        y = np.eye(k)[rng.integers(0, k, m)]
    else:
        y = rng.uniform(0.1, 0.9, (m, k))
    params = arch.init_params(seed, "xavier")
    for name in params:  # scales and shifts away from 1 and 0, so their gradients matter
        if "gamma" in name:
            params[name] = rng.uniform(0.5, 1.5, params[name].shape)
        if "beta" in name or name.startswith("b"):
            params[name] = rng.normal(0, 0.3, params[name].shape)
    return Network(arch, params, x, y, seed=seed)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_exact_compiled_and_matrix_gradients_equal_autograd(case):
    net = _network(case)
    ref = AutogradNet(**case)
    g_params, g_values, loss = ref.gradients(dict(net.params), net.x, net.y, net.masks)
    assert net.loss() == pytest.approx(loss, rel=1e-12)
    exact = net.exact_gradients()
    assert list(exact) == list(g_params)
    for name in exact:
        np.testing.assert_allclose(exact[name], g_params[name], rtol=1e-9, atol=1e-12, err_msg=name)
    compiled = compile_network(net.mlp)
    args = (net.params, net.x, net.y) + ((net.masks,) if net.masks else ())
    c_loss, c_grads = compiled.loss_and_grads(*args)
    assert c_loss == pytest.approx(loss, rel=1e-12)
    for name in exact:
        np.testing.assert_allclose(c_grads[name], g_params[name], rtol=1e-9, atol=1e-12, err_msg=name)
    view = matrix_view(net)
    assert float(view.loss) == pytest.approx(loss, rel=1e-12)
    for name, value in view.gradients().items():
        np.testing.assert_allclose(value, g_params[name], rtol=1e-9, atol=1e-12, err_msg=name)
    # the gradient of every named intermediate, as check --against compares them
    mine = net.exact_intermediates()
    assert set(mine) <= set(g_values) and mine
    for name, value in mine.items():
        np.testing.assert_allclose(value, g_values[name], rtol=1e-9, atol=1e-12, err_msg=name)
    left_out = set(g_values) - set(mine)  # only values that no parameter's gradient goes through
    assert all(name.startswith("ln") and name.endswith("0") for name in left_out), left_out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_exact_gradients_agree_with_finite_differences(case):
    report = symprop.gradcheck(_network(case, seed=1))
    assert report.passed, str(report)


def test_a_user_function_returning_autograd_intermediates_passes_and_a_wrong_one_is_named():
    case = FIXED[0]
    net = _network(case)
    ref = AutogradNet(**case)
    params, values, _ = ref.gradients(dict(net.params), net.x, net.y, net.masks)
    given = {**params, **{k: v for k, v in values.items() if k in net.exact_intermediates()}}
    report = symprop.gradcheck(net, against=given)
    assert report.passed and any(r.name == "bn1" for r in report.rows)
    # dbn1 forgets the tanh derivative: bn1 is the first wrong one (a1 and the logits agree), z1 follows it
    wrong = dict(given, bn1=given["bn1"] / (1 - np.tanh(np.asarray(net.values()["bn1"])) ** 2))
    report = symprop.gradcheck(net, against=wrong)
    assert not report.passed
    first = next(f for f in report.findings if f.param == "bn1")
    assert "first wrong intermediate in backward order" in first.message and "a1" in first.message
    assert first.derivation is not None and first.derivation.entry.startswith("bn1[")
    shown = {s.input.name for s in first.derivation.steps}
    assert any("bn1" in name for name in shown) and not any(name.endswith("_L") for name in shown)


def test_a_mlp_is_a_layer_list_with_the_same_names_and_numbers():
    mlp = symprop.MLP([2, 3, 1], "tanh", "half_squared_error", bias="layer")
    seq = Sequential(2, mlp.layer_list(), bias="layer")
    x, y = [[0.5, -1.0], [1.0, 2.0]], [[0.2], [0.7]]
    a, b = Network(mlp, None, x, y, seed=3), Network(seq, None, x, y, seed=3)
    assert [str(n) for n in a.graph().nodes] == [str(n) for n in b.graph().nodes]
    for name, value in a.exact_gradients().items():
        np.testing.assert_array_equal(value, b.exact_gradients()[name])
