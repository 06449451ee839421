"""The computation graph drawn inline in a page: Graphviz's drawing when ``dot`` is installed, else our own.

Either way every leaf and node is a group ``data-key="v3"`` and every edge
``data-edge="v1>v3"`` (input to node), so the page's stepper can mark the
node, the input and the edge of a step. With Graphviz, the drawing is
``dot -Tsvg`` of :func:`symprop.render.dot.render_dot`'s DOT text, each node
found again by the name its label starts with; if that fails (no ``dot``, an
error, a label it cannot place) the graph is laid out here: left to right by
level (the longest path from the leaves), each column ordered by where its
inputs sit, edges as curves, the formula, value and gradient in each box.
"""

from __future__ import annotations

import html
import re
import shutil

from sympy import Symbol

from ..backprop import BackwardPass
from ..errors import SympropError
from .dot import render_dot, to_svg
from .numbers import DEFAULT_DIGITS, format_expr, format_value
from .walkthrough import labelled

__all__ = ["graph_svg", "node_keys", "edge_key", "MAX_DRAWN"]

#: Graphs with more leaves and nodes than this are not drawn (a page would not show them legibly).
MAX_DRAWN = 300

_CHAR = 6.6  # width of a character of the boxes' 11px font, in pixels
_LINE = 15
_BOLD = ' font-weight="600"'


def node_keys(bp: BackwardPass) -> dict[Symbol, str]:
    """Each leaf's and node's key in the page (``v0``, ``v1``, ...), leaves first."""
    graph = bp.graph
    return {s: f"v{k}" for k, s in enumerate((*graph.leaves, *(n.symbol for n in graph.nodes)))}


def edge_key(keys: dict[Symbol, str], source: Symbol, target: Symbol) -> str:
    """The key of the edge from an input to the node that uses it."""
    return f"{keys[source]}>{keys[target]}"


def _lines(bp: BackwardPass, symbol: Symbol, digits: int) -> list[str]:
    """What a box says: ``name = formula`` (or the kind of leaf), the value, the gradient."""
    graph = bp.graph
    nodes = {n.symbol: n for n in graph.nodes}
    label = graph.label(symbol)
    if symbol in nodes:
        written = nodes[symbol].op is not None
        formula = format_expr(labelled(bp, nodes[symbol].formula, written=written), digits, written=written)
        head = f"{label} = {formula}"
    else:
        head = f"{label} ({'parameter' if symbol in set(graph.params) else 'input'})"
    if len(head) > 44:
        head = head[:43] + "…"
    lines = [head, f"value {format_value(bp.values[symbol], digits)}"]
    if symbol in bp.adjoints:
        lines.append(f"grad {format_value(bp.adjoints[symbol].value, digits)}")
    return lines


def _dot_names(dot_text: str) -> dict[str, str]:
    """DOT node id -> the first field of its record label, unescaped."""
    found = {}
    for match in re.finditer(r'^\s*("?)([\w.]+)\1\s*\[(?:[^\]"]*?,\s*)?label="((?:[^"\\]|\\.)*)"', dot_text, re.M):
        label = match.group(3).lstrip("{ ")
        first = re.split(r"(?<!\\)\|", label)[0].strip()
        found[match.group(2)] = re.sub(r"\\(.)", r"\1", first)
    return found


