"""The computation graph as Graphviz DOT, values and gradients on the nodes (as micrograd's drawing).

Each leaf and node is a record ``{ name = formula | value v | grad g }``
(the formula as written); each edge runs from an input to the node that uses
it, labelled with the local derivative and its rule where the backward pass
took one (an input used twice by one operation, ``x/x``, has an edge each). Every label is escaped for DOT
records, so any formula or label prints as written. :func:`to_svg` runs
Graphviz's ``dot`` when it is installed.
"""

from __future__ import annotations

import shutil
import subprocess

from sympy import Symbol

from ..backprop import BackwardPass
from ..errors import SympropError
from .numbers import DEFAULT_DIGITS, format_expr, format_value
from .walkthrough import labelled

__all__ = ["render_dot", "to_svg", "escape_record", "quote"]

_RECORD_SPECIALS = set('\\{}|<>" ')


def escape_record(text: str) -> str:
    """Text for one field of a DOT record label (``{ } | < > "`` and spaces escaped)."""
    return "".join("\\" + ch if ch in _RECORD_SPECIALS and ch != " " else ch for ch in text)


def quote(text: str) -> str:
    """A DOT quoted string (for ids and edge labels)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(bp: BackwardPass, *, digits: int = DEFAULT_DIGITS, rankdir: str = "LR") -> str:
    """The graph in DOT: leaves and nodes as records, edges from inputs to their nodes."""
    graph = bp.graph
    short = lambda v: format_value(v, digits)  # noqa: E731
    ids = {s: f"n{i}" for i, s in enumerate((*graph.leaves, *(n.symbol for n in graph.nodes)))}
    lines = [
        "digraph symprop {",
        f"  rankdir={rankdir};",
        '  node [shape=record, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    ]
    params = set(graph.params)
    nodes = {n.symbol: n for n in graph.nodes}
    for symbol, node_id in ids.items():
        label = graph.label(symbol)
        if symbol in nodes:
            written = nodes[symbol].op is not None
            formula = labelled(bp, nodes[symbol].formula, written=written)
            head = f"{label} = {format_expr(formula, digits, written=written)}"
        else:
            head = f"{label} ({'parameter' if symbol in params else 'input'})"
        fields = [head, f"value {format_value(bp.values[symbol], digits)}"]
        if symbol in bp.adjoints:
            fields.append(f"grad {short(bp.adjoints[symbol].value)}")
        record = " | ".join(escape_record(f) for f in fields)
        style = ', style=filled, fillcolor="#e8f4ff"' if symbol in params else ""
        if symbol == graph.output:
            style = ', style=filled, fillcolor="#e8ffe8"'
        lines.append(f'  {node_id} [label="{{ {record} }}"{style}];')
    steps: dict[Symbol, list] = {}
    for step in bp.steps:
        steps.setdefault(step.node, []).append(step)
    for node in graph.nodes:
        taken = steps.get(node.symbol, [])
        for step in taken:
            n, i = graph.label(node.symbol), graph.label(step.input)
            text = f"∂{n}/∂{i} = {format_expr(labelled(bp, step.local.expr), digits)}"
            if not step.local.expr.is_Number:
                text += f" = {short(step.local.value)}"
            if step.rule is not None:
                text += f" ({step.rule.name}{', as ' + step.operand if step.operand else ''})"
            lines.append(f"  {ids[step.input]} -> {ids[node.symbol]} [label={quote(text)}];")
        for v in node.inputs:
            if not any(step.input == v for step in taken):
                lines.append(f"  {ids[v]} -> {ids[node.symbol]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(dot_text: str, *, timeout: float = 60) -> str:
    """Run Graphviz's ``dot -Tsvg`` on DOT text.

    Raises:
        SympropError: Graphviz is not installed, or ``dot`` failed.
    """
    program = shutil.which("dot")
    if program is None:
        raise SympropError(
            "SVG needs Graphviz's 'dot' program, which is not installed "
            "(install graphviz, or use --format dot and render it elsewhere)"
        )
    try:
        done = subprocess.run(
            [program, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SympropError(f"Graphviz 'dot' failed: {error}") from None
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
        raise SympropError(f"Graphviz 'dot' failed: {message}")
    return done.stdout
