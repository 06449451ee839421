"""A network's backward pass derived as matrix formulas: ``delta``, ``dL/dW``, ``dL/db``, ``dL/da_prev`` per layer.

One sample is a column. The forward pass is written as matrix intermediates,
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
gradient is ``𝟙ᵀ·δ``, the sum of ``δ``'s entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy
from sympy import Lambda, MatAdd, MatMul, MatrixSymbol, OneMatrix, Symbol

from ..nn import MLP, activation_formula, loss_formula
from .algebra import LAMBDA_VARIABLE, Softmax, elementwise, lift
from .steps import Derivation, MatrixNode, MatrixStep, derive_nodes

__all__ = ["LayerFormulas", "NetworkDerivation", "derive_network", "loss_entry"]


@dataclass(frozen=True)
class LayerFormulas:
    """One layer's derived formulas (one sample as a column).

    Attributes:
        index: ``l``.
        activation: its name.
        W, b, a_prev, z, a: the symbols (``b`` is ``None`` without bias; ``a_prev`` is ``x`` for layer 1).
        dL_da, delta, dL_db_symbol: the symbols of ``∂L/∂a_l`` and ``δ_l = ∂L/∂z_l``.
        steps: the steps into ``z_l`` (δ), ``W_l``, ``b_l`` and ``a_(l-1)`` (each a :class:`MatrixStep`).
    """

    index: int
    activation: str
    W: MatrixSymbol
    b: MatrixSymbol | None
    a_prev: MatrixSymbol
    z: MatrixSymbol
    a: MatrixSymbol
    dL_da: MatrixSymbol
    delta: MatrixSymbol
    delta_step: MatrixStep
    dW_step: MatrixStep
    db_step: MatrixStep | None
    da_prev_step: MatrixStep | None


@dataclass
class NetworkDerivation:
    """A network's matrix derivation: the general :class:`Derivation` and its layers.

    Attributes:
        mlp: the architecture.
        derivation: every intermediate and step (the loss is ``L``).
        layers: each layer's formulas, first to last.
        loss_step: ``∂L/∂a_L`` from the loss table.
        y: the target's symbol.
    """

    mlp: MLP
    derivation: Derivation
    layers: list[LayerFormulas]
    loss_step: MatrixStep
    y: MatrixSymbol


def loss_entry(name: str, width: int) -> tuple[Symbol, Symbol, sympy.Expr]:
    """``(a, y, g)``: the loss table's ``name`` as one entry's term ``g(a, y)``, so that ``ℓ = Σ_k g(a_k, y_k)``.

    >>> loss_entry("half_squared_error", 3)[2]
    (-a + y)**2/2
    """
    a = [Symbol(f"a_{k}", real=True) for k in range(width)]
    y = [Symbol(f"y_{k}", real=True) for k in range(width)]
    groups: dict[int, list[sympy.Expr]] = {}
    for term in sympy.Add.make_args(loss_formula(name, a, y)):
        indices = {int(s.name.split("_")[1]) for s in term.free_symbols}
        if len(indices) != 1:
            raise ValueError(f"the loss {name!r} is not a sum over the entries")
        groups.setdefault(indices.pop(), []).append(term)
    s_a, s_y = Symbol("a", real=True), Symbol("y", real=True)
    entry = sympy.Add(*groups[0]).xreplace({a[0]: s_a, y[0]: s_y})
    for k, terms in groups.items():
        if sympy.Add(*terms).xreplace({a[k]: s_a, y[k]: s_y}) != entry:
            raise ValueError(f"the loss {name!r} treats the entries differently")
    return s_a, s_y, entry


def _layer_nodes(mlp: MLP) -> tuple[list[MatrixNode], dict[str, MatrixSymbol], MatrixSymbol]:
    """The forward pass of one sample as intermediates ``z1, a1, ..., L``, and the given matrices."""
    widths, slope = mlp.layers, sympy.Rational(repr(float(mlp.slope)))
    x = MatrixSymbol("x", widths[0], 1)
    y = MatrixSymbol("y", widths[-1], 1)
    leaves: dict[str, MatrixSymbol] = {"x": x}
    nodes: list[MatrixNode] = []
    a_prev = x
    for l, name in enumerate(mlp.activations, start=1):
        W = leaves[f"W{l}"] = MatrixSymbol(f"W{l}", widths[l], widths[l - 1])
        product = MatMul(W, a_prev)
        if mlp.bias == "none":
            formula, b = product, None
        elif mlp.bias == "layer":
            b = leaves[f"b{l}"] = MatrixSymbol(f"b{l}", 1, 1)
            formula = MatAdd(product, MatMul(OneMatrix(widths[l], 1), b))
        else:
            b = leaves[f"b{l}"] = MatrixSymbol(f"b{l}", widths[l], 1)
            formula = MatAdd(product, b)
        z = MatrixSymbol(f"z{l}", widths[l], 1)
        inputs = (W, a_prev) + ((b,) if b is not None else ())
        nodes.append(MatrixNode(z, formula, "affine", inputs, parts=(W, a_prev, b, mlp.bias)))
        a = MatrixSymbol(f"a{l}", widths[l], 1)
        if name == "softmax":
            nodes.append(MatrixNode(a, Softmax(z), "softmax", (z,), function_name="softmax"))
        else:
            function = Lambda(LAMBDA_VARIABLE, activation_formula(name, LAMBDA_VARIABLE, slope))
            nodes.append(MatrixNode(a, elementwise(function, z), "elementwise", (z,), function=function, function_name=name))
        a_prev = a
    leaves["y"] = y
    s_a, s_y, entry = loss_entry(mlp.loss, widths[-1])
    back = {s_a: a_prev, s_y: y}
    terms = lift(entry, back, a_prev.shape)
    loss = MatMul(OneMatrix(1, widths[-1]), terms) if widths[-1] > 1 else terms
    gradient = lift(sympy.diff(entry, s_a), back, a_prev.shape)
    nodes.append(MatrixNode(MatrixSymbol("L", 1, 1), loss, "loss", (a_prev, y), function_name=mlp.loss, loss_gradient=gradient))
    return nodes, leaves, y


def derive_network(mlp: MLP) -> NetworkDerivation:
    """The matrix formulas of ``mlp``'s backward pass for one sample, derived.

    Cached per architecture and per the activations' and loss's formulas
    (so an entry registered again under the same name is derived again).
    """
    slope = sympy.Rational(repr(float(mlp.slope)))
    t = LAMBDA_VARIABLE
    formulas = tuple(None if name == "softmax" else activation_formula(name, t, slope) for name in mlp.activations)
    loss = loss_entry(mlp.loss, mlp.layers[-1])[2]
    return _derive(tuple(mlp.layers), tuple(mlp.activations), mlp.loss, mlp.bias, float(mlp.slope), formulas, loss)


@lru_cache(maxsize=64)
def _derive(
    layers: tuple[int, ...], activations: tuple[str, ...], loss: str, bias: str, slope: float, *key: object
) -> NetworkDerivation:
    mlp = MLP(list(layers), list(activations), loss, bias=bias, slope=slope)
    nodes, leaves, y = _layer_nodes(mlp)
    depth = mlp.depth
    wrt = [leaves[f"{p}{l}"] for l in range(1, depth + 1) for p in ("W", "b") if f"{p}{l}" in leaves]
    wrt.append(leaves["x"])  # dL/da_prev of the first layer: dL/dx
    labels = {f"delta{l}": f"δ{l}" for l in range(1, depth + 1)}
    names = {f"z{l}": f"delta{l}" for l in range(1, depth + 1)}
    text = f"{mlp.layers} ({', '.join(mlp.activations)}; {mlp.loss})"
    derivation = derive_nodes(text, nodes, leaves, wrt, labels=labels, gradient_names=names)
    by_pair = {(s.node.name, s.input.name): s for s in derivation.steps}
    result = []
    for l, name in enumerate(mlp.activations, start=1):
        a_prev = "x" if l == 1 else f"a{l - 1}"
        z, a = derivation.node_symbol(f"z{l}"), derivation.node_symbol(f"a{l}")
        result.append(
            LayerFormulas(
                index=l,
                activation=name,
                W=leaves[f"W{l}"],
                b=leaves.get(f"b{l}"),
                a_prev=leaves["x"] if l == 1 else derivation.node_symbol(a_prev),
                z=z,
                a=a,
                dL_da=derivation.adjoints[a].gradient,
                delta=derivation.adjoints[z].gradient,
                delta_step=by_pair[(f"a{l}", f"z{l}")],
                dW_step=by_pair[(f"z{l}", f"W{l}")],
                db_step=by_pair.get((f"z{l}", f"b{l}")),
                da_prev_step=by_pair.get((f"z{l}", a_prev)),
            )
        )
    loss_step = by_pair[("L", f"a{depth}")]
    return NetworkDerivation(mlp, derivation, result, loss_step, y)


