"""SymPy's matrix expressions as the derivation needs them.

SymPy's matrix calculus (``MatrixSymbol``, ``Trace(G.T*F).diff(X)``) handles
sums, products, transposes and traces well; for what it gives only in array
form (Hadamard products, elementwise functions) and for softmax, the steps use
their own rules, written with the same objects. This module holds what those
rules share:

* :class:`Softmax`, a matrix expression for ``softmax`` of a column;
* :func:`elementwise`, ``f`` applied entry by entry (SymPy's ``ElementwiseApplyFunction``);
* :func:`lower` and :func:`lift`, between an elementwise matrix expression and
  the scalar formula of one entry, so that ``sympy.diff`` and ``sympy.cancel``
  work on entries (``(-y/a + (1 - y)/(1 - a))*a*(1 - a)`` is ``a - y``);
* :func:`evaluate`, any of these expressions at explicit matrices (exact for exact input);
* :func:`tidy`, the small clean-ups SymPy leaves (``g.T`` of a 1x1 ``g``, ``𝟙`` factors).
"""

from __future__ import annotations

from typing import Callable, Mapping

import sympy
from sympy import (
    HadamardPower,
    HadamardProduct,
    Identity,
    KroneckerProduct,
    Lambda,
    MatAdd,
    MatMul,
    MatPow,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Symbol,
    Trace,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from ..functions import leaky_relu, relu, sigmoid, softplus

__all__ = [
    "Softmax", "Elementwise", "FUNCTIONS", "LAMBDA_VARIABLE", "elementwise", "function_name", "derivative",
    "lower", "lift", "simplify_elementwise", "evaluate", "tidy", "count",
]

#: The variable of every elementwise function's ``Lambda`` (a plain name, so the printed form parses back).
LAMBDA_VARIABLE = Symbol("t", real=True)

#: The elementwise functions of a matrix formula, as functions of one SymPy argument.
FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tanh": sympy.tanh,
    "sigmoid": sigmoid,
    "relu": relu,
    "abs": sympy.Abs,
    "softplus": softplus,
    "leaky_relu": lambda t: leaky_relu(t, sympy.Rational(1, 100)),
}


class Softmax(MatrixExpr):
    """``softmax`` of a column ``z``: entry ``i`` is ``exp(z_i) / Σ_j exp(z_j)``.

    Prints as ``softmax(z)``; :func:`evaluate` computes it column by column.
    """

    def __new__(cls, arg):
        arg = sympy.sympify(arg)
        return sympy.Basic.__new__(cls, arg)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        rows = self.arg.shape[0]
        total = sympy.Add(*(sympy.exp(self.arg[k, j]) for k in range(rows)))
        return sympy.exp(self.arg[i, j]) / total

    def _sympystr(self, printer):
        return f"softmax({printer._print(self.arg)})"


class Elementwise(ElementwiseApplyFunction):
    """SymPy's ``ElementwiseApplyFunction``, kept as written.

    SymPy's own applies the function to a 1x1 argument as a matrix function
    (``sqrt`` of a 1x1 ``X`` becomes the matrix power ``X**(1/2)``), and its
    ``doit`` merges nested functions into one ``Lambda``; here ``log`` of
    ``sigmoid(z)`` stays two named functions.
    """

    def __new__(cls, function, expr):
        expr = sympy.sympify(expr)
        if not isinstance(function, Lambda):
            function = Lambda(LAMBDA_VARIABLE, function(LAMBDA_VARIABLE))
        return MatrixExpr.__new__(cls, function, expr)

    def doit(self, **hints):
        arg = self.expr.doit(**hints) if hints.get("deep", True) else self.expr
        return Elementwise(self.function, arg)


def elementwise(function: Callable[[sympy.Expr], sympy.Expr] | Lambda, arg: MatrixExpr) -> MatrixExpr:
    """``function`` applied to every entry of ``arg`` (a ``Lambda`` in :data:`LAMBDA_VARIABLE`)."""
    return Elementwise(function, arg)


