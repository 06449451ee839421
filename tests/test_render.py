"""The narrator: golden walkthroughs, every format well-formed, labels printed as written.

Golden files live in tests/golden/; after a deliberate change of layout, rewrite
them with ``SYMPROP_UPDATE_GOLDEN=1 python -m pytest tests/test_render.py`` and
read the diff.
"""

import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sympy
from rich.console import Console

from symprop import Graph, backward
from symprop.cli import main
from symprop.commands.demo import DEMO_POINT, demo_graph
from symprop.render.dot import escape_record, render_dot
from symprop.render.html import render_html
from symprop.render.latex import latex_label, render_latex
from symprop.render.markdown import code, render_markdown
from symprop.render.rich import render_rich, walkthrough
from symprop.render.svg import render_svg
from symprop.render.text import render_text

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = Path(__file__).resolve().parent.parent

# Matt Mazur's "A Step by Step Backpropagation Example" (2015), as a formula graph
# in the post's own names. Published: E = 0.298371109, dE/dw5 = 0.082167041, and
# after one step of eta = 0.5, w5 = 0.35891648, w1 = 0.149780716.
MAZUR_NODES = [
    "net_h1 = w1*i1 + w2*i2 + b1", "out_h1 = sigmoid(net_h1)",
    "net_h2 = w3*i1 + w4*i2 + b1", "out_h2 = sigmoid(net_h2)",
    "net_o1 = w5*out_h1 + w6*out_h2 + b2", "out_o1 = sigmoid(net_o1)",
    "net_o2 = w7*out_h1 + w8*out_h2 + b2", "out_o2 = sigmoid(net_o2)",
    "E = (t1 - out_o1)**2/2 + (t2 - out_o2)**2/2",
]
MAZUR_POINT = {"i1": 0.05, "i2": 0.10, "w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "b1": 0.35,
               "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55, "b2": 0.60, "t1": 0.01, "t2": 0.99}


def demo_pass():
    return backward(demo_graph(), DEMO_POINT)


def fan_out_pass():
    return backward(Graph.from_formulas(["c = a + b", "d = b + 1", "e = c*d"]), {"a": 2, "b": 1})


def mazur_pass():
    graph = Graph.from_formulas(MAZUR_NODES, params=[f"w{i}" for i in range(1, 9)])
    return backward(graph, MAZUR_POINT)


def network_231_pass():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from render import network_pass
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return network_pass((2, 3, 1))


def tricky_pass():
    """Labels and formulas that rich markup, Markdown, LaTeX and DOT would each misread."""
    w, x, a = sympy.symbols("w x a")
    labels = {w: "[bold]w", x: "Matrix([[x]])", a: "a|b{c}<d>`e`_%&#$"}
    graph = Graph.from_exprs([(a, w * x), ("L", a**2 / 2)], params=[w], labels=labels)
    return backward(graph, {"w": 3, "x": 2})


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SYMPROP_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with SYMPROP_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def plain_rich(bp, width=80, **options) -> str:
    """The rich walkthrough printed the way rich's own tests print: fixed width, no colour."""
    buffer = io.StringIO()
    Console(width=width, color_system=None, file=buffer, highlight=False).print(walkthrough(bp, **options))
    return buffer.getvalue()


# -- golden text ------------------------------------------------------------


def test_golden_demo_text():
    check_golden("demo.txt", render_text(demo_pass(), lr=sympy.Rational(1, 10)))


def test_golden_fan_out_text():
    check_golden("fan_out.txt", render_text(fan_out_pass()))


def test_golden_mazur_formula_graph_text():
    bp = mazur_pass()
    text = render_text(bp, lr=0.5)
    check_golden("mazur_2_2_2_formulas.txt", text)
    # the post's published numbers, independently of the golden file
    assert "loss E = 0.298371" in text
    assert "dE/dw5 = 0.082167\n" in text
    assert re.search(r"w5 <- .* = 0\.358916\n", text) and re.search(r"w1 <- .* = 0\.149781\n", text)


@pytest.mark.skipif(not (ROOT / "examples" / "mazur_2_2_2.toml").exists(), reason="network example not present")
def test_golden_mazur_network_text(capsys):
    code = main(["explain", "--spec", str(ROOT / "examples" / "mazur_2_2_2.toml"), "--format", "text", "--lr", "0.5"])
    out = capsys.readouterr().out
    if code != 0:
        pytest.skip("network specs are not wired into explain yet")
    if not (GOLDEN / "mazur_2_2_2_network.txt").exists() and not os.environ.get("SYMPROP_UPDATE_GOLDEN"):
        pytest.skip("no golden file for the network walkthrough yet")
    check_golden("mazur_2_2_2_network.txt", out)
    assert "0.298371" in out and "0.082167" in out


def test_golden_demo_rich_at_80_columns():
    check_golden("demo_rich.txt", plain_rich(demo_pass(), lr=sympy.Rational(1, 10)))


# -- 80 columns, abbreviation, --expanded ----------------------------------------


def test_network_walkthrough_fits_80_columns():
    bp = network_231_pass()
    text = render_text(bp)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert max(len(line) for line in plain_rich(bp).splitlines()) <= 80
    # long upstream factors are written by name, and long expanded forms left out with a note
    assert "dL/dW1[0,0] = dL/dz1[0] · ∂z1[0]/∂W1[0,0] = dL/dz1[0] · x[0]" in text
    assert "expanded:" not in text and "--expanded shows them" in text
    full = render_text(bp, expanded=True)
    assert full.count("expanded:") == len(bp.gradients)


STEP = re.compile(r"^  (d\w+/d\S+)(?: \(via [^)]*\))? = (d\w+/d\S+) · ∂(\S+)/∂\S+ = (.+?) · ")


def upstream_forms(text: str) -> dict[str, set[str]]:
    """Each node's upstream factor, as the text's steps out of that node write it."""
    forms: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = STEP.match(line)
        if match:
            forms.setdefault(match.group(3), set()).add(match.group(4))
    return forms


@pytest.mark.parametrize("make, node, form", [
    (lambda: backward(Graph.trace("L = 1/(1 + exp(-(w0*x0 + w1*x1 + w2)))"),
                      {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}), "mul1", "exp1/add3**2"),
    (network_231_pass, "z1[0]", "dL/dz1[0]"),
    (lambda: backward(Graph.trace("L = (a*b + c)*f"), {"a": 2, "b": -3, "c": 10, "f": -2}), "mul1", "f"),
])
def test_a_nodes_upstream_factor_reads_the_same_in_every_step_out_of_it(make, node, form):
    """Two steps out of one node write its upstream factor one way: both ``exp1/add3**2 · x0`` and
    ``exp1/add3**2 · w0``, never ``dL/dmul1 · x0`` beside ``exp1/add3**2 · w0``; the name where the
    expression is long (a network's), the expression where it fits (CS231n's sigmoid, micrograd's)."""
    for width in (80, 60, 100):
        forms = upstream_forms(render_text(make(), width=width))
        assert forms and all(len(written) == 1 for written in forms.values()), forms
    assert forms[node] == {form}


def test_the_sigmoid_neurons_steps_show_the_upstream_expression():
    bp = backward(Graph.trace("L = 1/(1 + exp(-(w0*x0 + w1*x1 + w2)))"),
                  {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3})
    text = render_text(bp)
    assert "  dL/dw0 = dL/dmul1 · ∂mul1/∂w0 = exp1/add3**2 · x0\n" in text
    assert "  dL/dx0 = dL/dmul1 · ∂mul1/∂x0 = exp1/add3**2 · w0\n" in text
    assert "  dL/dexp1 = dL/dadd3 · ∂add3/∂exp1 = (-1/add3**2) · 1\n" in text
    assert "dL/dmul1 · x0" not in text


@pytest.mark.parametrize("formula, point, title", [
    ("f = 1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3},
     "f = 1/(1 + exp(-(w0*x0 + w1*x1 + w2)))"),  # SymPy: 1/(exp(-w0*x0 - w1*x1 - w2) + 1)
    ("x/x*w", {"x": 2, "w": 3}, "L = x/x*w"),  # SymPy: L = w
    ("c = a + b; d = b + 1; e = c*d", {"a": 2, "b": 1}, "e = (a + b)*(b + 1)"),
])
def test_the_page_and_document_titles_show_the_formula_as_typed(formula, point, title):
    graph = Graph.from_formulas(formula) if ";" in formula else Graph.trace(formula)
    bp = backward(graph, point)
    assert f"<title>Backpropagation through {html.escape(title)}</title>" in render_html(bp, graphviz=False)
    assert f"{title}</h1>" not in render_html(bp, graphviz=False)  # the heading is MathML, not text


def test_the_latex_title_is_the_typed_formula():
    bp = backward(Graph.trace("f = 1/(1 + exp(-(w0*x0 + w1*x1 + w2)))"),
                  {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3})
    assert (r"\section*{Backpropagation through $f = \frac{1}{1 + e^{- (w_{0} \cdot x_{0} + w_{1} \cdot x_{1}"
            r" + w_{2})}}$}") in render_latex(bp, standalone="article")


def test_long_fan_in_sums_wrap_at_80_columns():
    nodes = ["a0 = w*x"] + [f"a{i} = sigmoid(a{i-1})*w + a{i-1}" for i in range(1, 14)] + ["L = a13**2"]
    text = render_text(backward(Graph.from_formulas(nodes, params=["w"]), {"w": 0.3, "x": 0.5}))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "  dL/dw = (via a13) + (via a12)" in text and "(via\n" not in text


def test_a_step_whose_factors_already_are_numbers_says_its_product_once():
    """``1 · 1/2 = 1/2``, not ``1 · 1/2 = 1 · 1/2 = 1/2``, in the text and in LaTeX."""
    bp = backward(Graph.trace("J = (w*x + b - y)**2/2"), {"w": -2, "x": 2, "b": 8, "y": 1})
    text = render_text(bp)
    assert "  dJ/dpow1 = dJ/dJ · ∂J/∂pow1 = 1 · 1/2 = 1/2  [constant multiple]\n" in text
    assert "  dJ/dsub1 = dJ/dpow1 · ∂pow1/∂sub1 = 1/2 · 2*sub1 = 1/2 · 6 = 3  [power]\n" in text
    assert "  dJ/dx = dJ/dmul1 · ∂mul1/∂x = sub1 · w = 3 · (-2) = -6  [product]\n" in text
    assert r"= 1 \cdot \frac{1}{2} = \frac{1}{2}\tag*{[constant multiple]}" in render_latex(bp)


def test_labels_show_in_formulas_not_internal_names():
    text = render_text(network_231_pass())
    assert "W1[0,0]*x[0]" in text and "W1_0_0" not in text


def test_digits_set_significant_digits():
    assert "0.29837\n" in render_text(mazur_pass(), digits=5)
    assert "= 0.298\n" in render_text(mazur_pass(), digits=3)


# -- markup pitfalls ---------------------------------------------------------------


def test_rich_prints_brackets_and_markup_as_written():
    out = plain_rich(tricky_pass(), width=120)
    assert "[bold]w" in out and "Matrix([[x]])" in out
    colored = render_rich(tricky_pass(), color=True, width=120)
    assert "[bold]w" in colored and "Matrix([[x]])" in colored


def test_html_and_svg_keep_brackets_and_are_well_formed():
    page = render_html(tricky_pass(), width=120)
    _check_html(page)
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "[bold]w" in text and "Matrix([[x]])" in text
    svg = render_svg(tricky_pass(), width=120)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    joined = "".join(root.itertext()).replace("\xa0", " ")
    assert "[bold]w" in joined and "Matrix([[x]])" in joined


class _Balance(HTMLParser):
    VOID = {"meta", "br", "wbr", "link", "img", "hr", "input", "col", "source"}  # HTML's void elements

    def __init__(self):
        super().__init__()
        self.stack = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()


def _check_html(page: str) -> None:
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert parser.stack == [] and page.lstrip().lower().startswith("<!doctype html>")


def test_html_and_svg_of_the_demo_are_well_formed():
    bp = demo_pass()
    _check_html(render_html(bp, lr=1))
    svg = render_svg(bp)
    assert ET.fromstring(svg).tag.endswith("svg") and "Backward pass" in svg.replace("&#160;", " ")


# -- markdown ------------------------------------------------------------------------


def _tables(markdown: str) -> list[list[str]]:
    blocks, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks


def _cells(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line.strip())) - 2


