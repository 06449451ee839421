"""Matrix calculus, step by step: ``symprop derive``.

A formula over matrices and vectors with their shapes is parsed safely
(:mod:`.formula`), written as named intermediates, and differentiated right to
left with SymPy's matrix calculus and the elementwise and softmax rules
(:mod:`.steps`); every step names its identity (:mod:`.rules`) and the shape of
what it gives. Every derivation is checked (:mod:`.check`): at a point, each
step equals the scalar backward pass entry by entry.

>>> d = derive("(W*x + b - y).T*(W*x + b - y)/2", "W=3x2,x=2x1,b=3x1,y=3x1", wrt="W,b")
>>> d.gradients["W"].formula, d.gradients["b"].formula
(sum1*x.T, sum1)
>>> d.expand(d.gradients["W"].formula)
(W*x + b - y)*x.T
>>> d.check.passed
True

A network's layers (:mod:`.network`): :func:`derive_spec` derives ``delta``,
``dL/dW``, ``dL/db`` and ``dL/da_prev`` for its activations and loss, and checks
them against :meth:`symprop.nn.Network.exact_gradients`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import sympy

from .. import display
from ..errors import EvaluationError, GraphError, ShapeError
from .check import Check, Point, check_derivation, point_from, random_point
from .formula import parse_matrix_formula
from .values import parse_matrix_values, parse_shapes
from .steps import Derivation, trace_formula, derive_nodes

if TYPE_CHECKING:  # pragma: no cover
    from ..nn import Network
    from .network import NetworkDerivation

__all__ = ["derive", "derive_spec", "Derivation", "Check", "Point", "SpecDerivation"]

#: Random points tried, in turn, when no point is given: (seed, low, high).
_RANDOM_POINTS = ((0, -1.0, 1.0), (1, 0.1, 1.0), (2, 0.1, 0.5))


def derive(
    formula: str,
    shapes: str | Mapping[str, Any],
    *,
    wrt: str | list[str] | None = None,
    at: str | Mapping[str, Any] | None = None,
    exact: bool = False,
) -> Derivation:
    """Derive a 1x1 matrix formula's gradients step by step, and check them.

    Args:
        formula: e.g. ``"(W*x + b - y).T*(W*x + b - y)/2"`` or named nodes
            ``"z = W*x + b; L = sum(sigmoid(z))"`` (see :mod:`symprop.derive.formula`).
        shapes: ``"W=3x2,x=2x1"`` or ``{"W": (3, 2), ...}``; ``x=2`` is a column.
        wrt: the matrices to differentiate for (default: every one in the formula).
        at: a point, ``"W=[[1,2],[3,4],[5,6]],x=[1,2],..."`` or ``{name: matrix}``;
            without one, a random point is drawn for the check.
        exact: read decimals in ``at`` as exact fractions.

    Returns:
        The :class:`Derivation`, with ``.check`` (the values at the point and
        the comparison with the scalar backward pass).

    Raises:
        FormulaError, ShapeError: the formula or the shapes (one line, naming the operation and both shapes).
        GraphError: ``wrt`` names what is not in the formula.
        PointError, EvaluationError: a bad point, or one where the formula is undefined.
    """
    shapes = parse_shapes(shapes)
    parsed = parse_matrix_formula(formula, shapes)
    unused = [name for name in shapes if name not in parsed.leaves]
    if unused:
        raise ShapeError(f"--shapes: {unused[0]!r} is not in the formula")
    nodes, leaves = trace_formula(parsed)
    names = [w.strip() for w in wrt.split(",")] if isinstance(wrt, str) else list(wrt or leaves)
    for name in names:
        if name not in leaves:
            what = "an intermediate, not a given matrix" if any(n.name == name for n in nodes) else "not in the formula"
            raise GraphError(f"--wrt: {name!r} is {what}")
    if len(set(names)) != len(names):
        raise GraphError("--wrt: a name is given twice")
    derivation = derive_nodes(parsed.text, nodes, leaves, [leaves[n] for n in names])
    if at is not None:
        values = parse_matrix_values(at, exact=exact) if isinstance(at, str) else dict(at)
        derivation.check = check_derivation(derivation, point_from(values, leaves))
        return derivation
    failure = None
    for seed, low, high in _RANDOM_POINTS:
        try:
            derivation.check = check_derivation(derivation, random_point(leaves, seed=seed, low=low, high=high))
            return derivation
        except EvaluationError as error:
            failure = error
    raise EvaluationError(f"{failure}; no random point tried works, give one with --at")


@dataclass
class SpecDerivation:
    """A network spec's derivation, checked at the spec's values.

    Attributes:
        network: the network (parameters and data).
        formulas: the derived per-layer formulas.
        sample: the sample whose values are shown (and whose steps are checked entry by entry).
        check: the steps at that sample against the scalar backward pass of the formula.
        gradients: per sample, the derived gradients as float arrays.
        batch: the derived batch gradient (the mean or sum over the samples).
        errors: per parameter, the largest difference from ``Network.exact_gradients``
            (per sample and for the batch).
        checked_samples: the samples held against ``Network.exact_gradients``.
    """

    network: "Network"
    formulas: "NetworkDerivation"
    sample: int
    check: Check
    gradients: list[dict[str, Any]] = field(default_factory=list)
    batch: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    checked_samples: list[int] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"SpecDerivation({self.network!r}, sample {self.sample}, passed={self.passed})"

    def _repr_markdown_(self) -> str | None:
        """Jupyter: each layer's derived formulas at the sample, with the check."""
        return display.show(self, "markdown")

    @property
    def passed(self) -> bool:
        from .check import TOLERANCE

        return self.check.passed and max(self.errors.values(), default=0.0) <= TOLERANCE


