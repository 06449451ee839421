"""The computation graph as Graphviz DOT, values and gradients on the nodes (as micrograd's ``draw_dot``).

Each leaf and node is a box: its formula as written, then its value and
gradient. Each edge runs from an input to the node that uses it; where the
backward pass took a step along it, the edge passes through a small label box
holding the local derivative, its value and its rule. A label that is a box
of its own is never crossed by another edge (Graphviz routes edges around
boxes, but not around edge labels), and it sits on its own edge, so it is
clear which edge it belongs to.

The picture is meant for a slide: ``rankdir="auto"`` lays it out top to
bottom or left to right, whichever fits a 16:9 frame at the larger scale, by
an estimate of both layouts (:func:`layout_size`; no Graphviz needed, so the
DOT text is the same everywhere), and not wider than 3:1 where the other
direction fits nearly as large. ``view="layers"`` draws a network one box
per layer (:mod:`symprop.render.dot_layers`). Every label is escaped, so any
formula or name prints as written. :func:`to_svg` runs Graphviz's ``dot``.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any, Mapping

from ..backprop import BackwardPass
from ..errors import SympropError
from ..graph import Graph
from ..registry import did_you_mean
from .drawing import Box, Drawing, scalar_drawing
from .dot_layers import layer_drawing
from .numbers import DEFAULT_DIGITS

__all__ = [
    "draw",
    "Picture",
    "render_dot",
    "to_svg",
    "to_image",
    "escape_record",
    "quote",
    "layout_size",
    "choose_rankdir",
    "MAX_ASPECT",
    "RANKDIRS",
    "VIEWS",
    "SLIDE",
]

#: ``rankdir`` choices: ``auto`` picks the one that fits a 16:9 slide best.
RANKDIRS = ("auto", "TB", "LR")
#: ``view`` choices: one box per scalar node, or one per layer (grouped by name).
VIEWS = ("scalar", "layers")
#: The frame a picture should fit: a 16:9 slide.
SLIDE = (16.0, 9.0)

#: The widest a picture is laid out for its height where the other direction fits nearly as large
#: (:data:`NEARLY` of its scale or more).
MAX_ASPECT = 3.0
NEARLY = 0.9

FONT_SIZE = 11
LABEL_FONT_SIZE = 9
NODESEP = 0.18  # inches between boxes in a rank
RANKSEP = 0.3  # inches between ranks

_RECORD_SPECIALS = set('\\{}|<>"')
_STYLES = {
    "param": ', style=filled, fillcolor="#e8f4ff"',
    "output": ', style=filled, fillcolor="#e8ffe8"',
    "input": "",
    "node": "",
}


def escape_record(text: str) -> str:
    """Text for one field of a DOT record label (``{ } | < > "`` and backslashes escaped)."""
    return "".join("\\" + ch if ch in _RECORD_SPECIALS else ch for ch in text)


def quote(text: str) -> str:
    """A DOT quoted string (for ids and edge labels); a newline becomes a centred line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# -- the layout estimate ------------------------------------------------

_CHAR = 0.56  # average character width, in ems (Helvetica and its stand-ins: Liberation Sans, Arial)
_LINE = 1.25  # line height, in ems


def _text_size(lines: list[str], size: float) -> tuple[float, float]:
    width = max((len(line) for line in lines), default=0) * _CHAR * size
    return width, len(lines) * _LINE * size


def box_size(box: Box, rankdir: str) -> tuple[float, float]:
    """About the size in points Graphviz gives a box: the heading over the row of value and grad."""
    head_w, head_h = _text_size(box.head, FONT_SIZE)
    row_w = sum(_text_size([r], FONT_SIZE)[0] + 16 for r in box.rows)
    row_h = _LINE * FONT_SIZE + 8 if box.rows else 0
    return max(head_w + 16, row_w, 54.0), max(head_h + 8 + row_h, 36.0)


def label_size(lines: list[str]) -> tuple[float, float]:
    """About the size in points of an edge's label box."""
    w, h = _text_size(lines, LABEL_FONT_SIZE)
    return w + 8, h + 4


def _ranks(drawing: Drawing) -> tuple[dict[str, int], dict[str, tuple[float, float]], list[tuple[str, str]]]:
    """Each box's rank about as ``dot`` places it (each box just above its first use, the output
    last), the label boxes as boxes of their own: the ranks, the sizes, the edges."""
    sizes = {}
    edges = []
    for box in drawing.boxes:
        sizes[box.id] = box_size(box, "TB")
    for k, wire in enumerate(drawing.wires):
        if wire.label:
            label = f"e{k}"
            sizes[label] = label_size(wire.label)
            edges += [(wire.tail, label), (label, wire.head)]
        else:
            edges.append((wire.tail, wire.head))
    inputs: dict[str, list[str]] = {v: [] for v in sizes}
    outputs: dict[str, list[str]] = {v: [] for v in sizes}
    for tail, head in edges:
        inputs[head].append(tail)
        outputs[tail].append(head)
    height: dict[str, int] = {}  # the longest path down to the output

    def place(v: str) -> int:
        if v not in height:
            height[v] = 1 + max((place(u) for u in outputs[v]), default=-1)
        return height[v]

    for v in sizes:
        place(v)
    top = max(height.values(), default=0)
    rank = {v: top - h for v, h in height.items()}
    return rank, sizes, edges


def layout_size(drawing: Drawing, rankdir: str) -> tuple[float, float]:
    """About the width and height in points of the drawing laid out by ``dot`` with ``rankdir``.

    Along a rank the boxes add up, with the edges that pass through it;
    across ranks the thickest box of each rank does.
    """
    rank, sizes, edges = _ranks(drawing)
    across = 0 if rankdir == "TB" else 1  # the dimension boxes of one rank share
    along: dict[int, float] = {}
    thick: dict[int, float] = {}
    for v, r in rank.items():
        along[r] = along.get(r, 0.0) + sizes[v][across] + NODESEP * 72
        thick[r] = max(thick.get(r, 0.0), sizes[v][1 - across])
    for tail, head in edges:  # an edge longer than one rank passes through the ranks between
        for r in range(rank[tail] + 1, rank[head]):
            along[r] = along.get(r, 0.0) + NODESEP * 72
    breadth = max(along.values(), default=0.0)
    length = sum(thick.values()) + RANKSEP * 72 * max(len(thick) - 1, 0)
    return (breadth, length) if rankdir == "TB" else (length, breadth)


def fit_scale(size: tuple[float, float], frame: tuple[float, float] = SLIDE) -> float:
    """How much a picture of ``size`` is scaled to fit ``frame`` (larger is better)."""
    width, height = size
    return min(frame[0] / max(width, 1.0), frame[1] / max(height, 1.0))


def choose_rankdir(drawing: Drawing, frame: tuple[float, float] = SLIDE) -> str:
    """``TB`` or ``LR``: the direction whose layout fits ``frame`` at the larger scale (``TB`` on a tie),
    unless it is wider than :data:`MAX_ASPECT` times its height and the other is not and fits nearly
    as large (a small formula fits a slide either way: a strip across it leaves the slide empty)."""
    sizes = {d: layout_size(drawing, d) for d in ("TB", "LR")}
    scales = {d: fit_scale(size, frame) for d, size in sizes.items()}
    best, other = ("TB", "LR") if scales["TB"] >= scales["LR"] else ("LR", "TB")
    if _aspect(sizes[best]) > MAX_ASPECT >= _aspect(sizes[other]) and scales[other] >= NEARLY * scales[best]:
        return other
    return best


def _aspect(size: tuple[float, float]) -> float:
    return size[0] / max(size[1], 1.0)


# -- DOT text -------------------------------------------------------------


def _record(box: Box, rankdir: str) -> str:
    head = "\\n".join(escape_record(line) for line in box.head)
    if not box.rows:
        return f"{{ {head} }}" if rankdir == "TB" else head
    rows = " | ".join(escape_record(r) for r in box.rows)
    # A record's top level is laid out across the ranks' direction: braces turn it, so that
    # the heading is always above the row of value and grad.
    return f"{{ {head} | {{ {rows} }} }}" if rankdir == "TB" else f"{head} | {{ {rows} }}"


def drawing_dot(drawing: Drawing, rankdir: str) -> str:
    """The drawing as a DOT digraph laid out in ``rankdir`` (``TB`` or ``LR``)."""
    lines = [
        "digraph symprop {",
        f"  graph [rankdir={rankdir}, nodesep={NODESEP}, ranksep={RANKSEP}];",
        f'  node [shape=record, fontname="Helvetica", fontsize={FONT_SIZE}];',
        '  edge [color="#555555", arrowsize=0.7];',
    ]
    for box in drawing.boxes:
        lines.append(f'  {box.id} [label="{_record(box, rankdir)}"{_STYLES[box.kind]}];')
    if any(wire.label for wire in drawing.wires):  # from here on, nodes are the edges' label boxes
        lines.append(f'  node [shape=box, style="rounded,filled", fillcolor="#fffbe8", color="#c8b870", '
                     f'fontsize={LABEL_FONT_SIZE}, margin="0.05,0.02", width=0, height=0];')
    for k, wire in enumerate(drawing.wires):
        if not wire.label:
            lines.append(f"  {wire.tail} -> {wire.head};")
            continue
        lines.append(f"  e{k} [label={quote(chr(10).join(wire.label))}];")
        lines.append(f"  {wire.tail} -> e{k} [arrowhead=none];")
        lines.append(f"  e{k} -> {wire.head};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(
    bp: BackwardPass | Graph,
    *,
    digits: int = DEFAULT_DIGITS,
    rankdir: str = "auto",
    view: str = "scalar",
    captions: Mapping[str, str] | None = None,
) -> str:
    """The graph in DOT: boxes with formulas, values and gradients; edges labelled with local derivatives.

    Args:
        bp: a recorded backward pass (values, gradients, local derivatives), or
            a bare :class:`~symprop.graph.Graph` (its formulas only).
        digits: significant digits of decimals.
        rankdir: ``"TB"`` (top to bottom), ``"LR"`` (left to right), or
            ``"auto"``: whichever fits a 16:9 slide at the larger scale.
        view: ``"scalar"`` (a box per node) or ``"layers"`` (a box per group of
            nodes named alike, ``z1[0]``, ``z1[1]``, ...: a network's layers).
        captions: for ``view="layers"``, a caption per group (``{"a1": "sigmoid"}``).
    """
    if rankdir not in RANKDIRS:
        raise SympropError(f"unknown rankdir {rankdir!r}; expected one of: {', '.join(RANKDIRS)}"
                           f"{did_you_mean(rankdir, RANKDIRS)}")
    if view not in VIEWS:
        raise SympropError(f"unknown view {view!r}; expected one of: {', '.join(VIEWS)}{did_you_mean(view, VIEWS)}")
    if view == "layers":
        drawing = layer_drawing(bp, digits=digits, captions=captions)
    else:
        drawing = scalar_drawing(bp, digits=digits)
    return drawing_dot(drawing, choose_rankdir(drawing) if rankdir == "auto" else rankdir)


def to_image(dot_source: str, fmt: str = "svg", *, timeout: float = 60) -> bytes:
    """Run Graphviz's ``dot -T<fmt>`` on DOT text (``svg``, ``png``, ``pdf``): the picture's bytes.

    Raises:
        SympropError: Graphviz is not installed, or ``dot`` failed.
    """
    program = shutil.which("dot")
    if program is None:
        raise SympropError(
            f"{fmt.upper()} needs Graphviz's 'dot' program, which is not installed "
            "(install graphviz, or use --format dot and render it elsewhere)"
        )
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=dot_source.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SympropError(f"Graphviz 'dot' failed: {error}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        message = stderr.splitlines()[-1] if stderr else f"exit code {done.returncode}"
        raise SympropError(f"Graphviz 'dot' failed: {message}")
    return done.stdout


def to_svg(dot_source: str, *, timeout: float = 60) -> str:
    """Run Graphviz's ``dot -Tsvg`` on DOT text: the SVG document.

    Raises:
        SympropError: Graphviz is not installed, or ``dot`` failed.
    """
    return to_image(dot_source, "svg", timeout=timeout).decode("utf-8")


class Picture:
    """A graph's picture, for a notebook or a file: what :func:`draw` gives (as micrograd's ``draw_dot``).

    Attributes:
        dot: the DOT text.
    """

    SUFFIXES = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}

    def __init__(self, dot: str):
        self.dot = dot

    def svg(self) -> str:
        """The picture as SVG (needs Graphviz's ``dot``)."""
        return to_svg(self.dot)

    def save(self, path: str) -> None:
        """Write the picture to ``path``: DOT (``.dot``, ``.gv``), ``.svg``, ``.png`` or ``.pdf`` (these need Graphviz)."""
        from pathlib import Path

        fmt = self.SUFFIXES.get(Path(path).suffix.lower())
        if fmt is None:
            raise SympropError(f"cannot save a picture as {path!r}; give one of {', '.join(self.SUFFIXES)}")
        Path(path).write_bytes(self.dot.encode("utf-8") if fmt == "dot" else to_image(self.dot, fmt))

    def _repr_svg_(self) -> str | None:
        return self.svg() if shutil.which("dot") else None

    def _repr_html_(self) -> str:
        if shutil.which("dot"):
            svg = self.svg()
            return svg[svg.index("<svg"):]
        import html

        return ("<p>(install Graphviz's <code>dot</code> to see the picture; its DOT text:)</p>"
                f"<pre>{html.escape(self.dot)}</pre>")

    def __repr__(self) -> str:
        boxes = sum(1 for line in self.dot.splitlines() if line.startswith(("  n", "  g")) and "[label=" in line)
        return f"<Picture of {boxes} boxes: .dot, .svg(), .save(path)>"


def draw(source: BackwardPass | Graph, **options: Any) -> Picture:
    """The picture of a backward pass (values, gradients, local derivatives) or a graph (formulas):
    shown in a notebook, saved with ``.save("g.svg")``. The options (``rankdir``, ``view``, ...) are
    :func:`render_dot`'s.

    >>> import symprop
    >>> g = symprop.Graph.from_formulas(["c = w*x", "J = c**2"])
    >>> draw(symprop.backward(g, {"w": 1, "x": 2}))
    <Picture of 4 boxes: .dot, .svg(), .save(path)>
    """
    return Picture(render_dot(source, **options))
