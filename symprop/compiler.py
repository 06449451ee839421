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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import sympy
from sympy import Symbol

from . import display
from .blas import blas_threads_by_size
from .errors import SpecError
from .nn.activations import A as _a
from .nn.activations import Activation, exact_slope, get_activation
from .nn.activations import Z as _z
from .nn.losses import Y as _y
from .nn.layers import walk
from .nn.losses import get_loss
from .numpy_code import HELPERS, ONES_LINE, Source, batch_sum, row_max, row_sum, shape
from .numpy_code import total as sum_code

__all__ = ["compile", "Compiled", "DerivedFormula", "output_delta", "softmax_p", "BCE_CLIP"]

#: How far binary cross-entropy keeps ``yhat`` from 0 and 1 when it cannot use the logits.
BCE_CLIP = 1e-12

_loga = sympy.Symbol("loga", real=True)
_p, _rowsum = sympy.symbols("P rowsum_P", real=True)


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


class _Generator:
    """Writes ``forward(params, x)`` and ``loss_and_grads(params, x, y)`` for one network, layer by layer.

    Each layer writes its own forward and backward lines (see
    :mod:`symprop.nn.layers`) through :meth:`add`, :meth:`grad` and the
    activation helpers here; the output activation and the loss are derived
    together (:func:`output_delta`).
    """

    def __init__(self, mlp: Any, *, adjoints: bool = False, into: bool = False):
        self.mlp = mlp
        #: also keep ``dL/dv`` of every named value that depends on a parameter (in ``adj``)
        self.adjoints = adjoints
        #: write each weight gradient's product into the caller's spare array (``work``), when it gives one
        self.into = into
        self.slope = exact_slope(mlp.slope)
        last = mlp.stack[-1]
        self.head = last if last.kind == "activation" else None  # the output activation, joined to the loss
        self.output = self.head.activation if self.head else get_activation("identity")
        self.out_act = self.output.name
        self.width = mlp.n_outputs
        self.term = self.loss_term()
        # a log of the output that the activation has no stable form for: keep yhat off 0 and 1
        self.clip = self.term.has(sympy.log)
        self.derivations: list[DerivedFormula | str] = []
        self.Y = Symbol("Y", real=True)
        self.src = Source()
        self.need_log = False
        self.grads: list[tuple[str, str]] = []
        self.inputs: list[str] = []
        self.memo: dict[int, Any] = {}  # what a layer keeps between its forward and backward code
        self.ones = False  # the backward code sums over the batch with ONE (see batch_sum)
        self._after_params: set[int] = set()
        self._dependent: set[int] = set()  # the layers whose output depends on a parameter
        self._mark(mlp.stack, False)

    def _mark(self, stack: list, seen: bool) -> bool:
        """Note the layers with a parameter before them: only they pass a gradient to their input."""
        for layer in stack:
            if seen:
                self._after_params.add(id(layer))
            inner = self._mark(layer.sublayers(), seen)
            seen = seen or inner or bool(layer.param_shapes())
            if seen:
                self._dependent.add(id(layer))
        return seen

    # what layers call -------------------------------------------------------

    def add(self, line: str = "", comment: str = "") -> None:
        self.src.add(line, comment)

    @staticmethod
    def shape(*dims: object) -> str:
        return shape(*dims)

    def batch_sum(self, array: str) -> str:
        """``array`` summed over the batch, as ``ONE @ array`` (``ONE`` is made once, before the backward pass)."""
        self.ones = True
        return batch_sum(array)

    def grad(self, param: str, variable: str) -> None:
        self.grads.append((param, variable))

    def product(self, param: str, left: str, right: str) -> str:
        """``(left @ right)``, the product that makes ``param``'s gradient; with ``into``, written into
        ``work[param]`` when the caller gives that array (see :meth:`Compiled.loss_and_grads_into`)."""
        if self.into:
            return f'numpy.matmul({left}, {right}, out=work.get("{param}"))'
        return f"({left} @ {right})"

    def decay(self, weight: str) -> None:
        """With weight decay, ``dL/dW += λ·W``."""
        if self.mlp.weight_decay:
            self.add(f"g{weight} += {float(self.mlp.weight_decay)!r}*{weight}", "weight decay: + λ·W")

    def derive(self, text: str) -> None:
        if text not in self.derivations:
            self.derivations.append(text)

    def input_grad(self, layer: Any) -> bool:
        return id(layer) in self._after_params

    def keep(self, name: str, array: str) -> None:
        """With ``adjoints``, keep ``dL/d{name}`` (a copy of the array ``array`` holds now)."""
        if self.adjoints:
            self.add(f'adj["{name}"] = {array}.copy()', f"dL/d{name}")

    def backward(self, layer: Any, d: str, h: str) -> str | None:
        """A layer's backward code, ``d`` holding ``dL/d(its output)``: what the loop and residual blocks call."""
        if id(layer) in self._dependent:
            self.keep(layer.out, d)
        return layer.code_backward(self, d, h)

    def names(self, layer: Any, h: str, out: str, *, clip: bool = True) -> dict[Symbol, Symbol]:
        """The table's ``z, a, y`` as this layer's arrays (``a`` clipped for BCE where needed)."""
        l = layer.stage
        names = {_z: Symbol(h), _a: Symbol(out), _y: self.Y, _loga: Symbol(f"logA{l}"), _p: Symbol(f"P{l}"),
                 _rowsum: Symbol(f"S{l}")}
        if clip and self.clip and layer is self.mlp.stack[-1]:
            names[_a] = Symbol(f"{out}c")
        return names

    def activation_forward(self, layer: Any, h: str) -> str:
        l, out = layer.stage, f"A{layer.stage}"
        activation = layer.activation
        if not activation.elementwise:
            _vector(activation)
            width = layer.width_out
            self.add(f"MAX{l} = {row_max(h, width)}", "(m, 1): the largest z of each row")
            self.add(f"{h} = {h} - MAX{l}", "softmax(z) = softmax(z - max z)")
            self.add(f"E{l} = numpy.exp({h})")
            self.add(f"T{l} = {row_sum(f'E{l}', width)}", "(m, 1): sum_k E_k")
            self.add(f"{out} = E{l}/T{l}", "softmax")
            if self.need_log:
                self.add(f"logA{l} = {h} - numpy.log(T{l})", "log-softmax, never log(softmax)")
            return out
        formula = activation.of(_z, layer.slope)
        self.add(f"{out} = {self.src.code(formula, self.names(layer, h, out))}", f"a = {sympy.sstr(formula)}")
        return out

    def activation_backward(self, layer: Any, d: str, h: str) -> str:
        local = activation_derivative(layer.activation, layer.slope)
        self.derivations.append(DerivedFormula(f"layer {layer.stage}: {local.what}", local.formula, local.result))
        if local.result != 1:  # identity: da/dz = 1
            code = self.src.code(local.result, self.names(layer, h, f"A{layer.stage}"))
            self.add(f"{d} *= {code}", f"delta_prev = dL/da_prev * da/dz, da/dz = {sympy.sstr(local.result)}")
        return d

    # forward ----------------------------------------------------------------

    def forward(self, *, need_log: bool) -> str:
        self.need_log = need_log
        self.add("X = numpy.asarray(x, dtype=numpy.float64)", shape("m", self.mlp.n_inputs))
        self.after_x = len(self.src.lines)  # where ONE goes, if the backward pass sums with it
        h = "X"
        self.inputs = []
        for layer in self.mlp.stack:
            self.inputs.append(h)
            h = layer.code_forward(self, h)
        return h

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

    def loss_and_grads(self) -> None:
        mlp, last = self.mlp, self.mlp.stack[-1]
        term = self.term
        out = self.forward(need_log=term.has(_loga))
        h = self.inputs[-1] if self.head else out
        L = last.stage
        self.add("Y = numpy.asarray(y, dtype=numpy.float64)", shape("m", self.width))
        if self.clip:
            self.add(f"{out}c = numpy.clip({out}, {BCE_CLIP!r}, 1 - {BCE_CLIP!r})", "keep log() finite (BCE)")
        scale = "" if mlp.reduction == "sum" else "/X.shape[0]"
        names = self.names(last, h, out)
        total = sum_code(term, names, self.src)
        if scale and sympy.Add.make_args(term)[1:]:
            total = f"({total})"
        self.add(f"loss = {total}{scale}",
                 f"per output: {sympy.sstr(term)}, summed; reduction {mlp.reduction!r}")
        if mlp.weight_decay:
            squares = " + ".join(f"numpy.sum({w}**2)" for w in mlp.weights())
            self.add(f"loss += {float(mlp.weight_decay) / 2!r}*({squares})", "weight decay: λ/2·ΣW²")
        self.add()
        self.add(comment="backward: delta = dL/dz, from the output layer back")
        if self.adjoints:
            self.add("adj = {}")
        slope = self.head.slope if self.head else self.slope
        delta = output_delta(self.out_act, mlp.loss, self.width, slope)
        self.derivations.append(DerivedFormula(f"layer {L}: {delta.what}", delta.formula, delta.result))
        if not self.output.elementwise:
            p = softmax_p(mlp.loss, self.width)
            self.add(f"P{L} = {self.src.code(p.result, names)}", f"P = a*dl/da = {sympy.sstr(p.result)}")
            self.add(f"S{L} = {row_sum(f'P{L}', self.width)}", "(m, 1): sum_k P_k (softmax Jacobian)")
            names = self.names(last, h, out, clip=False)  # the Jacobian's a is the softmax itself
        code = self.src.code(delta.result, names)
        d = f"D{L}"
        if mlp.reduction == "mean" and delta.result.is_Atom:  # a name: divide into a new array
            self.add(f"{d} = {code}/X.shape[0]", f"dl/dz = {sympy.sstr(delta.result)}, over m")
        else:
            self.add(f"{d} = {code}", f"dl/dz = {sympy.sstr(delta.result)}")
            if mlp.reduction == "mean":
                self.add(f"{d} /= X.shape[0]", "the mean over the batch: dL/dz = (dl/dz)/m")
        if self.adjoints and self.head:
            self.keep_head(last, out)
        layers = list(zip(mlp.stack, self.inputs))
        if self.head:
            layers = layers[:-1]
        for layer, h in reversed(layers):
            d = self.backward(layer, d, h)
            if d is None:
                break
        order = {name: k for k, name in enumerate(mlp.param_shapes())}
        items = ", ".join(f'"{p}": {g}' for p, g in sorted(self.grads, key=lambda pg: order[pg[0]]))
        if self.ones:
            self.src.lines.insert(self.after_x, ONES_LINE)
        self.add(f"return loss, {{{items}}}" + (", adj" if self.adjoints else ""))


    def keep_head(self, last: Any, out: str) -> None:
        """``dL/da`` of the output activation (``sympy.diff`` of the loss term) and, for softmax, ``dL/dsumexp``.

        The scalar graph's softmax is ``a_k = exp(z_k)/S`` with ``S = sum_j exp(z_j)``, so
        ``dL/dS = -sum_k dL/da_k * a_k / S``, and ``1/S = exp(-max z)/T`` with the shifted sum ``T``.
        """
        L, mean = last.stage, "/X.shape[0]" if self.mlp.reduction == "mean" else ""
        term = get_loss(self.mlp.loss).term(self.width)
        dl_da = sympy.diff(term, _a)
        code = self.src.code(dl_da, {_a: Symbol(out), _y: self.Y})
        self.add(f"adj[\"{last.out}\"] = ({code}){mean}", f"dL/da = {sympy.sstr(dl_da)}")
        if last.shared:
            self.add(f"adj[\"{last.shared}\"] = -numpy.sum(adj[\"{last.out}\"]*{out}, axis=1)"
                     f"*numpy.exp(-MAX{L}[:, 0])/T{L}[:, 0]", "dL/dS = -sum_k dL/da_k*a_k/S")


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
            ``y`` of shape ``(m, nL)``. With dropout it takes ``masks`` too
            (``{"mask1": (m, n) array}``; without them, no dropout).
        forward: ``f(params, x) -> yhat`` of shape ``(m, nL)`` (with dropout: ``masks=None``).

    Both run the generated functions with the BLAS thread count :mod:`symprop.blas`
    picks for the batch's size (one thread for a small network).
    """

    mlp: Any
    source: str
    derivations: list[Any]
    loss_and_grads: Callable[..., tuple[float, dict[str, Any]]]
    forward: Callable[..., Any]
    #: True when the loss clips ``yhat`` to ``[BCE_CLIP, 1 - BCE_CLIP]`` (a log of an output without a stable form)
    clip: bool = False
    _adjoints: Callable[..., Any] | None = field(default=None, repr=False)
    _into: Callable[..., Any] | None = field(default=None, repr=False)

    def loss_grads_and_adjoints(self, params: dict[str, Any], x: Any, y: Any, masks: Any = None
                                ) -> tuple[float, dict[str, Any], dict[str, Any]]:
        """``(loss, grads, adjoints)``: besides the gradients, ``dL/dv`` of every named value ``v``
        that depends on a parameter (``{"z1": (m, n1) array, "mu1": (n1,), "sumexp2": (m,), ...}``).

        The code is generated (once, on first use) from the same derivations with a line that
        keeps each value's gradient; :attr:`source` does not show it.
        """
        if self._adjoints is None:
            self._adjoints = _generate(self.mlp, adjoints=True)[0]["loss_and_grads"]
        args = (params, x, y, masks) if self.mlp.dropouts() else (params, x, y)
        return self._adjoints(*args)

    def loss_and_grads_into(self, params: dict[str, Any], x: Any, y: Any, work: dict[str, Any],
                            masks: Any = None) -> tuple[float, dict[str, Any]]:
        """:attr:`loss_and_grads`, each weight gradient's product written into ``work[name]`` where given.

        ``work["W1"]`` is a C-contiguous float64 array of the product's shape, ``W1``'s
        transposed (``gW1`` is returned as its transpose, a view, as ever). The training
        loop (:class:`symprop.train.Stepper`) gives the arrays of the parameters of two
        steps before, so that a step of a big network makes no large array: a fresh one
        costs page faults. The code is generated on first use, and :attr:`source` does
        not show it (it differs in ``out=`` only). Same bits as :attr:`loss_and_grads`.
        """
        if self._into is None:
            self._into = _threads(self.mlp, _generate(self.mlp, into=True)[0]["loss_and_grads"])
            self._into_masks = bool(self.mlp.dropouts())
        if self._into_masks:
            return self._into(params, x, y, masks, work=work)
        return self._into(params, x, y, work=work)

    def loss(self, params: dict[str, Any], x: Any, y: Any, masks: Any = None) -> float:
        """The loss at ``params`` (through the compiled forward pass)."""
        if self.mlp.dropouts():
            return float(self.loss_and_grads(params, x, y, masks)[0])
        return float(self.loss_and_grads(params, x, y)[0])

    def _repr_html_(self) -> str | None:
        """Jupyter: what was compiled and derived, the source folded away."""
        return display.show(self, "html")

    def __repr__(self) -> str:
        if hasattr(self.mlp, "activations"):
            return f"<Compiled MLP {self.mlp.layers} {self.mlp.activations} {self.mlp.loss}>"
        return f"<Compiled {self.mlp.summary}>"


_counter = itertools.count(1)


def _header(mlp: Any) -> str:
    if hasattr(mlp, "activations"):  # an MLP
        return (f"layers {mlp.layers}, activations {mlp.activations}, loss {mlp.loss!r}, "
                f"reduction {mlp.reduction!r}, bias {mlp.bias!r}.")
    return f"layers {mlp.summary}."


def compile(network: Any) -> Compiled:  # noqa: A001 - symprop.compile(network)
    """Derive a network's gradients and compile them into numpy code.

    Args:
        network: an :class:`~symprop.nn.MLP` or :class:`~symprop.nn.Sequential`,
            or anything with an ``mlp`` attribute.

    Returns:
        A :class:`Compiled` with ``loss_and_grads``, ``forward`` and the ``source``.
    """

    mlp = getattr(network, "mlp", network)
    namespace, source, gen = _generate(mlp)
    step, forward = (_threads(mlp, namespace[name]) for name in ("loss_and_grads", "forward"))
    return Compiled(mlp, source, gen.derivations, step, forward, gen.clip)


def _threads(mlp: Any, function: Callable[..., Any]) -> Callable[..., Any]:
    """One BLAS thread for a small network, the faster of one and OpenBLAS's count for a big one (symprop.blas)."""
    widest = max((layer.width_in * layer.width_out for layer in walk(mlp.stack) if layer.kind == "linear"), default=0)
    return blas_threads_by_size(function, widest)


