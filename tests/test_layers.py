"""Layer-list networks against references symprop did not write: HIPS autograd and finite differences.

The autograd forward pass below reads the same layer list and follows the
README's conventions (names, batchnorm in training mode with the biased
variance, eps 1e-5, inverted dropout, weight decay λ/2·ΣW² over the weights),
but is written here, independently of symprop's layers. Every layer and
option appears in the fixed networks, and a seeded generator draws more.
"""

import json
import re
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import symprop
from symprop.cli import main
from symprop.errors import SpecError
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


# -- the command line: every command on a layer list, the example's check, and bad input ------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NINJA = str(EXAMPLES / "backprop_ninja.toml")
SPEC = """[network]
inputs = 2
layers = LAYERS
loss = "cross_entropy"
weight_decay = 0.01

[data]
x = [[0.5, -1.0], [1.5, 0.25], [-0.5, 0.75]]
y = [[1, 0], [0, 1], [0, 1]]
"""
EVERY_LAYER = '[{linear = 3}, "batchnorm", "tanh", {dropout = 0.5}, {residual = [{linear = 3}, "layernorm", "relu"]}, {linear = 2}, "softmax"]'


def _spec(tmp_path, layers=EVERY_LAYER, text=SPEC):
    path = tmp_path / "net.toml"
    path.write_text(text.replace("LAYERS", layers), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("args", [
    ["explain", "--format", fmt] for fmt in ("text", "json", "markdown", "latex", "html", "rich")
] + [["explain", "--view", "matrix", "--format", fmt] for fmt in ("text", "json", "markdown", "latex", "html",
                                                                  "rich")] + [
    ["grad"], ["grad", "--json"], ["check"], ["check", "--json"], ["graph"], ["train", "--show-code"],
], ids=lambda a: " ".join(a))
def test_every_command_and_format_runs_on_a_layer_list(tmp_path, capsys, args):
    assert main([*args, "--spec", _spec(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"bn1|BN1|gamma1|\\mathrm\{bn\}|<mi>bn</mi>", out)  # bn1, in every spelling


def test_the_walkthrough_narrates_the_batch_statistics_fan_out(tmp_path, capsys):
    main(["explain", "--spec", _spec(tmp_path), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    into_mu = [s for s in data["backward"] if s["input"] == "mu1[0]"]  # JSON uses the printed names
    assert len(into_mu) == 4  # from xhat1[0] of each of the 3 samples, and from var1[0]
    assert [s["node"] for s in into_mu] == ["xhat1[0](s0)", "xhat1[0](s1)", "xhat1[0](s2)", "var1[0]"]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_training_a_layer_list_lowers_the_loss_with_every_optimizer(tmp_path, capsys, optimizer):
    layers = '[{linear = 3}, "batchnorm", "tanh", {residual = [{linear = 3}, "layernorm", "relu"]}, {linear = 2}, "softmax"]'
    lr = "0.05" if optimizer in ("adam", "rmsprop") else "0.2"
    assert main(["train", "--spec", _spec(tmp_path, layers), "--steps", "150", "--optimizer", optimizer,
                 "--lr", lr, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["final_loss"] < 0.5 * result["loss_history"][0]


def test_training_with_dropout_draws_a_mask_per_step_reproducibly(tmp_path, capsys):
    path = _spec(tmp_path)
    runs = []
    for _ in range(2):
        assert main(["train", "--spec", path, "--steps", "40", "--json"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[0] == runs[1]
    history = np.array(runs[0]["loss_history"])
    assert len(set(np.round(history, 12))) > 30 and runs[0]["final_loss"] < history[0]


def test_the_backprop_ninja_exercise_is_graded_from_the_command_line(capsys):
    blank = main(["check", "--spec", NINJA, "--against", str(EXAMPLES / "backprop_ninja_exercise.py") + ":grads"])
    assert blank == 1 and "W1: missing" in capsys.readouterr().out
    assert main(["check", "--spec", NINJA, "--against", str(EXAMPLES / "backprop_ninja.py") + ":solution"]) == 0
    assert "passed: 44 of 44 agree" in capsys.readouterr().out


BAD = [
    # (row id, layers or a whole spec, the message's words)
    ("L1", '[{linear = 3}, "batchnorm", "tanh", {linear = 2}, "softmax"]',
     "network.layers[1] (batchnorm): needs a batch of at least 2 samples"),
    ("L2", '[{linear = 3}, {dropout = 1.0}, {linear = 2}, "softmax"]', "network.layers[1] (dropout): p must be in [0, 1), got 1.0"),
    ("L2", '[{linear = 3}, {dropout = -0.5}, {linear = 2}, "softmax"]', "p must be in [0, 1), got -0.5"),
    ("L3", '[{linear = 3}, {residual = [{linear = 2}]}, {linear = 2}, "softmax"]',
     "network.layers[1] (residual): the block maps width 3 to 2; a skip needs equal widths"),
    ("L4", '[{linear = 2}, "softmax", {linear = 2}]', "network.layers[2]: a layer after softmax (network.layers[1]); softmax must be the last layer"),
    ("L5", '[{linear = 3}, "maxpool"]', "network.layers[1]: unknown layer 'maxpool'"),
    ("L5", '[{linear = {width = 3, bais = "none"}}]', "network.layers[0] (linear): unknown option 'bais'; expected one of: width, bias"),
    ("L5", '[{linear = 3}, {batchnorm = 3}]', "network.layers[1] (batchnorm): takes no argument; write \"batchnorm\""),
    ("L6", '[{linear = 2}, {dropout = {p = 0.5, mask = [[1, 0]]}}, {linear = 2}, "softmax"]',
     "network.layers[1] (dropout): mask must have shape (3, 2) (samples, width), got (1, 2)"),
    ("L6", '[{linear = 2}, {dropout = {p = 0.5, mask = [[1, 2], [0, 1], [1, 1]]}}, {linear = 2}, "softmax"]',
     "mask entries must be 0 or 1"),
    ("L7", '[{linear = 3}, "tanh", "relu", {linear = 2}, "softmax"]', "network.layers[2] (relu): its values would be named 'a1'"),
]


@pytest.mark.parametrize("row, layers, message", BAD, ids=[f"{b[0]}-{k}" for k, b in enumerate(BAD)])
def test_L_bad_layer_lists_are_one_line_naming_the_layer(tmp_path, capsys, row, layers, message):
    one = SPEC.replace('x = [[0.5, -1.0], [1.5, 0.25], [-0.5, 0.75]]', 'x = [[0.5, -1.0]]').replace(
        "y = [[1, 0], [0, 1], [0, 1]]", "y = [[1, 0]]")
    text = one if row == "L1" else SPEC
    assert main(["grad", "--spec", _spec(tmp_path, layers, text)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symprop: error: ") and err.count("\n") == 1 and message in err, err


def test_L8_sample_is_refused_where_samples_are_coupled(tmp_path, capsys):
    assert main(["explain", "--spec", _spec(tmp_path), "--sample", "1"]) == 2
    assert "couples the samples" in capsys.readouterr().err
    decay_only = '[{linear = 3}, "tanh", {linear = 2}, "softmax"]'
    assert main(["explain", "--spec", _spec(tmp_path, decay_only), "--sample", "1", "--view", "matrix"]) == 2
    assert "weight decay is a term of the batch loss" in capsys.readouterr().err


@pytest.mark.parametrize("table, message", [
    ('inputs = 2\nlayers = [{linear = 2}, "softmax"]\nactivation = "tanh"', "network.activation: a layer list names its activations as layers"),
    ('layers = [{linear = 2}, "softmax"]', "network.inputs: missing"),
    ('inputs = 2\nlayers = [2, 2]', "network.inputs: goes with a layer list"),
    ('inputs = 2\nlayers = [{linear = 2}, "softmax"]\nweight_decay = -1', "network.weight_decay: expected a number >= 0"),
    ('inputs = 2\nlayers = [{linear = 2}, "softmax"]\nweight_decay = nan', "network.weight_decay: nan is not a finite number"),
    ('inputs = 2\nlayers = [{linear = 2}, {dropout = nan}, "softmax"]', "network.layers[1] (dropout): p must be a finite number, got nan"),
], ids=["activation", "inputs", "inputs-with-widths", "decay", "decay-nan", "nan"])
def test_L9_network_keys_of_a_layer_list(tmp_path, capsys, table, message):
    text = '[network]\n' + table + '\nloss = "cross_entropy"\n[data]\nx = [[0.5, -1.0], [1.5, 0.25]]\ny = [[1, 0], [0, 1]]\n'
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["grad", "--spec", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_python_errors_are_spec_errors_naming_the_layer():
    with pytest.raises(SpecError, match=r"network.layers\[1\].residual\[1\] \(softmax\): must be the network's last layer"):
        Sequential(2, [{"linear": 2}, {"residual": [{"linear": 2}, "softmax"]}])
    with pytest.raises(SpecError, match="only leaky_relu takes a slope"):
        Sequential(2, [{"linear": 2}, {"tanh": {"slope": 0.2}}])
    with pytest.raises(SpecError, match="'mask9' is not a dropout mask"):
        Network(Sequential(2, [{"linear": 2}, {"dropout": 0.5}]), None, [[1, 2]], [[1, 2]], masks={"mask9": [[1, 1]]})
