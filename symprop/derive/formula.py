"""Matrix formulas, parsed safely: text and shapes to a tree of matrix operations.

The same approach as :mod:`symprop.expr`, and the same front matter
(:func:`symprop.expr.formula_syntax`: the text's checks, then Python's
:mod:`ast`): only a whitelist of node types is turned into anything; nothing
of it is ever ``eval``ed or given to ``sympify``. The grammar:

* names of matrices, each with a shape (``W=3x2``; ``x=2`` is a 2x1 column);
* numbers, which scale (``2*X``, ``X/2``, ``-X``) or, added to a matrix, stand
  for that number times a matrix of ones (``1 - a``);
* ``+`` and ``-`` of equal shapes, ``*`` the matrix product, ``.T`` the transpose;
* ``**`` with a number exponent, on a 1x1 expression only (for entry by entry
  powers write ``hadamard(u, u)``; the matrix power is not supported);
* elementwise functions ``exp log sqrt sin cos tanh sigmoid relu abs softplus
  leaky_relu``; ``softmax`` of a column; ``sum`` of all entries; ``trace`` of a
  square matrix; ``hadamard(A, B, ...)``, the entry by entry product ``A ⊙ B``.

Every operation's shapes are checked as the tree is built, and an error names
the operation and both shapes. The tree's nodes are frozen dataclasses, so
equal subexpressions compare (and hash) equal: ``(W*x - y).T*(W*x - y)`` uses
one ``W*x - y``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Mapping

import sympy

from ..errors import FormulaError, ShapeError
from ..expr import (
    MAX_CONSTANT_BITS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_FORMULA_LENGTH,
    _NODE_NAMES,
    _OPERATOR_NAMES,
    formula_syntax,
    valid_name,
    parse_number,
)

__all__ = [
    "Op", "Leaf", "Ones", "Add", "Prod", "T", "Had", "Pow", "Apply", "Softmax", "Total", "Tr", "Named",
    "ELEMENTWISE", "MATRIX_FUNCTIONS", "MAX_DIM", "Formula", "parse_matrix_formula", "shape_text",
]

#: The largest dimension a shape may have (the entry-by-entry check grows with the entries).
MAX_DIM = 100

#: Elementwise functions a matrix formula may apply.
ELEMENTWISE = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "softplus", "leaky_relu")
#: Every function a matrix formula may call.
MATRIX_FUNCTIONS = (*ELEMENTWISE, "softmax", "sum", "trace", "hadamard")

Shape = tuple[int, int]


def shape_text(shape: Shape) -> str:
    """``(3, 2)`` -> ``3x2``."""
    return f"{shape[0]}x{shape[1]}"


# -- the tree --------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """A matrix operation; ``shape`` is ``(rows, columns)``."""

    @property
    def shape(self) -> Shape:  # pragma: no cover - every subclass defines it
        raise NotImplementedError


@dataclass(frozen=True)
class Leaf(Op):
    """A named matrix given by the user (a parameter or an input)."""

    name: str
    dims: Shape

    @property
    def shape(self) -> Shape:
        return self.dims


@dataclass(frozen=True)
class Ones(Op):
    """The matrix of ones ``𝟙``, where a number is added to a matrix."""

    dims: Shape

    @property
    def shape(self) -> Shape:
        return self.dims


@dataclass(frozen=True)
class Prod(Op):
    """``coeff · F1 · F2 ⋯``: a number times a matrix product (one factor: a scaled matrix)."""

    coeff: sympy.Expr
    factors: tuple[Op, ...]

    @property
    def shape(self) -> Shape:
        return (self.factors[0].shape[0], self.factors[-1].shape[1])


@dataclass(frozen=True)
class Add(Op):
    """A sum of terms of one shape (a difference is a term times -1)."""

    terms: tuple[Op, ...]

    @property
    def shape(self) -> Shape:
        return self.terms[0].shape


@dataclass(frozen=True)
class T(Op):
    """The transpose."""

    arg: Op

    @property
    def shape(self) -> Shape:
        return (self.arg.shape[1], self.arg.shape[0])


@dataclass(frozen=True)
class Had(Op):
    """The Hadamard (entry by entry) product of factors of one shape."""

    factors: tuple[Op, ...]

    @property
    def shape(self) -> Shape:
        return self.factors[0].shape


@dataclass(frozen=True)
class Pow(Op):
    """An entry by entry power with a number exponent."""

    arg: Op
    exponent: sympy.Expr

    @property
    def shape(self) -> Shape:
        return self.arg.shape


@dataclass(frozen=True)
class Apply(Op):
    """An elementwise function (one of :data:`ELEMENTWISE`)."""

    function: str
    arg: Op

    @property
    def shape(self) -> Shape:
        return self.arg.shape


@dataclass(frozen=True)
class Softmax(Op):
    """``softmax`` of a column: ``exp(z_i) / Σ_j exp(z_j)``."""

    arg: Op

    @property
    def shape(self) -> Shape:
        return self.arg.shape


@dataclass(frozen=True)
class Total(Op):
    """The sum of every entry, a 1x1 result."""

    arg: Op

    @property
    def shape(self) -> Shape:
        return (1, 1)


@dataclass(frozen=True)
class Tr(Op):
    """The trace of a square matrix, a 1x1 result."""

    arg: Op

    @property
    def shape(self) -> Shape:
        return (1, 1)


@dataclass(frozen=True)
class Named(Op):
    """An intermediate the user named (``z = W*x + b; ...``)."""

    name: str
    arg: Op

    @property
    def shape(self) -> Shape:
        return self.arg.shape


@dataclass(frozen=True)
class _Number:
    """A bare number while parsing (it becomes a coefficient or a multiple of ``𝟙``)."""

    value: sympy.Expr


@dataclass
class Formula:
    """A parsed matrix formula.

    Attributes:
        text: the formula as given.
        root: the output's tree (1x1 for a loss).
        leaves: the named matrices in order of first appearance, with their shapes.
        nodes: the names the user gave to intermediates, in order.
    """

    text: str
    root: Op
    leaves: dict[str, Shape]
    nodes: list[str]


# -- parsing ---------------------------------------------------------------


def parse_matrix_formula(text: str, shapes: Mapping[str, Shape]) -> Formula:
    """Parse a matrix formula, or named nodes ``"z = W*x + b; L = sum(z)"``, checking every shape.

    Args:
        text: the formula. The last node (or the only formula) is the output.
        shapes: the shape of every named matrix.

    Raises:
        FormulaError: the text is outside the grammar (the message names what).
        ShapeError: a name without a shape, or an operation whose shapes do not conform.
    """
    if not isinstance(text, str):  # each node's text gets the checks of every formula as it is parsed
        raise FormulaError(f"a formula must be text, not {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:  # and all of them together the same bound
        raise FormulaError(f"formula is longer than {MAX_FORMULA_LENGTH} characters")
    parts = [p.strip() for p in text.replace("\n", ";").split(";") if p.strip()]
    if not parts:
        raise FormulaError("formula is empty")
    builder = _Builder(shapes)
    root: Op | None = None
    for k, part in enumerate(parts):
        name = None
        if "=" in part:
            name, part = (s.strip() for s in part.split("=", 1))
            valid_name(name, what="node name")
            if name in shapes or name in builder.named:
                raise FormulaError(f"node {name!r} is defined twice (or is also given a shape)")
        elif k < len(parts) - 1:
            raise FormulaError(f"every node but the last is written 'name = formula', got {part[:40]!r}")
        root = builder.parse(part)
        if name is not None:
            root = Named(name, root)
            builder.named[name] = root
    assert root is not None
    unused = [n for n in builder.named if n not in builder.used and builder.named[n] is not root]
    if unused:
        raise FormulaError(f"node {unused[0]!r} is not used by the output")
    return Formula(text.strip(), root, dict(builder.leaves), list(builder.named))


class _Builder:
    """Turns whitelisted ``ast`` nodes into :class:`Op` trees, checking shapes."""

    def __init__(self, shapes: Mapping[str, Shape]):
        self.shapes = shapes
        self.leaves: dict[str, Shape] = {}
        self.named: dict[str, Op] = {}
        self.used: set[str] = set()
        self.source = ""

    def parse(self, text: str) -> Op:
        tree = formula_syntax(text)
        self.source = text.strip()
        try:
            result = self.build(tree, 0)
        except RecursionError:
            raise FormulaError(f"formula is nested more than {MAX_DEPTH} levels deep") from None
        if isinstance(result, _Number):
            raise FormulaError(f"formula {_short(text)} has no matrix in it")
        return result

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or "?"

    def build(self, node: ast.AST, depth: int) -> Op | _Number:
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula is nested more than {MAX_DEPTH} levels deep")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            what = _NODE_NAMES.get(type(node)) or _OPERATOR_NAMES.get(type(node))
            raise FormulaError(f"{what or type(node).__name__} is not allowed in a matrix formula")
        return method(node, depth + 1)

    def _Constant(self, node: ast.Constant, depth: int) -> _Number:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a string" if isinstance(value, (str, bytes)) else repr(value)
            raise FormulaError(f"{kind} is not allowed in a formula (only numbers)")
        return _Number(parse_number(self.text(node).replace("_", ""), exact=True))

    def _Name(self, node: ast.Name, depth: int) -> Op:
        name = node.id
        if name in self.named:
            self.used.add(name)
            return self.named[name]
        if name in MATRIX_FUNCTIONS:
            raise FormulaError(f"{name!r} is a function name; call it as {name}(...)")
        valid_name(name)
        if name not in self.shapes:
            raise ShapeError(f"symbol {name!r} has no shape; give it with --shapes, e.g. --shapes {name}=3x1")
        self.leaves.setdefault(name, self.shapes[name])
        return Leaf(name, self.shapes[name])

    def _Attribute(self, node: ast.Attribute, depth: int) -> Op:
        if node.attr != "T":
            raise FormulaError(f"attribute access .{node.attr[:20]} is not allowed in a matrix formula (only .T)")
        arg = self.matrix(node.value, depth, ".T")
        return arg.arg if isinstance(arg, T) else T(arg)

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> Op | _Number:
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.UAdd):
            return operand
        if not isinstance(node.op, ast.USub):
            raise FormulaError(f"operator {_OPERATOR_NAMES.get(type(node.op), '?')} is not allowed in a formula")
        if isinstance(operand, _Number):
            return _Number(-operand.value)
        return _scale(sympy.S.NegativeOne, operand)

    def _BinOp(self, node: ast.BinOp, depth: int) -> Op | _Number:
        op = node.op
        if not isinstance(op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
            if isinstance(op, ast.MatMult):
                raise FormulaError("operator '@' is not used here: '*' is the matrix product")
            raise FormulaError(f"operator {_OPERATOR_NAMES.get(type(op), '?')} is not allowed in a formula")
        left, right = self.build(node.left, depth), self.build(node.right, depth)
        where = self.text(node)
        if isinstance(left, _Number) and isinstance(right, _Number):
            return _Number(_numbers(op, left.value, right.value, where))
        if isinstance(op, (ast.Add, ast.Sub)):
            if isinstance(left, _Number):
                left = _scale(left.value, Ones(right.shape))
            if isinstance(right, _Number):
                right = _scale(right.value, Ones(left.shape))
            if left.shape != right.shape:
                raise ShapeError(
                    f"shapes differ in the sum {_short(where)}: {self.text(node.left)} is {shape_text(left.shape)} "
                    f"and {self.text(node.right)} is {shape_text(right.shape)}"
                )
            if isinstance(op, ast.Sub):
                right = _scale(sympy.S.NegativeOne, right)
            return Add(_terms(left) + _terms(right))
        if isinstance(op, ast.Mult):
            if isinstance(left, _Number):
                return _scale(left.value, right)
            if isinstance(right, _Number):
                return _scale(right.value, left)
            if left.shape[1] != right.shape[0]:
                raise ShapeError(
                    f"shapes do not conform in the matrix product {_short(where)}: {self.text(node.left)} is "
                    f"{shape_text(left.shape)} and {self.text(node.right)} is {shape_text(right.shape)} "
                    f"({left.shape[1]} columns against {right.shape[0]} rows)"
                )
            return _product(left, right)
        if isinstance(op, ast.Div):
            if not isinstance(right, _Number):
                raise FormulaError(
                    f"division by a matrix ({_short(where)}) is not supported; divide by numbers only"
                )
            if right.value == 0:
                raise FormulaError("division by zero in the formula")
            return _scale(1 / right.value, left)
        # ** : a number exponent on a 1x1 expression
        if not isinstance(right, _Number):
            raise FormulaError(f"the exponent in {_short(where)} must be a number")
        if isinstance(left, _Number):
            raise FormulaError(f"{_short(where)} has no matrix in it")
        if left.shape != (1, 1):
            raise FormulaError(
                f"'**' of a {shape_text(left.shape)} matrix ({_short(where)}) is not supported: powers are for "
                "1x1 expressions; for entry by entry powers write hadamard(u, u)"
            )
        if abs(right.value) > MAX_EXPONENT:
            raise FormulaError(f"exponent {right.value} is too large (limit {MAX_EXPONENT})")
        return Pow(left, right.value)

    def _Call(self, node: ast.Call, depth: int) -> Op:
        if isinstance(node.func, ast.Attribute):
            raise FormulaError("attribute access is not allowed in a formula (only .T)")
        if not isinstance(node.func, ast.Name):
            raise FormulaError("only calls of plain function names are allowed in a formula")
        name = node.func.id
        if name not in MATRIX_FUNCTIONS:
            raise FormulaError(f"unknown function {_short(name)}; allowed: {', '.join(MATRIX_FUNCTIONS)}")
        if node.keywords:
            raise FormulaError(f"{name}() takes no keyword arguments")
        if name == "hadamard":
            if len(node.args) < 2:
                raise FormulaError(f"hadamard() takes 2 or more arguments, got {len(node.args)}")
            factors = [self.matrix(a, depth, "hadamard()") for a in node.args]
            for a, f in zip(node.args[1:], factors[1:]):
                if f.shape != factors[0].shape:
                    raise ShapeError(
                        f"shapes differ in {_short(self.text(node))}: {self.text(node.args[0])} is "
                        f"{shape_text(factors[0].shape)} and {self.text(a)} is {shape_text(f.shape)} "
                        "(an entry by entry product needs equal shapes)"
                    )
            flat: list[Op] = []
            for f in factors:
                flat.extend(f.factors if isinstance(f, Had) else (f,))
            return Had(tuple(flat))
        if len(node.args) != 1:
            raise FormulaError(f"{name}() takes 1 argument, got {len(node.args)}")
        arg = self.matrix(node.args[0], depth, f"{name}()")
        if name == "softmax":
            if arg.shape[1] != 1:
                raise ShapeError(f"softmax is for a column; {self.text(node.args[0])} is {shape_text(arg.shape)}")
            return Softmax(arg)
        if name == "sum":
            return Total(arg)
        if name == "trace":
            if arg.shape[0] != arg.shape[1]:
                raise ShapeError(f"trace needs a square matrix; {self.text(node.args[0])} is {shape_text(arg.shape)}")
            return Tr(arg)
        return Apply(name, arg)

    def matrix(self, node: ast.AST, depth: int, what: str) -> Op:
        result = self.build(node, depth)
        if isinstance(result, _Number):
            raise FormulaError(f"{what} needs a matrix, got the number {sympy.sstr(result.value)}")
        return result


def _numbers(op: ast.operator, a: sympy.Expr, b: sympy.Expr, where: str) -> sympy.Expr:
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b
    if isinstance(op, ast.Div):
        if b == 0:
            raise FormulaError("division by zero in the formula")
        return a / b
    bits = max(a.p.bit_length(), a.q.bit_length()) if a.is_Rational else 64
    if abs(b) > MAX_EXPONENT or (a == 0 and b < 0) or bits * abs(float(b)) > MAX_CONSTANT_BITS:
        raise FormulaError(f"the constant power {_short(where)} is out of range")
    value = a**b
    if not value.is_real:
        raise FormulaError(f"the constant {_short(where)} is not real")
    return value


def _scale(coeff: sympy.Expr, op: Op) -> Op:
    """``coeff · op``, merging coefficients (``-(2*X)`` is ``-2·X``)."""
    if coeff == 1:
        return op
    if isinstance(op, Prod):
        return Prod(coeff * op.coeff, op.factors) if coeff * op.coeff != 1 or len(op.factors) > 1 else op.factors[0]
    return Prod(coeff, (op,))


def _terms(op: Op) -> tuple[Op, ...]:
    return op.terms if isinstance(op, Add) else (op,)


def _product(left: Op, right: Op) -> Op:
    """``left · right``, flattening products and keeping one coefficient in front."""
    coeff = sympy.S.One
    factors: list[Op] = []
    for side in (left, right):
        if isinstance(side, Prod):
            coeff *= side.coeff
            factors.extend(side.factors)
        else:
            factors.append(side)
    return Prod(coeff, tuple(factors))


def _short(text: object, limit: int = 40) -> str:
    text = str(text)
    return repr(text if len(text) <= limit else text[:limit] + "...")
