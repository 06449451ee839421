"""How big a network's work is, estimated before it starts, and the refusals past the bounds.

The bounds themselves are in :mod:`symprop.limits`; here they are applied to
an MLP's widths and a number of samples: its parameter count, the chain-rule
steps of its exact backward pass, and the float64 memory a training run needs.
Each refusal is a :class:`~symprop.errors.LimitError` saying what to do instead.
"""

from __future__ import annotations

from typing import Any, Sequence

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

__all__ = [
    "parameter_count",
    "sample_steps",
    "exact_steps",
    "training_bytes",
    "matrix_entries",
    "check_parameters",
    "check_exact_work",
    "check_matrix_work",
    "check_training_size",
]


def parameter_count(layers: Sequence[int], bias: str) -> int:
    """The parameter scalars of an MLP with these widths: weights, and biases per neuron or per layer."""
    weights = sum(n * prev for prev, n in zip(layers, layers[1:]))
    biases = {"neuron": sum(layers[1:]), "layer": len(layers) - 1}.get(bias, 0)
    return weights + biases


def sample_steps(mlp: Any) -> int:
    """The chain-rule steps of one sample's exact backward pass (exact, as the scalar graph has them).

    Per neuron: ``z = W[j,:]·a_prev + b`` has a step into each weight, each
    earlier activation (none for the inputs) and the bias; ``a = f(z)`` one step;
    the loss one per output. Softmax shares a node ``S = Σ_j exp(z_j)``: each
    output ``a_k = exp(z_k)/S`` has a second step (into ``S``), and ``S`` one per ``z``.
    """
    layers, activations = mlp.layers, mlp.activations
    bias = int(mlp.bias != "none")
    steps = sum(n * (2 * prev + bias) for prev, n in zip(layers, layers[1:])) - layers[1] * layers[0]
    steps += sum(layers[1:]) + layers[-1]
    if activations and activations[-1] == "softmax":
        steps += 2 * layers[-1]
    return steps


def exact_steps(mlp: Any, samples: int, *, batch: bool) -> int:
    """The chain-rule steps of the exact backward pass: one sample's, or the whole batch's (``batch``)."""
    per_sample = sample_steps(mlp)
    if not batch:
        return per_sample
    return samples * per_sample + (samples if samples > 1 else 0)


def matrix_entries(mlp: Any, samples: int) -> int:
    """The work of the matrix view, in entries: per sample and layer, its Jacobian ``n_l x n_l``,
    ``z = W a_prev``, ``dL/dW`` and ``W^T delta`` (each ``n_l x n_{l-1}``), and the column's own cost."""
    layers = mlp.layers
    return samples * sum(n * n + 3 * n * prev + MATRIX_ENTRIES_PER_COLUMN for prev, n in zip(layers, layers[1:]))


def training_bytes(mlp: Any, samples: int) -> int:
    """The float64 memory of a training run: parameters five times over (values, gradients,
    the new values, two optimizer slots) and every layer's z, a and delta for the whole batch."""
    return 8 * (5 * parameter_count(mlp.layers, mlp.bias) + 3 * samples * sum(mlp.layers))


def check_parameters(layers: Sequence[int], bias: str) -> None:
    """Refuse an MLP with more than ``MAX_PARAMETERS`` parameter scalars, before anything is allocated."""
    count = parameter_count(layers, bias)
    if count > MAX_PARAMETERS:
        raise LimitError(
            f"network.layers: {list(layers)} has {count:,} parameters ({gigabytes(8 * count)} of float64); "
            f"the limit is {MAX_PARAMETERS:,} ({gigabytes(8 * MAX_PARAMETERS)}): use narrower layers"
        )


def _refuse_work(mlp: Any, samples: int, *, total: int, one: int, limit: int, what: str, unit: str, also: str = "") -> None:
    """Refuse ``what`` when its ``total`` work passes ``limit``, saying whether one sample alone does."""
    if total <= limit:
        return
    if one > limit:
        size, instead = f"has {one:,} {unit} for one sample", "use narrower layers"
    else:
        size, instead = f"on {samples:,} samples has about {total:,} {unit}", "use --sample K for one sample, or fewer samples"
    raise LimitError(f"{what} of {mlp.layers} {size} (limit {limit:,}, about {EXACT_TIME_BUDGET:g} s); {instead}{also}")


def check_exact_work(mlp: Any, samples: int, *, batch: bool) -> None:
    """Refuse an exact backward pass (or check) past ``MAX_EXACT_STEPS`` chain-rule steps, before it starts."""
    _refuse_work(
        mlp,
        samples,
        total=exact_steps(mlp, samples, batch=batch),
        one=exact_steps(mlp, samples, batch=False),
        limit=MAX_EXACT_STEPS,
        what="the exact backward pass",
        unit="chain-rule steps",
        also="; 'symprop train' (compiled numpy) has no such limit",
    )


def check_matrix_work(mlp: Any, samples: int) -> None:
    """Refuse a matrix view past ``MAX_MATRIX_ENTRIES`` entries, before it starts."""
    _refuse_work(
        mlp,
        samples,
        total=matrix_entries(mlp, samples),
        one=matrix_entries(mlp, 1),
        limit=MAX_MATRIX_ENTRIES,
        what="the matrix view",
        unit="matrix entries",
    )


def check_training_size(mlp: Any, samples: int) -> None:
    """Refuse a training run whose arrays would pass ``MAX_TRAINING_BYTES``, before they are allocated."""
    need = training_bytes(mlp, samples)
    if need > MAX_TRAINING_BYTES:
        raise LimitError(
            f"training {mlp.layers} on {samples:,} samples needs about {gigabytes(need)} of float64 arrays "
            f"(limit {gigabytes(MAX_TRAINING_BYTES)}): use fewer samples or narrower layers"
        )
