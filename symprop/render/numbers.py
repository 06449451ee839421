"""How numbers and expressions are written, shared by every renderer.

Exact values print exactly (``9/2``); a closed form prints with its decimal
value (``1/(1 + exp(-1)) ≈ 0.731059``); floats print to ``digits``
significant digits.
"""

from __future__ import annotations

import sympy

from ..graph import check_exact_value

__all__ = ["format_value", "format_expr", "to_float", "DEFAULT_DIGITS"]

DEFAULT_DIGITS = 6


def to_float(value: sympy.Expr) -> float:
    """A SymPy number as a Python float (for JSON and numpy)."""
    return float(value)


def format_value(value: sympy.Expr, digits: int = DEFAULT_DIGITS, *, closed_form: bool = True) -> str:
    """Write a value: exact rationals as they are, floats to ``digits`` digits.

    An exact closed form (``1/(1 + exp(-1))``) is written with its decimal
    value, or, with ``closed_form=False``, as ``≈0.731059`` only.

    Raises:
        LimitError: an exact number too long to print (past
            :data:`~symprop.bounds.MAX_EXACT_VALUE_BITS`; Python refuses past 4,300 digits).
    """
    check_exact_value(value, "a number to print")
    if value.is_Integer or value.is_Rational:
        return sympy.sstr(value)
    decimal = _decimal(value, digits)
    if value.is_Float:
        return decimal
    if not closed_form:
        return f"≈{decimal}"
    return f"{sympy.sstr(value)} ≈ {decimal}"


def _decimal(value: sympy.Expr, digits: int) -> str:
    return f"{float(value):.{digits}g}"


def format_expr(expr: sympy.Expr, digits: int = DEFAULT_DIGITS) -> str:
    """One-line SymPy text of an expression, with float constants rounded to ``digits``."""
    floats = {f: sympy.Float(f"{float(f):.{digits}g}") for f in expr.atoms(sympy.Float)}
    return sympy.sstr(expr.xreplace(floats) if floats else expr)
