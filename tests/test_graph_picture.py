"""``symprop graph``: pictures that fit a slide, labels nothing crosses, a network one box per layer.

The geometry is Graphviz's own: ``dot -Tjson`` gives every box's position and
size and every edge's spline, and the tests measure them (the tests that need
``dot`` skip without Graphviz; the DOT text itself is the same either way).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import symprop
from symprop.cli import main
from symprop.commands.common import formula_graph
from symprop.render.dot import choose_rankdir, fit_scale, layout_size, render_dot
from symprop.render.drawing import scalar_drawing
from symprop.render.dot_layers import group_name, has_layers, layer_drawing
from symprop.spec import load_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def layout(dot_text: str) -> dict:
    """Graphviz's layout of the DOT text, as its JSON output."""
    done = subprocess.run(["dot", "-Tjson"], input=dot_text, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _spline(pos: str) -> list[tuple[float, float]]:
    """Points along an edge's cubic Bézier pieces (``pos`` of ``dot -Tjson``)."""
    points = [tuple(float(c) for c in p.split(",")[:2]) for p in pos.split() if not p.startswith(("e,", "s,"))]
    samples = []
    for i in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[i:i + 4]
        for k in range(41):
            t = k / 40
            weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3)
            samples.append(tuple(sum(w * p[d] for w, p in zip(weights, (p0, p1, p2, p3))) for d in (0, 1)))
    return samples


def geometry(dot_text: str) -> tuple[float, float, list[tuple[str, str]]]:
    """The picture's width and height in points, and every (edge, box) where an edge runs through a box
    other than its own two ends, or through another edge's label."""
    data = layout(dot_text)
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    boxes = {}
    for obj in data.get("objects", []):
        x, y = (float(v) for v in obj["pos"].split(","))
        w, h = float(obj["width"]) * 72 / 2, float(obj["height"]) * 72 / 2
        boxes[obj["_gvid"]] = (obj["name"], (x - w + 1, y - h + 1, x + w - 1, y + h - 1))
    labels = {}
    for edge in data.get("edges", []):
        if "lp" in edge:  # an edge label of Graphviz's own (symprop draws none): its text's box
            x, y = (float(v) for v in edge["lp"].split(","))
            labels[edge["_gvid"]] = (x - 20, y - 5, x + 20, y + 5)
    hits = []
    for edge in data.get("edges", []):
        points = _spline(edge["pos"])
        for gvid, (name, (bx0, by0, bx1, by1)) in boxes.items():
            if gvid in (edge["tail"], edge["head"]):
                continue
            if any(bx0 < x < bx1 and by0 < y < by1 for x, y in points):
                hits.append((f"{boxes[edge['tail']][0]}->{boxes[edge['head']][0]}", name))
        for gvid, (lx0, ly0, lx1, ly1) in labels.items():
            if gvid != edge["_gvid"] and any(lx0 < x < lx1 and ly0 < y < ly1 for x, y in points):
                hits.append((f"{boxes[edge['tail']][0]}->{boxes[edge['head']][0]}", f"label of edge {gvid}"))
    return x1 - x0, y1 - y0, hits


def mazur():
    return load_spec(EXAMPLES / "mazur_2_2_2.toml").problem().backward()


def pictures():
    """Graphs of several shapes: a chain, fan-out, a neuron as gates, networks, a batch."""
    yield "demo", symprop.backward(formula_graph("c = w*x; a = c + b; d = a - y; J = d**2/2", ["w", "b"]),
                                   {"w": -2, "x": 2, "b": 8, "y": 1})
    yield "fan-out", symprop.backward(formula_graph("c = a + b; d = b + 1; e = c*d", None), {"a": 2, "b": 1})
    yield "a used twice", symprop.backward(formula_graph("c = a*b; L = c + a", None), {"a": 1, "b": 2})
    yield "one gate", symprop.backward(formula_graph("w*x", None), {"w": 2, "x": 3})
    yield "neuron", symprop.backward(formula_graph("1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", None),
                                     {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3})
    yield "chain", symprop.backward(formula_graph("sigmoid(sigmoid(sigmoid(sigmoid(w*x))))", None), {"w": 1, "x": 1})
    yield "mazur", mazur()
    yield "xor sample 0", load_spec(EXAMPLES / "xor.toml").problem(sample=0).backward()
    yield "xor batch", load_spec(EXAMPLES / "xor.toml").problem().backward()


@needs_dot
def test_the_2_2_2_net_fits_a_slide_and_no_edge_crosses_a_label(tmp_path):
    out = tmp_path / "mazur.svg"
    assert main(["graph", "--spec", str(EXAMPLES / "mazur_2_2_2.toml"), "--output", str(out)]) == 0
    root = ET.fromstring(out.read_text(encoding="utf-8"))
    width, height = (float(root.get(k).removesuffix("pt")) for k in ("width", "height"))
    assert width / height <= 3, (width, height)  # it was 3,446 x 386 pt, left to right
    assert height <= width  # laid out top to bottom, and still wider than tall
    text = "".join(root.itertext())
    assert "∂z2[0]/∂W2[0,0]" in text and "= a1[0] = 0.59327" in text and "grad 0.082167" in text
    _, _, hits = geometry(render_dot(mazur()))
    assert hits == []


