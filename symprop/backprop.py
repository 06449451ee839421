"""The exact backward pass: reverse mode over the named nodes of a graph.

Working right to left, for each node ``n`` (its ``dL/dn`` already known):
calculate the local derivative ``dn/dv`` of each input ``v`` with
``sympy.diff`` of ``n``'s own formula, and combine it with ``dL/dn`` by the
chain rule. Each such product is a :class:`Step`. An input used by several
nodes (fan-out) gets one step from each, and its ``dL/dv`` is their sum.

Upstream values are reused, never re-derived, so the pass costs one ``diff``
per edge: linear in the size of the graph. The steps are recorded in the order
they are taken; renderers only read them (this module imports SymPy, nothing
of rich or numpy).

>>> from symprop.graph import Graph
>>> g = Graph.from_formulas(["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"], params=["w", "b"])
>>> bp = backward(g, {"w": -2, "x": 2, "b": 8, "y": 1})
>>> bp.loss, bp.gradients["w"].value, bp.gradients["w"].compact, bp.gradients["w"].expanded
(9/2, 6, d*x, x*(b + w*x - y))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, Mapping

import sympy
from sympy import Symbol

from . import display
from .errors import LimitError
from .graph import Graph, check_exact_value, check_size, check_value
from .limits import EXACT_TIME_BUDGET, MAX_EXACT_STEPS

__all__ = [
    "Term",
    "Step",
    "Adjoint",
    "FanIn",
    "BackwardPass",
    "backward",
    "backward_steps",
    "needed_symbols",
    "MAX_COMPACT_OPS",
]

#: A compact (node-symbol) form larger than this is shown through the
#: adjoint symbols ``dL/dn`` instead, so that the pass stays linear.
MAX_COMPACT_OPS = 60


@dataclass(frozen=True)
class Term:
    """An expression and its value at the point."""

    expr: sympy.Expr
    value: sympy.Expr


@dataclass(frozen=True)
class Step:
    """One chain-rule product: ``dL/dinput += dL/dnode * dnode/dinput``.

    Attributes:
        node: the node to the right, whose ``dL/dnode`` is known.
        input: one of its inputs, to the left.
        local: ``dnode/dinput``, from ``sympy.diff`` of the node's formula
            (written with the node's own symbol where that is shorter, so a
            sigmoid node ``a`` has local derivative ``a*(1 - a)``).
        upstream: ``dL/dnode``.
        product: ``upstream * local``.
    """

    node: Symbol
    input: Symbol
    local: Term
    upstream: Term
    product: Term


@dataclass
class Adjoint:
    """``dL/dv`` for one leaf or node: the sum of its steps.

    Attributes:
        symbol: ``v``.
        steps: one per node that uses ``v`` (more than one is fan-out).
        value: the exact (or float) value at the point.
        compact: the gradient in node symbols and leaves (``d*x``); where that
            would be long, in the adjoint symbols ``dL/dn`` of the nodes to
            the right instead.
    """

    symbol: Symbol
    steps: list[Step] = field(default_factory=list)
    value: sympy.Expr = sympy.S.Zero
    compact: sympy.Expr = sympy.S.Zero
    _pass: "BackwardPass | None" = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.symbol.name

    def _repr_latex_(self) -> str | None:
        """Jupyter: ``dL/dw = compact = value`` as math."""
        return display.show(self, "latex")

    @property
    def is_fan_in(self) -> bool:
        """True when several nodes use ``v``, so ``dL/dv`` is a sum of branches."""
        return len(self.steps) > 1

    @cached_property
    def expanded(self) -> sympy.Expr:
        """The gradient in leaves only; equals ``sympy.diff(loss, v)`` of the expanded loss.

        Built by the same chain rule as the pass (not by differentiating the
        whole loss), then bounded in size.

        Raises:
            LimitError: if it would pass :data:`symprop.graph.MAX_EXPANDED_OPS`.
        """
        assert self._pass is not None
        return self._pass._expanded_adjoint(self.symbol)


@dataclass(frozen=True)
class FanIn:
    """The moment the last branch into a fan-out input arrives: show the sum."""

    adjoint: Adjoint


class BackwardPass:
    """The recorded backward pass of a graph at a point.

    Attributes:
        graph: the graph.
        values: every leaf's and node's value (forward pass).
        steps: the chain-rule steps, in right-to-left order.
        adjoints: ``dL/dv`` for the output, every node on a path to a
            parameter, and every parameter.
        adjoint_symbols: ``v -> Symbol("dL/dv")``, used in long compact forms.
    """

    def __init__(self, graph: Graph, values: dict[Symbol, sympy.Expr]):
        self.graph = graph
        self.values = values
        self.steps: list[Step] = []
        self.adjoint_symbols: dict[Symbol, Symbol] = {}
        out = graph.output
        self.adjoints: dict[Symbol, Adjoint] = {
            out: Adjoint(out, value=sympy.S.One, compact=sympy.S.One, _pass=self)
        }
        self._locals: dict[tuple[Symbol, Symbol], sympy.Expr] = {}
        self._terms_by_symbol: dict[Symbol, dict[Symbol, list[sympy.Expr]]] = {}
        self._expanded: dict[Symbol, sympy.Expr] = {}
        self._run()

    # -- the pass -------------------------------------------------------

    def _run(self) -> None:
        graph = self.graph
        needed = needed_symbols(graph)
        for node in reversed(graph.nodes):
            adjoint = self.adjoints.get(node.symbol)
            if adjoint is None:  # no path from a parameter through this node
                continue
            self._complete(adjoint)
            adjoint.compact = self._shorten(adjoint)
            upstream = Term(adjoint.compact, adjoint.value)
            for v in node.inputs:
                if v not in needed:
                    continue
                local = self.local(node.symbol, v)
                local_value = check_value(
                    local.xreplace(self.values),
                    f"d{node.name}/d{v.name} = {sympy.sstr(local)}",
                    self.values,
                    graph,
                )
                product_value = upstream.value * local_value
                check_exact_value(product_value, f"d{graph.output.name}/d{node.name} * d{node.name}/d{v.name}")
                step = Step(
                    node=node.symbol,
                    input=v,
                    local=Term(local, local_value),
                    upstream=upstream,
                    product=Term(upstream.expr * local, product_value),
                )
                self.steps.append(step)
                self.adjoints.setdefault(v, Adjoint(v, _pass=self)).steps.append(step)
        for v in graph.params:
            self._complete(self.adjoints.setdefault(v, Adjoint(v, _pass=self)))

    @staticmethod
    def _complete(adjoint: Adjoint) -> None:
        """Sum the branches once all have arrived (one ``Add``, not a growing chain)."""
        if adjoint.steps:
            adjoint.value = sympy.Add(*(s.product.value for s in adjoint.steps))
            adjoint.compact = sympy.Add(*(s.product.expr for s in adjoint.steps))

    def local(self, node: Symbol, v: Symbol) -> sympy.Expr:
        """``dnode/dv`` from ``sympy.diff`` of the node's own formula."""
        key = (node, v)
        if key not in self._locals:
            formula = self.graph.node(node).formula
            if formula.is_Add:  # differentiate only the terms that hold v
                derivative = sympy.Add(*(_diff(term, v) for term in self._terms(node, formula).get(v, ())))
            else:
                derivative = _diff(formula, v)
            if not formula.is_Atom:
                derivative = derivative.xreplace({formula: node})
            self._locals[key] = derivative
        return self._locals[key]

    def _terms(self, node: Symbol, formula: sympy.Expr) -> dict[Symbol, list[sympy.Expr]]:
        """A sum's terms by the symbols they hold, found once per node."""
        if node not in self._terms_by_symbol:
            index: dict[Symbol, list[sympy.Expr]] = {}
            for term in formula.args:
                for symbol in term.free_symbols:
                    index.setdefault(symbol, []).append(term)
            self._terms_by_symbol[node] = index
        return self._terms_by_symbol[node]

    def _shorten(self, adjoint: Adjoint) -> sympy.Expr:
        """Keep the compact form if small, else name it by its adjoint symbol."""
        try:
            check_size(adjoint.compact, "", MAX_COMPACT_OPS)
        except LimitError:
            symbol = sympy.Symbol(f"d{self.graph.output.name}/d{adjoint.symbol.name}")
            self.adjoint_symbols[adjoint.symbol] = symbol
            return symbol
        return adjoint.compact

    def _expanded_adjoint(self, v: Symbol) -> sympy.Expr:
        if v == self.graph.output:
            return sympy.S.One
        if v not in self._expanded:
            total = sympy.S.Zero
            for step in self.adjoints[v].steps:
                total += self._expanded_adjoint(step.node) * self.graph.expand(step.local.expr)
            check_size(total, f"the expanded gradient of {v.name!r}")
            self._expanded[v] = total
        return self._expanded[v]

    # -- reading --------------------------------------------------------

    @property
    def loss(self) -> sympy.Expr:
        """The output's value at the point."""
        return self.values[self.graph.output]

    @property
    def gradients(self) -> dict[str, Adjoint]:
        """``dL/dp`` for each parameter, by name, in parameter order."""
        return {p.name: self.adjoints[p] for p in self.graph.params}

    def timeline(self) -> Iterator[Step | FanIn]:
        """The steps in order, each fan-in sum right after its last branch."""
        remaining = {s: len(a.steps) for s, a in self.adjoints.items()}
        for step in self.steps:
            yield step
            remaining[step.input] -= 1
            adjoint = self.adjoints[step.input]
            if remaining[step.input] == 0 and adjoint.is_fan_in:
                yield FanIn(adjoint)

    def __repr__(self) -> str:
        grads = ", ".join(f"{n}={sympy.sstr(a.value)}" for n, a in self.gradients.items())
        return f"BackwardPass(loss={sympy.sstr(self.loss)}, {grads})"

    # -- notebooks (no _repr_html_: Jupyter prefers HTML to Markdown and LaTeX,
    # and would show a monospace table instead of the math)

    def _repr_markdown_(self) -> str | None:
        """Jupyter: the walkthrough as Markdown tables with LaTeX math."""
        return display.show(self, "markdown")

    def _repr_latex_(self) -> str | None:
        """Jupyter and nbconvert: the backward steps and gradients as one aligned display."""
        return display.show(self, "latex")


