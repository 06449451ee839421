"""The walkthrough for the terminal, with rich: tables, and colours that show the chain.

In each backward step the upstream factor (``dL/dnode``, known from the right)
is cyan, the local derivative (``∂node/∂input``, new at this node) is
magenta, and their product green. SymPy text goes through ``rich.text.Text``,
never markup, so ``Matrix([[x]])`` and ``[bold]`` print as written.
"""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..backprop import BackwardPass, FanIn
from ..errors import LimitError
from .numbers import DEFAULT_DIGITS, format_expr, format_value

__all__ = ["walkthrough", "render_rich"]

UPSTREAM, LOCAL, PRODUCT, NAME = "cyan", "magenta", "green", "bold"


def _short(value, digits: int) -> str:
    return format_value(value, digits, closed_form=False)


def walkthrough(bp: BackwardPass, *, digits: int = DEFAULT_DIGITS) -> Group:
    """The walkthrough as a rich renderable (forward, backward, gradients)."""
    graph = bp.graph
    out = graph.label(graph.output)

    forward = Table(title="Forward pass", title_justify="left", show_edge=False, highlight=False)
    forward.add_column("node", style=NAME, no_wrap=True)
    forward.add_column("formula", overflow="fold")
    forward.add_column("value", justify="right", overflow="fold")
    for s in graph.leaves:
        forward.add_row(Text(graph.label(s)), Text("(leaf)", style="dim"), Text(format_value(bp.values[s], digits)))
    for node in graph.nodes:
        forward.add_row(
            Text(graph.label(node.symbol)),
            Text(format_expr(node.formula, digits)),
            Text(format_value(bp.values[node.symbol], digits)),
        )

    backward = Table(
        title=f"Backward pass, right to left:  d{out}/d(input) = d{out}/d(node) · ∂node/∂input",
        title_justify="left",
        show_edge=False,
        highlight=False,
    )
    backward.add_column("gradient", style=NAME, no_wrap=True)
    backward.add_column(f"upstream d{out}/d(node)", style=UPSTREAM, overflow="fold")
    backward.add_column("local ∂node/∂input", style=LOCAL, overflow="fold")
    backward.add_column("product", style=PRODUCT, justify="right", overflow="fold")
    backward.add_row(Text(f"d{out}/d{out}"), Text(""), Text(""), Text("1"))
    for event in bp.timeline():
        if isinstance(event, FanIn):
            adjoint = event.adjoint
            parts = " + ".join(_short(s.product.value, digits) for s in adjoint.steps)
            backward.add_row(
                Text(f"d{out}/d{graph.label(adjoint.symbol)}"),
                Text("sum of the branches", style="dim"),
                Text(parts, style="dim"),
                Text(_short(adjoint.value, digits), style="bold " + PRODUCT),
            )
            continue
        step = event
        n, v = graph.label(step.node), graph.label(step.input)
        via = f" via {n}" if bp.adjoints[step.input].is_fan_in else ""
        backward.add_row(
            Text(f"d{out}/d{v}{via}"),
            Text(f"d{out}/d{n} = {format_expr(step.upstream.expr, digits)} = {_short(step.upstream.value, digits)}"),
            Text(f"∂{n}/∂{v} = {format_expr(step.local.expr, digits)} = {_short(step.local.value, digits)}"),
            Text(_short(step.product.value, digits)),
        )

    gradients = Table(title="Gradients", title_justify="left", show_edge=False, highlight=False)
    gradients.add_column("parameter", style=NAME, no_wrap=True)
    gradients.add_column("value", style=PRODUCT, justify="right", overflow="fold")
    gradients.add_column("compact", overflow="fold")
    gradients.add_column("expanded (leaves only)", overflow="fold")
    for name, adjoint in bp.gradients.items():
        try:
            expanded = format_expr(adjoint.expanded, digits)
        except LimitError:
            expanded = "(too large to show)"
        gradients.add_row(
            Text(f"d{out}/d{graph.label(adjoint.symbol)}"),
            Text(format_value(adjoint.value, digits)),
            Text(format_expr(adjoint.compact, digits)),
            Text(expanded),
        )
    loss = Text.assemble(("loss ", "dim"), (out, NAME), " = ", (format_value(bp.loss, digits), PRODUCT))
    return Group(forward, Text(""), loss, Text(""), backward, Text(""), gradients)


def render_rich(bp: BackwardPass, *, digits: int = DEFAULT_DIGITS, color: bool = True, width: int = 100) -> str:
    """The rich walkthrough as a string (with ANSI colours when ``color``)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="truecolor" if color else None,
        highlight=False,
        emoji=False,
    )
    console.print(walkthrough(bp, digits=digits))
    return buffer.getvalue()