def network_point(network: "Network", sample: int) -> Point:
    """One sample's values: the parameters, ``x`` and ``y`` as columns (a shared bias as 1x1)."""
    from .network import derive_network

    leaves = derive_network(network.mlp).derivation.leaves
    values: dict[str, sympy.Matrix] = {}
    for name, symbol in leaves.items():
        if name in ("x", "y"):
            row = (network.x if name == "x" else network.y)[sample]
            array = row.reshape(-1, 1)
        else:
            array = network.params[name].reshape(symbol.shape)
        values[name] = sympy.Matrix(
            *symbol.shape, lambda i, j: _number(array[i, j], network.exact)
        )
    return Point(values)


def _number(value: Any, exact: bool) -> sympy.Expr:
    from ..graph import to_number

    return to_number(float(value), exact=exact)


#: ``derive --spec`` holds at most this many samples against ``Network.exact_gradients`` (the shown one always).
MAX_CHECKED_SAMPLES = 16


def derive_spec(network: "Network", *, sample: int | None = None) -> SpecDerivation:
    """Derive a network's layer formulas and check them at its values.

    The steps are checked entry by entry at ``sample`` (default 0). Each
    sample's derived gradients (up to :data:`MAX_CHECKED_SAMPLES` of them,
    ``sample`` among them) are held against
    :meth:`symprop.nn.Network.exact_gradients` of that sample, and, when every
    sample is, their mean or sum against the batch's.
    """
    import numpy as np

    from .check import evaluate_at
    from .network import derive_network

    formulas = derive_network(network.mlp)
    derivation = formulas.derivation
    shown = _sample_index(network, sample)
    result = SpecDerivation(network, formulas, shown, check_derivation(derivation, network_point(network, shown)))
    checked = sorted({shown, *range(min(network.samples, MAX_CHECKED_SAMPLES))})
    result.checked_samples = checked
    total: dict[str, np.ndarray] = {}
    exact_total: dict[str, np.ndarray] = {}
    for k in range(network.samples):
        values = result.check.values if k == shown else evaluate_at(derivation, network_point(network, k), written=False)
        grads = {}
        for name, shape in network.mlp.param_shapes().items():
            matrix = values.gradients[derivation.leaves[name]]
            grads[name] = np.array(matrix.evalf().tolist(), dtype=np.float64).reshape(shape)
        result.gradients.append(grads)
        for name, grad in grads.items():
            total[name] = total.get(name, 0) + grad
        if k in checked:
            exact = network.exact_gradients(k)
            for name, grad in grads.items():
                result.errors[name] = max(result.errors.get(name, 0.0), _relative(grad, exact[name]))
                exact_total[name] = exact_total.get(name, 0) + exact[name]
    scale = 1 / network.samples if network.mlp.reduction == "mean" else 1
    result.batch = {name: grad * scale for name, grad in total.items()}
    if len(checked) == network.samples > 1:  # the batch gradient is the mean or sum of the per-sample ones
        for name, grad in result.batch.items():
            result.errors[name] = max(result.errors[name], _relative(grad, exact_total[name] * scale))
    return result


def _sample_index(network: "Network", sample: int | None) -> int:
    """``sample`` checked against the data (``None`` is 0), by the network's own method (either spelling)."""
    check = getattr(network, "sample_index", None) or getattr(network, "require_own_sample")
    return check(sample)


def _relative(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:  # pragma: no cover - a bug, shown as a failed check
        return float("inf")
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)), initial=0.0))