@pytest.mark.parametrize("math", [False, True])
@pytest.mark.parametrize("make", [demo_pass, fan_out_pass, tricky_pass], ids=["demo", "fan_out", "tricky"])
def test_markdown_structure(make, math):
    text = render_markdown(make(), lr=1, math=math)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Forward pass", "## Backward pass, right to left", "## Gradients", "## Update"]
    tables = _tables(text)
    assert len(tables) == 4
    for block in tables:
        widths = {_cells(line) for line in block}
        assert len(widths) == 1, block
        assert re.fullmatch(r"\|( ---:? \|)+", block[1])


def test_markdown_code_spans_survive_backticks_and_pipes():
    assert code("a`b") == "`` a`b ``"
    text = render_markdown(tricky_pass())
    assert "a\\|b{c}<d>`e`_%&#$" in text  # the pipe escaped for the table, the rest as written


def test_fan_out_sum_is_shown_in_every_format():
    bp = fan_out_pass()
    assert "de/db = (via c) + (via d) = 2 + 3 = 5" in render_text(bp)
    assert "(via c) + (via d)" in plain_rich(bp) and "2 + 3" in plain_rich(bp)
    assert "(via `c`) + (via `d`)" in render_markdown(bp)
    assert r"\text{via } d" in render_latex(bp)


