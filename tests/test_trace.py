"""As written: one node per operation in the form and order typed, held on published examples.

CS231n's "Backprop, intuitions" notes draw the sigmoid neuron as gates with
their values and wire gradients; micrograd's lecture builds ``L = (a*b + c)*f``
node by node; a course lab writes its neuron as four named nodes. Each must
come out as they show it.
"""

import json
import math
from pathlib import Path

import pytest
import sympy
from helpers import central_difference, is_zero, whole_loss_diff

import symprop
from symprop import Graph, backward
from symprop.cli import main
from symprop.trace import op_of

NEURON = "1/(1 + exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_AT = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_cs231n_neuron_gives_the_notes_gates_in_order():
    bp = backward(Graph.trace(NEURON), NEURON_AT)
    nodes = bp.graph.nodes
    assert [str(n) for n in nodes] == [
        "mul1 = w0*x0", "mul2 = w1*x1", "add1 = mul1 + mul2", "add2 = add1 + w2",
        "neg1 = -add2", "exp1 = exp(neg1)", "add3 = 1 + exp1", "L = 1/add3",
    ]
    values = [round(float(bp.values[n.symbol]), 2) for n in nodes]
    assert values == [-2, 6, 4, 1, -1, 0.37, 1.37, 0.73]


def test_cs231n_neuron_gives_the_notes_wire_gradients():
    bp = backward(Graph.trace(NEURON), NEURON_AT)
    wires = [round(float(s.product.value), 2) for s in bp.steps]
    # right to left: 1/x, +1, exp, *-1, then the two + gates, then the two * gates
    assert wires == [-0.53, -0.53, -0.2, 0.2, 0.2, 0.2, 0.2, 0.2, -0.2, 0.39, -0.39, -0.59]
    grads = {name: round(float(a.value), 2) for name, a in bp.gradients.items()}
    assert [grads[n] for n in ("w0", "w1", "w2")] == [-0.2, -0.39, 0.2]
    assert [grads[n] for n in ("x0", "x1")] == [0.39, -0.59]
    assert [s.rule.name for s in bp.steps[:4]] == ["reciprocal", "sum", "exp", "negation"]


def test_micrograd_lecture_named_formula_is_split_into_its_operations(capsys):
    bp = backward(Graph.trace("L = (a*b + c)*f"), {"a": 2, "b": -3, "c": 10, "f": -2})
    assert bp.graph.formulas() == ["mul1 = a*b", "add1 = mul1 + c", "L = add1*f"]
    assert [bp.values[n.symbol] for n in bp.graph.nodes] == [-6, 4, -8]
    assert {n: a.value for n, a in bp.gradients.items()} == {"a": 6, "b": -4, "c": -2, "f": 4}
    out = run(capsys, "explain", "L = (a*b + c) * f", "--at", "a=2,b=-3,c=10,f=-2", "--format", "text")
    assert "  mul1 = a*b       = -6\n  add1 = mul1 + c  = 4\n  L = add1*f       = -8\n" in out


def test_x_over_x_keeps_x_and_its_branches_cancel(capsys):
    bp = backward(Graph.trace("x/x*w"), {"x": 2, "w": 3})
    x = bp.gradients["x"]
    assert [s.product.value for s in x.steps] == [sympy.Rational(3, 2), sympy.Rational(-3, 2)]
    assert [s.operand for s in x.steps] == ["u", "v"] and x.value == 0
    assert [s.rule.form for s in x.steps] == ["∂(u/v)/∂u = 1/v", "∂(u/v)/∂v = −u/v²"]
    out = run(capsys, "grad", "x/x*w", "--at", "x=2,w=3")
    assert "dL/dx = 0\n" in out and "dL/dw = 1\n" in out
    out = run(capsys, "explain", "x/x*w", "--at", "x=2,w=3", "--format", "text")
    assert "dL/dx = (via div1 as u) + (via div1 as v) = 3/2 + (-3/2) = 0" in out


