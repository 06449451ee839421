"""The walkthrough as plain text: no colour codes, for pipes, files and tests.

Forward pass, then the backward pass right to left (one line per chain-rule
step, with the fan-out sums), then the gradient of each parameter.
"""

from __future__ import annotations

import sympy

from ..backprop import BackwardPass, FanIn, Step
from .numbers import DEFAULT_DIGITS, format_expr, format_value

__all__ = ["render_text", "step_line", "fan_in_line"]


def _d(out: str, v: str) -> str:
    return f"d{out}/d{v}"


def step_line(bp: BackwardPass, step: Step, digits: int = DEFAULT_DIGITS) -> str:
    """``dJ/dc = dJ/da · ∂a/∂c = d · 1 = 3 · 1 = 3``: total, factors, symbols, numbers."""
    out, label = bp.graph.output.name, bp.graph.label
    n, v = label(step.node), label(step.input)
    via = f" (via {n})" if bp.adjoints[step.input].is_fan_in else ""
    return (
        f"{_d(out, v)}{via} = {_d(out, n)} · ∂{n}/∂{v}"
        f" = {_paren(format_expr(step.upstream.expr, digits))} · {_paren(format_expr(step.local.expr, digits))}"
        f" = {_paren(_short(step.upstream.value, digits))} · {_paren(_short(step.local.value, digits))}"
        f" = {_short(step.product.value, digits)}"
    )


def fan_in_line(bp: BackwardPass, event: FanIn, digits: int = DEFAULT_DIGITS) -> str:
    """``dJ/dw = (via b) + (via a) = 0.149 + 0.597 = 0.746``."""
    out, label = bp.graph.output.name, bp.graph.label
    adjoint = event.adjoint
    vias = " + ".join(f"(via {label(s.node)})" for s in adjoint.steps)
    values = " + ".join(_paren(_short(s.product.value, digits)) for s in adjoint.steps)
    return f"{_d(out, label(adjoint.symbol))} = {vias} = {values} = {_short(adjoint.value, digits)}"


def _short(value: sympy.Expr, digits: int) -> str:
    return format_value(value, digits, closed_form=False)


def _paren(text: str) -> str:
    if text.startswith("≈"):
        return text
    simple = text.replace(".", "").replace("/", "").replace("*", "").replace("_", "")
    if simple.lstrip("-").isalnum() and not text.startswith("-"):
        return text
    return f"({text})"


def render_text(bp: BackwardPass, *, digits: int = DEFAULT_DIGITS, expanded: bool = True) -> str:
    """The whole walkthrough as text."""
    graph, out = bp.graph, bp.graph.output.name
    lines = ["Forward pass"]
    leaves = ", ".join(f"{graph.label(s)} = {format_value(bp.values[s], digits)}" for s in graph.leaves)
    lines.append(f"  at {leaves}")
    width = max(len(f"{graph.label(n.symbol)} = {format_expr(n.formula, digits)}") for n in graph.nodes)
    for node in graph.nodes:
        text = f"{graph.label(node.symbol)} = {format_expr(node.formula, digits)}"
        lines.append(f"  {text:<{width}}  = {format_value(bp.values[node.symbol], digits)}")
    lines.append(f"  loss {out} = {format_value(bp.loss, digits)}")
    lines.append("")
    lines.append("Backward pass, right to left: d(loss)/d(input) = d(loss)/d(node) · ∂node/∂input")
    lines.append(f"  {_d(out, out)} = 1")
    for event in bp.timeline():
        if isinstance(event, FanIn):
            lines.append("  " + fan_in_line(bp, event, digits))
        else:
            lines.append("  " + step_line(bp, event, digits))
    lines.append("")
    lines.append("Gradients")
    for name, adjoint in bp.gradients.items():
        lines.append(f"  {_d(out, graph.label(adjoint.symbol))} = {format_value(adjoint.value, digits)}")
        lines.append(f"      compact:  {format_expr(adjoint.compact, digits)}")
        if expanded:
            lines.append(f"      expanded: {_expanded_text(adjoint, digits)}")
    return "\n".join(lines) + "\n"


def _expanded_text(adjoint, digits: int) -> str:
    from ..errors import LimitError

    try:
        return format_expr(adjoint.expanded, digits)
    except LimitError as error:
        return f"(not shown: {error})"
