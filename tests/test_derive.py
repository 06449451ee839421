"""``symprop derive``: matrix calculus step by step, every step checked entry by entry.

The references: classic identities in closed form (evaluated at random points
with numpy), the scalar backward pass of the same formula written entry by
entry, and, for networks, ``Network.exact_gradients`` (symprop's scalar graph
of the network, built independently of the matrix formulas).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import sympy
from sympy import MatrixSymbol

from symprop.cli import main
from symprop.derive import derive, derive_spec
from symprop.derive.algebra import evaluate
from symprop.derive.check import check_derivation
from symprop.errors import EvaluationError, FormulaError, GraphError, PointError, ShapeError, SpecError
from symprop.nn import MLP, Network
from symprop.derive.printing import TEXT, sympy_text, write


def text(expr, derivation) -> str:
    return write(expr, TEXT, labels=derivation.labels)


def grads_at(derivation, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each gradient's given-matrix form evaluated at ``values`` (exactly, then as floats)."""
    env = {derivation.leaves[n]: sympy.Matrix(np.asarray(v, dtype=float).tolist()) for n, v in values.items()}
    result = {}
    for name, adjoint in derivation.gradients.items():
        value = evaluate(derivation.expand(adjoint.formula), env)
        result[name] = np.array(sympy.Matrix(value).evalf().tolist(), dtype=float)
    return result


# -- classic identities ----------------------------------------------------------------

RNG = np.random.default_rng(7)


def test_least_squares_dW_is_2_Wx_minus_y_x_transposed():
    d = derive("(W*x - y).T*(W*x - y)", "W=3x2,x=2,y=3", wrt="W")
    assert str(d.expand(d.gradients["W"].formula)) == "2*(W*x - y)*x.T"
    assert d.check.passed
    for _ in range(3):
        W, x, y = RNG.normal(size=(3, 2)), RNG.normal(size=(2, 1)), RNG.normal(size=(3, 1))
        got = grads_at(d, {"W": W, "x": x, "y": y})["W"]
        np.testing.assert_allclose(got, 2 * (W @ x - y) @ x.T, rtol=1e-12)


def test_quadratic_form_dx_is_A_plus_A_transposed_x():
    d = derive("x.T*A*x", "A=3x3,x=3", wrt="x,A")
    assert str(d.gradients["x"].formula) == "A*x + A.T*x"
    assert d.gradients["x"].steps[0].rule.name == "quadratic_form"
    assert str(d.gradients["A"].formula) == "x*x.T"
    A, x = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 1))
    np.testing.assert_allclose(grads_at(d, {"A": A, "x": x})["x"], (A + A.T) @ x, rtol=1e-12)


def test_logistic_regression_gives_x_times_sigmoid_minus_y():
    d = derive("-(y*log(sigmoid(w.T*x)) + (1 - y)*log(1 - sigmoid(w.T*x)))", "w=3,x=3,y=1", wrt="w")
    assert text(d.gradients["w"].formula, d) == "x·(sigmoid1 - y)"  # the cross-entropy and sigmoid' cancel
    assert d.check.passed
    w, x, y = RNG.normal(size=(3, 1)), RNG.normal(size=(3, 1)), np.array([[1.0]])
    expected = x * (1 / (1 + np.exp(-(w.T @ x))) - y)
    np.testing.assert_allclose(grads_at(d, {"w": w, "x": x, "y": y})["w"], expected, rtol=1e-12)


def test_softmax_with_cross_entropy_gives_a_minus_y():
    d = derive("-y.T*log(softmax(z))", "z=4,y=4", wrt="z")
    step = d.gradients["z"].steps[0]
    assert step.rule.name == "softmax_cross_entropy"
    assert text(d.gradients["z"].formula, d) == "softmax1·𝟙ᵀ·y - y"  # a·Σy - y
    z, y = RNG.normal(size=(4, 1)), np.eye(4)[[2]].T  # a one-hot target: Σy = 1
    a = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(grads_at(d, {"z": z, "y": y})["z"], a - y, rtol=1e-12)
    assert d.check.passed


