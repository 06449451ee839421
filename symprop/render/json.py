"""The walkthrough and the gradients as JSON (the public contract; keys are only ever added).

Numbers are JSON numbers; expressions are SymPy strings written in printed
names (``a1[0]*x[0]``, as every other format writes them). Where a value is
exact but not a float (``9/2``, ``exp(-1)``), ``"exact"`` carries its text
too. Each backward step carries ``"rule"``: the name and general form of the
rule of differentiation that gives its local derivative.
"""

from __future__ import annotations

import json
import math
from typing import Any

import sympy

from ..backprop import BackwardPass, Step, Term
from ..errors import EvaluationError
from .numbers import expr_text, to_float
from .walkthrough import labelled, used_nodes

__all__ = ["explain_dict", "grad_dict", "node_dict", "rule_dict", "dumps"]


def _text(bp: BackwardPass, expr: sympy.Expr) -> str:
    return expr_text(labelled(bp, expr))


def _term(bp: BackwardPass, term: Term) -> dict[str, Any]:
    return {"expr": _text(bp, term.expr), "value": to_float(term.value)}


def _exact(values: dict[str, sympy.Expr]) -> dict[str, str]:
    return {k: sympy.sstr(v) for k, v in values.items() if not v.is_Float}


def rule_dict(step: Step) -> dict[str, Any] | None:
    """``{"name", "form", "latex"}`` of a step's rule (``parts`` too, for several rules in one node)."""
    rule = step.rule
    if rule is None:
        return None
    result: dict[str, Any] = {"name": rule.name, "form": rule.form, "latex": rule.latex}
    if rule.parts:
        result["parts"] = [{"name": r.name, "form": r.form, "latex": r.latex} for r in rule.parts]
    return result


def node_dict(bp: BackwardPass, node) -> dict[str, Any]:
    """One forward row: ``{"node", "expr", "value"}``, the formula as written."""
    graph = bp.graph
    if node.op is not None:
        expr = expr_text(labelled(bp, node.formula, written=True), written=True)
    else:
        expr = _text(bp, node.formula)
    return {"node": graph.label(node.symbol), "expr": expr, "value": to_float(bp.values[node.symbol])}


def explain_dict(bp: BackwardPass, *, lr: sympy.Expr | None = None) -> dict[str, Any]:
    """``{"loss", "forward", "backward", "gradients"}``; ``backward`` right to left.

    With a learning rate ``lr``, also ``"update": {"learning_rate", "params"}``:
    each parameter's value after one step ``w - lr * dL/dw``.
    """
    label = bp.graph.label
    result = {
        "loss": to_float(bp.loss),
        "forward": [node_dict(bp, n) for n in bp.graph.nodes],
        "backward": [
            {
                "node": label(s.node),
                "input": label(s.input),
                "local": _term(bp, s.local),
                "upstream": _term(bp, s.upstream),
                "product": _term(bp, s.product),
                "rule": rule_dict(s),
                "operand": s.operand,
            }
            for s in bp.steps
        ],
        "gradients": {name: to_float(a.value) for name, a in bp.gradients.items()},
    }
    if lr is not None:
        lr = sympy.sympify(lr)
        result["update"] = {
            "learning_rate": to_float(lr),
            "params": {name: to_float(bp.values[a.symbol] - lr * a.value) for name, a in bp.gradients.items()},
        }
    exact = _exact({name: a.value for name, a in bp.gradients.items()})
    if exact and not bp.loss.is_Float:
        result["exact"] = {"loss": sympy.sstr(bp.loss), "gradients": exact}
    return result


def grad_dict(bp: BackwardPass, *, expanded: bool = False) -> dict[str, Any]:
    """``{"loss", "gradients", "symbolic", "nodes"}`` and ``"expanded"`` when asked.

    ``nodes`` defines each node the symbolic (compact) forms use, as written.

    Raises:
        LimitError: an expanded form would pass the size bound.
    """
    grads = bp.gradients
    result: dict[str, Any] = {
        "loss": to_float(bp.loss),
        "gradients": {name: to_float(a.value) for name, a in grads.items()},
        "symbolic": {name: _text(bp, a.compact) for name, a in grads.items()},
    }
    if expanded:
        result["expanded"] = {name: _text(bp, a.expanded) for name, a in grads.items()}
    exact = _exact({name: a.value for name, a in grads.items()})
    if exact and not bp.loss.is_Float:
        result["exact"] = {"loss": sympy.sstr(bp.loss), "gradients": exact}
    result["nodes"] = {row["node"]: row["expr"] for row in
                       (node_dict(bp, n) for n in used_nodes(bp, [a.compact for a in grads.values()]))}
    return result


def dumps(data: dict[str, Any]) -> str:
    """JSON text, refusing NaN/infinity (they are not JSON numbers).

    Raises:
        EvaluationError: a number is NaN or past float64 (``w - lr*dL/dw`` at
            ``lr=1e300``); the message names its key, e.g. ``update.params.w``.
    """
    where = _non_finite(data)
    if where is not None:
        key, value = where
        raise EvaluationError(
            f"{key or 'the result'} is {value}, which JSON cannot hold (a number past float64's range, "
            "about 1.8e308, or not a number); the text format shows it (--format text), or use smaller numbers"
        )
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def _non_finite(data: Any, key: str = "") -> tuple[str, float] | None:
    """The first NaN or infinite float in ``data`` and where it is (``backward[3].product.value``)."""
    if isinstance(data, float):
        return None if math.isfinite(data) else (key, data)
    if isinstance(data, dict):
        items = ((f"{key}.{k}" if key else str(k), v) for k, v in data.items())
    elif isinstance(data, (list, tuple)):
        items = ((f"{key}[{i}]", v) for i, v in enumerate(data))
    else:
        return None
    for where, value in items:
        found = _non_finite(value, where)
        if found is not None:
            return found
    return None


