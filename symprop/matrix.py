"""The matrix (Jacobian) view of a network's backward pass.

Per layer ``l``, with samples as columns (one column for one sample)::

    z_l = W_l a_{l-1} + b_l            # (n_l, m) = (n_l, n_{l-1}) (n_{l-1}, m) + (n_l, 1)
    a_l = sigma(z_l)                   # elementwise (or softmax per column)

and right to left, from ``dL/da_L``, the formulas ``symprop derive`` derives
for each layer kind (:func:`symprop.derive.layers.derive_layer`, the loss's by
:func:`~symprop.derive.layers.derive_loss`), e.g. for a sigmoid layer and
``half_squared_error``::

    dL/da_L     = a_L - y                           # the loss table's formula, entry by entry
    delta_l     = dL/dz_l = dL/da_l ⊙ a_l ⊙ (1 - a_l)   # (da_l/dz_l)^T dL/da_l: the Jacobian is diagonal
    dL/dW_l     = delta_l a_{l-1}^T                 # summed over the samples (the columns)
    dL/db_l     = delta_l                           # a shared bias: 1^T delta_l, the sum of its entries
    dL/da_{l-1} = W_l^T delta_l

each evaluated column by column (sample by sample), the derived expression
kept beside the values (:attr:`LayerView.formulas`). The Jacobians shown
beside come from ``sympy.diff`` of the activation, written in the activation
itself (``a*(1 - a)`` for a sigmoid).

The other layers of a layer list give their own matrices (batchnorm its batch
mean and variance, dropout its mask, a residual block the skip's sum): each
kind writes them (:mod:`symprop.nn.layers`), this module runs them in order
and records what they write. derive has no matrix formulas for those kinds,
so their backward passes are the layers' closed forms (CS231n's for the
normalisations), recorded as such (:attr:`LayerView.closed_forms`) and said
so in the text; so is weight decay's ``λ·W``. Every matrix is a SymPy matrix
of values (exact for exact input), and the numbers are the scalar view's
(:meth:`symprop.nn.Network.backward`), which tests hold them to (and the
closed forms to autograd).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from . import display
from .derive.algebra import evaluate
from .derive.layers import DERIVED_KINDS, LayerDerivation, derive_layer, derive_loss, loss_entry
from .derive.printing import VIEW, write
from .graph import to_number
from .nn import Network, get_loss
from .nn.activations import A, Z
from .nn.layers import walk
from .nn.size import limit_matrix_work

__all__ = ["LayerView", "MatrixView", "matrix_view", "formula_text"]

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
        formulas: the derived formulas (SymPy matrix expressions of one sample, a column)
            the backward matrices come from, by key: ``delta`` (or ``dL_d{input}`` for an
            activation after another layer), ``dL_dW``, ``dL_db``, ``dL_da_prev``; symbols
            named as in the view (``W2``, ``a1``, ``delta2``, ``dL_da2`` for ``dL/da2``).
        closed_forms: the layers' own backward formulas where derive has none (batchnorm,
            layernorm, dropout, residual; weight decay's ``λ·W``), as text by the name of what they give.
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
    formulas: dict[str, Any] = field(default_factory=dict)
    closed_forms: dict[str, str] = field(default_factory=dict)


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
        loss_formula: ``dl/d{output}`` of one sample's loss, derived (``a2 - y``); the
            batch's columns are it times ``scale``.
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
    loss_formula: Any = None

    def __repr__(self) -> str:
        columns = f"samples {self.samples}" if len(self.samples) > 1 else f"sample {self.samples[0]}"
        return (f"MatrixView({self.network.mlp.summary}, {columns}, {len(self.layers)} layers, "
                f"loss {float(self.loss):.6g})")

    def __str__(self) -> str:
        return display.show(self, "text") or repr(self)

    def _repr_markdown_(self) -> str | None:
        """Jupyter: every matrix of the view, forward then right to left, as LaTeX matrices."""
        return display.show(self, "markdown")

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
        self._layers: list[Any] = []  # whose backward pass is being recorded, innermost last
        self._said: set[int] = set()
        seen = False
        for layer in _preorder(network.mlp.stack):
            if seen:
                self._after_params.add(id(layer))
            seen = seen or bool(layer.param_shapes())
        # the derived formulas first: a layer derive cannot write fails before any work
        self.derived: dict[int, LayerDerivation] = {
            id(layer): derive_layer(layer) for layer in walk(network.mlp.stack) if layer.kind in DERIVED_KINDS
        }

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

    def backward(self, name: str, *sides: Any, note: str = "") -> None:
        """A backward equation; one a layer without derived formulas writes is its closed form, and said so."""
        layer = self._layers[-1] if self._layers else None
        if layer is not None and layer.kind not in DERIVED_KINDS:
            if id(layer) not in self._said:
                self._said.add(id(layer))
                self.text(f"    {layer.kind}: the layer's closed form (derive has no matrix formulas for it)")
            if len(sides) > 1 and isinstance(sides[0], str):
                self.stage(layer).setdefault("_closed", {})[name] = sides[0]
        self.items.append(("eq", name, sides, note))

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
        self._layers.append(layer)
        try:
            return layer.matrix_backward(self, d, self._inputs[id(layer)])
        finally:
            self._layers.pop()

    # the derived formulas, evaluated one sample (column) at a time

    def _formula(self, layer: Any, key: str, expr: Any) -> str:
        """Keep ``expr`` as the layer's ``key`` formula; its text as the view writes it."""
        self.stage(layer).setdefault("_formulas", {})[key] = expr
        return formula_text(expr)

    def _columns(self, expr: Any, fixed: dict, columns: dict, m: int) -> list[sympy.Matrix]:
        """``expr`` at each sample: ``fixed`` matrices as they are, ``columns`` one column per sample."""
        result = []
        for s in range(m):
            value = evaluate(expr, {**fixed, **{symbol: matrix[:, s] for symbol, matrix in columns.items()}})
            result.append(value if isinstance(value, sympy.MatrixBase) else sympy.Matrix([[value]]))
        return result

    def linear_backward(self, layer: Any, d: sympy.Matrix, h: sympy.Matrix) -> sympy.Matrix | None:
        f, l, m = self.derived[id(layer)], layer.stage, d.cols
        stage = self.stage(layer)
        stage["delta"] = d
        fixed = {f.inputs["W"]: stage["W"]}
        if "b" in f.inputs:  # a shared bias is one number: 1x1
            fixed[f.inputs["b"]] = stage["b"][:1, :] if layer.bias == "layer" else stage["b"]
        columns = {f.inputs["a_prev"]: h, f.gradient: d}
        summed = "" if m == 1 else ", summed over the samples"
        dW = _total(self._columns(f.steps["W"].compact, fixed, columns, m))  # the sum over the samples
        text = self._formula(layer, "dL_dW", f.steps["W"].compact) + summed
        if self.network.mlp.weight_decay:
            dW += self.decay_rate() * stage["W"]
            text += f", + λ·W{l} (weight decay)"
            stage.setdefault("_closed", {})[f"dL/dW{l} (weight decay)"] = f"λ·W{l}"
        stage["dW"] = dW
        self.backward(f"dL/dW{l}", text, dW)
        self.grad(f"W{l}", dW)
        if "b" in f.inputs:
            db = _total(self._columns(f.steps["b"].compact, fixed, columns, m))
            stage["db"] = db
            self.backward(f"dL/db{l}", self._formula(layer, "dL_db", f.steps["b"].compact) + summed, db)
            self.grad(f"b{l}", db)
        step = f.steps["a_prev"]
        d_prev = sympy.Matrix.hstack(*self._columns(step.compact, fixed, columns, m))
        stage["dL_da_prev"] = d_prev
        text = self._formula(layer, "dL_da_prev", step.compact)
        if not self.input_grad(layer):
            return None
        self.backward(f"dL/d{layer.in_name}", text, d_prev)
        return d_prev

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
        # the Jacobians shown beside, from sympy.diff of the activation table's formula
        if activation.elementwise:
            derivative = activation.derivative(layer.slope)
            jacobians = [
                sympy.diag(*[derivative.xreplace({Z: z[i, s], A: a[i, s]}) for i in range(z.rows)])
                for s in range(z.cols)
            ]
            text = f"diag({sympy.sstr(derivative)}), elementwise ({layer.name}')"
        else:  # softmax (derive_layer refused any other): each column's Jacobian, written through its outputs
            symbols, derivative = activation.jacobian(z.rows)
            jacobians = [derivative.xreplace(dict(zip(symbols, a[:, s]))) for s in range(z.cols)]
            text = "softmax Jacobian: da_i/dz_j = a_i*(δ_ij - a_j)"
        f, out, src, m = self.derived[id(layer)], layer.out, layer.in_name, z.cols
        step = f.steps["z"]
        columns = {f.inputs["z"]: z, f.output: a, f.gradient: d}
        delta = sympy.Matrix.hstack(*self._columns(step.compact, {}, columns, m))  # (n_l, m)
        stage.update(derivative=derivative, jacobians=jacobians, dL_da=d)
        is_delta = src == f"z{layer.stage}"
        name = f"delta{layer.stage} = dL/d{src}" if is_delta else f"dL/d{src}"
        formula = self._formula(layer, "delta" if is_delta else f"dL_d{src}", step.compact)
        self.text(f"    d{out}/d{src} = {text}")
        if m == 1:
            self.backward(f"d{out}/d{src}", jacobians[0])
        elif not activation.elementwise:
            for s, jacobian in zip(self.samples, jacobians):
                self.backward(f"d{out}/d{src} (s{s})", jacobian)
        else:  # diagonal Jacobians: their diagonals, one column per sample
            self.backward(f"{layer.name}'({src})", sympy.Matrix(z.rows, m, lambda i, s: jacobians[s][i, i]))
        self.backward(name, formula if m == 1 else f"{formula}, column by column", delta)
        return delta


