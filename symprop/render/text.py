"""The walkthrough as plain text: no colour codes, for pipes, files and tests.

Forward pass, then the backward pass right to left (one line per chain-rule
step, ending with the rule of its local derivative in brackets, and the
fan-out sums), the rules used with their general forms, then the gradient of
each parameter, and the update when a learning rate is given. Every line fits
the width (80 columns unless told): long lines break before an ``=``, aligned
under the first one, and anything still too long is wrapped at spaces.
"""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

import sympy

from ..backprop import BackwardPass
from ..errors import LimitError
from ..notation import paren
from ..rules import TABLE
from .numbers import DEFAULT_DIGITS, float_text, format_expr, format_value, is_long_exact
from .walkthrough import StepRow, SumRow, Walkthrough, labelled, used_nodes

if TYPE_CHECKING:  # pragma: no cover
    from ..nn.forms import GradientForms

__all__ = ["render_text", "render_gradients", "render_gradient_forms", "gradient_text", "step_line", "named_upstreams",
           "sum_line", "rule_lines", "fit", "paren", "WIDTH", "MAX_EXPANDED_LINES"]

#: Lines are kept to this many columns.
WIDTH = 80

#: ``grad --expanded`` shows an expanded form over at most this many lines, then cuts it with a note.
MAX_EXPANDED_LINES = 6


def _join(head: str, parts: list[str], width: int, indent: int) -> list[str]:
    """``head = p1 = p2 ...``, breaking before an ``=`` where a line would pass ``width``; a form equal
    to the one before it is written once."""
    lines = [head]
    pad = " " * (len(head.split(" = ")[0]) + 1)
    last = head.split(" = ")[-1]
    for part in parts:
        first, _, rest = part.partition(" = ")
        if first == last:  # ``1 · 1/2 = 1 · 1/2``: the factors already were numbers; say it once
            if not rest:
                continue
            part = rest
        last = part.split(" = ")[-1]
        piece = f" = {part}"
        if indent + len(lines[-1]) + len(piece) > width and len(lines[-1].strip()) > 1:
            lines.append(f"{pad}= {part}")
        else:
            lines[-1] += piece
    return lines


def _tag(lines: list[str], tag: str, width: int, indent: int) -> list[str]:
    """``tag`` at the end of the last line, or on a line of its own where it does not fit."""
    if not tag:
        return lines
    if indent + len(lines[-1]) + 2 + len(tag) <= width:
        return lines[:-1] + [f"{lines[-1]}  {tag}"]
    pad = " " * (len(lines[0]) - len(lines[0].lstrip()) + 4)
    return lines + [pad + tag]


def step_line(walk: Walkthrough, row: StepRow, *, width: int = WIDTH, indent: int = 2,
              by_name: bool | None = None) -> list[str]:
    """``dJ/dc = dJ/da · ∂a/∂c = d · 1 = 3 · 1 = 3  [sum]``: total, factors, symbols, numbers, rule.

    The upstream factor is written as its expression (``d``) or by its name
    (``dJ/da``) the same way in every step out of a node: ``by_name`` says
    which (None decides it from the walkthrough, as :func:`named_upstreams`).
    """
    if by_name is None:
        by_name = row.node in named_upstreams(walk, width=width, indent=indent)
    return _step_lines(walk, row, width, indent, by_name)


def named_upstreams(walk: Walkthrough, *, width: int = WIDTH, indent: int = 2) -> set[str]:
    """The nodes whose upstream factor the steps write by name ``dL/dn``: those whose expression
    is long (the walkthrough leaves it out), or would take a step out of the node past two lines
    (the symbols, then the numbers) where the name would not."""
    named = set()
    for row in walk.backward:
        if isinstance(row, StepRow) and row.node not in named:
            if row.upstream is None or (not walk.full and len(_step_lines(walk, row, width, indent, False))
                                        > max(2, len(_step_lines(walk, row, width, indent, True)))):
                named.add(row.node)
    return named


