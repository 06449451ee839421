"""One home per concept: every activation, loss, optimizer and format is one table entry.

The tables are the single source the rest of symprop reads. These tests hold
each entry's parts against each other (the numpy reference against the SymPy
formula), show that an incomplete entry is refused when it is made (not
reported later as a wrong gradient), that an unknown name raises naming it,
and that a new activation or loss needs nothing but its entry: the scalar
graph, the checker, the compiler and the matrix view all pick it up.
"""

import re

import numpy as np
import pytest
import sympy

import symprop
from symprop.derive import derive_spec
from symprop.errors import SpecError
from symprop.matrix import matrix_view
from symprop.nn import ACTIVATIONS, LOSSES, MLP, Activation, Loss, Network, get_activation, get_loss
from symprop.nn.activations import Z
from symprop.nn.losses import Output
from symprop.optim import OPTIMIZERS, make_optimizer
from symprop.registry import did_you_mean
from symprop.render.formats import FORMATS, formats_for, renderer

RNG = np.random.default_rng(7)
ELEMENTWISE = [name for name, a in ACTIVATIONS.items() if a.elementwise]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_numpy_reference_computes_the_sympy_formula(name):
    activation = get_activation(name)
    z = RNG.uniform(-3, 3, size=(4, 3))
    formula = activation.of(Z)
    expected = np.array([[float(formula.subs(Z, sympy.Float(v)).evalf(30)) for v in row] for row in z])
    assert np.allclose(activation.numpy(z, 0.01), expected, rtol=1e-12, atol=0)


def test_softmax_reference_and_jacobian_come_from_its_formula():
    softmax = get_activation("softmax")
    z = RNG.uniform(-3, 3, size=(2, 3))
    zs = sympy.symbols("z0:3", real=True)
    outputs = softmax.formula(list(zs), None)
    for row, got in zip(z, softmax.numpy(z, 0.0)):
        point = dict(zip(zs, row))
        assert np.allclose(got, [float(o.subs(point)) for o in outputs], rtol=1e-13)
    a, jacobian = softmax.jacobian(3)
    derived = sympy.Matrix(3, 3, lambda i, j: sympy.diff(outputs[i], zs[j]))
    at = dict(zip(zs, (0.3, -1.2, 2.0)))
    values = {ai: outputs[i].subs(at) for i, ai in enumerate(a)}
    assert all(abs(float(jacobian[i, j].subs(values) - derived[i, j].subs(at))) < 1e-14 for i in range(3) for j in range(3))


def test_kinks_are_read_off_the_formula():
    assert {name for name, a in ACTIVATIONS.items() if a.kink} == {"relu", "leaky_relu"}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_reference_computes_the_sympy_formula(name):
    loss = get_loss(name)
    a = RNG.uniform(0.05, 0.95, size=(3, 2))
    y = np.eye(2)[[0, 1, 1]] if name == "cross_entropy" else RNG.uniform(0, 1, size=(3, 2))
    yhat, target = sympy.symbols("a0:2", positive=True), sympy.symbols("y0:2", real=True)
    formula = loss.formula(list(yhat), list(target))
    expected = [float(formula.subs({**dict(zip(yhat, ar)), **dict(zip(target, yr))})) for ar, yr in zip(a, y)]
    got = loss.numpy(y, Output(np.log(a), a, get_activation("identity")))  # z unused by identity's logs
    assert np.allclose(got, expected, rtol=1e-12)


def test_stable_logs_equal_the_plain_ones_where_both_are_finite():
    z = RNG.uniform(-5, 5, size=(3, 2))
    for name in ("sigmoid", "softmax"):
        activation = get_activation(name)
        stable = Output(z, activation.numpy(z, 0.0), activation)
        plain = Output(z, activation.numpy(z, 0.0), get_activation("identity"))
        assert np.allclose(stable.log(), plain.log(), rtol=1e-12)
        if name == "sigmoid":
            assert np.allclose(stable.log1m(), plain.log1m(), rtol=1e-12)


# -- incomplete entries are refused when they are made --------------------------


GOOD_ACTIVATION = dict(name="cube", formula=lambda z, s: z**3, numpy=lambda z, s: z**3, math="z³", pytorch="z**3")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"formula": None}, "has no formula"),
        ({"numpy": None}, "has no numpy"),
        ({"math": ""}, "has no math text"),
        ({"pytorch": None}, "has no pytorch text"),
        ({"elementwise": False}, "has no jacobian"),
        ({"stable_logs": lambda z: {}}, "stable_logs and numpy_logs together"),
        ({"name": "two words"}, "expected an identifier"),
    ],
)
def test_an_activation_missing_a_part_is_refused_naming_it(change, message):
    with pytest.raises(SpecError, match=message):
        Activation(**{**GOOD_ACTIVATION, **change})


