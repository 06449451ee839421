"""What every walkthrough says, once: the rows each format lays out its own way.

A :class:`Walkthrough` reads a recorded :class:`~symprop.backprop.BackwardPass`
(it derives nothing) and decides what is shown: the forward rows (each node's
formula as written), the backward events right to left (steps, each with the
rule of its local derivative, and fan-out sums), the rules used with their
general forms, the gradients (with the expanded form only where it is short,
unless asked for), and the update ``w <- w - eta * dL/dw`` when a learning
rate is given. Expressions stay SymPy objects written in display labels
(``W1[0,1]`` rather than the internal ``W1_0_1``), so text, Markdown, LaTeX
and rich each print them their way. Values follow one rule everywhere
(:mod:`symprop.render.numbers`): short exact forms as they are, the rest as
decimals, said once in :attr:`Walkthrough.note`.

>>> from symprop.graph import Graph
>>> from symprop.backprop import backward
>>> bp = backward(Graph.from_formulas(["c = w*x", "J = c**2"], params=["w"]), {"w": 3, "x": 2})
>>> walk = Walkthrough(bp, lr=sympy.Rational(1, 10))
>>> [(row.label, row.value) for row in walk.forward]
[('w', 3), ('x', 2), ('c', 6), ('J', 36)]
>>> walk.updates[0].new
3/5
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

import sympy
from sympy import Symbol

from ..backprop import Adjoint, BackwardPass, FanIn, Step
from ..errors import LimitError
from ..graph import to_number
from ..rules import Rule
from .numbers import DEFAULT_DIGITS, format_expr, format_value, is_long_exact

__all__ = ["Walkthrough", "ForwardRow", "StepRow", "SumRow", "GradientRow", "UpdateRow", "SHORT", "labelled",
           "used_nodes", "reading_order", "no_advice"]

#: Expressions whose one-line text is longer than this are abbreviated (an
#: upstream factor by its name ``dL/dn``) or left out (an expanded gradient).
SHORT = 40


@dataclass(frozen=True)
class ForwardRow:
    """A leaf (``formula`` is None) or a node, with its value."""

    label: str
    formula: sympy.Expr | None
    value: sympy.Expr
    kind: str  # "parameter", "input" or "node"
    written: bool = False  # the formula is as typed: print it in its own order


@dataclass(frozen=True)
class StepRow:
    """One chain-rule step ``dL/dinput = dL/dnode * dnode/dinput``.

    ``upstream`` is the upstream factor's expression, or None where it is long
    (or only a name): then it is shown by its name ``dL/dnode`` only.
    """

    step: Step
    node: str
    input: str
    via: bool
    upstream: sympy.Expr | None
    local: sympy.Expr
    rule: Rule | None = None
    operand: str | None = None  # "u"/"v": which operand of the node's operation

    @property
    def branch(self) -> str:
        """How the branch is named where an input feeds several: ``d``, or ``div1 as u``."""
        return f"{self.node} as {self.operand}" if self.operand else self.node


@dataclass(frozen=True)
class SumRow:
    """The sum of the branches into a fan-out input, right after its last branch."""

    adjoint: Adjoint
    input: str
    vias: tuple[str, ...]  # each branch: the node, and the operand where a node has two
    values: tuple[sympy.Expr, ...]


@dataclass(frozen=True)
class GradientRow:
    """A parameter's gradient: value, compact form, and the expanded form when shown."""

    label: str
    value: sympy.Expr
    compact: sympy.Expr
    expanded: sympy.Expr | None
    note: str | None  # why the expanded form is not shown


@dataclass(frozen=True)
class UpdateRow:
    """``new = old - lr * grad`` for one parameter."""

    label: str
    old: sympy.Expr
    grad: sympy.Expr
    new: sympy.Expr


Event = Union[StepRow, SumRow]


def labelled(bp: BackwardPass, expr: sympy.Expr, *, written: bool = False) -> sympy.Expr:
    """``expr`` with each symbol as its printed name (``W1_0_1`` as ``W1[0,1]``), for printing only.

    ``written`` keeps an unevaluated formula as it is (``e + c``, ``x/x``).
    """
    graph = bp.graph
    sub = {s: Symbol(graph.label(s)) for s in expr.free_symbols if graph.label(s) != s.name}
    for v, symbol in bp.adjoint_symbols.items():
        if symbol in expr.free_symbols:
            sub[symbol] = Symbol(f"d{graph.label(graph.output)}/d{graph.label(v)}")
    if not sub:
        return expr
    with sympy.evaluate(not written):
        return expr.xreplace(sub)


