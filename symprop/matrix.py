"""The matrix (Jacobian) view of a network's backward pass.

Per layer ``l``, with samples as columns (one column for one sample)::

    z_l = W_l a_{l-1} + b_l            # (n_l, m) = (n_l, n_{l-1}) (n_{l-1}, m) + (n_l, 1)
    a_l = sigma(z_l)                   # elementwise (or softmax per column)

and right to left, from ``dL/da_L`` (the loss's derivative)::

    delta_l   = dL/dz_l = (da_l/dz_l)^T dL/da_l     # the Jacobian da/dz: diagonal unless softmax
    dL/dW_l   = delta_l a_{l-1}^T                   # sums over the samples (the columns)
    dL/db_l   = delta_l 1                           # a shared bias: the sum of every entry
    dL/da_{l-1} = (dz_l/da_{l-1})^T delta_l = W_l^T delta_l

Every other layer of a layer list gives its own matrices (batchnorm its
batch mean and variance, and its backward pass in closed form; dropout its
mask; a residual block the skip's sum): each kind writes them
(:mod:`symprop.nn.layers`), this module runs them in order and records what
they write. Every matrix is a SymPy matrix of values (exact for exact input);
the Jacobians' formulas come from ``sympy.diff`` of the activation, written
in the activation itself (``a*(1 - a)`` for a sigmoid). The numbers are the
scalar view's (:meth:`symprop.nn.Network.backward`), which a test holds them to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from .graph import to_number
from .nn import Network, get_loss
from .nn.activations import A, Z
from .nn.layers import walk
from .nn.size import limit_matrix_work

__all__ = ["LayerView", "MatrixView", "matrix_view"]

#: The per-layer keys of an MLP's view (and of its JSON), in order.
LEGACY = ("W", "b", "a_prev", "z", "a", "derivative", "jacobians", "dL_da", "delta", "dW", "db", "dL_da_prev")


@dataclass
class LayerView:
    """One layer's matrices (values), samples as columns: a linear layer and the layers after it up to the next.

    Attributes:
        index: ``l`` (1 for the first layer with weights; 0 for layers before it).
        activation: the activation's name (None for a layer without one).
        W: ``(n_l, n_{l-1})``; also ``dz_l/da_{l-1}``.
        b: ``(n_l, 1)``, every entry the shared bias for ``bias = "layer"``; ``None`` without bias.
        a_prev, z, a: ``(n_{l-1}, m)``, ``(n_l, m)``, ``(n_l, m)``.
        derivative: the formula of ``da/dz`` per entry (``a*(1 - a)``), or the
            softmax Jacobian's formula ``(n_l, n_l)`` in ``a`` symbols.
        jacobians: ``da_l/dz_l`` for each sample, ``(n_l, n_l)`` (diagonal unless softmax).
        dL_da: ``(n_l, m)``, arriving from the right.
        delta: ``dL/dz_l``, ``(n_l, m)``.
        dW: ``dL/dW_l = delta a_prev^T``, ``(n_l, n_{l-1})``.
        db: ``(n_l, 1)``, a ``(1, 1)`` sum for a shared bias, or ``None``.
        dL_da_prev: ``W^T delta``, ``(n_{l-1}, m)``.
        values: the other layers' matrices by name (``mu1``, ``xhat1``, ``mask1``, ...).
    """

    index: int
    activation: str | None = None
    bias_mode: str = "none"
    W: sympy.Matrix | None = None
    b: sympy.Matrix | None = None
    a_prev: sympy.Matrix | None = None
    z: sympy.Matrix | None = None
    a: sympy.Matrix | None = None
    derivative: sympy.Expr | sympy.Matrix | None = None
    jacobians: list[sympy.Matrix] = field(default_factory=list)
    dL_da: sympy.Matrix | None = None
    delta: sympy.Matrix | None = None
    dW: sympy.Matrix | None = None
    db: sympy.Matrix | None = None
    dL_da_prev: sympy.Matrix | None = None
    values: dict[str, sympy.Matrix] = field(default_factory=dict)


@dataclass
class MatrixView:
    """The whole network, layer by layer, as matrices.

    Attributes:
        network: the network.
        samples: which samples are the columns (all of them for the batch loss).
        scale: the factor of each sample's loss in ``L`` (``1/m`` for a mean over ``m`` samples).
        layers: one :class:`LayerView` per linear layer (and one for layers before the first), first to last.
        loss: ``L``'s value.
        loss_derivative: ``dl/da_L[k]`` as a formula in ``a`` and ``y`` symbols (one sample's loss ``l``).
        forward_items, backward_items: what the renderers print, in order: ``("stage", l, text)``,
            ``("eq", name, sides, note)`` (each side a text or a matrix) and ``("text", line)``.
        output: the name of the network's output (``a2``).
    """

    network: Network
    samples: list[int]
    scale: sympy.Expr
    layers: list[LayerView]
    loss: sympy.Expr
    loss_derivative: sympy.Matrix
    forward_items: list[tuple] = field(default_factory=list)
    backward_items: list[tuple] = field(default_factory=list)
    output: str = "a"
    grads: dict[str, sympy.Matrix] = field(default_factory=dict)
    input: sympy.Matrix | None = None

    def gradients(self) -> dict[str, np.ndarray]:
        """``dL/dparam`` as float64 arrays shaped like the parameters."""
        result: dict[str, np.ndarray] = {}
        for name, shape in self.network.mlp.param_shapes().items():
            array = np.array(self.grads[name].tolist(), dtype=np.float64)
            result[name] = np.array(array[0, 0]) if shape == () else array[:, 0] if len(shape) == 1 else array
        return result


class _Recorder:
    """What the layers' ``matrix_*`` parts write into: the matrices, the items to print, the gradients."""

    def __init__(self, network: Network, samples: list[int]):
        self.network = network
        self.network_masks = network.masks
        self.samples = samples
        self.exact = network.exact
        self.stages: dict[int, dict[str, Any]] = {}
        self.items: list[tuple] = []
        self.grads: dict[str, sympy.Matrix] = {}
        self._after_params: set[int] = set()
        self._current: int | None = None
        self._inputs: dict[int, sympy.Matrix] = {}
        seen = False
        for layer in _preorder(network.mlp.stack):
            if seen:
                self._after_params.add(id(layer))
            seen = seen or bool(layer.param_shapes())

    def matrix(self, array: np.ndarray) -> sympy.Matrix:
        array = np.atleast_2d(array)
        exact = self.exact
        return sympy.Matrix(array.shape[0], array.shape[1], lambda i, j: to_number(array[i, j], exact=exact))

    def param(self, name: str) -> sympy.Matrix:
        """A parameter as a matrix: ``W`` as it is, a vector as a column."""
        value = self.network.params[name]
        return self.matrix(value.reshape(-1, 1) if value.ndim == 1 else value)

    def stage(self, layer: Any) -> dict[str, Any]:
        return self.stages.setdefault(layer.stage, {})

    def input_grad(self, layer: Any) -> bool:
        return id(layer) in self._after_params

    def forward(self, name: str, *sides: Any, note: str = "") -> None:
        self.items.append(("eq", name, sides, note))

    backward = forward

    def text(self, line: str) -> None:
        self.items.append(("text", line))

    def decay_rate(self) -> sympy.Expr:
        """Weight decay's ``λ`` as a number of the view (0 without)."""
        return self.matrix(np.array([[self.network.mlp.weight_decay]]))[0, 0]

    def grad(self, name: str, matrix: sympy.Matrix) -> None:
        self.grads[name] = matrix

    def _enter(self, layer: Any, describe: dict[int, str]) -> None:
        if layer.stage != self._current:
            self._current = layer.stage
            self.items.append(("stage", layer.stage, describe.get(layer.stage, "")))

    def layer_forward(self, layer: Any, h: sympy.Matrix) -> sympy.Matrix:
        if layer.kind != "residual":
            self._enter(layer, self.describe)
        self._inputs[id(layer)] = h
        return layer.matrix_forward(self, h)

    def layer_backward(self, layer: Any, d: sympy.Matrix, h: sympy.Matrix) -> sympy.Matrix | None:
        if layer.kind != "residual":
            self._enter(layer, {})
        return layer.matrix_backward(self, d, self._inputs[id(layer)])

    # the activations: as the MLP's view always showed them

    def activation_forward(self, layer: Any, z: sympy.Matrix) -> sympy.Matrix:
        activation = layer.activation
        if activation.elementwise:
            a = z.applyfunc(lambda v: activation.of(v, layer.slope))
        else:  # one column (sample) at a time: each output depends on the whole column
            columns = [activation.formula(list(z[:, s]), layer.slope) for s in range(z.cols)]
            a = sympy.Matrix(z.rows, z.cols, lambda i, s: columns[s][i])
        self.stage(layer).update(a=a, activation=layer.name, _z=z)
        self.forward(layer.out, f"{layer.name}({layer.in_name})", a)
        return a

    def activation_backward(self, layer: Any, d: sympy.Matrix, h: sympy.Matrix) -> sympy.Matrix:
        stage, activation = self.stage(layer), layer.activation
        z, a = stage["_z"], stage["a"]
        if activation.elementwise:
            derivative = activation.derivative(layer.slope)
            jacobians = [
                sympy.diag(*[derivative.xreplace({Z: z[i, s], A: a[i, s]}) for i in range(z.rows)])
                for s in range(z.cols)
            ]
            text = f"diag({sympy.sstr(derivative)}), elementwise ({layer.name}')"
        else:  # softmax: each column's Jacobian, written through that column's outputs
            symbols, derivative = activation.jacobian(z.rows)
            jacobians = [derivative.xreplace(dict(zip(symbols, a[:, s]))) for s in range(z.cols)]
            text = "softmax Jacobian: da_i/dz_j = a_i*(δ_ij - a_j)"
        delta = sympy.Matrix.hstack(*[jacobians[s].T * d[:, s] for s in range(z.cols)])  # (n_l, m)
        stage.update(derivative=derivative, jacobians=jacobians, dL_da=d)
        out, src, m = layer.out, layer.in_name, z.cols
        name = f"delta{layer.stage} = dL/d{src}" if src == f"z{layer.stage}" else f"dL/d{src}"
        self.text(f"    d{out}/d{src} = {text}")
        if m == 1:
            self.backward(f"d{out}/d{src}", jacobians[0])
            self.backward(name, f"(d{out}/d{src})^T·dL/d{out}", delta)
        elif not activation.elementwise:
            for s, jacobian in zip(self.samples, jacobians):
                self.backward(f"d{out}/d{src} (s{s})", jacobian)
            self.backward(name, f"(d{out}/d{src})^T·dL/d{out}, column by column", delta)
        else:  # diagonal Jacobians: their diagonals, one column per sample, and a product entry by entry
            diagonals = sympy.Matrix(z.rows, m, lambda i, s: jacobians[s][i, i])
            self.backward(f"{layer.name}'({src})", diagonals)
            self.backward(name, f"{layer.name}'({src}) ⊙ dL/d{out}", delta)
        return delta


def _preorder(stack: list) -> list:
    found = []
    for layer in stack:
        found.append(layer)
        found.extend(_preorder(layer.sublayers()))
    return found


def _describe(stack: list) -> dict[int, str]:
    """Each stage's heading: its layers after the linear one (an MLP's: the activation's name)."""
    parts: dict[int, list[str]] = {}
    for layer in walk(stack):
        if layer.kind == "residual":
            continue
        names = parts.setdefault(layer.stage, [])
        if layer.kind != "linear":
            names.append(layer.describe)
    return {stage: ", ".join(names) or "linear" for stage, names in parts.items()}


def matrix_view(network: Network, sample: int | None = None) -> MatrixView:
    """The matrix view of ``network``'s backward pass: the batch loss, or sample ``sample``'s own loss.

    >>> from symprop.nn import MLP
    >>> net = Network(MLP([1, 1], "identity"), {"W1": [[2]], "b1": [1]}, [[3]], [[5]], exact=True)
    >>> view = matrix_view(net)
    >>> view.loss, view.layers[0].delta, view.layers[0].dW
    (2, Matrix([[2]]), Matrix([[6]]))
    """
    mlp = network.mlp
    if sample is None:
        samples = list(range(network.samples))
        scale = sympy.Rational(1, len(samples)) if mlp.reduction == "mean" else sympy.S.One
    else:
        network.require_own_sample(network.sample_index(sample))
        samples = [network.sample_index(sample)]
        scale = sympy.S.One
    limit_matrix_work(mlp, len(samples))
    network.validate_outputs(sample)  # binary cross-entropy: outputs in [0, 1]
    mv = _Recorder(network, samples)
    mv.describe = _describe(mlp.stack)
    h = mv.matrix(network.x[samples].T)  # (n0, m): samples as columns
    first = h
    for layer in mlp.stack:
        h = mv.layer_forward(layer, h)
    forward_items, mv.items = mv.items, []

    # dl/da_L for one sample's loss l, then its values per sample (scaled for a mean)
    width = mlp.n_outputs
    a_sym = [sympy.Symbol(f"a_{k}", real=True) for k in range(width)]
    y_sym = [sympy.Symbol(f"y_{k}", real=True) for k in range(width)]
    per_sample_loss = get_loss(mlp.loss).formula(a_sym, y_sym)
    loss_derivative = sympy.Matrix([sympy.diff(per_sample_loss, ak) for ak in a_sym])
    y = mv.matrix(network.y[samples].T)
    losses, columns = [], []
    for s in range(len(samples)):
        point = {**dict(zip(a_sym, h[:, s])), **dict(zip(y_sym, y[:, s]))}
        losses.append(per_sample_loss.xreplace(point))
        columns.append(loss_derivative.xreplace(point) * scale)
    d = sympy.Matrix.hstack(*columns)
    loss = scale * sum(losses, sympy.S.Zero)
    if mlp.weight_decay:  # lambda/2 sum W^2 (each weight's gradient gets lambda W: see the linear layer)
        rate = mv.decay_rate()
        loss += rate / 2 * sum((sum(mv.param(w).multiply_elementwise(mv.param(w)), sympy.S.Zero)
                                for w in mlp.weights()), sympy.S.Zero)
    output = mlp.stack[-1].out
    mv.backward(f"dL/d{output}", d)
    mv.stages[mlp.stack[-1].stage]["dL_da"] = d
    mv.items.insert(0, ("stage", mlp.stack[-1].stage, ""))
    mv._current = mlp.stack[-1].stage
    for layer in reversed(mlp.stack):
        d = mv.layer_backward(layer, d, None)
        if d is None:
            break
    layers = []
    for stage, data in sorted(mv.stages.items()):
        legacy = {key: data.get(key) for key in LEGACY}
        legacy["jacobians"] = legacy["jacobians"] or []
        values = {k: v for k, v in data.items() if k not in LEGACY and k != "activation" and not k.startswith("_")}
        bias_mode = next((layer.bias for layer in walk(mlp.stack) if layer.kind == "linear" and layer.stage == stage), "none")
        layers.append(LayerView(stage, data.get("activation"), bias_mode, **legacy, values=values))
    return MatrixView(network, samples, scale, layers, loss, loss_derivative, forward_items, mv.items, output,
                      mv.grads, first)
