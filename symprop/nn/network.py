"""A network as a graph of scalar nodes, and :class:`Network`: an architecture with its parameters and data.

The scalar graph has one node per value a layer makes: pre-activation
``z{l}_{j}``, activation ``a{l}_{j}`` (and any whole-layer quantity an
activation shares, such as softmax's sum of exponentials), batchnorm's
``mu``, ``var``, ``xhat``, ``bn``, ..., then the loss: every formula comes
from the layer, activation and loss tables, so the exact backward pass
differentiates exactly what the numpy reference computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np
import sympy

from .. import display
from ..backprop import BackwardPass, backward, count_steps
from ..errors import PointError, SpecError
from ..expr import make_symbol
from ..graph import Graph
from ..limits import MAX_EXACT_STEPS
from .activations import exact_slope
from .layer_kinds import run_stack
from .layers import Architecture, Builder, scalar_label, scalar_name, walk
from .mlp import MLP
from .losses import get_loss
from .reference import forward_numpy, forward_values, loss_numpy, validate_outputs, validate_targets
from .size import exact_steps, limit_exact_work, parameter_count
from .vectorized import Evaluation, evaluate

__all__ = ["network_graph", "Network", "NetworkProblem", "Batch"]


def network_graph(mlp: Architecture, samples: int | None = None, *, ordered: bool = True) -> Graph:
    """The network as a graph of named scalar nodes, one per value each layer makes.

    With ``samples=None`` the graph of one sample: leaves ``x_i`` (labelled
    ``x[i]``), ``y_k`` and the parameters ``W1_0_1`` (labelled ``W1[0,1]``),
    nodes ``z1_0 = W1_0_0*x_0 + W1_0_1*x_1 + b1_0``, ``a1_0 = sigmoid(z1_0)``,
    ..., and the per-sample loss ``L``. With ``samples=m`` one copy per sample
    (names prefixed ``s0_``, labels suffixed ``(s0)``) and the batch loss
    ``L``, the mean or sum of the per-sample losses ``s0_L ...``; a layer that
    couples samples (batchnorm) adds nodes shared by the batch (``mu1_0``).
    Weight decay adds a node ``decay = λ/2 · Σ W²`` to ``L``.

    The graph grows linearly with the network; nothing is expanded.
    ``ordered=False`` takes each node's inputs in name order (a graph that is
    derived but never narrated: see :meth:`Graph.from_exprs`).
    """
    symbols = mlp.param_symbols()
    labels: dict[sympy.Symbol, str] = {}
    params = []
    for name, array in symbols.items():
        for index in np.ndindex(*array.shape):
            labels[array[index]] = scalar_label(name, index)
            params.append(array[index])
    batch = samples is not None
    b = Builder(symbols, labels, slope=mlp.exact_slope(), batch=batch)
    m = samples if batch else 1
    xs = [[b.leaf(f"x_{i}", f"x[{i}]", k) for i in range(mlp.n_inputs)] for k in range(m)]
    ys = [[b.leaf(f"y_{i}", f"y[{i}]", k) for i in range(mlp.n_outputs)] for k in range(m)]
    loss = get_loss(mlp.loss)
    losses: list[sympy.Expr] = []

    def tail(k: int, h: list[sympy.Expr]) -> list[sympy.Expr]:
        formula = loss.formula(h, ys[k])
        losses.append(b.node("L", "L", formula, k) if batch else formula)
        return h

    run_stack(b, mlp.stack, xs, tail)
    total = sympy.Add(*losses)
    if batch and mlp.reduction == "mean":
        total = total / samples
    if mlp.weight_decay:
        rate = exact_slope(mlp.weight_decay)
        squares = sympy.Add(*(w**2 for name in mlp.weights() for w in symbols[name].flat))
        total = total + b.node("decay", "decay", rate / 2 * squares, None)
    output = make_symbol("L")
    labels[output] = "L"
    b.pairs.append((output, total))
    return Graph.from_exprs(b.pairs, params, labels=labels, ordered=ordered)


def _validate_data(mlp: Architecture, x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as ``(m, n0)`` and ``y`` as ``(m, nL)`` float64 arrays, finite; errors name ``data.x``/``data.y``."""
    checked = []
    for key, value, width in (("x", x, mlp.n_inputs), ("y", y, mlp.n_outputs)):
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
    validate_targets(mlp, checked[1])
    return checked[0], checked[1]


