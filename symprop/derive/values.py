"""The shapes and the point of a matrix formula, as text: ``--shapes W=3x2,x=2`` and ``--at W=[[1,2],[3,4]],x=[1,2]``.

Both are read by hand (a regular expression for shapes, a small tokenizer for
nested lists); every number goes through :func:`symprop.expr.parse_number`,
so nothing is evaluated.
"""

from __future__ import annotations

import re
from typing import Mapping

import sympy

from ..errors import FormulaError, PointError, ShapeError
from ..expr import valid_name, parse_number
from .formula import MATRIX_FUNCTIONS, MAX_DIM, Shape, shape_text

__all__ = ["parse_shapes", "parse_matrix_values"]


_SHAPE = re.compile(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?\Z")


def parse_shapes(text: str | Mapping[str, object] | None) -> dict[str, Shape]:
    """``"W=3x2,x=2x1"`` (or a dict of such texts or pairs) -> ``{"W": (3, 2), "x": (2, 1)}``.

    A single number is a column: ``x=2`` is ``2x1``.

    Raises:
        ShapeError: a malformed entry, a name given twice, a dimension below 1 or above :data:`MAX_DIM`.
    """
    if text is None:
        return {}
    if isinstance(text, str):
        items = []
        for part in text.split(","):
            if "=" not in part:
                raise ShapeError(f"--shapes: expected name=RxC, got {part.strip()!r}")
            name, value = (s.strip() for s in part.split("=", 1))
            items.append((name, value))
    else:
        items = list(text.items())
    shapes: dict[str, Shape] = {}
    for name, value in items:
        valid_name(name, what="matrix name")
        if name in MATRIX_FUNCTIONS:
            raise ShapeError(f"--shapes: {name!r} is a function name")
        if name in shapes:
            raise ShapeError(f"--shapes: {name!r} is given twice")
        if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
            dims = (int(value[0]), int(value[1]))
        else:
            match = _SHAPE.match(str(value))
            if not match:
                raise ShapeError(f"--shapes: {name}={str(value)[:20]!r} is not a shape; write rows x columns, e.g. {name}=3x2")
            dims = (int(match.group(1)), int(match.group(2) or 1))
        if not all(1 <= d <= MAX_DIM for d in dims):
            raise ShapeError(f"--shapes: {name} is {shape_text(dims)}; each dimension must be from 1 to {MAX_DIM}")
        shapes[name] = dims
    return shapes


_TOKEN = re.compile(r"\s*(\[|\]|,|[^\s\[\],]+)")


def parse_matrix_values(text: str | None, *, exact: bool = False) -> dict[str, sympy.Matrix]:
    """``--at`` for matrices: ``"W=[[1,2],[3,4]],x=[1,2],c=3"`` -> ``{name: Matrix}``.

    Rows are lists; a flat list is a vector (shaped to the symbol later); a bare
    number is a 1x1 matrix. Entries are numbers as :func:`symprop.expr.parse_number`
    reads them (``1/2`` exact; decimals floats unless ``exact``).

    Raises:
        PointError: malformed text, a name given twice, ragged rows, a non-number.
    """
    values: dict[str, sympy.Matrix] = {}
    if not text:
        return values
    tokens = [m.group(1) for m in _TOKEN.finditer(text)]
    if "".join(tokens) != re.sub(r"\s+", "", text):
        raise PointError(f"--at: cannot read {text[:40]!r}")
    position = 0
    while position < len(tokens):
        head = tokens[position]
        if "=" not in head:
            raise PointError(f"--at: expected name=value, got {head!r}")
        name, first = head.split("=", 1)
        name = name.strip()
        if not name:
            raise PointError(f"--at: missing name in {head!r}")
        if name in values:
            raise PointError(f"--at: {name!r} is given twice")
        if first:  # a bare number: name=3
            entries, position = _number(first, name, exact), position + 1
        else:
            entries, position = _nested(tokens, position + 1, name, exact, 0)
        values[name] = _as_matrix(entries, name)
        if position < len(tokens):
            if tokens[position] != ",":
                raise PointError(f"--at: expected ',' after the value of {name!r}, got {tokens[position]!r}")
            position += 1
    return values


def _number(text: str, name: str, exact: bool) -> sympy.Expr:
    try:
        return parse_number(text, exact=exact)
    except FormulaError as error:
        raise PointError(f"--at: {name!r}: {error}") from None


def _nested(tokens: list[str], position: int, name: str, exact: bool, depth: int) -> tuple[object, int]:
    """A number or a bracketed list starting at ``position``; returns it and the next position."""
    if position >= len(tokens):
        raise PointError(f"--at: the value of {name!r} ends early")
    token = tokens[position]
    if token != "[":
        return _number(token, name, exact), position + 1
    if depth >= 2:
        raise PointError(f"--at: {name!r}: a matrix is a list of rows; lists nest 2 deep at most")
    items: list[object] = []
    position += 1
    while True:
        if position >= len(tokens):
            raise PointError(f"--at: {name!r}: '[' was never closed")
        if tokens[position] == "]":
            return items, position + 1
        if items:
            if tokens[position] != ",":
                raise PointError(f"--at: {name!r}: expected ',' or ']', got {tokens[position]!r}")
            position += 1
        item, position = _nested(tokens, position, name, exact, depth + 1)
        items.append(item)


def _as_matrix(entries: object, name: str) -> sympy.Matrix:
    if not isinstance(entries, list):
        return sympy.Matrix([[entries]])
    if not entries:
        raise PointError(f"--at: {name!r} is empty")
    if all(isinstance(e, list) for e in entries):
        widths = {len(row) for row in entries}
        if len(widths) != 1 or 0 in widths:
            raise PointError(f"--at: {name!r}: every row needs the same number of entries")
        return sympy.Matrix(entries)
    if any(isinstance(e, list) for e in entries):
        raise PointError(f"--at: {name!r}: mix of numbers and rows")
    return sympy.Matrix(len(entries), 1, entries)  # a flat list: a vector, shaped later