@pytest.mark.parametrize("change, message", [({"numpy": None}, "has no numpy"), ({"formula": 3}, "has no formula"),
                                             ({"math": None}, "has no math text")])
def test_a_loss_missing_a_part_is_refused_naming_it(change, message):
    good = dict(name="quartic", formula=lambda a, y: a[0], numpy=lambda y, out: y[:, 0], math="m", pytorch="p")
    with pytest.raises(SpecError, match=message):
        Loss(**{**good, **change})


def test_a_mistyped_name_in_any_table_names_the_closest_one():
    """Every table looks names up the same way: a typo is answered with the name meant."""
    with pytest.raises(SpecError, match=r"unknown activation 'rellu'; expected one of: .*; did you mean 'relu'\?$"):
        get_activation("rellu")
    with pytest.raises(SpecError, match=r"; did you mean 'cross_entropy'\?$"):
        get_loss("crossentropy")
    with pytest.raises(SpecError, match=r"unknown optimizer 'adamw'; .*; did you mean 'adam'\?$"):
        make_optimizer("adamw", 0.1)
    with pytest.raises(SpecError, match=r"unknown format 'txt'; .*; did you mean 'text'\?$"):
        FORMATS.lookup("txt")
    with pytest.raises(symprop.SympropError, match=r"unknown format 'txt'; expected one of: .*; did you mean 'text'\?$"):
        renderer("txt", "walkthrough")
    with pytest.raises(SpecError) as far:  # nothing close: no guess
        get_activation("swish")
    assert "did you mean" not in str(far.value)
    assert did_you_mean("TEXT", ["rich", "text"]) == "; did you mean 'text'?"
    assert did_you_mean(3, ["rich", "text"]) == ""


def test_unknown_names_raise_naming_them():
    with pytest.raises(SpecError, match="unknown activation 'swish'; expected one of: sigmoid, tanh"):
        get_activation("swish")
    with pytest.raises(SpecError, match="unknown loss 'hinge'"):
        get_loss("hinge")
    with pytest.raises(SpecError, match="unknown optimizer 'lbfgs'; expected one of: sgd, momentum, rmsprop, adam"):
        make_optimizer("lbfgs", 0.1)
    with pytest.raises(symprop.SympropError, match="unknown format 'docx'"):
        renderer("docx", "walkthrough")
    with pytest.raises(symprop.SympropError, match="the latex format cannot show a report; use one of: rich, text"):
        renderer("latex", "report")
    with pytest.raises(SpecError, match="network.activation: unknown activation 'swish'"):
        MLP([2, 1], "swish")
    with pytest.raises(SpecError, match="already defined"):
        symprop.nn.register_activation(get_activation("tanh"))


def test_the_command_line_reads_its_choices_from_the_tables():
    from symprop.cli import build_parser

    parser = build_parser()
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices["train"]._actions}
    assert actions["optimizer"].choices == list(OPTIMIZERS)
    explain = {a.dest: a for a in parser._subparsers._group_actions[0].choices["explain"]._actions}
    assert explain["format"].choices == [f.name for f in formats_for("walkthrough")]
    assert set(explain["format"].choices) < set(FORMATS)


# -- a new entry is all it takes ------------------------------------------------


@pytest.fixture
def swish():
    """A throwaway activation, z·σ(z), registered for one test and removed after it."""
    entry = symprop.nn.register_activation(
        Activation(
            "swish_test",
            lambda z, slope: z * symprop.sigmoid(z),
            lambda z, slope: z / (1.0 + np.exp(-z)),
            "z·σ(z)",
            "torch.nn.functional.silu",
        )
    )
    yield entry
    del ACTIVATIONS["swish_test"]


@pytest.fixture
def quartic():
    entry = symprop.nn.register_loss(
        Loss(
            "quartic_test",
            lambda yhat, y: sympy.Add(*((yk - hk) ** 4 for hk, yk in zip(yhat, y))) / 4,
            lambda y, out: np.sum((y - out.a) ** 4, axis=1) / 4,
            "¼ Σ_k (y_k − ŷ_k)⁴",
            "none",
        )
    )
    yield entry
    del LOSSES["quartic_test"]


