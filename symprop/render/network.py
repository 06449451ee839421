"""What a network adds to the walkthrough: the batch as a reduction of per-sample gradients,
and gradients as nested lists shaped like the parameters (``"W1": [[...], [...]]``).

A batch loss is ``L = mean`` (or ``sum``) over the samples of each sample's own
loss, so each parameter's batch gradient is the mean (or sum) of its
per-sample gradients; :func:`batch_lines` shows that sum for every parameter.
Everything here reads recorded backward passes and a finished
:class:`~symprop.nn.Batch`; nothing is derived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np
import sympy

from ..backprop import BackwardPass
from ..nn import Batch, NetworkProblem, scalar_label, scalar_name
from ..notation import plus
from .numbers import DEFAULT_DIGITS, format_value, to_float
from .text import fit
from .walkthrough import labelled

if TYPE_CHECKING:  # pragma: no cover
    from ..nn.forms import GradientForms

__all__ = ["shaped", "grad_json", "grad_json_forms", "batch_lines", "batch_dict", "MAX_SAMPLES_SHOWN"]

#: Past this many samples, a reduction line shows the first few terms and "...".
MAX_SAMPLES_SHOWN = 8


def shaped(params: Mapping[str, np.ndarray], value: Callable[[str], Any]) -> dict[str, Any]:
    """``{"W1": [[value("W1_0_0"), ...], ...], "b1": ...}``: one entry per scalar, nested like the parameter."""
    result: dict[str, Any] = {}
    for name, array in params.items():
        grid = np.empty(array.shape, dtype=object)
        for index in np.ndindex(*array.shape):
            grid[index] = value(scalar_name(name, index))
        result[name] = grid.tolist() if grid.ndim else grid[()]
    return result


def grad_json(problem: NetworkProblem, bp: BackwardPass, *, expanded: bool = False) -> dict[str, Any]:
    """``symprop grad --json`` for a network: the formula's keys, values nested like the parameters.

    Raises:
        LimitError: with ``expanded``, an expanded form would pass the size bound.
    """
    grads = bp.gradients
    result: dict[str, Any] = {
        "loss": to_float(bp.loss),
        "gradients": shaped(problem.network.params, lambda s: to_float(grads[s].value)),
        "symbolic": shaped(problem.network.params, lambda s: sympy.sstr(labelled(bp, grads[s].compact))),
    }
    if expanded:
        result["expanded"] = shaped(problem.network.params, lambda s: sympy.sstr(labelled(bp, grads[s].expanded)))
    if not bp.loss.is_Float:
        result["exact"] = {
            "loss": sympy.sstr(bp.loss),
            "gradients": shaped(problem.network.params, lambda s: sympy.sstr(grads[s].value)),
        }
    return result


def grad_json_forms(params: Mapping[str, np.ndarray], forms: "GradientForms") -> dict[str, Any]:
    """``symprop grad --json`` for a network from its forms written per pattern (:mod:`symprop.nn.forms`),
    its compact forms printed as ``sympy.sstr`` prints them: the keys and text of :func:`grad_json`."""
    by_label = {label: (value, compact) for label, value, compact in forms.entries}
    labels = {scalar_name(name, index): scalar_label(name, index)
              for name, array in params.items() for index in np.ndindex(*array.shape)}
    return {
        "loss": forms.loss,
        "gradients": shaped(params, lambda s: by_label[labels[s]][0]),
        "symbolic": shaped(params, lambda s: by_label[labels[s]][1]),
    }


def batch_dict(batch: Batch) -> dict[str, Any]:
    """``{"reduction", "samples", "narrated", "losses", "loss", "per_sample", "gradients"}``.

    ``per_sample[k]`` holds sample k's own gradients (nested like the
    parameters) and ``gradients`` their mean or sum: the batch gradient.
    """
    losses = [to_float(bp.loss) for bp in batch.passes]
    return {
        "reduction": batch.reduction,
        "samples": batch.samples,
        "narrated": "batch" if batch.narrated is None else batch.narrated,
        "losses": losses,
        "loss": float(np.mean(losses) if batch.reduction == "mean" else np.sum(losses)),
        "per_sample": [shaped(batch.gradients, lambda s, bp=bp: to_float(bp.gradients[s].value)) for bp in batch.passes],
        "gradients": {name: grad.tolist() for name, grad in batch.gradients.items()},
    }


def _combine(values: list[sympy.Expr], reduction: str, digits: int) -> str:
    """``(a + b + c)/3`` or ``a + b + c``, with the values written out (the first few of many)."""
    texts = [format_value(v, digits) for v in values]
    if len(texts) > MAX_SAMPLES_SHOWN:
        texts = texts[: MAX_SAMPLES_SHOWN - 2] + [f"... ({len(values) - MAX_SAMPLES_SHOWN + 2} more)"]
    total = plus(texts)
    return f"({total})/{len(values)}" if reduction == "mean" else total


def batch_lines(batch: Batch, *, digits: int = DEFAULT_DIGITS) -> list[str]:
    """The batch as the reduction of per-sample gradients, as plain text lines."""
    reduction, m, passes = batch.reduction, batch.samples, batch.passes
    out = "L"
    rule = f"(1/{m}) · Σ_s" if reduction == "mean" else "Σ_s"
    narrated = (
        "the whole batch; each fan-in is this sum"
        if batch.narrated is None
        else f"sample {batch.narrated} only, with its own loss L(s{batch.narrated})"
    )
    lines = [
        f"The batch: {m} samples, reduction {reduction!r}: {out} = {rule} L(s), so d{out}/dp = {rule} dL(s)/dp",
        f"  (the walkthrough above narrates {narrated})",
    ]
    losses = [bp.loss for bp in passes]
    loss = sum(losses, sympy.S.Zero)
    loss = loss / m if reduction == "mean" else loss
    lines.append(f"  {out} = {_combine(losses, reduction, digits)} = {format_value(loss, digits)}")
    for name, grad in batch.gradients.items():
        for index in np.ndindex(*grad.shape):
            scalar = scalar_name(name, index)
            values = [bp.gradients[scalar].value for bp in passes]
            total = sum(values, sympy.S.Zero)
            total = total / m if reduction == "mean" else total
            lines.append(
                f"  d{out}/d{scalar_label(name, index)} = {_combine(values, reduction, digits)}"
                f" = {format_value(total, digits)}"
            )
    return fit(lines)
