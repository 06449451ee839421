"""The matrix (Jacobian) view of a network's backward pass (seeds 001 and 004).

Per layer ``l``, with samples as columns (one column for one sample)::

    z_l = W_l a_{l-1} + b_l            # (n_l, m) = (n_l, n_{l-1}) (n_{l-1}, m) + (n_l, 1)
    a_l = sigma(z_l)                   # elementwise (or softmax per column)

and right to left, from ``dL/da_L`` (the loss's derivative), the formulas that
:func:`symprop.derive.network.derive_network` derives for the network's
activations and loss, e.g. for a sigmoid layer::

    delta_l   = dL/dz_l = dL/da_l ⊙ a_l ⊙ (1 - a_l)  # (da_l/dz_l)^T dL/da_l: the Jacobian is diagonal
    dL/dW_l   = delta_l a_{l-1}^T                   # summed over the samples (the columns)
    dL/db_l   = delta_l                             # a shared bias: 1^T delta_l, the sum of its entries
    dL/da_{l-1} = W_l^T delta_l

each evaluated column by column (sample by sample). Every matrix is a SymPy
matrix of values (exact for exact input); the Jacobians shown beside come from
``sympy.diff`` of the activation, written in the activation itself
(``a*(1 - a)`` for a sigmoid). The numbers are the scalar view's
(:meth:`symprop.nn.Network.backward`), which a test holds them to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from .derive.algebra import evaluate
from .derive.network import LayerFormulas, derive_network
from .graph import to_number
from .nn import Network, activation_formula, loss_formula

__all__ = ["LayerView", "MatrixView", "matrix_view", "activation_derivative", "softmax_jacobian"]


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
        formulas: the derived formulas these values come from (``formulas.delta_step.compact`` is ``delta``'s).
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
    formulas: LayerFormulas | None = None


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


def activation_derivative(name: str, slope: sympy.Expr) -> tuple[sympy.Symbol, sympy.Symbol, sympy.Expr]:
    """``(z, a, da/dz)`` for an elementwise activation, written in ``a`` where that is shorter.

    >>> activation_derivative("sigmoid", sympy.Rational(1, 100))[2]
    a*(1 - a)
    """
    z, a = sympy.Symbol("z", real=True), sympy.Symbol("a", real=True)
    formula = activation_formula(name, z, slope)
    derivative = sympy.diff(formula, z)
    if not formula.is_Atom:
        derivative = derivative.xreplace({formula: a})
    return z, a, derivative


def softmax_jacobian(n: int) -> tuple[list[sympy.Symbol], sympy.Matrix]:
    """``(a, J)``: the softmax Jacobian ``J[i, j] = da_i/dz_j = a_i (delta_ij - a_j)``, from ``sympy.diff``.

    >>> softmax_jacobian(2)[1].tolist()
    [[-a_0**2 + a_0, -a_0*a_1], [-a_0*a_1, -a_1**2 + a_1]]
    >>> all(e.free_symbols <= {sympy.Symbol(f"a_{i}", real=True) for i in range(3)} for e in softmax_jacobian(3)[1])
    True
    """
    zs = [sympy.Symbol(f"z_{i}", real=True) for i in range(n)]
    a = [sympy.Symbol(f"a_{i}", real=True) for i in range(n)]
    total = sympy.Add(*(sympy.exp(z) for z in zs))
    jacobian = sympy.Matrix(n, n, lambda i, j: sympy.diff(sympy.exp(zs[i]) / total, zs[j]))
    powers = {sympy.exp(z): ai for z, ai in zip(zs, a)}
    powers.update({sympy.exp(2 * z): ai**2 for z, ai in zip(zs, a)})  # SymPy writes exp(z)**2 as exp(2*z)
    return a, sympy.expand(jacobian.xreplace(powers).xreplace({sympy.Add(*a): sympy.S.One}))


def _value(number: Any, exact: bool) -> sympy.Expr:
    return to_number(number, exact=exact)


def _column(value: Any) -> sympy.Matrix:
    """An evaluated formula as a matrix (a 1x1 one for a number)."""
    return value if isinstance(value, sympy.MatrixBase) else sympy.Matrix([[value]])


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
    if sample is None:
        samples = list(range(network.samples))
        scale = sympy.Rational(1, len(samples)) if mlp.reduction == "mean" else sympy.S.One
    else:
        samples = [network.check_sample(sample)]
        scale = sympy.S.One
    slope = sympy.Rational(repr(float(mlp.slope)))
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
        if name == "softmax":
            a = sympy.Matrix(z.rows, z.cols, lambda i, s: sympy.exp(z[i, s]) / sum(sympy.exp(z[k, s]) for k in range(z.rows)))
        else:
            a = z.applyfunc(lambda v: activation_formula(name, v, slope))
        forward.append((l, name, W, b, a_prev, z, a))
        a_prev = a

    # dl/da_L for one sample's loss l, then its values per sample (scaled for a mean)
    width = mlp.layers[-1]
    a_sym = [sympy.Symbol(f"a_{k}", real=True) for k in range(width)]
    y_sym = [sympy.Symbol(f"y_{k}", real=True) for k in range(width)]
    per_sample_loss = loss_formula(mlp.loss, a_sym, y_sym)
    loss_derivative = sympy.Matrix([sympy.diff(per_sample_loss, ak) for ak in a_sym])
    y = _matrix(network.y[samples].T, exact)
    out = forward[-1][6]
    losses = []
    for s in range(len(samples)):
        point = {**dict(zip(a_sym, out[:, s])), **dict(zip(y_sym, y[:, s]))}
        losses.append(per_sample_loss.xreplace(point))
    loss = scale * sum(losses, sympy.S.Zero)

    # right to left with the derived formulas, one sample (column) at a time
    derived = derive_network(mlp)
    by_index = {f.index: f for f in derived.layers}
    last = by_index[mlp.depth]
    dL_da = sympy.Matrix.hstack(*[
        scale * _column(evaluate(derived.loss_step.compact, {last.a: out[:, s], derived.y: y[:, s]}))
        for s in range(len(samples))
    ])
    layers: list[LayerView] = []
    for l, name, W, b, a_prev, z, a in reversed(forward):
        if name == "softmax":
            symbols, derivative = softmax_jacobian(z.rows)
            jacobians = [derivative.xreplace(dict(zip(symbols, a[:, s]))) for s in range(z.cols)]
        else:
            zs, as_, derivative = activation_derivative(name, slope)
            jacobians = [
                sympy.diag(*[derivative.xreplace({zs: z[i, s], as_: a[i, s]}) for i in range(z.rows)])
                for s in range(z.cols)
            ]
        f = by_index[l]
        given = {f.W: W}
        if f.b is not None:
            given[f.b] = b[:1, :] if mlp.bias == "layer" else b
        deltas, prevs, dW, db = [], [], sympy.zeros(*W.shape), None
        for s in range(z.cols):
            env = {**given, f.a_prev: a_prev[:, s], f.z: z[:, s], f.a: a[:, s], f.dL_da: dL_da[:, s]}
            env[f.delta] = delta = _column(evaluate(f.delta_step.compact, env))
            deltas.append(delta)
            dW += _column(evaluate(f.dW_step.compact, env))  # the sum over the samples of delta a_prev^T
            if f.db_step is not None:
                share = _column(evaluate(f.db_step.compact, env))
                db = share if db is None else db + share
            if f.da_prev_step is not None:
                prevs.append(_column(evaluate(f.da_prev_step.compact, env)))
        delta = sympy.Matrix.hstack(*deltas)  # (n_l, m)
        dL_da_prev = sympy.Matrix.hstack(*prevs)
        layers.append(
            LayerView(l, name, mlp.bias, W, b, a_prev, z, a, derivative, jacobians, dL_da, delta, dW, db, dL_da_prev, f)
        )
        dL_da = dL_da_prev
    layers.reverse()
    return MatrixView(network, samples, scale, layers, loss, loss_derivative)
