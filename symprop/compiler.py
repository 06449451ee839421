"""Compile a network's exact gradients into vectorised numpy code that a student can read.

The formulas are derived, not hand-written. For each layer
``z = a_prev W^T + b``, ``a = f(z)`` (a batch of ``m`` samples, one per row):

* ``f'`` is the activation table's derivative (``sympy.diff`` of its formula,
  written through the layer's own output: ``sigmoid' = a*(1 - a)``, ``tanh' = 1 - a**2``);
* the output layer's ``delta = dL/dz`` is ``sympy.diff`` of the loss table's
  per-sample formula composed with the output activation (so sigmoid with
  binary cross-entropy gives ``a - y``); for softmax it goes through the
  softmax Jacobian ``da_k/dz_j = a_k*(delta_kj - a_j)``, derived with ``diff``
  and checked by SymPy, which for cross-entropy gives ``a*sum(y) - y``
  (``a - y`` when each row of ``y`` sums to 1);
* the chain rule through ``z = a_prev W^T + b`` is matrix code:
  ``dW = delta^T a_prev``, ``db = sum of delta over the batch``,
  ``delta_prev = (delta W) * f'(z_prev)``.

The derived expressions are printed with SymPy's numpy printer into Python
source (:attr:`Compiled.source`), which is then executed in a namespace that
holds only ``numpy``. No user text reaches that source: every name in it is an
internal ASCII name made here (``X``, ``Y``, ``W1``, ``Z1``, ``A1``, ``D1``), and
the only numbers from a spec are layer widths (integers) and the leaky-relu
slope (a float, printed by SymPy).

Numerics:

* inputs and targets are cast to float64 (int64 ``x**40`` wraps silently);
* ``sigmoid`` is ``1/(1 + exp(-x))`` with ``-x`` capped at 700, so ``exp``
  never overflows (below ``sigmoid(-700) ~ 1e-304`` the value is held there);
* ``softplus(x)`` is ``logaddexp(0, x)``;
* softmax subtracts each row's maximum before ``exp``, and cross-entropy uses
  the log-softmax ``z - max - log(sum(exp(z - max)))``, never ``log(softmax)``;
* a loss that takes the log of the output uses the output activation's stable
  logs where the table gives them: after a sigmoid, ``log(sigmoid(z)) = -softplus(-z)``
  and ``log(1 - sigmoid(z)) = -softplus(z)`` (exact); after any other output
  activation ``yhat`` is clipped to ``[1e-12, 1 - 1e-12]`` in the loss and its
  gradient (exact inside that interval).

>>> from symprop.nn import MLP
>>> net = compile(MLP([2, 3, 1], "sigmoid", "half_squared_error", "sum"))
>>> print(net.source.split("# backward")[1].splitlines()[1].split("  #")[0].strip())
D2 = A2*(1 - A2)*(A2 - Y)
"""

from __future__ import annotations

import builtins
import itertools
import linecache
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import sympy
from sympy import Symbol
from sympy.printing.numpy import NumPyPrinter

from .errors import SpecError
from .nn.activations import A as _a
from .nn.activations import Activation, exact_slope, get_activation
from .nn.activations import Z as _z
from .nn.losses import Y as _y
from .nn.losses import get_loss

__all__ = ["compile", "Compiled", "DerivedFormula", "output_delta", "softmax_p", "BCE_CLIP"]

#: How far binary cross-entropy keeps ``yhat`` from 0 and 1 when it cannot use the logits.
BCE_CLIP = 1e-12

_loga = sympy.Symbol("loga", real=True)
_p, _rowsum = sympy.symbols("P rowsum_P", real=True)

_HELPERS = {
    "_symprop_sigmoid": '''def _symprop_sigmoid(x):
    """sigmoid(x) = 1/(1 + exp(-x)), with -x capped at 700 so that exp never overflows."""
    t = numpy.negative(x)
    numpy.minimum(t, 700.0, out=t)
    numpy.exp(t, out=t)
    t += 1.0
    return numpy.reciprocal(t, out=t)''',
    "_symprop_heaviside": '''def _symprop_heaviside(x):
    """Heaviside(x, 0): 1 where x > 0, else 0 (so relu'(0) = 0, as PyTorch)."""
    return numpy.greater(x, 0).view(numpy.int8)''',
}


