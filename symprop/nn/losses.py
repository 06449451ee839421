"""The losses a network accepts: one entry per name, each defined once.

Every loss is **per sample**, a sum over the ``K`` outputs; a batch of ``m``
samples is then reduced by the network's ``reduction``: ``mean`` (``1/m`` times
the sum, the default) or ``sum``. A :class:`Loss` holds

* its **SymPy formula** over the outputs ``ŷ`` and targets ``y`` (what the
  scalar graph, the matrix view and the compiler differentiate);
* its **numpy reference**: the per-sample float64 loss finite differences use;
  where it takes a log of the output it asks the output layer's activation for
  a stable log (:meth:`Output.log`), so softmax + cross-entropy is a
  log-softmax of the logits, never ``log`` of a rounded 0;
* the words of the README's table, and how it relates to PyTorch's loss of
  the same name (they differ in how they average: see ``pytorch``).

Look a loss up with :func:`get_loss`: an unknown name raises, naming it.

>>> get_loss("mse").formula([sympy.Symbol("a")], [sympy.Symbol("y")])
(a - y)**2
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import sympy

from ..errors import SpecError
from ..registry import Registry
from .activations import A, Activation

__all__ = ["Loss", "Domain", "LOSSES", "Output", "get_loss", "register_loss", "loss_formula", "Y"]

#: The target symbol of :meth:`Loss.term` (``A`` is the output).
Y = sympy.Symbol("y", real=True)

SympyLoss = Callable[[Sequence[sympy.Expr], Sequence[sympy.Expr]], sympy.Expr]


@dataclass(frozen=True)
class Output:
    """The output layer over a batch: pre-activations ``z`` and outputs ``a``, each ``(m, K)``."""

    z: np.ndarray
    a: np.ndarray
    activation: Activation

    def log(self) -> np.ndarray:
        """``log(a)``, from ``z`` where the activation knows a stable form (sigmoid, softmax)."""
        if self.activation.numpy_logs is not None:
            log_a, _ = self.activation.numpy_logs(self.z)
            if log_a is not None:
                return log_a
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.a)

    def log1m(self) -> np.ndarray:
        """``log(1 - a)``, from ``z`` where the activation knows a stable form (sigmoid)."""
        if self.activation.numpy_logs is not None:
            _, log_q = self.activation.numpy_logs(self.z)
            if log_q is not None:
                return log_q
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(-self.a)


@dataclass(frozen=True)
class Domain:
    """Where a loss is defined: closed intervals for its outputs and its targets.

    Outside them a loss can still produce numbers (binary cross-entropy of an
    output 1.5 against a target 1 is -0.405), but they mean nothing: symprop
    refuses them everywhere, as ``like`` (PyTorch's ``BCELoss``) does.
    """

    outputs: tuple[float, float]
    targets: tuple[float, float]
    like: str

    def rule(self, what: str) -> str:
        """``"every output in [0, 1], as PyTorch's BCELoss does (\"all elements of input should be ...\")"``."""
        low, high = self.outputs if what == "output" else self.targets
        name = "input" if what == "output" else "target"
        return (
            f"every {what} in [{low:g}, {high:g}], as {self.like} does "
            f'("all elements of {name} should be between {low:g} and {high:g}")'
        )

    @staticmethod
    def first_outside(values: np.ndarray, bounds: tuple[float, float]) -> tuple[int, ...] | None:
        """The index of the first entry outside ``[low, high]`` (NaN counts as outside), or None."""
        low, high = bounds
        bad = ~((values >= low) & (values <= high))
        return tuple(int(i) for i in np.argwhere(bad)[0]) if bad.any() else None


@dataclass(frozen=True)
class Loss:
    """One loss, defined once.

    Attributes:
        name: the name specs and :class:`~symprop.nn.MLP` use.
        formula: ``loss(ŷ, y)`` for one sample's lists of ``K`` outputs and targets.
        numpy: ``loss(y, output) -> (m,)`` per-sample losses in float64.
        math: the per-sample formula as the README shows it.
        pytorch: how it relates to PyTorch's loss of the same name.
        requires: the output activation the loss needs (cross-entropy: softmax), or None.
        domain: where the loss is defined (binary cross-entropy: outputs and
            targets in [0, 1]), or None for everywhere.

    Raises:
        SpecError: when a required part is missing, naming it.
    """

    name: str
    formula: SympyLoss
    numpy: Callable[[np.ndarray, Output], np.ndarray]
    math: str
    pytorch: str
    requires: Optional[str] = None
    domain: Optional[Domain] = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise SpecError(f"loss name {self.name!r}: expected an identifier")
        for part in ("formula", "numpy"):
            if not callable(getattr(self, part)):
                raise SpecError(f"loss {self.name!r} has no {part} (a callable is required)")
        for part in ("math", "pytorch"):
            if not isinstance(getattr(self, part), str) or not getattr(self, part):
                raise SpecError(f"loss {self.name!r} has no {part} text (the README's table shows it)")

    def term(self, width: int) -> sympy.Expr:
        """The per-output term ``l(a, y)`` with ``loss = sum_k l(a_k, y_k)`` over ``width`` outputs.

        The compiled code applies it elementwise; SymPy checks that the sum of
        the terms is the formula (once per loss and width: the check costs tens of
        milliseconds, and a command compiles a network more than once).

        Raises:
            SpecError: if the loss is not such a sum.
        """
        return _checked_term(self, width)


@functools.lru_cache(maxsize=None)
def _checked_term(loss: Loss, width: int) -> sympy.Expr:
    """:meth:`Loss.term`, checked by SymPy once per loss and width."""
    outputs = sympy.symbols(f"a0:{width}", real=True)
    targets = sympy.symbols(f"y0:{width}", real=True)
    term = loss.formula([A] * width, [Y] * width) / width
    whole = loss.formula(list(outputs), list(targets))
    rebuilt = sympy.Add(*(term.xreplace({A: o, Y: t}) for o, t in zip(outputs, targets)))
    if sympy.expand(whole - rebuilt) != 0:
        raise SpecError(f"loss {loss.name!r} is not a sum over the outputs; it cannot be vectorised")
    return term


LOSSES: Registry[Loss] = Registry("loss")


def register_loss(entry: Loss) -> Loss:
    """Add a loss to the table (a new name only); everything else reads it from there."""
    if not isinstance(entry, Loss):
        raise SpecError(f"register_loss: expected a Loss, got {type(entry).__name__}")
    return LOSSES.register(entry.name, entry)


def get_loss(name: str) -> Loss:
    """The table's entry for ``name``.

    Raises:
        SpecError: naming ``name`` and the names there are.
    """
    return LOSSES.lookup(name)


def loss_formula(name: str, yhat: Sequence[sympy.Expr], y: Sequence[sympy.Expr]) -> sympy.Expr:
    """The per-sample loss ``name`` of outputs ``yhat`` against targets ``y``."""
    return get_loss(name).formula(yhat, y)


def _squares(yhat: Sequence[sympy.Expr], y: Sequence[sympy.Expr]) -> sympy.Expr:
    return sympy.Add(*((hk - yk) ** 2 for hk, yk in zip(yhat, y)))


for _entry in (
    Loss(
        "half_squared_error",
        lambda yhat, y: _squares(yhat, y) / 2,
        lambda y, out: 0.5 * np.sum((y - out.a) ** 2, axis=1),
        "½ Σ_k (ŷ_k − y_k)²",
        'no PyTorch loss of this name; with reduction "sum" it is ½·MSELoss(reduction="sum")',
    ),
    Loss(
        "squared_error",
        _squares,
        lambda y, out: np.sum((y - out.a) ** 2, axis=1),
        "Σ_k (ŷ_k − y_k)²",
        'with reduction "sum" it is MSELoss(reduction="sum"); with "mean", K·MSELoss()',
    ),
    Loss(
        "mse",
        lambda yhat, y: _squares(yhat, y) / len(yhat),
        lambda y, out: np.mean((y - out.a) ** 2, axis=1),
        "(1/K) Σ_k (ŷ_k − y_k)²",
        'with reduction "mean" it is MSELoss(); with "sum", MSELoss(reduction="sum")/K',
    ),
    Loss(
        "binary_cross_entropy",
        lambda yhat, y: -sympy.Add(*(yk * sympy.log(hk) + (1 - yk) * sympy.log(1 - hk) for hk, yk in zip(yhat, y))),
        lambda y, out: -np.sum(y * out.log() + (1.0 - y) * out.log1m(), axis=1),
        "−Σ_k [y_k log ŷ_k + (1 − y_k) log(1 − ŷ_k)]",
        'sums over the outputs: with reduction "sum" it is BCELoss(reduction="sum"); with "mean", K·BCELoss()',
        domain=Domain((0.0, 1.0), (0.0, 1.0), "PyTorch's BCELoss"),
    ),
    Loss(
        "cross_entropy",
        lambda yhat, y: -sympy.Add(*(yk * sympy.log(hk) for hk, yk in zip(yhat, y))),
        lambda y, out: -np.sum(y * out.log(), axis=1),
        "−Σ_k y_k log ŷ_k, ŷ = softmax(z)",
        "CrossEntropyLoss on the logits z with the same reduction (one-hot or probability targets)",
        requires="softmax",
    ),
):
    register_loss(_entry)
del _entry
