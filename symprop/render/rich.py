"""The walkthrough for the terminal, with rich: tables, and colours that show the chain.

Each backward step is one row, ``dL/dinput = dL/dnode · ∂node/∂input``: the
upstream factor (``dL/dnode``, known from the right) is cyan, the local
derivative (``∂node/∂input``, new at this node) magenta, the product green;
the upstream and local columns give each factor's expression and value, the
rule column the rule of differentiation that gives the local derivative
(its general form under it). A fan-out input gets a row per branch and then
a row with their sum.

SymPy text and labels go through ``rich.text.Text``, never markup, so
``Matrix([[x]])`` and ``[bold]`` print as written; ``highlight=False`` keeps
digits inside formulas uncoloured. :func:`console_for` makes the recording
console that the HTML and SVG exports share.
"""

from __future__ import annotations

import io

import sympy
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..backprop import BackwardPass
from ..rules import Rule
from .numbers import DEFAULT_DIGITS, format_expr
from .walkthrough import StepRow, SumRow, Walkthrough

__all__ = ["walkthrough", "render_rich", "console_for", "UPSTREAM", "LOCAL", "PRODUCT"]

UPSTREAM, LOCAL, PRODUCT, NAME, DIM = "cyan", "magenta", "green", "bold", "dim"

#: In the backward table, a factor's expression longer than this is left to its name.
SHORT_CELL = 20


def _table(title: str, *, box_style=box.SIMPLE_HEAD) -> Table:
    return Table(
        title=Text(title, style="bold underline"),
        title_justify="left",
        box=box_style,
        show_edge=False,
        highlight=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )


def _factor(walk: Walkthrough, name: str, expr: sympy.Expr | None, value: sympy.Expr, style: str, *,
            full: bool) -> Text:
    """A factor's name over its expression and value: ``dJ/dc`` over ``d = 3``."""
    number = walk.number(value)
    text = "" if expr is None else format_expr(expr, walk.digits)
    if expr is None or expr.is_Number or text == number or (len(text) > SHORT_CELL and not full):
        second = Text(number, style=style)
    else:
        joint = " = " if len(text) + len(number) + 3 <= SHORT_CELL else "\n= "
        second = Text.assemble((text, style), (joint, DIM), (number, style))
    return Text.assemble((name, "bold " + style), "\n", second)


def _rule(rule: Rule | None) -> Text:
    """A rule's name over its general form."""
    if rule is None:
        return Text("")
    return Text.assemble((rule.name, "bold"), "\n", (rule.form, DIM))


