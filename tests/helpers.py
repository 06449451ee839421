"""Independent references the tests hold symprop against."""

from __future__ import annotations

import sympy

from symprop import Graph


def whole_loss_diff(graph: Graph, param: str) -> sympy.Expr:
    """``sympy.diff`` of the whole expanded loss: the reference the backward pass must equal."""
    return sympy.diff(graph.expanded(graph.output), graph.symbol(param))


def central_difference(graph: Graph, at: dict, param: str, h: float = 1e-6) -> float:
    """(L(p + h) - L(p - h)) / 2h in floating point, through the forward pass only."""
    def loss(shift: float) -> float:
        point = {k: float(v) for k, v in at.items()}
        point[param] += shift
        return float(graph.evaluate(point)[graph.output])

    return (loss(h) - loss(-h)) / (2 * h)


def is_zero(expression: sympy.Expr) -> bool:
    """True when SymPy simplifies ``expression`` to 0."""
    return expression == 0 or sympy.simplify(expression) == 0
