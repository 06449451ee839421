"""A derivation as plain text, as rich text for a terminal, and as Markdown.

Text: one line per row, ``∂L/∂W (3×2) = ∂L/∂prod1·xᵀ = sum1·xᵀ``, values set
beside it as SymPy draws matrices, and the identity on the line below. Rich:
the same lines, coloured (the gradients cyan, the identities magenta, shapes
dim, the check green or red), printed as ``Text`` so no bracket is read as
markup. Markdown: a table per section, formulas as code, values as nested lists.
"""

from __future__ import annotations

import io

import sympy

from ..derive.printing import ASCII, TEXT, Style, number, shape_label, write
from .derive_view import DeriveView, Row
from .matrix import side_by_side
from .numbers import DEFAULT_DIGITS

__all__ = ["render_derive_text", "render_derive_rich", "render_derive_markdown", "row_value_text", "boxed"]


def _label(view: DeriveView, label: str, style: Style) -> str:
    text = view.labels.get(label, label)
    return text if style.unicode else text.replace("∂", "d").replace("δ", "delta").replace("×", "x")


def _number(value: sympy.Expr, digits: int) -> str:
    return number(value, digits)


def boxed(value: sympy.Matrix, digits: int, unicode: bool = True) -> str:
    """A matrix of numbers drawn with brackets, one line per row, columns right-aligned."""
    if value.shape == (1, 1):
        return _number(value[0, 0], digits)
    cells = [[_number(v, digits) for v in row] for row in value.tolist()]
    widths = [max(len(row[j]) for row in cells) for j in range(value.cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    if value.rows == 1:
        return f"[{lines[0]}]"
    if not unicode:
        return "\n".join(f"[{line}]" for line in lines)
    left = ["⎡"] + ["⎢"] * (value.rows - 2) + ["⎣"]
    right = ["⎤"] + ["⎥"] * (value.rows - 2) + ["⎦"]
    return "\n".join(f"{a}{line}{b}" for a, line, b in zip(left, lines, right))


def _row_lines(view: DeriveView, row: Row, digits: int, style: Style) -> tuple[str, str | None]:
    """The row as a (possibly multi-line) block, and its identity line."""
    parts = [f"{_label(view, row.label, style)} ({shape_label(row.shape, style)})"]
    for form in row.forms:
        parts += [" = ", write(form, style, labels=view.labels, first=view.first)]
    if row.value is not None:
        parts += [" = ", boxed(row.value, digits, style.unicode)]
    if row.note:
        parts.append(f"   ({row.note})")
    block = side_by_side(parts)
    rule = None
    if row.rule is not None:
        rule = row.rule.text if style.unicode else _ascii(row.rule.text)
    return block, rule


def _ascii(text: str) -> str:
    for a, b in (("∂", "d"), ("ᵀ", "^T"), ("⊙", ".*"), ("⊘", "./"), ("𝟙", "1"), ("·", "*"), ("δ", "delta"),
                 ("∘", "o"), ("ℓ", "l"), ("×", "x")):
        text = text.replace(a, b)
    return text


def _indent(block: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line else line for line in block.split("\n"))


def _lines(view: DeriveView, digits: int, style: Style):
    """``(kind, text)`` for each line: kinds ``title``, ``detail``, ``section``, ``row``, ``rule``, ``check``."""
    yield "title", view.title if style.unicode else _ascii(view.title)
    for detail in view.details:
        yield "detail", "  " + (detail if style.unicode else _ascii(detail))
    for section in view.sections:
        yield "blank", ""
        yield "section", section.title if style.unicode else _ascii(section.title)
        for row in section.rows:
            block, rule = _row_lines(view, row, digits, style)
            yield "row", _indent(block, 2)
            if rule is not None:
                yield "rule", "      by " + rule
    yield "blank", ""
    yield "check", view.check


def render_derive_text(view: DeriveView, *, digits: int = DEFAULT_DIGITS, unicode: bool = True) -> str:
    """The derivation as plain text (``unicode=False``: ASCII only, ``x^T``, ``.*``)."""
    return "\n".join(text for _, text in _lines(view, digits, TEXT if unicode else ASCII)) + "\n"


_STYLES = {"title": "bold", "detail": "dim", "section": "bold underline", "row": "cyan", "rule": "magenta",
           "blank": ""}


def render_derive_rich(view: DeriveView, *, digits: int = DEFAULT_DIGITS, color: bool = True, width: int | None = 100) -> str:
    """The text layout in colour, through rich (as ANSI text when ``color``)."""
    from rich.console import Console
    from rich.text import Text

    out = io.StringIO()
    console = Console(file=out, force_terminal=color, color_system="standard" if color else None, width=width or 100,
                      highlight=False, soft_wrap=True)
    for kind, text in _lines(view, digits, TEXT):
        style = ("bold green" if view.passed else "bold red") if kind == "check" else _STYLES[kind]
        console.print(Text(text, style=style), soft_wrap=True)
    return out.getvalue()


def row_value_text(value: sympy.Matrix | None, digits: int) -> str:
    """A value on one line: a number, or rows as nested lists ``[[1, 2], [3, 4]]``."""
    if value is None:
        return ""
    if value.shape == (1, 1):
        return _number(value[0, 0], digits)
    rows = [", ".join(_number(v, digits) for v in row) for row in value.tolist()]
    return "[" + ", ".join(f"[{r}]" for r in rows) + "]"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_derive_markdown(view: DeriveView, *, digits: int = DEFAULT_DIGITS) -> str:
    """The derivation as Markdown: a heading, a table per section, the check."""
    title = _cell(view.title).replace("*", "\\*").replace("_", "\\_")  # x.T*A*x is not emphasis
    lines = [f"## {title}", ""]
    lines += [f"- {d}" for d in view.details]
    for section in view.sections:
        lines += ["", f"### {section.title}", "", "| | shape | formula | identity | value |", "|---|---|---|---|---|"]
        for row in section.rows:
            forms = " = ".join(f"`{_cell(write(f, TEXT, labels=view.labels, first=view.first))}`" for f in row.forms)
            if row.note:
                forms = f"{forms} ({_cell(row.note)})" if forms else _cell(row.note)
            rule = _cell(row.rule.text) if row.rule is not None else ""
            value = f"`{row_value_text(row.value, digits)}`" if row.value is not None else ""
            label = _cell(view.labels.get(row.label, row.label))
            lines.append(f"| {label} | {shape_label(row.shape)} | {forms} | {rule} | {value} |")
    lines += ["", f"**{_cell(view.check)}**", ""]
    return "\n".join(lines)
