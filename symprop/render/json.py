"""The walkthrough and the gradients as JSON (DESIGN.md's contract).

Numbers are JSON numbers; expressions are SymPy strings. Where a value is
exact but not a float (``9/2``, ``exp(-1)``), ``"exact"`` carries its text too.
"""

from __future__ import annotations

import json
import math
from typing import Any

import sympy

from ..backprop import BackwardPass, Term
from ..errors import EvaluationError
from .numbers import to_float

__all__ = ["explain_dict", "grad_dict", "dumps"]


def _term(term: Term) -> dict[str, Any]:
    return {"expr": sympy.sstr(term.expr), "value": to_float(term.value)}


def _exact(values: dict[str, sympy.Expr]) -> dict[str, str]:
    return {k: sympy.sstr(v) for k, v in values.items() if not v.is_Float}


def explain_dict(bp: BackwardPass, *, lr: sympy.Expr | None = None) -> dict[str, Any]:
    """``{"loss", "forward", "backward", "gradients"}``; ``backward`` right to left.

    With a learning rate ``lr``, also ``"update": {"learning_rate", "params"}``:
    each parameter's value after one step ``w - lr * dL/dw``.
    """
    graph = bp.graph
    result = {
        "loss": to_float(bp.loss),
        "forward": [
            {"node": n.name, "expr": sympy.sstr(n.formula), "value": to_float(bp.values[n.symbol])}
            for n in graph.nodes
        ],
        "backward": [
            {
                "node": s.node.name,
                "input": s.input.name,
                "local": _term(s.local),
                "upstream": _term(s.upstream),
                "product": _term(s.product),
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
    """``{"loss", "gradients", "symbolic"}`` and ``"expanded"`` when asked.

    Raises:
        LimitError: an expanded form would pass the size bound.
    """
    result: dict[str, Any] = {
        "loss": to_float(bp.loss),
        "gradients": {name: to_float(a.value) for name, a in bp.gradients.items()},
        "symbolic": {name: sympy.sstr(a.compact) for name, a in bp.gradients.items()},
    }
    if expanded:
        result["expanded"] = {name: sympy.sstr(a.expanded) for name, a in bp.gradients.items()}
    exact = _exact({name: a.value for name, a in bp.gradients.items()})
    if exact and not bp.loss.is_Float:
        result["exact"] = {"loss": sympy.sstr(bp.loss), "gradients": exact}
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


