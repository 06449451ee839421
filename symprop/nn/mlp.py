"""A network's architecture: an :class:`MLP` (widths and activations) or a :class:`Sequential` layer list.

Parameters of an MLP with ``layers = [n0, n1, ..., nL]`` are ``W1 ... WL``,
``Wl`` of shape ``(n_l, n_{l-1})`` (``Wl[j][i]`` joins input ``i`` to neuron
``j``), and biases ``b1 ... bL``: ``bias = "neuron"`` gives shape ``(n_l,)``,
``"layer"`` one shared scalar per layer (shape ``()``), ``"none"`` no bias.
Internally an MLP is the layer list ``linear n1, f1, linear n2, f2, ...``
(:attr:`MLP.stack`), so everything that reads a network reads layers.

Each parameter scalar has a SymPy name (``W1_0_1``, a plain identifier) and a
label people read (``W1[0,1]``); :func:`scalar_name` and :func:`scalar_label`
are the one place that spells them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import SpecError
from ..registry import did_you_mean
from . import layer_kinds, norms  # noqa: F401 - registers the layer kinds
from .activations import get_activation
from .layers import BIAS_MODES, INITS, REDUCTIONS, Architecture, Layer, build_stack, scalar_label, scalar_name
from .losses import get_loss
from .size import limit_parameters

__all__ = ["MLP", "Sequential", "REDUCTIONS", "BIAS_MODES", "INITS", "scalar_name", "scalar_label"]


def _named(lookup: Callable[[str], Any], name: object, key: str) -> Any:
    """A registry entry, the error naming the spec key (``network.loss: unknown loss 'x'; ...``)."""
    try:
        return lookup(name)
    except SpecError as error:
        raise SpecError(f"{key}: {error}") from None


def _validate_head(loss: str, reduction: str, last: str | None) -> None:
    """The loss, its reduction, and the output activation the loss needs."""
    entry = _named(get_loss, loss, "network.loss")
    if entry.requires is not None and last != entry.requires:
        raise SpecError(f"network.loss: {entry.name} needs activation {entry.requires!r} on the last layer")
    if reduction not in REDUCTIONS:
        raise SpecError(f"network.reduction: expected one of: {', '.join(REDUCTIONS)}, got {reduction!r}"
                        f"{did_you_mean(reduction, REDUCTIONS)}")


@dataclass
class MLP(Architecture):
    """A multi-layer perceptron's architecture.

    Args:
        layers: widths ``[n0, n1, ..., nL]`` (inputs first).
        activation: one name for every layer, or one per layer (``L`` names).
        loss: a name from :data:`~symprop.nn.losses.LOSSES`.
        reduction: ``"mean"`` (default) or ``"sum"`` over the samples of a batch.
        bias: ``"neuron"`` (default), ``"layer"`` or ``"none"``.
        slope: the negative-side slope of ``leaky_relu`` (0.01).

    Raises:
        SpecError: an unknown name, a width below 1, softmax on a hidden layer,
            or cross_entropy without a softmax output.
        LimitError: more parameters than ``symprop.limits.MAX_PARAMETERS``.
    """

    layers: list[int]
    activation: str | list[str] = "sigmoid"
    loss: str = "half_squared_error"
    reduction: str = "mean"
    bias: str = "neuron"
    slope: float = 0.01
    activations: list[str] = field(init=False)
    stack: list[Layer] = field(init=False, repr=False)

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
            activation = _named(get_activation, name, "network.activation")
            if activation.last_layer_only and k != depth - 1:
                raise SpecError(f"network.activation: {name} is for the last layer only, not layer {k + 1}")
        self.activations = names
        _validate_head(self.loss, self.reduction, names[-1])
        if self.bias not in BIAS_MODES:
            raise SpecError(f"network.bias: expected one of: {', '.join(BIAS_MODES)}, got {self.bias!r}"
                            f"{did_you_mean(self.bias, BIAS_MODES)}")
        self.stack = build_stack(self.layer_list(), self.layers[0], defaults={"bias": self.bias, "slope": self.slope})
        limit_parameters(self)  # before anything is allocated

    def layer_list(self) -> list[Any]:
        """The MLP as a layer list: ``[{"linear": n1}, f1, {"linear": n2}, f2, ...]``."""
        entries: list[Any] = []
        for width, name in zip(self.layers[1:], self.activations):
            entries += [{"linear": width}, name]
        return entries

    @property
    def depth(self) -> int:
        """The number of layers with weights (``L``)."""
        return len(self.layers) - 1

    @property
    def summary(self) -> str:
        return f"{self.layers} ({', '.join(self.activations)}; {self.loss}, {self.reduction})"


@dataclass
class Sequential(Architecture):
    """A network as a list of layers, as PyTorch's ``nn.Sequential``.

    Args:
        inputs: the width of the input ``x``.
        layers: the layers, as a spec writes them: ``[{"linear": 4}, "batchnorm",
            "tanh", {"dropout": 0.5}, {"linear": 1}, "sigmoid"]`` (see the README's table).
        loss, reduction: as for :class:`MLP`; the loss takes the last layer's output.
        bias: the linear layers' bias unless one gives its own.
        slope: leaky_relu's slope unless one gives its own.
        weight_decay: ``λ``: the loss gets ``λ/2 · Σ W²`` over the linear layers' weights
            (not the biases, nor the normalisations' gamma and beta).

    Raises:
        SpecError: naming the layer by its index and key.
        LimitError: more parameters than ``symprop.limits.MAX_PARAMETERS``.

    >>> net = Sequential(2, [{"linear": 3}, "batchnorm", "tanh", {"linear": 1}, "sigmoid"])
    >>> list(net.param_shapes())
    ['W1', 'b1', 'gamma1', 'beta1', 'W2', 'b2']
    """

    inputs: int
    layers: list[Any]
    loss: str = "half_squared_error"
    reduction: str = "mean"
    bias: str = "neuron"
    slope: float = 0.01
    weight_decay: float = 0.0
    stack: list[Layer] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        width = self.inputs
        if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
            raise SpecError(f"network.inputs: the input width must be a whole number >= 1, got {width!r}")
        if self.bias not in BIAS_MODES:
            raise SpecError(f"network.bias: expected one of: {', '.join(BIAS_MODES)}, got {self.bias!r}"
                            f"{did_you_mean(self.bias, BIAS_MODES)}")
        decay = self.weight_decay
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not math.isfinite(decay) or decay < 0:
            raise SpecError(f"network.weight_decay: expected a number >= 0, got {decay!r}")
        self.stack = build_stack(self.layers, int(width), defaults={"bias": self.bias, "slope": self.slope})
        limit_parameters(self)  # before anything is allocated
        last = self.stack[-1]
        _validate_head(self.loss, self.reduction, getattr(last, "name", None) if last.kind == "activation" else None)

    @property
    def summary(self) -> str:
        decay = f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        return f"[{', '.join(layer.describe for layer in self.stack)}] ({self.loss}, {self.reduction}{decay})"
