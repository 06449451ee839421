"""The web pages in a real browser: headless Chromium, the network off, the stepper pressed with the arrow keys.

Each page must load without a console error and without asking for
anything but itself; its math must be MathML; → must move the highlight to
the next step (its row, and the node, the input and the edge of that step
in the graph); without JavaScript everything is still shown; in print the
stepper is gone. Screenshots are kept in ``.artifacts/`` (or
``$SYMPROP_ARTIFACTS``) for a person to look at, and must not be blank.
"""

from pathlib import Path

import pytest
import sympy

from symprop import Graph, backward
from symprop.cli import main
from symprop.commands.demo import DEMO_POINT, demo_graph
from symprop.render.html import render_html

from browser import Browser, artifacts_dir, chromium, drawn_fraction

pytestmark = pytest.mark.skipif(chromium() is None, reason="chromium is not installed (apt-get install chromium)")

ROOT = Path(__file__).resolve().parent.parent
RIGHT, LEFT = ("ArrowRight", 39), ("ArrowLeft", 37)

CURRENT = """(() => {
  const rows = [...document.querySelectorAll("tr[data-step]")];
  const k = rows.findIndex(r => r.classList.contains("current"));
  const row = rows[k] || {dataset: {}};
  const marked = name => [...document.querySelectorAll("." + name)].map(e => e.dataset.key || e.dataset.edge);
  return {index: k, rows: rows.length, node: row.dataset.node || null, input: row.dataset.input || null,
          edges: (row.dataset.edges || "").split(" ").filter(Boolean), currents: document.querySelectorAll(".current").length,
          hlNode: marked("hl-node"), hlInput: marked("hl-input"), hlEdge: marked("hl-edge"),
          where: document.querySelector("#stepper .where").textContent,
          caption: document.querySelector("#stepper .caption").textContent};
})()"""


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def _fresh(browser: Browser) -> None:
    browser.events.clear()


def _loads_cleanly(browser: Browser, path: Path) -> None:
    _fresh(browser)
    browser.open(path)
    assert browser.errors() == []
    assert [url for url in browser.requests() if url != path.resolve().as_uri()] == [], "the page asked for more"


def _screenshot(browser: Browser, name: str) -> Path:
    target = artifacts_dir() / name
    browser.screenshot(target)
    drawn, colours = drawn_fraction(browser.screenshot(scale=0.25))  # the same, small enough to decode quickly
    assert drawn > 0.05 and colours > 20, f"{target} looks blank ({drawn:.1%} drawn, {colours} colours)"
    return target


@pytest.mark.parametrize("graphviz", [None, False], ids=["graphviz-if-installed", "own-layout"])
def test_the_walkthrough_page_steps_through_the_backward_pass(browser, tmp_path, graphviz):
    path = tmp_path / "walk.html"
    path.write_text(render_html(backward(demo_graph(), DEMO_POINT), lr=sympy.Rational(1, 10), graphviz=graphviz),
                    encoding="utf-8")
    _loads_cleanly(browser, path)
    assert browser.evaluate("document.title") == "Backpropagation through J = (w*x + b - y)**2/2"
    assert browser.evaluate("document.querySelectorAll('math mfrac').length") > 20  # ∂J/∂w, as fractions
    assert browser.evaluate("!document.getElementById('stepper').hidden")
    assert browser.evaluate("document.querySelectorAll('svg [data-key]').length") == 8  # 4 leaves, 4 nodes
    state = browser.evaluate(CURRENT)
    assert state["index"] == -1 and state["rows"] == 6 and state["hlNode"] == []
    browser.press(*RIGHT)
    state = browser.evaluate(CURRENT)
    assert state["index"] == 0 and state["currents"] == 1 and state["hlNode"] == [state["node"]]  # dJ/dJ at J
    browser.press(*RIGHT)
    state = browser.evaluate(CURRENT)  # dJ/dd = dJ/dJ · ∂J/∂d: node J, input d, the edge d -> J
    assert state["index"] == 1 and state["where"] == "step 2 of 6" and "[constant multiple, power]" in state["caption"]
    assert state["hlNode"] == [state["node"]] and state["hlInput"] == [state["input"]]
    assert state["edges"] == [f"{state['input']}>{state['node']}"] and sorted(set(state["hlEdge"])) == state["edges"]
    for _ in range(3):
        browser.press(*RIGHT)
    assert browser.evaluate(CURRENT)["index"] == 4
    _screenshot(browser, f"walkthrough-{'graphviz' if graphviz is None else 'own-layout'}.png")
    browser.press(*LEFT)
    state = browser.evaluate(CURRENT)
    assert state["index"] == 3 and state["currents"] == 1
    assert browser.errors() == []


def test_a_long_graph_keeps_its_text_readable_and_shows_the_step(browser, tmp_path):
    # CS231n's sigmoid neuron: eleven boxes in a chain; fitted to the page whole, its text would be specks
    path = tmp_path / "neuron.html"
    assert main(["explain", "1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3",
                 "--output", str(path)]) == 0
    _loads_cleanly(browser, path)
    assert browser.evaluate("document.body.textContent.includes('0.731059')")  # the notes' output, 0.73
    scale = browser.evaluate("(() => { const s = document.querySelector('.figure svg');"
                             " return s.getBoundingClientRect().width / s.width.baseVal.value; })()")
    assert scale >= 0.65
    _screenshot(browser, "cs231n-neuron.png")
    browser.press("End", 35)  # the last step, dL/dw2 at the first node: the figure scrolls it into view
    inside = browser.evaluate("(() => { const f = document.querySelector('.figure').getBoundingClientRect(),"
                              " n = document.querySelector('.hl-node').getBoundingClientRect();"
                              " return n.top >= f.top - 1 && n.bottom <= f.bottom + 1 && n.left >= f.left - 1"
                              " && n.right <= f.right + 1; })()")
    assert inside


