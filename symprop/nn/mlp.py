"""A multi-layer perceptron's architecture: widths, activations, loss, and its parameters' names and shapes.

Parameters of an MLP with ``layers = [n0, n1, ..., nL]`` are ``W1 ... WL``,
``Wl`` of shape ``(n_l, n_{l-1})`` (``Wl[j][i]`` joins input ``i`` to neuron
``j``), and biases ``b1 ... bL``: ``bias = "neuron"`` gives shape ``(n_l,)``,
``"layer"`` one shared scalar per layer (shape ``()``), ``"none"`` no bias.

Each parameter scalar has a SymPy name (``W1_0_1``, a plain identifier) and a
label people read (``W1[0,1]``); :func:`scalar_name` and :func:`scalar_label`
are the one place that spells them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import SpecError
from ..expr import make_symbol
from .activations import get_activation
from .losses import get_loss
from .size import check_parameters

__all__ = ["MLP", "REDUCTIONS", "BIAS_MODES", "INITS", "scalar_name", "scalar_label"]

REDUCTIONS = ("mean", "sum")
BIAS_MODES = ("neuron", "layer", "none")
INITS = ("uniform", "xavier", "he")


def _named(lookup: Callable[[str], Any], name: object, key: str) -> Any:
    """A registry entry, the error naming the spec key (``network.loss: unknown loss 'x'; ...``)."""
    try:
        return lookup(name)
    except SpecError as error:
        raise SpecError(f"{key}: {error}") from None


@dataclass
class MLP:
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
        loss = _named(get_loss, self.loss, "network.loss")
        if loss.requires is not None and names[-1] != loss.requires:
            raise SpecError(f"network.loss: {loss.name} needs activation {loss.requires!r} on the last layer")
        if self.reduction not in REDUCTIONS:
            raise SpecError(f"network.reduction: expected one of: {', '.join(REDUCTIONS)}, got {self.reduction!r}")
        if self.bias not in BIAS_MODES:
            raise SpecError(f"network.bias: expected one of: {', '.join(BIAS_MODES)}, got {self.bias!r}")
        check_parameters(self.layers, self.bias)  # before anything is allocated

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
        """Fresh parameters: ``uniform`` draws from uniform(-1, 1) (as the classic numpy XOR loop does),
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

    def validate_params(self, params: dict[str, object]) -> dict[str, np.ndarray]:
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
            except OverflowError:
                raise SpecError(f"params.{name}: a number is too large for float64") from None
            except (TypeError, ValueError):
                raise SpecError(f"params.{name}: expected numbers shaped {shapes[name]}") from None
            if array.shape != shapes[name]:
                raise SpecError(f"params.{name}: expected shape {shapes[name]}, got {array.shape}")
            if not np.all(np.isfinite(array)):
                raise SpecError(f"params.{name}: contains NaN or infinity")
            checked[name] = array
        return checked

    def param_symbols(self) -> dict[str, np.ndarray]:
        """Each parameter as an object array of SymPy symbols shaped like it (``W1_0_1`` ...).

        A shared bias (``bias = "layer"``) is a 0-d array holding the symbol ``b1``.
        """
        return {
            name: np.array(
                [make_symbol(scalar_name(name, index)) for index in np.ndindex(*shape)], dtype=object
            ).reshape(shape)
            for name, shape in self.param_shapes().items()
        }


def scalar_name(param: str, index: tuple[int, ...]) -> str:
    """The SymPy name of one entry: ``("W1", (0, 1)) -> "W1_0_1"``, ``("b1", ()) -> "b1"``."""
    return "_".join([param, *(str(i) for i in index)])


def scalar_label(param: str, index: tuple[int, ...]) -> str:
    """How one entry is shown: ``("W1", (0, 1)) -> "W1[0,1]"``, ``("b1", ()) -> "b1"``."""
    return f"{param}[{','.join(str(i) for i in index)}]" if index else param
