"""Optimizers: one class per name in :data:`OPTIMIZERS`, each ``p`` a parameter and ``g`` its gradient.

* ``sgd``: ``p -= lr*g``.
* ``momentum``: ``v = beta*v + g``, ``p -= lr*v`` (``beta=0.9``; PyTorch's form).
* ``rmsprop``: ``s = rho*s + (1 - rho)*g**2``, ``p -= lr*g/(sqrt(s) + eps)``
  (``rho=0.9``, ``eps=1e-8``; Hinton's lecture 6e).
* ``adam``: ``m = beta1*m + (1 - beta1)*g``, ``v = beta2*v + (1 - beta2)*g**2``,
  ``p -= lr*m_hat/(sqrt(v_hat) + eps)`` with the bias corrections
  ``m_hat = m/(1 - beta1**t)``, ``v_hat = v/(1 - beta2**t)``
  (``beta1=0.9``, ``beta2=0.999``, ``eps=1e-8``; Kingma & Ba 2015).

A step returns new arrays and leaves the old ones alone, so a training loop can
keep the last parameters with a finite loss. Spec files, the command line and
:func:`symprop.train.train` all read the names from :data:`OPTIMIZERS`.

The updates are plain array arithmetic (``0.0 * p`` for a fresh state,
``s ** 0.5``, which numpy computes as ``sqrt``), so this module imports no
numpy and the command line can list the names without loading it (sgd's step
reaches for ``numpy.subtract`` when it runs, to write into an array of its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["OPTIMIZERS", "Optimizer", "SGD", "Momentum", "RMSProp", "Adam", "make_optimizer", "Params"]

Params = dict[str, "np.ndarray"]


def _positive(value: Any, what: str, *, below_one: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{what}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0 or (below_one and number >= 1):
        bound = "between 0 and 1" if below_one else "a finite number > 0"
        raise SpecError(f"{what}: expected {bound}, got {value!r}")
    return number


@dataclass
class Optimizer:
    """Base class: ``step(params, grads)`` returns the new parameters."""

    lr: float

    def __post_init__(self) -> None:
        self.lr = _positive(self.lr, "learning_rate")
        self.t = 0
        self.state: dict[str, tuple[np.ndarray, ...]] = {}

    def step(self, params: Params, grads: Params, *, scratch: bool = False) -> Params:
        """The new parameters (new arrays; ``params`` are left alone).

        ``scratch=True`` says the caller will not read ``grads`` again, so the
        step may write into them (sgd writes the new parameters there).
        """
        self.t += 1
        return {name: self.update(name, p, grads[name]) for name, p in params.items()}

    def update(self, name: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class SGD(Optimizer):
    """Plain gradient descent: ``p - lr*g``."""

    def step(self, params: Params, grads: Params, *, scratch: bool = False) -> Params:
        # the update inline, without a method call per parameter: a small network's step is mostly overhead
        import numpy

        self.t += 1
        new = {}
        for name, p in params.items():
            g = grads[name]
            if scratch and type(g) is numpy.ndarray and type(p) is numpy.ndarray and g.shape == p.shape \
                    and g.dtype == p.dtype and g.flags.writeable:
                # p - lr*g, to the bit, written over the gradient the caller gave up: no new array a step
                # (a big layer's weights are more memory traffic than its matrix product, and a fresh large
                # array costs page faults)
                new[name] = numpy.subtract(p, numpy.multiply(g, self.lr, out=g), out=g)
                continue
            step = self.lr * g
            # else written over lr*g: one new array a step instead of two
            if type(step) is numpy.ndarray and type(p) is numpy.ndarray and step.shape == p.shape and step.dtype == p.dtype:
                new[name] = numpy.subtract(p, step, out=step)
            else:
                new[name] = p - step
        return new

    def update(self, name, p, g):
        return p - self.lr * g


@dataclass
class Momentum(Optimizer):
    """Heavy-ball momentum: ``v = beta*v + g``, ``p - lr*v``."""

    beta: float = 0.9

    def update(self, name, p, g):
        (v,) = self.state.get(name, (0.0 * p,))
        v = self.beta * v + g
        self.state[name] = (v,)
        return p - self.lr * v


@dataclass
class RMSProp(Optimizer):
    """``s = rho*s + (1 - rho)*g**2``, ``p - lr*g/(sqrt(s) + eps)``."""

    rho: float = 0.9
    eps: float = 1e-8

    def update(self, name, p, g):
        (s,) = self.state.get(name, (0.0 * p,))
        s = self.rho * s + (1 - self.rho) * g * g
        self.state[name] = (s,)
        return p - self.lr * g / (s**0.5 + self.eps)


@dataclass
class Adam(Optimizer):
    """Adam with bias correction."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def update(self, name, p, g):
        m, v = self.state.get(name, (0.0 * p, 0.0 * p))
        m = self.beta1 * m + (1 - self.beta1) * g
        v = self.beta2 * v + (1 - self.beta2) * g * g
        self.state[name] = (m, v)
        m_hat = m / (1 - self.beta1**self.t)
        v_hat = v / (1 - self.beta2**self.t)
        return p - self.lr * m_hat / (v_hat**0.5 + self.eps)


#: name -> optimizer class; the hyper-parameters are keyword arguments with the defaults above.
OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")
for _name, _class in (("sgd", SGD), ("momentum", Momentum), ("rmsprop", RMSProp), ("adam", Adam)):
    OPTIMIZERS.register(_name, _class)
del _name, _class


def make_optimizer(name: str, lr: float, **hyper: float) -> Optimizer:
    """An optimizer by name, e.g. ``make_optimizer("adam", 0.01, beta2=0.99)``.

    Raises:
        SpecError: an unknown name or hyper-parameter, or a value out of range.
    """
    cls = OPTIMIZERS.lookup(name)
    allowed = [f for f in cls.__dataclass_fields__ if f != "lr"]
    for key, value in hyper.items():
        if key not in allowed:
            raise SpecError(
                f"optimizer {name!r} has no hyper-parameter {key!r}"
                + (f"; expected: {', '.join(allowed)}" if allowed else "")
            )
        _positive(value, f"{name}.{key}", below_one=key != "eps")
    return cls(lr, **hyper)