def _step_lines(walk: Walkthrough, row: StepRow, width: int, indent: int, by_name: bool) -> list[str]:
    digits, step, number = walk.digits, row.step, walk.number
    n, v = row.node, row.input
    via = f" (via {row.branch})" if row.via else ""
    head = f"{walk.d(v)}{via} = {walk.d(n)} · ∂{n}/∂{v}"
    local = paren(format_expr(row.local, digits))
    numbers = f"{paren(number(step.upstream.value))} · {paren(number(step.local.value))}"
    numbers += f" = {number(step.product.value)}"
    tag = f"[{row.rule.name}]" if row.rule else ""

    def tagged(parts: list[str]) -> list[str]:  # the rule at the end, breaking earlier to make room
        joined = _join(head, parts, width, indent)
        if tag and indent + len(joined[-1]) + 2 + len(tag) > width:
            narrower = _join(head, parts, width - len(tag) - 2, indent)
            if len(narrower) <= len(joined) + 1 and indent + len(narrower[-1]) + 2 + len(tag) <= width:
                joined = narrower
        return _tag(joined, tag, width, indent)

    if step.upstream.expr.is_Number and step.local.expr.is_Number:  # the symbols are the numbers
        return tagged([numbers])
    if step.upstream.expr.is_Number:
        upstream = number(step.upstream.value)
    elif by_name or row.upstream is None:
        upstream = walk.d(n)
    else:
        upstream = format_expr(row.upstream, digits)
    return tagged([f"{paren(upstream)} · {local}", numbers])


def sum_line(walk: Walkthrough, row: SumRow, *, width: int = WIDTH, indent: int = 2) -> list[str]:
    """``dJ/dw = (via b) + (via a) = 0.149 + 0.597 = 0.746``."""
    number = walk.number
    vias = " + ".join(f"(via {n})" for n in row.vias)
    values = " + ".join(paren(number(v)) for v in row.values)
    total = f"{values} = {number(row.adjoint.value)}"
    joined = _join(f"{walk.d(row.input)} = {vias}", [total], width, indent)
    if max(len(line) for line in joined) + indent <= width:
        return joined
    pad = " " * (len(walk.d(row.input)) + 1)
    wrap = lambda text, first: textwrap.wrap(  # noqa: E731
        text, width - indent, initial_indent=first, subsequent_indent=pad + "  ",
        break_long_words=False, break_on_hyphens=False,
    )
    glued = " + ".join("(via\x00" + n.replace(" ", "\x00") + ")" for n in row.vias)  # never break a "(via n)"
    return [line.replace("\x00", " ") for line in wrap(glued, f"{walk.d(row.input)} = ")] + wrap(total, f"{pad}= ")


def rule_lines(walk: Walkthrough, *, width: int = WIDTH) -> list[str]:
    """The rules the steps used, each with its general forms (``product  ∂(u·v)/∂u = v, ...``)."""
    used = {rule.name for rule in walk.rules}
    entries = [entry for entry in TABLE if entry.name in used]
    if not entries:
        return []
    column = max(len(entry.name) for entry in entries)
    lines = ["Rules used (the general form of each local derivative; symprop rules lists all)"]
    for entry in entries:
        forms = ", ".join(text for text, _ in entry.forms)
        lines += _wrap(f"  {entry.name:<{column}}  ", forms, width)
    return lines


def render_text(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    width: int = WIDTH,
    exact_forms: bool = False,
) -> str:
    """The whole walkthrough as text.

    Args:
        bp: the recorded backward pass.
        digits: significant digits of the decimals.
        expanded: True shows every expanded gradient and upstream expression
            in full; None (default) only the short ones; False none.
        lr: a learning rate: adds the update ``w <- w - lr * dL/dw``.
        width: no line is longer.
        exact_forms: print every exact value exactly, not only the short ones.
    """
    walk = Walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms)
    return "\n".join(fit(lines(walk, width=width), width)) + "\n"


