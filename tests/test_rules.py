"""Every local derivative names its rule, in every format; ``symprop rules`` prints the table."""

import io
import json

import pytest
import sympy
from rich.console import Console

from symprop import Graph, backward
from symprop.cli import main
from symprop.commands.demo import DEMO_POINT, demo_graph
from symprop.render.dot import render_dot
from symprop.render.html import render_html
from symprop.render.json import explain_dict
from symprop.render.latex import render_latex
from symprop.render.markdown import render_markdown
from symprop.render.rich import walkthrough
from symprop.render.text import render_text
from symprop.rules import TABLE, rule


@pytest.mark.parametrize(
    "formula, point, expected",
    [
        ("u*v", {"u": 2, "v": 3}, {"u": ("product", "∂(u·v)/∂u = v"), "v": ("product", "∂(u·v)/∂v = u")}),
        ("3*u", {"u": 2}, {"u": ("constant multiple", "∂(c·u)/∂u = c")}),
        ("u/2", {"u": 2}, {"u": ("constant multiple", "∂(u/c)/∂u = 1/c")}),
        ("u/v", {"u": 2, "v": 3}, {"u": ("quotient", "∂(u/v)/∂u = 1/v"), "v": ("quotient", "∂(u/v)/∂v = −u/v²")}),
        ("1/v", {"v": 3}, {"v": ("reciprocal", "∂(1/v)/∂v = −1/v²")}),
        ("5/v", {"v": 3}, {"v": ("reciprocal", "∂(c/v)/∂v = −c/v²")}),
        ("u**3", {"u": 2}, {"u": ("power", "∂(uⁿ)/∂u = n·uⁿ⁻¹")}),
        ("2**u", {"u": 2}, {"u": ("exponential", "∂(cᵘ)/∂u = cᵘ·log c")}),
        ("u + v", {"u": 2, "v": 3}, {"u": ("sum", "∂(u + v)/∂u = 1"), "v": ("sum", "∂(u + v)/∂v = 1")}),
        ("u - v", {"u": 2, "v": 3}, {"u": ("difference", "∂(u − v)/∂u = 1"), "v": ("difference", "∂(u − v)/∂v = −1")}),
        ("-u", {"u": 2}, {"u": ("negation", "∂(−u)/∂u = −1")}),
        ("exp(u)", {"u": 2}, {"u": ("exp", "∂exp(u)/∂u = exp(u)")}),
        ("log(u)", {"u": 2}, {"u": ("log", "∂log(u)/∂u = 1/u")}),
        ("sqrt(u)", {"u": 2}, {"u": ("sqrt", "∂√u/∂u = 1/(2√u)")}),
        ("sin(u)", {"u": 2}, {"u": ("sin", "∂sin(u)/∂u = cos(u)")}),
        ("cos(u)", {"u": 2}, {"u": ("cos", "∂cos(u)/∂u = −sin(u)")}),
        ("tanh(u)", {"u": 2}, {"u": ("tanh", "∂tanh(u)/∂u = 1 − tanh²(u)")}),
        ("sigmoid(u)", {"u": 2}, {"u": ("sigmoid", "∂σ(u)/∂u = σ(u)(1 − σ(u))")}),
        ("relu(u)", {"u": 2}, {"u": ("relu", "∂relu(u)/∂u = 1 if u > 0 else 0")}),
        ("abs(u)", {"u": 2}, {"u": ("abs", "∂|u|/∂u = sign(u)")}),
        ("softplus(u)", {"u": 2}, {"u": ("softplus", "∂softplus(u)/∂u = σ(u)")}),
        ("leaky_relu(u)", {"u": 2}, {"u": ("leaky_relu", "∂leaky_relu(u)/∂u = 1 if u > 0 else s")}),
    ],
)
def test_each_operation_names_its_rule(formula, point, expected):
    bp = backward(Graph.trace(formula), point)
    assert {s.input.name: (s.rule.name, s.rule.form) for s in bp.steps} == expected


@pytest.mark.parametrize(
    "formula, at, local",
    [
        ("tanh(u)", {"u": 1}, "1 - L**2"),
        ("sigmoid(u)", {"u": 1}, "L*(1 - L)"),  # the sigmoid identity, through the node itself
        ("exp(u)", {"u": 1}, "L"),
        ("relu(u)", {"u": 0}, "Heaviside(u, 0)"),
        ("abs(u)", {"u": 0}, "sign(u)"),
        ("softplus(u)", {"u": 1}, "sigmoid(u)"),
    ],
)
def test_the_local_derivative_is_what_the_rule_says(formula, at, local):
    step = backward(Graph.trace(formula), at).steps[0]
    assert sympy.sstr(step.local.expr) == local
    if at["u"] == 0:  # relu'(0) = 0 (PyTorch's convention) and sign(0) = 0
        assert step.local.value == 0