class _Printer(NumPyPrinter):
    """SymPy's numpy printer, with ``Heaviside(x, 0)`` as a cheap comparison."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True})

    def _print_Heaviside(self, expr):  # noqa: N802 - SymPy's printer protocol
        if len(expr.args) == 2 and expr.args[1] == 0:
            return "_symprop_heaviside(%s)" % self._print(expr.args[0])
        return super()._print_Heaviside(expr)


@dataclass(frozen=True)
class DerivedFormula:
    """One derived formula, as the generated code's comments show it.

    Attributes:
        what: what was derived, e.g. ``"layer 1: da/dz"``.
        formula: what it was derived from, e.g. ``sigmoid(z)``.
        result: the derived expression, in the symbols ``z``, ``a``, ``y``.
    """

    what: str
    formula: sympy.Expr
    result: sympy.Expr

    def __str__(self) -> str:
        return f"{self.what}: {sympy.sstr(self.result)}   (from {sympy.sstr(self.formula)})"


# -- derivations (pure SymPy, cached per table entry) ----------------------


def _simplest(expression: sympy.Expr) -> sympy.Expr:
    """The shortest of a few equivalent forms (``factor`` and ``cancel`` of it), fewest minus signs first."""
    candidates = [expression]
    for transform in (sympy.factor, sympy.cancel):
        try:
            candidates.append(transform(expression))
        except (sympy.PolynomialError, TypeError, ValueError):  # pragma: no cover - defensive
            pass
    candidates = [_tidy_signs(e) for e in candidates]
    return min(candidates, key=lambda e: (sympy.count_ops(e), sympy.sstr(e).count("-"), len(sympy.sstr(e))))


def _tidy_signs(expression: sympy.Expr) -> sympy.Expr:
    """``-a*(1 - a)*(-a + y)`` -> ``a*(1 - a)*(a - y)``: move a leading minus into a ``(-u + v)`` factor."""
    if not isinstance(expression, sympy.Mul):
        return expression
    coefficient, factors = expression.as_coeff_mul()
    flip = [f for f in factors if isinstance(f, sympy.Add) and sympy.sstr(f).startswith("-")]
    if coefficient.is_negative and len(flip) % 2 == 1:
        others = [f for f in factors if f not in flip]
        return sympy.Mul(-coefficient, *others, *(sympy.expand(-f) for f in flip))
    return expression


def _through_output(derivative: sympy.Expr, formula: sympy.Expr) -> sympy.Expr:
    """Write ``derivative`` through the activation's output ``a = formula`` where it appears."""
    if formula == _z:  # identity: a is z
        return derivative.xreplace({_z: _a})
    return derivative.xreplace({formula: _a})


def activation_derivative(activation: Activation, slope: sympy.Expr) -> DerivedFormula:
    """``da/dz`` from the activation table, as the generated code's comment shows it."""
    return DerivedFormula("da/dz", activation.of(_z, slope), activation.derivative(slope))


#: Vector activations the code generator can write (the softmax Jacobian's product has the closed
#: form ``P - a*sum(P)``, checked by :func:`softmax_p`); any other is refused by name.
_VECTOR_OUTPUTS = ("softmax",)


def _vector(activation: Activation) -> None:
    if activation.name not in _VECTOR_OUTPUTS:
        raise SpecError(f"compile: no numpy code for the vector activation {activation.name!r}")


@lru_cache(maxsize=None)
def output_delta(activation: str, loss: str, width: int, slope: sympy.Expr = sympy.Rational(1, 100)) -> DerivedFormula:
    """The output layer's ``dl/dz`` for one sample, ``l`` the per-output loss term.

    For an elementwise activation it is ``sympy.diff(l(f(z), y), z)`` written
    through ``a = f(z)``. For softmax it is ``P - a*rowsum_P`` with
    ``P = a*dl/da`` (see :func:`softmax_p`).

    >>> output_delta("sigmoid", "binary_cross_entropy", 1).result
    a - y
    >>> output_delta("softmax", "cross_entropy", 3).result
    P - a*rowsum_P
    """
    entry = get_activation(activation)
    term = get_loss(loss).term(width)
    if not entry.elementwise:
        _vector(entry)
        return DerivedFormula("dl/dz", term, _p - _a * _rowsum)
    formula = entry.of(_z, slope)
    composed = term.xreplace({_a: formula})
    delta = _through_output(sympy.diff(composed, _z), formula)
    return DerivedFormula("dl/dz", composed, _simplest(delta))


