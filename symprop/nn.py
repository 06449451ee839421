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

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from .backprop import BackwardPass, backward
from .errors import PointError, SpecError
from .expr import make_symbol
from .functions import leaky_relu, relu, sigmoid, softplus
from .graph import Graph

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
    "forward_numpy",
    "loss_numpy",
    "per_sample_loss_numpy",
    "scalar_name",
    "scalar_label",
    "network_graph",
    "Network",
    "NetworkProblem",
    "NetworkSpec",
    "TrainConfig",
    "OPTIMIZERS",
    "network_spec",
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


# -- names of the scalars -------------------------------------------------------


def scalar_name(param: str, index: tuple[int, ...]) -> str:
    """The SymPy name of one entry: ``("W1", (0, 1)) -> "W1_0_1"``, ``("b1", ()) -> "b1"``."""
    return "_".join([param, *(str(i) for i in index)])


def scalar_label(param: str, index: tuple[int, ...]) -> str:
    """How one entry is shown: ``("W1", (0, 1)) -> "W1[0,1]"``, ``("b1", ()) -> "b1"``."""
    return f"{param}[{','.join(str(i) for i in index)}]" if index else param


# -- the numpy reference: forward pass and loss in float64 -------------------------


def _sigmoid_np(z: np.ndarray) -> np.ndarray:
    """``1/(1 + exp(-z))`` without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _activate_np(name: str, z: np.ndarray, slope: float) -> np.ndarray:
    if name == "sigmoid":
        return _sigmoid_np(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "identity":
        return z
    e = np.exp(z - z.max(axis=1, keepdims=True))  # softmax, shifted by the max: no overflow
    return e / e.sum(axis=1, keepdims=True)


def _as_batch(x: object) -> np.ndarray:
    """``x`` as a float64 array of shape ``(m, n)``; one sample may be given as ``(n,)``."""
    array = np.asarray(x, dtype=np.float64)
    return array.reshape(1, -1) if array.ndim == 1 else array


def _forward_np(mlp: MLP, params: dict[str, object], x: object) -> tuple[np.ndarray, np.ndarray]:
    """The last layer's pre-activation ``z`` and output ``a``, each ``(m, nL)``."""
    a = _as_batch(x)
    z = a
    for l, name in enumerate(mlp.activations, start=1):
        z = a @ np.asarray(params[f"W{l}"], dtype=np.float64).T  # (m, n_{l-1}) @ (n_{l-1}, n_l)
        if mlp.bias != "none":
            z = z + np.asarray(params[f"b{l}"], dtype=np.float64)  # (n_l,) or () broadcasts
        a = _activate_np(name, z, mlp.slope)
    return z, a


def forward_numpy(mlp: MLP, params: dict[str, object], x: object) -> np.ndarray:
    """The network's outputs ``yhat``, shape ``(m, nL)``, in float64.

    Args:
        mlp: the architecture.
        params: ``{"W1": (n1, n0) array, "b1": ..., ...}`` as from :meth:`MLP.init_params`.
        x: inputs, shape ``(m, n0)`` (one row per sample) or ``(n0,)`` for one sample.

    Numerically stable: the sigmoid never overflows and softmax subtracts the row max.
    """
    return _forward_np(mlp, params, x)[1]


def per_sample_loss_numpy(mlp: MLP, params: dict[str, object], x: object, y: object) -> np.ndarray:
    """Each sample's loss (DESIGN.md's table), shape ``(m,)``, in float64.

    Cross-entropy is computed from the logits (log-softmax with the max
    shifted out), and binary cross-entropy after a sigmoid output from the
    logits too (``log sigmoid(z) = -logaddexp(0, -z)``), so neither takes the
    log of a rounded 0.
    """
    z, yhat = _forward_np(mlp, params, x)
    target = _as_batch(y)
    if mlp.loss == "half_squared_error":
        return 0.5 * np.sum((target - yhat) ** 2, axis=1)
    if mlp.loss == "squared_error":
        return np.sum((target - yhat) ** 2, axis=1)
    if mlp.loss == "mse":
        return np.mean((target - yhat) ** 2, axis=1)
    if mlp.loss == "cross_entropy":  # the output is a softmax of z
        shifted = z - z.max(axis=1, keepdims=True)
        log_softmax = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return -np.sum(target * log_softmax, axis=1)
    # binary_cross_entropy
    if mlp.activations[-1] == "sigmoid":
        log_p, log_q = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p, log_q = np.log(yhat), np.log1p(-yhat)
    return -np.sum(target * log_p + (1.0 - target) * log_q, axis=1)


