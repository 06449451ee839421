"""The walkthrough as plain text: no colour codes, for pipes, files and tests.

Forward pass, then the backward pass right to left (one line per chain-rule
step, with the fan-out sums), then the gradient of each parameter, and the
update when a learning rate is given. Lines longer than 80 columns break
before an ``=``, aligned under the first one.
"""

from __future__ import annotations

import re
import textwrap

import sympy

from ..backprop import BackwardPass
from .numbers import DEFAULT_DIGITS, format_expr, format_value
from .walkthrough import StepRow, SumRow, Walkthrough

__all__ = ["render_text", "step_line", "sum_line", "WIDTH"]

#: Lines are kept to this many columns where they can be broken.
WIDTH = 80

#: One function call such as ``Heaviside(z, 0)``: needs no parentheses as a factor.
_CALL = re.compile(r"[A-Za-z_]\w*\((?:[^()]|\([^()]*\))*\)")


def _short(value: sympy.Expr, digits: int) -> str:
    return format_value(value, digits, closed_form=False)


def paren(text: str) -> str:
    """Parenthesise a factor unless it is a plain name or a non-negative number."""
    if text.startswith("≈") or _CALL.fullmatch(text):
        return text
    simple = text.replace(".", "").replace("/", "").replace("*", "").replace("_", "")
    simple = simple.replace("[", "").replace("]", "").replace(",", "")
    if simple.isalnum() and not text.startswith("-"):
        return text
    return f"({text})"


def _join(head: str, parts: list[str], width: int, indent: int) -> list[str]:
    """``head = p1 = p2 ...``, breaking before an ``=`` where a line would pass ``width``."""
    lines = [head]
    pad = " " * (len(head.split(" = ")[0]) + 1)
    for part in parts:
        piece = f" = {part}"
        if indent + len(lines[-1]) + len(piece) > width and len(lines[-1].strip()) > 1:
            lines.append(f"{pad}= {part}")
        else:
            lines[-1] += piece
    return lines


def step_line(walk: Walkthrough, row: StepRow, *, width: int = WIDTH, indent: int = 2) -> list[str]:
    """``dJ/dc = dJ/da · ∂a/∂c = d · 1 = 3 · 1 = 3``: total, factors, symbols, numbers."""
    digits, step = walk.digits, row.step
    n, v = row.node, row.input
    via = f" (via {n})" if row.via else ""
    head = f"{walk.d(v)}{via} = {walk.d(n)} · ∂{n}/∂{v}"
    local = paren(format_expr(row.local, digits))
    numbers = f"{paren(_short(step.upstream.value, digits))} · {paren(_short(step.local.value, digits))}"
    numbers += f" = {_short(step.product.value, digits)}"
    if row.upstream is not None:
        joined = _join(head, [f"{paren(format_expr(row.upstream, digits))} · {local}", numbers], width, indent)
        if len(joined) == 1 or walk.full:
            return joined
    upstream = _short(step.upstream.value, digits) if step.upstream.expr.is_Number else walk.d(n)
    return _join(head, [f"{upstream} · {local}", numbers], width, indent)


def sum_line(walk: Walkthrough, row: SumRow, *, width: int = WIDTH, indent: int = 2) -> list[str]:
    """``dJ/dw = (via b) + (via a) = 0.149 + 0.597 = 0.746``."""
    digits = walk.digits
    vias = " + ".join(f"(via {n})" for n in row.vias)
    values = " + ".join(paren(_short(v, digits)) for v in row.values)
    total = f"{values} = {_short(row.adjoint.value, digits)}"
    joined = _join(f"{walk.d(row.input)} = {vias}", [total], width, indent)
    if max(len(line) for line in joined) + indent <= width:
        return joined
    pad = " " * (len(walk.d(row.input)) + 1)
    wrap = lambda text, first: textwrap.wrap(  # noqa: E731
        text, width - indent, initial_indent=first, subsequent_indent=pad + "  ",
        break_long_words=False, break_on_hyphens=False,
    )
    glued = " + ".join(f"(via\x00{n})" for n in row.vias)  # never break inside "(via n)"
    return [line.replace("\x00", " ") for line in wrap(glued, f"{walk.d(row.input)} = ")] + wrap(total, f"{pad}= ")


