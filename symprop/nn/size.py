"""How big a network's work is, estimated before it starts, and the refusals past the bounds.

The bounds themselves are in :mod:`symprop.limits`; here they are applied to
an architecture (an MLP's widths, or a layer list) and a number of samples:
its parameter count, the chain-rule steps of its exact backward pass, the
entries of its matrix view, and the float64 memory a training run needs.
Each refusal is a :class:`~symprop.errors.LimitError` saying what to do instead.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import LimitError
from ..limits import (
    EXACT_TIME_BUDGET,
    MATRIX_ENTRIES_PER_COLUMN,
    MAX_EXACT_STEPS,
    MAX_MATRIX_ENTRIES,
    MAX_PARAMETERS,
    MAX_TRAINING_BYTES,
    gigabytes,
)
from .layers import walk

__all__ = [
    "shape_text",
    "parameter_count",
    "sample_steps",
    "exact_steps",
    "training_bytes",
    "matrix_entries",
    "limit_parameters",
    "limit_exact_work",
    "limit_matrix_work",
    "limit_training_size",
]


def _is_mlp(arch: Any) -> bool:
    """An MLP (widths and activations) rather than a layer list: its sizes have closed forms."""
    return hasattr(arch, "activations")


def shape_text(arch: Any) -> str:
    """How messages name an architecture: an MLP's widths (``[2, 3, 1]``), a layer list's layers."""
    if _is_mlp(arch):
        return str(arch.layers)
    return "[" + ", ".join(layer.describe for layer in arch.stack) + "]"


def parameter_count(arch: Any) -> int:
    """The parameter scalars of an architecture (every layer's, from the layer table's shapes)."""
    return sum(math.prod(shape) for shape in arch.param_shapes().values())


def sample_steps(mlp: Any) -> int:
    """The chain-rule steps of one sample's exact backward pass of an MLP (exact, as the scalar graph has them).

    Per neuron: ``z = W[j,:]·a_prev + b`` has a step into each weight, each
    earlier activation (none for the inputs) and the bias; ``a = f(z)`` one step;
    the loss one per output. Softmax shares a node ``S = Σ_j exp(z_j)``: each
    output ``a_k = exp(z_k)/S`` has a second step (into ``S``), and ``S`` one per ``z``.
    A layer list's count comes from its one-sample graph
    (:meth:`symprop.nn.Network.exact_steps`).
    """
    layers, activations = mlp.layers, mlp.activations
    bias = int(mlp.bias != "none")
    steps = sum(n * (2 * prev + bias) for prev, n in zip(layers, layers[1:])) - layers[1] * layers[0]
    steps += sum(layers[1:]) + layers[-1]
    if activations and activations[-1] == "softmax":
        steps += 2 * layers[-1]
    return steps


def exact_steps(mlp: Any, samples: int, *, batch: bool, per_sample: int | None = None) -> int:
    """The chain-rule steps of the exact backward pass: one sample's, or the whole batch's (``batch``).

    ``per_sample`` is one sample's count (an MLP's is :func:`sample_steps`);
    the batch has every sample's, and one step per sample into the batch loss.
    """
    one = sample_steps(mlp) if per_sample is None else per_sample
    if not batch:
        return one
    return samples * one + (samples if samples > 1 else 0)


def matrix_entries(arch: Any, samples: int) -> int:
    """The work of the matrix view, in entries: per sample, each linear layer's ``z = W a_prev``,
    ``dL/dW`` and ``W^T delta`` (each ``n_l x n_{l-1}``) and the column's own cost, and each other
    layer's Jacobian-sized ``n_l x n_l`` (an activation's ``da/dz``)."""
    per_sample = 0
    for layer in walk(arch.stack):
        n = layer.width_out
        if layer.kind == "linear":
            per_sample += 3 * n * layer.width_in + MATRIX_ENTRIES_PER_COLUMN
        elif layer.kind != "residual":  # a residual block's own work is its inner layers'
            per_sample += n * n
    return samples * per_sample


def training_bytes(arch: Any, samples: int) -> int:
    """The float64 memory of a training run: parameters five times over (values, gradients,
    the new values, two optimizer slots), and for the whole batch three arrays per unit: the
    inputs', each linear stage's z, a and delta, each other layer's output, gradient and a working array."""
    units = arch.n_inputs + sum(layer.width_out for layer in walk(arch.stack) if layer.kind != "activation")
    return 8 * (5 * parameter_count(arch) + 3 * samples * units)


def limit_parameters(arch: Any) -> None:
    """Refuse an architecture with more than ``MAX_PARAMETERS`` parameter scalars, before anything is allocated."""
    count = parameter_count(arch)
    if count > MAX_PARAMETERS:
        raise LimitError(
            f"network.layers: {shape_text(arch)} has {count:,} parameters ({gigabytes(8 * count)} of float64); "
            f"the limit is {MAX_PARAMETERS:,} ({gigabytes(8 * MAX_PARAMETERS)}): use narrower layers"
        )


def _refuse_work(
    arch: Any, samples: int, *, total: int, one: int, limit: int, what: str, unit: str, also: str = "", least: bool = False
) -> None:
    """Refuse ``what`` when its ``total`` work passes ``limit``, saying whether one sample alone does."""
    if total <= limit:
        return
    if one > limit:
        size, instead = f"has {'at least ' if least else ''}{one:,} {unit} for one sample", "use narrower layers"
    else:
        size, instead = f"on {samples:,} samples has about {total:,} {unit}", "use --sample K for one sample, or fewer samples"
    raise LimitError(
        f"{what} of {shape_text(arch)} {size} (limit {limit:,}, about {EXACT_TIME_BUDGET:g} s); {instead}{also}"
    )


def limit_exact_work(
    arch: Any, samples: int, *, batch: bool, per_sample: int | None = None, least: bool = False
) -> None:
    """Refuse an exact backward pass (or check) past ``MAX_EXACT_STEPS`` chain-rule steps, before it starts.

    ``per_sample``: one sample's steps (an MLP's are counted from its widths);
    ``least``: that count is a lower bound (a layer list's parameters, each at least one step).
    """
    one = exact_steps(arch, samples, batch=False, per_sample=per_sample)
    _refuse_work(
        arch,
        samples,
        total=exact_steps(arch, samples, batch=batch, per_sample=one),
        one=one,
        limit=MAX_EXACT_STEPS,
        what="the exact backward pass",
        unit="chain-rule steps",
        also="; 'symprop train' (compiled numpy) has no such limit",
        least=least,
    )


def limit_matrix_work(arch: Any, samples: int) -> None:
    """Refuse a matrix view past ``MAX_MATRIX_ENTRIES`` entries, before it starts."""
    _refuse_work(
        arch,
        samples,
        total=matrix_entries(arch, samples),
        one=matrix_entries(arch, 1),
        limit=MAX_MATRIX_ENTRIES,
        what="the matrix view",
        unit="matrix entries",
    )


def limit_training_size(arch: Any, samples: int) -> None:
    """Refuse a training run whose arrays would pass ``MAX_TRAINING_BYTES``, before they are allocated."""
    need = training_bytes(arch, samples)
    if need > MAX_TRAINING_BYTES:
        raise LimitError(
            f"training {shape_text(arch)} on {samples:,} samples needs about {gigabytes(need)} of float64 arrays "
            f"(limit {gigabytes(MAX_TRAINING_BYTES)}): use fewer samples or narrower layers"
        )
