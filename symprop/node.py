"""A node of a computation graph: ``symbol = formula``, with the formula as the user typed it.

Its own module, below both the tracer (which makes nodes from formulas) and
the graph (which orders and evaluates them), so neither needs the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Symbol

from .expr import Op

__all__ = ["Node", "formula_text"]


@dataclass(frozen=True)
class Node:
    """One named step of the computation: ``symbol = formula``.

    Attributes:
        symbol: the node's own symbol, used by later nodes.
        formula: a SymPy expression of leaves and earlier nodes; for a node
            written in a formula, unevaluated, as typed (``e + c``, ``x/x``).
        inputs: the symbols the formula uses, in the order they were written.
        op: the formula as typed (:class:`~symprop.expr.Op`): one operation
            (a gate such as ``w0*x0``) or the several the user wrote in one
            node; None for a node built from a SymPy expression.
    """

    symbol: Symbol
    formula: sympy.Expr
    inputs: tuple[Symbol, ...]
    op: Op | None = None

    @property
    def name(self) -> str:
        return self.symbol.name

    @property
    def gate(self) -> bool:
        """True for one operation on names and numbers (``w0*x0``, ``exp(u)``): one step per operand."""
        return self.op is not None and self.op.single

    @property
    def evaluated(self) -> sympy.Expr:
        """The formula as SymPy evaluates it (``x/x*w`` is ``w``): what ``sympy.diff`` takes."""
        return self.op.value if self.op is not None else self.formula

    def __str__(self) -> str:
        return f"{self.name} = {formula_text(self)}"

    def __repr__(self) -> str:
        return f"Node({str(self)!r})"


def formula_text(node: Node) -> str:
    """A node's formula as one line: as typed for a written node, else as SymPy prints it."""
    if node.op is not None:
        return sympy.sstr(node.formula, order="none")
    return sympy.sstr(node.formula)