@lru_cache(maxsize=None)
def softmax_p(loss: str, width: int) -> DerivedFormula:
    """``P = a*dl/da`` for a softmax output: then ``dL/dz_j = P_j - a_j*sum_k P_k``.

    That form is the chain rule through the softmax Jacobian
    (``sum_k dl/da_k * a_k*(delta_kj - a_j)``); SymPy checks it here against
    the product with :func:`softmax_jacobian` on three outputs.

    >>> softmax_p("cross_entropy", 3).result
    -y
    """
    term = get_loss(loss).term(width)
    p = _simplest(sympy.cancel(_a * sympy.diff(term, _a)))
    k = 3
    outs, jac = get_activation("softmax").jacobian(k)
    ys = sympy.symbols(f"y0:{k}", real=True)
    grads = [sympy.diff(term, _a).xreplace({_a: outs[i], _y: ys[i]}) for i in range(k)]
    ps = [p.xreplace({_a: outs[i], _y: ys[i]}) for i in range(k)]
    for j in range(k):
        chain = sympy.Add(*(grads[i] * jac[i, j] for i in range(k)))
        template = ps[j] - outs[j] * sympy.Add(*ps)
        if sympy.cancel(chain - template) != 0:  # pragma: no cover - holds for every table entry
            raise SpecError(f"internal: the softmax delta of loss {loss!r} did not simplify")
    return DerivedFormula("P = a*dl/da", term, p)


# -- code generation --------------------------------------------------------


class _Source:
    """Lines of generated Python, with the printer and the helpers they use."""

    def __init__(self) -> None:
        self.printer = _Printer()
        self.lines: list[str] = []

    def code(self, expression: sympy.Expr, names: dict[Symbol, Symbol]) -> str:
        return self.printer.doprint(expression.xreplace(names))

    def add(self, line: str = "", comment: str = "") -> None:
        if comment:
            line = f"{line}  # {comment}" if line else f"# {comment}"
        self.lines.append(line)


def _shape(*dims: object) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


