"""Straight-line scalar code for tiny networks: one line of float arithmetic per neuron and sample.

For a network of a few dozen parameters and a handful of samples (the XOR net:
13 parameters, 4 samples), a numpy training step is a dozen calls on arrays of
a few numbers each, and numpy's overhead per call costs more than the
arithmetic. Here the same derived formulas :mod:`symprop.compiler` prints as
array code (``da/dz`` from ``sympy.diff`` of the activation, written through
its output; the output layer's ``dl/dz`` from the loss table composed with the
output activation) are printed once per neuron and sample, as plain Python
floats, into one function with no loops and no arrays:

* the forward pass, ``z1_s_j = W1_j_0*x_s_0 + ... + b1_j`` and ``a1_s_j = f(z1_s_j)``;
* the loss, one sum of the per-output terms;
* the deltas from the output layer back, ``dz1_s_j = (dz2_s_0*W2_0_j + ...)*(da/dz)``;
* each gradient entry, one sum over the samples (``dz1_0_j*x_0_i + dz1_1_j*x_1_i + ...``).

Every intermediate value is named once and reused (the common subexpressions
of the batch's loss and gradients, shared by construction). The names are
internal ASCII names made here; no user text reaches the source.

Numerics follow the array code: sigmoid caps ``-z`` at 700 (so ``exp`` never
overflows, and a NaN passes through), relu, leaky_relu and the Heaviside step
send a NaN through as numpy does, and softplus is the stable
``z + log1p(exp(-z))`` for ``z > 0``. Where Python's float arithmetic raises
instead of giving ``inf`` or ``nan`` (``exp(1000)``, ``log(0)``, ``1e200**2``),
:class:`ScalarStep` computes that step with the array code, so the values a
step gives, and a divergence, are numpy's.

Only stacks of ``linear`` layers and elementwise activations, without weight
decay, are written this way (:func:`scalar_code` returns None for anything
else: softmax, norms, dropout, residual blocks, a loss that needs clipping);
the array code is used for those. The values agree with the array code's to
rounding (the sums are taken in another order): within 1e-13 relative.

>>> from symprop.nn import MLP
>>> code = scalar_code(MLP([2, 3, 1], "sigmoid", "half_squared_error", "sum"), samples=4)
>>> print([line.strip() for line in code.source.splitlines() if line.strip().startswith("dz2_0_0 =")][0])
dz2_0_0 = a2_0_0*(1 - a2_0_0)*(a2_0_0 - y_0_0)
"""

from __future__ import annotations

import builtins
import itertools
import linecache
import math
from dataclasses import dataclass
from typing import Any, Callable

import sympy
from sympy.printing.pycode import PythonCodePrinter

from .compiler import Compiled, _Generator, activation_derivative, output_delta
from .nn.activations import A as _a
from .nn.activations import Z as _z
from .nn.losses import Y as _y

__all__ = ["ScalarCode", "ScalarStep", "scalar_code", "SCALAR_WORK"]

#: The largest ``parameter scalars x samples`` written as scalar code. Past about 500 numpy's arrays
#: win (a [2, 4, 1] net on 32 samples, 544, measured alike both ways); at 52 (the XOR net) the scalar
#: step takes a fifth of the array step's time, at 208 under half.
SCALAR_WORK = 256

#: What the printed code can see besides the builtins: the math module, by bare name (SymPy's Python
#: printer writes ``exp(z)``, ``tanh(z)``, ``erf(z)`` ...; the code's own names all carry digits).
_MATH = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}