@needs_dot
@pytest.mark.parametrize("view", ["scalar", "layers"])
def test_auto_picks_the_direction_that_fits_a_16_9_slide_best(view):
    """The estimate's choice is, by Graphviz's real layout, within 10% of the better direction's scale."""
    for name, bp in pictures():
        if view == "layers" and not has_layers(bp.graph):  # a formula has no layers (refused)
            continue
        scales = {}
        for rankdir in ("TB", "LR"):
            width, height, hits = geometry(render_dot(bp, rankdir=rankdir, view=view))
            assert hits == [], (name, rankdir, hits)
            scales[rankdir] = fit_scale((width, height))
        drawing = scalar_drawing(bp) if view == "scalar" else layer_drawing(bp)
        chosen = choose_rankdir(drawing)
        assert scales[chosen] >= 0.9 * max(scales.values()), (name, chosen, scales)
        assert f"rankdir={chosen}" in render_dot(bp, view=view)


SMALL = [
    ("c = a + b; d = b + 1; e = c*d", "a=2,b=1"),  # was 501 x 139 pt (3.6:1), left to right
    ("c = a*b; L = c + a", "a=1,b=2"),  # was 4.2:1
    ("w*x", "w=2,x=3"),
    ("x/x*w", "x=2,w=3"),
    ("L = (a*b + c)*f", "a=2,b=-3,c=10,f=-2"),
    ("1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3"),
]


@needs_dot
@pytest.mark.parametrize("formula, at", SMALL, ids=[f for f, _ in SMALL])
def test_a_small_formula_fits_a_slide_too(formula, at, tmp_path):
    """No strip across the slide: at most 3:1 wide where the other direction fits nearly as large."""
    out = tmp_path / "graph.svg"
    assert main(["graph", formula, "--at", at, "--output", str(out)]) == 0
    root = ET.fromstring(out.read_text(encoding="utf-8"))
    width, height = (float(root.get(k).removesuffix("pt")) for k in ("width", "height"))
    assert width / height <= 3, (width, height)


def test_a_near_tie_goes_to_the_direction_that_is_not_a_strip():
    bp = symprop.backward(formula_graph("c = a + b; d = b + 1; e = c*d", None), {"a": 2, "b": 1})
    drawing = scalar_drawing(bp)
    assert fit_scale(layout_size(drawing, "LR")) > fit_scale(layout_size(drawing, "TB"))  # LR a little larger...
    assert choose_rankdir(drawing) == "TB"  # ...but a strip 3.3 times as wide as tall
    assert "rankdir=TB" in render_dot(bp)
    # a picture far larger one way keeps it: the xor batch, one box per neuron, is 1.2:1 left to right
    assert choose_rankdir(scalar_drawing(load_spec(EXAMPLES / "xor.toml").problem().backward())) == "LR"


def test_rankdir_overrides_the_choice_and_records_turn_with_it(capsys):
    assert main(["graph", "--spec", str(EXAMPLES / "mazur_2_2_2.toml")]) == 0
    auto = capsys.readouterr().out
    assert "rankdir=TB" in auto
    assert 'n0 [label="{ W1[0,0] (parameter) | { value 0.15 | grad 0.000438568 } }"' in auto
    assert main(["graph", "--spec", str(EXAMPLES / "mazur_2_2_2.toml"), "--rankdir", "LR"]) == 0
    lr = capsys.readouterr().out
    assert "rankdir=LR" in lr
    assert 'n0 [label="W1[0,0] (parameter) | { value 0.15 | grad 0.000438568 }"' in lr
    # each step's local derivative sits on its own edge, in a box of its own
    assert re.search(r'(e\d+) \[label="∂z1\[0\]/∂W1\[0,0\]\\n= x\[0\] = 0.05\\nsum, product"\];\n'
                     r'  n0 -> \1 \[arrowhead=none\];\n  \1 -> n14;', lr)
    with pytest.raises(symprop.SympropError, match="unknown rankdir 'BT'"):
        render_dot(mazur(), rankdir="BT")


def test_long_formulas_wrap_in_their_box():
    dot = render_dot(mazur())
    assert 'label="{ L = (a2[0] - y[0])**2/2 + (a2[1] -\\ny[1])**2/2 | { value 0.298371 | grad 1 } }"' in dot


def test_a_graph_without_a_point_draws_its_formulas():
    graph = symprop.Graph.from_formulas(["c = w*x", "a = c + b", "J = a**2"], params=["w", "b"])
    dot = render_dot(graph)
    assert '[label="{ c = w*x }"]' in dot and "value" not in dot and "∂" not in dot
    assert "n0 -> n3;" in dot  # w into c, no derivative on it without a point


def test_group_names():
    assert [group_name(s) for s in ("z1[0](s2)", "W1[0,1]", "L", "mu1[3]", "x[0](s10)")] == [
        "z1", "W1", "L", "mu1", "x"]