class _Generator:
    """Writes ``forward(params, x)`` and ``loss_and_grads(params, x, y)`` for one MLP."""

    def __init__(self, mlp: Any):
        self.mlp = mlp
        self.depth = mlp.depth
        self.slope = exact_slope(mlp.slope)
        self.out_act = mlp.activations[-1]
        self.output = get_activation(self.out_act)
        self.width = mlp.layers[-1]
        self.term = self.loss_term()
        # a log of the output that the activation has no stable form for: keep yhat off 0 and 1
        self.clip = self.term.has(sympy.log)
        self.derivations: list[DerivedFormula] = []
        L = self.depth
        self.Z = [Symbol(f"Z{l}", real=True) for l in range(L + 1)]
        self.A = [Symbol("X", real=True)] + [Symbol(f"A{l}", real=True) for l in range(1, L + 1)]
        self.Y = Symbol("Y", real=True)

    def names(self, l: int, *, clip: bool = True) -> dict[Symbol, Symbol]:
        """The table's ``z, a, y`` as layer ``l``'s arrays (``a`` clipped for BCE where needed)."""
        names = {_z: self.Z[l], _a: self.A[l], _y: self.Y, _loga: Symbol(f"logA{l}"), _p: Symbol(f"P{l}"),
                 _rowsum: Symbol(f"S{l}")}
        if clip and self.clip and l == self.depth:
            names[_a] = Symbol(f"A{l}c")
        return names

    # forward -------------------------------------------------------------

    def forward(self, src: _Source, *, need_log: bool) -> None:
        layers = self.mlp.layers
        src.add("X = numpy.asarray(x, dtype=numpy.float64)", _shape("m", layers[0]))
        for l in range(1, self.depth + 1):
            src.add(f"Z{l} = {self.A[l - 1].name} @ W{l}.T", f"{_shape('m', layers[l])}: z = a_prev W^T + b")
            if self.mlp.bias != "none":
                src.add(f"Z{l} += b{l}")
            activation = get_activation(self.mlp.activations[l - 1])
            if not activation.elementwise:
                _vector(activation)
                src.add(f"Z{l} = Z{l} - numpy.max(Z{l}, axis=1, keepdims=True)", "softmax(z) = softmax(z - max z)")
                src.add(f"E{l} = numpy.exp(Z{l})")
                src.add(f"T{l} = numpy.sum(E{l}, axis=1, keepdims=True)")
                src.add(f"A{l} = E{l}/T{l}", "softmax")
                if need_log:
                    src.add(f"logA{l} = Z{l} - numpy.log(T{l})", "log-softmax, never log(softmax)")
                continue
            formula = activation.of(_z, self.slope)
            src.add(f"A{l} = {src.code(formula, self.names(l))}", f"a = {sympy.sstr(formula)}")

    # loss ------------------------------------------------------------------

    def loss_term(self) -> sympy.Expr:
        """The per-output loss term in ``z, a, y`` (and ``loga``), with the output activation's stable logs."""
        term = get_loss(self.mlp.loss).term(self.width)
        activation = self.output
        if not activation.elementwise:  # softmax: log(a) is the log-softmax the forward pass computes
            return term.xreplace({sympy.log(_a): _loga})
        if activation.stable_logs is None:
            return term
        f = activation.of(_z, self.slope)
        return term.xreplace({_a: f}).xreplace(activation.stable_logs(_z)).xreplace({f: _a})

    def loss_and_grads(self, src: _Source) -> None:
        mlp, L = self.mlp, self.depth
        term = self.term
        need_log = term.has(_loga)
        self.forward(src, need_log=need_log)
        src.add("Y = numpy.asarray(y, dtype=numpy.float64)", _shape("m", self.width))
        if self.clip:
            src.add(f"A{L}c = numpy.clip(A{L}, {BCE_CLIP!r}, 1 - {BCE_CLIP!r})", "keep log() finite (BCE)")
        scale = "" if mlp.reduction == "sum" else "/X.shape[0]"
        src.add(f"loss = numpy.sum({src.code(term, self.names(L))}){scale}",
                f"per output: {sympy.sstr(term)}; reduction {mlp.reduction!r}")
        src.add()
        src.add(comment="backward: delta = dL/dz, from the output layer back")
        delta = output_delta(self.out_act, mlp.loss, self.width, self.slope)
        self.derivations.append(DerivedFormula(f"layer {L}: {delta.what}", delta.formula, delta.result))
        names = self.names(L)
        if not self.output.elementwise:
            p = softmax_p(mlp.loss, self.width)
            src.add(f"P{L} = {src.code(p.result, names)}", f"P = a*dl/da = {sympy.sstr(p.result)}")
            src.add(f"S{L} = numpy.sum(P{L}, axis=1, keepdims=True)", "sum_k P_k (softmax Jacobian)")
            names = self.names(L, clip=False)  # the Jacobian's a is the softmax itself
        code = src.code(delta.result, names)
        if mlp.reduction == "mean":
            code = f"({code})/X.shape[0]"
        src.add(f"D{L} = {code}", f"dl/dz = {sympy.sstr(delta.result)}")
        grads = []
        for l in range(L, 0, -1):
            src.add(f"gW{l} = D{l}.T @ {self.A[l - 1].name}", f"{_shape(mlp.layers[l], mlp.layers[l - 1])}: dL/dW = delta^T a_prev")
            grads.append((f"W{l}", f"gW{l}"))
            if mlp.bias == "neuron":
                src.add(f"gb{l} = numpy.sum(D{l}, axis=0)", "dL/db: delta summed over the batch")
                grads.append((f"b{l}", f"gb{l}"))
            elif mlp.bias == "layer":
                src.add(f"gb{l} = numpy.sum(D{l})", "one shared bias: summed over neurons and batch")
                grads.append((f"b{l}", f"gb{l}"))
            if l > 1:
                local = activation_derivative(get_activation(mlp.activations[l - 2]), self.slope)
                self.derivations.append(DerivedFormula(f"layer {l - 1}: {local.what}", local.formula, local.result))
                src.add(f"D{l - 1} = D{l} @ W{l}", f"{_shape('m', mlp.layers[l - 1])}: dL/da_prev = delta W")
                if local.result != 1:  # identity: da/dz = 1
                    src.add(f"D{l - 1} *= {src.code(local.result, self.names(l - 1))}",
                            f"delta_prev = dL/da_prev * da/dz, da/dz = {sympy.sstr(local.result)}")
        order = {name: k for k, name in enumerate(mlp.param_shapes())}
        items = ", ".join(f'"{p}": {g}' for p, g in sorted(grads, key=lambda pg: order[pg[0]]))
        src.add(f"return loss, {{{items}}}")


