"""The matrix view as text: each layer's matrices, forward then right to left.

Matrices are printed by SymPy's pretty printer (``wrap_line=False``, unicode
chosen explicitly) and set side by side, ``name = formula = values``; the
text never goes through rich markup (brackets would be eaten). Numbers are
rounded to ``digits`` significant digits for display only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy

from ..derive.printing import sympy_text
from .numbers import DEFAULT_DIGITS, to_float

if TYPE_CHECKING:  # the view is read, never built here (and building it needs numpy)
    from ..matrix import MatrixView

__all__ = ["render_matrix_text", "matrix_dict", "side_by_side"]


def _shown(value: sympy.Expr, digits: int) -> sympy.Expr:
    """A number as a symbol named by its rounded text (display only), exact rationals as they are."""
    if value.is_Rational:
        return value
    return sympy.Symbol(f"{float(value):.{digits}g}")


def _pretty(matrix: sympy.Matrix | sympy.Expr, digits: int, unicode: bool) -> str:
    if isinstance(matrix, sympy.MatrixBase):
        if all(v.is_number for v in matrix):
            matrix = matrix.applyfunc(lambda v: _shown(v, digits))
    return sympy.pretty(matrix, use_unicode=unicode, wrap_line=False)


def side_by_side(parts: list[str]) -> str:
    """Join blocks of text left to right, centred on their middle lines."""
    blocks = [p.split("\n") for p in parts]
    height = max(len(b) for b in blocks)
    middle = height // 2
    rows = [""] * height
    for block in blocks:
        width = max(len(line) for line in block)
        top = middle - len(block) // 2
        for r in range(height):
            k = r - top
            rows[r] += (block[k] if 0 <= k < len(block) else "").ljust(width)
    return "\n".join(row.rstrip() for row in rows)


def _equation(name: str, *sides: Any, digits: int, unicode: bool) -> str:
    parts = [name]
    for side in sides:
        parts.append(" = ")
        parts.append(side if isinstance(side, str) else _pretty(side, digits, unicode))
    return side_by_side(parts)


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line else line for line in text.split("\n"))


def render_matrix_text(view: MatrixView, *, digits: int = DEFAULT_DIGITS, unicode: bool = True) -> str:
    """The matrix view as plain text (forward layer by layer, then the backward pass right to left)."""
    net = view.network
    m = len(view.samples)
    eq = lambda name, *sides: _indent(_equation(name, *sides, digits=digits, unicode=unicode), 4)  # noqa: E731
    if m == 1 and net.samples == 1:
        columns = "one sample"
    elif m == 1:
        columns = f"sample {view.samples[0]} of {net.samples}, with its own loss"
    else:
        columns = f"the batch: {m} samples as columns, L = {net.mlp.reduction} of their losses"
    lines = [f"Matrix view ({columns})", "", "Forward pass, layer by layer: z_l = W_l·a_(l-1) + b_l,  a_l = f(z_l)"]
    lines.append(eq("a0 = x", view.input))

    def show(item: tuple, forward: bool) -> None:
        if item[0] == "stage":
            lines.append(f"  layer {item[1]} ({item[2]})" if forward else f"  layer {item[1]}")
        elif item[0] == "text":
            lines.append(item[1])
        else:
            _, name, sides, note = item
            lines.append(eq(name, *sides) + note)

    for item in view.forward_items:
        show(item, True)
    lines.append(f"  loss L = {_pretty(view.loss, digits, unicode) if view.loss.is_Rational else f'{float(view.loss):.{digits}g}'}")
    lines.append("")
    lines.append("Backward pass, right to left, with the formulas 'symprop derive' derives, for each sample (a column)")
    if any(layer.closed_forms for layer in view.layers):
        lines.append("  (layers it has no matrix formulas for use their own closed forms, said where they do)")
    for item in view.backward_items:
        show(item, False)
    return "\n".join(lines) + "\n"


def _nested(matrix: sympy.Matrix | None) -> Any:
    if matrix is None:
        return None
    return [[to_float(v) for v in row] for row in matrix.tolist()]


def matrix_dict(view: MatrixView) -> dict[str, Any]:
    """The matrix view as data: per layer every matrix as nested lists (rows), samples as columns,
    the derived formulas the backward matrices come from (``"formulas"``, SymPy's string form of one
    sample's matrix expression) and the layers' closed forms where derive has none (``"closed_forms"``)."""
    return {
        "view": "matrix",
        "samples": view.samples,
        "loss": to_float(view.loss),
        "loss_formula": sympy_text(view.loss_formula) if view.loss_formula is not None else None,
        "layers": [
            {
                "layer": layer.index,
                "activation": layer.activation,
                "W": _nested(layer.W),
                "b": _nested(layer.b),
                "a_prev": _nested(layer.a_prev),
                "z": _nested(layer.z),
                "a": _nested(layer.a),
                "da_dz": [_nested(j) for j in layer.jacobians],
                "dL_da": _nested(layer.dL_da),
                "delta": _nested(layer.delta),
                "dL_dW": _nested(layer.dW),
                "dL_db": _nested(layer.db),
                "dL_da_prev": _nested(layer.dL_da_prev),
                **({"values": {name: _nested(v) for name, v in layer.values.items()}} if layer.values else {}),
                "formulas": {key: sympy_text(expr) for key, expr in layer.formulas.items()},
                **({"closed_forms": dict(layer.closed_forms)} if layer.closed_forms else {}),
            }
            for layer in view.layers
        ],
        "gradients": {name: _nested(matrix) for name, matrix in view.grads.items()},
    }
