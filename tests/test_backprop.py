"""The backward pass, held against published numbers, sympy.diff and finite differences."""

import math

import pytest
import sympy
from helpers import central_difference, is_zero, whole_loss_diff

import symprop
from symprop import Graph, backward

R = sympy.Rational


def test_course_lab_graph_gives_its_published_gradients():
    # The computation-graph lab of a well-known ML course: J = 4.5, dJ/dw = 6, dJ/db = 3,
    # and every intermediate dJ/dd = dJ/da = dJ/dc = 3.
    g = Graph.from_formulas(["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"], params=["w", "b"])
    bp = backward(g, {"w": -2, "x": 2, "b": 8, "y": 1})
    assert bp.loss == R(9, 2)
    assert {n: a.value for n, a in bp.gradients.items()} == {"w": 6, "b": 3}
    assert [bp.adjoints[g.symbol(n)].value for n in "dac"] == [3, 3, 3]
    assert str(bp.gradients["w"].compact) == "d*x"
    assert str(bp.gradients["w"].expanded) == "x*(b + w*x - y)"


def test_steps_are_recorded_right_to_left_with_upstream_reused():
    g = Graph.from_formulas(["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"], params=["w", "b"])
    bp = backward(g, {"w": -2, "x": 2, "b": 8, "y": 1})
    assert [(s.node.name, s.input.name) for s in bp.steps] == [
        ("J", "d"), ("d", "a"), ("a", "c"), ("a", "b"), ("c", "w"),
    ]
    # each step's upstream is the product that arrived at its node: never re-derived
    for step in bp.steps[1:]:
        assert step.upstream.value == bp.adjoints[step.node].value
    last = bp.steps[-1]
    assert (last.local.expr, last.local.value, last.upstream.value, last.product.value) == (
        g.symbol("x"), 2, 3, 6,
    )


def test_cs231n_add_multiply_circuit():
    # CS231n "Backprop, intuitions": f = (x + y) z at x=-2, y=5, z=-4: f=-12, df/dx=df/dy=-4, df/dz=3.
    bp = backward(Graph.from_formulas(["q = x + y", "f = q*z"]), {"x": -2, "y": 5, "z": -4})
    assert bp.loss == -12
    assert {n: a.value for n, a in bp.gradients.items()} == {"x": -4, "y": -4, "z": 3}


def test_cs231n_sigmoid_neuron():
    # CS231n: f = sigmoid(w0*x0 + w1*x1 + w2) at w=[2,-3,-3], x=[-1,-2]: f = 0.73,
    # dw = [-0.2, -0.39, 0.2], dx = [0.39, -0.59] (the notes round to two digits).
    g = Graph.from_formulas(["z = w0*x0 + w1*x1 + w2", "f = sigmoid(z)"])
    bp = backward(g, {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3})
    grads = {n: float(a.value) for n, a in bp.gradients.items()}
    assert round(float(bp.loss), 2) == 0.73
    assert [round(grads[n], 2) for n in ("w0", "w1", "w2", "x0", "x1")] == [-0.2, -0.39, 0.2, 0.39, -0.59]
    # exact: the local derivative of a sigmoid node is written through the node itself
    assert str(bp.steps[0].local.expr) == "f*(1 - f)"
    assert bp.gradients["w2"].value.equals(sympy.exp(-1) / (1 + sympy.exp(-1)) ** 2)


def test_fan_out_sums_the_branches():
    # Olah, "Calculus on Computational Graphs": e = (a+b)(b+1) at a=2, b=1: de/da = 2, de/db = 5.
    bp = backward(Graph.from_formulas(["c = a + b", "d = b + 1", "e = c*d"]), {"a": 2, "b": 1})
    b = bp.gradients["b"]
    assert bp.gradients["a"].value == 2 and b.value == 5
    assert b.is_fan_in and [s.product.value for s in b.steps] == [2, 3]  # right to left: c, then d
    assert str(b.compact) == "c + d"
    events = list(bp.timeline())
    assert isinstance(events[-1], symprop.FanIn) and events[-1].adjoint is b


MICROGRAD_NODES = [
    "c1 = a + b",
    "d1 = a*b + b**3",
    "c2 = c1 + c1 + 1",
    "c3 = c2 + 1 + c2 - a",
    "d2 = d1 + d1*2 + relu(b + a)",
    "d3 = d2 + 3*d2 + relu(b - a)",
    "e = c3 - d3",
    "f = e**2",
    "g1 = f/2",
    "g = g1 + 10/f",
]


