"""What a graph picture shows, before any layout: boxes (a heading, then value and gradient) and wires.

:func:`scalar_drawing` gives one box per leaf and node of a recorded backward
pass (or of a bare graph, its formulas only); each step of the pass labels its
wire with the local derivative, its value and its rule.
:mod:`symprop.render.dot_layers` groups the same boxes by layer;
:mod:`symprop.render.dot` lays either out and writes DOT.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from ..backprop import BackwardPass
from ..errors import SympropError
from ..graph import Graph
from .numbers import DEFAULT_DIGITS, format_expr, format_value
from .walkthrough import labelled

__all__ = ["Box", "Wire", "Drawing", "scalar_drawing", "parts", "wrap", "WRAP"]

#: Formulas in boxes wrap at about this many characters.
WRAP = 44


@dataclass
class Box:
    """One box of the picture: a heading (possibly several lines) and rows of ``(value, grad)`` text."""

    id: str
    head: list[str]
    rows: list[str] = field(default_factory=list)
    kind: str = "node"  # param | input | node | output


@dataclass
class Wire:
    """An edge from ``tail`` to ``head``; with a label, it passes through a label box."""

    tail: str
    head: str
    label: list[str] = field(default_factory=list)


@dataclass
class Drawing:
    """Boxes and wires, in the order they are drawn."""

    boxes: list[Box]
    wires: list[Wire]


def wrap(text: str, width: int = WRAP) -> list[str]:
    """A formula as lines of about ``width`` characters, broken at spaces (``+``, ``-`` stay with their term)."""
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [text]


def parts(source: BackwardPass | Graph) -> tuple[Graph, BackwardPass | None]:
    if isinstance(source, BackwardPass):
        return source.graph, source
    if isinstance(source, Graph):
        return source, None
    raise SympropError(f"a graph picture needs a Graph or a BackwardPass, not {type(source).__name__}")


def scalar_drawing(source: BackwardPass | Graph, *, digits: int = DEFAULT_DIGITS) -> Drawing:
    """One box per leaf and node; each step of the backward pass labels its edge."""
    graph, bp = parts(source)
    ids = {s: f"n{i}" for i, s in enumerate((*graph.leaves, *(n.symbol for n in graph.nodes)))}
    params = set(graph.params)
    nodes = {n.symbol: n for n in graph.nodes}
    boxes = []
    for symbol, node_id in ids.items():
        label = graph.label(symbol)
        if symbol in nodes:
            node = nodes[symbol]
            written = node.op is not None
            formula = labelled(bp, node.formula, written=written) if bp else node.formula
            head = wrap(f"{label} = {format_expr(formula, digits, written=written)}")
            kind = "output" if symbol == graph.output else "node"
        else:
            head = [f"{label} ({'parameter' if symbol in params else 'input'})"]
            kind = "param" if symbol in params else "input"
        rows = []
        if bp is not None:
            rows.append(f"value {format_value(bp.values[symbol], digits)}")
            if symbol in bp.adjoints:
                rows.append(f"grad {format_value(bp.adjoints[symbol].value, digits)}")
        boxes.append(Box(node_id, head, rows, kind))
    taken: dict = {}
    for step in bp.steps if bp else ():
        taken.setdefault(step.node, []).append(step)
    wires = []
    for node in graph.nodes:
        steps = taken.get(node.symbol, [])
        for step in steps:
            n, i = graph.label(node.symbol), graph.label(step.input)
            local = format_expr(labelled(bp, step.local.expr), digits)
            lines = [f"∂{n}/∂{i}", f"= {local}"]
            if not step.local.expr.is_Number:
                lines[-1] += f" = {format_value(step.local.value, digits)}"
            if step.rule is not None:
                lines.append(step.rule.name + (f", as {step.operand}" if step.operand else ""))
            wires.append(Wire(ids[step.input], ids[node.symbol], [*lines[:1], *wrap(lines[1], 28), *lines[2:]]))
        for v in node.inputs:
            if not any(step.input == v for step in steps):
                wires.append(Wire(ids[v], ids[node.symbol]))
    return Drawing(boxes, wires)