def _diff(formula: sympy.Expr, v: Symbol) -> sympy.Expr:
    """``sympy.diff(formula, v)``, with a plain factor of a product taken directly.

    (A sum is split into its terms by :meth:`BackwardPass.local`, so that a
    neuron's ``z = W_0*a_0 + ... + W_n*a_n + b`` is not differentiated whole for
    each of its n+1 inputs.)
    """
    if formula.is_Mul:
        others = [a for a in formula.args if a != v]
        if len(others) == len(formula.args) - 1 and not any(a.has(v) for a in others):
            return sympy.Mul(*others)
    return sympy.diff(formula, v)


def needed_symbols(graph: Graph) -> set[Symbol]:
    """The parameters and every node that depends on one: only these get steps."""
    needed = set(graph.params)
    for node in graph.nodes:
        if any(s in needed for s in node.inputs):
            needed.add(node.symbol)
    return needed


def backward_steps(graph: Graph) -> int:
    """How many chain-rule steps the backward pass of ``graph`` takes: one per (node, input) pair it walks."""
    needed = needed_symbols(graph)
    return sum(sum(s in needed for s in node.inputs) for node in graph.nodes if node.symbol in needed)


def backward(graph: Graph, at: Mapping[str | Symbol, object], *, exact: bool = False) -> BackwardPass:
    """Evaluate ``graph`` at ``at`` and run its exact backward pass.

    Args:
        graph: the computation graph.
        at: a value for every leaf (numbers, or text such as ``"1/2"``).
        exact: read decimal inputs as exact rationals.

    Raises:
        PointError: the point is missing a leaf, names something else, or is not numeric.
        EvaluationError: a node or local derivative is undefined at the point.
        LimitError: the pass would take more than ``symprop.limits.MAX_EXACT_STEPS`` steps.
    """
    steps = backward_steps(graph)
    if steps > MAX_EXACT_STEPS:
        raise LimitError(
            f"the exact backward pass would take {steps:,} chain-rule steps (limit {MAX_EXACT_STEPS:,}, "
            f"about {EXACT_TIME_BUDGET:g} s); differentiate for fewer parameters (--wrt) or use fewer nodes"
        )
    return BackwardPass(graph, graph.evaluate(at, exact=exact))