def lines(walk: Walkthrough, *, width: int = WIDTH) -> list[str]:
    """The walkthrough's lines (without newlines)."""
    digits, out, number = walk.digits, walk.out, walk.number
    leaves = [r for r in walk.forward if r.formula is None]
    nodes = [r for r in walk.forward if r.formula is not None]
    result = ["Forward pass"]
    result += _wrap_list("  at ", [f"{r.label} = {number(r.value)}" for r in leaves], width)
    if walk.note:
        result += _wrap("  (", walk.note + ")", width)
    texts = [f"{r.label} = {format_expr(r.formula, digits, written=r.written)}" for r in nodes]
    values = [number(r.value) for r in nodes]
    room = width - 6 - max(len(v) for v in values)
    column = max([len(t) for t in texts if len(t) <= room] or [max(room, 1)])
    for text, value in zip(texts, values):
        if len(text) <= column:
            result.append(f"  {text:<{column}}  = {value}")
        else:
            result += [f"  {text}", f"  {'':<{column}}  = {value}" if column + 6 + len(value) <= width
                       else f"      = {value}"]
    result.append(f"  loss {out} = {number(walk.loss)}")
    result.append("")
    result.append("Backward pass, right to left: d(loss)/d(input) = d(loss)/d(node) · ∂node/∂input")
    result.append(f"  {walk.d(out)} = 1")
    named = named_upstreams(walk, width=width)
    for row in walk.backward:
        event = (step_line(walk, row, width=width, by_name=row.node in named) if isinstance(row, StepRow)
                 else sum_line(walk, row, width=width))
        result += ["  " + line for line in event]
    rules = rule_lines(walk, width=width)
    if rules:
        result += [""] + rules
    result.append("")
    result.append("Gradients")
    for row in walk.gradients:
        result.append(f"  {walk.d(row.label)} = {number(row.value)}")
        result += _wrap("      compact:  ", format_expr(row.compact, digits), width)
        if row.expanded is not None:
            result += _wrap("      expanded: ", format_expr(row.expanded, digits), width)
    if walk.omitted:
        result += _wrap("  (", f"{walk.omitted})", width)
    if walk.updates:
        result.append("")
        eta = number(walk.lr)
        result.append(f"Update, w <- w - eta · d{out}/dw, with eta = {eta}")
        for row in walk.updates:
            head = f"{row.label} <- {row.label} - eta · {walk.d(row.label)}"
            factors = f"{number(row.old)} - {paren(eta)} · {paren(number(row.grad))}"
            result += ["  " + line for line in _join(head, [factors, number(row.new)], width, 2)]
    return result


def render_gradients(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool = False,
    width: int = WIDTH,
    exact_forms: bool = False,
) -> str:
    """``symprop grad`` as text: the loss, each parameter's gradient and compact form, the nodes
    those forms use (so no name is left unexplained), and with ``expanded`` the expanded forms
    (each cut after :data:`MAX_EXPANDED_LINES` lines, with a note)."""
    graph, out = bp.graph, bp.graph.label(bp.graph.output)
    value = lambda v: format_value(v, digits, exact=exact_forms)  # noqa: E731
    grads = bp.gradients
    shown = [bp.loss, *(a.value for a in grads.values())]
    note = None
    if not exact_forms and any(is_long_exact(v) for v in shown):
        note = f"(long exact values are shown as {digits}-digit decimals; --exact-forms shows them)"
    entries = []
    for name, adjoint in grads.items():
        text = None
        if expanded:
            try:
                text = format_expr(labelled(bp, adjoint.expanded), digits)
            except LimitError as error:
                text = f"(not shown: {error})"
        entries.append((name, value(adjoint.value), format_expr(labelled(bp, adjoint.compact), digits), text))
    compacts = [a.compact for a in grads.values()]
    where = []
    for node in used_nodes(bp, compacts):
        text = format_expr(labelled(bp, node.formula, written=node.op is not None), digits,
                           written=node.op is not None)
        where.append((graph.label(node.symbol), text, value(bp.values[node.symbol])))
    named = [(graph.label(v), value(bp.adjoints[v].value)) for v, symbol in bp.adjoint_symbols.items()
             if any(symbol in c.free_symbols for c in compacts)]
    return gradient_text(out, value(bp.loss), entries, where, named, note=note, width=width)


