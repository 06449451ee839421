"""Every public object shows itself well in Jupyter: a notebook is run with nbclient, and each output read.

A graph is its picture (SVG, with Graphviz's ``dot``; a table without it), a
backward pass Markdown and LaTeX, the matrix view LaTeX matrices, a training
result a short summary with its loss curve, a network its layers and parameter
count; none of them a raw dump (the plain-text form of each stays short).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat, nbclient and ipykernel")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbformat, nbclient and ipykernel")
pytest.importorskip("ipykernel", reason="the notebook test needs nbformat, nbclient and ipykernel")

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
import symprop
from symprop.nn import MLP, Network, Sequential
from symprop.matrix import matrix_view
from symprop.train import train
from symprop.spec import load_spec
from symprop.derive import derive

graph = symprop.Graph.from_formulas(["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"], params=["w", "b"])
bp = symprop.backward(graph, {"w": -2, "x": 2, "b": 8, "y": 1})
mlp = MLP([2, 3, 1], "sigmoid", "half_squared_error", reduction="sum")
net = Network(mlp, None, x=[[1, 1], [0, 1], [1, 0], [0, 0]], y=[[0], [1], [1], [0]], seed=0)
compiled = symprop.compile(mlp)
result = train(compiled, net.params, net.x, net.y, steps=2500, lr=0.5)
"""

#: name -> the cell's last expression, whose display the test reads
CELLS = {
    "graph": "graph",
    "backward pass": "bp",
    "gradient": 'bp.gradients["w"]',
    "picture": "symprop.draw(bp)",
    "mlp": "mlp",
    "sequential": 'Sequential(2, [{"linear": 4}, "batchnorm", "tanh", {"linear": 1}, "sigmoid"])',
    "network": "net",
    "compiled": "compiled",
    "matrix view": "matrix_view(net)",
    "training": "result",
    "check": "symprop.gradcheck(net)",
    "derivation": 'derive("x.T*A*x", "A=3x3,x=3", wrt="x")',
    "spec": 'load_spec("examples/xor.toml")',
    "activations": "symprop.nn.ACTIVATIONS",
    "losses": "symprop.nn.LOSSES",
    "network pass": 'Network(MLP([4, 8, 3], "sigmoid", "half_squared_error", reduction="sum"), None, '
                    'x=[[0.1, 0.2, 0.3, 0.4]] * 6, y=[[0.5, 0.5, 0.5]] * 6, seed=0).backward()',
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Each cell's display data (MIME type -> text), from a notebook run in a kernel of this Python."""
    kernels = tmp_path_factory.mktemp("jupyter") / "kernels" / "symprop-test"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "symprop test", "language": "python"}))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(c) for c in CELLS.values()]
    monkey = pytest.MonkeyPatch()
    monkey.setenv("JUPYTER_PATH", str(kernels.parent.parent))
    try:
        client = nbclient.NotebookClient(notebook, kernel_name="symprop-test", timeout=300,
                                         resources={"metadata": {"path": str(ROOT)}})
        client.execute()
    finally:
        monkey.undo()
    found = {}
    for name, cell in zip(CELLS, notebook.cells[1:]):
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert len(results) == 1, (name, cell.outputs)
        found[name] = dict(results[0].data)
    return found


def test_no_object_shows_a_raw_dump(outputs):
    for name, data in outputs.items():
        assert len(data["text/plain"]) <= 400, (name, data["text/plain"][:200])
        assert set(data) - {"text/plain"}, f"{name} has only a plain-text form"


def test_a_graph_is_its_picture(outputs):
    data = outputs["graph"]
    if shutil.which("dot"):
        assert data["image/svg+xml"].lstrip().startswith("<?xml") and "c = w*x" in data["image/svg+xml"]
        assert data["text/html"].startswith("<svg")
    else:  # without Graphviz, a table of the nodes
        assert "<table>" in data["text/html"] and "<code>w*x</code>" in data["text/html"]
    picture = outputs["picture"]
    assert ("grad 6" in picture["text/html"]) == bool(shutil.which("dot"))  # values and gradients in boxes
    assert "<Picture of 8 boxes" in picture["text/plain"]


