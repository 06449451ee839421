"""How numbers and expressions are written, shared by every renderer.

Exact inputs keep exact arithmetic, but a value is printed exactly only when
its exact form is short (``9/2``, ``-1/4``, ``sqrt(2)``, ``exp(-1)``);
a longer one (``1/(1 + exp(-1))``) is printed as a decimal to ``digits``
significant digits, and the walkthrough says so once in its header.
``exact=True`` prints every exact form (a closed form with its decimal
value). Floats print to ``digits`` significant digits; exact values are
evaluated to ``digits`` digits, so ``--digits 30`` gives 30 correct digits.

>>> import sympy
>>> format_value(sympy.Rational(9, 2)), format_value(sympy.exp(-1))
('9/2', 'exp(-1)')
>>> format_value(1 / (1 + sympy.exp(-1)))
'0.731059'
>>> format_value(1 / (1 + sympy.exp(-1)), exact=True)
'1/(exp(-1) + 1) ≈ 0.731059'
"""

from __future__ import annotations

import re
from decimal import Decimal

import sympy
from sympy.printing.str import StrPrinter

from ..graph import limit_exact_value

__all__ = ["format_value", "format_expr", "expr_text", "decimal", "float_text", "is_long_exact", "to_float", "DEFAULT_DIGITS",
           "dotted_product", "SHORT_RATIONAL", "SHORT_CLOSED_FORM"]

DEFAULT_DIGITS = 6

#: An exact fraction is printed as it is up to this many characters (``-123/4567``).
SHORT_RATIONAL = 12
#: An exact closed form (``exp(-1)``, ``sqrt(2)/2``) is printed as it is up to
#: this many characters, unless it is a sum.
SHORT_CLOSED_FORM = 10

#: float64 holds about this many significant digits; a float never shows more.
FLOAT_DIGITS = 17


def to_float(value: sympy.Expr) -> float:
    """A SymPy number as a Python float (for JSON and numpy)."""
    return float(value)


def is_long_exact(value: sympy.Expr) -> bool:
    """True for an exact value whose exact form is too long to print (it is shown as a decimal)."""
    if value.is_Float:
        return False
    if value.is_Rational:
        return len(sympy.sstr(value)) > SHORT_RATIONAL
    if value.is_Add or _size(value) > 3 * SHORT_CLOSED_FORM:
        return True
    return len(sympy.sstr(value)) > SHORT_CLOSED_FORM


def _size(value: sympy.Expr) -> int:
    count = 0
    for count, _ in enumerate(sympy.preorder_traversal(value), start=1):
        if count > 3 * SHORT_CLOSED_FORM:
            break
    return count


def format_value(value: sympy.Expr, digits: int = DEFAULT_DIGITS, *, exact: bool = False) -> str:
    """Write a value: a short exact form as it is, anything else as a decimal to ``digits`` digits.

    With ``exact``, every exact form is written out, a closed form followed
    by its decimal value (``1/(1 + exp(-1)) ≈ 0.731059``).

    Raises:
        LimitError: an exact number too long to print (past
            :data:`~symprop.bounds.MAX_EXACT_VALUE_BITS`; Python refuses past 4,300 digits).
    """
    limit_exact_value(value, "a number to print")
    if value.is_Float:
        return decimal(value, digits)
    if not is_long_exact(value):
        return sympy.sstr(value)
    if not exact:
        return decimal(value, digits)
    if value.is_Rational:
        return sympy.sstr(value)
    return f"{sympy.sstr(value)} ≈ {decimal(value, digits)}"


def decimal(value: sympy.Expr, digits: int = DEFAULT_DIGITS) -> str:
    """``value`` to ``digits`` significant digits, as ``%g`` writes it (``0.731059``, ``1.5e-05``).

    An exact value is evaluated to ``digits`` digits by SymPy (mpmath), so
    every digit shown is correct; a float shows at most the 17 it holds.
    """
    if value.is_Float:
        if value._prec <= 53:
            return float_text(float(value), digits)
        return _decimal_text(value, min(digits, FLOAT_DIGITS))
    return _decimal_text(value.evalf(digits + 5), digits)


def float_text(number: float, digits: int = DEFAULT_DIGITS) -> str:
    """A float64 to ``digits`` significant digits (at most the 17 it holds), as ``%g`` writes it."""
    return f"{number:.{min(digits, FLOAT_DIGITS)}g}"


def _decimal_text(number: sympy.Float, digits: int) -> str:
    if digits <= 15 and (number.is_zero or 1e-300 < abs(float(number)) < 1e300):
        return f"{float(number):.{digits}g}"
    text = format(Decimal(str(number)), f".{digits}g")
    return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)  # 1.5e-5 -> 1.5e-05, as %g


class _Printer(StrPrinter):
    """SymPy's text, with ``abs(u)`` written as a formula types it (SymPy says ``Abs(u)``)."""

    def _print_Abs(self, expr: sympy.Expr) -> str:
        return f"abs({self._print(expr.args[0])})"


def expr_text(expr: sympy.Expr, *, written: bool = False) -> str:
    """One-line text of an expression; ``written`` keeps an unevaluated formula's own order."""
    settings = {"full_prec": False}  # a float alone prints as 1.5, as inside a product
    if written:
        settings["order"] = "none"
    return _Printer(settings).doprint(expr)


def format_expr(expr: sympy.Expr, digits: int = DEFAULT_DIGITS, *, written: bool = False) -> str:
    """One-line SymPy text of an expression, with float constants rounded to ``digits``.

    ``written`` prints an unevaluated formula in its own order (``e + c``,
    ``x/x``), as typed.
    """
    floats = {f: sympy.Float(f"{float(f):.{min(digits, FLOAT_DIGITS)}g}") for f in expr.atoms(sympy.Float)}
    if floats:
        with sympy.evaluate(not written):
            expr = expr.xreplace(floats)
    return expr_text(expr, written=written)


def dotted_product(expr: sympy.Expr, words: set) -> bool:
    """True for a product whose numerator has two factors or more besides its number, one of them a
    name of several letters (``words``): ``2*add1*add2`` set side by side reads as one long word
    (``2add₁add₂``), so its factors take a dot; ``2*x*y`` stays ``2xy``."""
    numerator, _ = sympy.fraction(expr)
    factors = [f for f in sympy.Mul.make_args(numerator) if not f.is_Number]
    bases = [f.base if f.is_Pow else f for f in factors]
    return len(factors) >= 2 and any(b in words for b in bases)