def used_nodes(bp: BackwardPass, exprs) -> list:
    """The nodes the expressions use, and the nodes those use, in forward order: what a reader
    needs to read a compact form written in node symbols."""
    graph = bp.graph
    todo = [s for e in exprs for s in e.free_symbols if graph.is_node(s)]
    seen: set[Symbol] = set()
    while todo:
        symbol = todo.pop()
        if symbol not in seen:
            seen.add(symbol)
            todo.extend(s for s in graph.node(symbol).inputs if graph.is_node(s))
    return [node for node in graph.nodes if node.symbol in seen]


_FAMILY = re.compile(r"^([A-Za-z_]+?)(\d*)(?:\[([\d,\s]+)\])?(?:\(s(\d+)\))?$")


def reading_order(rows: list[ForwardRow]) -> list[ForwardRow]:
    """The rows with a network's leaves in reading order: inputs ``x``, then the parameters and
    other leaves layer by layer (``W1``, ``b1``, ``W2``, ...), then the targets ``y``, each by index.

    A formula's leaves (no ``[i]`` in any label) keep the order they are written in, as do the nodes.
    """
    leaves = [r for r in rows if r.formula is None]
    if not any("[" in r.label for r in leaves):
        return list(rows)
    families: dict[str, int] = {}

    def key(row: ForwardRow) -> tuple:
        match = _FAMILY.match(row.label)
        if match is None:
            return (1, 0, families.setdefault(row.label, len(families)), (), 0)
        base, layer, index, sample = match.groups()
        group = 0 if base == "x" else 2 if base == "y" else 1
        family = families.setdefault(base + layer, len(families))
        numbers = tuple(int(i) for i in index.split(",")) if index else ()
        return (int(sample or 0), group, int(layer or 0), family, numbers)

    for row in leaves:  # families numbered in order of first appearance
        key(row)
    return sorted(leaves, key=key) + [r for r in rows if r.formula is not None]


def no_advice(sentence: str) -> str:
    """A note without its command-line advice (``; --expanded shows them``), for a page or a document."""
    return re.sub(r";\s*--[a-z-]+ shows (them|it)( all)?", "", sentence)