def function_name(function: Lambda) -> str | None:
    """``sigmoid`` for ``Lambda(t, sigmoid(t))``; ``None`` when the body is not one call of ``t``."""
    variable, body = function.variables[0], function.expr
    if isinstance(body, sympy.Function) and body.args and body.args[0] == variable:
        if all(a.is_number for a in body.args[1:]):
            return type(body).__name__.lower() if body.func is not sympy.Abs else "abs"
    return None


def derivative(function: Lambda, z: MatrixExpr, a: MatrixExpr) -> MatrixExpr:
    """``f'(z)`` entry by entry, from ``sympy.diff`` of ``f``, written in ``a = f(z)`` where that is shorter.

    ``sigmoid`` gives ``a ⊙ (𝟙 - a)``, ``tanh`` ``𝟙 - a∘²``, ``exp`` ``a``, ``log`` ``z∘⁻¹``,
    ``relu`` ``Heaviside(z, 0)`` (0 at 0, as PyTorch).
    """
    t, body = function.variables[0], function.expr
    s = Symbol("s_", real=True)
    d = sympy.diff(body, t)
    if not body.is_Atom:
        d = d.xreplace({body: s})
        if body.is_Pow:  # sqrt(t): 1/(2*sqrt(t)) is written 1/(2*t**(1/2))
            d = d.xreplace({body.base ** -body.exp: 1 / s})
    return lift(d, {t: z, s: a}, z.shape)


# -- entries and matrices ------------------------------------------------------


def lower(
    expr: sympy.Basic, names: dict[MatrixExpr, Symbol], definitions: Mapping[MatrixSymbol, sympy.Basic] | None = None
) -> sympy.Expr | None:
    """The scalar formula of one entry of an elementwise matrix expression, or ``None``.

    Elementwise means: matrix symbols of one shape, ``𝟙``, sums, numbers times
    one matrix, Hadamard products and powers, elementwise functions, and any
    product or transpose of 1x1 matrices. ``names`` maps each matrix symbol met
    to its scalar stand-in (filled as it goes); a symbol in ``definitions`` is
    written out by its definition where that is elementwise too.
    """
    definitions = definitions or {}
    recurse = lambda e: lower(e, names, definitions)  # noqa: E731
    if isinstance(expr, MatrixSymbol):
        if expr in definitions:
            inner = recurse(definitions[expr])
            if inner is not None:
                return inner
        if expr not in names:
            names[expr] = Symbol(f"{expr.name}_", real=True)
        return names[expr]
    if isinstance(expr, OneMatrix) or (isinstance(expr, Identity) and expr.shape == (1, 1)):
        return sympy.S.One
    if isinstance(expr, Transpose) and expr.shape == (1, 1):
        return recurse(expr.arg)
    if isinstance(expr, MatAdd):
        parts = [recurse(a) for a in expr.args]
        return None if any(p is None for p in parts) else sympy.Add(*parts)
    if isinstance(expr, MatMul):
        scalars = [a for a in expr.args if not isinstance(a, MatrixExpr)]
        matrices = [a for a in expr.args if isinstance(a, MatrixExpr)]
        if not all(s.is_number for s in scalars) or (len(matrices) != 1 and any(m.shape != (1, 1) for m in matrices)):
            return None
        parts = [recurse(m) for m in matrices]
        return None if any(p is None for p in parts) else sympy.Mul(*scalars, *parts)
    if isinstance(expr, HadamardProduct):
        parts = [recurse(a) for a in expr.args]
        return None if any(p is None for p in parts) else sympy.Mul(*parts)
    if isinstance(expr, HadamardPower):
        base = recurse(expr.base)
        return None if base is None or not expr.exp.is_number else base**expr.exp
    if isinstance(expr, ElementwiseApplyFunction):
        inner = recurse(expr.expr)
        return None if inner is None else expr.function(inner)
    return None


