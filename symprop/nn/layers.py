"""The layers a network is made of: one entry per kind, everything symprop needs of it in one place.

A network is a list of layers, in the shape of PyTorch's ``nn.Sequential``:
``[{linear = 4}, "batchnorm", "tanh", {dropout = 0.5}, {linear = 1}, "sigmoid"]``.
An MLP with ``layers = [2, 3, 1]`` is such a list too (``linear 3, sigmoid,
linear 1, sigmoid``): every part of symprop walks the list through the
entries of :data:`LAYERS`, so an MLP and a layer list share one code path.

Each kind (a :class:`Layer` subclass, registered by name) holds

* its **parameters**: names, shapes and initialisation;
* its **scalar nodes**, as written (``z1[0] = W1[0,0]*x[0] + ... + b1[0]``,
  ``mu1[0] = (z1[0](s0) + z1[0](s1))/2``): what the exact backward pass differentiates;
* its **numpy reference** forward pass (float64; finite differences use it);
* its **compiled numpy** forward and backward code, and
* its **matrix view** (forward and backward as matrices).

Names follow the linear layers: the ``l``-th ``linear`` makes ``W{l}``,
``b{l}`` and ``z{l}``, and the layers after it, up to the next ``linear``,
are numbered ``l`` too (``a{l}``, ``bn{l}``, ``gamma{l}``); layers before the
first ``linear`` are numbered 0. :func:`build_stack` reads a layer list and
refuses bad input naming the layer by its index and key
(``network.layers[3] (dropout): p must be in [0, 1), got 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import sympy

from .. import display
from ..errors import SpecError
from ..expr import make_symbol
from ..registry import Registry
from .activations import ACTIVATIONS, exact_slope

__all__ = [
    "Layer",
    "LAYERS",
    "register_layer",
    "Architecture",
    "Builder",
    "Forward",
    "build_stack",
    "walk",
    "scalar_name",
    "scalar_label",
    "INITS",
    "BIAS_MODES",
    "REDUCTIONS",
]

REDUCTIONS = ("mean", "sum")
BIAS_MODES = ("neuron", "layer", "none")
INITS = ("uniform", "xavier", "he")


def scalar_name(param: str, index: tuple[int, ...]) -> str:
    """The SymPy name of one entry: ``("W1", (0, 1)) -> "W1_0_1"``, ``("b1", ()) -> "b1"``."""
    return "_".join([param, *(str(i) for i in index)])


def scalar_label(param: str, index: tuple[int, ...]) -> str:
    """How one entry is shown: ``("W1", (0, 1)) -> "W1[0,1]"``, ``("b1", ()) -> "b1"``."""
    return f"{param}[{','.join(str(i) for i in index)}]" if index else param


# -- what the layers write into -----------------------------------------------


class Builder:
    """The scalar graph under construction: named nodes and leaves, per sample or shared.

    With ``batch`` False the graph of one sample (names as written: ``z1_0``);
    with it True, per-sample nodes of sample ``k`` are named ``s{k}_z1_0`` and
    labelled ``z1[0](s{k})``, and shared nodes (a batch mean) carry no prefix.
    """

    def __init__(self, params: Mapping[str, np.ndarray], labels: dict, *, slope: sympy.Expr, batch: bool):
        self.params = params
        self.labels = labels
        self.slope = slope
        self.batch = batch
        self.pairs: list[tuple[sympy.Symbol, sympy.Expr]] = []

    def _symbol(self, name: str, label: str, sample: int | None) -> sympy.Symbol:
        if self.batch and sample is not None:
            name, label = f"s{sample}_{name}", f"{label}(s{sample})"
        symbol = make_symbol(name)
        self.labels[symbol] = label
        return symbol

    def leaf(self, name: str, label: str, sample: int | None) -> sympy.Symbol:
        """A leaf (an input, a target, a dropout mask entry) of sample ``sample``."""
        return self._symbol(name, label, sample)

    def node(self, name: str, label: str, formula: sympy.Expr, sample: int | None) -> sympy.Symbol:
        """A node ``name = formula``; ``sample=None`` for a node shared by the batch."""
        symbol = self._symbol(name, label, sample)
        self.pairs.append((symbol, formula))
        return symbol

    def vector(self, name: str, formulas: Sequence[sympy.Expr], sample: int | None) -> list[sympy.Symbol]:
        """Nodes ``name_j = formulas[j]`` labelled ``name[j]``."""
        return [self.node(f"{name}_{j}", f"{name}[{j}]", f, sample) for j, f in enumerate(formulas)]


@dataclass
class Forward:
    """The numpy forward pass under way: masks in, every named intermediate out (``(m, n)`` arrays)."""

    masks: Mapping[str, np.ndarray]
    slope: float
    values: dict[str, np.ndarray] = field(default_factory=dict)
    kinks: list[np.ndarray] = field(default_factory=list)

    def record(self, name: str, value: np.ndarray) -> np.ndarray:
        self.values[name] = value
        return value


# -- the table ----------------------------------------------------------------


class Layer:
    """One layer of a network, configured (a kind's entry is its class).

    Subclasses set ``kind``, ``options`` (the keys a spec may give) and
    ``argument`` (the one the short form ``{kind = value}`` sets), and
    implement the parts below. ``stage`` is the number of the last ``linear``
    at or before this layer; ``key`` is where the spec gave it, for messages.
    """

    kind: str = ""
    options: tuple[str, ...] = ()
    #: The option the short form ``{kind = value}`` sets (None: the kind has no short form).
    argument: str | None = None
    #: The words of the README's table.
    math: str = ""
    pytorch: str = ""
    #: True when a sample's output depends on the other samples (batchnorm).
    couples: bool = False

    def __init__(self, key: str, width_in: int, reading: "_Reading"):
        self.key = key
        self.width_in = width_in
        self.width_out = width_in
        self.stage = reading.stage
        #: the name of the value it takes (``a0`` for the input x)
        self.in_name = reading.current
        self.out = reading.current

    # configuration
    def where(self) -> str:
        return f"{self.key} ({self.kind})"

    def error(self, message: str) -> SpecError:
        return SpecError(f"{self.where()}: {message}")

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def init(self, name: str, shape: tuple[int, ...], rng: np.random.Generator, init: str) -> np.ndarray:
        raise NotImplementedError

    def intermediates(self) -> list[tuple[str, str]]:
        """``[(name, axes)]`` of the values it makes, ``axes`` ``"mn"`` (per sample and unit), ``"n"``, ``"m"``."""
        return []

    def sublayers(self) -> list["Layer"]:
        return []

    @property
    def describe(self) -> str:
        return self.kind

    # the scalar graph
    def nodes(self, b: Builder, h: list[sympy.Expr], sample: int | None) -> list[sympy.Expr]:
        """One sample's nodes (a layer that does not couple samples)."""
        raise NotImplementedError

    def batch_nodes(self, b: Builder, hs: list[list[sympy.Expr]]) -> list[list[sympy.Expr]]:
        """Every sample's nodes at once (a layer that couples samples)."""
        return [self.nodes(b, h, k) for k, h in enumerate(hs)]

    # numpy
    def forward(self, params: Mapping[str, np.ndarray], h: np.ndarray, ctx: Forward) -> np.ndarray:
        raise NotImplementedError

    # compiled code (see symprop.compiler): write lines, return the output's (or input gradient's) array name
    def code_forward(self, gen: Any, h: str) -> str:
        raise NotImplementedError

    def code_backward(self, gen: Any, d: str, h: str) -> str:
        raise NotImplementedError

    # matrix view (see symprop.matrix): samples as columns
    def matrix_forward(self, mv: Any, h: sympy.Matrix) -> sympy.Matrix:
        raise NotImplementedError

    def matrix_backward(self, mv: Any, d: sympy.Matrix) -> sympy.Matrix:
        raise NotImplementedError


LAYERS: Registry[type] = Registry("layer")


def register_layer(cls: type) -> type:
    """Add a layer kind (a :class:`Layer` subclass with its parts) to the table."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise SpecError(f"register_layer: expected a Layer subclass, got {cls!r}")
    for part in ("math", "pytorch"):
        if not getattr(cls, part):
            raise SpecError(f"layer {cls.kind!r} has no {part} text (the README's table shows it)")
    return LAYERS.register(cls.kind, cls)


def walk(stack: Sequence[Layer]) -> list[Layer]:
    """Every layer in the order it computes: a block's inner layers, then the block."""
    found: list[Layer] = []
    for layer in stack:
        found.extend(walk(layer.sublayers()))
        found.append(layer)
    return found


# -- reading a layer list -------------------------------------------------------


@dataclass
class _Reading:
    """What :func:`build_stack` keeps while it reads: the stage count and the names taken."""

    defaults: Mapping[str, Any]
    stage: int = 0
    current: str = "a0"
    names: dict[str, str] = field(default_factory=dict)

    def claim(self, names: Sequence[str], layer: Layer) -> None:
        for name in names:
            if name in self.names:
                raise layer.error(
                    f"its values would be named {name!r}, as those of {self.names[name]}; "
                    "put a linear layer between two layers of the same kind"
                )
            self.names[name] = layer.where()


def _kind_and_options(entry: Any, key: str) -> tuple[str, dict[str, Any]]:
    """``"tanh"`` or ``{dropout = 0.5}`` or ``{dropout = {p = 0.5, mask = ...}}`` -> kind, options."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping):
        if len(entry) != 1:
            raise SpecError(
                f"{key}: a layer is a name (\"tanh\") or a table with one key, its kind "
                f"({{linear = 4}}, {{dropout = {{p = 0.5}}}}), got keys {', '.join(map(str, entry)) or 'none'}"
            )
        (kind, value), = entry.items()
        return str(kind), {"": value}
    raise SpecError(f"{key}: expected a layer (a name or a table such as {{linear = 4}}), got {entry!r}")


def _make(entry: Any, key: str, width: int, reading: _Reading) -> Layer:
    kind, raw = _kind_and_options(entry, key)
    cls = LAYERS.get(kind)
    if cls is None and kind in ACTIVATIONS:
        cls = LAYERS["activation"]
    if cls is None:
        names = [k for k in LAYERS if k != "activation"] + list(ACTIVATIONS)
        raise SpecError(f"{key}: unknown layer {kind!r}; expected one of: {', '.join(names)}")
    value = raw.get("", None)
    if isinstance(value, Mapping):
        options = dict(value)
    elif "" in raw:
        if cls.argument is None:
            also = f" or {{{kind} = {{{cls.options[0]} = ...}}}}" if cls.options else ""
            raise SpecError(f"{key} ({kind}): takes no argument; write \"{kind}\"{also}")
        options = {cls.argument: value}
    else:
        options = {}
    unknown = sorted(set(options) - set(cls.options))
    if unknown:
        allowed = ", ".join(cls.options) or "none"
        raise SpecError(f"{key} ({kind}): unknown option {unknown[0]!r}; expected one of: {allowed}")
    if cls.kind == "linear":
        reading.stage += 1
    layer = cls.configure(key, width, reading, kind, options)
    return layer


def build_stack(entries: Any, inputs: int, *, key: str = "network.layers", defaults: Mapping[str, Any]) -> list[Layer]:
    """Read a layer list into configured layers, checking widths and names as it goes.

    Args:
        entries: the list, as a spec gives it (names and one-key tables).
        inputs: the width of the input.
        key: where the list is, for messages.
        defaults: the network's ``bias`` and ``slope``.

    Raises:
        SpecError: naming the layer by its index and key.
    """
    return _read(entries, inputs, key, _Reading(defaults))


def _read(entries: Any, width: int, key: str, reading: _Reading) -> list[Layer]:
    if not isinstance(entries, (list, tuple)) or not entries:
        raise SpecError(f"{key}: expected a non-empty list of layers, e.g. [{{linear = 3}}, \"sigmoid\"]")
    stack = []
    for k, entry in enumerate(entries):
        if stack and getattr(stack[-1], "last_only", False):
            name = getattr(stack[-1], "name", stack[-1].kind)
            raise SpecError(f"{key}[{k}]: a layer after {name} ({key}[{k - 1}]); {name} must be the last layer")
        layer = _make(entry, f"{key}[{k}]", width, reading)
        reading.current = layer.out
        stack.append(layer)
        width = layer.width_out
    return stack


class Architecture:
    """What every network architecture (an :class:`~symprop.nn.MLP`, a :class:`~symprop.nn.Sequential`) offers.

    Subclasses give ``stack`` (the layers), ``loss``,
    ``reduction``, ``slope`` and ``weight_decay``.
    """

    stack: list[Layer]
    weight_decay: float = 0.0

    def _repr_markdown_(self) -> str | None:
        """Jupyter: the layers, the shape of what each makes, and the parameter count."""
        return display.show(self, "markdown")

    @property
    def n_inputs(self) -> int:
        """The width of the input ``x``."""
        return self.stack[0].width_in

    @property
    def n_outputs(self) -> int:
        """The width of the output (and of the targets ``y``)."""
        return self.stack[-1].width_out

    @property
    def couples(self) -> bool:
        """True when a layer (batchnorm) makes one sample's output depend on the others."""
        return any(layer.couples for layer in walk(self.stack))

    @property
    def separable(self) -> bool:
        """True when the batch loss is the mean (or sum) of per-sample losses, each with its own graph."""
        return not self.couples and not self.weight_decay

    def dropouts(self) -> list[Layer]:
        return [layer for layer in walk(self.stack) if layer.kind == "dropout"]

    def weights(self) -> list[str]:
        """The parameters weight decay applies to: the linear layers' weights."""
        return [name for name in self.param_shapes() if name.startswith("W")]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape, in layer order (``W1, b1, gamma1, beta1, W2, ...``)."""
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in walk(self.stack):
            shapes.update(layer.param_shapes())
        return shapes

    def intermediates(self) -> dict[str, tuple[str, int]]:
        """Every named intermediate value in forward order, with its axes and width.

        ``{"z1": ("mn", 4), "mu1": ("n", 4), "sumexp2": ("m", 3), ...}``: ``mn`` is
        one value per sample and unit (shape ``(m, n)``), ``n`` one per unit
        (a batch statistic), ``m`` one per sample.
        """
        found: dict[str, tuple[str, int]] = {}
        for layer in walk(self.stack):
            for name, axes in layer.intermediates():
                found[name] = (axes, layer.width_out)
        return found

    def init_params(self, seed: int | None = 0, init: str = "uniform") -> dict[str, np.ndarray]:
        """Fresh parameters: ``uniform`` draws from uniform(-1, 1) (as the classic numpy XOR loop does),
        ``xavier`` from uniform(±sqrt(6/(fan_in + fan_out))), ``he`` from
        normal(0, sqrt(2/fan_in)); biases are uniform(-1, 1) for ``uniform`` and 0 otherwise;
        batchnorm and layernorm scales are 1 and shifts 0, as PyTorch's. Drawn in
        the order W1, b1, W2, b2, ... from ``numpy.random.default_rng(seed)``.
        """
        if init not in INITS:
            raise SpecError(f"params.init: unknown init {init!r}; expected one of: {', '.join(INITS)}")
        rng = np.random.default_rng(seed)
        params: dict[str, np.ndarray] = {}
        for layer in walk(self.stack):
            for name, shape in layer.param_shapes().items():
                params[name] = layer.init(name, shape, rng, init)
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

    def exact_slope(self) -> sympy.Expr:
        return exact_slope(self.slope)

    def draw_masks(self, samples: int, seed: int | None, given: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Each dropout layer's mask for ``samples`` samples: the one the spec gives, else drawn.

        A drawn mask keeps each entry with probability ``1 - p``, from
        ``numpy.random.default_rng([seed, stage])`` (the parameters' own
        generator is left alone, so adding dropout does not change them).

        Raises:
            SpecError: a given mask of the wrong shape or with entries other than 0 and 1.
        """
        masks = {}
        for layer in self.dropouts():
            masks[layer.mask_name] = layer.mask(samples, seed, (given or {}).get(layer.mask_name))
        return masks


#: Checks shared by the kinds: a whole number width, a number in a range.
def whole(value: Any, layer: Layer, option: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise layer.error(f"{option} must be a whole number >= {low}, got {value!r}")
    return int(value)


def number(value: Any, layer: Layer, option: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise layer.error(f"{option} must be a finite number, got {value!r}")
    return float(value)

