"""What is checked: a formula graph at a point, or a network with its data.

Both give the checker the same things (see :class:`Subject`): parameter values
as float64 arrays, the exact gradient in the same shapes, its scale (the size
of the terms it adds up), the loss at any parameters (for finite differences),
where the kinks are, what a user's gradient function is called with, and the
exact derivation of one entry.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy
from sympy import Symbol

from ..backprop import BackwardPass, FanIn, Step, backward
from ..errors import EvaluationError, GraphError
from ..functions import KINKED
from ..graph import Graph
from ..nn import MLP, Network, loss_numpy, scalar_label, scalar_name
from ..nn.layers import walk
from ..nn.reference import LossFrom, forward_values
from ..notation import plus
from .magnitudes import network_magnitudes
from .report import Derivation

__all__ = ["Subject", "GraphSubject", "NetworkSubject", "derivation_steps", "path_magnitudes"]

#: A derivation shows one sample's chain: the one contributing most among the first this many.
MAX_SAMPLES_SHOWN = 8


def _known(names: Sequence[str], params: Mapping[str, Any]) -> list[str]:
    """``--wrt`` for a network: parameter names (``W2``, ``b2``), each known; in the network's order."""
    unknown = [n for n in names if n not in params]
    if unknown:
        raise GraphError(
            f"--wrt: {unknown[0]!r} is not a parameter of this network; expected some of: {', '.join(params)}"
        )
    return [n for n in params if n in names]