# -- latex ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label, expected",
    [("W1[0,1]", "{W}^{(1)}_{0,1}"), ("x[0]", "{x}_{0}"), ("alpha", r"\alpha"), ("x1", "x_{1}"),
     ("a|b{c}", r"\text{a\textbar{}b\{c\}}"), ("[bold]w", r"\text{[bold]w}"), ("50%", r"\text{50\%}"),
     # names of several letters are upright, not a product of italic letters
     ("sum1", r"\mathrm{sum}_{1}"), ("sigmoid_1", r"\mathrm{sigmoid}_{1}"), ("net_h1", r"\mathrm{net}_{h1}"),
     ("xhat1[0]", r"{\hat{x}}^{(1)}_{0}"), ("gamma", r"\gamma"), ("z1[0](s2)", r"{z}^{(1)}_{0}\,(s_{2})")],
)
def test_latex_labels(label, expected):
    assert latex_label(label) == expected


PDFLATEX = shutil.which("pdflatex")


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed (apt-get install texlive-latex-base)")
def test_latex_fragments_compile(tmp_path):
    fragments = {
        "demo": render_latex(demo_pass(), lr=sympy.Rational(1, 10)),
        "fan": render_latex(fan_out_pass()),
        "tricky": render_latex(tricky_pass(), lr=1),
        "net": render_latex(network_231_pass(), lr=0.5, expanded=True),
    }
    body = "".join(f"\\section*{{{name}}}\n\\input{{{name}}}\n" for name in fragments)
    for name, text in fragments.items():
        (tmp_path / f"{name}.tex").write_text(text, encoding="utf-8")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\\end{document}\n"
    )
    done = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "doc.pdf").exists()


