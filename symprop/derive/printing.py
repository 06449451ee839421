"""How matrix expressions are written: unicode or ASCII text, LaTeX, and SymPy's parseable string form.

One writer walks a SymPy matrix expression for every human format, with a
style for each: ``δ2·a1ᵀ`` and ``∂L/∂a2 ⊙ a2 ⊙ (𝟙 - a2)`` as unicode text,
``delta2*a1^T`` as ASCII, ``\\delta_{2} a_{1}^{\\top}`` as LaTeX. Sums print
their positive terms first, Hadamard products the upstream gradient first, and ``X^∘-1`` inside a Hadamard product as a division ``⊘``.

:func:`sympy_text` is the machine form (for JSON): SymPy's ``str`` printer,
except where that cannot be parsed back (``𝟙`` prints as ``OneMatrix(3, 1)``,
an elementwise function as ``z.applyfunc(sigmoid)``).

It lives with the derivation, below the renderers, because the matrix view
(:mod:`symprop.matrix`) writes the derived formulas it evaluates with it too
(``delta2 = dL/da2 ⊙ a2 ⊙ (1 - a2)``), as every renderer of a derivation does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import sympy
from sympy import (
    HadamardPower,
    HadamardProduct,
    Identity,
    KroneckerProduct,
    Lambda,
    MatAdd,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Trace,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.printing.str import StrPrinter

from .algebra import LAMBDA_VARIABLE, Softmax, function_name

__all__ = ["Style", "TEXT", "ASCII", "VIEW", "LATEX", "write", "sympy_text", "latex_symbol", "shape_label", "number"]


@dataclass(frozen=True)
class Style:
    """The tokens of one output format."""

    product: str
    hadamard: str
    divide: str
    transpose: str
    ones: str
    open: str
    close: str
    latex: bool = False
    unicode: bool = True


TEXT = Style("·", " ⊙ ", " ⊘ ", "ᵀ", "𝟙", "(", ")")
ASCII = Style("*", " .* ", " ./ ", "^T", "1", "(", ")", unicode=False)
#: The matrix view's: the operators of the text, the transpose and ones as its other formulas write them (``W2^T·delta2``).
VIEW = Style("·", " ⊙ ", " ⊘ ", "^T", "1", "(", ")")
LATEX = Style(" ", " \\odot ", " \\oslash ", "^{\\top}", "\\mathbf{1}", "\\left(", "\\right)", latex=True)

_ADD, _MUL, _POW, _ATOM = 1, 2, 3, 4
_GREEK = {"delta": "\\delta", "sigma": "\\sigma", "alpha": "\\alpha", "beta": "\\beta", "theta": "\\theta",
          "lambda": "\\lambda", "mu": "\\mu", "eta": "\\eta", "gamma": "\\gamma", "epsilon": "\\epsilon"}
_LATEX_FUNCTIONS = {"sigmoid": "\\sigma", "exp": "\\exp", "log": "\\log", "sin": "\\sin", "cos": "\\cos",
                    "tanh": "\\tanh", "sqrt": "\\sqrt"}
_NAME = re.compile(r"([A-Za-z]+?)_?(\d*)\Z")


def shape_label(shape: tuple[int, int], style: Style = TEXT) -> str:
    """``3×2`` (``3x2`` in ASCII, ``3 \\times 2`` in LaTeX)."""
    if style.latex:
        return f"{shape[0]} \\times {shape[1]}"
    return f"{shape[0]}{'×' if style.unicode else 'x'}{shape[1]}"


def number(value: sympy.Expr, digits: int, *, latex: bool = False) -> str:
    """A value in a matrix: exact rationals as they are (``5/2``), anything else to ``digits`` digits."""
    if value.is_Rational:
        return sympy.latex(value) if latex else sympy.sstr(value)
    text = f"{float(value):.{digits}g}"
    if latex and "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa} \\times 10^{{{int(exponent)}}}"
    return text


def latex_symbol(name: str) -> str:
    """A symbol name in LaTeX: ``W1`` -> ``W_{1}``, ``delta2`` -> ``\\delta_{2}``, ``dL_dW1`` -> ``\\partial L/\\partial W_{1}``."""
    if name.startswith("dL_d") and len(name) > 4:
        return f"\\frac{{\\partial L}}{{\\partial {latex_symbol(name[4:])}}}"
    match = _NAME.match(name)
    if not match:
        return "\\mathrm{" + name.replace("_", "\\_") + "}"
    base, index = match.groups()
    if base in _GREEK:
        base = _GREEK[base]
    elif len(base) > 1:
        base = f"\\mathrm{{{base}}}"
    return f"{base}_{{{index}}}" if index else base


def _text_label(name: str, style: Style, labels: Mapping[str, str]) -> str:
    label = labels.get(name, name)
    if not style.unicode:
        label = label.replace("∂", "d").replace("δ", "delta")
    return label


def write(
    expr: sympy.Basic, style: Style = TEXT, *, labels: Mapping[str, str] | None = None, first: frozenset = frozenset()
) -> str:
    """``expr`` in ``style``; ``labels`` name symbols for text, ``first`` are symbols a Hadamard product puts first."""
    return _Writer(style, labels or {}, first).write(expr)


class _Writer:
    def __init__(self, style: Style, labels: Mapping[str, str], first: frozenset):
        self.style, self.labels, self.first = style, labels, first

    def paren(self, text: str) -> str:
        return f"{self.style.open}{text}{self.style.close}"

    def write(self, expr: sympy.Basic, outer: int = 0) -> str:
        text, level = self.part(expr)
        return self.paren(text) if level < outer else text

    def symbol(self, name: str) -> str:
        return latex_symbol(name) if self.style.latex else _text_label(name, self.style, self.labels)

    def part(self, expr: sympy.Basic) -> tuple[str, int]:
        s = self.style
        if isinstance(expr, MatrixSymbol):
            return self.symbol(expr.name), _ATOM
        if isinstance(expr, (OneMatrix, Identity)) and expr.shape == (1, 1):
            return "1", _ATOM
        if isinstance(expr, OneMatrix):
            return (s.ones + s.transpose, _POW) if expr.shape[0] == 1 else (s.ones, _ATOM)
        if isinstance(expr, Identity):
            return "I", _ATOM
        if isinstance(expr, ZeroMatrix):
            return "0", _ATOM
        if isinstance(expr, MatrixElement) and expr.parent.shape == (1, 1):
            return self.part(expr.parent)
        if isinstance(expr, Transpose):
            return self.write(expr.arg, _ATOM) + s.transpose, _POW
        if isinstance(expr, MatAdd):
            return self.add(expr.args), _ADD
        if isinstance(expr, MatMul):
            return self.mul(expr)
        if isinstance(expr, HadamardProduct):
            return self.hadamard(expr.args), _MUL
        if isinstance(expr, HadamardPower):
            return self.power(expr)
        if isinstance(expr, KroneckerProduct) and expr.args[0].shape == (1, 1):
            return s.product.join(self.write(a, _MUL + 1) for a in expr.args), _MUL
        if isinstance(expr, ElementwiseApplyFunction):
            return self.function(expr.function, expr.expr), _ATOM
        if isinstance(expr, Softmax):
            name = "\\operatorname{softmax}" if s.latex else "softmax"
            return name + self.paren(self.write(expr.arg)), _ATOM
        if isinstance(expr, Trace):
            name = "\\operatorname{tr}" if s.latex else "tr"
            return name + self.paren(self.write(expr.arg)), _ATOM
        if isinstance(expr, MatrixExpr):  # pragma: no cover - nothing else is made
            return sympy.sstr(expr), _ATOM
        return self.scalar(expr)

    def scalar(self, expr: sympy.Basic) -> tuple[str, int]:
        if expr.is_Number or expr.is_Symbol:
            text = sympy.latex(expr) if self.style.latex else sympy.sstr(expr)
            level = _ATOM if (expr.is_Symbol or (expr.is_Integer and expr >= 0)) else _MUL
            return text, level
        if expr.is_Mul or expr.is_Add:  # a number times a trace, say
            if expr.is_Add:
                return self.add(expr.args), _ADD
            return self.mul(expr)
        return (sympy.latex(expr) if self.style.latex else sympy.sstr(expr)), _MUL

    def add(self, terms) -> str:
        positive, negative = [], []
        for term in terms:
            coeff, rest = _split(term)
            (negative if coeff.is_negative else positive).append((coeff, rest, term))
        pieces = []
        for k, (coeff, rest, term) in enumerate(positive + negative):
            if coeff.is_negative:
                body = self.write(_scaled(-coeff, rest), _ADD + 1)
                pieces.append(("- " if k else "-") + body)
            else:
                pieces.append(("+ " if k else "") + self.write(term, _ADD + 1))
        return " ".join(pieces)

    def mul(self, expr) -> tuple[str, int]:
        coeff, factors = _split(expr)
        sign = ""
        if coeff.is_negative:
            sign, coeff = "-", -coeff
        matrices = list(sympy.Mul.make_args(factors)) if not isinstance(factors, MatMul) else list(factors.args)
        if len(matrices) > 1:  # a number as a 1x1 matrix: tr(A·X)·1 is tr(A·X)
            matrices = [f for f in matrices if not (isinstance(f, (Identity, OneMatrix)) and f.shape == (1, 1))]
            factors = matrices[0] if len(matrices) == 1 else MatMul(*matrices)
        body = self.style.product.join(self.write(f, _MUL + 1) for f in matrices)
        if coeff == 1:
            return sign + body, (_MUL if sign or len(matrices) > 1 else self.part(matrices[0])[1])
        if coeff.is_Rational and coeff.p == 1:  # a division by a whole number
            inner = _POW if isinstance(factors, (HadamardProduct, HadamardPower)) else _MUL
            return f"{sign}{self.write(factors, inner)}/{coeff.q}" if not self.style.latex else (
                f"{sign}\\frac{{1}}{{{coeff.q}}} {body}"
            ), _MUL
        number = sympy.latex(coeff) if self.style.latex else sympy.sstr(coeff)
        if coeff.is_Rational and not coeff.is_Integer and not self.style.latex:
            number = f"({number})"
        return f"{sign}{number}{self.style.product}{body}", _MUL

    def hadamard(self, factors) -> str:
        def rank(f: sympy.Basic) -> int:  # the upstream gradient first, the rest as written
            return 0 if isinstance(f, MatrixSymbol) and f.name in self.first else 1

        numerator = [f for f in factors if not (isinstance(f, HadamardPower) and f.exp == -1)]
        denominator = [f.base for f in factors if isinstance(f, HadamardPower) and f.exp == -1]
        numerator.sort(key=rank)
        ones = "1" if factors[0].shape == (1, 1) else self.style.ones
        top = self.style.hadamard.join(self.write(f, _MUL + 1) for f in numerator) or ones
        if not denominator:
            return top
        bottom = self.style.hadamard.join(self.write(f, _MUL + 1) for f in denominator)
        if len(numerator) > 1:
            top = self.paren(top)
        if len(denominator) > 1:
            bottom = self.paren(bottom)
        return f"{top}{self.style.divide}{bottom}"

    def power(self, expr: HadamardPower) -> tuple[str, int]:
        s = self.style
        if expr.exp == -1:
            ones = "1" if expr.shape == (1, 1) else s.ones
            return f"{ones}{s.divide}{self.write(expr.base, _MUL + 1)}", _MUL
        exponent = sympy.latex(expr.exp) if s.latex else sympy.sstr(expr.exp)
        base = self.write(expr.base, _ATOM)
        if s.latex:
            return f"{base}^{{\\circ {exponent}}}", _POW
        mark = "^∘" if s.unicode else ".^"
        if not (expr.exp.is_Integer and expr.exp >= 0):
            exponent = f"({exponent})"
        return f"{base}{mark}{exponent}", _POW

    def function(self, function: Lambda, arg: MatrixExpr) -> str:
        name = function_name(function)
        inner = self.write(arg)
        if name is not None and function.expr.args[1:] == ():
            if self.style.latex:
                head = _LATEX_FUNCTIONS.get(name, f"\\operatorname{{{name}}}")
                return f"{head}{{\\left({inner}\\right)}}" if name == "sqrt" else f"{head}\\left({inner}\\right)"
            return f"{name}({inner})"
        variable, body = function.variables[0], function.expr
        placeholder = sympy.Symbol("ARGUMENT")
        text = sympy.latex(body.xreplace({variable: placeholder})) if self.style.latex else sympy.sstr(
            body.xreplace({variable: placeholder})
        )
        if name is not None and self.style.latex:  # e.g. leaky_relu(z, 1/100)
            text = text.replace("_", "\\_") if "operatorname" not in text else text
        return text.replace("ARGUMENT", inner)


def _split(expr: sympy.Basic) -> tuple[sympy.Expr, sympy.Basic]:
    """``(number, rest)`` of a term: ``-2*W*x`` -> ``(-2, W*x)``."""
    if isinstance(expr, MatMul):
        numbers = [a for a in expr.args if a.is_number]
        rest = [a for a in expr.args if not a.is_number]
        coeff = sympy.Mul(*numbers)
        if not rest:
            return coeff, sympy.S.One
        return coeff, (MatMul(*rest) if len(rest) > 1 else rest[0])
    if isinstance(expr, sympy.Mul):
        coeff, rest = expr.as_coeff_Mul()
        return coeff, rest
    if getattr(expr, "is_Number", False):
        return expr, sympy.S.One
    return sympy.S.One, expr


def _scaled(coeff: sympy.Expr, rest: sympy.Basic) -> sympy.Basic:
    if coeff == 1:
        return rest
    return MatMul(coeff, rest) if isinstance(rest, MatrixExpr) else coeff * rest


# -- the machine form ------------------------------------------------------------


class _ParseablePrinter(StrPrinter):
    """SymPy's ``str``, with the pieces it prints ambiguously written as constructors."""

    def _print_OneMatrix(self, expr):
        return f"OneMatrix({expr.shape[0]}, {expr.shape[1]})"

    def _print_Identity(self, expr):
        return f"Identity({expr.shape[0]})"

    def _print_ZeroMatrix(self, expr):
        return f"ZeroMatrix({expr.shape[0]}, {expr.shape[1]})"

    def _print_HadamardProduct(self, expr):
        return f"HadamardProduct({', '.join(self._print(a) for a in expr.args)})"

    def _print_HadamardPower(self, expr):
        return f"HadamardPower({self._print(expr.base)}, {self._print(expr.exp)})"

    def _print_KroneckerProduct(self, expr):
        return f"KroneckerProduct({', '.join(self._print(a) for a in expr.args)})"

    def _print_ElementwiseApplyFunction(self, expr):
        name = function_name(expr.function)
        arg = self._print(expr.expr)
        if not isinstance(expr.expr, MatrixSymbol):
            arg = f"({arg})"
        if name is not None and not expr.function.expr.args[1:]:
            return f"{arg}.applyfunc({type(expr.function.expr).__name__})"
        variable, body = expr.function.variables[0], expr.function.expr
        t = sympy.Symbol(LAMBDA_VARIABLE.name)
        return f"{arg}.applyfunc(Lambda({t}, {self._print(body.xreplace({variable: t}))}))"


def sympy_text(expr: sympy.Basic) -> str:
    """SymPy's string form of a matrix expression, parseable back with ``MatrixSymbol``s of the given shapes.

    Besides the symbols, the names it uses are SymPy's (``OneMatrix``,
    ``HadamardProduct``, ``Lambda``, ``Heaviside``, ...), symprop's functions
    (``sigmoid``, ``relu``, ``softplus``, ``leaky_relu``) and ``softmax``
    (:class:`symprop.derive.algebra.Softmax`).
    """
    return _ParseablePrinter().doprint(expr)