def test_trace_trick():
    d = derive("trace(A*X)", "A=2x3,X=3x2", wrt="X")
    assert str(d.gradients["X"].formula) == "A.T" and d.gradients["X"].steps[0].rule.name == "trace"
    d = derive("trace(X.T*A*X)", "A=3x3,X=3x2", wrt="X")
    A, X = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 2))
    np.testing.assert_allclose(grads_at(d, {"A": A, "X": X})["X"], (A + A.T) @ X, rtol=1e-12)
    assert d.check.passed


@pytest.mark.parametrize("formula, shapes, wrt, expected", [
    ("u.T*u", "u=3", "u", "2*u"),
    ("u.T*v", "u=3,v=3", "u", "v"),
    ("sum(W*x)", "W=2x3,x=3", "W", "OneMatrix(2, 1)*x.T"),
    ("sum(hadamard(u, v))", "u=3,v=3", "u", "v"),
    ("sum(exp(u))", "u=3", "u", "u.applyfunc(exp)"),
    ("sum(log(u))", "u=3", "u", "HadamardPower(u, -1)"),
])
def test_small_identities_in_sympy_form(formula, shapes, wrt, expected):
    d = derive(formula, shapes, wrt=wrt, at=None)
    assert sympy_text(d.expand(d.gradients[wrt].formula)) == expected
    assert d.check.passed


# -- every step checked against the scalar backward pass ------------------------------

ELEMENTWISE = ["exp", "sqrt", "log", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "softplus", "leaky_relu"]


@pytest.mark.parametrize("function", ELEMENTWISE)
def test_every_elementwise_function_applied_to_a_vector(function):
    d = derive(f"sum({function}(W*x + b))", "W=3x2,x=2,b=3", wrt="W,b")
    assert d.check.passed and d.check.max_error < 1e-12
    assert any(s.rule.name == "elementwise" and function in s.rule.text for s in d.steps)


def test_fan_in_and_named_intermediates():
    d = derive("z = W*x + b; a = tanh(z); L = sum(hadamard(a, a)) + z.T*z", "W=3x2,x=2,b=3",
               at="W=[[1,2],[0,-1],[1,1]],x=[1,2],b=[0,1,-1]")
    z = d.adjoints[d.node_symbol("z")]
    assert len(z.steps) == 2 and d.check.passed  # via a and via L: their sum
    assert [n.name for n in d.nodes] == ["prod1", "z", "a", "had1", "total1", "prod2", "L"]


def test_exact_point_gives_exact_values():
    d = derive("(W*x + b - y).T*(W*x + b - y)/2", "W=3x2,x=2x1,b=3x1,y=3x1", wrt="W,b",
               at="W=[[1,2],[3,4],[5,6]],x=[1,-1],b=[0,1,2],y=[1,1,1]")
    values = d.check.values
    assert values.loss == sympy.Rational(5, 2)
    assert values.gradients[d.leaves["W"]] == sympy.Matrix([[-2, 2], [-1, 1], [0, 0]])
    assert d.check.max_error == 0.0


def test_the_check_fails_on_a_wrong_step():
    """A check that cannot fail proves nothing: break one step and it must say so."""
    d = derive("sum(sigmoid(W*x))", "W=3x2,x=2", wrt="W", at="W=[[1,2],[3,4],[5,6]],x=[1,-1]")
    wrong = next(s for s in d.steps if s.rule.name == "product_left")
    wrong.compact = wrong.compact.T.T * 2  # twice the right share
    check = check_derivation(d, d.check.values.point)
    assert not check.passed and check.max_error > 0.1


ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]
LOSSES = ["half_squared_error", "squared_error", "mse", "binary_cross_entropy"]
PAIRS = [(a, loss) for a in ACTIVATIONS for loss in LOSSES] + [("softmax", "cross_entropy"), ("softmax", "mse")]