def test_the_course_lab_four_named_nodes_stay_four_nodes(capsys):
    lab = "c = w*x; a = c + b; d = a - y; J = d**2/2"
    graph = Graph.from_formulas(lab)
    assert graph.formulas() == ["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"]  # a = c + b, as typed
    data = json.loads(run(capsys, "explain", lab, "--at", "w=-2,x=2,b=8,y=1", "--format", "json"))
    assert [(f["node"], f["expr"]) for f in data["forward"]] == [
        ("c", "w*x"), ("a", "c + b"), ("d", "a - y"), ("J", "d**2/2")]
    split = Graph.from_formulas(lab, split=True)
    assert split.formulas() == ["c = w*x", "a = c + b", "d = a - y", "pow1 = d**2", "J = pow1/2"]
    assert graph.split().formulas() == split.formulas()
    data = json.loads(run(capsys, "explain", lab, "--at", "w=-2,x=2,b=8,y=1", "--split", "--format", "json"))
    assert [f["node"] for f in data["forward"]] == ["c", "a", "d", "pow1", "J"]
    assert data["gradients"] == {"w": 6, "x": -6, "b": 3, "y": -3}


@pytest.mark.parametrize(
    "formula, nodes",
    [
        ("a - b", ["L = a - b"]),
        ("a/b", ["L = a/b"]),
        ("-u*w", ["neg1 = -u", "L = neg1*w"]),
        ("1/x", ["L = 1/x"]),
        ("x0*w0", ["L = x0*w0"]),  # operands in the order typed
        ("-(w0*x0)", ["mul1 = w0*x0", "L = -mul1"]),  # never -w0*x0
        ("2*x + x*2", ["mul1 = 2*x", "mul2 = x*2", "L = mul1 + mul2"]),  # constants stay where written
        ("e + c", ["L = e + c"]),
        ("x - x", ["L = x - x"]),  # nothing cancelled
        ("(a + b)*(a + b)", ["add1 = a + b", "add2 = a + b", "L = add1*add2"]),  # each operation typed
        ("w**sqrt(2)", ["L = w**(sqrt(2))"]),
        ("sigmoid(w)*leaky_relu(x, 0.1) + softplus(b)",
         ["sigmoid1 = sigmoid(w)", "leaky_relu1 = leaky_relu(x, 0.1)", "mul1 = sigmoid1*leaky_relu1",
          "softplus1 = softplus(b)", "L = mul1 + softplus1"]),
    ],
)
def test_each_operation_is_one_node_as_typed(formula, nodes):
    assert Graph.trace(formula).formulas() == nodes


@pytest.mark.parametrize(
    "formula, point, locals_",
    [
        ("a - b", {"a": 5, "b": 2}, {"a": 1, "b": -1}),
        ("a/b", {"a": 3, "b": 2}, {"a": sympy.Rational(1, 2), "b": sympy.Rational(-3, 4)}),
        ("-u", {"u": 7}, {"u": -1}),
        ("1/x", {"x": 4}, {"x": sympy.Rational(-1, 16)}),
        ("u**3", {"u": 2}, {"u": 12}),
    ],
)
def test_local_derivatives_of_single_operations(formula, point, locals_):
    bp = backward(Graph.trace(formula), point)
    assert {s.input.name: s.local.value for s in bp.steps} == locals_


FORMULAS = [
    ("1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", {"w0": 0.2, "x0": -1.0, "w1": -0.3, "x1": -2.0, "w2": -0.3}),
    ("(x + sigmoid(y))/(sigmoid(x) + (x + y)**2)", {"x": 3.0, "y": -4.0}),
    ("x/x*w - w*x*x/x + x**x", {"x": 1.3, "w": 0.7}),
    ("a - (b - c)*a/(c - -b)", {"a": 0.5, "b": 1.5, "c": -0.25}),
    ("w**sqrt(2) + w**sigmoid(5) + 2**w", {"w": 1.7}),
    ("softplus(w*x) - leaky_relu(w - x) + leaky_relu(x, 0.2)*abs(w)", {"w": -0.6, "x": 0.9}),
    ("tanh(log(w)*sin(x)/cos(w)) + sqrt(w*x)", {"w": 0.8, "x": 1.1}),
    ("2*3*x/4 - 1 + 2 - x/(1/2)", {"x": 0.3}),
]