def _forward(walk: Walkthrough) -> Table:
    digits = walk.digits
    table = _table("Forward pass")
    table.add_column("node", style=NAME, no_wrap=True)
    table.add_column("formula", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    for row in walk.forward:
        formula = (Text(f"({row.kind})", style=DIM) if row.formula is None
                   else Text(format_expr(row.formula, digits, written=row.written)))
        table.add_row(Text(row.label), formula, Text(walk.number(row.value)))
    return table


def _backward(walk: Walkthrough) -> Table:
    d, number = walk.d, walk.number
    table = _table("Backward pass, right to left")
    table.add_column("gradient", style=NAME, no_wrap=True)
    table.add_column("", style=DIM, no_wrap=True)
    table.add_column("upstream", overflow="fold")
    table.add_column("", style=DIM, no_wrap=True)
    table.add_column("local", overflow="fold")
    table.add_column("", style=DIM, no_wrap=True)
    table.add_column("product", style=PRODUCT, justify="right", no_wrap=True)
    table.add_column("rule", overflow="fold")
    table.add_row(Text(d(walk.out)), "=", "", "", "", "", Text("1"), "")
    for row in walk.backward:
        if isinstance(row, SumRow):
            branches = Text.assemble(
                (" + ".join(f"(via {n})" for n in row.vias), "bold " + PRODUCT),
                "\n",
                (" + ".join(number(v) for v in row.values), PRODUCT),
            )
            table.add_row(Text(d(row.input)), "=", branches, "", Text("sum of the branches", style=DIM),
                          "=", Text(number(row.adjoint.value), style="bold " + PRODUCT), Text("fan-in", style=DIM))
            continue
        assert isinstance(row, StepRow)
        step, n, v = row.step, row.node, row.input
        gradient = Text.assemble(d(v), (f"\nvia {row.branch}", DIM)) if row.via else Text(d(v))
        table.add_row(
            gradient,
            "=",
            _factor(walk, d(n), row.upstream, step.upstream.value, UPSTREAM, full=walk.full),
            "·",
            _factor(walk, f"∂{n}/∂{v}", row.local, step.local.value, LOCAL, full=True),
            "=",
            Text(number(step.product.value)),
            _rule(row.rule),
        )
    return table


def _gradients(walk: Walkthrough) -> Table:
    digits = walk.digits
    table = _table("Gradients")
    table.add_column("parameter", style=NAME, no_wrap=True)
    table.add_column("value", style=PRODUCT, justify="right", overflow="fold")
    table.add_column("compact", overflow="fold")
    shown = any(row.expanded is not None for row in walk.gradients)
    if shown:
        table.add_column("expanded (leaves only)", overflow="fold")
    for row in walk.gradients:
        cells = [Text(walk.d(row.label)), Text(walk.number(row.value)), Text(format_expr(row.compact, digits))]
        if shown:
            cells.append(Text("" if row.expanded is None else format_expr(row.expanded, digits)))
        table.add_row(*cells)
    return table


def _updates(walk: Walkthrough) -> Table:
    number = walk.number
    table = _table("Update")
    table.add_column("parameter", style=NAME, no_wrap=True)
    table.add_column("old", justify="right", overflow="fold")
    table.add_column(f"d{walk.out}/dw", style=PRODUCT, justify="right", overflow="fold")
    table.add_column("new", justify="right", style="bold", overflow="fold")
    for row in walk.updates:
        table.add_row(
            Text(row.label),
            Text(number(row.old)),
            Text(number(row.grad)),
            Text(number(row.new)),
        )
    return table


def walkthrough(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    exact_forms: bool = False,
) -> Group:
    """The walkthrough as a rich renderable (forward, backward, gradients, update)."""
    walk = Walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms)
    loss = Text.assemble(("loss ", DIM), (walk.out, NAME), " = ", (walk.number(walk.loss), PRODUCT))
    d = walk.d
    chain = Text.assemble(
        (d("input"), NAME), " = ", (d("node"), UPSTREAM), " · ", ("∂node/∂input", LOCAL),
        ": upstream from the right · local",
        style=DIM,
    )
    parts = [_forward(walk), loss]
    if walk.note:
        parts.append(Text(f"({walk.note})", style=DIM))
    parts += [Text(""), _backward(walk), chain, Text(""), _gradients(walk)]
    if walk.omitted:
        parts.append(Text(f"({walk.omitted})", style=DIM))
    if walk.updates:
        rule = Text.assemble(
            ("w ← w − η · ", DIM), (d("w"), PRODUCT), (f" with η = {walk.number(walk.lr)}", DIM)
        )
        parts += [Text(""), _updates(walk), rule]
    return Group(*parts)


def console_for(file=None, *, width: int | None = None, color: bool = True, record: bool = False) -> Console:
    """A console that prints our Text as written: no markup guessing, no highlighting."""
    return Console(
        file=file if file is not None else io.StringIO(),
        width=width,
        force_terminal=color,
        color_system="truecolor" if color else None,
        no_color=not color,
        highlight=False,
        emoji=False,
        markup=False,
        record=record,
    )


def render_rich(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    color: bool = True,
    width: int | None = 80,
    exact_forms: bool = False,
) -> str:
    """The rich walkthrough as a string (with ANSI colours when ``color``).

    ``width=None`` takes the terminal's width.
    """
    buffer = io.StringIO()
    console = console_for(buffer, width=width, color=color)
    if width is None:
        console.width = Console().width
    console.print(walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms))
    return buffer.getvalue()
