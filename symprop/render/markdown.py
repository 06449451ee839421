"""The walkthrough as Markdown: headings and pipe tables, to paste into notes or a README.

Formulas are code spans (``math=False``, readable anywhere) or LaTeX math
``$...$`` (``math=True``, for Jupyter and other renderers with MathJax). Cell
text is escaped for tables (``|``) and code spans pick a fence longer than any
backtick run inside, so labels print as written. The backward table has a
rule column: each step's rule of differentiation with its general form.
"""

from __future__ import annotations

import re
from typing import Callable

import sympy

from ..backprop import BackwardPass
from ..rules import Rule
from .latex import latex_expr, latex_label, latex_value
from .numbers import DEFAULT_DIGITS, format_expr
from .walkthrough import StepRow, SumRow, Walkthrough

__all__ = ["render_markdown", "code", "table"]


def code(text: str) -> str:
    """A Markdown code span that shows ``text`` as written, backticks included."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _plain(text: str) -> str:
    """A number as is, or as a code span where Markdown would read its ``*`` or ``_``."""
    return code(text) if re.search(r"[*_`<>\[\]\\]", text) else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """A pipe table; ``align`` is one of ``l``/``r`` per column."""
    align = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


class _Writer:
    """How one walkthrough writes names, expressions and numbers: code spans or math."""

    def __init__(self, walk: Walkthrough, math: bool):
        self.walk, self.math, digits, out = walk, math, walk.digits, walk.out
        exact = walk.exact_forms
        if math:
            self.name: Callable[[str], str] = lambda label: f"${latex_label(label, out)}$"
            self.expr: Callable[[sympy.Expr], str] = lambda e: f"${latex_expr(e, digits, out)}$"
            self.written = lambda e: f"${latex_expr(e, digits, out, written=True)}$"
            self.value: Callable[[sympy.Expr], str] = lambda v: f"${latex_value(v, digits, exact=exact)}$"
            self.d: Callable[[str], str] = lambda label: (
                rf"$\frac{{\partial {latex_label(out)}}}{{\partial {latex_label(label, out)}}}$"
            )
            self.partial = lambda n, v: rf"$\frac{{\partial {latex_label(n)}}}{{\partial {latex_label(v)}}}$"
            self.form = lambda rule: f"${rule.latex}$"
        else:
            self.name = code
            self.expr = lambda e: code(format_expr(e, digits))
            self.written = lambda e: code(format_expr(e, digits, written=True))
            self.value = lambda v: _plain(walk.number(v))
            self.d = lambda label: code(walk.d(label))
            self.partial = lambda n, v: code(f"∂{n}/∂{v}")
            self.form = lambda rule: rule.form
        self.short = self.value

    def branch(self, via: str) -> str:
        """A branch ``d`` or ``div1 as u``, the node's name written as a name."""
        node, _, operand = via.partition(" as ")
        return self.name(node) + (f" as {operand}" if operand else "")

    def rule(self, rule: Rule | None) -> str:
        """``product: ∂(u·v)/∂u = v`` (the name, then each general form)."""
        if rule is None:
            return ""
        singles = rule.parts or (rule,)
        return "; ".join(f"{r.name}: {self.form(r)}" for r in singles)

    def factor(self, expr: sympy.Expr | None, value: sympy.Expr) -> str:
        """``expr = value``, or the value alone where the expression is a number or left out."""
        if expr is None or expr.is_Number:
            return self.short(value)
        return f"{self.expr(expr)} = {self.short(value)}"


def render_markdown(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    math: bool = False,
    heading: str = "##",
    exact_forms: bool = False,
) -> str:
    """The walkthrough as Markdown.

    Args:
        math: formulas as LaTeX math ``$...$`` instead of code spans.
        heading: the Markdown heading level of each section.
    """
    walk = Walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms)
    w = _Writer(walk, math)
    out = walk.out
    lines = [f"{heading} Forward pass", ""]
    lines += table(
        ["node", "formula", "value"],
        [[w.name(r.label), f"*{r.kind}*" if r.formula is None else (w.written if r.written else w.expr)(r.formula),
          w.value(r.value)] for r in walk.forward],
        "llr",
    )
    lines += ["", f"Loss: {w.name(out)} = {w.value(walk.loss)}", ""]
    if walk.note:
        lines += [f"({walk.note.capitalize()}.)", ""]
    lines += [f"{heading} Backward pass, right to left", ""]
    chain = f"{w.d('input')} = {w.d('node')} · {w.partial('node', 'input')}" if not math else (
        rf"$\frac{{\partial {latex_label(out)}}}{{\partial v}} = \frac{{\partial {latex_label(out)}}}"
        rf"{{\partial n}} \cdot \frac{{\partial n}}{{\partial v}}$"
    )
    lines += [
        f"Each step: {chain}, the **upstream** gradient known from the right times the **local** "
        "derivative; a variable used by several nodes adds up its branches.",
        "",
    ]
    rows = [[w.d(out), "", "", "**1**", ""]]
    for row in walk.backward:
        if isinstance(row, SumRow):
            vias = " + ".join(f"(via {w.branch(n)})" for n in row.vias)
            rows.append([
                f"{w.d(row.input)} = {vias}",
                "sum of the branches",
                " + ".join(w.short(v) for v in row.values),
                f"**{w.short(row.adjoint.value)}**",
                "",
            ])
            continue
        assert isinstance(row, StepRow)
        step = row.step
        via = f" (via {w.branch(row.branch)})" if row.via else ""
        rows.append([
            f"{w.d(row.input)}{via} = {w.d(row.node)} · {w.partial(row.node, row.input)}",
            w.factor(row.upstream, step.upstream.value),
            w.factor(row.local, step.local.value),
            f"**{w.short(step.product.value)}**",
            w.rule(row.rule),
        ])
    lines += table(["step", "upstream", "local", "product", "rule"], rows, "lllrl")
    lines += ["", f"{heading} Gradients", ""]
    shown = any(r.expanded is not None for r in walk.gradients)
    header = ["parameter", "value", "compact"] + (["expanded (leaves only)"] if shown else [])
    grads = []
    for r in walk.gradients:
        cells = [w.d(r.label), w.value(r.value), w.expr(r.compact)]
        if shown:
            cells.append("" if r.expanded is None else w.expr(r.expanded))
        grads.append(cells)
    lines += table(header, grads, "lrl" + "l" * shown)
    if walk.omitted:
        lines += ["", f"({walk.omitted})"]
    if walk.updates:
        rule = (
            rf"$w \leftarrow w - \eta \cdot \frac{{\partial {latex_label(out)}}}{{\partial w}}$, "
            rf"$\eta = {latex_value(walk.lr, digits, exact=walk.exact_forms)}$"
            if math else f"{code(f'w <- w - eta · d{out}/dw')}, eta = {w.value(walk.lr)}"
        )
        lines += ["", f"{heading} Update", "", rule, ""]
        lines += table(
            ["parameter", "old", "gradient", "new"],
            [[w.name(r.label), w.value(r.old), w.short(r.grad), w.value(r.new)] for r in walk.updates],
            "lrrr",
        )
    return "\n".join(lines) + "\n"