class _Printer(PythonCodePrinter):
    """SymPy's Python printer, with the table's functions written as float expressions.

    Each keeps numpy's treatment of NaN (it passes through) and of large arguments.
    """

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": False, "strict": True})

    def _operand(self, expr: sympy.Expr) -> str:
        text = self._print(expr)
        return text if isinstance(expr, sympy.Symbol) else f"({text})"

    def _print_sigmoid(self, expr):  # noqa: N802 - SymPy's printer protocol
        x = self._operand(expr.args[0])
        return f"1/(1 + exp(700.0 if {x} < -700.0 else -{x}))"

    def _print_relu(self, expr):  # noqa: N802
        x = self._operand(expr.args[0])
        return f"(0.0 if {x} <= 0 else {x})"

    def _print_leaky_relu(self, expr):  # noqa: N802
        x, slope = self._operand(expr.args[0]), self._print(sympy.Float(expr.args[1]))
        return f"({x} if {x} > 0 else {slope}*{x})"

    def _print_softplus(self, expr):  # noqa: N802
        x = self._operand(expr.args[0])
        return f"({x} + log1p(exp(-{x})) if {x} > 0 else log1p(exp({x})))"

    def _print_Heaviside(self, expr):  # noqa: N802
        if len(expr.args) == 2 and expr.args[1] == 0:
            return f"(1.0 if {self._operand(expr.args[0])} > 0 else 0.0)"
        return self._print_not_supported(expr)


class _Template:
    """A formula in ``z, a, y`` printed once, then filled in with each neuron's names."""

    def __init__(self, printer: _Printer, expression: sympy.Expr):
        slots = {_z: sympy.Symbol("_slot_z_"), _a: sympy.Symbol("_slot_a_"), _y: sympy.Symbol("_slot_y_")}
        self.text = printer.doprint(expression.xreplace(slots))

    def __call__(self, **names: str) -> str:
        text = self.text
        for slot, name in names.items():
            text = text.replace(f"_slot_{slot}_", name)
        return text


@dataclass(frozen=True)
class ScalarCode:
    """A network's loss and gradients as one function of floats.

    Attributes:
        source: the generated Python source.
        loss_and_grads: ``f(p, xs, ys) -> (loss, grads)``: ``p`` every parameter
            scalar in ``mlp.param_shapes()`` order, each tensor row-major;
            ``xs`` and ``ys`` the batch's inputs and targets, sample by sample;
            ``grads`` in the order of ``p``.
        samples: the batch size it was written for.
    """

    source: str
    loss_and_grads: Callable[[list, list, list], tuple[float, list]]
    samples: int


def _supported(mlp: Any) -> bool:
    """Only linear layers and elementwise activations, no weight decay, no dropout masks."""
    if getattr(mlp, "weight_decay", 0):
        return False
    for layer in mlp.stack:
        if layer.kind == "linear":
            continue
        if layer.kind != "activation" or not layer.activation.elementwise:
            return False
    return True


def _key(mlp: Any) -> tuple:
    layers = tuple((layer.kind, layer.width_out, getattr(layer, "bias", None), getattr(layer, "name", None),
                    str(getattr(layer, "slope", ""))) for layer in mlp.stack)
    return (layers, mlp.stack[0].width_in, mlp.loss, mlp.reduction)


def scalar_code(mlp: Any, samples: int) -> ScalarCode | None:
    """The scalar code of ``mlp`` for a batch of ``samples``, or None where it is not written.

    None: a layer other than ``linear`` and an elementwise activation, weight decay,
    a loss that clips its output, or more than :data:`SCALAR_WORK` parameter scalars
    times samples. The code is made once per architecture and batch size.
    """
    if samples < 1 or not _supported(mlp):
        return None
    size = sum(math.prod(shape) for shape in mlp.param_shapes().values())
    if size * samples > SCALAR_WORK:
        return None
    key = (_key(mlp), samples)
    if key not in _CACHE:
        if len(_CACHE) >= 32:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _write(mlp, samples)
    return _CACHE[key]


#: Scalar code made so far, by architecture and batch size (the oldest dropped past 32).
_CACHE: dict[tuple, ScalarCode | None] = {}


