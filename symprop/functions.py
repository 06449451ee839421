"""SymPy functions that neural networks need and SymPy does not name.

``sigmoid``, ``relu``, ``leaky_relu`` and ``softplus`` are real SymPy
``Function`` classes, so ``sympy.diff`` knows their derivatives exactly and the
walkthrough can print ``sigmoid(z)`` instead of ``1/(1 + exp(-z))``:

* ``sigmoid'(x) = sigmoid(x)*(1 - sigmoid(x))``
* ``relu'(x) = Heaviside(x, 0)``: 1 for x > 0 and **0 at 0**, as PyTorch.
* ``leaky_relu'(x) = slope + (1 - slope)*Heaviside(x, 0)`` (0.01 at 0).
* ``softplus'(x) = sigmoid(x)``.

Each evaluates itself at numbers (exactly for exact input, e.g.
``sigmoid(0) == 1/2``), and each knows how to print itself as numpy code, so
``lambdify`` can compile it (see :mod:`symprop.compiler`).
"""

from __future__ import annotations

import sympy
from sympy import Function, Heaviside, Rational, S, exp, log

__all__ = ["sigmoid", "relu", "leaky_relu", "softplus", "FUNCTIONS", "KINKED"]


def _power(call: str, exp: str | None) -> str:
    """LaTeX of ``f(x)**n``: SymPy's printer passes the exponent to the function's ``_latex``."""
    return call if exp is None else r"{%s}^{%s}" % (call, exp)


class sigmoid(Function):  # noqa: N801 - SymPy function classes are lower case
    """The logistic function ``1/(1 + exp(-x))``."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return S.Half
        if x.is_Number:
            if x is S.Infinity:
                return S.One
            if x is S.NegativeInfinity:
                return S.Zero
            return 1 / (1 + exp(-x))
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + exp(-x))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        return _power(r"\sigma\left(%s\right)" % printer._print(self.args[0]), exp)

    def _numpycode(self, printer):
        # Stable for large |x|: exp of a non-positive number only.
        x = printer._print(self.args[0])
        return "_symprop_sigmoid(%s)" % x


class relu(Function):  # noqa: N801
    """``max(0, x)``; its derivative is ``Heaviside(x, 0)``, 0 at the kink."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        # Assumption queries, not ``x > 0``: a sign SymPy cannot decide leaves
        # relu(x) unevaluated instead of raising.
        if x.is_extended_nonnegative:
            return x
        if x.is_extended_nonpositive:
            return S.Zero
        return None

    def fdiff(self, argindex=1):
        return Heaviside(self.args[0], 0)

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sympy.Max(0, x)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        return _power(r"\operatorname{relu}\left(%s\right)" % printer._print(self.args[0]), exp)

    def _numpycode(self, printer):
        return "numpy.maximum(0, %s)" % printer._print(self.args[0])


class leaky_relu(Function):  # noqa: N801
    """``x`` for x > 0, ``slope*x`` otherwise (slope 0.01 unless given)."""

    nargs = (1, 2)

    @classmethod
    def eval(cls, x, slope=None):
        if slope is None:
            return cls(x, Rational(1, 100))
        if x.is_extended_nonnegative:
            return x
        if x.is_extended_nonpositive and slope.is_number:
            return slope * x
        return None

    def fdiff(self, argindex=1):
        x, slope = self.args
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        return slope + (1 - slope) * Heaviside(x, 0)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        x, slope = (printer._print(a) for a in self.args)
        return _power(r"\operatorname{leaky\_relu}_{%s}\left(%s\right)" % (slope, x), exp)

    def _numpycode(self, printer):
        x, slope = (printer._print(a) for a in self.args)
        return "numpy.where(%s > 0, %s, %s*%s)" % (x, x, slope, x)


class softplus(Function):  # noqa: N801
    """``log(1 + exp(x))``; its derivative is ``sigmoid(x)``."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return log(2)
        if x.is_Number and x.is_finite:
            return log(1 + exp(x))
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_log(self, x, **kwargs):
        return log(1 + exp(x))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        return _power(r"\operatorname{softplus}\left(%s\right)" % printer._print(self.args[0]), exp)

    def _numpycode(self, printer):
        return "numpy.logaddexp(0, %s)" % printer._print(self.args[0])


#: The functions a formula may call, by name, with how many arguments each
#: takes (``leaky_relu(u)`` has slope 0.01; ``leaky_relu(u, 0.1)`` gives it).
FUNCTIONS: dict[str, tuple[type, tuple[int, ...]]] = {
    "exp": (sympy.exp, (1,)),
    "log": (sympy.log, (1,)),
    "sqrt": (sympy.sqrt, (1,)),
    "sin": (sympy.sin, (1,)),
    "cos": (sympy.cos, (1,)),
    "tanh": (sympy.tanh, (1,)),
    "sigmoid": (sigmoid, (1,)),
    "relu": (relu, (1,)),
    "abs": (sympy.Abs, (1,)),
    "softplus": (softplus, (1,)),
    "leaky_relu": (leaky_relu, (1, 2)),
}

#: Functions with a kink at 0 of their first argument: no derivative there, so
#: a finite difference across it measures neither side (the checker says so).
KINKED: tuple[type, ...] = (relu, leaky_relu, sympy.Abs, sympy.Heaviside, sympy.sign)