class Walkthrough:
    """The rows of a walkthrough, built from a recorded backward pass.

    Args:
        bp: the recorded pass.
        digits: significant digits of the decimals.
        expanded: True shows every expanded gradient and every upstream
            expression in full; None (default) shows them where they are
            short; False never shows expanded gradients.
        lr: a learning rate: adds the update of each parameter.
        exact_forms: print every exact value in its exact form (a closed form
            with its decimal value), not only the short ones.
    """

    def __init__(
        self,
        bp: BackwardPass,
        *,
        digits: int = DEFAULT_DIGITS,
        expanded: bool | None = None,
        lr: sympy.Expr | None = None,
        exact_forms: bool = False,
    ):
        self.bp = bp
        self.digits = digits
        self.full = expanded is True
        self.exact_forms = exact_forms
        graph = bp.graph
        self.out = graph.label(graph.output)
        params = set(graph.params)
        self.forward = [
            ForwardRow(graph.label(s), None, bp.values[s], "parameter" if s in params else "input")
            for s in graph.leaves
        ] + [
            ForwardRow(graph.label(n.symbol), self.show(n.formula, written=n.op is not None), bp.values[n.symbol],
                       "node", n.op is not None)
            for n in graph.nodes
        ]
        self.backward: list[Event] = [self._event(e) for e in bp.timeline()]
        #: The rules the steps use, each once, in the order first used.
        self.rules: list[Rule] = list(
            {single.name: single for row in self.backward if isinstance(row, StepRow) and row.rule
             for single in (row.rule.parts or (row.rule,))}.values()
        )
        self.gradients = [self._gradient(a, expanded) for a in bp.gradients.values()]
        notes = sorted({row.note for row in self.gradients if row.note})
        #: Why some expanded forms are left out (one sentence), or "".
        self.omitted = "; ".join(notes)
        self.lr = None if lr is None else to_number(lr, name="learning rate")
        lr = self.lr
        self.updates = (
            [UpdateRow(graph.label(a.symbol), bp.values[a.symbol], a.value, bp.values[a.symbol] - lr * a.value)
             for a in bp.gradients.values()]
            if lr is not None
            else []
        )
        #: One sentence for the header when some exact values are shown as decimals, or "".
        self.note = ""
        if not exact_forms and any(is_long_exact(v) for v in self._values()):
            self.note = f"long exact values are shown as {digits}-digit decimals; --exact-forms shows them"

    def _values(self):
        yield from (row.value for row in self.forward)
        for row in self.backward:
            if isinstance(row, StepRow):
                yield from (row.step.upstream.value, row.step.local.value, row.step.product.value)
            else:
                yield from (*row.values, row.adjoint.value)
        yield from (row.value for row in self.gradients)
        for row in self.updates:
            yield from (row.old, row.grad, row.new)
        if self.lr is not None:
            yield self.lr

    def loss_formula(self) -> sympy.Expr | None:
        """The loss in its leaves (printed names) where it is short enough for a title, else None:
        as typed where it was typed (unevaluated; :attr:`loss_written`), else as SymPy writes it."""
        graph = self.bp.graph
        if len(graph.nodes) > 12:
            return None
        if self.loss_written:
            text = graph.typed_text()
            return self.show(graph.typed_formula(), written=True) if len(text) <= 60 else None
        try:
            formula = self.show(graph.expanded(graph.output))
        except LimitError:
            return None
        return formula if len(format_expr(formula, self.digits)) <= 60 else None

    @property
    def loss_written(self) -> bool:
        """True where the loss was typed (:meth:`loss_formula` is then unevaluated, as typed)."""
        return self.bp.graph.typed_text() is not None

    def title(self) -> str:
        """One line naming the pass, for a page or a document."""
        formula = self.loss_formula()
        if formula is not None:
            text = self.bp.graph.typed_text() if self.loss_written else format_expr(formula, self.digits)
            return f"Backpropagation through {self.out} = {text}"
        graph = self.bp.graph
        return f"Backpropagation through {self.out}: {len(graph.nodes)} nodes, {len(graph.leaves)} leaves"

    def number(self, value: sympy.Expr) -> str:
        """A value as this walkthrough writes it (short exact forms exactly, else decimals)."""
        return format_value(value, self.digits, exact=self.exact_forms)

    # -- labels ---------------------------------------------------------

    @property
    def loss(self) -> sympy.Expr:
        return self.bp.loss

    def label(self, symbol: Symbol) -> str:
        return self.bp.graph.label(symbol)

    def d(self, label: str) -> str:
        """``dL/dlabel`` in the output's name."""
        return f"d{self.out}/d{label}"

    def show(self, expr: sympy.Expr, *, written: bool = False) -> sympy.Expr:
        """An expression written in display labels (for printing only); ``written`` keeps it unevaluated."""
        return labelled(self.bp, expr, written=written)

    def short(self, expr: sympy.Expr) -> bool:
        """True when the expression's one-line text fits :data:`SHORT` characters."""
        for count, _ in enumerate(sympy.preorder_traversal(expr)):
            if count > 2 * SHORT:  # cheap: every tree node prints as about one character or more
                return False
        return len(format_expr(expr, self.digits)) <= SHORT

    # -- rows -----------------------------------------------------------

    def _event(self, event: Step | FanIn) -> Event:
        label = self.label
        if isinstance(event, FanIn):
            adjoint = event.adjoint
            return SumRow(
                adjoint,
                label(adjoint.symbol),
                tuple(label(s.node) + (f" as {s.operand}" if s.operand else "") for s in adjoint.steps),
                tuple(s.product.value for s in adjoint.steps),
            )
        step = event
        upstream = self.show(step.upstream.expr)
        named = step.upstream.expr in self.bp.adjoint_symbols.values()
        if named or not (self.full or self.short(upstream)):
            upstream = None
        return StepRow(
            step,
            label(step.node),
            label(step.input),
            self.bp.adjoints[step.input].is_fan_in,
            upstream,
            self.show(step.local.expr),
            step.rule,
            step.operand,
        )

    def _gradient(self, adjoint: Adjoint, expanded: bool | None) -> GradientRow:
        row = dict(label=self.label(adjoint.symbol), value=adjoint.value, compact=self.show(adjoint.compact))
        if expanded is False:
            return GradientRow(**row, expanded=None, note=None)
        try:
            full = self.show(adjoint.expanded)
        except LimitError:
            return GradientRow(**row, expanded=None, note="expanded forms past the size bound are not shown; the compact forms are exact")
        if expanded or self.short(full):
            return GradientRow(**row, expanded=full, note=None)
        return GradientRow(**row, expanded=None, note=f"expanded forms longer than {SHORT} characters are left out; --expanded shows them")
