"""The exact backward pass: reverse mode over the named nodes of a graph.

Working right to left, for each node ``n`` (its ``dL/dn`` already known):
calculate the local derivative ``dn/dv`` of each input ``v`` with
``sympy.diff`` of ``n``'s own formula, and combine it with ``dL/dn`` by the
chain rule. Each such product is a :class:`Step`. An input used by several
nodes (fan-out) gets one step from each, and its ``dL/dv`` is their sum.

The nodes are taken right to left by level (the longest path from the
leaves), and within a level in forward order: for a network, layer by layer
from the output, each layer in index order. A node of one operation (a gate
such as ``w0*x0`` or ``x/x``) gets one step per operand, so an input used
twice by one gate (``x/x``) gets two branches; each step names the rule of
differentiation that gives its local derivative (:mod:`symprop.rules`).

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
from .bounds import limit_backward_size, substitute
from .errors import LimitError, SympropError
from .expr import Op
from .graph import Graph, Node, limit_exact_value, limit_size, finite_value
from .rules import Rule, node_rules, operand_rule
from .trace import op_of, written
from .limits import EXACT_TIME_BUDGET, MAX_EXACT_STEPS

__all__ = [
    "Term",
    "Step",
    "Adjoint",
    "FanIn",
    "BackwardPass",
    "Gradients",
    "backward",
    "backward_order",
    "needed_symbols",
    "count_steps",
    "CompactForms",
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
        rule: the rule of differentiation that gives ``local`` (for a node
            of several operations, the rules in the order applied).
        operand: ``"u"`` or ``"v"`` when ``input`` fills more than one operand
            of one operation (``x/x``): which one this step is; else None.
    """

    node: Symbol
    input: Symbol
    local: Term
    upstream: Term
    product: Term
    rule: Rule | None = None
    operand: str | None = None

    def __repr__(self) -> str:
        rule = f", {self.rule.name}" if self.rule is not None else ""
        return (f"Step(dL/d{self.input} += dL/d{self.node} * d{self.node}/d{self.input} = "
                f"{sympy.sstr(self.upstream.value)} * {sympy.sstr(self.local.value)}{rule})")


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

    def __repr__(self) -> str:
        out = self._pass.graph.output.name if self._pass is not None else "L"
        return (f"Adjoint(d{out}/d{self.symbol} = {sympy.sstr(self.value)}, compact {sympy.sstr(self.compact)}, "
                f"{len(self.steps)} step{'s' if len(self.steps) != 1 else ''})")

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


