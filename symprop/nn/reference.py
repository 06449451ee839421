"""The numpy reference: a network's forward pass and loss in float64, read from the tables.

Finite differences, the checker's kink detection and the training summary use
these; they are written independently of the derived formulas (plain numpy,
each layer's own numpy forward, stable where it matters: the activations'
own numpy forms, and logs of the output taken from the logits where the
activation knows how).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import EvaluationError, SpecError
from .activations import get_activation
from .layers import Architecture, Forward, walk
from .losses import Output, get_loss

__all__ = [
    "forward_numpy",
    "per_sample_loss_numpy",
    "loss_numpy",
    "forward_values",
    "validate_targets",
    "validate_outputs",
    "outputs_in_domain",
    "LossFrom",
]


def _as_batch(x: object) -> np.ndarray:
    """``x`` as a float64 array of shape ``(m, n)``; one sample may be given as ``(n,)``."""
    array = np.asarray(x, dtype=np.float64)
    return array.reshape(1, -1) if array.ndim == 1 else array


def forward_values(mlp: Architecture, params: Mapping[str, object], x: object,
                   masks: Mapping[str, np.ndarray] | None = None) -> Forward:
    """The forward pass, keeping every named intermediate (``z1``, ``bn1``, ``a1``, ...) and the kinks' arguments.

    ``masks`` are the dropout masks (``(m, n)`` arrays of 0 and 1); without
    them dropout keeps everything (as in evaluation).
    """
    ctx = _start(mlp, x, masks)
    return _run(mlp, params, ctx.values["a0"], ctx, 0)


def _start(mlp: Architecture, x: object, masks: Mapping[str, np.ndarray] | None) -> Forward:
    h = _as_batch(x)
    masks = dict(masks or {})
    for layer in mlp.dropouts():
        masks.setdefault(layer.mask_name, np.full((h.shape[0], layer.width_in), 1.0 - float(layer.p)))
    ctx = Forward(masks, float(mlp.exact_slope()))
    ctx.values["a0"] = h
    return ctx


def _run(mlp: Architecture, params: Mapping[str, object], h: np.ndarray, ctx: Forward, start: int,
         stop: int | None = None) -> Forward:
    """The layers ``start:stop`` of the stack from ``h`` (the whole rest: ``output`` is recorded)."""
    params = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
    for layer in mlp.stack[start:stop]:
        h = layer.forward(params, h, ctx)
    ctx.values["output" if stop is None else "_h"] = h
    return ctx


def forward_numpy(mlp: Architecture, params: Mapping[str, object], x: object,
                  masks: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """The network's outputs ``yhat``, shape ``(m, nL)``, in float64.

    Args:
        mlp: the architecture.
        params: ``{"W1": (n1, n0) array, "b1": ..., ...}`` as from :meth:`MLP.init_params`.
        x: inputs, shape ``(m, n0)`` (one row per sample) or ``(n0,)`` for one sample.
        masks: the dropout masks, if the network has dropout.

    Numerically stable: the sigmoid never overflows and softmax subtracts the row max.
    """
    return forward_values(mlp, params, x, masks).values["output"]


def _output(mlp: Architecture, ctx: Forward) -> Output:
    last = mlp.stack[-1]
    if last.kind == "activation":
        return Output(ctx.values[last.in_name], ctx.values["output"], last.activation)
    return Output(ctx.values["output"], ctx.values["output"], get_activation("identity"))


def per_sample_loss_numpy(mlp: Architecture, params: Mapping[str, object], x: object, y: object,
                          masks: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Each sample's loss (the losses table), shape ``(m,)``, in float64.

    Cross-entropy after softmax is computed from the logits (a log-softmax with
    the max shifted out), and binary cross-entropy after a sigmoid output from
    the logits too (``log sigmoid(z) = -logaddexp(0, -z)``), so neither takes the
    log of a rounded 0.
    """
    ctx = forward_values(mlp, params, x, masks)
    return get_loss(mlp.loss).numpy(_as_batch(y), _output(mlp, ctx))