def _generate(mlp: Any, *, adjoints: bool = False, into: bool = False) -> tuple[dict[str, Any], str, _Generator]:
    """Generate, and execute, the source of ``loss_and_grads`` and ``forward`` (see :func:`compile`)."""
    gen = _Generator(mlp, adjoints=adjoints, into=into)
    gen.loss_and_grads()
    grads_lines = gen.src.lines
    gen.src = Source()
    out = gen.forward(need_log=False)
    gen.add(f"return {out}")
    forward_lines = gen.src.lines
    text = "\n".join(grads_lines + forward_lines)
    helpers = [h for name, h in HELPERS.items() if name in text]
    header = [
        f'"""Compiled by symprop from the derived formulas: {_header(mlp)}',
        "",
        "Shapes: m samples in rows; Wl is (n_l, n_(l-1)); Dl = dL/dZl"
        + ("." if hasattr(mlp, "activations") else ", and the gradient of each later value of layer l in turn."),
        "Derived with sympy.diff:",
        *(f"    {d}" for d in gen.derivations),
        '"""',
        "import numpy",
        "",
    ]
    masks = ", masks=None" if mlp.dropouts() else ""
    parts = header + [h + "\n" for h in helpers]
    work = ", *, work" if into else ""
    parts += _function("loss_and_grads", f"params, x, y{masks}{work}", "The loss and dL/dparam for every parameter.",
                       _params_lines(mlp), grads_lines)
    parts += ["", ""]
    parts += _function("forward", f"params, x{masks}", "The network's output for a batch x.",
                       _params_lines(mlp), forward_lines)
    source = "\n".join(parts) + "\n"
    filename = f"<symprop-compiled-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "symprop_compiled"}
    exec(builtins.compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated text only
    return namespace, source, gen