def test_a_new_activation_and_loss_work_everywhere_from_their_entries_alone(swish, quartic):
    mlp = MLP([2, 3, 2], ["swish_test", "tanh"], "quartic_test", bias="neuron")
    x, y = RNG.uniform(-1, 1, size=(3, 2)), RNG.uniform(-1, 1, size=(3, 2))
    net = Network(mlp, None, x, y, seed=3)
    exact = net.exact_gradients(scalar=True)  # the scalar graph's exact backward pass
    assert symprop.gradcheck(net).passed  # against finite differences of the numpy reference
    loss, compiled = symprop.compile(mlp).loss_and_grads(net.params, x, y)
    assert loss == pytest.approx(net.loss(), rel=1e-12)
    for name, grad in exact.items():
        assert np.allclose(compiled[name], grad, rtol=1e-10, atol=1e-14), name
    view = matrix_view(net)
    assert np.allclose(view.gradients()["W1"], exact["W1"], rtol=1e-10)
    assert sympy.simplify(swish.derivative() - sympy.diff(Z * symprop.sigmoid(Z), Z)) == 0
    # derive writes both from their entries too: the matrix view's delta1 is dL/da1 ⊙ swish'(z1), and the
    # network's derived gradients equal the scalar graph's
    assert "swish_test" not in str(view.layers[0].formulas["delta"]) and "sigmoid" in str(view.layers[0].formulas["delta"])
    assert derive_spec(net).passed


@pytest.fixture
def tempered():
    """A throwaway whole-layer activation other than softmax: exp(2 z_k) / Σ_j exp(2 z_j)."""

    def formula(zs, slope):
        total = sympy.Add(*(sympy.exp(2 * z) for z in zs))
        return [sympy.exp(2 * z) / total for z in zs]

    def jacobian(n):
        zs = sympy.symbols(f"z0:{n}", real=True)
        outputs = formula(zs, None)
        return zs, sympy.Matrix(n, n, lambda i, j: sympy.diff(outputs[i], zs[j]))

    def numpy_(z, slope):
        e = np.exp(2 * (z - z.max(axis=1, keepdims=True)))
        return e / e.sum(axis=1, keepdims=True)

    entry = symprop.nn.register_activation(Activation(
        "tempered_test", formula, numpy_, "e^(2z_k) / Σ_j e^(2z_j)", "torch.softmax(2*z, dim=1)",
        elementwise=False, last_layer_only=True, jacobian=jacobian,
    ))
    yield entry
    del ACTIVATIONS["tempered_test"]


def test_a_whole_layer_activation_other_than_softmax_is_refused_by_the_matrix_calculus(tempered, tmp_path, capsys):
    """derive has softmax's Jacobian only: another vector activation is named and refused, never a wrong answer."""
    from symprop.cli import main

    net = Network(MLP([2, 3], "tempered_test"), None, RNG.uniform(-1, 1, (2, 2)), RNG.uniform(0, 1, (2, 3)), seed=3)
    assert symprop.gradcheck(net).passed  # the scalar graph takes it from its entry
    message = "the activation 'tempered_test' (layer 1) acts on the whole layer, not entry by entry"
    with pytest.raises(SpecError, match=re.escape(message)):
        matrix_view(net)
    with pytest.raises(SpecError, match=re.escape(message)):
        derive_spec(net)
    spec = tmp_path / "tempered.toml"
    spec.write_text('[network]\nlayers = [2, 3]\nactivation = "tempered_test"\n[data]\nx = [[0.5, 1.0]]\n'
                    "y = [[0.2, 0.3, 0.5]]\n")
    for command in (["explain", "--view", "matrix"], ["derive"]):
        assert main([*command, "--spec", str(spec)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("symprop: error: " + message) and err.count("\n") == 1
        assert "softmax's Jacobian only" in err
    assert main(["explain", "--spec", str(spec), "--format", "text"]) == 0  # the scalar walkthrough shows it
    assert "dL/dW1[0,0]" in capsys.readouterr().out


def test_the_readme_lists_every_activation_and_loss_as_the_code_defines_them():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name, activation in ACTIVATIONS.items():
        assert f"| `{name}` | {activation.math} | {activation.pytorch} |" in readme, name
    for name, loss in LOSSES.items():
        assert f"| `{name}` | {loss.math} | {loss.pytorch} |" in readme, name
    from symprop.nn import LAYERS

    for name, layer in LAYERS.items():
        assert f"| `{name}` | {layer.math} | {layer.pytorch} |" in readme, name
    for path in ("symprop/nn/activations.py", "symprop/nn/losses.py", "symprop/optim.py",
                 "symprop/render/formats.py", "symprop/commands/", "docs/design.md"):
        assert f"`{path}`" in readme and (Path(__file__).resolve().parent.parent / path).exists(), path