def loss_numpy(mlp: MLP, params: dict[str, object], x: object, y: object) -> float:
    """The batch loss in float64: the ``mlp.reduction`` (mean or sum) of the per-sample losses."""
    losses = per_sample_loss_numpy(mlp, params, x, y)
    return float(np.sum(losses) if mlp.reduction == "sum" else np.mean(losses))


# -- the network as a graph of scalar nodes ------------------------------------


def _slope(mlp: MLP) -> sympy.Expr:
    """leaky_relu's slope as an exact number (0.01 -> 1/100)."""
    return sympy.Rational(repr(float(mlp.slope)))


def _sample_nodes(
    mlp: MLP,
    symbols: dict[str, np.ndarray],
    labels: dict[sympy.Symbol, str],
    prefix: str = "",
    suffix: str = "",
) -> list[tuple[sympy.Symbol, sympy.Expr]]:
    """One sample's nodes: ``z{l}_{j}``, ``a{l}_{j}`` per neuron, then its loss ``L``."""

    def leaf(name: str, label: str) -> sympy.Symbol:
        symbol = make_symbol(prefix + name)
        labels[symbol] = label + suffix
        return symbol

    a = [leaf(f"x_{i}", f"x[{i}]") for i in range(mlp.layers[0])]
    y = [leaf(f"y_{k}", f"y[{k}]") for k in range(mlp.layers[-1])]
    pairs: list[tuple[sympy.Symbol, sympy.Expr]] = []
    for l, name in enumerate(mlp.activations, start=1):
        weights, bias = symbols[f"W{l}"], symbols.get(f"b{l}")
        zs = []
        for j in range(mlp.layers[l]):
            formula = sympy.Add(*(weights[j, i] * a[i] for i in range(len(a))))  # z = W[j,:] . a_prev + b
            if bias is not None:
                formula += bias[j] if bias.ndim else bias[()]
            zs.append(leaf(f"z{l}_{j}", f"z{l}[{j}]"))
            pairs.append((zs[-1], formula))
        if name == "softmax":
            total = leaf(f"sumexp{l}", f"sumexp{l}")
            pairs.append((total, sympy.Add(*(sympy.exp(z) for z in zs))))
            outputs = [sympy.exp(z) / total for z in zs]
        else:
            outputs = [activation_formula(name, z, _slope(mlp)) for z in zs]
        a = []
        for j, formula in enumerate(outputs):
            a.append(leaf(f"a{l}_{j}", f"a{l}[{j}]"))
            pairs.append((a[-1], formula))
    pairs.append((leaf("L", "L"), loss_formula(mlp.loss, a, y)))
    return pairs


def network_graph(mlp: MLP, samples: int | None = None) -> Graph:
    """The network as a graph of named scalar nodes, one per pre-activation and activation.

    With ``samples=None`` the graph of one sample: leaves ``x_i`` (labelled
    ``x[i]``), ``y_k`` and the parameters ``W1_0_1`` (labelled ``W1[0,1]``),
    nodes ``z1_0 = W1_0_0*x_0 + W1_0_1*x_1 + b1_0``, ``a1_0 = sigmoid(z1_0)``,
    ..., and the per-sample loss ``L``. With ``samples=m`` one copy per sample
    (names prefixed ``s0_``, labels suffixed ``(s0)``) and the batch loss
    ``L``, the mean or sum of the per-sample losses ``s0_L ...``.

    The graph grows linearly with the network; nothing is expanded.
    """
    symbols = mlp.param_symbols()
    labels: dict[sympy.Symbol, str] = {}
    params = []
    for name, array in symbols.items():
        for index in np.ndindex(*array.shape):
            labels[array[index]] = scalar_label(name, index)
            params.append(array[index])
    if samples is None:
        return Graph.from_exprs(_sample_nodes(mlp, symbols, labels), params, labels=labels)
    pairs: list[tuple[sympy.Symbol, sympy.Expr]] = []
    losses = []
    for k in range(samples):
        pairs += _sample_nodes(mlp, symbols, labels, f"s{k}_", f"(s{k})")
        losses.append(pairs[-1][0])
    total = sympy.Add(*losses)
    output = make_symbol("L")
    labels[output] = "L"
    pairs.append((output, total / samples if mlp.reduction == "mean" else total))
    return Graph.from_exprs(pairs, params, labels=labels)