@pytest.mark.parametrize("activation, loss", PAIRS, ids=[f"{a}-{l}" for a, l in PAIRS])
def test_every_activation_and_loss_pair_of_a_network(activation, loss):
    rng = np.random.default_rng(abs(hash((activation, loss))) % 2**32)
    hidden = "relu" if activation == "softmax" else activation
    mlp = MLP([3, 4, 3], [hidden, activation], loss, reduction="mean", bias=["neuron", "layer", "none"][len(loss) % 3])
    if loss == "cross_entropy":
        y = np.eye(3)[[0, 2]]
    else:
        y = rng.uniform(0.1, 0.9, (2, 3))
    x = rng.uniform(-1, 1, (2, 3))
    if activation == "sigmoid" or loss != "binary_cross_entropy" or activation == "softmax":
        net = Network(mlp, None, x, y, seed=3)
    else:  # BCE needs outputs in (0, 1): a sigmoid output layer
        mlp = MLP([3, 4, 3], [activation, "sigmoid"], loss, bias=mlp.bias)
        net = Network(mlp, None, x, y, seed=3)
    result = derive_spec(net, sample=1)
    assert result.passed, (result.check.max_error, result.errors)
    exact = net.exact_gradients()
    for name, grad in result.batch.items():
        np.testing.assert_allclose(grad, exact[name], rtol=1e-10, atol=1e-13, err_msg=name)
    for k, grads in enumerate(result.gradients):
        sample = net.exact_gradients(k)
        for name, grad in grads.items():
            np.testing.assert_allclose(grad, sample[name], rtol=1e-10, atol=1e-13, err_msg=f"{name} sample {k}")


def test_network_layer_formulas():
    from symprop.derive.network import derive_network

    formulas = derive_network(MLP([2, 3, 2], "sigmoid", "binary_cross_entropy", bias="layer"))
    last, first = formulas.layers[-1], formulas.layers[0]
    d = formulas.derivation
    assert str(formulas.loss_step.compact).startswith("HadamardProduct")  # -y/a + (1 - y)/(1 - a), entry by entry
    assert text(last.delta_step.formula, d) == "a2 - y"  # sigmoid' cancels the cross-entropy's denominators
    assert text(last.dW_step.compact, d) == "δ2·a1ᵀ" and last.dW_step.rule.name == "product_left"
    assert text(last.db_step.compact, d) == "𝟙ᵀ·δ2" and last.db_step.rule.name == "shared_bias"
    assert text(last.da_prev_step.compact, d) == "W2ᵀ·δ2"
    assert text(first.delta_step.compact, d) == "∂L/∂a1 ⊙ a1 ⊙ (𝟙 - a1)"
    assert text(first.da_prev_step.compact, d) == "W1ᵀ·δ1"  # dL/dx


# -- JSON: parse each expression back with MatrixSymbols and get the same values ---------