def test_a_node_of_several_operations_gets_its_rules_in_the_order_applied():
    bp = backward(demo_graph(), DEMO_POINT)
    rules = {(s.node.name, s.input.name): s.rule for s in bp.steps}
    assert rules["J", "d"].name == "constant multiple, power"
    assert [r.name for r in rules["J", "d"].parts] == ["constant multiple", "power"]
    assert rules["J", "d"].form == "∂(u/c)/∂u = 1/c; ∂(uⁿ)/∂u = n·uⁿ⁻¹"
    assert [rules[k].name for k in [("d", "a"), ("a", "c"), ("a", "b"), ("c", "w")]] == [
        "difference", "sum", "sum", "product"]


def fan_out():
    return backward(Graph.from_formulas(["c = a + b", "d = b + 1", "e = c*d"]), {"a": 2, "b": 1})


def test_rule_names_in_every_format():
    bp = backward(demo_graph(), DEMO_POINT)
    text = render_text(bp)
    assert "dJ/dw = dJ/dc · ∂c/∂w = d · x = 3 · 2 = 6  [product]" in text
    assert "  product            ∂(u·v)/∂u = v, ∂(u·v)/∂v = u" in text  # the general forms, once
    buffer = io.StringIO()
    Console(width=80, color_system=None, file=buffer).print(walkthrough(bp))
    rich = buffer.getvalue()
    assert "rule" in rich and "constant multiple, power" in rich and "∂(u·v)/∂u = v" in rich
    markdown = render_markdown(bp)
    assert "| step | upstream | local | product | rule |" in markdown
    assert "product: ∂(u·v)/∂u = v |" in markdown
    assert r"product: $\frac{\partial (u \cdot v)}{\partial u} = v$" in render_markdown(bp, math=True)
    latex = render_latex(bp)
    assert r"& &\text{product}" in latex and r"\paragraph{Rules used.}" in latex
    assert "product" in render_html(bp)
    data = explain_dict(bp)
    assert [s["rule"]["name"] for s in data["backward"]] == [
        "constant multiple, power", "difference", "sum", "sum", "product"]
    assert data["backward"][-1]["rule"]["form"] == "∂(u·v)/∂u = v"
    assert data["backward"][0]["rule"]["parts"][1] == {
        "name": "power", "form": "∂(uⁿ)/∂u = n·uⁿ⁻¹", "latex": r"\frac{\partial u^{n}}{\partial u} = n\,u^{n-1}"}
    assert "∂e/∂c\\n= d = 2\\nproduct" in render_dot(fan_out())


def test_the_rules_command_prints_the_table(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    for entry in TABLE:
        assert f"  {entry.name} " in out
        for text, _ in entry.forms:
            assert text in out
    assert "(0 at u = 0: a convention, PyTorch's)" in out
    assert main(["rules", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["rules"]
    assert [r["name"] for r in data] == [e.name for e in TABLE]
    sigmoid = next(r for r in data if r["name"] == "sigmoid")
    assert sigmoid["forms"][0]["form"] == "∂σ(u)/∂u = σ(u)(1 − σ(u))"


def test_the_table_holds_every_function_a_formula_may_call():
    from symprop.functions import FUNCTIONS

    names = {entry.name for entry in TABLE}
    assert set(FUNCTIONS) <= names
    assert rule("product", 1).form == "∂(u·v)/∂v = u"


PDFLATEX = __import__("shutil").which("pdflatex")


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed (apt-get install texlive-latex-base)")
def test_latex_with_every_rule_compiles(tmp_path):
    import subprocess

    formulas = {
        "neuron": ("1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
        "cancel": ("x/x*w", {"x": 2, "w": 3}),
        "every": ("log(u)*sqrt(u) - sin(u)/cos(u) + tanh(u)**3 + relu(u)*abs(u) + 2**u + u**u"
                  " + leaky_relu(u, 0.2) + softplus(u) + sigmoid(u)**2 - u**sqrt(2)", {"u": "3/2"}),
    }
    body = ""
    for name, (formula, at) in formulas.items():
        text = render_latex(backward(Graph.trace(formula), at), lr=sympy.Rational(1, 10), expanded=True)
        (tmp_path / f"{name}.tex").write_text(text, encoding="utf-8")
        body += f"\\section*{{{name}}}\n\\input{{{name}}}\n"
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\\end{document}\n")
    done = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
