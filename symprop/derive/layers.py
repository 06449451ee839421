"""A network's layers as matrix formulas, and each layer derived on its own.

One sample is a column. The layer kinds derive writes (see :mod:`symprop.nn.layers`
for the table they come from), each as one matrix intermediate:

* ``linear``: ``z = W·a_prev + b`` (a shared bias, ``bias = "layer"``, is
  ``𝟙·b`` with ``b`` 1x1, so its gradient is ``𝟙ᵀ·δ``, the sum of ``δ``'s entries);
* an elementwise activation: ``a = f(z)`` entry by entry, ``f`` the activation
  table's formula (:func:`symprop.nn.activation_formula`); ``softmax``: ``a = softmax(z)``;
* the loss: ``L = ℓ(a, y)``, the loss table's formula as a sum over the entries.

:func:`symprop.derive.network.derive_network` chains them into the derivation
of a whole network. :func:`derive_layer` and :func:`derive_loss` derive one
at a time, the gradient of the layer's output arriving from the right as a
symbol (``δl = ∂L/∂zl`` for a linear layer, ``∂L/∂al`` for an activation):
the formulas the matrix view (:mod:`symprop.matrix`) evaluates sample by
sample, on a layer list of any kinds.

Batchnorm, layernorm, dropout and residual blocks have no matrix formulas
here (the matrix view shows their closed forms), and of the activations that
act on a whole layer only softmax has one: asking for any other raises a
:class:`~symprop.errors.SpecError` that names it, never a wrong formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy
from sympy import Lambda, MatAdd, MatMul, MatrixSymbol, OneMatrix, Symbol

from ..errors import SpecError
from ..nn import get_activation, get_loss
from ..nn.activations import A
from ..nn.losses import Y
from .algebra import LAMBDA_VARIABLE, Softmax, elementwise, lift
from .steps import Derivation, MatrixNode, MatrixStep, derive_nodes

__all__ = ["DERIVED_KINDS", "LayerDerivation", "layer_nodes", "loss_node", "loss_entry", "derive_layer",
           "derive_loss", "gradient_name"]

#: The layer kinds written as matrix formulas (every other kind is refused, naming it).
DERIVED_KINDS = ("linear", "activation")


@dataclass(frozen=True)
class LayerDerivation:
    """One layer (or the loss) derived on its own.

    Attributes:
        output: the symbol of what it makes (``z2``, ``a2``, ``L``).
        gradient: the symbol of ``∂L/∂output`` arriving from the right (``delta2``,
            ``dL_da2``); ``None`` for the loss, whose gradient is 1.
        inputs: its inputs' symbols by role: ``W``, ``b``, ``a_prev`` (linear),
            ``z`` (an activation's input), ``a`` and ``y`` (the loss).
        steps: the step into each input it differentiates for, by role, written in
            ``gradient`` (``W: delta2·a1ᵀ``, ``z: dL_da2 ⊙ a2 ⊙ (𝟙 - a2)``).
        derivation: the whole record (its rules and labels).
    """

    output: MatrixSymbol
    gradient: MatrixSymbol | None
    inputs: dict[str, MatrixSymbol]
    steps: dict[str, MatrixStep]
    derivation: Derivation


def gradient_name(name: str) -> str:
    """The name of ``∂L/∂v``'s symbol: ``delta2`` for a linear layer's ``z2``, ``dL_dv`` otherwise."""
    if name.startswith("z") and name[1:].isdigit():
        return f"delta{name[1:]}"
    return f"dL_d{name}"


def _refuse(layer: Any) -> None:
    if layer.kind not in DERIVED_KINDS:
        raise SpecError(
            f"{layer.where()}: {layer.kind} has no matrix formulas to derive yet; derive writes linear "
            "layers, activations and the loss (the matrix view shows this layer's backward pass in closed form)"
        )
    activation = getattr(layer, "activation", None)
    if activation is not None and not activation.elementwise and activation.name != "softmax":
        raise SpecError(
            f"the activation {activation.name!r} (layer {layer.stage}) acts on the whole layer, not entry by "
            "entry, and derive has a matrix formula for softmax's Jacobian only, so neither symprop derive nor "
            "the matrix view can show it (the scalar walkthrough can)"
        )


def layer_nodes(layer: Any, a_prev: MatrixSymbol) -> tuple[list[MatrixNode], dict[str, MatrixSymbol], MatrixSymbol]:
    """One layer of a layer list as matrix intermediates for one sample: its nodes, its parameters, its output.

    Args:
        layer: a configured layer (:class:`symprop.nn.layers.Layer`) of a kind in :data:`DERIVED_KINDS`.
        a_prev: the symbol of what it takes (``x`` or ``a0`` for the input, ``a1`` ...).

    Raises:
        SpecError: a kind derive does not write, or an activation on the whole layer other than softmax.
    """
    _refuse(layer)
    width = layer.width_out
    if layer.kind == "linear":
        l = layer.stage
        W = MatrixSymbol(f"W{l}", width, layer.width_in)
        product = MatMul(W, a_prev)
        if layer.bias == "none":
            formula, b = product, None
        elif layer.bias == "layer":
            b = MatrixSymbol(f"b{l}", 1, 1)
            formula = MatAdd(product, MatMul(OneMatrix(width, 1), b))
        else:
            b = MatrixSymbol(f"b{l}", width, 1)
            formula = MatAdd(product, b)
        z = MatrixSymbol(layer.out, width, 1)
        params = {"W": W, **({"b": b} if b is not None else {})}
        inputs = (W, a_prev) + ((b,) if b is not None else ())
        return [MatrixNode(z, formula, "affine", inputs, parts=(W, a_prev, b, layer.bias))], params, z
    a = MatrixSymbol(layer.out, width, 1)
    if not layer.activation.elementwise:  # softmax (_refuse let no other through)
        return [MatrixNode(a, Softmax(a_prev), "softmax", (a_prev,), function_name=layer.name)], {}, a
    function = Lambda(LAMBDA_VARIABLE, layer.activation.of(LAMBDA_VARIABLE, layer.slope))
    node = MatrixNode(a, elementwise(function, a_prev), "elementwise", (a_prev,), function=function,
                      function_name=layer.name)
    return [node], {}, a


def loss_entry(name: str, width: int) -> tuple[Symbol, Symbol, sympy.Expr]:
    """``(a, y, g)``: the loss table's ``name`` as one entry's term ``g(a, y)``, so that ``ℓ = Σ_k g(a_k, y_k)``.

    >>> loss_entry("half_squared_error", 3)[2]
    (a - y)**2/2

    Raises:
        SpecError: the loss is not such a sum (it has no entry by entry matrix formula).
    """
    a = [Symbol(f"a_{k}", real=True) for k in range(width)]
    y = [Symbol(f"y_{k}", real=True) for k in range(width)]
    groups: dict[int, list[sympy.Expr]] = {}
    problem = f"the loss {name!r} is not a sum of one term per output, so derive has no matrix formula for it"
    for term in sympy.Add.make_args(get_loss(name).formula(a, y)):
        indices = {int(s.name.split("_")[1]) for s in term.free_symbols}
        if len(indices) != 1:
            raise SpecError(problem)
        groups.setdefault(indices.pop(), []).append(term)
    entry = sympy.Add(*groups.get(0, [])).xreplace({a[0]: A, y[0]: Y})
    for k in range(width):
        if sympy.Add(*groups.get(k, [])).xreplace({a[k]: A, y[k]: Y}) != entry:
            raise SpecError(problem)
    return A, Y, entry


def loss_node(name: str, output: MatrixSymbol, y: MatrixSymbol) -> MatrixNode:
    """``L = ℓ(output, y)``: the loss table's ``name`` over the entries, with its gradient ``∂ℓ/∂a`` entry by entry."""
    width = int(output.shape[0])
    s_a, s_y, entry = loss_entry(name, width)
    back = {s_a: output, s_y: y}
    terms = lift(entry, back, output.shape)
    loss = MatMul(OneMatrix(1, width), terms) if width > 1 else terms
    gradient = lift(sympy.diff(entry, s_a), back, output.shape)
    return MatrixNode(MatrixSymbol("L", 1, 1), loss, "loss", (output, y), function_name=name, loss_gradient=gradient)


def derive_layer(layer: Any) -> LayerDerivation:
    """One linear or activation layer derived on its own, written in its output's gradient.

    The symbols are named as the layer names its values (``W2``, ``a1``,
    ``z2``; the input is ``a0``), the gradients ``delta2`` for ``z2`` and
    ``dL_da2`` for the rest. Cached per layer description and activation
    formula, so a network's matrix view derives each kind of layer once.

    Raises:
        SpecError: a kind derive does not write, or an activation on the whole layer other than softmax.

    >>> from symprop.nn import MLP
    >>> from symprop.derive.printing import write
    >>> sigmoid = MLP([2, 3, 1]).stack[1]
    >>> write(derive_layer(sigmoid).steps["z"].compact)
    'dL_da1 ⊙ a1 ⊙ (𝟙 - a1)'
    """
    _refuse(layer)
    name = layer.in_name if layer.in_name != layer.out else "x"  # an activation before the first linear layer
    if layer.kind == "linear":
        return _linear(layer.width_in, layer.width_out, layer.bias, layer.stage, name)
    formula = None if not layer.activation.elementwise else layer.activation.of(LAMBDA_VARIABLE, layer.slope)
    return _activation(layer.name, formula, layer.slope, layer.width_in, name, layer.out)


@dataclass
class _Piece:
    """What :func:`_derive` needs of a layer: its kind, stage, widths and names (a layer made again from them)."""

    kind: str
    stage: int
    width_in: int
    width_out: int
    in_name: str
    out: str
    bias: str = "none"
    name: str = ""
    slope: sympy.Expr = sympy.S.Zero

    @property
    def activation(self):
        return get_activation(self.name) if self.kind == "activation" else None


@lru_cache(maxsize=256)
def _linear(width_in: int, width_out: int, bias: str, stage: int, in_name: str) -> LayerDerivation:
    piece = _Piece("linear", stage, width_in, width_out, in_name, f"z{stage}", bias=bias)
    return _derive(piece)


@lru_cache(maxsize=256)
def _activation(name: str, formula: sympy.Expr | None, slope: sympy.Expr, width: int, in_name: str,
                out: str) -> LayerDerivation:
    """``formula`` (the table's, in ``t``) is part of the cache's key: an entry registered again is derived again."""
    piece = _Piece("activation", 0, width, width, in_name, out, name=name, slope=slope)
    return _derive(piece)


def _derive(piece: _Piece) -> LayerDerivation:
    a_prev = MatrixSymbol(piece.in_name, piece.width_in, 1)
    nodes, params, output = layer_nodes(piece, a_prev)
    leaves = {a_prev.name: a_prev, **{s.name: s for s in params.values()}}
    inputs = {**params, **({"a_prev": a_prev} if piece.kind == "linear" else {"z": a_prev})}
    gradient = MatrixSymbol(gradient_name(output.name), *output.shape)
    wrt = list(inputs.values())
    names = {s.name: gradient_name(s.name) for s in wrt}
    derivation = derive_nodes(f"{output.name} = {piece.name or piece.kind}", nodes, leaves, wrt, gradient_names=names,
                              upstream=gradient)
    by_input = {step.input: step for step in derivation.steps}
    steps = {role: by_input[symbol] for role, symbol in inputs.items()}
    return LayerDerivation(output, gradient, inputs, steps, derivation)


@lru_cache(maxsize=64)
def derive_loss(name: str, width: int, output: str, entry: sympy.Expr | None = None) -> LayerDerivation:
    """The loss ``name`` derived on its own: ``∂ℓ/∂output`` of one sample's loss (``a2 - y``).

    ``entry`` is the loss's term per output (:func:`loss_entry`), a key of the
    cache only, so that a loss registered again under the same name is derived again.
    """
    a = MatrixSymbol(output, width, 1)
    y = MatrixSymbol("y", width, 1)
    node = loss_node(name, a, y)
    derivation = derive_nodes(f"L = {name}({output}, y)", [node], {output: a, "y": y}, [a],
                              gradient_names={output: gradient_name(output)})
    return LayerDerivation(node.symbol, None, {"a": a, "y": y}, {"a": derivation.steps[0]}, derivation)