def test_the_backward_pass_and_its_gradients_are_mathematics(outputs):
    assert outputs["backward pass"]["text/markdown"].startswith("#### Forward pass")
    assert r"\begin{aligned}" in outputs["backward pass"]["text/latex"]
    assert outputs["gradient"]["text/latex"] == r"$\frac{\partial J}{\partial w} = d x = 6$"


def test_the_matrix_view_is_latex_matrices(outputs):
    text = outputs["matrix view"]["text/markdown"]
    assert "`dL/dW1` = `delta1·a0^T, summed over the samples` = $\\begin{bmatrix}0.01847 & 0.01465" in text
    assert text.count(r"\begin{bmatrix}") >= 15 and "Matrix([" not in text
    assert outputs["matrix view"]["text/plain"].startswith("MatrixView([2, 3, 1]")


def test_a_training_result_is_a_summary_and_its_curve(outputs):
    html = outputs["training"]["text/html"]
    assert "trained: 2,500 steps of sgd, learning rate 0.5" in html
    assert "loss 0.571076 -&gt; 0.00328428 (174 times lower) after 2,500 steps" in html
    assert "accuracy 100% (4 of 4 samples" in html
    words = html.split("<svg")[0]
    assert len(re.findall(r"\d\.\d{3,}", words)) < 10  # not the 2,500 losses
    try:
        import matplotlib  # noqa: F401 - the curve needs it
    except ImportError:
        assert "<svg" not in html and "█" in html
    else:
        assert "<svg" in html and ">step<" in html and ">loss (log scale)<" in html
    assert outputs["training"]["text/plain"] == (
        "TrainResult(steps=2500, loss 0.571076 -> 0.00328428, params: W1 (3, 2), b1 (3,), W2 (1, 3), b2 (1,))")


def test_a_network_is_its_shape_and_parameter_count(outputs):
    mlp = outputs["mlp"]["text/markdown"]
    assert mlp.startswith("**MLP** `[2, 3, 1] (sigmoid, sigmoid; half_squared_error, sum)`: 13 parameters")
    assert "| linear 3 | `z1 (m, 3)` | `W1 (3, 2), b1 (3,): 9` |" in mlp
    assert "25 parameters" in outputs["sequential"]["text/markdown"]
    assert "| batchnorm | `mu1 (4,), var1 (4,), xhat1 (m, 4), bn1 (m, 4)` | `gamma1 (4,), beta1 (4,): 8` |" in (
        outputs["sequential"]["text/markdown"])
    assert "on 4 samples (x (4, 2), y (4, 1)); loss 0.571076 at these parameters" in outputs["network"]["text/markdown"]
    assert "training: 2,500 steps of sgd, learning rate 0.5" in outputs["spec"]["text/markdown"]


def test_the_rest(outputs):
    assert "<details><summary>the source</summary>" in outputs["compiled"]["text/html"]
    assert "passed: 13 of 13 agree" in outputs["check"]["text/html"]
    assert outputs["derivation"]["text/markdown"].startswith("## L = x.T\\*A\\*x, with respect to x\n")  # no emphasis
    assert outputs["derivation"]["text/plain"] == "Derivation('x.T*A*x', wrt x: 1 step)"
    assert "| `sigmoid` | σ(z) = 1/(1 + e^(−z)) |" in outputs["activations"]["text/markdown"]


def test_a_network_s_backward_pass_is_its_gradients_not_its_thousand_rows(outputs):
    data = outputs["network pass"]
    assert data["text/markdown"].startswith("**Backward pass** of 636 chain-rule steps: loss ")
    assert "67 gradients, the first 20:" in data["text/markdown"] and data["text/markdown"].count("| `dL/d") == 20
    assert "text/latex" not in data  # MathJax over 636 aligned rows would take minutes
    assert data["text/plain"].endswith(", ... 59 more)")
    assert outputs["losses"]["text/markdown"].startswith("**5 losses**")