def render_text(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    width: int = WIDTH,
) -> str:
    """The whole walkthrough as text.

    Args:
        bp: the recorded backward pass.
        digits: significant digits of floats.
        expanded: True shows every expanded gradient and upstream expression
            in full; None (default) only the short ones; False none.
        lr: a learning rate: adds the update ``w <- w - lr * dL/dw``.
        width: where long lines break.
    """
    walk = Walkthrough(bp, digits=digits, expanded=expanded, lr=lr)
    return "\n".join(lines(walk, width=width)) + "\n"


def lines(walk: Walkthrough, *, width: int = WIDTH) -> list[str]:
    """The walkthrough's lines (without newlines)."""
    digits, out = walk.digits, walk.out
    leaves = [r for r in walk.forward if r.formula is None]
    nodes = [r for r in walk.forward if r.formula is not None]
    result = ["Forward pass"]
    result += _wrap_list("  at ", [f"{r.label} = {format_value(r.value, digits)}" for r in leaves], width)
    texts = [f"{r.label} = {format_expr(r.formula, digits)}" for r in nodes]
    values = [format_value(r.value, digits) for r in nodes]
    room = width - 6 - max(len(v) for v in values)
    column = max([len(t) for t in texts if len(t) <= room] or [room])
    for text, value in zip(texts, values):
        if len(text) <= column:
            result.append(f"  {text:<{column}}  = {value}")
        else:
            result += [f"  {text}", f"  {'':<{column}}  = {value}"]
    result.append(f"  loss {out} = {format_value(walk.loss, digits)}")
    result.append("")
    result.append("Backward pass, right to left: d(loss)/d(input) = d(loss)/d(node) · ∂node/∂input")
    result.append(f"  {walk.d(out)} = 1")
    for row in walk.backward:
        event = step_line(walk, row, width=width) if isinstance(row, StepRow) else sum_line(walk, row, width=width)
        result += ["  " + line for line in event]
    result.append("")
    result.append("Gradients")
    for row in walk.gradients:
        result.append(f"  {walk.d(row.label)} = {format_value(row.value, digits)}")
        result += _wrap_expr("      compact:  ", format_expr(row.compact, digits), width)
        if row.expanded is not None:
            result += _wrap_expr("      expanded: ", format_expr(row.expanded, digits), width)
    if walk.omitted:
        result += _wrap_expr("  ", f"({walk.omitted})", width)
    if walk.updates:
        result.append("")
        eta = format_value(walk.lr, digits)
        result.append(f"Update, w <- w - eta · d{out}/dw, with eta = {eta}")
        for row in walk.updates:
            head = f"{row.label} <- {row.label} - eta · {walk.d(row.label)}"
            factors = f"{format_value(row.old, digits)} - {paren(eta)} · {paren(_short(row.grad, digits))}"
            result += ["  " + line for line in _join(head, [factors, format_value(row.new, digits)], width, 2)]
    return result


def _wrap_expr(prefix: str, text: str, width: int) -> list[str]:
    """A long expression over several lines, broken at spaces, indented under its start."""
    return textwrap.wrap(
        text, width, initial_indent=prefix, subsequent_indent=" " * len(prefix),
        break_long_words=False, break_on_hyphens=False,
    ) or [prefix.rstrip()]


def _wrap_list(prefix: str, items: list[str], width: int) -> list[str]:
    """``prefix a = 1, b = 2, ...`` over as many lines as it takes."""
    lines = [prefix.rstrip() + " "]
    for item in items:
        piece = item if lines[-1].endswith(" ") else f", {item}"
        if len(lines[-1]) + len(piece) > width and lines[-1].strip() not in ("", prefix.strip()):
            lines[-1] += ","
            lines.append(" " * len(prefix) + item)
        else:
            lines[-1] += piece
    return lines
