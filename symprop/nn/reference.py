"""The numpy reference: a network's forward pass and loss in float64, read from the tables.

Finite differences, the checker's kink detection and the training summary use
these; they are written independently of the derived formulas (plain numpy,
stable where it matters: the activations' own numpy forms, and logs of the
output taken from the logits where the activation knows how).
"""

from __future__ import annotations

import numpy as np

from ..errors import EvaluationError, SpecError
from .activations import exact_slope, get_activation
from .losses import Output, get_loss
from .mlp import MLP

__all__ = [
    "forward_numpy",
    "per_sample_loss_numpy",
    "loss_numpy",
    "layer_outputs",
    "check_targets",
    "check_outputs",
]


def _as_batch(x: object) -> np.ndarray:
    """``x`` as a float64 array of shape ``(m, n)``; one sample may be given as ``(n,)``."""
    array = np.asarray(x, dtype=np.float64)
    return array.reshape(1, -1) if array.ndim == 1 else array


def layer_outputs(mlp: MLP, params: dict[str, object], x: object) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every layer's pre-activation ``z`` and output ``a``, each ``(m, n_l)``, first layer first."""
    a = _as_batch(x)
    slope = float(exact_slope(mlp.slope))
    result = []
    for l, name in enumerate(mlp.activations, start=1):
        z = a @ np.asarray(params[f"W{l}"], dtype=np.float64).T  # (m, n_{l-1}) @ (n_{l-1}, n_l)
        if mlp.bias != "none":
            z = z + np.asarray(params[f"b{l}"], dtype=np.float64)  # (n_l,) or () broadcasts
        a = get_activation(name).numpy(z, slope)
        result.append((z, a))
    return result


def forward_numpy(mlp: MLP, params: dict[str, object], x: object) -> np.ndarray:
    """The network's outputs ``yhat``, shape ``(m, nL)``, in float64.

    Args:
        mlp: the architecture.
        params: ``{"W1": (n1, n0) array, "b1": ..., ...}`` as from :meth:`MLP.init_params`.
        x: inputs, shape ``(m, n0)`` (one row per sample) or ``(n0,)`` for one sample.

    Numerically stable: the sigmoid never overflows and softmax subtracts the row max.
    """
    return layer_outputs(mlp, params, x)[-1][1]


def per_sample_loss_numpy(mlp: MLP, params: dict[str, object], x: object, y: object) -> np.ndarray:
    """Each sample's loss (the losses table), shape ``(m,)``, in float64.

    Cross-entropy after softmax is computed from the logits (a log-softmax with
    the max shifted out), and binary cross-entropy after a sigmoid output from
    the logits too (``log sigmoid(z) = -logaddexp(0, -z)``), so neither takes the
    log of a rounded 0.
    """
    z, yhat = layer_outputs(mlp, params, x)[-1]
    output = Output(z, yhat, get_activation(mlp.activations[-1]))
    return get_loss(mlp.loss).numpy(_as_batch(y), output)


def loss_numpy(mlp: MLP, params: dict[str, object], x: object, y: object) -> float:
    """The batch loss in float64: the ``mlp.reduction`` (mean or sum) of the per-sample losses."""
    losses = per_sample_loss_numpy(mlp, params, x, y)
    return float(np.sum(losses) if mlp.reduction == "sum" else np.mean(losses))


def check_targets(mlp: MLP, y: np.ndarray) -> None:
    """Refuse targets outside the loss's domain (binary cross-entropy: [0, 1]), naming the entry.

    Raises:
        SpecError: ``data.y[2][0] = 1.5: binary_cross_entropy needs every target in [0, 1] ...``.
    """
    loss = get_loss(mlp.loss)
    if loss.domain is None:
        return
    where = loss.domain.first_outside(y, loss.domain.targets)
    if where is not None:
        raise SpecError(f"data.y[{where[0]}][{where[1]}] = {y[where]:g}: {loss.name} needs {loss.domain.rule('target')}")


def check_outputs(
    mlp: MLP, params: dict[str, object], x: object, *, rows: list[int] | None = None, step: int | None = None
) -> None:
    """Refuse outputs ``yhat`` outside the loss's domain (binary cross-entropy: [0, 1]), naming sample and output.

    Args:
        rows: the sample numbers of ``x``'s rows, for the message (default 0, 1, ...).
        step: the training step, for the message.

    Raises:
        EvaluationError: ``sample 0's output a2[0] = 1.5 (identity output) is outside [0, 1] ...``.
    """
    loss = get_loss(mlp.loss)
    if loss.domain is None:
        return
    with np.errstate(all="ignore"):
        yhat = forward_numpy(mlp, params, x)
    where = loss.domain.first_outside(yhat, loss.domain.outputs)
    if where is None:
        return
    sample = where[0] if rows is None else rows[where[0]]
    when = "" if step is None else f" at step {step}"
    raise EvaluationError(
        f"{loss.name} needs {loss.domain.rule('output')}: sample {sample}'s output "
        f"a{mlp.depth}[{where[1]}] = {yhat[where]:.6g}{when}, from {mlp.activations[-1]} on the last layer; "
        "use sigmoid there"
    )