def _graphviz(bp: BackwardPass, keys: dict[Symbol, str], digits: int) -> str | None:
    """Graphviz's SVG with the page's keys on its nodes and edges, or None if a node cannot be placed."""
    dot_text = render_dot(bp, digits=digits)
    names = _dot_names(dot_text)
    graph = bp.graph
    by_id = {}
    for dot_id, first in names.items():
        for symbol in keys:
            label = graph.label(symbol)
            if first == label or first.startswith(label + " = ") or first.startswith(label + " ("):
                by_id[dot_id] = keys[symbol]
                break
    if len(set(by_id.values())) != len(keys):
        return None
    svg = to_svg(dot_text)
    svg = svg[svg.find("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)

    def node(match: re.Match) -> str:
        name = html.unescape(match.group(2))
        key = by_id.get(name)
        if key:
            attribute = f' data-key="{key}"'
        elif name in tails and name in heads:  # an edge's label box
            attribute = f' data-edge="{edge_of(name, name)}"'
        else:
            attribute = ""
        return f'<g id="{match.group(1)}" class="node"{attribute}>\n<title>{match.group(2)}</title>'

    # a labelled edge is drawn through a box of its own: tail -> label box -> head, all three one edge
    wires = re.findall(r"^\s*(\w+) -> (\w+)", dot_text, re.M)
    tails = {head: tail for tail, head in wires if head not in by_id}
    heads = {tail: head for tail, head in wires if tail not in by_id}

    def edge_of(source: str, target: str) -> str:
        return f"{by_id.get(tails.get(source, source))}>{by_id.get(heads.get(target, target))}"

    def edge(match: re.Match) -> str:
        source, _, target = html.unescape(match.group(2)).partition("->")
        return (f'<g id="{match.group(1)}" class="edge" data-edge="{edge_of(source, target)}">\n'
                f"<title>{match.group(2)}</title>")

    svg = re.sub(r'<g id="(node\d+)" class="node">\s*<title>([^<]*)</title>', node, svg)
    svg = re.sub(r'<g id="(edge\d+)" class="edge">\s*<title>([^<]*)</title>', edge, svg)
    return svg.replace("<svg ", '<svg role="img" aria-label="the computation graph" ', 1)


def _own(bp: BackwardPass, keys: dict[Symbol, str], digits: int) -> str:
    """The graph laid out here, left to right by level."""
    graph = bp.graph
    level: dict[Symbol, int] = {s: 0 for s in graph.leaves}
    for node in graph.nodes:
        level[node.symbol] = 1 + max((level[v] for v in node.inputs), default=0)
    columns: dict[int, list[Symbol]] = {}
    for symbol in keys:
        columns.setdefault(level[symbol], []).append(symbol)
    inputs = {n.symbol: n.inputs for n in graph.nodes}
    row: dict[Symbol, float] = {}
    for depth in sorted(columns):
        column = columns[depth]
        if depth:
            column.sort(key=lambda s: sum(row[v] for v in inputs[s]) / max(len(inputs[s]), 1))
        for k, symbol in enumerate(column):
            row[symbol] = k
    texts = {s: _lines(bp, s, digits) for s in keys}
    size = {s: (max(len(t) for t in texts[s]) * _CHAR + 16, len(texts[s]) * _LINE + 10) for s in keys}
    x, place = 10.0, {}
    heights = {d: sum(size[s][1] + 18 for s in c) for d, c in columns.items()}
    tallest = max(heights.values())
    for depth in sorted(columns):
        width = max(size[s][0] for s in columns[depth])
        y = 10 + (tallest - heights[depth]) / 2
        for symbol in columns[depth]:
            place[symbol] = (x + (width - size[symbol][0]) / 2, y)
            y += size[symbol][1] + 18
        x += width + 70
    parts = []
    params, output = set(graph.params), graph.output
    for node in graph.nodes:
        for v in dict.fromkeys(node.inputs):
            (x1, y1), (w1, h1) = place[v], size[v]
            (x2, y2), (_, h2) = place[node.symbol], size[node.symbol]
            a, b = (x1 + w1, y1 + h1 / 2), (x2 - 6, y2 + h2 / 2)
            middle = (a[0] + b[0]) / 2
            locals_ = [s for s in bp.steps if s.node == node.symbol and s.input == v]
            tip = "; ".join(f"∂{graph.label(node.symbol)}/∂{graph.label(v)} = "
                            f"{format_expr(labelled(bp, s.local.expr), digits)}" for s in locals_)
            parts.append(
                f'<g class="edge" data-edge="{edge_key(keys, v, node.symbol)}"><title>{html.escape(tip)}</title>'
                f'<path d="M{a[0]:.1f},{a[1]:.1f} C{middle:.1f},{a[1]:.1f} {middle:.1f},{b[1]:.1f} {b[0]:.1f},{b[1]:.1f}"'
                f' fill="none" stroke="#555"/><polygon points="{b[0]:.1f},{b[1] - 4:.1f} {b[0] + 6:.1f},{b[1]:.1f} '
                f'{b[0]:.1f},{b[1] + 4:.1f}" fill="#555" stroke="#555"/></g>'
            )
    for symbol, key in keys.items():
        (x0, y0), (w, h) = place[symbol], size[symbol]
        fill = "#e8ffe8" if symbol == output else "#e8f4ff" if symbol in params else "#ffffff"
        lines = "".join(
            f'<text x="{x0 + 8:.1f}" y="{y0 + 17 + k * _LINE:.1f}"{_BOLD if k == 0 else ""}>{html.escape(t)}</text>'
            for k, t in enumerate(texts[symbol])
        )
        parts.append(f'<g class="node" data-key="{key}"><title>{html.escape(graph.label(symbol))}</title>'
                     f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" rx="5" fill="{fill}" '
                     f'stroke="#333"/>{lines}</g>')
    width = x - 60
    height = tallest + 10
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="the computation graph" '
            f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'font-family="Helvetica, Arial, sans-serif" font-size="11">{"".join(parts)}</svg>')


def graph_svg(bp: BackwardPass, *, digits: int = DEFAULT_DIGITS, graphviz: bool | None = None) -> tuple[str, str]:
    """The graph as inline SVG and who drew it (``"Graphviz"``, ``"symprop"``), or ``("", why)`` for a
    graph too large to draw. ``graphviz=False`` always uses the layout here."""
    keys = node_keys(bp)
    if len(keys) > MAX_DRAWN:
        return "", f"the graph has {len(keys):,} leaves and nodes, too many to draw legibly on a page"
    if graphviz is not False and shutil.which("dot"):
        try:
            drawn = _graphviz(bp, keys, digits)
        except SympropError:
            drawn = None
        if drawn is not None:
            return _readable(drawn, 0.7), "Graphviz"
    return _readable(_own(bp, keys, digits), 0.85), "symprop"


def _readable(svg: str, scale: float) -> str:
    """The drawing with a least width (``scale`` of its own): fitted to a narrow page, a wide graph would
    shrink its text to specks, so it scrolls sideways instead (print still fits it to the paper)."""
    match = re.match(r'<svg [^>]*?\bwidth="([\d.]+)(pt|px)?"', svg)
    if match is None:
        return svg
    least = float(match.group(1)) * scale
    return svg.replace("<svg ", f'<svg style="min-width: {least:.0f}{match.group(2) or "px"}" ', 1)
