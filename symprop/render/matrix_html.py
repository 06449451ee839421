"""The matrix view as a web page: each layer's matrices as MathML, the backward rows walked by the stepper.

The page is built like the walkthrough's (:mod:`.page`: nothing loaded from
anywhere, the window's width, a clean print): per layer a table of rows
``name = formula = matrix`` (the formula set from its text by
:mod:`.mathtext`, the matrix in brackets with its shape), and the
backward rows carry ``data-step``, so Next / Previous and the arrow keys
walk the backward pass one matrix at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy

from .mathml import decimal_markup, math, mathml_matrix, mathml_value, mo, mrow
from .mathtext import formula_mathml
from .matrix_parts import Equation, Heading, Line, Stage, columns, number, parenthesised, parts, shape
from .numbers import DEFAULT_DIGITS
from .page import escape, page

if TYPE_CHECKING:
    from ..matrix import MatrixView

__all__ = ["render_matrix_html", "matrix_markup"]


def _cell(value: sympy.Expr, digits: int) -> str:
    if value.is_Rational or not value.is_number:
        return mathml_value(value, digits) if value.is_number else formula_mathml(sympy.sstr(value))
    return decimal_markup(number(value, digits))


def matrix_markup(matrix: sympy.MatrixBase, digits: int = DEFAULT_DIGITS) -> str:
    """A matrix of values as MathML, in brackets."""
    return mathml_matrix(matrix, lambda v: _cell(v, digits))


def _row(equation: Equation, digits: int) -> str:
    name = formula_mathml(equation.name)
    sides = [matrix_markup(s, digits) if isinstance(s, sympy.MatrixBase) else formula_mathml(s)
             for s in equation.sides]
    formulas = [formula_mathml(s) for s in equation.sides if isinstance(s, str)]
    value = equation.matrix
    cells = [f"<td>{math(name)}</td>"]
    cells.append(f"<td>{math(mrow(*(mo('=') + f for f in formulas)))}</td>" if formulas else "<td></td>")
    cells.append(f'<td class="value">{math(mrow(mo("="), matrix_markup(value, digits)))}</td>' if value is not None
                 else "<td></td>")
    notes = [shape(value)] if value is not None else []
    if equation.note:
        notes.append(parenthesised(equation.note))
    cells.append(f'<td class="shape">{escape(" ".join(notes))}</td>')
    step = ""
    if equation.backward:
        caption = math(mrow(name, *(mo("=") + f for f in formulas))) if formulas else math(
            mrow(name, *(mo("=") + side for side in sides)))
        step = " data-step"
        cells.append(f'<td class="caption" hidden>{caption}</td>')
    return f"<tr{step}>" + "".join(cells) + "</tr>"


def render_matrix_html(view: MatrixView, *, digits: int = DEFAULT_DIGITS) -> str:
    """The matrix view as one self-contained HTML page."""
    title = f"Matrix view ({columns(view)})"
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            out.append('<div class="scroll"><table class="matrix-rows"><tbody>' + "".join(pending)
                       + "</tbody></table></div>")
            pending.clear()

    for part in parts(view):
        if isinstance(part, Equation):
            pending.append(_row(part, digits))
            continue
        flush()
        if isinstance(part, Heading):
            out.append(f"<h2>{escape(part.title)}</h2><p>{math(formula_mathml(part.formula))}</p>")
        elif isinstance(part, Stage):
            described = f" ({part.description})" if part.description else ""
            out.append(f"<h3>Layer {part.index}{escape(described)}</h3>")
        elif isinstance(part, Line):
            out.append(f"<p>{math(formula_mathml(part.text))}</p>")
    flush()
    body = "<main>" + "".join(out) + "</main>"
    samples = ", ".join(str(s) for s in view.samples)
    subtitle = f"samples {escape(samples)} as columns" if len(view.samples) > 1 else ""
    return page(title, escape(title), body, subtitle=subtitle,
                stepper="Press → or Next to walk the backward pass one matrix at a time.")