def formula_text(expr: Any) -> str:
    """A derived formula as the view writes it: ``dL/da2 ⊙ a2 ⊙ (1 - a2)``, ``delta2·a1^T``, ``W2^T·delta2``."""
    names = {s.name for s in expr.free_symbols if hasattr(s, "name")}
    labels = {n: "dL/d" + n[4:] for n in names if n.startswith("dL_d")}
    gradients = frozenset(n for n in names if n.startswith(("dL_d", "delta")))
    return write(expr, VIEW, labels=labels, first=gradients)


def _total(matrices: list[sympy.Matrix]) -> sympy.Matrix:
    total = matrices[0]
    for matrix in matrices[1:]:
        total = total + matrix
    return total


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
    >>> net = Network(MLP([2, 1], "identity"), {"W1": [[2, 1]], "b1": [1]}, [[3, 1]], [[5]], exact=True)
    >>> view = matrix_view(net)
    >>> view.loss, view.layers[0].delta, view.layers[0].dW
    (9/2, Matrix([[3]]), Matrix([[9, 3]]))
    >>> formula_text(view.layers[0].formulas["dL_dW"]), formula_text(view.loss_formula)
    ('delta1·a0^T', 'a1 - y')

    Raises:
        SpecError: an activation on the whole layer other than softmax (derive has no
            matrix formula for its Jacobian), naming it.
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

    # one sample's loss l: its value from the loss table, dl/da_L derived; per sample (scaled for a mean)
    width, output = mlp.n_outputs, mlp.stack[-1].out
    a_sym = [sympy.Symbol(f"a_{k}", real=True) for k in range(width)]
    y_sym = [sympy.Symbol(f"y_{k}", real=True) for k in range(width)]
    per_sample_loss = get_loss(mlp.loss).formula(a_sym, y_sym)
    loss_derivative = sympy.Matrix([sympy.diff(per_sample_loss, ak) for ak in a_sym])
    derived = derive_loss(mlp.loss, width, output, loss_entry(mlp.loss, width)[2])
    y = mv.matrix(network.y[samples].T)
    losses = [per_sample_loss.xreplace({**dict(zip(a_sym, h[:, s])), **dict(zip(y_sym, y[:, s]))})
              for s in range(len(samples))]
    columns = mv._columns(derived.steps["a"].compact, {}, {derived.inputs["a"]: h, derived.inputs["y"]: y},
                          len(samples))
    d = sympy.Matrix.hstack(*columns) * scale
    loss = scale * sum(losses, sympy.S.Zero)
    if mlp.weight_decay:  # lambda/2 sum W^2 (each weight's gradient gets lambda W: see the linear layer)
        rate = mv.decay_rate()
        loss += rate / 2 * sum((sum(mv.param(w).multiply_elementwise(mv.param(w)), sympy.S.Zero)
                                for w in mlp.weights()), sympy.S.Zero)
    loss_formula = derived.steps["a"].compact
    shown = formula_text(sympy.MatMul(scale, loss_formula) if scale != 1 else loss_formula)
    mv.backward(f"dL/d{output}", shown if len(samples) == 1 else f"{shown}, column by column", d)
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
        layers.append(LayerView(stage, data.get("activation"), bias_mode, **legacy, values=values,
                                formulas=data.get("_formulas", {}), closed_forms=data.get("_closed", {})))
    return MatrixView(network, samples, scale, layers, loss, loss_derivative, forward_items, mv.items, output,
                      mv.grads, first, loss_formula)
