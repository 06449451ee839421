"""The matrix (Jacobian) view of a network's backward pass.

Per layer ``l``, with samples as columns (one column for one sample)::

    z_l = W_l a_{l-1} + b_l            # (n_l, m) = (n_l, n_{l-1}) (n_{l-1}, m) + (n_l, 1)
    a_l = sigma(z_l)                   # elementwise (or softmax per column)

and right to left, from ``dL/da_L`` (the loss's derivative)::

    delta_l   = dL/dz_l = (da_l/dz_l)^T dL/da_l     # the Jacobian da/dz: diagonal unless softmax
    dL/dW_l   = delta_l a_{l-1}^T                   # sums over the samples (the columns)
    dL/db_l   = delta_l 1                           # a shared bias: the sum of every entry
    dL/da_{l-1} = (dz_l/da_{l-1})^T delta_l = W_l^T delta_l

Every matrix is a SymPy matrix of values (exact for exact input); the
Jacobians' formulas come from ``sympy.diff`` of the activation, written in the
activation itself (``a*(1 - a)`` for a sigmoid). The numbers are the scalar
view's (:meth:`symprop.nn.Network.backward`), which a test holds them to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .graph import to_number
from .nn import Network, get_activation, get_loss
from .nn.activations import A, Z, exact_slope
from .nn.size import check_matrix_work

__all__ = ["LayerView", "MatrixView", "matrix_view"]


@dataclass
class LayerView:
    """One layer's matrices (values), samples as columns.

    Attributes:
        index: ``l`` (1 for the first layer with weights).
        activation: the activation's name.
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
    """

    index: int
    activation: str
    bias_mode: str
    W: sympy.Matrix
    b: sympy.Matrix | None
    a_prev: sympy.Matrix
    z: sympy.Matrix
    a: sympy.Matrix
    derivative: sympy.Expr | sympy.Matrix
    jacobians: list[sympy.Matrix]
    dL_da: sympy.Matrix
    delta: sympy.Matrix
    dW: sympy.Matrix
    db: sympy.Matrix | None
    dL_da_prev: sympy.Matrix


@dataclass
class MatrixView:
    """The whole network, layer by layer, as matrices.

    Attributes:
        network: the network.
        samples: which samples are the columns (all of them for the batch loss).
        scale: the factor of each sample's loss in ``L`` (``1/m`` for a mean over ``m`` samples).
        layers: one :class:`LayerView` per layer, first to last.
        loss: ``L``'s value.
        loss_derivative: ``dl/da_L[k]`` as a formula in ``a`` and ``y`` symbols (one sample's loss ``l``).
    """

    network: Network
    samples: list[int]
    scale: sympy.Expr
    layers: list[LayerView]
    loss: sympy.Expr
    loss_derivative: sympy.Matrix

    def gradients(self) -> dict[str, np.ndarray]:
        """``dL/dW_l`` and ``dL/db_l`` as float64 arrays shaped like the parameters."""
        result: dict[str, np.ndarray] = {}
        for layer in self.layers:
            result[f"W{layer.index}"] = np.array(layer.dW.tolist(), dtype=np.float64)
            if layer.db is not None:
                db = np.array(layer.db.tolist(), dtype=np.float64)
                result[f"b{layer.index}"] = np.array(db[0, 0]) if layer.bias_mode == "layer" else db[:, 0]
        return result


def _value(number: Any, exact: bool) -> sympy.Expr:
    return to_number(number, exact=exact)


def _matrix(array: np.ndarray, exact: bool) -> sympy.Matrix:
    array = np.atleast_2d(array)
    return sympy.Matrix(array.shape[0], array.shape[1], lambda i, j: _value(array[i, j], exact))


def matrix_view(network: Network, sample: int | None = None) -> MatrixView:
    """The matrix view of ``network``'s backward pass: the batch loss, or sample ``sample``'s own loss.

    >>> from symprop.nn import MLP
    >>> net = Network(MLP([1, 1], "identity"), {"W1": [[2]], "b1": [1]}, [[3]], [[5]], exact=True)
    >>> view = matrix_view(net)
    >>> view.loss, view.layers[0].delta, view.layers[0].dW
    (2, Matrix([[2]]), Matrix([[6]]))
    """
    mlp, exact = network.mlp, network.exact
    check_matrix_work(mlp, network.samples if sample is None else 1)
    network.check_outputs(sample)  # binary cross-entropy: outputs in [0, 1]
    if sample is None:
        samples = list(range(network.samples))
        scale = sympy.Rational(1, len(samples)) if mlp.reduction == "mean" else sympy.S.One
    else:
        samples = [network.sample_index(sample)]
        scale = sympy.S.One
    slope = exact_slope(mlp.slope)
    a_prev = _matrix(network.x[samples].T, exact)  # (n0, m): samples as columns
    forward = []
    for l, name in enumerate(mlp.activations, start=1):
        W = _matrix(network.params[f"W{l}"], exact)
        b = None
        if mlp.bias != "none":
            bias = network.params[f"b{l}"]
            b = _matrix(np.full((mlp.layers[l], 1), bias[()]) if bias.ndim == 0 else bias.reshape(-1, 1), exact)
        z = W * a_prev
        if b is not None:
            z = z + b * sympy.ones(1, len(samples))
        activation = get_activation(name)
        if activation.elementwise:
            a = z.applyfunc(lambda v: activation.of(v, slope))
        else:  # one column (sample) at a time: each output depends on the whole column
            columns = [activation.formula(list(z[:, s]), slope) for s in range(z.cols)]
            a = sympy.Matrix(z.rows, z.cols, lambda i, s: columns[s][i])
        forward.append((l, name, W, b, a_prev, z, a))
        a_prev = a

    # dl/da_L for one sample's loss l, then its values per sample (scaled for a mean)
    width = mlp.layers[-1]
    a_sym = [sympy.Symbol(f"a_{k}", real=True) for k in range(width)]
    y_sym = [sympy.Symbol(f"y_{k}", real=True) for k in range(width)]
    per_sample_loss = get_loss(mlp.loss).formula(a_sym, y_sym)
    loss_derivative = sympy.Matrix([sympy.diff(per_sample_loss, ak) for ak in a_sym])
    y = _matrix(network.y[samples].T, exact)
    out = forward[-1][6]
    losses, columns = [], []
    for s in range(len(samples)):
        point = {**dict(zip(a_sym, out[:, s])), **dict(zip(y_sym, y[:, s]))}
        losses.append(per_sample_loss.xreplace(point))
        columns.append(loss_derivative.xreplace(point) * scale)
    dL_da = sympy.Matrix.hstack(*columns)
    loss = scale * sum(losses, sympy.S.Zero)

    layers: list[LayerView] = []
    for l, name, W, b, a_prev, z, a in reversed(forward):
        activation = get_activation(name)
        if activation.elementwise:
            derivative = activation.derivative(slope)
            jacobians = [
                sympy.diag(*[derivative.xreplace({Z: z[i, s], A: a[i, s]}) for i in range(z.rows)])
                for s in range(z.cols)
            ]
        else:  # softmax: each column's Jacobian, written through that column's outputs
            symbols, derivative = activation.jacobian(z.rows)
            jacobians = [derivative.xreplace(dict(zip(symbols, a[:, s]))) for s in range(z.cols)]
        delta = sympy.Matrix.hstack(*[jacobians[s].T * dL_da[:, s] for s in range(z.cols)])  # (n_l, m)
        dW = delta * a_prev.T  # (n_l, n_{l-1}): the sum over the samples of delta a_prev^T
        db = None
        if mlp.bias == "neuron":
            db = delta * sympy.ones(z.cols, 1)
        elif mlp.bias == "layer":
            db = sympy.Matrix([[sum(delta, sympy.S.Zero)]])
        dL_da_prev = W.T * delta
        layers.append(
            LayerView(l, name, mlp.bias, W, b, a_prev, z, a, derivative, jacobians, dL_da, delta, dW, db, dL_da_prev)
        )
        dL_da = dL_da_prev
    layers.reverse()
    return MatrixView(network, samples, scale, layers, loss, loss_derivative)
