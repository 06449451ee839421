"""Neural-network conventions: the activation and loss tables, and the MLP's parameters.

These tables are DESIGN.md's contract, written once as SymPy, so that every
part of symprop (the scalar graph, the matrix view, the compiled numpy code)
derives its derivatives from the same formulas with ``sympy.diff``.

Parameters of an MLP with ``layers = [n0, n1, ..., nL]`` are ``W1 ... WL``,
``Wl`` of shape ``(n_l, n_{l-1})`` (``Wl[j][i]`` joins input ``i`` to neuron
``j``), and biases ``b1 ... bL``: ``bias = "neuron"`` gives shape ``(n_l,)``,
``"layer"`` one shared scalar per layer (shape ``()``), ``"none"`` no bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import sympy

from .errors import SpecError
from .functions import leaky_relu, relu, sigmoid, softplus

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "REDUCTIONS",
    "BIAS_MODES",
    "INITS",
    "activation_formula",
    "softmax",
    "loss_formula",
    "MLP",
]

#: Elementwise activations: name -> f(z, slope) as SymPy (slope is used by leaky_relu only).
ACTIVATIONS: dict[str, Callable[[sympy.Expr, sympy.Expr], sympy.Expr]] = {
    "sigmoid": lambda z, slope: sigmoid(z),
    "tanh": lambda z, slope: sympy.tanh(z),
    "relu": lambda z, slope: relu(z),
    "leaky_relu": lambda z, slope: leaky_relu(z, slope),
    "softplus": lambda z, slope: softplus(z),
    "identity": lambda z, slope: z,
}
#: ``softmax`` is the one vector activation, allowed on the last layer only.
VECTOR_ACTIVATIONS = ("softmax",)


def activation_formula(name: str, z: sympy.Expr, slope: sympy.Expr = sympy.Rational(1, 100)) -> sympy.Expr:
    """``f(z)`` for an elementwise activation ``name``."""
    if name not in ACTIVATIONS:
        raise SpecError(f"unknown activation {name!r}; expected one of: {', '.join([*ACTIVATIONS, *VECTOR_ACTIVATIONS])}")
    return ACTIVATIONS[name](z, slope)


def softmax(zs: Sequence[sympy.Expr]) -> list[sympy.Expr]:
    """``exp(z_k) / sum_j exp(z_j)`` for each k."""
    total = sympy.Add(*(sympy.exp(z) for z in zs))
    return [sympy.exp(z) / total for z in zs]


def _half_squared_error(yhat, y):
    return sympy.Add(*((yk - hk) ** 2 for hk, yk in zip(yhat, y))) / 2


def _squared_error(yhat, y):
    return sympy.Add(*((yk - hk) ** 2 for hk, yk in zip(yhat, y)))


def _mse(yhat, y):
    return sympy.Add(*((yk - hk) ** 2 for hk, yk in zip(yhat, y))) / len(yhat)


def _binary_cross_entropy(yhat, y):
    return -sympy.Add(*(yk * sympy.log(hk) + (1 - yk) * sympy.log(1 - hk) for hk, yk in zip(yhat, y)))


def _cross_entropy(yhat, y):
    return -sympy.Add(*(yk * sympy.log(hk) for hk, yk in zip(yhat, y)))


#: Per-sample losses: name -> loss(yhat, y) for lists of K outputs and K targets.
LOSSES: dict[str, Callable[[Sequence[sympy.Expr], Sequence[sympy.Expr]], sympy.Expr]] = {
    "half_squared_error": _half_squared_error,
    "squared_error": _squared_error,
    "mse": _mse,
    "binary_cross_entropy": _binary_cross_entropy,
    "cross_entropy": _cross_entropy,
}

REDUCTIONS = ("mean", "sum")
BIAS_MODES = ("neuron", "layer", "none")
INITS = ("uniform", "xavier", "he")


def loss_formula(name: str, yhat: Sequence[sympy.Expr], y: Sequence[sympy.Expr]) -> sympy.Expr:
    """The per-sample loss ``name`` of outputs ``yhat`` against targets ``y``."""
    if name not in LOSSES:
        raise SpecError(f"unknown loss {name!r}; expected one of: {', '.join(LOSSES)}")
    return LOSSES[name](yhat, y)


@dataclass
class MLP:
    """A multi-layer perceptron's architecture (DESIGN.md's conventions).

    Args:
        layers: widths ``[n0, n1, ..., nL]`` (inputs first).
        activation: one name for every layer, or one per layer (``L`` names).
        loss: a name from :data:`LOSSES`.
        reduction: ``"mean"`` (default) or ``"sum"`` over the samples of a batch.
        bias: ``"neuron"`` (default), ``"layer"`` or ``"none"``.
        slope: the negative-side slope of ``leaky_relu`` (0.01).

    Raises:
        SpecError: an unknown name, a width below 1, softmax on a hidden layer,
            or cross_entropy without a softmax output.
    """

    layers: list[int]
    activation: str | list[str] = "sigmoid"
    loss: str = "half_squared_error"
    reduction: str = "mean"
    bias: str = "neuron"
    slope: float = 0.01
    activations: list[str] = field(init=False)

    def __post_init__(self) -> None:
        layers = self.layers
        if not isinstance(layers, (list, tuple)) or len(layers) < 2:
            raise SpecError("network.layers: expected at least two widths, e.g. [2, 3, 1]")
        for k, width in enumerate(layers):
            if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
                raise SpecError(f"network.layers[{k}]: a layer width must be a whole number >= 1, got {width!r}")
        self.layers = [int(w) for w in layers]
        depth = len(self.layers) - 1
        names = [self.activation] * depth if isinstance(self.activation, str) else list(self.activation)
        if len(names) != depth:
            raise SpecError(f"network.activation: expected 1 or {depth} names (one per layer), got {len(names)}")
        for k, name in enumerate(names):
            if name not in ACTIVATIONS and name not in VECTOR_ACTIVATIONS:
                raise SpecError(
                    f"network.activation: unknown activation {name!r}; expected one of: "
                    f"{', '.join([*ACTIVATIONS, *VECTOR_ACTIVATIONS])}"
                )
            if name == "softmax" and k != depth - 1:
                raise SpecError(f"network.activation: softmax is for the last layer only, not layer {k + 1}")
        self.activations = names
        if self.loss not in LOSSES:
            raise SpecError(f"network.loss: unknown loss {self.loss!r}; expected one of: {', '.join(LOSSES)}")
        if self.loss == "cross_entropy" and names[-1] != "softmax":
            raise SpecError("network.loss: cross_entropy needs activation 'softmax' on the last layer")
        if self.reduction not in REDUCTIONS:
            raise SpecError(f"network.reduction: expected one of: {', '.join(REDUCTIONS)}, got {self.reduction!r}")
        if self.bias not in BIAS_MODES:
            raise SpecError(f"network.bias: expected one of: {', '.join(BIAS_MODES)}, got {self.bias!r}")

    @property
    def depth(self) -> int:
        """The number of layers with weights (``L``)."""
        return len(self.layers) - 1

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """``{"W1": (n1, n0), "b1": (n1,), ...}`` in the order W1, b1, W2, b2, ..."""
        shapes: dict[str, tuple[int, ...]] = {}
        for l in range(1, self.depth + 1):
            shapes[f"W{l}"] = (self.layers[l], self.layers[l - 1])
            if self.bias == "neuron":
                shapes[f"b{l}"] = (self.layers[l],)
            elif self.bias == "layer":
                shapes[f"b{l}"] = ()
        return shapes

    def init_params(self, seed: int | None = 0, init: str = "uniform") -> dict[str, np.ndarray]:
        """Fresh parameters: ``uniform`` draws from uniform(-1, 1) (as seed 002 does),
        ``xavier`` from uniform(±sqrt(6/(fan_in + fan_out))), ``he`` from
        normal(0, sqrt(2/fan_in)); biases are uniform(-1, 1) for ``uniform`` and 0 otherwise.
        Drawn in the order W1, b1, W2, b2, ... from ``numpy.random.default_rng(seed)``.
        """
        if init not in INITS:
            raise SpecError(f"params.init: unknown init {init!r}; expected one of: {', '.join(INITS)}")
        rng = np.random.default_rng(seed)
        params: dict[str, np.ndarray] = {}
        for name, shape in self.param_shapes().items():
            if name.startswith("W"):
                fan_out, fan_in = shape
                if init == "uniform":
                    params[name] = rng.uniform(-1.0, 1.0, size=shape)
                elif init == "xavier":
                    limit = np.sqrt(6.0 / (fan_in + fan_out))
                    params[name] = rng.uniform(-limit, limit, size=shape)
                else:
                    params[name] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
            else:
                params[name] = rng.uniform(-1.0, 1.0, size=shape) if init == "uniform" else np.zeros(shape)
        return params

    def check_params(self, params: dict[str, object]) -> dict[str, np.ndarray]:
        """Convert to float64 arrays and check names, shapes and finiteness.

        Raises:
            SpecError: naming the parameter (``params.W2: expected shape (1, 3), got (3, 1)``).
        """
        shapes = self.param_shapes()
        unknown = sorted(set(params) - set(shapes))
        if unknown:
            raise SpecError(f"params.{unknown[0]}: not a parameter of this network; expected: {', '.join(shapes)}")
        checked: dict[str, np.ndarray] = {}
        for name, value in params.items():
            try:
                array = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise SpecError(f"params.{name}: expected numbers shaped {shapes[name]}") from None
            if array.shape != shapes[name]:
                raise SpecError(f"params.{name}: expected shape {shapes[name]}, got {array.shape}")
            if not np.all(np.isfinite(array)):
                raise SpecError(f"params.{name}: contains NaN or infinity")
            checked[name] = array
        return checked
