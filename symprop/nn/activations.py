"""The activations a network accepts: one entry per name, everything symprop needs of it in one place.

An :class:`Activation` holds

* its **SymPy formula** ``f(z)``: what the scalar graph, the matrix view and the
  compiler differentiate (with ``sympy.diff``, never by a hand-written rule);
* its **numpy reference**: the float64 forward pass that finite differences
  and the training summary use, written to be stable (no overflow);
* optionally, **stable logs** of its output, for a loss that takes
  ``log(a)`` or ``log(1 - a)`` (binary cross-entropy after a sigmoid,
  cross-entropy after softmax): the same values computed from ``z``, never
  from a rounded ``a``, both in SymPy (for the compiled code) and in numpy
  (for the reference);
* the words the README's table shows (its formula, and how it relates to
  PyTorch's function of the same name).

Whether an activation has a kink is read off its formula (see
:data:`symprop.functions.KINKED`), and its derivative is derived from it, so
neither can disagree with the formula. Every other part of symprop looks an
activation up here with :func:`get_activation`, which raises
:class:`~symprop.errors.SpecError` naming an unknown name: nothing falls
through to a default.

>>> get_activation("sigmoid").derivative()
a*(1 - a)
>>> get_activation("relu").kink, get_activation("tanh").kink
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable, Optional, Sequence

import numpy as np
import sympy
from sympy import Rational, Symbol

from ..errors import SpecError
from ..functions import KINKED, leaky_relu, relu, sigmoid, softplus
from ..registry import Registry

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "DEFAULT_SLOPE",
    "exact_slope",
    "Z",
    "A",
    "get_activation",
    "register_activation",
    "activation_formula",
    "softmax",
    "softmax_jacobian",
]

#: The symbols the table's formulas and derivatives are written in: pre-activation and output.
Z = Symbol("z", real=True)
A = Symbol("a", real=True)

#: leaky_relu's negative-side slope unless a network gives its own.
DEFAULT_SLOPE = Rational(1, 100)

Formula = Callable[[sympy.Expr, sympy.Expr], sympy.Expr]
NumpyForward = Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class Activation:
    """One activation, defined once.

    Attributes:
        name: the name specs and :class:`~symprop.nn.MLP` use.
        formula: ``f(z, slope)`` in SymPy for an elementwise activation
            (``slope`` is for leaky_relu); for a vector activation,
            ``f(zs, slope)`` giving the list of outputs.
        numpy: the float64 reference ``f(z, slope)`` on an array ``(m, n)``.
        math: the formula as the README shows it.
        pytorch: how it relates to PyTorch's function of the same name.
        elementwise: False for softmax, whose outputs each depend on every ``z``.
        last_layer_only: may only be the output layer's activation.
        stable_logs: ``z -> {log(f(z)): stable form, log(1 - f(z)): stable form}``
            in SymPy (elementwise activations whose output a loss may take the log of).
        numpy_logs: ``z -> (log a, log(1 - a))`` in float64 from ``z``; either may be None.
        jacobian: for a vector activation (required there), ``n -> (a, J)``: its
            ``n x n`` Jacobian ``da_i/dz_j`` written through the outputs ``a``.
        shared: for a vector activation, ``(kind, zs -> expression)``: a whole-layer
            quantity its outputs share, which the scalar graph makes a node of its
            own (softmax: ``("sumexp", sum of exp(z_j))``).

    Raises:
        SpecError: when a required part is missing (naming it), so an incomplete
            entry is reported when it is made, never as a wrong gradient later.
    """

    name: str
    formula: Formula
    numpy: NumpyForward
    math: str
    pytorch: str
    elementwise: bool = True
    last_layer_only: bool = False
    stable_logs: Optional[Callable[[sympy.Expr], dict]] = None
    numpy_logs: Optional[Callable[[np.ndarray], tuple]] = None
    jacobian: Optional[Callable[[int], tuple]] = None
    shared: Optional[tuple[str, Callable[[Sequence[sympy.Expr]], sympy.Expr]]] = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise SpecError(f"activation name {self.name!r}: expected an identifier")
        for part in ("formula", "numpy"):
            if not callable(getattr(self, part)):
                raise SpecError(f"activation {self.name!r} has no {part} (a callable is required)")
        for part in ("math", "pytorch"):
            if not isinstance(getattr(self, part), str) or not getattr(self, part):
                raise SpecError(f"activation {self.name!r} has no {part} text (the README's table shows it)")
        if not self.elementwise and not callable(self.jacobian):
            raise SpecError(f"activation {self.name!r} acts on a whole layer and has no jacobian")
        if (self.stable_logs is None) != (self.numpy_logs is None):
            raise SpecError(f"activation {self.name!r}: give stable_logs and numpy_logs together, or neither")

    def of(self, z: sympy.Expr, slope: sympy.Expr = DEFAULT_SLOPE) -> sympy.Expr:
        """``f(z)`` for an elementwise activation."""
        if not self.elementwise:
            raise SpecError(f"activation {self.name!r} acts on a whole layer, not on one z")
        return self.formula(z, slope)

    @cached_property
    def kink(self) -> bool:
        """True when the formula has a kink (relu, leaky_relu, abs ...): finite differences across it mislead.

        Read off the formula once per entry (the numpy forward pass asks at every call)."""
        if not self.elementwise:
            zs = [Symbol(f"z{k}", real=True) for k in range(2)]
            return any(out.atoms(*KINKED) for out in self.formula(zs, DEFAULT_SLOPE))
        return bool(self.formula(Z, DEFAULT_SLOPE).atoms(*KINKED))

    def derivative(self, slope: sympy.Expr = DEFAULT_SLOPE) -> sympy.Expr:
        """``da/dz`` from ``sympy.diff``, written through the output ``a`` where SymPy can (``a*(1 - a)``)."""
        return _derivative(self.name, exact_slope(slope))


def exact_slope(slope: float | sympy.Expr) -> sympy.Expr:
    """A slope as an exact number, as written (``0.01`` -> ``1/100``), so derivations stay exact."""
    if isinstance(slope, sympy.Basic):
        return slope if slope.is_Rational else Rational(repr(float(slope)))
    return Rational(repr(float(slope)))


def _sigmoid_np(z: np.ndarray, slope: float = 0.0) -> np.ndarray:
    """``1/(1 + exp(-z))`` without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax_np(z: np.ndarray, slope: float = 0.0) -> np.ndarray:
    """Each row's softmax, shifted by its max: no overflow."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax_np(z: np.ndarray) -> tuple[np.ndarray, None]:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True)), None


def softmax(zs: Sequence[sympy.Expr], slope: sympy.Expr = DEFAULT_SLOPE) -> list[sympy.Expr]:
    """``exp(z_k) / sum_j exp(z_j)`` for each k."""
    total = sympy.Add(*(sympy.exp(z) for z in zs))
    return [sympy.exp(z) / total for z in zs]


ACTIVATIONS: Registry[Activation] = Registry("activation")


def register_activation(entry: Activation) -> Activation:
    """Add an activation to the table (a new name only); everything else reads it from there."""
    if not isinstance(entry, Activation):
        raise SpecError(f"register_activation: expected an Activation, got {type(entry).__name__}")
    return ACTIVATIONS.register(entry.name, entry)


def get_activation(name: str) -> Activation:
    """The table's entry for ``name``.

    Raises:
        SpecError: naming ``name`` and the names there are.
    """
    return ACTIVATIONS.lookup(name)


def activation_formula(name: str, z: sympy.Expr, slope: sympy.Expr = DEFAULT_SLOPE) -> sympy.Expr:
    """``f(z)`` for the elementwise activation ``name``."""
    return get_activation(name).of(z, slope)


@lru_cache(maxsize=None)
def _derivative(name: str, slope: sympy.Expr) -> sympy.Expr:
    activation = get_activation(name)
    formula = activation.of(Z, slope)
    derivative = sympy.diff(formula, Z)
    if formula == Z:
        return derivative
    return derivative.xreplace({formula: A})


@lru_cache(maxsize=None)
def softmax_jacobian(n: int) -> tuple[tuple[Symbol, ...], sympy.Matrix]:
    """``(a, J)``: softmax's Jacobian ``J[i, j] = da_i/dz_j = a_i (delta_ij - a_j)``, from ``sympy.diff``.

    Written through the outputs ``a_0 ... a_{n-1}``; the one home of this
    Jacobian for the compiler and the matrix view.

    >>> softmax_jacobian(2)[1].tolist()
    [[-a_0**2 + a_0, -a_0*a_1], [-a_0*a_1, -a_1**2 + a_1]]
    """
    zs = [Symbol(f"z_{i}", real=True) for i in range(n)]
    a = tuple(Symbol(f"a_{i}", real=True) for i in range(n))
    outputs = softmax(zs)
    jacobian = sympy.Matrix(n, n, lambda i, j: sympy.diff(outputs[i], zs[j]))
    powers = {sympy.exp(z): ai for z, ai in zip(zs, a)}
    powers.update({sympy.exp(2 * z): ai**2 for z, ai in zip(zs, a)})  # SymPy writes exp(z)**2 as exp(2*z)
    return a, sympy.expand(jacobian.xreplace(powers).xreplace({sympy.Add(*a): sympy.S.One}))


def _sigmoid_logs(z: sympy.Expr) -> dict:
    s = sigmoid(z)
    return {sympy.log(s): -softplus(-z), sympy.log(1 - s): -softplus(z)}


for _entry in (
    Activation(
        "sigmoid",
        lambda z, slope: sigmoid(z),
        _sigmoid_np,
        "σ(z) = 1/(1 + e^(−z))",
        "torch.sigmoid",
        stable_logs=_sigmoid_logs,
        numpy_logs=lambda z: (-np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)),
    ),
    Activation("tanh", lambda z, slope: sympy.tanh(z), lambda z, slope: np.tanh(z), "tanh(z)", "torch.tanh"),
    Activation(
        "relu",
        lambda z, slope: relu(z),
        lambda z, slope: np.maximum(z, 0.0),
        "max(0, z); derivative 0 at z = 0",
        "torch.relu (same derivative at 0)",
    ),
    Activation(
        "leaky_relu",
        lambda z, slope: leaky_relu(z, slope),
        lambda z, slope: np.where(z > 0, z, slope * z),
        "z for z > 0, slope·z otherwise (slope 0.01 unless given)",
        "torch.nn.functional.leaky_relu (negative_slope = slope)",
    ),
    Activation(
        "softplus",
        lambda z, slope: softplus(z),
        lambda z, slope: np.logaddexp(0.0, z),
        "log(1 + e^z)",
        "torch.nn.functional.softplus (beta = 1)",
    ),
    Activation("identity", lambda z, slope: z, lambda z, slope: z, "z", "no activation (torch.nn.Identity)"),
    Activation(
        "softmax",
        softmax,
        _softmax_np,
        "e^(z_k) / Σ_j e^(z_j), over the layer; last layer only",
        "torch.softmax(z, dim=1)",
        elementwise=False,
        last_layer_only=True,
        numpy_logs=_log_softmax_np,
        stable_logs=lambda z: {},
        jacobian=softmax_jacobian,
        shared=("sumexp", lambda zs: sympy.Add(*(sympy.exp(z) for z in zs))),
    ),
):
    register_activation(_entry)
del _entry