# -- the command line ----------------------------------------------------------------


@pytest.mark.parametrize("fmt, suffix", [("text", "txt"), ("markdown", "md"), ("latex", "tex"),
                                         ("html", "html"), ("svg", "svg"), ("json", "json"), ("rich", "txt")])
def test_explain_writes_every_format(tmp_path, capsys, fmt, suffix):
    out = tmp_path / f"walk.{suffix}"
    args = ["explain", "c = a + b; d = b + 1; e = c*d", "--at", "a=2,b=1", "--lr", "1/2", "--output", str(out)]
    assert main([*args, "--format", fmt]) == 0
    text = out.read_text(encoding="utf-8")
    assert "\x1b[" not in text or fmt in ("html", "svg")
    if fmt == "json":
        data = json.loads(text)
        assert data["gradients"] == {"a": 2, "b": 5}
        assert data["update"] == {"learning_rate": 0.5, "params": {"a": 1.0, "b": -1.5}}
    elif fmt == "svg":
        ET.fromstring(text)
    elif fmt == "html":
        _check_html(text)
    else:
        assert "-3/2" in text or r"- \frac{3}{2}" in text
    # without --format, the suffix picks the format
    if fmt != "rich":
        again = tmp_path / f"again.{suffix}"
        assert main(args[:-2] + ["--output", str(again)]) == 0
        if fmt not in ("html", "svg"):
            assert again.read_text(encoding="utf-8") == text