def render_gradient_forms(forms: "GradientForms", *, digits: int = DEFAULT_DIGITS, width: int = WIDTH) -> str:
    """``symprop grad`` as text from a network's forms written per pattern (:mod:`symprop.nn.forms`):
    the same text as :func:`render_gradients` of the scalar pass."""
    value = lambda v: float_text(v, digits)  # noqa: E731
    return gradient_text(
        forms.output, value(forms.loss), [(label, value(v), compact, None) for label, v, compact in forms.entries],
        [(label, formula, value(v)) for label, formula, v in forms.where],
        [(label, value(v)) for label, v in forms.named], width=width,
    )


def gradient_text(out: str, loss: str, entries: list[tuple[str, str, str, str | None]],
                  where: list[tuple[str, str, str]], named: list[tuple[str, str]], *, note: str | None = None,
                  width: int = WIDTH) -> str:
    """The lines of ``symprop grad``, from finished text: per parameter its label, value, compact form
    and expanded form (or None); the nodes the forms use (label, formula, value); the gradients
    written by name (label, value)."""
    result = [f"{out} = {loss}"] + ([note] if note else [])
    for name, value, compact, expanded in entries:
        result.append(f"d{out}/d{name} = {value}")
        result += _wrap("    compact:  ", compact, width)
        if expanded is not None:
            wrapped = _wrap("    expanded: ", expanded, width)
            if len(wrapped) > MAX_EXPANDED_LINES:
                rest = len(expanded) - sum(len(line.strip()) + 1 for line in wrapped[:MAX_EXPANDED_LINES - 1]) + 1
                wrapped = wrapped[: MAX_EXPANDED_LINES - 1] + [
                    f"{' ' * 14}... ({rest:,} more characters; grad --json --expanded gives it whole)"]
            result += wrapped
    if where or named:
        result.append("where")
    for label, formula, value in where:
        result += _wrap(f"  {label} = ", f"{formula} = {value}", width)
    for label, value in named:
        result += _wrap(f"  d{out}/d{label} = ", f"{value} (the gradient at node {label}; "
                        "its form is long, so it is written by name)", width)
    return "\n".join(fit(result, width)) + "\n"


def fit(lines: list[str], width: int = WIDTH) -> list[str]:
    """Every line at most ``width`` columns: a longer one is wrapped at spaces, indented under itself.

    A word longer than the room left is cut (a very long exact value,
    say); nothing is dropped.
    """
    result = []
    for line in lines:
        if len(line) <= width:
            result.append(line)
            continue
        indent = " " * min(len(line) - len(line.lstrip()) + 4, width // 2)
        result += textwrap.wrap(
            line.strip(), width, initial_indent=line[: len(line) - len(line.lstrip())],
            subsequent_indent=indent, break_long_words=True, break_on_hyphens=False,
        )
    return result


def _wrap(prefix: str, text: str, width: int) -> list[str]:
    """A long expression over several lines, broken at spaces, indented under its start."""
    indent = " " * min(len(prefix), width // 2)
    if text and _PLAIN.fullmatch(text):
        return _fill_words(text, prefix, indent, width)
    return textwrap.wrap(
        text, width, initial_indent=prefix, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    ) or [prefix.rstrip()]


#: Text whose words are separated by single spaces: what ``textwrap`` would split at every space.
_PLAIN = re.compile(r"[^\s]+(?: [^\s]+)*")


def _fill_words(text: str, prefix: str, indent: str, width: int) -> list[str]:
    """``textwrap.wrap`` of words joined by single spaces (no long word broken), a line at a time:
    each line takes the words that fit (it ends at the last space within reach), a word longer
    than the line goes alone. (A gradient's compact form can be a million words: this looks at
    each line once, not at each word.)"""
    lines, start, lead, room = [], 0, prefix, width - len(prefix)
    while len(text) - start > room:
        cut = text.rfind(" ", start, start + room + 1) if room > 0 else -1
        if cut <= start:  # the next word alone is longer than the line
            cut = text.find(" ", start)
            if cut < 0:
                break
        lines.append(lead + text[start:cut])
        start, lead, room = cut + 1, indent, width - len(indent)
    lines.append(lead + text[start:])
    return lines


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
