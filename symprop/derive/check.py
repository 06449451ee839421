"""Numbers for a derivation, and the check that every step is right, entry by entry.

At a point (the user's matrices, or a random one when none is given), every
intermediate, every step's share and every ``∂L/∂v`` is evaluated from the
derived matrix formulas. Then the same formula is written out entry by entry
as a graph of scalar nodes (``prod1_0_0 = W_0_0*x_0_0 + W_0_1*x_1_0``, ...) and
symprop's scalar backward pass (:func:`symprop.backprop.backward`) runs on it:
each matrix step must equal the sum of the scalar chain-rule steps between the
entries it joins, and each ``∂L/∂v`` the scalar adjoints of ``v``'s entries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Mapping

import sympy
from sympy import MatMul, MatrixExpr, MatrixSymbol, Trace

from ..backprop import backward, needed_symbols
from ..errors import EvaluationError, GraphError, LimitError, PointError
from ..expr import make_symbol
from ..graph import Graph
from .algebra import evaluate
from .formula import shape_text
from .steps import Derivation

__all__ = ["Point", "Values", "Check", "evaluate_at", "check_derivation", "random_point", "point_from",
           "check_cost", "TOLERANCE", "MAX_CHECK_TERMS"]

#: A derived value passes when it is within this much of the scalar pass's (relative, floor 1).
TOLERANCE = 1e-9
#: The check is refused past about this many scalar terms (products and sums of entries): beyond
#: it, evaluating and comparing entry by entry would take minutes (10,000 take about 15 s).
MAX_CHECK_TERMS = 20_000


@dataclass
class Point:
    """The given matrices' values; ``given`` is False for a random point drawn for the check."""

    values: dict[str, sympy.Matrix]
    given: bool = True
    seed: int | None = None


@dataclass
class Values:
    """A derivation evaluated at a point.

    Attributes:
        point: the point.
        nodes: each intermediate's value.
        steps: each step's share, in the order of ``derivation.steps`` (from its compact form).
        gradients: ``∂L/∂v`` for each symbol with an adjoint (the output's is 1).
        written: the same from the forms shown besides: each step's ``formula``,
            each gradient's ``formula``, and each ``wrt`` gradient in the given
            matrices (keyed ``(kind, index or name)``), so that they are checked too.
    """

    point: Point
    nodes: dict[MatrixSymbol, sympy.Matrix]
    steps: list[sympy.Matrix]
    gradients: dict[MatrixSymbol, sympy.Matrix]
    written: dict[tuple[str, object], sympy.Matrix] = field(default_factory=dict)

    @property
    def loss(self) -> sympy.Expr:
        return next(reversed(self.nodes.values()))[0, 0]


@dataclass
class Check:
    """The derivation against the scalar backward pass at a point.

    Attributes:
        values: the derived values.
        step_errors: per step, the largest difference from the scalar pass (relative, floor 1).
        gradient_errors: per symbol, the largest difference of ``∂L/∂v``.
        scalar_steps: how many scalar chain-rule steps the comparison used.
        entries: how many entries were compared (of steps, of gradients, in every form shown).
    """

    values: Values
    step_errors: list[float] = field(default_factory=list)
    gradient_errors: dict[str, float] = field(default_factory=dict)
    scalar_steps: int = 0
    entries: int = 0

    @property
    def max_error(self) -> float:
        return max([*self.step_errors, *self.gradient_errors.values(), 0.0])

    @property
    def passed(self) -> bool:
        return self.max_error <= TOLERANCE

    def compare(self, value: sympy.Matrix, expected) -> float:
        """Compare one derived value entry by entry; returns the largest difference and counts the entries."""
        worst, compared = _difference(value, expected)
        self.entries += compared
        return worst


# -- points --------------------------------------------------------------------