def _write(mlp: Any, samples: int) -> ScalarCode | None:
    gen = _Generator(mlp)
    if gen.clip:
        return None
    try:
        source = _Writer(mlp, gen, samples).source()
    except sympy.printing.codeprinter.PrintMethodNotImplementedError:
        return None  # a user's activation with a function the float printer does not know
    filename = f"<symprop-scalar-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "symprop_scalar", **_MATH}
    exec(builtins.compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated text only
    return ScalarCode(source, namespace["loss_and_grads"], samples)


_counter = itertools.count(1)


class _Writer:
    """Writes the lines of ``loss_and_grads`` for one network and batch size."""

    def __init__(self, mlp: Any, gen: _Generator, samples: int):
        self.mlp, self.gen, self.m = mlp, gen, samples
        self.printer = _Printer()
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append("    " + line)

    def params(self) -> list[str]:
        """Every parameter scalar's name, in the order of ``p``."""
        names = []
        for name, shape in self.mlp.param_shapes().items():
            names += [name + "".join(f"_{k}" for k in index) for index in itertools.product(*map(range, shape))]
        return names

    def source(self) -> str:
        mlp, m = self.mlp, self.m
        n_in, n_out = mlp.n_inputs, mlp.n_outputs
        params = self.params()
        self.add(f"{', '.join(params)}, = p")
        xs = [[f"x_{s}_{i}" for i in range(n_in)] for s in range(m)]
        ys = [[f"y_{s}_{k}" for k in range(n_out)] for s in range(m)]
        self.add(f"{', '.join(itertools.chain(*xs))}, = xs")
        self.add(f"{', '.join(itertools.chain(*ys))}, = ys")
        # forward: the names of each layer's values, per sample
        h = xs
        inputs = []
        head = self.gen.head
        body = mlp.stack[:-1] if head else mlp.stack
        for layer in body:
            inputs.append(h)
            h = self.forward(layer, h)
        # the output activation, joined to the loss
        if head:
            z_names = h
            a_names = self.forward(head, h)
        else:
            z_names = a_names = h
        self.loss(z_names, a_names, ys)
        # backward
        d = self.output_delta(z_names, a_names, ys)
        grads: dict[str, str] = {}
        for layer, h in reversed(list(zip(body, inputs))):
            d = self.backward(layer, d, h, grads)
            if d is None:
                break
        returned = ", ".join(grads.get(name, "0.0") for name in params)
        self.add(f"return loss, [{returned}]")
        doc = f'    """The loss and every gradient scalar of {_describe(mlp)}, for {m} samples."""'
        return "\n".join(["def loss_and_grads(p, xs, ys):", doc, *self.lines]) + "\n"

    # forward -----------------------------------------------------------------

    def forward(self, layer: Any, h: list[list[str]]) -> list[list[str]]:
        l, out = layer.stage, []
        if layer.kind == "linear":
            for s, row in enumerate(h):
                names = []
                for j in range(layer.width_out):
                    terms = [f"W{l}_{j}_{i}*{value}" for i, value in enumerate(row)]
                    if layer.bias == "neuron":
                        terms.append(f"b{l}_{j}")
                    elif layer.bias == "layer":
                        terms.append(f"b{l}")
                    names.append(f"z{l}_{s}_{j}")
                    self.add(f"{names[-1]} = {' + '.join(terms)}")
                out.append(names)
            return out
        formula = _Template(self.printer, layer.activation.of(_z, layer.slope))
        for s, row in enumerate(h):
            names = [f"a{l}_{s}_{j}" for j in range(len(row))]
            for name, z in zip(names, row):
                self.add(f"{name} = {formula(z=z)}")
            out.append(names)
        return out

    def loss(self, z_names: list[list[str]], a_names: list[list[str]], ys: list[list[str]]) -> None:
        term = _Template(self.printer, self.gen.term)
        terms = [f"({term(z=z, a=a, y=y)})" for zs, as_, ys_ in zip(z_names, a_names, ys)
                 for z, a, y in zip(zs, as_, ys_)]
        total = " + ".join(terms)
        self.add(f"loss = {total}" if self.mlp.reduction == "sum" else f"loss = ({total})/{self.m}")

    # backward ----------------------------------------------------------------

    def output_delta(self, z_names, a_names, ys) -> list[list[str]]:
        gen = self.gen
        slope = gen.head.slope if gen.head else gen.slope
        delta = _Template(self.printer, output_delta(gen.out_act, self.mlp.loss, gen.width, slope).result)
        out = []
        stage = self.mlp.stack[-1].stage
        for s, (zs, as_, ys_) in enumerate(zip(z_names, a_names, ys)):
            names = [f"dz{stage}_{s}_{k}" for k in range(len(zs))]
            for name, z, a, y in zip(names, zs, as_, ys_):
                code = delta(z=z, a=a, y=y)
                self.add(f"{name} = {code}" if self.mlp.reduction == "sum" else f"{name} = ({code})/{self.m}")
            out.append(names)
        return out

    def backward(self, layer: Any, d: list[list[str]], h: list[list[str]], grads: dict[str, str]) -> list[list[str]] | None:
        l = layer.stage
        if layer.kind == "activation":
            local = activation_derivative(layer.activation, layer.slope).result
            if local == 1:
                return d
            derivative = _Template(self.printer, local)
            out = []
            for s, (ds, zs) in enumerate(zip(d, h)):
                names = [f"dz{l}_{s}_{j}" for j in range(len(ds))]
                for j, (name, upstream, z) in enumerate(zip(names, ds, zs)):
                    self.add(f"{name} = ({upstream})*({derivative(z=z, a=f'a{l}_{s}_{j}')})")
                out.append(names)
            return out
        d = self.named(d, f"da{l}")
        for j in range(layer.width_out):
            for i in range(layer.width_in):
                grads[f"W{l}_{j}_{i}"] = " + ".join(f"{d[s][j]}*{h[s][i]}" for s in range(self.m))
            if layer.bias == "neuron":
                grads[f"b{l}_{j}"] = " + ".join(d[s][j] for s in range(self.m))
        if layer.bias == "layer":
            grads[f"b{l}"] = " + ".join(d[s][j] for s in range(self.m) for j in range(layer.width_out))
        if not self.gen.input_grad(layer):
            return None
        # dL/da_prev, written into the line of the activation before when there is one
        return [[" + ".join(f"{d[s][j]}*W{l}_{j}_{i}" for j in range(layer.width_out)) for i in range(layer.width_in)]
                for s in range(self.m)]

    def named(self, d: list[list[str]], prefix: str) -> list[list[str]]:
        """Name each entry of ``d`` that is an expression, so the gradients below reuse it."""
        out = []
        for s, row in enumerate(d):
            names = []
            for j, value in enumerate(row):
                if not value.isidentifier():
                    self.add(f"{prefix}_{s}_{j} = {value}")
                    value = f"{prefix}_{s}_{j}"
                names.append(value)
            out.append(names)
        return out


def _describe(mlp: Any) -> str:
    if hasattr(mlp, "activations"):
        return f"MLP {mlp.layers} ({', '.join(mlp.activations)}; {mlp.loss}, {mlp.reduction})"
    return f"the network {mlp.summary}"


class ScalarStep:
    """``loss_and_grads`` on one flat vector of parameters, through the scalar code.

    Where Python's floats raise (an overflow, ``log(0)``), that call goes
    through the array code instead, so its values are numpy's.
    """

    def __init__(self, compiled: Compiled, code: ScalarCode, x: Any, y: Any):
        import numpy as np

        self.compiled, self.code = compiled, code
        self.x, self.y = x, y
        self.xs, self.ys = x.ravel().tolist(), y.ravel().tolist()
        self.shapes = compiled.mlp.param_shapes()
        self.array = np.array

    def flatten(self, params: dict[str, Any]) -> Any:
        import numpy as np

        return np.concatenate([np.ravel(params[name]) for name in self.shapes]) if self.shapes else np.zeros(0)

    def unflatten(self, theta: Any) -> dict[str, Any]:
        params, start = {}, 0
        for name, shape in self.shapes.items():
            size = math.prod(shape)
            params[name] = theta[start:start + size].reshape(shape).copy()
            start += size
        return params

    def __call__(self, theta: Any) -> tuple[float, Any]:
        try:
            loss, grads = self.code.loss_and_grads(theta.tolist(), self.xs, self.ys)
        except (OverflowError, ZeroDivisionError, ValueError):
            loss, grads = self.compiled.loss_and_grads(self.unflatten(theta), self.x, self.y)
            return float(loss), self.flatten(grads)
        return loss, self.array(grads)

