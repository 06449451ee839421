"""A network as a graph of scalar nodes, and :class:`Network`: an MLP with its parameters and data.

The scalar graph has one node per pre-activation ``z{l}_{j}`` and activation
``a{l}_{j}`` (and any whole-layer quantity an activation shares, such as
softmax's sum of exponentials), then the loss: every formula comes from the
activation and loss tables, so the exact backward pass differentiates exactly
what the numpy reference computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import sympy

from ..backprop import BackwardPass, backward
from ..errors import PointError, SpecError
from ..expr import make_symbol
from ..graph import Graph
from .activations import exact_slope, get_activation
from .losses import get_loss
from .mlp import MLP, scalar_label, scalar_name
from .reference import check_outputs, check_targets, forward_numpy, loss_numpy
from .size import check_exact_work

__all__ = ["network_graph", "Network", "NetworkProblem", "Batch"]


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

    slope = exact_slope(mlp.slope)
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
        activation = get_activation(name)
        if activation.elementwise:
            outputs = [activation.of(z, slope) for z in zs]
        else:
            outputs = activation.formula(zs, slope)
            if activation.shared is not None:  # softmax: the sum of exponentials, a node of its own
                kind, make = activation.shared
                shared = make(zs)
                total = leaf(f"{kind}{l}", f"{kind}{l}")
                pairs.append((total, shared))
                outputs = [o.xreplace({shared: total}) for o in outputs]
        a = []
        for j, formula in enumerate(outputs):
            a.append(leaf(f"a{l}_{j}", f"a{l}[{j}]"))
            pairs.append((a[-1], formula))
    pairs.append((leaf("L", "L"), get_loss(mlp.loss).formula(a, y)))
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


def _validate_data(mlp: MLP, x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as ``(m, n0)`` and ``y`` as ``(m, nL)`` float64 arrays, finite; errors name ``data.x``/``data.y``."""
    checked = []
    for key, value, width in (("x", x, mlp.layers[0]), ("y", y, mlp.layers[-1])):
        try:
            array = np.asarray(value, dtype=np.float64)
        except OverflowError:
            raise SpecError(f"data.{key}: a number is too large for float64") from None
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
    check_targets(mlp, checked[1])
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
        SpecError: a parameter or data array of the wrong shape, NaN, a target
            outside the loss's domain, and so on, naming it (``params.W2: ...``, ``data.y: ...``).

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
        given = mlp.validate_params(dict(params or {}))
        shapes = mlp.param_shapes()
        fresh = mlp.init_params(seed, init) if set(shapes) - set(given) else {}
        self.params: dict[str, np.ndarray] = {name: given.get(name, fresh.get(name)) for name in shapes}
        self.x, self.y = _validate_data(mlp, x, y)
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

    def check_exact_size(self, sample: int | None = None) -> None:
        """Refuse, before it starts, an exact backward pass past ``symprop.limits.MAX_EXACT_STEPS`` steps.

        ``sample=None`` is the whole batch: every sample's pass, or the batch graph.

        Raises:
            LimitError: saying what to do instead.
        """
        check_exact_work(self.mlp, self.samples, batch=sample is None)

    def check_outputs(self, sample: int | None = None) -> None:
        """Refuse outputs outside the loss's domain (binary cross-entropy: [0, 1]), for one sample or all.

        Raises:
            EvaluationError: naming the sample and the output.
        """
        rows = list(range(self.samples)) if sample is None else [self.sample_index(sample)]
        check_outputs(self.mlp, self.params, self.x[rows], rows=rows)

    def graph(self, sample: int | None = None) -> Graph:
        """The scalar graph: one sample's (when ``sample`` is given or ``m == 1``), else the whole batch's."""
        batch = sample is None and self.samples > 1
        if batch not in self._graphs:
            self.check_exact_size(None if batch else 0)
            self._graphs[batch] = network_graph(self.mlp, self.samples if batch else None)
        return self._graphs[batch]

    def point(self, sample: int | None = None) -> dict[sympy.Symbol, object]:
        """The values of the graph's leaves: parameters, and the sample's (or every sample's) ``x`` and ``y``."""
        graph = self.graph(sample)
        values: dict[sympy.Symbol, object] = {}
        for name, array in self.params.items():
            for index in np.ndindex(*array.shape):
                values[graph.symbol(scalar_name(name, index))] = array[index]
        rows = [(self.sample_index(sample), "")] if graph is self._graphs.get(False) else [
            (k, f"s{k}_") for k in range(self.samples)
        ]
        for k, prefix in rows:
            for i, v in enumerate(self.x[k]):
                values[graph.symbol(f"{prefix}x_{i}")] = v
            for i, v in enumerate(self.y[k]):
                values[graph.symbol(f"{prefix}y_{i}")] = v
        return values

    def sample_index(self, sample: int | None) -> int:
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

    def backward(self, sample: int | None = None) -> BackwardPass:
        """The exact backward pass of the batch loss, or of sample ``sample``'s own loss.

        With ``sample=K`` the output ``L`` is that sample's loss (not divided
        by ``m``); the batch gradient is the mean (or sum) of these per-sample
        gradients. The exact symbolic form of each scalar's gradient is
        ``backward().gradients["W1_0_1"].compact`` (or ``.expanded``).
        """
        if sample is not None:
            self.sample_index(sample)
        self.check_outputs(sample)
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
        self.check_exact_size(None)
        return self.reduce(self.gradient_arrays(self.backward(k)) for k in range(self.samples))

    def reduce(self, per_sample: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The batch's mean (or sum, by ``reduction``) of per-sample arrays shaped like the parameters."""
        total = {name: np.zeros(array.shape) for name, array in self.params.items()}
        for arrays in per_sample:
            for name, array in arrays.items():
                total[name] += array
        if self.mlp.reduction == "mean":
            total = {name: array / self.samples for name, array in total.items()}
        return total

    def __repr__(self) -> str:
        return f"Network(layers={self.mlp.layers}, activations={self.mlp.activations}, loss={self.mlp.loss!r}, m={self.samples})"


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
        """Each sample's own backward pass, in order (the batch gradient is their mean or sum).

        Raises:
            LimitError: all of them together would pass ``symprop.limits.MAX_EXACT_STEPS`` steps.
        """
        self.network.check_exact_size(None)
        return [self.pass_for(k) for k in range(self.network.samples)]

    def batch(self) -> "Batch | None":
        """The batch as the reduction of per-sample gradients (None for a single sample)."""
        network = self.network
        if network.samples < 2:
            return None
        return Batch(
            reduction=network.mlp.reduction,
            narrated=self.sample,
            passes=self.per_sample(),
            gradients=network.exact_gradients(),
        )


@dataclass(frozen=True)
class Batch:
    """A batch loss as the mean (or sum) of per-sample losses, with everything a renderer shows of it.

    Attributes:
        reduction: ``"mean"`` or ``"sum"``.
        narrated: the sample the walkthrough narrates, or None for the whole batch.
        passes: each sample's own exact backward pass, in order.
        gradients: the batch gradient, float64 arrays shaped like the parameters.
    """

    reduction: str
    narrated: int | None
    passes: list[BackwardPass]
    gradients: dict[str, np.ndarray]

    @property
    def samples(self) -> int:
        return len(self.passes)