def point_from(values: Mapping[str, sympy.Matrix], leaves: Mapping[str, MatrixSymbol]) -> Point:
    """Check a user's point against the given matrices: every one, shaped right, nothing else.

    A flat list is a column or a row as the shape says.

    Raises:
        PointError: a missing or unknown name, or a wrong shape (naming both shapes).
    """
    checked: dict[str, sympy.Matrix] = {}
    for name, value in values.items():
        if name not in leaves:
            raise PointError(f"{name!r} is not in the formula")
        shape = tuple(leaves[name].shape)
        value = sympy.Matrix(value)
        if value.shape != shape and value.cols == 1 and value.rows == shape[0] * shape[1] and 1 in shape:
            value = value.reshape(*shape)
        if value.shape != shape:
            raise PointError(f"--at: {name} is {shape_text(shape)} but its value is {shape_text(value.shape)}")
        for entry in value:
            number = entry if entry.is_Number else entry.evalf()
            if not number.is_Number or not number.is_finite:
                raise PointError(f"--at: {name}: {sympy.sstr(entry)} is not a finite number")
        checked[name] = value
    missing = [n for n in leaves if n not in checked]
    if missing:
        raise PointError(f"no value for {', '.join(repr(m) for m in missing)} (give every matrix with --at)")
    return Point(checked)


def random_point(leaves: Mapping[str, MatrixSymbol], *, seed: int = 0, low: float = -1.0, high: float = 1.0) -> Point:
    """Every given matrix filled with numbers drawn uniformly from ``[low, high)`` (3 decimals)."""
    rng = random.Random(seed)
    values = {
        name: sympy.Matrix(*symbol.shape, lambda i, j: sympy.Float(round(rng.uniform(low, high), 3)))
        for name, symbol in leaves.items()
    }
    return Point(values, given=False, seed=seed)


# -- values --------------------------------------------------------------------


def evaluate_at(derivation: Derivation, point: Point, *, written: bool = True) -> Values:
    """Every intermediate, step and gradient of ``derivation`` at ``point``.

    With ``written``, also the forms shown besides (each step's and gradient's
    formula, each gradient in the given matrices), for the check.

    Raises:
        EvaluationError: an intermediate is undefined, not real or too large at the point.
    """
    env: dict[MatrixSymbol, sympy.Matrix] = {derivation.leaves[n]: v for n, v in point.values.items()}
    nodes: dict[MatrixSymbol, sympy.Matrix] = {}
    for node in derivation.nodes:
        value = _as_matrix(evaluate(node.formula, env))
        _check_entries(value, f"{derivation.label(node.symbol)} = {_describe(node)}")
        env[node.symbol] = nodes[node.symbol] = value
    out = derivation.output.symbol
    gradients: dict[MatrixSymbol, sympy.Matrix] = {out: sympy.Matrix([[1]])}
    partial: dict[MatrixSymbol, sympy.Matrix] = {}
    steps: list[sympy.Matrix] = []
    completed = {out}
    for step in derivation.steps:
        if step.node not in completed:  # all of the node's shares have arrived
            gradients[step.node] = partial.pop(step.node)
            completed.add(step.node)
        upstream = derivation.adjoints[step.node].gradient
        if upstream is not None:
            env[upstream] = gradients[step.node]
        value = _as_matrix(evaluate(step.compact, env))
        _check_entries(value, f"the share of {derivation.label(step.input)} from {derivation.label(step.node)}")
        steps.append(value)
        partial[step.input] = partial[step.input] + value if step.input in partial else value
    gradients.update(partial)
    for v in derivation.wrt:
        gradients.setdefault(v, sympy.zeros(*v.shape))
    values = Values(point, nodes, steps, gradients)
    if not written:
        return values
    for k, step in enumerate(derivation.steps):
        values.written[("step", k)] = _as_matrix(evaluate(step.formula, env))
    for symbol, adjoint in derivation.adjoints.items():
        if symbol != out:
            values.written[("gradient", symbol.name)] = _as_matrix(evaluate(adjoint.formula, env))
    for v in derivation.wrt:
        try:
            expanded = derivation.expand(derivation.adjoints[v].formula)
        except LimitError:
            continue
        values.written[("expanded", v.name)] = _as_matrix(evaluate(expanded, env))
    return values