def lift(scalar: sympy.Expr, back: Mapping[Symbol, MatrixExpr], shape: tuple[int, int]) -> MatrixExpr:
    """The elementwise matrix expression whose every entry is ``scalar`` (the inverse of :func:`lower`).

    Each symbol becomes its matrix in ``back``; a number standing alone becomes
    that number times ``𝟙``; a product of matrices becomes a Hadamard product.
    """
    scalar = sympy.sympify(scalar)
    if scalar in back:
        return back[scalar]
    if scalar.is_number:
        return scalar * OneMatrix(*shape) if scalar != 1 else OneMatrix(*shape)
    if scalar.is_Add:
        return MatAdd(*(lift(term, back, shape) for term in scalar.args))
    if scalar.is_Mul:
        coeff, rest = scalar.as_coeff_Mul()
        factors = [lift(f, back, shape) for f in sympy.Mul.make_args(rest)]
        product = factors[0] if len(factors) == 1 else HadamardProduct(*factors)
        return product if coeff == 1 else MatMul(coeff, product)
    if scalar.is_Pow and scalar.exp.is_number:
        return HadamardPower(lift(scalar.base, back, shape), scalar.exp)
    if isinstance(scalar, sympy.Function) and scalar.args and all(a.is_number for a in scalar.args[1:]):
        t = LAMBDA_VARIABLE
        return elementwise(Lambda(t, scalar.func(t, *scalar.args[1:])), lift(scalar.args[0], back, shape))
    raise ValueError(f"cannot write {sympy.sstr(scalar)} entry by entry")


