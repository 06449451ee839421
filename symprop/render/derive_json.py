"""A derivation as data: ``{"gradient": {name: expr}, "steps": [{"expr", "identity", "shape", ...}], ...}``.

Every ``expr`` is SymPy's string form of a matrix expression over the given
matrices (:func:`symprop.derive.printing.sympy_text`), so a reader can parse
it back with ``MatrixSymbol``s of the shapes in ``"shapes"``; ``compact`` and
``formula`` are the same in the intermediates' symbols (``dL_dprod1``,
``prod1``; ``"forward"`` defines them). Values are nested lists of numbers
(rows), present when the point was given (``"at"``) or comes from a spec.
"""

from __future__ import annotations

from typing import Any

import sympy

from ..derive import Derivation, SpecDerivation
from ..errors import LimitError
from ..derive.printing import sympy_text
from .numbers import to_float

__all__ = ["derive_dict", "network_dict", "derivation_dict"]


def _matrix(value: sympy.Matrix | None) -> Any:
    if value is None:
        return None
    return [[to_float(v) for v in row] for row in value.tolist()]


def _expanded(derivation: Derivation, expr: sympy.Basic) -> str | None:
    try:
        return sympy_text(derivation.expand(expr))
    except LimitError:
        return None


def _steps(derivation: Derivation, values) -> list[dict[str, Any]]:
    steps = []
    for k, step in enumerate(derivation.steps):
        steps.append({
            "gradient": derivation.adjoints[step.input].gradient.name,
            "node": step.node.name,
            "input": step.input.name,
            "expr": _expanded(derivation, step.formula),
            "compact": sympy_text(step.compact),
            "formula": sympy_text(step.formula),
            "identity": step.rule.text,
            "rule": step.rule.name,
            "shape": list(step.shape),
            **({"value": _matrix(values.steps[k])} if values is not None else {}),
        })
    return steps


def _check(check) -> dict[str, Any]:
    point = check.values.point
    return {
        "passed": check.passed,
        "point": "given" if point.given else f"random (seed {point.seed})",
        "max_error": check.max_error,
        "entries": check.entries,
        "scalar_steps": check.scalar_steps,
    }


def derive_dict(derivation: Derivation) -> dict[str, Any]:
    """The derivation of a formula as JSON-ready data (values only when the point was given)."""
    check = derivation.check
    values = check.values if check is not None and check.values.point.given else None
    result: dict[str, Any] = {
        "formula": derivation.text,
        "shapes": {name: [int(d) for d in s.shape] for name, s in derivation.leaves.items()},
        "wrt": [v.name for v in derivation.wrt],
        "forward": [
            {"node": n.name, "expr": _expanded(derivation, n.symbol), "compact": sympy_text(n.formula),
             "shape": list(n.shape), **({"value": _matrix(values.nodes[n.symbol])} if values else {})}
            for n in derivation.nodes
        ],
        "steps": _steps(derivation, values),
        "gradient": {v.name: _expanded(derivation, derivation.adjoints[v].formula) for v in derivation.wrt},
        "compact": {v.name: sympy_text(derivation.adjoints[v].formula) for v in derivation.wrt},
    }
    if values is not None:
        result["loss"] = to_float(values.loss)
        result["values"] = {v.name: _matrix(values.gradients[v]) for v in derivation.wrt}
    if check is not None:
        result["check"] = _check(check)
    return result


def network_dict(result: SpecDerivation) -> dict[str, Any]:
    """A network's derived layer formulas, with one sample's values and the batch gradient."""
    formulas, network = result.formulas, result.network
    derivation = formulas.derivation
    values = result.check.values

    def entry(step) -> dict[str, Any] | None:
        if step is None:
            return None
        k = derivation.steps.index(step)
        return {"expr": _expanded(derivation, step.formula), "compact": sympy_text(step.compact),
                "identity": step.rule.text, "shape": list(step.shape), "value": _matrix(values.steps[k])}

    mlp = network.mlp
    data = derive_dict(derivation)
    data.update({
        "network": {"layers": mlp.layers, "activations": [layer.activation for layer in formulas.layers],
                    "loss": mlp.loss, "reduction": mlp.reduction, "bias": mlp.bias},
        "sample": result.sample,
        "loss": to_float(values.loss),
        "steps": _steps(derivation, values),
        "dL_da_last": entry(formulas.loss_step),
        "layers": [
            {"layer": layer.index, "activation": layer.activation, "delta": entry(layer.delta_step),
             "dL_dW": entry(layer.dW_step), "dL_db": entry(layer.db_step), "dL_da_prev": entry(layer.da_prev_step)}
            for layer in formulas.layers
        ],
        "values": {name: _matrix(values.gradients[derivation.leaves[name]]) for name in mlp.param_shapes()},
        "batch": {name: grad.tolist() for name, grad in result.batch.items()},
        "check": {**_check(result.check), "passed": result.passed, "exact_gradients_max_error": max(result.errors.values(), default=0.0)},
    })
    return data


def derivation_dict(result: Derivation | SpecDerivation) -> dict[str, Any]:
    """What ``symprop derive --json`` prints: a formula's derivation or a network's."""
    return derive_dict(result) if isinstance(result, Derivation) else network_dict(result)