class Network:
    """An architecture with its parameters and data: the exact backward pass, and gradients as arrays.

    Args:
        mlp: the architecture, an :class:`~symprop.nn.MLP` or a :class:`~symprop.nn.Sequential`.
        params: some or all of ``{"W1": ..., "b1": ..., ...}`` (nested lists or
            arrays shaped as :meth:`MLP.param_shapes` says); missing ones are drawn
            by :meth:`MLP.init_params` with ``seed`` and ``init``.
        x: inputs, ``(m, n0)``, one row per sample (``(n0,)`` for one sample).
        y: targets, ``(m, nL)``.
        seed, init: for the missing parameters.
        exact: read the numbers as exact decimals (``0.15 -> 3/20``), so the
            backward pass gives exact values (slow for deep nets).
        masks: dropout masks by name (``{"mask1": (m, n) array of 0 and 1}``);
            missing ones come from the layer list, else are drawn from ``seed``.

    Raises:
        SpecError: a parameter, data array or mask of the wrong shape, NaN, a target
            outside the loss's domain, and so on, naming it (``params.W2: ...``,
            ``data.y: ...``); batchnorm on a batch of one.

    >>> net = Network(MLP([2, 2, 2], bias="layer"), {"W1": [[0.15, 0.2], [0.25, 0.3]], "b1": 0.35,
    ...               "W2": [[0.4, 0.45], [0.5, 0.55]], "b2": 0.6}, [[0.05, 0.1]], [[0.01, 0.99]])
    >>> round(net.loss(), 9), round(float(net.exact_gradients()["W2"][0, 0]), 9)
    (0.298371109, 0.082167041)
    """

    def __init__(
        self,
        mlp: Architecture,
        params: dict[str, object] | None,
        x: object,
        y: object,
        *,
        seed: int | None = 0,
        init: str = "uniform",
        exact: bool = False,
        masks: dict[str, object] | None = None,
    ):
        self.mlp = mlp
        given = mlp.validate_params(dict(params or {}))
        shapes = mlp.param_shapes()
        fresh = mlp.init_params(seed, init) if set(shapes) - set(given) else {}
        self.params: dict[str, np.ndarray] = {name: given.get(name, fresh.get(name)) for name in shapes}
        self.x, self.y = _validate_data(mlp, x, y)
        for layer in walk(mlp.stack):
            if layer.couples and self.samples < 2:
                raise layer.error(
                    "needs a batch of at least 2 samples: over one sample every unit's variance is 0, "
                    "so xhat = 0/sqrt(eps) and the layer's output is beta whatever its input"
                )
        unknown = sorted(set(masks or {}) - {layer.mask_name for layer in mlp.dropouts()})
        if unknown:
            raise SpecError(f"masks: {unknown[0]!r} is not a dropout mask of this network")
        self.masks: dict[str, np.ndarray] = mlp.draw_masks(self.samples, seed, masks)
        self.exact = exact
        self._graphs: dict[bool, Graph] = {}
        #: what is made once per network: its compiled code (see :mod:`symprop.nn.vectorized`)
        self.cache: dict[str, object] = {}
        self._one_sample_steps: int | None = None

    @property
    def samples(self) -> int:
        """The number of samples ``m``."""
        return int(self.x.shape[0])

    # -- numpy ----------------------------------------------------------------

    def forward(self) -> np.ndarray:
        """The outputs ``yhat`` for every sample, ``(m, nL)``, in float64."""
        return forward_numpy(self.mlp, self.params, self.x, self.masks)

    def loss(self) -> float:
        """The batch loss in float64 (see :func:`loss_numpy`)."""
        return loss_numpy(self.mlp, self.params, self.x, self.y, self.masks)

    def values(self) -> dict[str, np.ndarray]:
        """Every named intermediate's value in float64 (``{"z1": (m, n1) array, "mu1": (n1,), ...}``)."""
        return forward_values(self.mlp, self.params, self.x, self.masks).values

    def require_own_sample(self, sample: int | None) -> None:
        """Refuse a sample's own pass where the batch loss is not a sum of per-sample losses.

        Raises:
            PointError: batchnorm couples the samples, or weight decay is a term of the batch loss.
        """
        if sample is None or self.samples == 1 or self.mlp.separable:
            return
        coupling = next((layer for layer in walk(self.mlp.stack) if layer.couples), None)
        why = (
            f"{coupling.where()} couples the samples (each one's output uses the batch mean and variance)"
            if coupling is not None
            else "weight decay is a term of the batch loss, not of one sample's"
        )
        raise PointError(f"--sample: {why}, so a sample has no loss of its own; narrate the whole batch (no --sample)")

    # -- the exact backward pass ---------------------------------------------

    def exact_steps(self, sample: int | None = None) -> int:
        """About how many chain-rule steps the exact backward pass for ``sample`` takes (``None``: the batch's).

        An MLP's are counted from its widths; a layer list's from its one-sample
        graph (built only when its parameters, each at least one step, are
        within the bound), times the samples for the batch.
        """
        batch = (sample is None or not self.mlp.separable) and self.samples > 1
        return exact_steps(self.mlp, self.samples, batch=batch, per_sample=self._sample_steps()[0])

    def _sample_steps(self) -> tuple[int | None, bool]:
        """One sample's steps (None for an MLP: counted from its widths) and whether that is a lower bound."""
        if isinstance(self.mlp, MLP):
            return None, False
        count = parameter_count(self.mlp)
        if count > MAX_EXACT_STEPS:  # each parameter is at least one step: refused without building the graph
            return count, True
        if self._one_sample_steps is None:
            if False not in self._graphs:  # one sample's graph: :meth:`graph` uses it too
                self._graphs[False] = network_graph(self.mlp, None)
            self._one_sample_steps = count_steps(self._graphs[False])
        return self._one_sample_steps, False

    def limit_exact_size(self, sample: int | None = None) -> None:
        """Refuse, before it starts, an exact backward pass past ``symprop.limits.MAX_EXACT_STEPS`` steps.

        ``sample=None`` is the whole batch: every sample's pass, or the batch graph.

        Raises:
            LimitError: saying what to do instead.
        """
        per_sample, least = self._sample_steps()
        batch = sample is None or not self.mlp.separable
        limit_exact_work(self.mlp, self.samples, batch=batch, per_sample=per_sample, least=least)

    def validate_outputs(self, sample: int | None = None) -> None:
        """Refuse outputs outside the loss's domain (binary cross-entropy: [0, 1]), for one sample or all.

        Raises:
            EvaluationError: naming the sample and the output.
        """
        rows = list(range(self.samples)) if sample is None or not self.mlp.separable else [self.sample_index(sample)]
        masks = {name: mask[rows] for name, mask in self.masks.items()}
        validate_outputs(self.mlp, self.params, self.x[rows], masks=masks, rows=rows)

    def graph(self, sample: int | None = None) -> Graph:
        """The scalar graph: one sample's (when ``sample`` is given or ``m == 1``), else the whole batch's."""
        batch = (sample is None or not self.mlp.separable) and self.samples > 1
        if batch not in self._graphs:
            self.limit_exact_size(None if batch else 0)  # a layer list's estimate builds one sample's graph
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
        rows = [(self.sample_index(sample), "")] if graph is self._graphs.get(False) else [
            (k, f"s{k}_") for k in range(self.samples)
        ]
        for k, prefix in rows:
            for i, v in enumerate(self.x[k]):
                values[graph.symbol(f"{prefix}x_{i}")] = v
            for i, v in enumerate(self.y[k]):
                values[graph.symbol(f"{prefix}y_{i}")] = v
            for name, mask in self.masks.items():
                for j, v in enumerate(mask[k]):
                    values[graph.symbol(f"{prefix}{name}_{j}")] = v
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
            self.require_own_sample(sample)
        self.validate_outputs(sample)
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

    def exact_gradients(self, sample: int | None = None, *, passes: Callable[[int | None], BackwardPass] | None = None,
                        scalar: bool = False) -> dict[str, np.ndarray]:
        """``dL/dparam`` from the derived formulas, as float64 arrays shaped like the parameters.

        With ``sample=None`` the gradient of the batch loss, else of sample
        ``sample``'s own loss. In float mode the derived formulas are evaluated
        vectorized over samples and neurons (:mod:`symprop.nn.vectorized`); with
        ``exact=True`` inputs, or ``scalar=True``, they come from the exact scalar
        backward pass, node by node: the batch gradient as the mean (or sum) of
        each sample's pass (so the cost grows linearly with ``m``). The two agree
        to rounding (see :mod:`symprop.nn.vectorized`). ``passes``, if
        given, supplies the scalar backward passes (a cache of :meth:`backward`).

        Raises:
            PointError: ``sample`` out of range, or a sample of a network whose samples are coupled.
        """
        if not (scalar or self.exact):
            fast = self.evaluation(sample)
            if fast is not None:
                return {name: grad.copy() for name, grad in fast.gradients.items()}
        return self.reduce_passes(self.gradient_arrays, sample, passes=passes)

    def reduce_passes(self, arrays: Callable[[BackwardPass], dict[str, np.ndarray]], sample: int | None = None, *,
                      passes: Callable[[int | None], BackwardPass] | None = None) -> dict[str, np.ndarray]:
        """``arrays(pass)`` for the loss of ``sample`` (``None``: the batch's), shaped like the parameters.

        For the batch of a separable network: the mean (or sum) of each
        sample's own pass's arrays; otherwise the arrays of the one pass that has it all.

        Raises:
            LimitError: the passes would pass ``symprop.limits.MAX_EXACT_STEPS`` steps (before they start).
        """
        run = passes or self.backward
        if sample is not None or self.samples == 1 or not self.mlp.separable:
            return arrays(run(sample))
        self.limit_exact_size(None)
        return self.reduce(arrays(run(k)) for k in range(self.samples))

    def reduce(self, per_sample: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The batch's mean (or sum, by ``reduction``) of per-sample arrays shaped like the parameters."""
        total = {name: np.zeros(array.shape) for name, array in self.params.items()}
        for arrays in per_sample:
            for name, array in arrays.items():
                total[name] += array
        if self.mlp.reduction == "mean":
            total = {name: array / self.samples for name, array in total.items()}
        return total

    def evaluation(self, sample: int | None = None) -> Evaluation | None:
        """The loss, gradients and intermediates' gradients evaluated vectorized (float mode), or None.

        None for exact inputs, and where the compiled code does not compute the
        exact formula (see :func:`symprop.nn.vectorized.evaluate`).

        Raises:
            PointError: ``sample`` out of range, or a sample of a network whose samples are coupled.
        """
        if sample is not None:
            self.require_own_sample(self.sample_index(sample))
        if self.exact:
            return None
        return evaluate(self, sample)

    def exact_intermediates(self, sample: int | None = None, *,
                            passes: Callable[[int | None], BackwardPass] | None = None,
                            values: Callable[[BackwardPass], Mapping[sympy.Symbol, object]] | None = None,
                            scalar: bool = False) -> dict[str, np.ndarray]:
        """``dL/dv`` for every named intermediate ``v`` a parameter's gradient passes through, in float64.

        Shaped ``(m, n)`` for one value per sample and unit (``z1``, ``a1``,
        ``bn1``), ``(n,)`` for a batch statistic (``mu1``, ``var1``), ``(m,)`` for
        one per sample (``lnmu1``, ``sumexp2``), as ``L`` (the batch loss, its
        ``1/m`` included) depends on them. Intermediates that no parameter's
        gradient goes through (a layernorm of the input) are left out. With
        ``sample=K``, of sample K's own loss (shaped for one sample). As for
        :meth:`exact_gradients`, float mode evaluates the derived formulas
        vectorized unless ``scalar`` (or ``values``); ``passes``, if given, supplies
        the scalar backward passes (a cache of :meth:`backward`); ``values``, if
        given, what to read of each pass instead of ``dL/dv`` (a mapping from each
        node's symbol, as the checker's path magnitudes).
        """
        if values is None and not (scalar or self.exact):
            fast = self.evaluation(sample)
            if fast is not None:
                return {name: value.copy() for name, value in fast.adjoints.items()}
        m, run = self.samples, passes or self.backward
        if sample is not None and m > 1:
            self.require_own_sample(self.sample_index(sample))
            passes, m = [(run(sample), 0, "", 1.0)], 1
        elif m > 1 and self.mlp.separable:  # each sample's own pass; L scales each sample's loss
            scale = 1.0 / m if self.mlp.reduction == "mean" else 1.0
            self.limit_exact_size(None)
            passes = [(run(k), k, "", scale) for k in range(m)]
        else:
            whole = run(None)
            passes = [(whole, k, f"s{k}_" if m > 1 else "", 1.0) for k in range(m)]
        read = values or (lambda bp: {symbol: adjoint.value for symbol, adjoint in bp.adjoints.items()})
        passes = [(read(bp), bp.graph, k, prefix, scale) for bp, k, prefix, scale in passes]
        result: dict[str, np.ndarray] = {}
        for name, (axes, width) in self.mlp.intermediates().items():
            array = np.zeros((width,) if axes == "n" else (m,) if axes == "m" else (m, width))
            try:
                for found, graph, k, prefix, scale in passes:
                    if axes == "n":
                        for j in range(width):
                            array[j] = float(found[graph.symbol(f"{name}_{j}")])
                    elif axes == "m":
                        array[k] = scale * float(found[graph.symbol(f"{prefix}{name}")])
                    else:
                        for j in range(width):
                            array[k, j] = scale * float(found[graph.symbol(f"{prefix}{name}_{j}")])
            except KeyError:  # not on a path to a parameter
                continue
            result[name] = array
        return result

    def _repr_markdown_(self) -> str | None:
        """Jupyter: the layers and their shapes, the parameter count, the data, the loss."""
        return display.show(self, "markdown")

    def __repr__(self) -> str:
        if isinstance(self.mlp, MLP):
            return f"Network(layers={self.mlp.layers}, activations={self.mlp.activations}, loss={self.mlp.loss!r}, m={self.samples})"
        return f"Network({self.mlp.summary}, m={self.samples})"


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
        self.network.limit_exact_size(None)
        return [self.pass_for(k) for k in range(self.network.samples)]

    def batch(self) -> "Batch | None":
        """The batch as the reduction of per-sample gradients (None for a single sample)."""
        network = self.network
        if network.samples < 2 or not network.mlp.separable:  # the batch graph narrates it all
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
