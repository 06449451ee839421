"""One spelling (the printed name is the API's and JSON's) and the natural order of the backward pass."""

import json
from pathlib import Path

import sympy

from symprop import Graph, backward
from symprop.backprop import backward_order
from symprop.cli import main
from symprop.nn import MLP, Network, network_graph
from symprop.render.latex import render_latex
from symprop.render.markdown import render_markdown
from symprop.render.text import render_gradients, render_text

ROOT = Path(__file__).resolve().parent.parent
MAZUR = str(ROOT / "examples" / "mazur_2_2_2.toml")


def mazur():
    params = {"W1": [[0.15, 0.20], [0.25, 0.30]], "b1": 0.35, "W2": [[0.40, 0.45], [0.50, 0.55]], "b2": 0.60}
    mlp = MLP([2, 2, 2], "sigmoid", "half_squared_error", reduction="sum", bias="layer")
    return Network(mlp, params, [[0.05, 0.10]], [[0.01, 0.99]]).backward()


def test_the_printed_name_is_the_key_and_the_old_key_still_works():
    bp = mazur()
    assert list(bp.gradients)[:2] == ["W1[0,0]", "W1[0,1]"]
    assert bp.gradients["W1[0,1]"] is bp.gradients["W1_0_1"]
    assert "W1[0,1]" in bp.gradients and "W1_0_1" in bp.gradients and "W9[0,0]" not in bp.gradients
    assert round(float(bp.gradients["W2[0,0]"].value), 9) == 0.082167041  # Mazur's dE/dw5
    assert bp.graph.symbol("W2[0,0]") == bp.graph.symbol("W2_0_0")


def test_compact_and_expanded_forms_use_the_printed_names_in_every_format(capsys):
    bp = mazur()
    text = render_gradients(bp, expanded=True)
    assert "a1[0]*x[0]*(1 - a1[0])" in text and "W1_0_0" not in text and "a1_0" not in text
    assert "W1_0_0" not in render_text(bp, expanded=True) and "a1_0" not in render_markdown(bp, expanded=True)
    latex = render_latex(bp, expanded=True)
    assert "{a}^{(1)}_{0}" in latex and "{W}^{(2)}_{0,0}" in latex and "W_{200}" not in latex
    assert r"{a}^{(2)}_{0}" in bp.gradients["W2[0,0]"]._repr_latex_()
    assert main(["explain", "--spec", MAZUR, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "W1[0,1]" in data["gradients"] and data["backward"][0]["node"] == "L"
    assert all("_" not in s["input"] for s in data["backward"])
    assert data["forward"][0] == {"node": "z1[0]", "expr": "W1[0,0]*x[0] + W1[0,1]*x[1] + b1", "value": 0.3775}
    assert main(["grad", "--spec", MAZUR, "--json", "--expanded"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["symbolic"]["W2"][0][0] == "a1[0]*a2[0]*(1 - a2[0])*(a2[0] - y[0])"
    assert "_" not in json.dumps(data["expanded"])


def test_grad_shows_no_node_the_user_has_not_seen(capsys):
    assert main(["grad", "(x+y)*z", "--at", "x=-2,y=5,z=-4"]) == 0
    out = capsys.readouterr().out
    assert "compact:  add1" in out and "where\n  add1 = x + y = 3\n" in out
    for formula in ["1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", "(x + sigmoid(y))/(sigmoid(x) + (x + y)**2)"]:
        graph = Graph.trace(formula)
        bp = backward(graph, {s.name: 1 for s in graph.leaves})
        text = render_gradients(bp)
        defined = {line.split(" = ")[0].strip() for line in text.split("where\n")[1].splitlines()}
        used = {s.name for a in bp.gradients.values() for s in a.compact.free_symbols if graph.is_node(s)}
        assert used <= defined, (formula, used - defined)


def test_the_backward_pass_runs_right_to_left_by_layer_and_in_index_order_within_a_layer():
    bp = mazur()
    label = bp.graph.label
    nodes = list(dict.fromkeys(label(s.node) for s in bp.steps))
    assert nodes == ["L", "a2[0]", "a2[1]", "z2[0]", "z2[1]", "a1[0]", "a1[1]", "z1[0]", "z1[1]"]
    weights = [label(s.input) for s in bp.steps if label(s.input).startswith("W")]
    assert weights == ["W2[0,0]", "W2[0,1]", "W2[1,0]", "W2[1,1]", "W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]"]


def test_natural_order_holds_for_deeper_networks_and_batches():
    graph = network_graph(MLP([3, 4, 4, 2], "tanh", "mse"))
    order = [graph.label(n.symbol) for n in backward_order(graph)]
    layers = [f"{kind}{layer}[{j}]" for layer in (3, 2, 1) for kind in ("a", "z") for j in range(4 if layer < 3 else 2)]
    assert order == ["L"] + layers
    batch = network_graph(MLP([2, 2, 1]), samples=2)
    order = backward_order(batch)
    level = {}
    for node in batch.nodes:  # every node comes after all the nodes that use it
        level[node.symbol] = order.index(node)
        for s in node.inputs:
            if batch.is_node(s):
                assert order.index(batch.node(s)) > level[node.symbol]


def test_every_gradient_of_a_network_is_still_sympy_diff_of_the_loss():
    bp = mazur()
    graph = bp.graph
    whole = graph.expanded(graph.output)
    point = {s: v for s, v in bp.values.items() if not graph.is_node(s)}
    for name, adjoint in bp.gradients.items():
        reference = sympy.diff(whole, graph.symbol(name)).xreplace(point)
        assert abs(float(reference) - float(adjoint.value)) < 1e-12, name


def test_a_formula_graph_with_labels_is_checked_under_its_printed_names():
    import symprop

    w, x, a = sympy.symbols("w x a", real=True)
    graph = Graph.from_exprs([(a, w * x), ("L", a**2 / 2)], params=[w], labels={w: "W[0]", x: "x[0]"})
    assert list(backward(graph, {"w": 3, "x": 2}).gradients) == ["W[0]"]
    report = symprop.gradcheck(graph, {"w": 3, "x": 2})
    assert report.passed and "W[0]" in str(report)
