"""The numpy reference: a network's forward pass and loss in float64, read from the tables.

Finite differences, the checker's kink detection and the training summary use
these; they are written independently of the derived formulas (plain numpy,
stable where it matters: the activations' own numpy forms, and logs of the
output taken from the logits where the activation knows how).
"""

from __future__ import annotations

import numpy as np

from .activations import exact_slope, get_activation
from .losses import Output, get_loss
from .mlp import MLP

__all__ = ["forward_numpy", "per_sample_loss_numpy", "loss_numpy", "layer_outputs"]


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