def test_json_expressions_parse_back_to_the_same_values(capsys):
    from sympy.parsing.sympy_parser import parse_expr

    from symprop.derive.algebra import Softmax
    from symprop.functions import leaky_relu, relu, sigmoid, softplus

    at = "W=[[1,2],[0,-1],[1,1]],x=[1,2],b=[0,1,-1],y=[0,1,0]"
    assert main(["derive", "-y.T*log(softmax(W*x + b)) + sum(relu(W*x))", "--shapes", "W=3x2,x=2,b=3,y=3",
                 "--wrt", "W,b", "--at", at, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"gradient", "steps", "shapes", "forward", "check"}
    assert all({"expr", "identity", "shape"} <= set(step) for step in data["steps"])
    symbols = {n: MatrixSymbol(n, *shape) for n, shape in data["shapes"].items()}
    names = {**symbols, "sigmoid": sigmoid, "relu": relu, "softplus": softplus, "leaky_relu": leaky_relu, "softmax": Softmax}
    values = {symbols["W"]: sympy.Matrix([[1, 2], [0, -1], [1, 1]]), symbols["x"]: sympy.Matrix([1, 2]),
              symbols["b"]: sympy.Matrix([0, 1, -1]), symbols["y"]: sympy.Matrix([0, 1, 0])}
    for step in data["steps"]:
        expr = parse_expr(step["expr"], local_dict=dict(names))
        assert list(expr.shape) == step["shape"]
        got = np.array(sympy.Matrix(evaluate(expr, values)).evalf().tolist(), dtype=float)
        np.testing.assert_allclose(got, np.array(step["value"]), rtol=1e-12, atol=1e-15)
    for name, text_ in data["gradient"].items():
        got = np.array(sympy.Matrix(evaluate(parse_expr(text_, local_dict=dict(names)), values)).evalf().tolist(), dtype=float)
        np.testing.assert_allclose(got, np.array(data["values"][name]), rtol=1e-12)
    assert data["check"]["passed"] and data["check"]["point"] == "given"


# -- bad input: one line, exit 2 -----------------------------------------------------------

BAD = [
    ("D1", ["W*x", "--shapes", "W=3x2,x=3x1"], "shapes do not conform in the matrix product 'W*x': W is 3x2 and x is 3x1"),
    ("D1", ["sum(W*x + y)", "--shapes", "W=3x2,x=2,y=2"], "shapes differ in the sum 'W*x + y': W*x is 3x1 and y is 2x1"),
    ("D1", ["sum(hadamard(x, y))", "--shapes", "x=3,y=2"], "shapes differ in 'hadamard(x, y)': x is 3x1 and y is 2x1"),
    ("D2", ["sum(W*x)", "--shapes", "W=3x2"], "symbol 'x' has no shape; give it with --shapes"),
    ("D2", ["sum(x)"], "give every matrix's shape with --shapes"),
    ("D3", ["sum(W/x)", "--shapes", "W=3x2,x=2"], "division by a matrix ('W/x') is not supported"),
    ("D3", ["sum(x**2)", "--shapes", "x=3"], "'**' of a 3x1 matrix ('x**2') is not supported"),
    ("D3", ["sum(inv(W))", "--shapes", "W=3x3"], "unknown function 'inv'; allowed:"),
    ("D3", ["sum(W[0])", "--shapes", "W=3x3"], "indexing is not allowed in a matrix formula"),
    ("D3", ["x@y", "--shapes", "x=3,y=3"], "operator '@' is not used here: '*' is the matrix product"),
    ("D3", ["sum(x.__class__)", "--shapes", "x=3"], "attribute access .__class__ is not allowed"),
    ("D4", ["W*x", "--shapes", "W=3x2,x=2"], "the formula is 3x1, not a scalar: derive needs a 1x1 loss"),
    ("D5", ["sum(x)", "--shapes", "x=3", "--at", "x=[1,2]"], "--at: x is 3x1 but its value is 2x1"),
    ("D5", ["sum(x)", "--shapes", "x=3", "--at", "x=[1,2"], "'[' was never closed"),
    ("D5", ["sum(log(x))", "--shapes", "x=3", "--at", "x=[1,0,2]"], "log1 = log(x) is undefined at the point (entry [1,0])"),
    ("D5", ["sum(x)", "--shapes", "x=3", "--wrt", "q"], "--wrt: 'q' is not in the formula"),
    ("D6", ["sum(x)", "--shapes", "x=3x0"], "each dimension must be from 1 to 100"),
    ("D6", ["sum(x)", "--shapes", "x=3,z=2"], "--shapes: 'z' is not in the formula"),
    ("D6", ["trace(A*B)", "--shapes", "A=60x60,B=60x60"], "checking entry by entry would take about 266,401 scalar terms"),
]


@pytest.mark.parametrize("row, args, message", BAD, ids=[f"{r}-{a[0]}" for r, a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(capsys, row, args, message):
    assert main(["derive", *args, "--format", "text"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symprop: error: ") and err.count("\n") == 1 and message in err, err


def test_library_errors_are_specific_classes():
    with pytest.raises(ShapeError):
        derive("W*x", "W=3x2,x=3")
    with pytest.raises(ShapeError):
        derive("sum(y)", "x=3")
    with pytest.raises(FormulaError):
        derive("sum(x**2)", "x=3")
    with pytest.raises(GraphError):
        derive("sum(x)", "x=3", wrt="y")
    with pytest.raises(PointError):
        derive("sum(x)", "x=3", at={"x": [[1, 2]]})
    with pytest.raises(EvaluationError):
        derive("sum(log(x))", "x=2", at="x=[-1,1]")
    assert issubclass(ShapeError, FormulaError)


# -- any formula the parser accepts derives, and its check passes --------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SHAPES = {"x": (3, 1), "y": (3, 1), "W": (3, 3), "c": (1, 1), "V": (2, 3)}
_ATOMS = st.sampled_from(["x", "y", "W", "c", "V", "x.T", "W.T", "V.T", "2", "1"])
_UNARY = st.sampled_from(["sum({})", "trace({})", "sigmoid({})", "log({})", "exp({})", "relu({})", "tanh({})",
                          "softmax({})", "({}).T", "-{}", "sqrt({})", "abs({})", "softplus({})", "({})**2", "{}/2"])
_BINARY = st.sampled_from(["{} + {}", "{} - {}", "{}*{}", "hadamard({}, {})"])
FORMULAS = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.tuples(_UNARY, inner).map(lambda t: t[0].format(t[1])),
        st.tuples(_BINARY, inner, inner).map(lambda t: t[0].format(t[1], t[2])),
    ),
    max_leaves=8,
)


@given(FORMULAS)
@settings(max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_every_accepted_formula_derives_and_passes_its_check(formula):
    from symprop.derive.formula import parse_matrix_formula
    from symprop.errors import SympropError

    try:
        parsed = parse_matrix_formula(formula, SHAPES)
    except SympropError:
        return  # refused with a message: the bad-input tests cover those
    if parsed.root.shape != (1, 1):
        formula = f"sum({formula})"
    shapes = {k: v for k, v in SHAPES.items() if k in parsed.leaves}
    try:
        d = derive(formula, shapes)
    except (EvaluationError, PointError):
        return  # undefined at every random point tried (log of negatives): said in one line
    assert d.check.passed, (formula, d.check.max_error)


def test_a_failed_check_exits_1_and_says_so(capsys, monkeypatch):
    import symprop.derive.check as check_module

    monkeypatch.setattr(check_module, "TOLERANCE", -1.0)  # no difference is small enough now
    assert main(["derive", "u.T*u", "--shapes", "u=2", "--format", "text"]) == 1
    assert "FAILED: not every step equals" in capsys.readouterr().out


def test_spec_misuse_is_one_line(capsys, tmp_path):
    from pathlib import Path

    xor = str(Path(__file__).resolve().parent.parent / "examples" / "xor.toml")
    graph = tmp_path / "lab.toml"
    graph.write_text('[graph]\nnodes = ["J = w*x"]\n[graph.at]\nw = 1\nx = 2\n')
    cases = [
        (["--spec", str(graph)], "derive --spec needs a [network] spec"),
        (["--spec", xor, "--at", "x=[1,2]"], "--at is for a formula"),
        (["--spec", xor, "--sample", "9"], "sample 9 is out of range: the data has 4 samples"),
        (["u.T*u", "--shapes", "u=2", "--sample", "1"], "--sample is for a [network] spec"),
        (["u.T*u", "--spec", xor], "give either EXPR (with --shapes) or --spec, not both"),
    ]
    for args, message in cases:
        assert main(["derive", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_the_matrix_derivation_loads_neither_rich_nor_numpy():
    """Like the backward pass it is checked against, a formula's derivation needs SymPy alone."""
    import subprocess
    import sys

    code = (
        "import sys; from symprop.derive import derive;"
        "d = derive('sum(sigmoid(W*x))', 'W=2x2,x=2');"
        "bad = [m for m in sys.modules if m in ('rich', 'numpy') or m.startswith(('rich.', 'numpy.'))];"
        "print(bad); sys.exit(1 if bad or not d.check.passed else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# -- networks as layer lists: linear layers and activations derive; other layers are named and refused ----------

LAYER_LIST = """[network]
inputs = 2
layers = LAYERS
loss = "LOSS"
EXTRA
[data]
x = [[0.5, -1.0], [1.5, 0.25], [-0.5, 0.75]]
y = [[1, 0], [0, 1], [0, 1]]
"""


def _layer_list(tmp_path, layers, loss="cross_entropy", extra=""):
    path = tmp_path / "net.toml"
    path.write_text(LAYER_LIST.replace("LAYERS", layers).replace("LOSS", loss).replace("EXTRA", extra))
    return str(path)


def test_a_layer_list_of_linear_layers_and_activations_derives(tmp_path, capsys):
    from symprop.spec import load_spec

    layers = '["tanh", {linear = 3}, "relu", {linear = 2}, {linear = {width = 2, bias = "layer"}}, "softmax"]'
    spec = _layer_list(tmp_path, layers)
    result = derive_spec(load_spec(spec).network, sample=1)
    assert result.passed and max(result.errors.values()) < 1e-12
    by_index = {layer.index: layer for layer in result.formulas.layers}
    assert sorted(by_index) == [0, 1, 2, 3] and by_index[2].activation is None  # linear 2 has no activation
    d = result.formulas.derivation
    assert text(by_index[0].delta_step.compact, d) == "∂L/∂a0 ⊙ (𝟙 - a0^∘2)"  # tanh before the first linear: dL/dx
    assert text(by_index[3].da_prev_step.compact, d) == "W3ᵀ·δ3" and text(by_index[3].db_step.compact, d) == "𝟙ᵀ·δ3"
    assert main(["derive", "--spec", spec, "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Network [tanh, linear 3, relu, linear 2, linear 2 (bias layer), softmax]: ")
    assert "layer 2 (linear)" in out and "layer 0 (tanh)" in out and "∂L/∂x (2×1) = ∂L/∂a0 ⊙ (𝟙 - a0^∘2)" in out


@pytest.fixture
def squared_total():
    """A throwaway loss that is no sum of one term per output: (Σ_k (y_k - a_k))²."""
    from symprop.nn import LOSSES, Loss, register_loss

    register_loss(Loss("squared_total_test", lambda a, y: sympy.Add(*(yk - ak for ak, yk in zip(a, y))) ** 2,
                       lambda y, out: np.sum(y - out.a, axis=1) ** 2, "(Σ_k (y_k − ŷ_k))²", "none"))
    yield
    del LOSSES["squared_total_test"]


D7 = [
    ('[{linear = 2}, "batchnorm", "softmax"]', "", "network.layers[1] (batchnorm): batchnorm has no matrix formulas "
     "to derive yet; derive writes linear layers, activations and the loss"),
    ('[{linear = 2}, {dropout = 0.5}, "softmax"]', "", "network.layers[1] (dropout): dropout has no matrix formulas"),
    ('[{linear = 2}, "tanh", {residual = [{linear = 2}, "tanh"]}, {linear = 2}, "softmax"]', "",
     "network.layers[2] (residual): residual has no matrix formulas"),
    ('["layernorm", {linear = 2}, "softmax"]', "", "network.layers[0] (layernorm): layernorm has no matrix formulas"),
    ('[{linear = 2}, "softmax"]', "weight_decay = 0.1", "network.weight_decay: derive has no matrix formula for weight decay"),
]


@pytest.mark.parametrize("layers, extra, message", D7, ids=["batchnorm", "dropout", "residual", "layernorm", "decay"])
def test_D7_what_derive_has_no_matrix_formulas_for_is_named(tmp_path, capsys, layers, extra, message):
    from symprop.spec import load_spec

    spec = _layer_list(tmp_path, layers, extra=extra)
    assert main(["derive", "--spec", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symprop: error: " + message) and err.count("\n") == 1, err
    with pytest.raises(SpecError, match=re.escape(message)):
        derive_spec(load_spec(spec).network)
    assert main(["explain", "--spec", spec, "--view", "matrix", "--format", "text"]) == 0  # in closed form there
    capsys.readouterr()


def test_D7_a_loss_that_is_not_a_sum_over_the_outputs(tmp_path, capsys, squared_total):
    spec = _layer_list(tmp_path, '[{linear = 2}, "sigmoid"]', loss="squared_total_test")
    message = "the loss 'squared_total_test' is not a sum of one term per output, so derive has no matrix formula for it"
    for command in (["derive"], ["explain", "--view", "matrix"]):
        assert main([*command, "--spec", spec]) == 2
        err = capsys.readouterr().err
        assert err == f"symprop: error: {message}\n"
    assert main(["check", "--spec", spec]) == 0  # the scalar graph differentiates it as it is
    capsys.readouterr()
