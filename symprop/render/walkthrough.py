"""What every walkthrough says, once: the rows each format lays out its own way.

A :class:`Walkthrough` reads a recorded :class:`~symprop.backprop.BackwardPass`
(it derives nothing) and decides what is shown: the forward rows, the backward
events right to left (steps and fan-out sums), the gradients (with the
expanded form only where it is short, unless asked for), and the update
``w <- w - eta * dL/dw`` when a learning rate is given. Expressions stay SymPy
objects written in display labels (``W1[0,1]`` rather than the internal
``W1_0_1``), so text, Markdown, LaTeX and rich each print them their way.

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

from dataclasses import dataclass
from typing import Union

import sympy
from sympy import Symbol

from ..backprop import Adjoint, BackwardPass, FanIn, Step
from ..errors import LimitError
from ..graph import to_number
from .numbers import DEFAULT_DIGITS, format_expr

__all__ = ["Walkthrough", "ForwardRow", "StepRow", "SumRow", "GradientRow", "UpdateRow", "SHORT"]

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


@dataclass(frozen=True)
class SumRow:
    """The sum of the branches into a fan-out input, right after its last branch."""

    adjoint: Adjoint
    input: str
    vias: tuple[str, ...]
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


class Walkthrough:
    """The rows of a walkthrough, built from a recorded backward pass.

    Args:
        bp: the recorded pass.
        digits: significant digits (used to judge what is short).
        expanded: True shows every expanded gradient and every upstream
            expression in full; None (default) shows them where they are
            short; False never shows expanded gradients.
        lr: a learning rate: adds the update of each parameter.
    """

    def __init__(
        self,
        bp: BackwardPass,
        *,
        digits: int = DEFAULT_DIGITS,
        expanded: bool | None = None,
        lr: sympy.Expr | None = None,
    ):
        self.bp = bp
        self.digits = digits
        self.full = expanded is True
        graph = bp.graph
        self.out = graph.label(graph.output)
        self._display = self._display_map()
        params = set(graph.params)
        self.forward = [
            ForwardRow(graph.label(s), None, bp.values[s], "parameter" if s in params else "input")
            for s in graph.leaves
        ] + [
            ForwardRow(graph.label(n.symbol), self.show(n.formula), bp.values[n.symbol], "node")
            for n in graph.nodes
        ]
        self.backward: list[Event] = [self._event(e) for e in bp.timeline()]
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

    # -- labels ---------------------------------------------------------

    @property
    def loss(self) -> sympy.Expr:
        return self.bp.loss

    def label(self, symbol: Symbol) -> str:
        return self.bp.graph.label(symbol)

    def d(self, label: str) -> str:
        """``dL/dlabel`` in the output's name."""
        return f"d{self.out}/d{label}"

    def _display_map(self) -> dict[Symbol, Symbol]:
        graph = self.bp.graph
        mapping = {s: Symbol(label) for s, label in graph.labels.items() if label != s.name}
        for v, symbol in self.bp.adjoint_symbols.items():
            mapping[symbol] = Symbol(self.d(graph.label(v)))
        return mapping

    def show(self, expr: sympy.Expr) -> sympy.Expr:
        """An expression written in display labels (for printing only)."""
        if not self._display:
            return expr
        sub = {s: self._display[s] for s in expr.free_symbols if s in self._display}
        return expr.xreplace(sub) if sub else expr

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
                tuple(label(s.node) for s in adjoint.steps),
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