class Gradients(dict):
    """Gradients by printed name (``"W1[0,1]"``); the SymPy name (``"W1_0_1"``) finds the same one."""

    def __init__(self, items: dict[str, "Adjoint"], aliases: dict[str, str]):
        super().__init__(items)
        self._aliases = {name: label for name, label in aliases.items() if name != label}

    def __missing__(self, key: str) -> "Adjoint":
        if key in self._aliases:
            return self[self._aliases[key]]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or key in self._aliases

    def get(self, key, default=None):
        return self[key] if key in self else default


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
        self._local = _Locals(graph)
        self._node_rules: dict[Symbol, dict[str, Rule]] = {}
        self._expanded: dict[Symbol, sympy.Expr] = {}
        self._run()

    # -- the pass -------------------------------------------------------

    def _run(self) -> None:
        graph = self.graph
        needed = needed_symbols(graph)
        for node in backward_order(graph):
            adjoint = self.adjoints.get(node.symbol)
            if adjoint is None:  # no path from a parameter through this node
                continue
            self._complete(adjoint)
            adjoint.compact = self._shorten(adjoint)
            upstream = Term(adjoint.compact, adjoint.value)
            for v, local, rule, operand in self._operands(node, needed):
                what = f"d{node.name}/d{v.name} = {sympy.sstr(local)}"
                local_value = finite_value(substitute(local, self.values, f"d{node.name}/d{v.name}"), what, self.values, graph)
                product_value = upstream.value * local_value
                limit_exact_value(product_value, f"d{graph.output.name}/d{node.name} * d{node.name}/d{v.name}")
                step = Step(
                    node=node.symbol,
                    input=v,
                    local=Term(local, local_value),
                    upstream=upstream,
                    product=Term(upstream.expr * local, product_value),
                    rule=rule,
                    operand=operand,
                )
                self.steps.append(step)
                self.adjoints.setdefault(v, Adjoint(v, _pass=self)).steps.append(step)
        for v in graph.params:
            self._complete(self.adjoints.setdefault(v, Adjoint(v, _pass=self)))

    def _operands(self, node: Node, needed: set[Symbol]) -> Iterator[tuple[Symbol, sympy.Expr, Rule, str | None]]:
        """``(input, local derivative, rule, operand)`` for each step out of ``node``.

        A gate (one operation) has a step per operand that holds a needed
        name: its partial derivative, from ``sympy.diff`` of the operation
        with a separate symbol per operand. A node of several operations has
        a step per needed input: ``sympy.diff`` of its formula.
        """
        if node.gate:
            op = node.op
            held = [(i, a.value) for i, a in enumerate(op.args) if a.kind == "name" and a.value in needed]
            repeated = {v for _, v in held if sum(1 for _, w in held if w == v) > 1}
            for i, v in held:
                role = "uv"[i] if v in repeated else None
                yield v, self._operand_local(node, i), operand_rule(op, i), role
            return
        rules = self._rules(node)
        for v in node.inputs:
            if v in needed:
                yield v, self.local(node.symbol, v), rules.get(v.name), None

    def _rules(self, node: Node) -> dict[str, Rule]:
        if node.symbol not in self._node_rules:
            try:
                op = node.op if node.op is not None else op_of(node.formula)
            except SympropError:  # a SymPy function the tracer does not read
                op = None
            self._node_rules[node.symbol] = node_rules(op) if op is not None else {}
        return self._node_rules[node.symbol]

    def _operand_local(self, node: Node, operand: int) -> sympy.Expr:
        """``∂node/∂(operand i)``: ``sympy.diff`` of the gate with a fresh symbol in each named operand.

        Summed over the operands that hold the same name ``v``, these are
        ``sympy.diff(node.formula, v)`` (the chain rule); each alone is the
        gradient on one wire of the gate.
        """
        op = node.op
        slots = [sympy.Dummy(f"u{i}", real=True) if a.kind == "name" else None for i, a in enumerate(op.args)]
        gate = Op(op.kind, tuple(Op.leaf(d if d is not None else a.value) for d, a in zip(slots, op.args)),
                  op.value, op.signs)
        back = {d: a.value for d, a in zip(slots, op.args) if d is not None}
        derivative = sympy.diff(written(gate), slots[operand]).xreplace(back)
        if not node.evaluated.is_Atom:
            derivative = derivative.xreplace({node.evaluated: node.symbol})
        return derivative

    @staticmethod
    def _complete(adjoint: Adjoint) -> None:
        """Sum the branches once all have arrived (one ``Add``, not a growing chain)."""
        if adjoint.steps:
            adjoint.value = sympy.Add(*(s.product.value for s in adjoint.steps))
            limit_exact_value(adjoint.value, f"the gradient of {adjoint.symbol.name!r}")
            adjoint.compact = sympy.Add(*(s.product.expr for s in adjoint.steps))

    def local(self, node: Symbol, v: Symbol) -> sympy.Expr:
        """``dnode/dv`` from ``sympy.diff`` of the node's own formula (summed over a gate's operands)."""
        return self._local(node, v)

    def _shorten(self, adjoint: Adjoint) -> sympy.Expr:
        """Keep the compact form if small, else name it by its adjoint symbol."""
        if _is_long(adjoint.compact):
            self.adjoint_symbols[adjoint.symbol] = _adjoint_symbol(self.graph, adjoint.symbol)
            return self.adjoint_symbols[adjoint.symbol]
        return adjoint.compact

    def _expanded_adjoint(self, v: Symbol) -> sympy.Expr:
        if v == self.graph.output:
            return sympy.S.One
        if v not in self._expanded:
            total = sympy.S.Zero
            for step in self.adjoints[v].steps:
                total += self._expanded_adjoint(step.node) * self.graph.expand(step.local.expr)
            limit_size(total, f"the expanded gradient of {v.name!r}")
            self._expanded[v] = total
        return self._expanded[v]

    # -- reading --------------------------------------------------------

    @property
    def loss(self) -> sympy.Expr:
        """The output's value at the point."""
        return self.values[self.graph.output]

    @property
    def gradients(self) -> "Gradients":
        """``dL/dp`` for each parameter, by its printed name (``"W1[0,1]"``), in parameter order.

        The SymPy name (``"W1_0_1"``) works as a key too.
        """
        graph = self.graph
        return Gradients({graph.label(p): self.adjoints[p] for p in graph.params},
                         {p.name: graph.label(p) for p in graph.params})

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
        items = list(self.gradients.items())
        grads = ", ".join(f"{n}={sympy.sstr(a.value)}" for n, a in items[:8])
        more = f", ... {len(items) - 8} more" if len(items) > 8 else ""  # a network's are thousands of numbers
        return f"BackwardPass(loss={sympy.sstr(self.loss)}, {grads}{more})"

    # -- notebooks (no _repr_html_: Jupyter prefers HTML to Markdown and LaTeX,
    # and would show a monospace table instead of the math)

    def _repr_markdown_(self) -> str | None:
        """Jupyter: the walkthrough as Markdown tables with LaTeX math."""
        return display.show(self, "markdown")

    def _repr_latex_(self) -> str | None:
        """Jupyter and nbconvert: the backward steps and gradients as one aligned display."""
        return display.show(self, "latex")