def _describe(node) -> str:
    """An intermediate's formula in a message: ``log(x)``, ``softmax(sum1)``, ``W*x``."""
    args = ", ".join(s.name for s in node.inputs)
    if node.kind in ("elementwise", "softmax", "loss"):
        return f"{node.function_name or node.kind}({args})"
    return sympy.sstr(node.formula)


def _as_matrix(value: object) -> sympy.Matrix:
    return value if isinstance(value, sympy.MatrixBase) else sympy.Matrix([[value]])


def _check_entries(value: sympy.Matrix, what: str) -> None:
    for i in range(value.rows):
        for j in range(value.cols):
            entry = value[i, j]
            number = entry if entry.is_Number else entry.evalf()
            where = f" (entry [{i},{j}])" if value.shape != (1, 1) else ""
            if number.has(sympy.I) and not number.has(sympy.zoo, sympy.nan):
                raise EvaluationError(f"{what} is not real at the point{where}")
            if not number.is_Number or number in (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
                raise EvaluationError(f"{what} is undefined at the point{where}")
            if abs(float(number)) == float("inf"):
                raise EvaluationError(f"{what} is too large for floating point at the point{where}")


# -- the check -------------------------------------------------------------------


def _entry_name(name: str, i: int, j: int) -> str:
    return f"{name}_{i}_{j}"


def scalar_graph(derivation: Derivation) -> tuple[Graph, dict[sympy.Symbol, tuple[MatrixSymbol, int, int]]]:
    """The formula entry by entry: one scalar node per entry of each intermediate that the loss uses.

    Returns:
        The graph (its parameters: the entries of the ``wrt`` matrices that the
        loss uses) and, for each scalar symbol, its matrix and entry.

    """
    owner: dict[sympy.Symbol, tuple[MatrixSymbol, int, int]] = {}
    env: dict[MatrixSymbol, sympy.Matrix] = {}

    def entries(symbol: MatrixSymbol) -> sympy.Matrix:
        def make(i: int, j: int) -> sympy.Symbol:
            s = make_symbol(_entry_name(symbol.name, i, j))
            owner[s] = (symbol, i, j)
            return s

        return sympy.Matrix(*symbol.shape, make)

    for leaf in derivation.leaves.values():
        env[leaf] = entries(leaf)
    pairs: list[tuple[sympy.Symbol, sympy.Expr]] = []
    for node in derivation.nodes:
        value = _as_matrix(evaluate(node.formula, env))
        symbols = entries(node.symbol)
        for i in range(value.rows):
            for j in range(value.cols):
                pairs.append((symbols[i, j], value[i, j]))
        env[node.symbol] = symbols
    used = {pairs[-1][0]}  # keep the entries the loss uses (a trace uses only the diagonal)
    kept = []
    for symbol, formula in reversed(pairs):
        if symbol in used:
            kept.append((symbol, formula))
            used.update(formula.free_symbols)
    kept.reverse()
    params = [s for v in derivation.wrt for s in env[v] if s in used]
    return Graph.from_exprs(kept, params), owner


def _cost(expr: sympy.Basic) -> int:
    """About how many scalar operations evaluating ``expr`` entry by entry takes (a matrix product: r·k·c)."""
    inner = sum(_cost(a) for a in expr.args if isinstance(a, (MatrixExpr, Trace)))
    if isinstance(expr, MatMul):
        matrices = [a for a in expr.args if isinstance(a, MatrixExpr)]
        rows = matrices[0].shape[0]
        for left, right in zip(matrices, matrices[1:]):
            inner += int(rows * left.shape[1] * right.shape[1])
        return inner
    if isinstance(expr, MatrixExpr):
        return inner + int(expr.shape[0] * expr.shape[1]) * max(1, len(expr.args))
    return inner + 1


def check_cost(derivation: Derivation) -> int:
    """About how many scalar terms checking ``derivation`` entry by entry handles.

    Raises:
        LimitError: past :data:`MAX_CHECK_TERMS`, before any of that work is done.
    """
    cost = sum(_cost(n.formula) for n in derivation.nodes) + sum(_cost(s.compact) for s in derivation.steps)
    if cost > MAX_CHECK_TERMS:
        raise LimitError(
            f"checking entry by entry would take about {cost:,} scalar terms (limit {MAX_CHECK_TERMS:,}); "
            "use smaller shapes"
        )
    return cost


def check_derivation(derivation: Derivation, point: Point) -> Check:
    """Evaluate ``derivation`` at ``point`` and hold every step and gradient against the scalar backward pass.

    Raises:
        LimitError: the check would be too large (:func:`check_cost`).
    """
    check_cost(derivation)
    values = evaluate_at(derivation, point)
    graph, owner = scalar_graph(derivation)
    at = {}
    for symbol in graph.leaves:
        matrix, i, j = owner[symbol]
        at[symbol] = point.values[matrix.name][i, j]
    bp = backward(graph, at)
    shares: dict[tuple[MatrixSymbol, sympy.Symbol], sympy.Expr] = {}
    for step in bp.steps:
        key = (owner[step.node][0], step.input)
        shares[key] = shares.get(key, sympy.S.Zero) + step.product.value
    check = Check(values, scalar_steps=len(bp.steps))
    needed = needed_symbols(graph)

    def entry(symbol: MatrixSymbol, i: int, j: int) -> sympy.Symbol | None:
        """The scalar node of an entry; ``None`` for one the loss does not use (its gradient is 0)."""
        try:
            return graph.symbol(_entry_name(symbol.name, i, j))
        except GraphError:
            return None

    def comparable(scalar: sympy.Symbol | None) -> bool:
        # an entry that is a constant once written out (``V - V``) gets no gradient in the scalar
        # pass, which follows only what depends on a parameter: nothing to compare it with
        return scalar is None or scalar in needed

    for k, (step, value) in enumerate(zip(derivation.steps, values.steps)):
        def share(i: int, j: int, step=step) -> sympy.Expr | None:
            scalar = entry(step.input, i, j)
            return shares.get((step.node, scalar), sympy.S.Zero) if comparable(scalar) else None

        check.step_errors.append(max(check.compare(value, share), check.compare(values.written[("step", k)], share)))
    for symbol, value in values.gradients.items():
        if symbol == derivation.output.symbol:
            continue

        def adjoint(i: int, j: int, symbol: MatrixSymbol = symbol) -> sympy.Expr | None:
            scalar = entry(symbol, i, j)
            if not comparable(scalar):
                return None
            found = bp.adjoints.get(scalar)
            return found.value if found is not None else sympy.S.Zero

        forms = [value] + [values.written[key] for key in (("gradient", symbol.name), ("expanded", symbol.name))
                           if key in values.written]
        check.gradient_errors[symbol.name] = max(check.compare(form, adjoint) for form in forms)
    return check


def _difference(value: sympy.Matrix, expected) -> tuple[float, int]:
    """The largest relative difference (floor 1) of ``value`` from ``expected(i, j)``, and how many entries
    were compared (``expected`` gives ``None`` for an entry not compared)."""
    worst, compared = 0.0, 0
    for i in range(value.rows):
        for j in range(value.cols):
            want = expected(i, j)
            if want is None:
                continue
            difference = sympy.N(value[i, j] - want, 30)
            scale = max(1.0, abs(float(sympy.N(want, 30))))
            worst = max(worst, abs(float(difference)) / scale)
            compared += 1
    return worst, compared
