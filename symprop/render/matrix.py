"""The matrix view as text: each layer's matrices, forward then right to left.

The backward formulas are the ones :mod:`symprop.derive.network` derives
(``delta2 = dL/da2 ⊙ a2 ⊙ (1 - a2)``, ``dL/dW2 = delta2·a1^T``), written by
:func:`symprop.render.derive_print.write`.

Matrices are printed by SymPy's pretty printer (``wrap_line=False``, unicode
chosen explicitly) and set side by side, ``name = formula = values``; the
text never goes through rich markup (brackets would be eaten). Numbers are
rounded to ``digits`` significant digits for display only.
"""

from __future__ import annotations

from typing import Any

import sympy

from ..matrix import LayerView, MatrixView
from .numbers import DEFAULT_DIGITS, to_float

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


def _formula(step: Any, unicode: bool) -> str:
    """A derived step's compact formula in the view's names (``x`` is ``a0``, ``dL_da2`` is ``dL/da2``),
    written ``delta2·a1^T``, ``dL/da2 ⊙ a2 ⊙ (1 - a2)``."""
    from .derive_print import ASCII, Style, write

    view = Style("·", " ⊙ ", " ⊘ ", "^T", "1", "(", ")")
    names = {s.name for s in step.compact.free_symbols if hasattr(s, "name")}
    labels = {n: n.replace("dL_dx", "dL/da0").replace("dL_d", "dL/d") for n in names}
    labels["x"] = "a0"
    gradients = frozenset(n for n in names if n.startswith(("dL_d", "delta")))
    return write(step.compact, view if unicode else ASCII, labels=labels, first=gradients)


def _derivative_text(layer: LayerView) -> str:
    if layer.activation == "softmax":
        return "softmax Jacobian: da_i/dz_j = a_i*(δ_ij - a_j)"
    return f"diag({sympy.sstr(layer.derivative)}), elementwise ({layer.activation}')"


def render_matrix_text(view: MatrixView, *, digits: int = DEFAULT_DIGITS, unicode: bool = True) -> str:
    """The matrix view as plain text (forward layer by layer, then the backward pass right to left)."""
    net, L = view.network, len(view.layers)
    m = len(view.samples)
    eq = lambda name, *sides: _indent(_equation(name, *sides, digits=digits, unicode=unicode), 4)  # noqa: E731
    if m == 1 and net.samples == 1:
        columns = "one sample"
    elif m == 1:
        columns = f"sample {view.samples[0]} of {net.samples}, with its own loss"
    else:
        columns = f"the batch: {m} samples as columns, L = {net.mlp.reduction} of their losses"
    lines = [f"Matrix view ({columns})", "", "Forward pass, layer by layer: z_l = W_l·a_(l-1) + b_l,  a_l = f(z_l)"]
    lines.append(eq("a0 = x", view.layers[0].a_prev))
    for layer in view.layers:
        l = layer.index
        lines.append(f"  layer {l} ({layer.activation})")
        lines.append(eq(f"W{l}", layer.W))
        if layer.b is not None:
            lines.append(eq(f"b{l}", layer.b) + ("   (one shared bias)" if layer.bias_mode == "layer" else ""))
        formula = f"W{l}·a{l - 1}" + (f" + b{l}" if layer.b is not None else "")
        lines.append(eq(f"z{l}", formula, layer.z))
        lines.append(eq(f"a{l}", f"{layer.activation}(z{l})", layer.a))
    lines.append(f"  loss L = {_pretty(view.loss, digits, unicode) if view.loss.is_Rational else f'{float(view.loss):.{digits}g}'}")
    lines.append("")
    lines.append("Backward pass, right to left, with the formulas 'symprop derive' derives for each sample (a column)")
    scale = "" if view.scale == 1 else f" times {sympy.sstr(view.scale)} (the mean over {m} samples)"
    derivative = ", ".join(sympy.sstr(d) for d in view.loss_derivative)
    lines.append(f"  from the loss: dl/da{L} = [{derivative}] per sample{scale}")
    batch = "" if m == 1 else ", summed over the samples"
    for layer in reversed(view.layers):
        l, f = layer.index, layer.formulas
        derived = lambda step: _formula(step, unicode)  # noqa: E731
        lines.append(f"  layer {l}")
        if l == L:
            lines.append(eq(f"dL/da{l}", layer.dL_da))
        lines.append(f"    da{l}/dz{l} = {_derivative_text(layer)}")
        if m == 1:
            lines.append(eq(f"da{l}/dz{l}", layer.jacobians[0]))
            lines.append(eq(f"delta{l} = dL/dz{l}", derived(f.delta_step), layer.delta))
        elif layer.activation == "softmax":
            for s, jacobian in zip(view.samples, layer.jacobians):
                lines.append(eq(f"da{l}/dz{l} (s{s})", jacobian))
            lines.append(eq(f"delta{l} = dL/dz{l}", f"{derived(f.delta_step)}, column by column", layer.delta))
        else:  # diagonal Jacobians: their diagonals, one column per sample, and a product entry by entry
            diagonals = sympy.Matrix(layer.z.rows, m, lambda i, s: layer.jacobians[s][i, i])
            lines.append(eq(f"{layer.activation}'(z{l})", diagonals))
            lines.append(eq(f"delta{l} = dL/dz{l}", f"{derived(f.delta_step)}, column by column", layer.delta))
        lines.append(eq(f"dL/dW{l}", derived(f.dW_step) + batch, layer.dW))
        if layer.db is not None:
            lines.append(eq(f"dL/db{l}", derived(f.db_step) + batch, layer.db))
        if l > 1:
            lines.append(eq(f"dL/da{l - 1}", derived(f.da_prev_step), layer.dL_da_prev))
    return "\n".join(lines) + "\n"


def _nested(matrix: sympy.Matrix | None) -> Any:
    if matrix is None:
        return None
    return [[to_float(v) for v in row] for row in matrix.tolist()]


def _formulas(layer: LayerView) -> dict[str, str | None]:
    """The derived formulas of one sample (SymPy strings over ``W1``, ``x``, ``a1``, ``delta2``, ``dL_da2``, ...)."""
    from .derive_print import sympy_text

    f = layer.formulas
    steps = {"delta": f.delta_step, "dL_dW": f.dW_step, "dL_db": f.db_step, "dL_da_prev": f.da_prev_step}
    return {key: sympy_text(step.compact) if step is not None else None for key, step in steps.items()}


def matrix_dict(view: MatrixView) -> dict[str, Any]:
    """The matrix view as data: per layer every matrix as nested lists (rows), samples as columns,
    and the derived formulas the backward matrices come from (``"formulas"``)."""
    return {
        "view": "matrix",
        "samples": view.samples,
        "loss": to_float(view.loss),
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
                "formulas": _formulas(layer),
            }
            for layer in view.layers
        ],
    }