@pytest.mark.parametrize("formula, at", FORMULAS, ids=[f for f, _ in FORMULAS])
def test_gate_locals_sum_to_sympy_diff_and_the_expanded_gradient_is_diff_of_the_loss(formula, at):
    graph = Graph.trace(formula)
    bp = backward(graph, at)
    for node in graph.nodes:
        steps = [s for s in bp.steps if s.node == node.symbol]
        for v in {s.input for s in steps}:
            total = sum((s.local.expr for s in steps if s.input == v), sympy.S.Zero)
            reference = sympy.diff(node.evaluated, v).xreplace({node.evaluated: node.symbol})
            assert is_zero(graph.expand(total) - graph.expand(reference)), (str(node), v)
    for name, adjoint in bp.gradients.items():
        assert is_zero(adjoint.expanded - whole_loss_diff(graph, name)), name
        assert math.isclose(float(adjoint.value), central_difference(graph, at, name), rel_tol=1e-6, abs_tol=1e-8)


def test_cs231n_staged_example_at_3_and_minus_4(capsys):
    # f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)**2), the notes' "staged computation"
    formula = "(x + sigmoid(y))/(sigmoid(x) + (x + y)**2)"
    graph = Graph.trace(formula)
    assert graph.formulas() == ["sigmoid1 = sigmoid(y)", "add1 = x + sigmoid1", "sigmoid2 = sigmoid(x)",
                                "add2 = x + y", "pow1 = add2**2", "add3 = sigmoid2 + pow1", "L = add1/add3"]
    bp = backward(graph, {"x": 3, "y": -4})
    x, y = sympy.symbols("x y", real=True)
    s = lambda t: 1 / (1 + sympy.exp(-t))  # noqa: E731
    f = (x + s(y)) / (s(x) + (x + y) ** 2)
    for name, symbol in (("x", x), ("y", y)):
        exact = sympy.diff(f, symbol).subs({x: 3, y: -4})
        assert abs(sympy.N(bp.gradients[name].value - exact, 50)) < 1e-45
    assert [n for n in bp.gradients] == ["x", "y"]  # in the order typed
    out = run(capsys, "explain", formula, "--at", "x=3,y=-4", "--format", "text")
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "dL/dx = (via add1) + (via sigmoid2) + (via add2)" in out


def test_a_leaf_named_L_is_a_leaf_and_the_output_is_called_loss(capsys):
    graph = Graph.trace("w*L")
    assert graph.formulas() == ["loss = w*L"]
    out = run(capsys, "grad", "(w*L + 1)**2", "--at", "w=1,L=2")
    assert "loss = 9\n" in out and "dloss/dL = 6\n" in out
    assert main(["grad", "L = w*L", "--at", "w=1,L=2"]) == 2
    assert "node 'L' uses itself" in capsys.readouterr().err


def test_sympy_expressions_are_read_as_written_operations():
    w, x = sympy.symbols("w x", real=True)
    op = op_of(-w / (1 + x) ** 2 + sympy.sqrt(x))  # SymPy prints -w/(x + 1)**2 + sqrt(x)
    assert (op.kind, op.signs, [a.kind for a in op.args]) == ("+", ("+",), ["neg", "sqrt"])
    graph = Graph.trace(-w / (1 + x) ** 2 + sympy.sqrt(x))
    assert graph.formulas() == ["add1 = x + 1", "pow1 = add1**2", "div1 = w/pow1", "neg1 = -div1",
                                "sqrt1 = sqrt(x)", "L = neg1 + sqrt1"]
    bp = backward(graph, {"w": 2, "x": 3})
    for name in ("w", "x"):
        assert is_zero(bp.gradients[name].expanded - whole_loss_diff(graph, name))


def test_named_nodes_keep_the_order_typed_and_derive_the_rules_in_the_order_applied():
    bp = backward(Graph.from_formulas(["num = x + sigy", "sigy = sigmoid(y)"][::-1]), {"x": 3, "y": -4})
    assert bp.graph.formulas() == ["sigy = sigmoid(y)", "num = x + sigy"]
    bp = backward(Graph.from_formulas(["d1 = a*b + b**3", "L = d1"]), {"a": 2, "b": 3})
    step = next(s for s in bp.steps if s.input.name == "b")
    assert step.rule.name == "sum, product, power" and step.local.value == 2 + 27