def count(expr: sympy.Basic) -> int:
    """The number of nodes of an expression tree (its size for 'is it shorter?')."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


def simplify_elementwise(expr: MatrixExpr, definitions: Mapping[MatrixSymbol, sympy.Basic] | None = None) -> MatrixExpr:
    """``expr`` written shorter entry by entry where SymPy can (``cancel``, where there is a division), else as it is.

    Symbols in ``definitions`` (sums, Hadamard products and powers) are written
    out first, so that ``(-y/a + (1 - y)/(1 - a)) ⊙ a ⊙ (𝟙 - a)`` can become
    ``a - y`` even where ``1 - a`` is an intermediate of its own.
    """
    best, size = expr, count(expr)
    for inline in (None, definitions):  # as written first: on a tie, keep the intermediates
        names: dict[MatrixExpr, Symbol] = {}
        scalar = lower(expr, names, inline)
        if scalar is None:
            continue
        back = {s: m for m, s in names.items()}
        candidates = [scalar]
        if any(p.is_Pow and p.exp.is_negative for p in sympy.preorder_traversal(scalar)):
            candidates.append(sympy.cancel(scalar))  # only to cancel a division: cancel also expands products
        for candidate in candidates:
            try:
                lifted = tidy(lift(candidate, back, expr.shape))
            except ValueError:  # e.g. a function of two entries: leave it
                continue
            if count(lifted) < size:
                best, size = lifted, count(lifted)
    return best


# -- values ------------------------------------------------------------------


def evaluate(expr: sympy.Basic, env: Mapping[MatrixSymbol, sympy.Matrix]) -> sympy.Matrix | sympy.Expr:
    """``expr`` at explicit matrices: a SymPy ``Matrix`` (or a number for a scalar part).

    ``env`` gives every matrix symbol's value; arithmetic stays exact for exact values.
    """
    if isinstance(expr, MatrixSymbol):
        return env[expr]
    if isinstance(expr, OneMatrix):
        return sympy.ones(*expr.shape)
    if isinstance(expr, Identity):
        return sympy.eye(expr.rows)
    if isinstance(expr, ZeroMatrix):
        return sympy.zeros(*expr.shape)
    if isinstance(expr, MatAdd):
        parts = [evaluate(a, env) for a in expr.args]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total
    if isinstance(expr, MatMul):
        scalar, matrix = sympy.S.One, None
        for arg in expr.args:
            value = evaluate(arg, env)
            if isinstance(value, sympy.MatrixBase):
                matrix = value if matrix is None else matrix * value
            else:
                scalar = scalar * value
        return scalar * matrix if scalar != 1 else matrix
    if isinstance(expr, Transpose):
        return evaluate(expr.arg, env).T
    if isinstance(expr, HadamardProduct):
        parts = [evaluate(a, env) for a in expr.args]
        result = parts[0]
        for part in parts[1:]:
            result = result.multiply_elementwise(part)
        return result
    if isinstance(expr, HadamardPower):
        exponent = evaluate(expr.exp, env)
        return evaluate(expr.base, env).applyfunc(lambda v: v**exponent)
    if isinstance(expr, ElementwiseApplyFunction):
        return evaluate(expr.expr, env).applyfunc(expr.function)
    if isinstance(expr, Softmax):
        z = evaluate(expr.arg, env)
        exps = z.applyfunc(sympy.exp)
        return sympy.Matrix(z.rows, z.cols, lambda i, j: exps[i, j] / sum(exps[:, j]))
    if isinstance(expr, Trace):
        return evaluate(expr.arg, env).trace()
    if isinstance(expr, KroneckerProduct) and expr.args[0].shape == (1, 1):  # g ⊗ M = g·M for a 1x1 g
        scale = evaluate(expr.args[0], env)[0, 0]
        return scale * evaluate(KroneckerProduct(*expr.args[1:]) if len(expr.args) > 2 else expr.args[1], env)
    if isinstance(expr, MatrixElement):
        return evaluate(expr.parent, env)[int(expr.i), int(expr.j)]
    if isinstance(expr, MatrixExpr):
        raise TypeError(f"cannot evaluate {type(expr).__name__}")
    if expr.is_number:
        return expr
    return expr.func(*(evaluate(a, env) for a in expr.args))


# -- clean-ups -------------------------------------------------------------------


def tidy(expr: sympy.Basic) -> sympy.Basic:
    """A matrix expression without what SymPy's calculus leaves behind, in the order it was written.

    ``g.T`` of a 1x1 ``g`` is ``g``; ``𝟙.T`` is ``𝟙`` of the other shape;
    ``(A·B)ᵀ`` is ``Bᵀ·Aᵀ``; ``I`` and 1x1 ``1`` factors of a product and ``𝟙``
    factors of a Hadamard product drop out; numbers gather in front; equal
    terms of a sum add up; ``g ⊗ M`` of a 1x1 ``g = 1`` is ``M``. (SymPy's
    ``doit`` does most of this too, but sorts the factors of a Hadamard product.)
    """
    if not isinstance(expr, MatrixExpr):
        if isinstance(expr, sympy.Basic) and expr.args and not expr.is_Atom:
            return expr.func(*(tidy(a) for a in expr.args))
        return expr
    if isinstance(expr, (MatrixSymbol, OneMatrix, Identity, ZeroMatrix)):
        return expr
    args = [tidy(a) for a in expr.args]
    if isinstance(expr, Transpose):
        return _transpose(args[0])
    if isinstance(expr, MatMul):
        return _product(args, expr.shape)
    if isinstance(expr, MatAdd):
        return _sum(args, expr.shape)
    if isinstance(expr, HadamardProduct):
        coeff, factors = sympy.S.One, []
        for arg in args:
            for factor in arg.args if isinstance(arg, HadamardProduct) else (arg,):
                c, rest = _coefficient(factor)
                coeff *= c
                factors.append(rest)
        if any(isinstance(f, ZeroMatrix) for f in factors) or coeff == 0:
            return ZeroMatrix(*expr.shape)
        factors = [f for f in factors if not isinstance(f, OneMatrix)] or [OneMatrix(*expr.shape)]
        product = factors[0] if len(factors) == 1 else HadamardProduct(*factors)
        return product if coeff == 1 else _product([coeff, product], expr.shape)
    if isinstance(expr, MatPow) and args[1].is_Integer and args[1] > 0:  # SymPy's W**2 for W·W: as written
        return _product([args[0]] * int(args[1]), expr.shape)
    if isinstance(expr, HadamardPower):
        base, exponent = args
        return base if exponent == 1 or isinstance(base, OneMatrix) else HadamardPower(base, exponent)
    if isinstance(expr, KroneckerProduct) and len(args) == 2:
        first = args[0]
        if isinstance(first, (OneMatrix, Identity)) and first.shape == (1, 1):
            return args[1]
        return KroneckerProduct(*args)
    return expr.func(*args)


def _coefficient(expr: sympy.Basic) -> tuple[sympy.Expr, sympy.Basic]:
    """``(number, rest)``: ``-2*W*x`` -> ``(-2, W*x)``."""
    if isinstance(expr, MatMul):
        numbers = [a for a in expr.args if not isinstance(a, MatrixExpr) and a.is_number]
        rest = [a for a in expr.args if isinstance(a, MatrixExpr) or not a.is_number]
        if numbers and rest:
            return sympy.Mul(*numbers), (rest[0] if len(rest) == 1 else MatMul(*rest))
    return sympy.S.One, expr


def _transpose(arg: MatrixExpr) -> MatrixExpr:
    rows, cols = arg.shape
    if isinstance(arg, MatrixSymbol) and arg.shape == (1, 1):
        return arg
    if isinstance(arg, (OneMatrix, ZeroMatrix)):
        return type(arg)(cols, rows)
    if isinstance(arg, Identity):
        return arg
    if isinstance(arg, Transpose):
        return arg.arg
    if isinstance(arg, MatMul):
        parts = [a if not isinstance(a, MatrixExpr) else _transpose(a) for a in reversed(arg.args)]
        return _product(parts, (cols, rows))
    if isinstance(arg, MatAdd):
        return _sum([_transpose(a) for a in arg.args], (cols, rows))
    if isinstance(arg, HadamardProduct):
        return HadamardProduct(*(_transpose(a) for a in arg.args))
    if isinstance(arg, HadamardPower):
        return HadamardPower(_transpose(arg.base), arg.exp)
    if isinstance(arg, ElementwiseApplyFunction):
        return Elementwise(arg.function, _transpose(arg.expr))
    return Transpose(arg)


def _product(args: list, shape: tuple[int, int]) -> MatrixExpr:
    coeff, factors = sympy.S.One, []
    for arg in args:
        if not isinstance(arg, MatrixExpr):
            coeff *= arg
            continue
        inner = arg.args if isinstance(arg, MatMul) else (arg,)
        for factor in inner:
            if isinstance(factor, MatrixExpr):
                factors.append(factor)
            else:
                coeff *= factor
    if coeff == 0 or any(isinstance(f, ZeroMatrix) for f in factors):
        return ZeroMatrix(*shape)
    kept: list[MatrixExpr] = []
    for f in factors:
        if isinstance(f, Identity) or (isinstance(f, OneMatrix) and f.shape == (1, 1)):
            continue
        if kept and isinstance(f, OneMatrix) and isinstance(kept[-1], OneMatrix):  # 𝟙·𝟙ᵀ: ones; 𝟙ᵀ·𝟙: a count
            coeff *= f.shape[0]
            kept[-1] = OneMatrix(kept[-1].shape[0], f.shape[1])
            continue
        kept.append(f)
    if not kept:
        kept = [Identity(shape[0]) if shape[0] == shape[1] else OneMatrix(*shape)]
    if coeff == 1:
        return kept[0] if len(kept) == 1 else MatMul(*kept)
    return MatMul(coeff, *kept)


def _sum(args: list, shape: tuple[int, int]) -> MatrixExpr:
    totals: dict[sympy.Basic, sympy.Expr] = {}
    for arg in args:
        for term in arg.args if isinstance(arg, MatAdd) else (arg,):
            if isinstance(term, ZeroMatrix):
                continue
            coeff, rest = _coefficient(term)
            totals[rest] = totals.get(rest, sympy.S.Zero) + coeff
    terms = [rest if c == 1 else _product([c, rest], shape) for rest, c in totals.items() if c != 0]
    if not terms:
        return ZeroMatrix(*shape)
    return terms[0] if len(terms) == 1 else MatAdd(*terms)
