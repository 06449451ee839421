"""A network's backward pass derived as matrix formulas: ``delta``, ``dL/dW``, ``dL/db``, ``dL/da_prev`` per layer.

One sample is a column. The forward pass is written as matrix intermediates,
layer by layer from the network's layer list (:mod:`symprop.derive.layers`):
``z_l = W_l·a_(l-1) + b_l`` and ``a_l = f_l(z_l)`` (``a_0 = x``), and the loss
``L = ℓ(a_L, y)``; the activations come from the activation table
(:func:`symprop.nn.activation_formula`) and the loss from the loss table
(:func:`symprop.nn.loss_formula`), written entry by entry. Then the same
derivation as for any matrix formula (:mod:`symprop.derive.steps`) gives,
right to left, each layer's formulas, e.g. for sigmoid layers and
``half_squared_error``::

    ∂L/∂a2 = a2 - y                  (the loss table, entry by entry)
    δ2     = ∂L/∂a2 ⊙ a2 ⊙ (𝟙 - a2)    (elementwise sigmoid)
    ∂L/∂W2 = δ2·a1ᵀ                   (the trace trick)
    ∂L/∂b2 = δ2
    ∂L/∂a1 = W2ᵀ·δ2

A shared bias (``bias = "layer"``) is ``𝟙·b`` with ``b`` 1x1, so its
gradient is ``𝟙ᵀ·δ``, the sum of ``δ``'s entries. An MLP and a layer list of
linear layers and activations are derived alike; other layers and weight
decay are refused, naming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sympy import MatrixSymbol

from ..errors import SpecError
from ..nn.layers import walk
from .algebra import LAMBDA_VARIABLE
from .layers import gradient_name, layer_nodes, loss_entry, loss_node
from .steps import Derivation, MatrixNode, MatrixStep, derive_nodes

__all__ = ["LayerFormulas", "NetworkDerivation", "derive_network", "loss_entry", "layers_text"]


@dataclass(frozen=True)
class LayerFormulas:
    """One layer's derived formulas (one sample as a column): a linear layer and the activation after it.

    Attributes:
        index: ``l`` (0 for an activation before the first linear layer).
        activation: its name (``None`` for a linear layer without one).
        W, b, a_prev, z, a: the symbols (``b`` is ``None`` without bias; ``a_prev`` is ``x``
            for layer 1; ``a`` is ``z`` without an activation; ``W`` and ``z`` are ``None``
            and ``x`` for layer 0).
        dL_da, delta: the symbols of ``∂L/∂a_l`` and ``δ_l = ∂L/∂z_l``.
        delta_step, dW_step, db_step, da_prev_step: the steps into ``z_l`` (δ), ``W_l``,
            ``b_l`` and ``a_(l-1)`` (each a :class:`MatrixStep`, or ``None`` where the layer has none).
    """

    index: int
    activation: str | None
    W: MatrixSymbol | None
    b: MatrixSymbol | None
    a_prev: MatrixSymbol
    z: MatrixSymbol
    a: MatrixSymbol
    dL_da: MatrixSymbol
    delta: MatrixSymbol
    delta_step: MatrixStep | None
    dW_step: MatrixStep | None
    db_step: MatrixStep | None
    da_prev_step: MatrixStep | None


@dataclass
class NetworkDerivation:
    """A network's matrix derivation: the general :class:`Derivation` and its layers.

    Attributes:
        mlp: the architecture (an MLP, or a layer list of linear layers and activations).
        derivation: every intermediate and step (the loss is ``L``).
        layers: each layer's formulas, first to last.
        loss_step: ``∂L/∂a_L`` from the loss table.
        y: the target's symbol.
    """

    mlp: Any
    derivation: Derivation
    layers: list[LayerFormulas]
    loss_step: MatrixStep
    y: MatrixSymbol


def _layer_nodes(arch: Any) -> tuple[list[MatrixNode], dict[str, MatrixSymbol], MatrixSymbol]:
    """The forward pass of one sample as intermediates ``z1, a1, ..., L``, and the given matrices."""
    if arch.weight_decay:
        raise SpecError("network.weight_decay: derive has no matrix formula for weight decay yet (the matrix view "
                        "adds its λ·W to each dL/dW in closed form)")
    x = MatrixSymbol("x", arch.n_inputs, 1)
    leaves: dict[str, MatrixSymbol] = {"x": x}
    nodes: list[MatrixNode] = []
    h = x
    for layer in arch.stack:
        made, params, h = layer_nodes(layer, h)
        nodes += made
        leaves.update({symbol.name: symbol for symbol in params.values()})
    y = leaves["y"] = MatrixSymbol("y", arch.n_outputs, 1)
    nodes.append(loss_node(arch.loss, h, y))
    return nodes, leaves, y


def derive_network(mlp: Any) -> NetworkDerivation:
    """The matrix formulas of a network's backward pass for one sample, derived.

    Args:
        mlp: an :class:`~symprop.nn.MLP`, or a :class:`~symprop.nn.Sequential` of linear
            layers and activations.

    Raises:
        SpecError: a layer derive does not write (batchnorm, dropout, ...), weight decay,
            an activation on a whole layer other than softmax, or a loss that is not a sum over the outputs.

    Cached per architecture and per the activations' and loss's formulas
    (so an entry registered again under the same name is derived again).
    """
    key = _signature(mlp)
    if key not in _CACHE:
        if len(_CACHE) >= 64:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _derive(mlp)
    return _CACHE[key]


_CACHE: dict[tuple, NetworkDerivation] = {}


def _signature(arch: Any) -> tuple:
    """What the derivation depends on: each layer's kind, widths, bias and activation formula; the loss."""
    parts: list[tuple] = []
    for layer in walk(arch.stack):
        activation = getattr(layer, "activation", None)
        formula = activation.of(LAMBDA_VARIABLE, layer.slope) if activation is not None and activation.elementwise else None
        parts.append((layer.kind, layer.stage, layer.width_in, layer.width_out, getattr(layer, "bias", None),
                      getattr(layer, "name", None), formula, type(layer).__name__))
    entry = None
    try:
        entry = loss_entry(arch.loss, arch.n_outputs)[2]
    except SpecError:  # refused when derived, naming the loss
        pass
    return (tuple(parts), arch.loss, entry, bool(arch.weight_decay), arch.n_inputs)