def _params_lines(mlp: Any) -> list[str]:
    return [f'{name} = params["{name}"]' for name in mlp.param_shapes()]


def _function(name: str, signature: str, doc: str, params: list[str], body: list[str]) -> list[str]:
    lines = [f"def {name}({signature}):", f'    """{doc}"""']
    lines += ["    " + line if line else "" for line in params + body]
    return lines


@dataclass
class Compiled:
    """A network's exact gradients, compiled to numpy.

    Attributes:
        mlp: the architecture.
        source: the generated Python source (print it to read what runs).
        derivations: the derived formulas the source was printed from.
        loss_and_grads: ``f(params, x, y) -> (loss, {name: gradient})``, the
            gradients shaped like the parameters; ``params`` float64 arrays
            (``mlp.validate_params`` converts lists), ``x`` of shape ``(m, n0)``,
            ``y`` of shape ``(m, nL)``.
        forward: ``f(params, x) -> yhat`` of shape ``(m, nL)``.
    """

    mlp: Any
    source: str
    derivations: list[DerivedFormula]
    loss_and_grads: Callable[..., tuple[float, dict[str, Any]]]
    forward: Callable[..., Any]

    def loss(self, params: dict[str, Any], x: Any, y: Any) -> float:
        """The loss at ``params`` (through the compiled forward pass)."""
        return float(self.loss_and_grads(params, x, y)[0])

    def __repr__(self) -> str:
        return f"<Compiled MLP {self.mlp.layers} {self.mlp.activations} {self.mlp.loss}>"


_counter = itertools.count(1)


def compile(network: Any) -> Compiled:  # noqa: A001 - symprop.compile(network)
    """Derive a network's gradients and compile them into numpy code.

    Args:
        network: an :class:`~symprop.nn.MLP`, or anything with an ``mlp`` attribute.

    Returns:
        A :class:`Compiled` with ``loss_and_grads``, ``forward`` and the ``source``.
    """

    mlp = getattr(network, "mlp", network)
    gen = _Generator(mlp)
    forward_src, grads_src = _Source(), _Source()
    gen.loss_and_grads(grads_src)
    gen.forward(forward_src, need_log=False)
    forward_src.add(f"return A{mlp.depth}")
    text = "\n".join(grads_src.lines + forward_src.lines)
    helpers = [h for name, h in _HELPERS.items() if name in text]
    header = [
        f'"""Compiled by symprop from the derived formulas: layers {mlp.layers}, '
        f"activations {mlp.activations}, loss {mlp.loss!r}, reduction {mlp.reduction!r}, bias {mlp.bias!r}.",
        "",
        "Shapes: m samples in rows; Wl is (n_l, n_(l-1)); Dl = dL/dZl.",
        "Derived with sympy.diff:",
        *(f"    {d}" for d in gen.derivations),
        '"""',
        "import numpy",
        "",
    ]
    parts = header + [h + "\n" for h in helpers]
    parts += _function("loss_and_grads", "params, x, y", "The loss and dL/dparam for every parameter.",
                       _params_lines(mlp), grads_src.lines)
    parts += ["", ""]
    parts += _function("forward", "params, x", "The network's output for a batch x.",
                       _params_lines(mlp), forward_src.lines)
    source = "\n".join(parts) + "\n"
    filename = f"<symprop-compiled-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "symprop_compiled"}
    exec(builtins.compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated text only
    return Compiled(mlp, source, gen.derivations, namespace["loss_and_grads"], namespace["forward"])
