"""The web pages and the matrix view's formats, read as files (the browser tests load them in Chromium).

A page loads nothing from anywhere, names its title, writes its math as
MathML, and ties each backward row to the graph: the node, input and edge a
row names are in the drawing, by Graphviz or by the layout of our own. The
matrix view is real math in Markdown and LaTeX, rows in JSON, colour in rich.
"""

import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sympy

from symprop import Graph, backward
from symprop.cli import main
from symprop.commands.demo import DEMO_POINT, demo_graph
from symprop.matrix import matrix_view
from symprop.render import graph_svg as graph_module
from symprop.render.formats import RenderOptions, renderer
from symprop.render.graph_svg import graph_svg, node_keys
from symprop.render.html import render_html
from symprop.render.mathml import inline_math, math, mathml_expr, mathml_label, mathml_value
from symprop.render.mathtext import formula_latex, formula_mathml
from symprop.render.matrix import matrix_dict, render_matrix_text
from symprop.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


def demo_pass():
    return backward(demo_graph(), DEMO_POINT)


class _Page(HTMLParser):
    """Every tag with its attributes, and the text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_text(self, data):  # pragma: no cover - HTMLParser calls handle_data
        self.text.append(data)

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def assert_self_contained(text: str) -> _Page:
    """No resource from anywhere: no src, no link but the empty icon, no url() but data:."""
    page = _Page(text)
    assert text.startswith("<!DOCTYPE html>") and page.all("title") and page.all("math")
    assert not [attrs for _, attrs in page.tags if "src" in attrs]
    assert [a["href"] for a in page.all("link")] == ["data:,"]
    assert not page.all("img") and not page.all("iframe") and not page.all("pre")
    style = "".join(re.findall(r"<style>(.*?)</style>", text, re.S))
    assert "@import" not in style and not re.search(r"url\((?!data:)", style)
    hrefs = [a.get("href") or a.get("xlink:href") for _, a in page.tags if "href" in a or "xlink:href" in a]
    assert all(h.startswith(("data:", "#")) for h in hrefs), hrefs
    return page


@pytest.mark.parametrize("graphviz", [None, False])
def test_the_walkthrough_page_ties_each_step_to_the_graph(graphviz):
    text = render_html(demo_pass(), lr=sympy.Rational(1, 10), graphviz=graphviz)
    page = assert_self_contained(text)
    assert page.all("title") and "<title>Backpropagation through J = (w*x + b - y)**2/2</title>" in text
    keys = {a["data-key"] for _, a in page.tags if "data-key" in a}
    edges = {a["data-edge"] for _, a in page.tags if "data-edge" in a}
    assert len(keys) == 8 and len(edges) >= 7  # 4 leaves and 4 nodes; an edge per input
    steps = [a for a in page.all("tr") if "data-step" in a]
    assert len(steps) == 6  # dJ/dJ, then five chain-rule steps
    for step in steps[1:]:
        assert step["data-node"] in keys and step["data-input"] in keys
        assert step["data-edges"] == f"{step['data-input']}>{step['data-node']}" and step["data-edges"] in edges
    # the text of the page: the values and the update, no command-line advice, no 80-column printout
    words = " ".join(page.text)
    assert "--expanded" not in words and "-13/5" not in words  # numbers are MathML: w ← −13/5, a fraction
    assert "<mrow><mo>−</mo><mfrac><mn>13</mn><mn>5</mn></mfrac></mrow>" in text
    svg = text[text.index("<svg"):text.index("</svg>") + 6]
    ET.fromstring(svg)  # the inline drawing is well-formed XML


def test_graphviz_draws_when_installed_and_our_layout_stands_in_when_it_cannot(monkeypatch):
    bp = demo_pass()
    own, who = graph_svg(bp, graphviz=False)
    assert who == "symprop" and own.count("data-key=") == 8
    if shutil.which("dot"):
        drawn, who = graph_svg(bp)
        assert who == "Graphviz" and drawn.count("data-key=") == 8 and "<title>" in drawn
    # a DOT text whose labels cannot be placed, or no dot at all: our own layout, not a half-tagged drawing
    monkeypatch.setattr(graph_module, "render_dot", lambda bp, **_: "digraph { a [label=\"{ ? }\"]; }\n")
    assert graph_svg(bp)[1] == "symprop"
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    assert graph_svg(bp)[1] == "symprop"


def test_F2_a_graph_too_large_to_draw_is_said_so(monkeypatch):
    monkeypatch.setattr(graph_module, "MAX_DRAWN", 5)
    text = render_html(demo_pass())
    assert "<svg" not in text and "the graph has 8 leaves and nodes, too many to draw legibly on a page" in text
    assert len(node_keys(demo_pass())) == 8


def test_labels_that_are_not_names_stay_text_in_the_page():
    w, x, a = sympy.symbols("w x a")
    labels = {w: "[bold]w", x: "Matrix([[x]])", a: "a|b{c}<d>`e`_%&#$"}
    bp = backward(Graph.from_exprs([(a, w * x), ("L", a**2 / 2)], params=[w], labels=labels), {"w": 3, "x": 2})
    text = render_html(bp, graphviz=False)
    assert_self_contained(text)
    assert "<mtext>a|b{c}&lt;d&gt;`e`_%&amp;#$</mtext>" in text and "<mtext>[bold]w</mtext>" in text


def test_math_as_mathml():
    assert mathml_label("W1[0,1]") == ("<msubsup><mi>W</mi><mrow><mn>0</mn><mo>,</mo><mn>1</mn></mrow><mn>(1)</mn>"
                                       "</msubsup>")
    assert mathml_label("sum1") == "<msub><mi>sum</mi><mrow><mn>1</mn></mrow></msub>"  # upright: several letters
    assert mathml_label("dL/dw", "L") == "<mfrac><mrow><mi>∂</mi><mi>L</mi></mrow><mrow><mi>∂</mi><mi>w</mi></mrow></mfrac>"
    assert mathml_value(sympy.Float(1.5e-5)) == ("<mrow><mn>1.5</mn><mo>×</mo><msup><mn>10</mn><mrow><mo>−</mo>"
                                                 "<mn>5</mn></mrow></msup></mrow>")


def test_fences_stretch_only_around_what_is_taller_than_a_line():
    x, y = sympy.symbols("x y")
    flat = math(mathml_expr(x * (y - 1)))
    assert '<mo stretchy="false">(</mo><mrow><mi>y</mi>' in flat and "<mo>(</mo>" not in flat  # x·(y − 1)
    tall = math(mathml_expr((x / y + 1) ** 2))
    assert "<mo>(</mo>" in tall and "stretchy" not in tall  # (x/y + 1)²: grows with the fraction
    cut = inline_math(mathml_expr(sympy.sympify("(a + b + c + d + e + f + g + h + i + j + k + l + m + n + o)*p")), wrap=10)
    assert cut.count("<math>") > 2 and cut.count('<mo stretchy="false">(</mo>') == 1  # a pair parted by a cut


@pytest.mark.parametrize("text, latex", [
    ("delta2·a1^T", r"\delta_{2} \cdot {a_{1}}^{\top}"),
    ("(da2/dz2)^T·dL/da2", r"\left(\frac{\partial a_{2}}{\partial z_{2}}\right)^{\top} \cdot \frac{\partial L}{\partial a_{2}}"),
    ("tanh'(bn1) ⊙ dL/da1", r"\tanh' \left(\mathrm{bn}_{1}\right) \odot \frac{\partial L}{\partial a_{1}}"),
    ("sum of delta2", r"\text{sum of } \delta_{2}"),
    ("1/sqrt(var1 + eps)", r"1 / \sqrt{\mathrm{var}_{1} + \epsilon}"),
    ("z_l = W_l·a_(l-1) + b_l", r"z_{l} = W_{l} \cdot a_{l - 1} + b_{l}"),
    ("a) b (c", r"a \text{) } b \left(c\right."),  # unbalanced: still valid LaTeX
])
def test_the_matrix_views_formulas_are_set_as_math(text, latex):
    assert formula_latex(text) == latex
    ET.fromstring(f"<math>{formula_mathml(text)}</math>")  # well-formed MathML too


def _view(name: str = "mazur_2_2_2", sample=None):
    return matrix_view(load_spec(str(ROOT / "examples" / f"{name}.toml")).network, sample)


def test_the_matrix_view_in_markdown_is_math_not_a_text_block():
    text = renderer("markdown", "matrix")(_view(), RenderOptions())
    assert "```" not in text and text.count("$$") % 2 == 0
    assert "\\begin{bmatrix} 0.15 & 0.2 \\\\ 0.25 & 0.3 \\end{bmatrix}" in text  # W1 of Mazur's post
    assert "### Backward pass, right to left" in text and "**Layer 2**" in text


def test_the_matrix_view_in_latex_shows_shapes_and_compiles_as_a_document():
    text = renderer("latex", "matrix")(_view(), RenderOptions())
    assert r"\underset{2 \times 2}{\begin{bmatrix} 0.082167 & 0.0826676 \\ -0.0226025 & -0.0227402 \end{bmatrix}}" in text
    whole = renderer("latex", "matrix")(_view(), RenderOptions(standalone="beamer"))
    assert whole.startswith("\\documentclass{beamer}") and whole.endswith("\\end{document}\n")


def test_the_matrix_view_in_json_keeps_its_keys_and_adds_the_rows():
    view = _view("xor", sample=1)
    data = json.loads(renderer("json", "matrix")(view, RenderOptions()))
    assert {k: data[k] for k in matrix_dict(view)} == json.loads(json.dumps(matrix_dict(view)))
    rows = [r for r in data["backward"] if r.get("name") == "dL/dW2"]
    assert rows and rows[0]["formulas"] == ["delta2·a1^T"] and rows[0]["shape"] == [1, 3]
    assert rows[0]["value"] == data["layers"][1]["dL_dW"]


def test_the_matrix_view_in_rich_is_the_text_in_colour():
    view = _view()
    plain = render_matrix_text(view)
    coloured = renderer("rich", "matrix")(view, RenderOptions(color=True))
    assert "\x1b[" in coloured and re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert renderer("rich", "matrix")(view, RenderOptions(color=False)) == plain


@pytest.mark.parametrize("fmt", ["html", "latex", "markdown", "json", "rich", "text"])
def test_the_matrix_view_in_every_format_from_the_command_line(fmt, capsys):
    spec = str(ROOT / "examples" / "backprop_ninja.toml")  # batchnorm, tanh, softmax: every kind of row
    assert main(["explain", "--spec", spec, "--view", "matrix", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "html":
        assert_self_contained(out)
        assert out.count("data-step") >= 10
    assert re.search(r"xhat1|\\hat\{x\}_\{1\}|<mover accent=\"true\"><mi>x</mi><mo>\^</mo></mover>", out)


def test_the_check_report_page(capsys, tmp_path):
    out = tmp_path / "report.html"
    against = f"{ROOT / 'examples' / 'buggy_backprop.py'}:grads_missing_derivative"
    assert main(["check", "--spec", str(ROOT / "examples" / "xor.toml"), "--against", against, "--format", "html",
                 "--output", str(out)]) == 1
    text = out.read_text(encoding="utf-8")
    page = assert_self_contained(text)
    assert "<title>Gradient check of L: exact vs" in text and "WRONG" in " ".join(page.text)
    assert text.count("<li><math>") >= 5  # the derivation of the worst entry, step by step, as math