# -- the bad input rows of the README -----------------------------------------

@pytest.mark.parametrize(
    "formula, message",
    [
        ("leaky_relu(w, x)", "leaky_relu(): the argument after the first must be a number, such as 0.1"),
        ("leaky_relu(w, 0.1, 2)", "leaky_relu() takes 1 or 2 argument(s), got 3"),
        ("w**sqrt(-1)", "exponent I is not a real number"),
        ("w**exp(7)", "exponent exp(7) is too large (limit 1000)"),
        ("(w**1000)**1000/(w**1000)**1000", "the power w**1000000 has its exponent too large (limit 1000)"),
    ],
)
def test_H30_function_arguments_and_closed_form_exponents(capsys, formula, message):
    assert main(["grad", formula, "--at", "w=0.5,x=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symprop: error: ") and message in err and err.count("\n") == 1
    with pytest.raises(symprop.FormulaError):
        Graph.trace(formula)


def test_H31_split_is_for_formulas(capsys):
    xor = Path(__file__).resolve().parent.parent / "examples" / "xor.toml"
    assert main(["grad", "--spec", str(xor), "--split"]) == 2
    err = capsys.readouterr().err
    assert "--split is for formulas and [graph] specs" in err and err.count("\n") == 1


def test_expressions_built_as_written_keep_their_form_and_rules():
    # what a network table written as (y - a)**2/2 gives Graph.from_exprs(..., written=True)
    a, y = sympy.symbols("a y", real=True)
    half_square = sympy.Mul(
        sympy.Pow(sympy.Add(y, sympy.Mul(-1, a, evaluate=False), evaluate=False), 2, evaluate=False),
        sympy.Pow(2, -1, evaluate=False), evaluate=False)
    graph = Graph.from_exprs([("L", half_square)], written=True)
    assert graph.formulas() == ["L = (y - a)**2/2"]
    bp = backward(graph, {"a": 3, "y": 1})
    step = next(s for s in bp.steps if s.input == a)
    assert step.local.value == 2 and step.rule.name == "constant multiple, power, difference"
    assert step.rule.parts[-1].form == "∂(u − v)/∂v = −1"


def test_the_graph_command_draws_a_wire_per_operand(capsys):
    dot = run(capsys, "graph", "x/x*w", "--at", "x=2,w=3")
    assert '[label="∂div1/∂x\\n= 1/x = 1/2\\nquotient, as u"]' in dot
    assert '[label="∂div1/∂x\\n= -1/x = -1/2\\nquotient, as v"]' in dot


@pytest.mark.parametrize("formula", [
    "1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", "(w*x + b - y)**2/2", "x/x*w", "a - (b - c)", "a/(b*c)", "1/x/y",
    "2*x**-1", "-x**2", "(-x)**2", "a - (b + c)", "a*(b*c)", "2*3*x", "leaky_relu(x, 0.2)", "x**y**z",
    "(x**y)**z", "x**(a*b)", "-(a*b)", "sigmoid(x)*2 + 1/2", "0.05*x",
])
def test_the_typed_formula_is_put_back_together_from_its_gates(formula):
    """The graph writes its loss as typed, from the gates the tracer cut it into: the chains the
    tracer cut (``add1 = mul1 + mul2``, ``add2 = add1 + w2``) one chain again, the parentheses typed
    and no others (SymPy's printer would write ``x*w/x`` and ``1/(exp(-w0*x0 - w1*x1 - w2) + 1)``)."""
    graph = Graph.trace(formula)
    assert graph.typed_text() == formula
    assert sympy.simplify(graph.typed_formula().doit() - graph.expanded(graph.output)) == 0


def test_named_nodes_are_put_back_in_their_place():
    graph = Graph.from_formulas("c = w*x; a = c + b; d = a - y; J = d**2/2")
    assert graph.typed_text() == "(w*x + b - y)**2/2"
    assert graph.typed_text(graph.node("a").symbol) == "w*x + b"
    assert Graph.from_formulas("c = a + b; d = b + 1; e = c*d").typed_text() == "(a + b)*(b + 1)"
    assert Graph.from_exprs([("L", sympy.Symbol("w") ** 2)]).typed_text() is None  # built from SymPy: not typed