class _Locals:
    """Each node's local derivatives, from ``sympy.diff`` of its own formula, each found once."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self._locals: dict[tuple[Symbol, Symbol], sympy.Expr] = {}
        self._terms_by_symbol: dict[Symbol, dict[Symbol, list[sympy.Expr]]] = {}

    def __call__(self, node: Symbol, v: Symbol) -> sympy.Expr:
        key = (node, v)
        if key not in self._locals:
            formula = self.graph.node(node).evaluated
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


class CompactForms:
    """The backward pass's compact forms alone: no values, no rules, no recorded steps.

    Each node's ``dL/dn`` is built as :class:`BackwardPass` builds it (the sum
    of upstream times local over the nodes that use it, named ``dL/dn`` when
    long), and each parameter's gradient is the same sum, so the forms are the
    recorded pass's forms. ``seed`` is the output's own form (``dL/dL``): ``1/m``
    makes one sample's graph stand for each sample of a batch whose loss is the
    mean. What ``grad`` prints of a network in float mode, whose values come
    from evaluating the derived formulas vectorized. For graphs of nodes not
    traced as written (a network's): a gate's operands are not split here.

    Attributes:
        compacts: each node's compact form (shortened).
        factors: each parameter's ``(upstream, local)`` pairs, one per node that uses it.
        adjoint_symbols: ``v -> dL/dv`` for the nodes written by name, in the order named.
        levels: each node's level (the longest path from the leaves), as the pass orders them.
    """

    def __init__(self, graph: Graph, seed: sympy.Expr = sympy.S.One):
        self.graph = graph
        self.adjoint_symbols: dict[Symbol, Symbol] = {}
        self.compacts: dict[Symbol, sympy.Expr] = {}
        self.factors: dict[Symbol, list[tuple[sympy.Expr, sympy.Expr]]] = {p: [] for p in graph.params}
        self.levels = node_levels(graph)
        products: dict[Symbol, list[sympy.Expr]] = {}
        local = _Locals(graph)
        needed = needed_symbols(graph)
        for node in backward_order(graph):
            if node.symbol == graph.output:
                compact = seed
            elif node.symbol in products:
                compact = self._shorten(node.symbol, sympy.Add(*products[node.symbol]))
            else:  # no path from a parameter through this node
                continue
            self.compacts[node.symbol] = compact
            for v in node.inputs:
                if v in self.factors:
                    self.factors[v].append((compact, local(node.symbol, v)))
                elif v in needed:
                    products.setdefault(v, []).append(compact * local(node.symbol, v))

    def compact(self, p: Symbol) -> sympy.Expr:
        """A parameter's compact form: over the nodes that use it, upstream times local, summed.

        (Kept as its factors, :attr:`factors`, until asked: a network's weights are most of its scalars.)
        """
        return sympy.Add(*(upstream * local for upstream, local in self.factors[p]))

    def _shorten(self, v: Symbol, compact: sympy.Expr) -> sympy.Expr:
        if _is_long(compact):
            self.adjoint_symbols[v] = _adjoint_symbol(self.graph, v)
            return self.adjoint_symbols[v]
        return compact


def _is_long(compact: sympy.Expr) -> bool:
    """A compact form past :data:`MAX_COMPACT_OPS` operations is written by name."""
    try:
        limit_size(compact, "", MAX_COMPACT_OPS)
    except LimitError:
        return True
    return False


def _adjoint_symbol(graph: Graph, v: Symbol) -> Symbol:
    return sympy.Symbol(f"d{graph.output.name}/d{v.name}")


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
    return _pattern_diff(formula, v)


#: Derivatives of formula patterns (each symbol a slot): every neuron's ``tanh(z1_j)``
#: is the same formula up to the names, so ``sympy.diff`` runs once for all of them.
_PATTERNS: dict[tuple[sympy.Expr, sympy.Dummy], sympy.Expr] = {}
_SLOTS: dict[tuple[int, tuple], sympy.Dummy] = {}
#: Formulas with more symbols than this are differentiated as they are (a slot per symbol gains nothing).
_PATTERN_SYMBOLS = 8


def _pattern_diff(formula: sympy.Expr, v: Symbol) -> sympy.Expr:
    """``sympy.diff(formula, v)``, found once per pattern: the formula with its symbols in slots (by name)."""
    if v not in formula.free_symbols:  # cancelled as SymPy evaluates it (``c*x/x`` is ``c``)
        return sympy.S.Zero
    symbols = sorted(formula.free_symbols, key=lambda s: s.name)
    if len(symbols) > _PATTERN_SYMBOLS:
        return sympy.diff(formula, v)
    slots = {}
    for i, symbol in enumerate(symbols):
        key = (i, tuple(sorted(symbol.assumptions0.items())))
        if key not in _SLOTS:
            _SLOTS[key] = sympy.Dummy(f"slot{i}", **symbol.assumptions0)
        slots[symbol] = _SLOTS[key]
    pattern = (formula.xreplace(slots), slots[v])
    if pattern not in _PATTERNS:
        if len(_PATTERNS) > 10_000:
            _PATTERNS.clear()
        _PATTERNS[pattern] = sympy.diff(*pattern)
    return _PATTERNS[pattern].xreplace({slot: symbol for symbol, slot in slots.items()})


def node_levels(graph: Graph) -> dict[Symbol, int]:
    """Each node's level: 1 + the highest level among its inputs (leaves are 0)."""
    level: dict[Symbol, int] = {}
    for node in graph.nodes:
        level[node.symbol] = 1 + max((level.get(s, 0) for s in node.inputs), default=0)
    return level


def backward_order(graph: Graph) -> list[Node]:
    """The nodes right to left: by level (the longest path from the leaves), highest first, and
    within a level in forward order. Every node comes after all the nodes that use it."""
    level = node_levels(graph)
    index = {node.symbol: i for i, node in enumerate(graph.nodes)}
    return sorted(graph.nodes, key=lambda n: (-level[n.symbol], index[n.symbol]))


def count_steps(graph: Graph) -> int:
    """How many chain-rule steps the backward pass of ``graph`` records."""
    needed = needed_symbols(graph)
    total = 0
    for node in graph.nodes:
        if node.symbol not in needed:
            continue
        if node.gate:
            total += sum(1 for a in node.op.args if a.kind == "name" and a.value in needed)
        else:
            total += sum(1 for s in node.inputs if s in needed)
    return total


def needed_symbols(graph: Graph) -> set[Symbol]:
    """The parameters and every node that depends on one: only these get steps."""
    needed = set(graph.params)
    for node in graph.nodes:
        if any(s in needed for s in node.inputs):
            needed.add(node.symbol)
    return needed


def backward(graph: Graph, at: Mapping[str | Symbol, object], *, exact: bool = False) -> BackwardPass:
    """Evaluate ``graph`` at ``at`` and run its exact backward pass.

    Args:
        graph: the computation graph.
        at: a value for every leaf (numbers, or text such as ``"1/2"``).
        exact: read decimal inputs as exact rationals.

    Raises:
        PointError: the point is missing a leaf, names something else, or is not numeric.
        EvaluationError: a node or local derivative is undefined at the point.
        LimitError: the local derivatives would be too large (:data:`~symprop.bounds.MAX_BACKWARD_OPS`),
            an exact value too long (give the point in decimals), or the pass would take more
            than ``symprop.limits.MAX_EXACT_STEPS`` chain-rule steps.
    """
    limit_backward_size(graph)
    steps = count_steps(graph)
    if steps > MAX_EXACT_STEPS:
        raise LimitError(
            f"the exact backward pass would take {steps:,} chain-rule steps (limit {MAX_EXACT_STEPS:,}, "
            f"about {EXACT_TIME_BUDGET:g} s); differentiate for fewer parameters (--wrt) or use fewer nodes"
        )
    return BackwardPass(graph, graph.evaluate(at, exact=exact))
