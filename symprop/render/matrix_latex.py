"""The matrix view as LaTeX (a fragment for an article or a Beamer frame, or a whole document) and as Markdown.

Each layer is one ``align*``: ``name = formula = matrix``, the formula set
from its text (:mod:`.mathtext`), the matrix a ``bmatrix`` with its shape
under it. Rows are broken to a frame's width like the walkthrough's
(:mod:`.tex_layout`); a matrix too wide for the row is set small
(``smallmatrix``), and a batch too wide even so is set in blocks of columns.
Markdown writes each row as a display ``$$...$$`` with the same LaTeX
(GitHub, Jupyter and MathJax read it), so the matrices are real matrices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy

from .latex import document, escape_text
from .mathtext import formula_latex
from .matrix_parts import Equation, Heading, Line, Stage, columns, number, parenthesised, parts
from .numbers import DEFAULT_DIGITS
from .tex_layout import ARTICLE_WIDTH, SLIDE_WIDTH, align, align_rows, tex_width

if TYPE_CHECKING:
    from ..matrix import MatrixView

__all__ = ["render_matrix_latex", "render_matrix_markdown", "latex_matrix"]


def _cell(value: sympy.Expr, digits: int) -> str:
    if value.is_Rational:
        return sympy.latex(value)
    if not value.is_number:
        return sympy.latex(value)
    text = number(value, digits)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def latex_matrix(matrix: sympy.MatrixBase, digits: int = DEFAULT_DIGITS, *, small: bool = False,
                 shape: bool = True) -> str:
    """A ``bmatrix`` (or a bracketed ``smallmatrix``) of the values, its shape under it."""
    rows = " \\\\ ".join(" & ".join(_cell(v, digits) for v in row) for row in matrix.tolist())
    body = (rf"\left[\begin{{smallmatrix}} {rows} \end{{smallmatrix}}\right]" if small
            else rf"\begin{{bmatrix}} {rows} \end{{bmatrix}}")
    if not shape:
        return body
    return rf"\underset{{{matrix.rows} \times {matrix.cols}}}{{{body}}}"


def _fitted(matrix: sympy.MatrixBase, digits: int, room: float) -> tuple[str, str]:
    """The matrix as it fits ``room`` ems, and the rows that carry on a matrix too wide (a tail)."""
    full = latex_matrix(matrix, digits)
    if tex_width(full) <= room:
        return full, ""
    small = latex_matrix(matrix, digits, small=True)
    if tex_width(small) <= room:
        return small, ""
    blocks, start = [], 0
    while start < matrix.cols:
        end = start + 1
        while end < matrix.cols and tex_width(latex_matrix(matrix[:, start:end + 1], digits, small=True,
                                                           shape=False)) <= room - 6:
            end += 1
        blocks.append((start, end))
        start = end
    first, *rest = blocks
    label = lambda a, b: rf"\text{{columns {a + 1}--{b}: }}"  # noqa: E731
    head = label(*first) + latex_matrix(matrix[:, first[0]:first[1]], digits, small=True, shape=False)
    tail = "".join(rf" \\ &\quad {label(a, b)}" + latex_matrix(matrix[:, a:b], digits, small=True, shape=False)
                   for a, b in rest)
    return head, tail + rf"\quad ({matrix.rows} \times {matrix.cols})"


def _rows(equations: list[Equation], digits: int, width: float) -> list[str]:
    lefts = [formula_latex(e.name) for e in equations]
    room = max(width - max(tex_width(lhs) for lhs in lefts) - 2.5, 8.0)
    rows = []
    for lhs, equation in zip(lefts, equations):
        pieces, tail = [], ""
        for side in equation.sides:
            if isinstance(side, sympy.MatrixBase):
                piece, tail = _fitted(side, digits, room)
                pieces.append(piece)
            else:
                pieces.append(formula_latex(side, marks=True))
        if equation.note:
            tail += rf"\quad\text{{{escape_text(parenthesised(equation.note))}}}"
        rows.append((lhs, pieces, tail))
    return align_rows(rows, width=width)


def _heading(text: str) -> str:
    return f"\\par\\medskip\\noindent\\textbf{{{escape_text(text)}}}\\par\n"


def render_matrix_latex(view: MatrixView, *, digits: int = DEFAULT_DIGITS, width: float | None = None,
                        standalone: str | None = None) -> str:
    """The matrix view as a LaTeX fragment (needs ``amsmath`` only), or a whole document with
    ``standalone`` (``"article"`` or ``"beamer"``)."""
    if width is None:
        width = ARTICLE_WIDTH if standalone == "article" else SLIDE_WIDTH
    out = ["% symprop matrix view: \\input{} this into a document or a Beamer frame [allowframebreaks] that\n"
           "% loads amsmath.\n", "\\begingroup\\allowdisplaybreaks\n"]
    pending: list[Equation] = []

    def flush() -> None:
        if pending:
            out.append(align(_rows(pending, digits, width)))
            pending.clear()

    for part in parts(view):
        if isinstance(part, Equation):
            pending.append(part)
            continue
        flush()
        if isinstance(part, Heading):
            out.append(_heading(part.title + "."))
            out.append(f"{{\\raggedright\\noindent ${formula_latex(part.formula, inline=True)}$\\par}}\n")
        elif isinstance(part, Stage):
            described = f" ({part.description})" if part.description else ""
            out.append(f"\\par\\smallskip\\noindent\\textit{{Layer {part.index}{escape_text(described)}}}\\par\n")
        else:
            out.append(f"{{\\raggedright\\noindent ${formula_latex(part.text, inline=True)}$\\par}}\n")
    flush()
    out.append("\\endgroup\n")
    fragment = "".join(out)
    if standalone is None:
        return fragment
    title = f"Matrix view ({columns(view)})"
    return document(fragment, title=escape_text(title), documentclass=standalone)


def render_matrix_markdown(view: MatrixView, *, digits: int = DEFAULT_DIGITS) -> str:
    """The matrix view as Markdown: headings, and each row as display math with ``bmatrix`` values."""
    lines = [f"## Matrix view ({columns(view)})", ""]
    for part in parts(view):
        if isinstance(part, Heading):
            lines += [f"### {part.title}", "", f"${formula_latex(part.formula)}$", ""]
        elif isinstance(part, Stage):
            described = f" ({part.description})" if part.description else ""
            lines += [f"**Layer {part.index}{described}**", ""]
        elif isinstance(part, Line):
            lines += [f"${formula_latex(part.text)}$", ""]
        else:
            sides = [latex_matrix(s, digits) if isinstance(s, sympy.MatrixBase) else formula_latex(s)
                     for s in part.sides]
            note = rf" \quad \text{{{escape_text(parenthesised(part.note))}}}" if part.note else ""
            lines += ["$$", " = ".join([formula_latex(part.name), *sides]) + note, "$$", ""]
    return "\n".join(lines)