def _check_data(mlp: MLP, x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as ``(m, n0)`` and ``y`` as ``(m, nL)`` float64 arrays, finite; errors name ``data.x``/``data.y``."""
    checked = []
    for key, value, width in (("x", x, mlp.layers[0]), ("y", y, mlp.layers[-1])):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise SpecError(f"data.{key}: expected rows of {width} numbers, one row per sample") from None
        if array.ndim == 1 and array.size == width:
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[0] < 1:
            raise SpecError(f"data.{key}: expected rows of {width} numbers, one row per sample, got shape {array.shape}")
        if array.shape[1] != width:
            layer = "the input layer" if key == "x" else "the output layer"
            raise SpecError(
                f"data.{key}: each row needs {width} numbers (the width of {layer}), got {array.shape[1]}"
            )
        if not np.all(np.isfinite(array)):
            row = int(np.argwhere(~np.isfinite(array))[0][0])
            raise SpecError(f"data.{key}: row {row} contains NaN or infinity")
        checked.append(array)
    if checked[0].shape[0] != checked[1].shape[0]:
        raise SpecError(f"data: x has {checked[0].shape[0]} rows but y has {checked[1].shape[0]}; one row per sample")
    return checked[0], checked[1]


class Network:
    """An MLP with its parameters and data: the exact backward pass, and gradients as arrays.

    Args:
        mlp: the architecture.
        params: some or all of ``{"W1": ..., "b1": ..., ...}`` (nested lists or
            arrays shaped as :meth:`MLP.param_shapes` says); missing ones are drawn
            by :meth:`MLP.init_params` with ``seed`` and ``init``.
        x: inputs, ``(m, n0)``, one row per sample (``(n0,)`` for one sample).
        y: targets, ``(m, nL)``.
        seed, init: for the missing parameters.
        exact: read the numbers as exact decimals (``0.15 -> 3/20``), so the
            backward pass gives exact values (slow for deep nets).

    Raises:
        SpecError: a parameter or data array of the wrong shape, NaN, and so on,
            naming it (``params.W2: ...``, ``data.y: ...``).

    >>> net = Network(MLP([2, 2, 2], bias="layer"), {"W1": [[0.15, 0.2], [0.25, 0.3]], "b1": 0.35,
    ...               "W2": [[0.4, 0.45], [0.5, 0.55]], "b2": 0.6}, [[0.05, 0.1]], [[0.01, 0.99]])
    >>> round(net.loss(), 9), round(float(net.exact_gradients()["W2"][0, 0]), 9)
    (0.298371109, 0.082167041)
    """

    def __init__(
        self,
        mlp: MLP,
        params: dict[str, object] | None,
        x: object,
        y: object,
        *,
        seed: int | None = 0,
        init: str = "uniform",
        exact: bool = False,
    ):
        self.mlp = mlp
        given = mlp.check_params(dict(params or {}))
        shapes = mlp.param_shapes()
        fresh = mlp.init_params(seed, init) if set(shapes) - set(given) else {}
        self.params: dict[str, np.ndarray] = {name: given.get(name, fresh.get(name)) for name in shapes}
        self.x, self.y = _check_data(mlp, x, y)
        self.exact = exact
        self._graphs: dict[bool, Graph] = {}

    @property
    def samples(self) -> int:
        """The number of samples ``m``."""
        return int(self.x.shape[0])

    # -- numpy ----------------------------------------------------------------

    def forward(self) -> np.ndarray:
        """The outputs ``yhat`` for every sample, ``(m, nL)``, in float64."""
        return forward_numpy(self.mlp, self.params, self.x)

    def loss(self) -> float:
        """The batch loss in float64 (see :func:`loss_numpy`)."""
        return loss_numpy(self.mlp, self.params, self.x, self.y)

    # -- the exact backward pass ---------------------------------------------

    def graph(self, sample: int | None = None) -> Graph:
        """The scalar graph: one sample's (when ``sample`` is given or ``m == 1``), else the whole batch's."""
        batch = sample is None and self.samples > 1
        if batch not in self._graphs:
            self._graphs[batch] = network_graph(self.mlp, self.samples if batch else None)
        return self._graphs[batch]

    def point(self, sample: int | None = None) -> dict[sympy.Symbol, object]:
        """The values of the graph's leaves: parameters, and the sample's (or every sample's) ``x`` and ``y``."""
        graph = self.graph(sample)
        values: dict[sympy.Symbol, object] = {}
        for name, array in self.params.items():
            for index in np.ndindex(*array.shape):
                values[graph.symbol(scalar_name(name, index))] = array[index]
        rows = [(self.check_sample(sample), "")] if graph is self._graphs.get(False) else [
            (k, f"s{k}_") for k in range(self.samples)
        ]
        for k, prefix in rows:
            for i, v in enumerate(self.x[k]):
                values[graph.symbol(f"{prefix}x_{i}")] = v
            for i, v in enumerate(self.y[k]):
                values[graph.symbol(f"{prefix}y_{i}")] = v
        return values

    def check_sample(self, sample: int | None) -> int:
        """``sample`` as an index into the data (``None`` means 0).

        Raises:
            PointError: naming the range, when it is not a sample of the data.
        """
        if sample is None:
            return 0
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < self.samples:
            raise PointError(
                f"sample {sample!r} is out of range: the data has {self.samples} "
                f"sample{'s' if self.samples != 1 else ''} (0 to {self.samples - 1})"
            )
        return int(sample)

    _sample_index = check_sample  # the name other modules first used

    def backward(self, sample: int | None = None) -> BackwardPass:
        """The exact backward pass of the batch loss, or of sample ``sample``'s own loss.

        With ``sample=K`` the output ``L`` is that sample's loss (not divided
        by ``m``); the batch gradient is the mean (or sum) of these per-sample
        gradients. The exact symbolic form of each scalar's gradient is
        ``backward().gradients["W1_0_1"].compact`` (or ``.expanded``).
        """
        if sample is not None:
            self.check_sample(sample)
        return backward(self.graph(sample), self.point(sample), exact=self.exact)

    def gradient_arrays(self, bp: BackwardPass) -> dict[str, np.ndarray]:
        """A backward pass's gradient values as float64 arrays shaped like the parameters."""
        grads = bp.gradients
        return {
            name: np.array(
                [float(grads[scalar_name(name, index)].value) for index in np.ndindex(*array.shape)],
                dtype=np.float64,
            ).reshape(array.shape)
            for name, array in self.params.items()
        }

    def exact_gradients(self, sample: int | None = None) -> dict[str, np.ndarray]:
        """``dL/dparam`` from the exact backward pass, as float64 arrays shaped like the parameters.

        With ``sample=None`` the gradient of the batch loss: the mean (or sum)
        of the per-sample gradients, each from the exact backward pass of one
        sample's graph (so the cost grows linearly with ``m``).
        """
        if sample is not None or self.samples == 1:
            return self.gradient_arrays(self.backward(sample))
        total = {name: np.zeros(array.shape) for name, array in self.params.items()}
        for k in range(self.samples):
            for name, grad in self.gradient_arrays(self.backward(k)).items():
                total[name] += grad
        if self.mlp.reduction == "mean":
            total = {name: grad / self.samples for name, grad in total.items()}
        return total

    def __repr__(self) -> str:
        return f"Network(layers={self.mlp.layers}, activations={self.mlp.activations}, loss={self.mlp.loss!r}, m={self.samples})"


# -- spec files: [network], [params], [data], [train] ----------------------------

NETWORK_KEYS = {"layers", "activation", "loss", "reduction", "bias", "slope"}
DATA_KEYS = {"x", "y"}
TRAIN_KEYS = {"learning_rate", "steps", "optimizer"}
#: Optimizer names a ``[train]`` table may ask for (the trainer implements them).
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


@dataclass
class TrainConfig:
    """The checked ``[train]`` table (defaults: learning_rate 0.5 and 1000 steps of sgd)."""

    learning_rate: float = 0.5
    steps: int = 1000
    optimizer: str = "sgd"


@dataclass
class NetworkProblem:
    """What the command line runs for a network spec: one sample (``sample=K``) or the batch.

    The backward passes are computed once and kept (the network must not change meanwhile).
    """

    network: Network
    sample: int | None = None
    _passes: dict[int | None, BackwardPass] = field(default_factory=dict, repr=False)

    def backward(self) -> BackwardPass:
        """The pass the walkthrough narrates: sample ``sample``'s own loss, or the batch loss."""
        return self.pass_for(self.sample)

    def pass_for(self, sample: int | None) -> BackwardPass:
        """The exact backward pass of one sample's loss (or, for ``None``, the batch loss)."""
        if sample not in self._passes:
            self._passes[sample] = self.network.backward(sample)
        return self._passes[sample]

    def per_sample(self) -> list[BackwardPass]:
        """Each sample's own backward pass, in order (the batch gradient is their mean or sum)."""
        return [self.pass_for(k) for k in range(self.network.samples)]


@dataclass
class NetworkSpec:
    """A checked ``[network]`` spec.

    Attributes:
        network: the :class:`Network` (architecture, parameters, data).
        train: the ``[train]`` table (defaults where it is missing).
        seed, init: how missing parameters were drawn.
    """

    network: Network
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int | None = 0
    init: str = "uniform"

    def problem(self, args: object) -> NetworkProblem:
        """The problem the CLI runs, from ``--sample``, ``--exact`` (``--at``/``--wrt`` are for formulas)."""
        if getattr(args, "at", None):
            raise SpecError("--at is for formulas; a network's values come from [params] and [data]")
        if getattr(args, "wrt", None):
            raise SpecError("--wrt is for formulas; a network is differentiated for all its parameters")
        self.network.exact = self.network.exact or bool(getattr(args, "exact", False))
        sample = getattr(args, "sample", None)
        if sample is not None:
            self.network.check_sample(sample)
        return NetworkProblem(self.network, sample)


def _name(table: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise SpecError(f"{where}.{key}: expected a name (a string), got {value!r}")
    return value


def _numbers(value: Any, key: str) -> Any:
    """Refuse anything but (nested lists of) finite numbers, naming the entry."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _numbers(item, f"{key}[{i}]")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{key}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise SpecError(f"{key}: {value} is not a finite number")
    return value


def network_spec(data: Mapping[str, Any]) -> NetworkSpec:
    """Check a ``[network]`` spec (its tables as read from TOML/JSON) and build it.

    Raises:
        SpecError: an unknown key, a wrong type or shape, a non-finite number or
            an unknown name, naming the key (``params.W2: expected shape (2, 2), got (2, 3)``).
    """
    from .spec import TOP_LEVEL_KEYS, check_keys

    check_keys(data, TOP_LEVEL_KEYS - {"graph"}, "")
    table = check_keys(data["network"], NETWORK_KEYS, "network")
    if "layers" not in table:
        raise SpecError("network.layers: missing; give the widths, e.g. layers = [2, 3, 1]")
    activation = table.get("activation", "sigmoid")
    if not isinstance(activation, str) and not (
        isinstance(activation, list) and all(isinstance(a, str) for a in activation)
    ):
        raise SpecError(f"network.activation: expected a name or a list of names, got {activation!r}")
    slope = _numbers(table.get("slope", 0.01), "network.slope")
    if isinstance(slope, list):
        raise SpecError("network.slope: expected a number")
    mlp = MLP(
        table["layers"],
        activation,
        _name(table, "loss", "network", "half_squared_error"),
        _name(table, "reduction", "network", "mean"),
        _name(table, "bias", "network", "neuron"),
        slope,
    )
    shapes = mlp.param_shapes()
    ptable = check_keys(data.get("params", {}), set(shapes) | {"seed", "init"}, "params")
    seed = ptable.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecError(f"params.seed: expected a whole number >= 0, got {seed!r}")
    init = _name(ptable, "init", "params", "uniform")
    params = {k: _numbers(v, f"params.{k}") for k, v in ptable.items() if k in shapes}
    if "data" not in data:
        raise SpecError("a [network] spec needs a [data] table with x and y (one row per sample)")
    dtable = check_keys(data["data"], DATA_KEYS, "data")
    for key in ("x", "y"):
        if key not in dtable:
            raise SpecError(f"data.{key}: missing; give one row per sample, e.g. {key} = [[0.05, 0.10]]")
        rows = _numbers(dtable[key], f"data.{key}")
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise SpecError(f"data.{key}: expected a list of rows, one per sample, e.g. {key} = [[0.05, 0.10]]")
    network = Network(mlp, params, dtable["x"], dtable["y"], seed=seed, init=init)
    return NetworkSpec(network, _train(data.get("train", {})), seed, init)


def _train(table: Any) -> TrainConfig:
    from .spec import check_keys

    table = check_keys(table, TRAIN_KEYS, "train")
    config = TrainConfig()
    if "learning_rate" in table:
        rate = _numbers(table["learning_rate"], "train.learning_rate")
        if isinstance(rate, list) or rate <= 0:
            raise SpecError(f"train.learning_rate: expected a number > 0, got {rate!r}")
        config.learning_rate = float(rate)
    if "steps" in table:
        steps = table["steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise SpecError(f"train.steps: expected a whole number >= 0, got {steps!r}")
        config.steps = steps
    config.optimizer = _name(table, "optimizer", "train", "sgd")
    if config.optimizer not in OPTIMIZERS:
        raise SpecError(f"train.optimizer: unknown optimizer {config.optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}")
    return config
