"""The matrix view as a list of parts, in order, for the renderers that lay it out their own way.

:class:`~symprop.matrix.MatrixView` records what to show as items (a
layer's heading, ``name = formula = matrix``, a line of text); this module
adds what goes around them (the headings of the forward and backward
passes, ``a0 = x``, the loss and its derivative) and gives LaTeX, Markdown,
HTML and JSON one sequence to read. Nothing is computed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import sympy

from .numbers import DEFAULT_DIGITS, decimal, to_float

if TYPE_CHECKING:  # the view is read, never built here (and building it needs numpy)
    from ..matrix import MatrixView

__all__ = ["Heading", "Stage", "Equation", "Line", "Part", "parts", "columns", "parts_dict", "number", "shape",
           "parenthesised"]


@dataclass
class Heading:
    """A pass's heading, with its formula as text."""

    title: str
    formula: str
    backward: bool = False


@dataclass
class Stage:
    """A layer: ``layer 2 (sigmoid)``."""

    index: int
    description: str = ""


@dataclass
class Equation:
    """``name = side = side ...``: each side a formula as text or a matrix of values."""

    name: str
    sides: list[Union[str, sympy.MatrixBase]] = field(default_factory=list)
    note: str = ""
    backward: bool = False

    @property
    def matrix(self) -> sympy.MatrixBase | None:
        """The last matrix of the row (its value), if any."""
        found = [s for s in self.sides if isinstance(s, sympy.MatrixBase)]
        return found[-1] if found else None


@dataclass
class Line:
    """A line of text (a Jacobian's formula, a note)."""

    text: str
    backward: bool = False


Part = Union[Heading, Stage, Equation, Line]


def columns(view: MatrixView) -> str:
    """What the columns of the matrices are: ``one sample``, ``sample 2 of 4, ...``, ``the batch: ...``."""
    net = view.network
    m = len(view.samples)
    if m == 1 and net.samples == 1:
        return "one sample"
    if m == 1:
        return f"sample {view.samples[0]} of {net.samples}, with its own loss"
    return f"the batch: {m} samples as columns, L = {net.mlp.reduction} of their losses"


def _item(item: tuple, backward: bool) -> Part:
    if item[0] == "stage":
        return Stage(item[1], item[2] if not backward else "")
    if item[0] == "text":
        return Line(item[1].strip(), backward)
    _, name, sides, note = item
    return Equation(name, list(sides), note.strip(), backward)


def parts(view: MatrixView) -> list[Part]:
    """Everything the view shows, in order: forward layer by layer, the loss, then right to left."""
    out: list[Part] = [Heading("Forward pass, layer by layer", "z_l = W_l·a_(l-1) + b_l,  a_l = f(z_l)")]
    out.append(Equation("a0", ["x", view.input]))
    out += [_item(item, False) for item in view.forward_items]
    out.append(Equation("L", [number(view.loss)], "the loss"))
    out.append(Heading("Backward pass, right to left", "delta_l = dL/dz_l = (da_l/dz_l)^T·dL/da_l", True))
    m = len(view.samples)
    scale = "" if view.scale == 1 else f" times {sympy.sstr(view.scale)} (the mean over {m} samples)"
    derivative = ", ".join(sympy.sstr(d) for d in view.loss_derivative)
    out.append(Line(f"from the loss: dl/d{view.output} = [{derivative}] per sample{scale}", True))
    out += [_item(item, True) for item in view.backward_items]
    return out


def number(value: sympy.Expr, digits: int = DEFAULT_DIGITS) -> str:
    """A value as the matrix view writes it: exact rationals as they are, anything else to ``digits`` digits."""
    if value.is_Rational:
        return sympy.sstr(value)
    return decimal(value, digits) if value.is_number else sympy.sstr(value)



def parenthesised(note: str) -> str:
    """A note in parentheses (once)."""
    return note if note.startswith("(") else f"({note})"


def shape(matrix: sympy.MatrixBase) -> str:
    """``2×1``."""
    return f"{matrix.rows}×{matrix.cols}"


def _nested(matrix: sympy.MatrixBase) -> Any:
    return [[to_float(v) if v.is_number else sympy.sstr(v) for v in row] for row in matrix.tolist()]


def parts_dict(view: MatrixView) -> dict[str, Any]:
    """The view's rows as data, for JSON: ``"forward"`` and ``"backward"``, each a list of
    ``{"stage"}``, ``{"text"}`` or ``{"name", "formulas", "value", "shape", "note"}`` in printed order."""
    data: dict[str, list] = {"forward": [], "backward": []}
    for part in parts(view):
        if isinstance(part, Heading):
            continue
        side = data["backward" if getattr(part, "backward", False) else "forward"]
        if isinstance(part, Stage):
            side.append({"stage": part.index, **({"description": part.description} if part.description else {})})
        elif isinstance(part, Line):
            side.append({"text": part.text})
        else:
            value = part.matrix
            side.append({
                "name": part.name,
                "formulas": [s for s in part.sides if isinstance(s, str)],
                "value": None if value is None else _nested(value),
                "shape": None if value is None else [value.rows, value.cols],
                **({"note": part.note} if part.note else {}),
            })
    return data