def test_micrograd_readme_example():
    # micrograd's README: g.data = 24.7041, a.grad = 138.8338, b.grad = 645.5773.
    bp = backward(Graph.from_formulas(MICROGRAD_NODES), {"a": -4.0, "b": 2.0})
    assert f"{float(bp.loss):.4f}" == "24.7041"
    assert f"{float(bp.gradients['a'].value):.4f}" == "138.8338"
    assert f"{float(bp.gradients['b'].value):.4f}" == "645.5773"


def test_micrograd_example_is_exact_with_exact_inputs():
    bp = backward(Graph.from_formulas(MICROGRAD_NODES), {"a": -4, "b": 2})
    assert bp.loss.is_Rational and bp.gradients["a"].value.is_Rational
    assert float(bp.gradients["a"].value) == pytest.approx(138.8338, abs=5e-5)


FORMULAS = [
    ("(w*x + b - y)**2/2", {"w": 0.7, "x": 1.3, "b": -0.2, "y": 0.5}),
    ("sigmoid(w*x + b)", {"w": 0.3, "x": -1.1, "b": 0.4}),
    ("-y*log(sigmoid(w*x)) - (1 - y)*log(1 - sigmoid(w*x))", {"w": 0.8, "x": 0.6, "y": 1.0}),
    ("tanh(w*tanh(v*x))**2", {"w": 0.9, "v": -0.4, "x": 1.2}),
    ("exp(w*x)/(exp(w*x) + exp(v*x))", {"w": 0.2, "v": 0.5, "x": 1.5}),
    ("sqrt(w**2 + x**2) * sin(w) * cos(x*w)", {"w": 0.6, "x": 1.1}),
    ("relu(w*x - 1) + abs(w - x)", {"w": 1.7, "x": 1.4}),
    ("w*w*w + w/x - log(x)", {"w": -1.3, "x": 2.2}),
    ("sigmoid(sigmoid(sigmoid(w)*v)*u)", {"w": 0.1, "v": 2.0, "u": -3.0}),
]


@pytest.mark.parametrize("formula, at", FORMULAS, ids=[f for f, _ in FORMULAS])
def test_expanded_gradient_equals_sympy_diff_and_finite_differences(formula, at):
    graph = Graph.trace(symprop.parse_formula(formula))
    bp = backward(graph, at)
    for name, adjoint in bp.gradients.items():
        assert is_zero(adjoint.expanded - whole_loss_diff(graph, name)), name
        numeric = central_difference(graph, at, name)
        assert math.isclose(float(adjoint.value), numeric, rel_tol=1e-6, abs_tol=1e-8), name


def test_exact_inputs_give_exact_values_and_floats_give_floats():
    graph = Graph.trace(symprop.parse_formula("sigmoid(w*x)"))
    exact = backward(graph, {"w": "1/2", "x": 2})
    assert exact.gradients["w"].value.equals(2 * sympy.exp(-1) / (1 + sympy.exp(-1)) ** 2)
    floats = backward(graph, {"w": 0.5, "x": 2})
    assert floats.gradients["w"].value.is_Float
    assert float(floats.gradients["w"].value) == pytest.approx(float(exact.gradients["w"].value), rel=1e-14)
    decimal = backward(graph, {"w": "0.5", "x": 2}, exact=True)
    assert decimal.gradients["w"].value == exact.gradients["w"].value


def test_graph_from_sympy_expressions():
    w, x, y = sympy.symbols("w x y", real=True)
    z = sympy.Symbol("z", real=True)
    g = Graph.from_exprs([(z, w * x), ("L", (z - y) ** 2)], params=[w])
    bp = backward(g, {"w": 3, "x": 2, "y": 1})
    assert bp.gradients["w"].value == 2 * (6 - 1) * 2