class Subject:
    """What the checker needs of a formula graph or a network (see the two below).

    ``values``: parameter name -> float64 array (0-d for scalars) at the point;
    ``exact``: the same shapes, the exact gradient as floats; ``scale``: the
    gradient scale, the largest :func:`path_magnitudes` of a parameter (the
    size of the terms any float64 computation of a gradient adds up, so of its
    rounding noise); ``unchecked``: parameters that exist but are not checked
    (a user's dict may hold them).
    """

    values: dict[str, np.ndarray]
    exact: dict[str, np.ndarray]
    scale: float = 0.0
    unchecked: frozenset[str] = frozenset()
    output: str = "L"

    def label(self, name: str, index: tuple[int, ...]) -> str:
        raise NotImplementedError

    def symbolic(self, name: str, index: tuple[int, ...]) -> sympy.Expr | None:
        return None

    def loss(self, values: Mapping[str, np.ndarray]) -> float:
        raise NotImplementedError

    def loss_moving(self, name: str) -> Callable[[Mapping[str, np.ndarray]], float]:
        """:meth:`loss` for values where only parameter ``name`` moves (as finite differences move it)."""
        return self.loss

    def kink_values(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The arguments of every kink (relu, leaky_relu, abs) at the point."""
        raise NotImplementedError

    @property
    def has_kinks(self) -> bool:
        """False when no function with a kink is anywhere in the problem (nothing for :meth:`kink_values` to find)."""
        return True

    def user_arguments(self) -> tuple[Any, Any, Any]:
        raise NotImplementedError

    def derivation(self, name: str, index: tuple[int, ...]) -> Derivation:
        raise NotImplementedError

    def loss_value(self) -> float | None:
        return None

    def where_hint(self, name: str, right: set[str]) -> str | None:
        """Where the mistake must be, given which parameters are right (networks only)."""
        return None

    def intermediate_names(self) -> set[str]:
        """The named intermediates whose gradients a user may give (networks only)."""
        return set()

    def intermediates(self) -> dict[str, np.ndarray]:
        """``dL/dv`` of each named intermediate, in forward order."""
        return {}

    def intermediate_scales(self) -> dict[str, float]:
        """Each named intermediate's scale: its largest :func:`path_magnitudes` (the floor is relative to it)."""
        return {}

    def intermediate_label(self, name: str, index: tuple[int, ...]) -> str:
        return scalar_label(name, index)

    def intermediate_derivation(self, name: str, index: tuple[int, ...]) -> Derivation | None:
        return None


def _kink_arguments(graph: Graph) -> list[sympy.Expr]:
    """The argument of every kinked function application in the graph's node formulas."""
    found: dict[sympy.Expr, None] = {}
    for node in graph.nodes:
        for call in node.formula.atoms(*KINKED):
            found.setdefault(call.args[0])
        for call in node.formula.atoms(sympy.Max, sympy.Min):
            for first, second in zip(call.args, call.args[1:]):
                found.setdefault(first - second)
    return list(found)


class GraphSubject(Subject):
    """A formula graph at a point; every parameter is a scalar (a 0-d array)."""

    def __init__(self, graph: Graph, at: Mapping[str | Symbol, object], *, exact: bool = False):
        self.graph = graph
        self.bp = backward(graph, at, exact=exact)
        self.output = graph.output.name
        self.symbols = {p.name: p for p in graph.params}
        self.base = {s: float(self.bp.values[s]) for s in graph.leaves}
        self.values = {p.name: np.array(self.base[p]) for p in graph.params}
        self.exact = {a.symbol.name: np.array(float(a.value)) for a in self.bp.gradients.values()}
        magnitude = path_magnitudes(self.bp)
        self.scale = max((magnitude.get(self.symbols[name], 0.0) for name in self.exact), default=0.0)
        self.kinks = _kink_arguments(graph)

    def label(self, name, index):
        return self.graph.label(self.symbols[name])

    def symbolic(self, name, index):
        return self.bp.gradients[name].value

    def loss_value(self):
        return float(self.bp.loss)

    def _evaluate(self, values):
        point = dict(self.base)
        for name, array in values.items():
            point[self.symbols[name]] = float(array)
        return self.graph.evaluate(point)

    def loss(self, values):
        try:
            return float(self._evaluate(values)[self.graph.output])
        except (EvaluationError, TypeError, ValueError, OverflowError):
            return math.nan

    def kink_values(self, values):
        if not self.kinks:
            return np.zeros(0)
        try:
            evaluated = self._evaluate(values)
        except EvaluationError:
            return np.zeros(0)
        return np.array([float(k.xreplace(evaluated)) for k in self.kinks])

    def user_arguments(self):
        params = {name: float(v) for name, v in self.values.items()}
        others = {s.name: v for s, v in self.base.items() if s.name not in self.symbols}
        return params, (others or None), None

    def derivation(self, name, index):
        return Derivation(self.bp, derivation_steps(self.bp, self.symbols[name]), self.label(name, index))


class NetworkSubject(Subject):
    """A :class:`symprop.nn.Network`: its batch loss (or one sample's), parameters as arrays.

    Finite differences use the network's float64 numpy loss; the exact
    gradient comes from its exact backward pass, one sample at a time (the
    passes are kept for the derivations). ``wrt`` checks some parameters only.
    """

    def __init__(self, network: Network, *, sample: int | None = None, wrt: Sequence[str] | None = None):
        self.network = network
        self.mlp = network.mlp
        if sample is not None:
            network.sample_index(sample)  # raises a PointError naming the range
        self.sample = sample
        rows = slice(None) if sample is None else slice(sample, sample + 1)
        self.x, self.y = network.x[rows], network.y[rows]
        self.masks = {name: mask[rows] for name, mask in network.masks.items()}
        self.batch = int(self.x.shape[0])
        names = list(network.params) if wrt is None else _known(wrt, network.params)
        self.unchecked = frozenset(network.params) - set(names)
        self.all_values = {name: np.array(v, dtype=np.float64) for name, v in network.params.items()}
        self.values = {name: self.all_values[name] for name in names}
        self._passes: dict[int | None, BackwardPass] = {}
        exact = network.exact_gradients(sample, passes=self._sample_pass)
        self.exact = {name: exact[name] for name in names}
        self._scale: float | None = None

    @property
    def scale(self) -> float:
        """The gradient scale (see :class:`Subject`), found when first asked (finite differences do not
        need it): in matrix form where it applies (:mod:`symprop.check.magnitudes`), else from each
        sample's scalar backward pass."""
        if self._scale is None:
            magnitude = network_magnitudes(self.network, self.sample)
            if magnitude is None:
                magnitude = self.network.reduce_passes(self._magnitudes, self.sample, passes=self._sample_pass)
            self._scale = max((float(np.max(magnitude[name], initial=0.0)) for name in self.exact), default=0.0)
        return self._scale

    def _magnitudes(self, bp: BackwardPass) -> dict[str, np.ndarray]:
        """:func:`path_magnitudes` of one pass, as arrays shaped like the parameters."""
        found = {symbol.name: value for symbol, value in path_magnitudes(bp).items()}
        return {
            name: np.array([found.get(scalar_name(name, i), 0.0) for i in np.ndindex(*array.shape)]).reshape(array.shape)
            for name, array in self.network.params.items()
        }

    def label(self, name, index):
        return scalar_label(name, index)

    def loss_value(self):
        return self.loss(self.values)

    def loss(self, values):
        with np.errstate(all="ignore"):
            return float(loss_numpy(self.mlp, {**self.all_values, **values}, self.x, self.y, self.masks))

    def loss_moving(self, name):
        """The layers before the one that holds ``name`` run once; the loss is :meth:`loss`'s to the bit."""
        with np.errstate(all="ignore"):
            rest = LossFrom(self.mlp, self.all_values, self.x, self.y, self.masks, name)

        def loss(values):
            with np.errstate(all="ignore"):
                return float(rest({**self.all_values, **values}))

        return loss

    @property
    def has_kinks(self) -> bool:
        return any(layer.kind == "activation" and layer.kink for layer in walk(self.mlp.stack))

    def kink_values(self, values):
        """The pre-activations ``z`` of the layers whose activation has a kink, for every sample, flattened."""
        with np.errstate(all="ignore"):
            kinks = forward_values(self.mlp, {**self.all_values, **values}, self.x, self.masks).kinks
        return np.concatenate([z.ravel() for z in kinks]) if kinks else np.zeros(0)

    def user_arguments(self):
        return {n: v.copy() for n, v in self.all_values.items()}, self.x.copy(), self.y.copy()

    def where_hint(self, name, right):
        """Backprop works right to left: if every layer after this one is right, dL/dz there is right."""
        if not isinstance(self.mlp, MLP):
            return None
        layer, depth = int(name[1:]), self.mlp.depth
        after = [n for n in self.exact if int(n[1:]) > layer]
        if layer == depth:
            return (
                f"the output layer is wrong: check dL/da{depth} (the derivative of the loss "
                f"{self.mlp.loss!r}, reduction {self.mlp.reduction!r}) and ∂a{depth}/∂z{depth}"
            )
        if after and all(n in right for n in after):
            return (
                f"{', '.join(after)} agree, so dL/dz{layer + 1} is right: the mistake is in the steps after it, "
                f"dL/da{layer} = dL/dz{layer + 1} · ∂z{layer + 1}/∂a{layer}, dL/dz{layer} = dL/da{layer} · "
                f"∂a{layer}/∂z{layer} or d{self.output}/d{name} = dL/dz{layer} · ∂z{layer}/∂{name}"
            )
        return None

    def intermediate_names(self):
        return set(self.mlp.intermediates())

    def intermediates(self):
        if not hasattr(self, "_intermediates"):
            self._intermediates = self.network.exact_intermediates(self.sample, passes=self._sample_pass)
        return self._intermediates

    def intermediate_scales(self):
        if not hasattr(self, "_intermediate_scales"):
            magnitudes = self.network.exact_intermediates(self.sample, passes=self._sample_pass, values=path_magnitudes)
            self._intermediate_scales = {name: float(np.max(array, initial=0.0)) for name, array in magnitudes.items()}
        return self._intermediate_scales

    def intermediate_derivation(self, name, index):
        """The steps that make ``dL/dv`` for one entry: from the pass that holds it (a sample's own, or the batch's)."""
        axes, _ = self.mlp.intermediates()[name]
        k = index[0] if axes in ("mn", "m") else None
        unit = "" if axes == "m" else f"_{index[-1]}"
        label = self.intermediate_label(name, index)
        m = self.network.samples
        if self.sample is None and m > 1 and self.mlp.separable:
            bp = self._sample_pass(k)
            value = float(self.intermediates()[name][index])
            scale = f"1/{m} · " if self.mlp.reduction == "mean" else ""
            total = f"d{self.output}/d{label} = {scale}dL(s{k})/d{name}{unit and f'[{index[-1]}]'} = {value:.6g}"
            return Derivation(bp, derivation_steps(bp, bp.graph.symbol(f"{name}{unit}")), label,
                              f"sample {k} of {m}, its own loss", total)
        bp = self._sample_pass(self.sample)  # the batch's pass (its nodes prefixed s0_, ...), or one sample's
        prefix = f"s{k}_" if self.sample is None and m > 1 and k is not None else ""
        return Derivation(bp, derivation_steps(bp, bp.graph.symbol(f"{prefix}{name}{unit}")), label)

    def _sample_pass(self, k: int | None) -> BackwardPass:
        if k not in self._passes:
            self._passes[k] = self.network.backward(k)
        return self._passes[k]

    def derivation(self, name, index):
        """One sample's chain (the sample that contributes most, among the first few), and the batch sum."""
        scalar, label = scalar_name(name, index), self.label(name, index)
        m = self.network.samples
        if self.sample is not None or m == 1 or not self.mlp.separable:  # one pass has it all
            bp = self._sample_pass(self.sample)
            source = None if m == 1 or self.sample is None else f"sample {self.sample} of {m}"
            return Derivation(bp, derivation_steps(bp, bp.graph.symbol(scalar)), label, source)
        shown = range(min(m, MAX_SAMPLES_SHOWN))
        parts = [float(self._sample_pass(k).gradients[scalar].value) for k in shown]
        k = max(shown, key=lambda i: abs(parts[i]))
        bp = self._sample_pass(k)
        mean = self.mlp.reduction == "mean"
        terms = plus(f"{v:.6g}" for v in parts) + (" + ..." if m > len(parts) else "")
        total = (
            f"d{self.output}/d{label} = {'mean' if mean else 'sum'} over the {m} samples "
            f"= {'(' if mean else ''}{terms}{f')/{m}' if mean else ''} = {float(self.exact[name][index]):.6g}"
        )
        return Derivation(
            bp, derivation_steps(bp, bp.graph.symbol(scalar)), label, f"sample {k} of {m}, its own loss", total
        )


def path_magnitudes(bp: BackwardPass) -> dict[Symbol, float]:
    """For each leaf and node ``v``: the sum over every chain-rule path from the loss to ``v`` of
    ``|product of the local derivatives along it|``.

    ``dL/dv`` is the same sum without the absolute values, so this is at least
    ``|dL/dv|``, and larger by what cancels: a shared bias whose outputs' deltas
    add up to 0, a softmax output ``a - y`` of two terms near 1. Any float64
    computation of ``dL/dv`` adds up terms of this size, so its rounding noise
    is about ``eps_machine`` times it; the exact values, evaluated in float
    arithmetic from float inputs, too. (Steps are recorded right to left, so a
    node's magnitude is complete before the steps into its inputs are taken.)
    """
    magnitude: dict[Symbol, float] = {bp.graph.output: 1.0}
    for step in bp.steps:
        local = abs(float(step.local.value))
        magnitude[step.input] = magnitude.get(step.input, 0.0) + magnitude.get(step.node, 0.0) * local
    return magnitude


def derivation_steps(bp: BackwardPass, symbol: Symbol) -> list[Step | FanIn]:
    """The recorded steps that make ``dL/dsymbol``, right to left, with their fan-in sums.

    These are the steps into ``symbol`` and, recursively, the steps into every
    node they start from: the whole chain of local derivatives of that gradient.
    """
    involved: set[Symbol] = set()
    todo = [symbol]
    while todo:
        s = todo.pop()
        if s in involved or s not in bp.adjoints:
            continue
        involved.add(s)
        todo.extend(step.node for step in bp.adjoints[s].steps)
    return [
        event
        for event in bp.timeline()
        if (event.adjoint.symbol if isinstance(event, FanIn) else event.input) in involved
    ]
