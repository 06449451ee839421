"""Accuracy of a classifier: how many outputs name the target's class.

A loss says how far the outputs are from the targets; a teacher training a
classifier also wants to hear how many samples it gets right. A network is a
classifier here when its last layer is ``softmax`` (the class is the largest
output, as ``argmax`` of PyTorch's logits) or ``sigmoid`` with targets in
``[0, 1]`` (each output is a yes/no: output and target on the same side of
1/2). Anything else (a regression) has no accuracy, and :func:`accuracy` says
so with None rather than a number that means nothing.

>>> import numpy as np
>>> from symprop.nn import MLP
>>> mlp = MLP([2, 3, 1], "sigmoid", "binary_cross_entropy")
>>> accuracy(mlp, np.array([[0.9], [0.2], [0.6], [0.4]]), np.array([[1], [0], [0], [0]])).text
'75% (3 of 4 samples; output and target on the same side of 0.5)'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Accuracy", "accuracy", "output_activation"]


@dataclass(frozen=True)
class Accuracy:
    """``correct`` of ``total`` right, counting ``unit`` (samples, or outputs of a multi-label net), by ``rule``."""

    correct: int
    total: int
    unit: str
    rule: str

    @property
    def fraction(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    @property
    def percent(self) -> str:
        """``100%``, ``99.3%``, ``66.7%``: whole numbers when exact, else one decimal."""
        value = 100 * self.fraction
        return f"{value:.0f}%" if value == round(value) else f"{value:.1f}%"

    @property
    def text(self) -> str:
        unit = self.unit if self.total != 1 else self.unit.removesuffix("s")
        return f"{self.percent} ({self.correct} of {self.total} {unit}; {self.rule})"

    def to_dict(self) -> dict[str, Any]:
        return {"fraction": self.fraction, "correct": self.correct, "total": self.total, "unit": self.unit,
                "rule": self.rule}


def output_activation(mlp: Any) -> str | None:
    """The name of the network's last activation, or None when it ends with a linear layer."""
    last = mlp.stack[-1]
    return last.name if last.kind == "activation" else None


def accuracy(mlp: Any, yhat: Any, y: Any) -> Accuracy | None:
    """How many of the outputs ``yhat`` (m, K) name the class of the targets ``y`` (m, K); None for a regression."""
    yhat, y = np.asarray(yhat, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if yhat.ndim != 2 or yhat.shape != y.shape or yhat.size == 0:
        return None
    name = output_activation(mlp)
    if name == "softmax" and yhat.shape[1] > 1:
        right = np.argmax(yhat, axis=1) == np.argmax(y, axis=1)
        return Accuracy(int(right.sum()), int(right.size), "samples", "the largest output is the target's class")
    if name == "sigmoid" and np.all((y >= 0) & (y <= 1)):
        right = (yhat > 0.5) == (y > 0.5)
        unit = "samples" if y.shape[1] == 1 else "outputs"
        return Accuracy(int(right.sum()), int(right.size), unit, "output and target on the same side of 0.5")
    return None