def test_the_backward_table_fits_a_narrower_window(browser, tmp_path):
    # CS231n's staged example: long step equations, fan-out sums; at 1000 px the rule column stays in view
    path = tmp_path / "staged.html"
    bp = backward(Graph.trace("(x + sigmoid(y))/(sigmoid(x) + (x + y)**2)"), {"x": 3, "y": -4})
    path.write_text(render_html(bp, expanded=True), encoding="utf-8")
    browser.call("Emulation.setDeviceMetricsOverride", width=1000, height=900, deviceScaleFactor=1, mobile=False)
    try:
        _loads_cleanly(browser, path)
        box = browser.evaluate("(() => { const s = document.querySelector('table.backward').parentElement;"
                               " return [s.scrollWidth, s.clientWidth]; })()")
        assert box[0] <= box[1], f"the backward table is {box[0]} px wide in {box[1]} px"
        assert browser.evaluate("document.body.textContent.includes('1.59223')")  # dL/dy (sympy.diff of f directly agrees)
        browser.evaluate("document.querySelectorAll('table.backward tr[data-step]')[11].scrollIntoView()")
        _screenshot(browser, "cs231n-staged-1000px.png")
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")


def test_a_fan_out_sum_marks_every_branch(browser, tmp_path):
    bp = backward(Graph.from_formulas(["c = a + b", "d = b + 1", "e = c*d"]), {"a": 2, "b": 1})
    path = tmp_path / "fan.html"
    path.write_text(render_html(bp, graphviz=False), encoding="utf-8")
    _loads_cleanly(browser, path)
    browser.press("End", 35)
    state = browser.evaluate(CURRENT)  # the last row: de/db = (via c) + (via d), both of b's edges
    assert state["index"] == state["rows"] - 1 and "via c" in state["caption"] and len(state["hlEdge"]) == 2
    assert state["hlInput"] == [state["input"]]


def test_without_javascript_everything_shows_and_print_hides_the_stepper(browser, tmp_path):
    path = tmp_path / "walk.html"
    path.write_text(render_html(backward(demo_graph(), DEMO_POINT)), encoding="utf-8")
    browser.call("Emulation.setScriptExecutionDisabled", value=True)
    try:
        _loads_cleanly(browser, path)
        assert browser.evaluate("getComputedStyle(document.getElementById('stepper')).display") == "none"
        assert browser.evaluate("document.querySelectorAll('table.backward tr[data-step]').length") == 6
        assert browser.evaluate("document.querySelector('table.backward').offsetHeight") > 100
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", value=False)
    _loads_cleanly(browser, path)
    browser.press(*RIGHT)
    browser.call("Emulation.setEmulatedMedia", media="print")
    try:
        assert browser.evaluate("getComputedStyle(document.getElementById('stepper')).display") == "none"
        assert browser.evaluate("getComputedStyle(document.querySelector('.figure')).position") == "static"
    finally:
        browser.call("Emulation.setEmulatedMedia", media="")


def test_the_network_page_and_its_matrix_view(browser, tmp_path, capsys):
    walk, matrix = tmp_path / "mazur.html", tmp_path / "matrix.html"
    spec = str(ROOT / "examples" / "mazur_2_2_2.toml")
    assert main(["explain", "--spec", spec, "--lr", "0.5", "--output", str(walk)]) == 0
    assert main(["explain", "--spec", spec, "--view", "matrix", "--output", str(matrix)]) == 0
    _loads_cleanly(browser, walk)
    assert browser.evaluate("document.body.textContent.includes('0.298371')")  # the post's E
    for _ in range(4):
        browser.press(*RIGHT)
    state = browser.evaluate(CURRENT)
    assert state["index"] == 3 and state["hlNode"] == [state["node"]] and sorted(set(state["hlEdge"])) == state["edges"]
    _screenshot(browser, "mazur-walkthrough.png")
    _loads_cleanly(browser, matrix)
    assert browser.evaluate("document.querySelectorAll('mtable.matrix').length") > 20
    browser.press(*RIGHT)
    state = browser.evaluate(CURRENT)
    assert state["index"] == 0 and "∂" in state["caption"]  # dL/da2, the first backward row
    assert browser.evaluate("document.querySelector('tr.current').closest('main') !== null")
    _screenshot(browser, "mazur-matrix-view.png")


def test_the_check_report_page(browser, tmp_path):
    path = tmp_path / "report.html"
    spec, against = ROOT / "examples" / "xor.toml", ROOT / "examples" / "buggy_backprop.py"
    code = main(["check", "--spec", str(spec), "--against", f"{against}:grads_missing_derivative",
                 "--format", "html", "--output", str(path)])
    assert code == 1
    _loads_cleanly(browser, path)
    assert browser.evaluate("document.querySelectorAll('ol.derivation math').length") >= 5
    assert browser.evaluate("document.querySelector('.bad').textContent").startswith("WRONG")
    _screenshot(browser, "check-report.png")
