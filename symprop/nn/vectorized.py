"""Derive once, evaluate fast: a network's exact gradients in float64, vectorized over samples and neurons.

The scalar graph derives each node's local derivative one node at a time, though
they are the same formula for every neuron and sample up to the names. The
compiled code (:mod:`symprop.compiler`) derives each pattern once (an
activation's ``da/dz``, the output layer's ``dl/dz`` through the loss, a layer
operation's matrix form) and evaluates it on whole arrays. In float mode that
is how a network's exact gradients are computed (:meth:`Network.exact_gradients`);
the per-node record of steps is built only for what is narrated.

The two agree to rounding: each is float64 arithmetic on the same derived
formulas, summed in another order (the scalar pass adds per-sample terms one
node at a time, the compiled code sums with matrix products): entries agree to
about 1e-15 relative, and within 1e-13 of the largest gradient of a parameter or
a named intermediate, the size of the terms each sum adds (a gradient that is 0
in exact arithmetic is rounding noise in both). ``tests/test_vectorized.py``
holds every activation, loss and layer kind to that.

Where the compiled code would not compute the exact formula, :func:`evaluate`
returns None and the caller takes the scalar pass: an output that binary
cross-entropy would clip (the compiled loss keeps ``yhat`` in ``[1e-12, 1 - 1e-12]``),
a non-finite value anywhere (float64 overflows where SymPy's numbers do not),
or an activation the code generator has no numpy form for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecError

if TYPE_CHECKING:  # pragma: no cover
    from ..compiler import Compiled
    from .network import Network

__all__ = ["Evaluation", "evaluate", "compiled_for"]


@dataclass(frozen=True)
class Evaluation:
    """The loss, the gradients and the named intermediates' gradients of a batch (or one sample's own loss).

    Attributes:
        loss: the loss.
        gradients: ``dL/dparam``, float64 arrays shaped like the parameters, in parameter order.
        adjoints: ``dL/dv`` of every named value that depends on a parameter, in forward
            order, shaped as :meth:`Network.exact_intermediates` gives them.
    """

    loss: float
    gradients: dict[str, np.ndarray]
    adjoints: dict[str, np.ndarray]


def compiled_for(network: "Network") -> "Compiled | None":
    """The network's compiled code (made once per network), or None when there is no numpy form."""
    # imported here: the compiler reads the activations of this package, so ``import symprop.compiler``
    # first would otherwise find this module half made
    from ..compiler import compile as compile_network

    if "compiled" not in network.cache:
        try:
            network.cache["compiled"] = compile_network(network.mlp)
        except SpecError:  # a vector activation the code generator cannot write
            network.cache["compiled"] = None
    return network.cache["compiled"]


def evaluate(network: "Network", sample: int | None = None) -> Evaluation | None:
    """The batch's exact gradients (or sample ``sample``'s own), evaluated vectorized; None where it does not apply.

    ``sample`` must be a valid index of a network whose batch loss is a sum of per-sample losses
    (:meth:`Network.require_own_sample` says so); it is the caller's to check.
    """
    from ..compiler import BCE_CLIP

    compiled = compiled_for(network)
    if compiled is None:
        return None
    rows = slice(None) if sample is None else slice(sample, sample + 1)
    x, y = network.x[rows], network.y[rows]
    masks = {name: mask[rows] for name, mask in network.masks.items()}
    with np.errstate(all="ignore"):
        if compiled.clip:
            yhat = compiled.forward(network.params, x, masks) if masks else compiled.forward(network.params, x)
            if not np.all((yhat >= BCE_CLIP) & (yhat <= 1 - BCE_CLIP)):
                return None
        loss, grads, adjoints = compiled.loss_grads_and_adjoints(network.params, x, y, masks or None)
    m = x.shape[0]
    shaped = {}
    for name, (axes, width) in network.mlp.intermediates().items():
        if name in adjoints:
            shape = (width,) if axes == "n" else (m,) if axes == "m" else (m, width)
            shaped[name] = np.asarray(adjoints[name], dtype=np.float64).reshape(shape)
    gradients = {name: np.asarray(grads[name], dtype=np.float64).reshape(array.shape)
                 for name, array in network.params.items()}
    values: list[Any] = [loss, *gradients.values(), *shaped.values()]
    if not all(np.all(np.isfinite(v)) for v in values):
        return None
    return Evaluation(float(loss), gradients, shaped)