def test_the_layer_view_draws_a_box_per_layer_with_shapes_values_and_gradients(capsys):
    assert main(["graph", "--spec", str(EXAMPLES / "xor.toml"), "--view", "layers"]) == 0
    dot = capsys.readouterr().out
    heads = re.findall(r'label="\{ ([^|]*) \|', dot)
    assert heads == ["W1 (3×2): parameter", "x (4×2): input", "b1 (3): parameter", "W2 (1×3): parameter",
                     "b2 (1): parameter", "y (4×1): input", "z1 (4×3): linear 3", "a1 (4×3): sigmoid",
                     "z2 (4×1): linear 1", "a2 (4×1): sigmoid", "L(s) (4): half_squared_error of each sample",
                     "L: the sum over the samples"]
    # a few values are listed, more are given as a range; the gradients are the batch's (symprop check's)
    assert "{ value [0.870145, 0.631707, -0.994523] | grad [0.0776175, 0.0604461, 0.0941045] }" in dot
    assert "{ 6 values in [-0.967, 0.826] | 6 grads in [-0.00695, 0.0185] }" in dot
    assert "{ value 0.571076 | grad 1 }" in dot
    assert '[label="∂z1/∂W1\\nsum, product"]' in dot and '[label="∂a1/∂z1\\nsigmoid"]' in dot
    assert len(re.findall(r"^  g\d+ \[", dot, re.M)) == 12


def test_the_layer_view_of_a_layer_list_shows_batchnorm_and_softmax(tmp_path):
    bp = load_spec(EXAMPLES / "backprop_ninja.toml").problem().backward()
    dot = render_dot(bp, view="layers")
    for edge in ("∂mu1/∂z1", "∂var1/∂mu1", "∂xhat1/∂var1", "∂bn1/∂gamma1", "∂a2/∂sumexp2"):
        assert f'[label="{edge}\\n' in dot
    if shutil.which("dot"):
        width, height, hits = geometry(dot)
        assert hits == [] and width / height <= 16 / 9 * 1.2


def test_the_layer_view_is_for_networks(capsys):
    assert main(["graph", "w*x", "--at", "w=1,x=2", "--view", "layers"]) == 2
    assert capsys.readouterr().err == (
        "symprop: error: --view layers is for a [network] spec (a formula's nodes have no layers)\n")
    # from Python the same refusal, not a picture of one box per node
    bp = symprop.backward(symprop.Graph.trace("L = (a*b + c)*f"), {"a": 2, "b": -3, "c": 10, "f": -2})
    for source in (bp, bp.graph):
        with pytest.raises(symprop.SpecError) as refused:
            symprop.draw(source, view="layers")
        assert str(refused.value) == "--view layers is for a [network] spec (a formula's nodes have no layers)"
    assert "g0 [label=" in symprop.draw(load_spec(EXAMPLES / "xor.toml").problem().backward(), view="layers").dot


@needs_dot
def test_png_and_pdf_pictures(tmp_path, capsys):
    spec = str(EXAMPLES / "mazur_2_2_2.toml")
    assert main(["graph", "--spec", spec, "--output", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert main(["graph", "--spec", spec, "--view", "layers", "--output", str(tmp_path / "g.pdf")]) == 0
    assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")


def test_a_picture_is_not_written_to_a_terminal(monkeypatch, capsys):
    from symprop.commands import streams

    monkeypatch.setattr(streams, "stdout_is_terminal", lambda: True)
    assert main(["graph", "w*x", "--at", "w=1,x=2", "--format", "png"]) == 2
    assert capsys.readouterr().err == (
        "symprop: error: --format png writes a picture's bytes: give --output FILE.png, or redirect stdout\n")


def test_a_graph_past_the_walkthrough_bound_is_refused_and_a_crowded_one_noted(tmp_path, capsys):
    wide = tmp_path / "wide.json"
    wide.write_text(json.dumps({"network": {"layers": [30, 30, 10]},
                                "data": {"x": [[0.1] * 30] * 8, "y": [[0.5] * 10] * 8}}))
    assert main(["graph", "--spec", str(wide), "--view", "layers"]) == 2
    assert capsys.readouterr().err == (
        "symprop: error: the graph would have about 12,728 derivative edges (limit 10,000); "
        "use --sample K to draw one sample\n")
    crowded = tmp_path / "crowded.json"
    crowded.write_text(json.dumps({"network": {"layers": [4, 12, 12, 2]},
                                   "data": {"x": [[0.1, 0.2, 0.3, 0.4]], "y": [[0.5, 0.5]]}}))
    assert main(["graph", "--spec", str(crowded), "--output", str(tmp_path / "g.dot")]) == 0
    assert capsys.readouterr().err == (
        "symprop: note: 301 boxes are hard to read in one picture; --view layers draws one box per layer\n")
    assert main(["graph", "--spec", str(crowded), "--view", "layers", "--output", str(tmp_path / "g.dot")]) == 0
    assert capsys.readouterr().err == ""
    assert (tmp_path / "g.dot").read_text().count("[label=\"{") == 15  # x, y, L, and W, b, z, a of each layer