def layers_text(arch: Any) -> str:
    """An MLP's widths (``[2, 2, 2]``), or a layer list as its layers (``[linear 3, tanh, linear 1]``)."""
    if hasattr(arch, "activations"):
        return str(arch.layers)
    return "[" + ", ".join(layer.describe for layer in arch.stack) + "]"


def _derive(arch: Any) -> NetworkDerivation:
    nodes, leaves, y = _layer_nodes(arch)
    stages = sorted({layer.stage for layer in arch.stack})
    wrt = [leaves[name] for name in arch.param_shapes()]
    wrt.append(leaves["x"])  # dL/da_prev of the first layer: dL/dx
    labels = {f"delta{l}": f"δ{l}" for l in stages if l}
    names = {node.name: gradient_name(node.name) for node in nodes}
    activations = ", ".join(layer.name for layer in arch.stack if layer.kind == "activation")
    text = f"{layers_text(arch)} ({activations}; {arch.loss})"
    derivation = derive_nodes(text, nodes, leaves, wrt, labels=labels, gradient_names=names)
    by_pair = {(s.node.name, s.input.name): s for s in derivation.steps}
    symbol = {**leaves, **{node.name: node.symbol for node in nodes}}
    result = []
    for stage in stages:
        layers = {layer.kind: layer for layer in arch.stack if layer.stage == stage}
        linear, activation = layers.get("linear"), layers.get("activation")
        first = linear or activation
        a_prev = "x" if first is arch.stack[0] else first.in_name
        z = symbol[linear.out] if linear is not None else symbol[a_prev]
        a = symbol[activation.out] if activation is not None else z
        W = leaves[f"W{stage}"] if linear is not None else None
        b = leaves.get(f"b{stage}") if linear is not None else None
        result.append(
            LayerFormulas(
                index=stage,
                activation=activation.name if activation is not None else None,
                W=W,
                b=b,
                a_prev=symbol[a_prev],
                z=z,
                a=a,
                dL_da=derivation.adjoints[a].gradient,
                delta=derivation.adjoints[z].gradient,
                delta_step=by_pair.get((a.name, z.name)),
                dW_step=by_pair.get((z.name, W.name)) if W is not None else None,
                db_step=by_pair.get((z.name, b.name)) if b is not None else None,
                da_prev_step=by_pair.get((z.name, a_prev)) if linear is not None else None,
            )
        )
    loss_step = by_pair[("L", nodes[-2].name)]
    return NetworkDerivation(arch, derivation, result, loss_step, y)
