"""A network's gradient scale without the scalar pass: every chain-rule path in absolute value, as matrices.

The checker's gradient scale (:func:`symprop.check.subjects.path_magnitudes`)
is, for each parameter scalar, the sum over every chain-rule path from the loss
to it of ``|product of the local derivatives along it|``, read off the scalar
backward pass. For a stack of ``linear`` layers and elementwise activations,
with or without a softmax output, that sum has a matrix form: the backward
pass with every factor taken in absolute value.

* The output: an elementwise output activation joins each ``z_k`` to the loss
  by one path, so its magnitude is ``|dL/dz_k|``. A softmax output is, in the
  scalar graph, ``a_k = exp(z_k)/S`` with ``S = sum_j exp(z_j)`` a node of its
  own: the paths into ``z_j`` are the direct one, ``|dL/da_j|·a_j``, and one
  through ``S`` for every output, ``|dL/da_k|·(a_k/S)·exp(z_j)``, which add up to
  ``|P_j| + a_j·sum_k |P_k|`` with ``P = a·dL/da``.
* A linear layer ``z = W h + b``: ``|h|`` into ``W``, ``1`` into ``b``, ``|W|``
  into ``h``, so ``|D|ᵀ|H|``, ``sum |D|`` and ``|D| |W|``.
* An activation: ``|D|·|f'(z)|``, ``f'`` the table's derivative (``sympy.diff``).

The exact ``dL/dz`` and ``dL/da`` of the output come from the compiled code's
adjoints (:meth:`symprop.compiler.Compiled.loss_grads_and_adjoints`), so the
scale of an MNIST-size network takes milliseconds where the scalar pass would
take tens of thousands of steps per sample. ``tests/test_magnitudes.py`` holds
it to the scalar pass's value on every activation, loss, reduction and bias
mode, within 1e-12 relative (the same sums, taken in another order).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import numpy as np
import sympy

from ..compiler import activation_derivative
from ..nn import Network
from ..nn.activations import A, Z
from ..nn.reference import forward_values

__all__ = ["network_magnitudes"]


def _supported(network: Network) -> bool:
    mlp = network.mlp
    if network.exact or getattr(mlp, "weight_decay", 0) or network.masks:
        return False
    for k, layer in enumerate(mlp.stack):
        if layer.kind == "linear":
            continue
        if layer.kind != "activation":
            return False
        if not layer.activation.elementwise and (layer.activation.name != "softmax" or k != len(mlp.stack) - 1):
            return False
    return True


@lru_cache(maxsize=None)
def _derivative(name: str, slope: sympy.Expr) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``f'(z, a)`` in numpy, from the table's derivative (written through the output ``a`` where it can be)."""
    from ..nn.activations import get_activation

    formula = activation_derivative(get_activation(name), slope).result
    # the names symprop's functions print as in numpy code (symprop.functions)
    sigmoid = {"_symprop_sigmoid": lambda x: np.exp(-np.logaddexp(0.0, -x))}
    function = sympy.lambdify((Z, A), formula, modules=[sigmoid, "numpy"])
    return lambda z, a: np.broadcast_to(np.asarray(function(z, a), dtype=np.float64), np.shape(z))


def network_magnitudes(network: Network, sample: int | None = None) -> dict[str, np.ndarray] | None:
    """Each parameter scalar's path magnitude for the batch loss (or sample ``sample``'s own), shaped like
    the parameters; None where the matrix form does not apply (exact inputs, a layer other than linear and
    an elementwise activation or a softmax output, weight decay, dropout) or is not finite."""
    if not _supported(network):
        return None
    evaluation = network.evaluation(sample)
    if evaluation is None:
        return None
    rows = slice(None) if sample is None else slice(sample, sample + 1)
    params = {name: np.asarray(value, dtype=np.float64) for name, value in network.params.items()}
    with np.errstate(all="ignore"):
        values = forward_values(network.mlp, params, network.x[rows]).values
        found = _backward(network.mlp.stack, params, values, evaluation.adjoints)
    if not all(np.all(np.isfinite(v)) for v in found.values()):
        return None
    return {name: found.get(name, np.zeros(p.shape)) for name, p in params.items()}


def _backward(stack: list[Any], params: dict[str, np.ndarray], values: dict[str, np.ndarray],
              adjoints: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    last = stack[-1]
    if last.kind == "activation" and not last.activation.elementwise:  # softmax
        p = values[last.out] * adjoints[last.out]
        magnitude = np.abs(p) + values[last.out] * np.sum(np.abs(p), axis=1, keepdims=True)
        body = stack[:-1]
    else:
        magnitude = np.abs(adjoints[last.out])
        body = stack
        if last.kind == "activation":  # |dL/da|·|f'(z)| is |dL/dz|: start from z's adjoint
            magnitude, body = np.abs(adjoints[stack[-2].out]), stack[:-1]
    found: dict[str, np.ndarray] = {}
    for layer in reversed(body):
        if layer.kind == "activation":
            derivative = _derivative(layer.activation.name, layer.slope)
            magnitude = magnitude * np.abs(derivative(values[layer.in_name], values[layer.out]))
            continue
        l, h = layer.stage, np.abs(values[layer.in_name])
        found[f"W{l}"] = magnitude.T @ h
        if layer.bias == "neuron":
            found[f"b{l}"] = np.sum(magnitude, axis=0)
        elif layer.bias == "layer":
            found[f"b{l}"] = np.array(np.sum(magnitude))
        magnitude = magnitude @ np.abs(params[f"W{l}"])
    return found
