"""How derived formulas become lines of numpy: SymPy's numpy printer, three helpers, and fast sums.

:mod:`symprop.compiler` derives a network's formulas; this module writes them
as numpy source a student can read, in forms that also run fast at the sizes
networks have (timed by ``benchmarks/train_step.py``):

* SymPy's numpy printer, with ``Heaviside(z, 0)`` as a comparison, and an
  expression's positive terms first (``P2 - A2*S2``, not ``-A2*S2 + P2``,
  which would negate a whole array before it multiplies);
* three helpers the source defines for itself: a sigmoid whose ``exp`` never
  overflows, a tanh through ``expm1`` (within 2 units in the last place; numpy's
  float64 ``tanh`` calls the C library's value by value, which took 110 µs on the
  8,192 values of a [64, 32, 10] net's hidden layer where this took 88), and
  relu's derivative;
* sums as matrix products with ones (``ONE @ D`` over the batch,
  ``E2 @ numpy.ones((k, 1))`` along a row), which BLAS computes several times
  faster than ``numpy.sum`` over an axis;
* a row's maximum over a transposed copy when rows are short;
* a loss summed as dot products (``-numpy.vdot(logA2, Y)``), without the
  temporary arrays of ``numpy.sum(-Y*logA2)``.

>>> Source().code(_y - _y**2, {})
'y - y**2'
>>> row_sum("E2", 3)
'E2 @ numpy.ones((3, 1))'
"""

from __future__ import annotations

import sympy
from sympy import Symbol
from sympy.printing.numpy import NumPyPrinter

__all__ = ["HELPERS", "NARROW", "ONES_LINE", "Printer", "Source", "shape", "batch_sum", "row_sum", "row_max", "total"]

_y = Symbol("y")

#: Functions the generated source defines for itself when it uses them.
HELPERS = {
    "_symprop_sigmoid": '''def _symprop_sigmoid(x):
    """sigmoid(x) = 1/(1 + exp(-x)), with -x capped at 700 so that exp never overflows."""
    t = numpy.negative(x)
    numpy.minimum(t, 700.0, out=t)
    numpy.exp(t, out=t)
    t += 1.0
    return numpy.divide(1.0, t, out=t)''',
    "_symprop_tanh": '''def _symprop_tanh(x):
    """tanh(x) = -u/(u + 2) with u = expm1(-2|x|), and x's sign: within 2 units in the last place."""
    t = numpy.absolute(x)
    t *= -2.0
    numpy.expm1(t, out=t)
    numpy.divide(t, t + 2.0, out=t)
    return numpy.copysign(t, x, out=t)''',
    "_symprop_heaviside": '''def _symprop_heaviside(x):
    """Heaviside(x, 0): 1 where x > 0, else 0 (so relu'(0) = 0, as PyTorch)."""
    return numpy.greater(x, 0).view(numpy.int8)''',
}

#: Below this many columns, a row's maximum is taken over a transposed copy (see :func:`row_max`).
NARROW = 32

#: The line that makes ``ONE``, for :func:`batch_sum`.
ONES_LINE = "ONE = numpy.ones(X.shape[0])  # (m,): ONE @ D sums D over the batch"


class Printer(NumPyPrinter):
    """SymPy's numpy printer, with ``Heaviside(x, 0)`` as a cheap comparison, tanh through ``expm1`` and positive terms first."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True})

    def _as_ordered_terms(self, expr, order=None):
        """``P2 - A2*S2``, not ``-A2*S2 + P2``: a leading minus would negate a whole array first."""
        terms = super()._as_ordered_terms(expr, order=order)
        return sorted(terms, key=lambda term: term.could_extract_minus_sign())

    def _print_tanh(self, expr):
        return "_symprop_tanh(%s)" % self._print(expr.args[0])

    def _print_Heaviside(self, expr):  # noqa: N802 - SymPy's printer protocol
        if len(expr.args) == 2 and expr.args[1] == 0:
            return "_symprop_heaviside(%s)" % self._print(expr.args[0])
        return super()._print_Heaviside(expr)


class Source:
    """Lines of generated Python, with the printer they are written with."""

    def __init__(self) -> None:
        self.printer = Printer()
        self.lines: list[str] = []

    def code(self, expression: sympy.Expr, names: dict[Symbol, Symbol]) -> str:
        return self.printer.doprint(expression.xreplace(names))

    def add(self, line: str = "", comment: str = "") -> None:
        if comment:
            line = f"{line}  # {comment}" if line else f"# {comment}"
        self.lines.append(line)


def shape(*dims: object) -> str:
    """``shape("m", 3) -> "(m, 3)"``, as the comments show shapes."""
    return "(" + ", ".join(str(d) for d in dims) + ")"


def batch_sum(array: str) -> str:
    """``array`` summed over the batch (its rows), as the product ``1ᵀ array`` (``ONE`` from :data:`ONES_LINE`)."""
    return f"ONE @ {array}"


def row_sum(array: str, width: int) -> str:
    """Each row of ``array`` (``width`` columns) summed, as ``array·1``: an ``(m, 1)`` column."""
    return f"{array} @ numpy.ones(({width}, 1))"


def row_max(array: str, width: int) -> str:
    """Each row's largest entry, an ``(m, 1)`` column.

    numpy reduces short rows slowly (one call of its inner loop per row), so
    below :data:`NARROW` columns the maximum is taken over the rows of a
    transposed copy, elementwise along the batch.

    >>> row_max("Z2", 10)
    'Z2.T.copy().max(axis=0)[:, None]'
    >>> row_max("Z2", 100)
    'Z2.max(axis=1, keepdims=True)'
    """
    if width < NARROW:
        return f"{array}.T.copy().max(axis=0)[:, None]"
    return f"{array}.max(axis=1, keepdims=True)"


def total(term: sympy.Expr, names: dict[Symbol, Symbol], src: Source) -> str:
    """The sum of ``term`` over every sample and output, each product of two arrays as a dot product.

    Every array in a loss term has the shape of the output, ``(m, n)``, so
    ``numpy.sum(u*v)`` is ``numpy.vdot(u, v)``, without the temporary ``u*v``.

    >>> a, y = sympy.symbols("a y")
    >>> total(-y*sympy.log(a) + (a - y)**2, {a: Symbol("A2"), y: Symbol("Y")}, Source())
    'numpy.sum((A2 - Y)**2) - numpy.vdot(Y, numpy.log(A2))'
    """
    terms = sympy.Add.make_args(term)
    if not all(t.free_symbols for t in terms):  # a constant term counts once per entry: sum the whole array
        return f"numpy.sum({src.code(term, names)})"
    parts, marks = {}, []
    for k, t in enumerate(terms):
        mark = Symbol(f"PART{k}X")  # a stand-in while SymPy prints the coefficients and signs
        factors = sympy.Mul.make_args(t)
        arrays = [f for f in factors if f.free_symbols]
        if len(arrays) == 2:
            parts[mark.name] = f"numpy.vdot({src.code(arrays[0], names)}, {src.code(arrays[1], names)})"
        else:
            parts[mark.name] = f"numpy.sum({src.code(sympy.Mul(*arrays), names)})"
        marks.append(sympy.Mul(*(f for f in factors if not f.free_symbols)) * mark)
    text = src.printer.doprint(sympy.Add(*marks))
    for name, part in parts.items():
        text = text.replace(name, part)
    return text