def test_trace_names_one_node_per_operation():
    # a SymPy expression is traced as SymPy's tree reads: a term with a minus sign is a subtraction
    w, x, b, y = sympy.symbols("w x b y")
    g = Graph.trace((w * x + b - y) ** 2 / 2, output="J")
    assert g.formulas() == ["mul1 = w*x", "add1 = b + mul1", "sub1 = add1 - y", "pow1 = sub1**2", "J = pow1/2"]
    g = Graph.trace(sympy.exp(sympy.sin(w) * sympy.sin(w)))
    assert g.formulas() == ["sin1 = sin(w)", "pow1 = sin1**2", "L = exp(pow1)"]
    # text is traced as typed: its order, and nothing folded
    g = Graph.trace("(w*x + b - y)**2/2", output="J")
    assert g.formulas() == ["mul1 = w*x", "add1 = mul1 + b", "sub1 = add1 - y", "pow1 = sub1**2", "J = pow1/2"]


def test_deep_graph_stays_linear_and_long_compact_forms_use_adjoint_symbols():
    nodes = ["a0 = w*x"] + [f"a{i} = sigmoid(a{i-1})*w + a{i-1}" for i in range(1, 60)] + ["L = a59**2"]
    graph = Graph.from_formulas(nodes, params=["w"])
    bp = backward(graph, {"w": 0.3, "x": 0.5})
    assert len(bp.steps) == 1 + 59 * 2 + 1
    assert bp.adjoint_symbols  # compact forms past the bound are named dL/da_i
    assert math.isclose(float(bp.gradients["w"].value), central_difference(graph, {"w": 0.3, "x": 0.5}, "w"), rel_tol=1e-6)
    with pytest.raises(symprop.LimitError):
        bp.gradients["w"].expanded


@pytest.mark.parametrize(
    "nodes, at, message",
    [
        (["a = log(x)", "L = a*w"], {"x": 0, "w": 1}, "node 'a' = log(x) is undefined at x=0"),
        (["a = 1/x", "L = a*w"], {"x": 0, "w": 1}, "node 'a'"),
        (["a = sqrt(x)", "L = a*w"], {"x": 0, "w": 1}, "da/dx"),
        (["a = sqrt(x)", "L = a*w"], {"x": -1, "w": 1}, "not real"),
    ],
)
def test_undefined_points_name_the_node(nodes, at, message):
    with pytest.raises(symprop.EvaluationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        backward(Graph.from_formulas(nodes), at)


@pytest.mark.parametrize(
    "at, message",
    [
        ({"w": 1}, "no value for 'x'"),
        ({"w": 1, "x": 2, "q": 3}, "'q' is not in the formula"),
        ({"w": 1, "x": "two"}, "'x': 'two' is not a number"),
        ({"w": 1, "x": float("nan")}, "not a finite real number"),
        ({"w": 1, "x": 2, "a": 3}, "'a' is a node"),
        ({"w": True, "x": 2}, "expected a number"),
    ],
)
def test_bad_points_are_refused_by_name(at, message):
    with pytest.raises(symprop.PointError, match=message):
        backward(Graph.from_formulas(["a = w*x", "L = a**2"]), at)


@pytest.mark.parametrize(
    "nodes, params, message",
    [
        (["a = w*x", "a = a + 1"], None, "defined twice"),
        (["a = b*x", "b = w", "L = a"], None, "before it is defined"),
        (["a = w*x", "L = w"], None, "'a' is not used by the output"),
        (["a = w*x"], ["q"], "'q' is not in the formula"),
        (["a = w*x", "L = a"], ["a"], "'a' is a node"),
    ],
)
def test_malformed_graphs_are_refused(nodes, params, message):
    with pytest.raises(symprop.GraphError, match=message):
        Graph.from_formulas(nodes, params)


def test_relu_derivative_at_zero_is_zero_as_pytorch():
    bp = backward(Graph.from_formulas(["L = relu(w*x)"]), {"w": 0, "x": 3})
    assert bp.gradients["w"].value == 0
    bp = backward(Graph.from_formulas(["L = relu(w*x)"]), {"w": "1/10", "x": 3})
    assert bp.gradients["w"].value == 3


def test_a_name_a_named_node_cancels_has_local_derivative_zero():
    """``L = c*x/x`` is ``c`` as SymPy evaluates it: x's local derivative is 0, not an internal error."""
    bp = backward(Graph.from_formulas("c = a*b; L = c*x/x"), {"a": 1, "b": 2, "x": 2})
    assert bp.gradients["x"].value == 0
    assert (bp.gradients["a"].value, bp.gradients["b"].value) == (2, 1)