def loss_numpy(mlp: Architecture, params: Mapping[str, object], x: object, y: object,
               masks: Mapping[str, np.ndarray] | None = None) -> float:
    """The batch loss in float64: the ``mlp.reduction`` (mean or sum) of the per-sample losses,
    plus ``λ/2 · Σ W²`` with weight decay."""
    return _total(mlp, params, per_sample_loss_numpy(mlp, params, x, y, masks))


def _total(mlp: Architecture, params: Mapping[str, object], losses: np.ndarray) -> float:
    total = float(np.sum(losses) if mlp.reduction == "sum" else np.mean(losses))
    if mlp.weight_decay:
        total += 0.5 * float(mlp.weight_decay) * sum(float(np.sum(np.asarray(params[w]) ** 2)) for w in mlp.weights())
    return total


class LossFrom:
    """:func:`loss_numpy` when only the parameters of one layer on change: the layers before it run once.

    Finite differences move one parameter scalar at a time, so the forward pass
    up to the (top-level) layer that holds it is the same every time; the rest
    runs as :func:`loss_numpy` runs it, so the loss is the same to the bit.
    """

    def __init__(self, mlp: Architecture, params: Mapping[str, object], x: object, y: object,
                 masks: Mapping[str, np.ndarray] | None, name: str):
        self.mlp, self.y = mlp, _as_batch(y)
        holds = [name in _held(layer) for layer in mlp.stack]
        self.start = holds.index(True) if True in holds else 0
        ctx = _start(mlp, x, masks)
        self.prefix = _run(mlp, params, ctx.values["a0"], ctx, 0, self.start)

    def __call__(self, params: Mapping[str, object]) -> float:
        done = self.prefix
        ctx = Forward(done.masks, done.slope, dict(done.values), list(done.kinks))
        _run(self.mlp, params, done.values["_h"], ctx, self.start)
        return _total(self.mlp, params, get_loss(self.mlp.loss).numpy(self.y, _output(self.mlp, ctx)))


def _held(layer: Any) -> set[str]:
    """The parameters a top-level layer holds, its block's included."""
    return {name for inner in walk([layer]) for name in inner.param_shapes()}
def validate_targets(mlp: Architecture, y: np.ndarray) -> None:
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


def outputs_in_domain(mlp: Architecture) -> bool:
    """True when the outputs keep to the loss's domain by construction: it has none, or the last
    layer is an activation with stable logs (sigmoid, softmax: probabilities)."""
    last = mlp.stack[-1]
    return get_loss(mlp.loss).domain is None or (last.kind == "activation" and last.activation.numpy_logs is not None)


def validate_outputs(
    mlp: Architecture,
    params: Mapping[str, object],
    x: object,
    *,
    masks: Mapping[str, np.ndarray] | None = None,
    rows: list[int] | None = None,
    step: int | None = None,
) -> None:
    """Refuse outputs ``yhat`` outside the loss's domain (binary cross-entropy: [0, 1]), naming sample and output.

    Args:
        masks: the dropout masks the outputs are computed under, if any.
        rows: the sample numbers of ``x``'s rows, for the message (default 0, 1, ...).
        step: the training step, for the message.

    Raises:
        EvaluationError: ``... sample 0's output a2[0] = 1.5, from identity on the last layer; use sigmoid there``.
    """
    loss = get_loss(mlp.loss)
    if loss.domain is None:
        return
    with np.errstate(all="ignore"):
        yhat = forward_numpy(mlp, params, x, masks)
    where = loss.domain.first_outside(yhat, loss.domain.outputs)
    if where is None:
        return
    sample = where[0] if rows is None else rows[where[0]]
    when = "" if step is None else f" at step {step}"
    last = mlp.stack[-1]
    instead = "use sigmoid there" if last.kind == "activation" else "end the layers with sigmoid"
    raise EvaluationError(
        f"{loss.name} needs {loss.domain.rule('output')}: sample {sample}'s output "
        f"{last.out}[{where[1]}] = {yhat[where]:.6g}{when}, from {last.describe} on the last layer; {instead}"
    )