def test_graph_command_writes_escaped_dot(capsys):
    assert main(["graph", "c = a + b; d = b + 1; e = c*d", "--at", "a=2,b=1"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph symprop {") and dot.rstrip().endswith("}")
    assert "rankdir=TB" in dot  # left to right it is a strip 3.6 times as wide as tall
    assert '[label="{ b (parameter) | { value 1 | grad 5 } }"' in dot  # the heading above value | grad
    assert 'e3 [label="∂e/∂c\\n= d = 2\\nproduct"];\n  n2 -> e3 [arrowhead=none];\n  e3 -> n4;' in dot
    assert escape_record('a|b{c}<d>"e"\\') == 'a\\|b\\{c\\}\\<d\\>\\"e\\"\\\\'
    tricky = render_dot(tricky_pass())
    assert "a\\|b\\{c\\}\\<d\\>`e`_%&#$" in tricky


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_svg_through_graphviz(tmp_path):
    out = tmp_path / "g.svg"
    demo = "c = w*x; a = c + b; d = a - y; J = d**2/2"
    assert main(["graph", demo, "--wrt", "w,b", "--at", "w=-2,x=2,b=8,y=1", "--output", str(out)]) == 0
    root = ET.fromstring(out.read_text())
    assert root.tag.endswith("svg") and "grad 6" in "".join(root.itertext())
    # a tricky graph goes through dot without a syntax error
    from symprop.render.dot import to_svg

    ET.fromstring(to_svg(render_dot(tricky_pass())))


def test_graph_svg_without_graphviz_is_a_clear_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["graph", "w*x", "--at", "w=1,x=2", "--format", "svg"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symprop: error: SVG needs Graphviz's 'dot' program") and err.count("\n") == 1


def test_bad_learning_rate_is_exit_2(capsys):
    assert main(["explain", "w*x", "--at", "w=1,x=2", "--lr", "fast"]) == 2
    assert "'--lr': 'fast' is not a number" in capsys.readouterr().err


# -- notebooks -----------------------------------------------------------------------


def test_jupyter_reprs():
    bp = demo_pass()
    assert bp._repr_markdown_().startswith("#### Forward pass")
    latex = bp._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and latex.endswith("\\end{aligned}$$")
    assert r"\frac{\partial J}{\partial w} &= d x = 6" in latex
    assert bp.gradients["w"]._repr_latex_() == r"$\frac{\partial J}{\partial w} = d x = 6$"


def test_notebook_reprs_need_no_rich():
    code = (
        "import sys, symprop\n"
        "g = symprop.Graph.from_formulas(['L = w*x'])\n"
        "bp = symprop.backward(g, {'w': 1, 'x': 2})\n"
        "assert 'rich' not in sys.modules\n"
        "assert 'Backward pass' in bp._repr_markdown_() and 'aligned' in bp._repr_latex_()\n"
        "assert 'rich' not in sys.modules, 'markdown and latex need no rich'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
