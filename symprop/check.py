"""The checker: hold a gradient against the exact one, and say where it went wrong.

``gradcheck`` compares the exact gradient of every parameter scalar (from the
backward pass) with either

* central finite differences of the loss in float64 (the default), or
* a user's own gradient (``against=``): a function ``grads(params, x, y)``
  returning ``{name: array shaped like the parameter}``, or such a dict.

and returns a :class:`GradcheckReport`: one :class:`Row` per parameter scalar
(exact, numeric, relative error, ok), and for each parameter that is wrong a
:class:`Finding` that says which entries, by how much, and carries the exact
derivation steps of the worst entry, so the wrong factor can be found.

>>> import symprop
>>> g = symprop.Graph.from_formulas(["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"], params=["w", "b"])
>>> report = symprop.gradcheck(g, {"w": -2, "x": 2, "b": 8, "y": 1})
>>> report.passed, [r.param for r in report.rows]
(True, ['w', 'b'])
>>> bad = symprop.gradcheck(g, {"w": -2, "x": 2, "b": 8, "y": 1}, against={"w": 6.0, "b": 6.0})
>>> bad.passed, [f.param for f in bad.findings]
(False, ['b'])

Why the defaults are sound
--------------------------
The relative error of a row is ``|a - n| / max(|a|, |n|, floor)`` (``a`` the
exact value, ``n`` the numeric one); a row is ok when it is at most ``rtol``
(so the floor makes ``rtol * floor`` an absolute tolerance for gradients near
0). A NaN or infinity is never ok.

A central difference ``(L(p + h) - L(p - h)) / 2h`` has a truncation error
of ``h**2 |L'''| / 6`` and a rounding error of about ``eps_machine |L| / h``
(``eps_machine = 2.2e-16``). The sum is smallest near
``h = eps_machine**(1/3) ~ 6e-6``, where both are about ``1e-11`` times the
scale of the loss: the default ``eps = 1e-5`` (CS231n's choice; torch.gradcheck
uses 1e-6). So an exact gradient and its finite difference agree to about
``1e-10`` relative on a well-scaled loss, and the default ``rtol = 1e-5``
leaves five orders of magnitude of room for badly scaled ones, while every
real bug (a missing factor, a transposed matrix, a forgotten sum, a sign) is
off by far more: CS231n calls a relative error above 1e-2 "probably wrong" and
below 1e-7 "happy"; torch.gradcheck allows rtol 1e-3 with atol 1e-5. The
``floor`` of ``1e-4`` turns the relative test into an absolute one of
``rtol * floor = 1e-9`` for gradients smaller than ``1e-4``, still a hundred
times the finite-difference noise of a loss of order 1, so a gradient that is
exactly 0 is not failed for a numeric ``1e-12``.

A user's float64 gradient carries no truncation error at all, so the same
tolerances are strict for it: a gradient scaled by ``1 + 2*rtol`` fails.

Kinks
-----
``relu``, ``leaky_relu`` and ``abs`` have no derivative at 0 (symprop uses
``relu'(0) = 0`` as PyTorch does). When a kink's argument changes sign between
``p - eps`` and ``p + eps`` the finite difference measures neither side, so a
disagreeing row is flagged ``kink`` and not counted as a wrong gradient. Against
a user's gradient only a kink argument at 0 itself (within ``1e-8``) excuses a
difference, and only for a value between the one-sided derivatives there
(``z > 0`` versus ``z >= 0`` are both defensible; anything else is wrong).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy
from sympy import Symbol

from .backprop import BackwardPass, FanIn, Step, backward
from .errors import EvaluationError, SympropError
from .functions import leaky_relu, relu
from .graph import Graph

__all__ = [
    "gradcheck",
    "GradcheckReport",
    "Row",
    "Finding",
    "Derivation",
    "relative_error",
    "load_function",
    "LoadError",
    "DEFAULT_EPS",
    "DEFAULT_RTOL",
    "DEFAULT_FLOOR",
]

#: The finite-difference step ``h``: near ``eps_machine**(1/3)`` (see the module docstring).
DEFAULT_EPS = 1e-5
#: The largest relative error that counts as agreement.
DEFAULT_RTOL = 1e-5
#: Below this magnitude the relative error is taken against the floor instead.
DEFAULT_FLOOR = 1e-4
#: Against a user's gradient, a kink argument this close to 0 excuses a difference.
KINK_TOUCH = 1e-8
#: The step of the one-sided differences that bound a user's value at a kink, and their tolerance.
ONE_SIDED_STEP = 1e-6
ONE_SIDED_RTOL = 1e-4

#: Row statuses: ``ok``; ``wrong`` (a finite number that disagrees); ``kink``
#: (disagrees, but a kink lies inside the step); ``nan`` (NaN or infinity); and
#: no usable value: ``missing`` (no such key), ``shape`` (the array has the wrong
#: shape), ``invalid`` (not numbers, or not a dict), ``error`` (the function raised).
STATUSES = ("ok", "wrong", "kink", "nan", "missing", "shape", "invalid", "error")


class LoadError(SympropError):
    """The user's gradient function cannot be loaded (bad path, syntax error, no such name)."""


def relative_error(exact: float, numeric: float, floor: float = DEFAULT_FLOOR) -> float:
    """``|a - n| / max(|a|, |n|, floor)``; infinite when either is NaN or infinite."""
    if not (math.isfinite(exact) and math.isfinite(numeric)):
        return math.inf
    return abs(exact - numeric) / max(abs(exact), abs(numeric), floor)


@dataclass(frozen=True)
class Row:
    """One parameter scalar.

    Attributes:
        param: its label, ``"w"`` or ``"W1[0,1]"``.
        name: the parameter it belongs to (``"W1"``).
        index: its index in the parameter's array (``()`` for a scalar).
        symbolic: the exact gradient, as a float.
        numeric: the finite difference (or the user's value); ``None`` if there is none.
        rel_error: ``|symbolic - numeric| / max(|symbolic|, |numeric|, floor)``
            (infinite for NaN or a missing value).
        ok: True when it agrees, or when a kink excuses the difference.
        status: one of :data:`STATUSES`.
        exact: the exact SymPy value, when there is one (formula graphs).
    """

    param: str
    name: str
    index: tuple[int, ...]
    symbolic: float
    numeric: float | None
    rel_error: float
    ok: bool
    status: str
    exact: sympy.Expr | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (non-finite numbers become ``null``)."""
        data = {
            "param": self.param,
            "symbolic": _json_number(self.symbolic),
            "numeric": _json_number(self.numeric),
            "rel_error": _json_number(self.rel_error),
            "ok": self.ok,
            "status": self.status,
        }
        if self.exact is not None and not (self.exact.is_Float or self.exact.is_Integer):
            data["exact"] = sympy.sstr(self.exact)
        return data


@dataclass
class Derivation:
    """The exact derivation of one gradient entry, as recorded by a backward pass.

    Attributes:
        backward: the backward pass the steps belong to.
        steps: the steps (and fan-in sums) that make the entry's gradient, right to left.
        entry: the entry's label (``"W1[2,0]"``).
        source: where the steps come from when not the whole loss (``"sample 2 of 4"``).
        total: for a batch, how the samples' gradients add up to the entry's gradient.
    """

    backward: BackwardPass
    steps: list[Step | FanIn]
    entry: str
    source: str | None = None
    total: str | None = None


@dataclass
class Finding:
    """What is wrong with one parameter (or with the user's function as a whole).

    Attributes:
        param: the parameter's name, or ``None`` for the whole function.
        kind: ``wrong`` (values), ``missing``, ``extra``, ``shape``, ``nan``,
            ``type`` (not numbers), ``error`` (an exception), ``not_dict``, or
            ``kink`` (a difference excused by a kink).
        message: one line that says what and by how much.
        hints: likely causes (``"its transpose matches the exact gradient"``).
        derivation: the exact derivation of the worst entry (for ``wrong``).
    """

    param: str | None
    kind: str
    message: str
    hints: list[str] = field(default_factory=list)
    derivation: Derivation | None = None

    @property
    def fails(self) -> bool:
        return self.kind != "kink"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"param": self.param, "kind": self.kind, "message": self.message, "hints": self.hints}
        if self.derivation is not None:
            from .render.check import derivation_dict

            data["derivation"] = derivation_dict(self.derivation)
        return data


@dataclass
class GradcheckReport:
    """The result of :func:`gradcheck`: rows, findings, and whether it passed.

    ``bool(report)`` is ``report.passed``. Printed, it is a plain-text table;
    in rich (``rich.print(report)``) and Jupyter it renders as a table too.
    """

    rows: list[Row]
    against: str
    eps: float | None
    rtol: float
    floor: float
    findings: list[Finding] = field(default_factory=list)
    loss: float | None = None
    output: str = "L"

    @property
    def passed(self) -> bool:
        """True when every row is ok and nothing is wrong with the user's function."""
        return all(r.ok for r in self.rows) and not any(f.fails for f in self.findings)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failed(self) -> list[Row]:
        """The rows that are not ok."""
        return [r for r in self.rows if not r.ok]

    @property
    def wrong_params(self) -> list[str]:
        """The names of the parameters with a failing row or finding, in order."""
        names = [r.name for r in self.rows if not r.ok]
        names += [f.param for f in self.findings if f.fails and f.param is not None]
        return list(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        """``{"passed", "rows": [{"param", "symbolic", "numeric", "rel_error", "ok", ...}], ...}``."""
        return {
            "passed": self.passed,
            "rows": [r.to_dict() for r in self.rows],
            "against": self.against,
            "eps": self.eps,
            "rtol": self.rtol,
            "floor": self.floor,
            "findings": [f.to_dict() for f in self.findings],
        }

    def __str__(self) -> str:
        from .render.check import check_text

        return check_text(self)

    def __rich__(self):
        from .render.check import check_rich

        return check_rich(self)

    def _repr_markdown_(self) -> str:
        from .render.check import check_markdown

        return check_markdown(self)

    def _repr_html_(self) -> str:
        from .render.check import check_html

        return check_html(self)


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


# -- what is checked: a formula graph or a network ------------------------------


class _Subject:
    """What the checker needs of a formula graph or a network (see the two below).

    ``values``: parameter name -> float64 array (0-d for scalars) at the point;
    ``exact``: the same shapes, the exact gradient as floats.
    """

    values: dict[str, np.ndarray]
    exact: dict[str, np.ndarray]
    output: str = "L"

    def label(self, name: str, index: tuple[int, ...]) -> str:
        raise NotImplementedError

    def symbolic(self, name: str, index: tuple[int, ...]) -> sympy.Expr | None:
        return None

    def loss(self, values: Mapping[str, np.ndarray]) -> float:
        raise NotImplementedError

    def kink_values(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The arguments of every kink (relu, leaky_relu, abs) at the point."""
        raise NotImplementedError

    def user_arguments(self) -> tuple[Any, Any, Any]:
        raise NotImplementedError

    def derivation(self, name: str, index: tuple[int, ...]) -> Derivation:
        raise NotImplementedError

    def loss_value(self) -> float | None:
        return None

    def where_hint(self, name: str, right: set[str]) -> str | None:
        """Where the mistake must be, given which parameters are right (networks only)."""
        return None


#: SymPy functions with a kink at 0 of their (first) argument.
_KINKED = (relu, leaky_relu, sympy.Abs, sympy.Heaviside, sympy.sign)


def _kink_arguments(graph: Graph) -> list[sympy.Expr]:
    """The argument of every kinked function application in the graph's node formulas."""
    found: dict[sympy.Expr, None] = {}
    for node in graph.nodes:
        for call in node.formula.atoms(*_KINKED):
            found.setdefault(call.args[0])
        for call in node.formula.atoms(sympy.Max, sympy.Min):
            for first, second in zip(call.args, call.args[1:]):
                found.setdefault(first - second)
    return list(found)


class _GraphSubject(_Subject):
    """A formula graph at a point; every parameter is a scalar (a 0-d array)."""

    def __init__(self, graph: Graph, at: Mapping[str | Symbol, object], *, exact: bool = False):
        self.graph = graph
        self.bp = backward(graph, at, exact=exact)
        self.output = graph.output.name
        self.symbols = {p.name: p for p in graph.params}
        self.base = {s: float(self.bp.values[s]) for s in graph.leaves}
        self.values = {p.name: np.array(self.base[p]) for p in graph.params}
        self.exact = {a.symbol.name: np.array(float(a.value)) for a in self.bp.gradients.values()}
        self.kinks = _kink_arguments(graph)

    def label(self, name, index):
        return self.graph.label(self.symbols[name])

    def symbolic(self, name, index):
        return self.bp.gradients[name].value

    def loss_value(self):
        return float(self.bp.loss)

    def _evaluate(self, values):
        point = dict(self.base)
        for name, array in values.items():
            point[self.symbols[name]] = float(array)
        return self.graph.evaluate(point)

    def loss(self, values):
        try:
            return float(self._evaluate(values)[self.graph.output])
        except (EvaluationError, TypeError, ValueError, OverflowError):
            return math.nan

    def kink_values(self, values):
        if not self.kinks:
            return np.zeros(0)
        try:
            evaluated = self._evaluate(values)
        except EvaluationError:
            return np.zeros(0)
        return np.array([float(k.xreplace(evaluated)) for k in self.kinks])

    def user_arguments(self):
        params = {name: float(v) for name, v in self.values.items()}
        others = {s.name: v for s, v in self.base.items() if s.name not in self.symbols}
        return params, (others or None), None

    def derivation(self, name, index):
        return Derivation(self.bp, derivation_steps(self.bp, self.symbols[name]), self.label(name, index))


class _NetworkSubject(_Subject):
    """A :class:`symprop.nn.Network`: its batch loss (or one sample's), parameters as arrays.

    Finite differences use the network's float64 numpy loss; the exact
    gradient comes from its exact backward pass.
    """

    #: A derivation shows one sample's chain: the one contributing most among the first this many.
    MAX_SAMPLE_PASSES = 8

    def __init__(self, network: Any, *, sample: int | None = None):
        from . import nn

        self.nn = nn
        self.network = network
        self.mlp = network.mlp
        if sample is not None:
            network._sample_index(sample)  # raises a PointError naming the range
        self.sample = sample
        rows = slice(None) if sample is None else slice(sample, sample + 1)
        self.x, self.y = network.x[rows], network.y[rows]
        self.batch = int(self.x.shape[0])
        self.values = {name: np.array(v, dtype=np.float64) for name, v in network.params.items()}
        self.exact = network.exact_gradients(sample)
        self.kinked = [l for l, a in enumerate(self.mlp.activations, start=1) if a in ("relu", "leaky_relu")]
        self._passes: dict[int | None, BackwardPass] = {}

    def label(self, name, index):
        return self.nn.scalar_label(name, index)

    def loss_value(self):
        return self.loss(self.values)

    def loss(self, values):
        with np.errstate(all="ignore"):
            return float(self.nn.loss_numpy(self.mlp, values, self.x, self.y))

    def kink_values(self, values):
        """The pre-activations ``z`` of the relu and leaky_relu layers, for every sample, flattened."""
        if not self.kinked:
            return np.zeros(0)
        found, a = [], self.x
        for l, activation in enumerate(self.mlp.activations, start=1):
            z = a @ values[f"W{l}"].T  # (m, n_{l-1}) @ (n_{l-1}, n_l)
            if self.mlp.bias != "none":
                z = z + values[f"b{l}"]
            if l in self.kinked:
                found.append(z.ravel())
            if l == self.mlp.depth:
                break
            layer = self.nn.MLP([self.mlp.layers[l - 1], self.mlp.layers[l]], activation, bias=self.mlp.bias, slope=self.mlp.slope)
            step = {"W1": values[f"W{l}"]} if self.mlp.bias == "none" else {"W1": values[f"W{l}"], "b1": values[f"b{l}"]}
            a = self.nn.forward_numpy(layer, step, a)
        return np.concatenate(found)

    def user_arguments(self):
        return {n: v.copy() for n, v in self.values.items()}, self.x.copy(), self.y.copy()

    def where_hint(self, name, right):
        """Backprop works right to left: if every layer after this one is right, dL/dz there is right."""
        layer, depth = int(name[1:]), self.mlp.depth
        after = [n for n in self.exact if int(n[1:]) > layer]
        if layer == depth:
            return (
                f"the output layer is wrong: check dL/da{depth} (the derivative of the loss "
                f"{self.mlp.loss!r}, reduction {self.mlp.reduction!r}) and ∂a{depth}/∂z{depth}"
            )
        if after and all(n in right for n in after):
            return (
                f"{', '.join(after)} agree, so dL/dz{layer + 1} is right: the mistake is in the steps after it, "
                f"dL/da{layer} = dL/dz{layer + 1} · ∂z{layer + 1}/∂a{layer}, dL/dz{layer} = dL/da{layer} · "
                f"∂a{layer}/∂z{layer} or d{self.output}/d{name} = dL/dz{layer} · ∂z{layer}/∂{name}"
            )
        return None

    def _sample_pass(self, k: int | None) -> BackwardPass:
        if k not in self._passes:
            self._passes[k] = self.network.backward(k)
        return self._passes[k]

    def derivation(self, name, index):
        """One sample's chain (the sample that contributes most, among the first few), and the batch sum."""
        scalar, label = self.nn.scalar_name(name, index), self.label(name, index)
        m = self.network.samples
        if self.sample is not None or m == 1:
            bp = self._sample_pass(self.sample)
            source = None if m == 1 else f"sample {self.sample} of {m}"
            return Derivation(bp, derivation_steps(bp, bp.graph.symbol(scalar)), label, source)
        shown = range(min(m, self.MAX_SAMPLE_PASSES))
        parts = [float(self._sample_pass(k).gradients[scalar].value) for k in shown]
        k = max(shown, key=lambda i: abs(parts[i]))
        bp = self._sample_pass(k)
        mean = self.mlp.reduction == "mean"
        terms = " + ".join(f"{v:.6g}" for v in parts) + (" + ..." if m > len(parts) else "")
        total = (
            f"d{self.output}/d{label} = {'mean' if mean else 'sum'} over the {m} samples "
            f"= {'(' if mean else ''}{terms}{f')/{m}' if mean else ''} = {float(self.exact[name][index]):.6g}"
        )
        return Derivation(
            bp, derivation_steps(bp, bp.graph.symbol(scalar)), label, f"sample {k} of {m}, its own loss", total
        )


def derivation_steps(bp: BackwardPass, symbol: Symbol) -> list[Step | FanIn]:
    """The recorded steps that make ``dL/dsymbol``, right to left, with their fan-in sums.

    These are the steps into ``symbol`` and, recursively, the steps into every
    node they start from: the whole chain of local derivatives of that gradient.
    """
    involved: set[Symbol] = set()
    todo = [symbol]
    while todo:
        s = todo.pop()
        if s in involved or s not in bp.adjoints:
            continue
        involved.add(s)
        todo.extend(step.node for step in bp.adjoints[s].steps)
    return [
        event
        for event in bp.timeline()
        if (event.adjoint.symbol if isinstance(event, FanIn) else event.input) in involved
    ]


# -- the two checks -------------------------------------------------------------


def _sign_changes(before: np.ndarray, after: np.ndarray) -> bool:
    return before.shape == after.shape and bool(np.any(np.sign(before) != np.sign(after)))


def _kink_between(subject: _Subject, name: str, index: tuple[int, ...], h: float) -> bool:
    """Does a kink argument change sign when this scalar moves from ``p - h`` to ``p + h``?"""
    values = {n: v.copy() for n, v in subject.values.items()}
    p = float(values[name][index])
    values[name][index] = p - h
    minus = subject.kink_values(values)
    values[name][index] = p + h
    plus = subject.kink_values(values)
    return _sign_changes(minus, plus)


def _numeric_gradient(subject: _Subject, eps: float) -> dict[str, np.ndarray]:
    """Central differences of the loss in float64, one parameter scalar at a time."""
    values = {n: v.copy() for n, v in subject.values.items()}
    numeric: dict[str, np.ndarray] = {}
    for name, array in values.items():
        result = np.empty(array.shape)
        for index in np.ndindex(array.shape):
            p = float(array[index])
            plus, minus = p + eps, p - eps
            array[index] = plus
            high = subject.loss(values)
            array[index] = minus
            low = subject.loss(values)
            array[index] = p
            result[index] = (high - low) / (plus - minus)  # the step as actually taken
        numeric[name] = result
    return numeric


def _one_sided(subject: _Subject, name: str, index: tuple[int, ...], h: float) -> tuple[float, float]:
    """The left and right difference quotients ``(L(p) - L(p-h))/h`` and ``(L(p+h) - L(p))/h``."""
    values = {n: v.copy() for n, v in subject.values.items()}
    p = float(values[name][index])
    losses = []
    for point in (p - h, p, p + h):
        values[name][index] = point
        losses.append(subject.loss(values))
    return (losses[1] - losses[0]) / (p - (p - h)), (losses[2] - losses[1]) / ((p + h) - p)


def _excused_by_kink(subject: _Subject, name: str, index: tuple[int, ...], theirs: float, *, floor: float) -> bool:
    """Against a user's value: a kink at the point itself, and the value between the one-sided derivatives.

    ``relu'(0)`` may be taken as 0 or 1 (or anything between); a value outside
    the one-sided derivatives is wrong whatever the convention.
    """
    scale = max(1.0, abs(float(subject.values[name][index])))
    if not _kink_between(subject, name, index, KINK_TOUCH * scale):
        return False
    left, right = _one_sided(subject, name, index, ONE_SIDED_STEP * scale)
    low, high = min(left, right), max(left, right)
    slack = ONE_SIDED_RTOL * max(abs(low), abs(high), floor)
    return low - slack <= theirs <= high + slack


def _rows(
    subject: _Subject,
    given: Mapping[str, np.ndarray | None],
    *,
    rtol: float,
    floor: float,
    kink_step: float | None,
    reasons: Mapping[str, str] | None = None,
) -> list[Row]:
    """One row per parameter scalar; ``kink_step`` None means "against a user's values".

    ``reasons`` gives the status of a parameter that has no values (``shape``, ...).
    """
    rows = []
    for name, exact in subject.exact.items():
        theirs = given.get(name)
        for index in np.ndindex(exact.shape):
            a = float(exact[index])
            n = None if theirs is None else float(theirs[index])
            rel = math.inf if n is None else relative_error(a, n, floor)
            if n is None:
                status = (reasons or {}).get(name, "missing")
            elif not math.isfinite(n):
                status = "nan"
            elif rel <= rtol:
                status = "ok"
            elif kink_step is None and _excused_by_kink(subject, name, index, n, floor=floor):
                status = "kink"
            elif kink_step is not None and _kink_between(
                subject, name, index, kink_step * max(1.0, abs(float(subject.values[name][index])))
            ):
                status = "kink"
            else:
                status = "wrong"
            rows.append(
                Row(
                    param=subject.label(name, index),
                    name=name,
                    index=tuple(int(i) for i in index),
                    symbolic=a,
                    numeric=n,
                    rel_error=rel,
                    ok=status in ("ok", "kink"),
                    status=status,
                    exact=subject.symbolic(name, index),
                )
            )
    return rows


def _kink_findings(rows: Sequence[Row]) -> list[Finding]:
    kinked = [r for r in rows if r.status == "kink"]
    if not kinked:
        return []
    labels = ", ".join(r.param for r in kinked[:6]) + (", ..." if len(kinked) > 6 else "")
    return [
        Finding(
            None,
            "kink",
            f"not judged at a kink (relu/leaky_relu/abs at 0 within the step): {labels}",
        )
    ]


def _check_numeric(subject: _Subject, *, eps: float, rtol: float, floor: float) -> GradcheckReport:
    numeric = _numeric_gradient(subject, eps)
    rows = _rows(subject, numeric, rtol=rtol, floor=floor, kink_step=eps)
    findings = _value_findings(subject, rows, numeric, floor=floor, rtol=rtol) + _kink_findings(rows)
    return GradcheckReport(rows, "finite differences", eps, rtol, floor, findings, subject.loss_value(), subject.output)


def _check_against(
    subject: _Subject,
    against: Callable[..., Any] | Mapping[str, Any],
    *,
    rtol: float,
    floor: float,
    name: str,
) -> GradcheckReport:
    findings: list[Finding] = []
    given: dict[str, np.ndarray | None] = {}
    if callable(against):
        params, x, y = subject.user_arguments()
        try:
            result = against(params, x, y)
        except Exception as error:  # the user's code: report it, one line
            result = None
            findings.append(Finding(None, "error", f"{name} raised {type(error).__name__}: {_one_line(error)}"))
    else:
        result = against
    if not findings:
        if not isinstance(result, Mapping):
            findings.append(
                Finding(
                    None,
                    "not_dict",
                    f"{name} returned {type(result).__name__}, not a dict of gradients "
                    f"({', '.join(subject.exact)} -> arrays shaped like the parameters)",
                )
            )
        else:
            given, problems = _read_gradients(subject, result)
            findings.extend(problems)
    reasons = {f.param: _REASONS[f.kind] for f in findings if f.param is not None and f.kind in _REASONS}
    if any(f.param is None and f.kind in _REASONS for f in findings):
        whole = next(_REASONS[f.kind] for f in findings if f.param is None and f.kind in _REASONS)
        reasons = {name: whole for name in subject.exact}
    rows = _rows(subject, given, rtol=rtol, floor=floor, kink_step=None, reasons=reasons)
    findings.extend(_value_findings(subject, rows, given, floor=floor, rtol=rtol))
    findings.extend(_kink_findings(rows))
    return GradcheckReport(rows, name, None, rtol, floor, findings, subject.loss_value(), subject.output)


#: The row status of a parameter whose finding is of this kind.
_REASONS = {"missing": "missing", "shape": "shape", "type": "invalid", "not_dict": "invalid", "error": "error"}


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _read_gradients(subject: _Subject, result: Mapping[Any, Any]) -> tuple[dict[str, np.ndarray | None], list[Finding]]:
    """Check the user's dict against the parameters: keys, types, shapes, finiteness."""
    given: dict[str, np.ndarray | None] = {}
    findings: list[Finding] = []
    expected = ", ".join(subject.exact)
    for key in result:
        if key not in subject.exact:
            findings.append(Finding(str(key), "extra", f"{key!r} is not a parameter (expected {expected})"))
    for name, exact in subject.exact.items():
        if name not in result:
            findings.append(Finding(name, "missing", f"{name}: missing from the returned dict"))
            continue
        raw = result[name]
        try:
            array = np.asarray(raw)
            if array.dtype.kind not in "iuf":  # None, text, objects, booleans are not gradients
                raise TypeError
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            findings.append(
                Finding(name, "type", f"{name}: not an array of numbers (got {type(raw).__name__})")
            )
            continue
        if array.shape != exact.shape:
            findings.append(
                Finding(
                    name,
                    "shape",
                    f"{name}: expected shape {exact.shape}, got {array.shape}",
                    _shape_hints(array, exact, floor=DEFAULT_FLOOR),
                )
            )
            continue
        bad = ~np.isfinite(array)
        if bad.any():
            where = [subject.label(name, tuple(int(i) for i in ix)) for ix in np.argwhere(bad)[:4]]
            findings.append(
                Finding(name, "nan", f"{name}: NaN or infinity at {', '.join(where)}{', ...' if bad.sum() > 4 else ''}")
            )
        given[name] = array
    return given, findings


def _close(a: np.ndarray, b: np.ndarray, floor: float, rtol: float = DEFAULT_RTOL) -> bool:
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return False
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return bool(np.all(np.abs(a - b) <= rtol * scale))


def _shape_hints(array: np.ndarray, exact: np.ndarray, *, floor: float) -> list[str]:
    """Why the shape might be off: transposed, an extra axis, a missing batch sum."""
    hints = []
    if array.ndim == 2 and _close(array.T, exact, floor):
        hints.append("its transpose is the exact gradient: the convention is W[j, i] joins input i to neuron j")
    elif array.size == exact.size and _close(array.reshape(exact.shape), exact, floor):
        hints.append(f"the values are right; reshape to {exact.shape} (e.g. no keepdims)")
    elif array.ndim >= 1 and array.shape[1:] == exact.shape and _close(array.sum(axis=0), exact, floor):
        hints.append("one row per sample: summing over the batch (axis 0) gives the exact gradient")
    elif array.ndim >= 1 and array.shape[0] == 1 and array.shape[1:] == exact.shape:
        hints.append("an extra leading axis of length 1")
    elif array.ndim >= 1 and array.size and array.size % max(exact.size, 1) == 0 and array.size > exact.size:
        hints.append(f"{array.size // max(exact.size, 1)} times too many entries: a forgotten sum over the batch?")
    return hints


def _value_findings(
    subject: _Subject,
    rows: Sequence[Row],
    given: Mapping[str, np.ndarray | None],
    *,
    floor: float,
    rtol: float,
) -> list[Finding]:
    """One finding per parameter with wrong finite values: which entries, how much, the derivation."""
    findings = []
    right = {n for n in subject.exact if all(r.ok for r in rows if r.name == n)}
    for name, exact in subject.exact.items():
        wrong = [r for r in rows if r.name == name and r.status == "wrong"]
        if not wrong:
            continue
        theirs = given[name]
        assert theirs is not None
        worst_abs = max(wrong, key=lambda r: abs(r.symbolic - r.numeric))
        worst_rel = max(wrong, key=lambda r: r.rel_error)
        total = int(np.prod(exact.shape, dtype=int))
        entries = ", ".join(r.param for r in wrong[:6]) + (", ..." if len(wrong) > 6 else "")
        what = f"{len(wrong)} of {total} entries" if exact.shape else "wrong"
        message = (
            f"{name}: {what}{' wrong: ' + entries if exact.shape else ''}; "
            f"max abs error {abs(worst_abs.symbolic - worst_abs.numeric):.3g} at {worst_abs.param}, "
            f"max rel error {worst_rel.rel_error:.3g} at {worst_rel.param}"
        )
        findings.append(
            Finding(
                name,
                "wrong",
                message,
                _value_hints(theirs, exact, floor=floor, rtol=rtol, batch=_batch_size(subject))
                + [h for h in [subject.where_hint(name, right)] if h],
                derivation=subject.derivation(name, worst_abs.index),
            )
        )
    return findings


def _batch_size(subject: _Subject) -> int | None:
    return getattr(subject, "batch", None)


def _value_hints(theirs: np.ndarray, exact: np.ndarray, *, floor: float, rtol: float, batch: int | None) -> list[str]:
    """Likely causes of a wrong gradient with the right shape."""
    hints = []
    if _close(-theirs, exact, floor, rtol):
        return ["the sign is flipped"]
    if theirs.ndim == 2 and theirs.shape[0] == theirs.shape[1] and _close(theirs.T, exact, floor, rtol):
        return ["its transpose is the exact gradient: the convention is W[j, i] joins input i to neuron j"]
    big = np.abs(exact) > floor
    if big.any():
        ratios = theirs[big] / exact[big]
        ratio = float(np.median(ratios))
        if ratio != 0 and np.allclose(ratios, ratio, rtol=1e-9, atol=0) and _close(theirs / ratio, exact, floor, rtol):
            text = f"off by a constant factor: {ratio:.6g} times the exact gradient"
            if batch and batch > 1 and (math.isclose(ratio, batch) or math.isclose(ratio, 1 / batch)):
                text += f" (the batch has {batch} samples: mean versus sum over the batch?)"
            elif math.isclose(ratio, 2.0) or math.isclose(ratio, 0.5):
                text += " (a factor 1/2 in the loss, as in half_squared_error?)"
            hints.append(text)
    if exact.size > 1 and not hints:
        if _close(np.sort(theirs, axis=None), np.sort(exact, axis=None), floor, rtol):
            hints.append("the right numbers in the wrong places: a transposed or permuted array")
    return hints


# -- loading a user's function --------------------------------------------------


def load_function(target: str) -> Callable[..., Any]:
    """Load ``FUNC`` from ``FILE.py`` given as ``"FILE.py:FUNC"``.

    The file is run as a module (not as ``__main__``), its folder first on
    ``sys.path`` while it loads: it is the user's own code, run deliberately.

    Raises:
        LoadError: a malformed target, a missing file, an error while loading
            it, or no callable of that name.
    """
    path_text, sep, func = target.rpartition(":")
    if not sep or not path_text or not func:
        raise LoadError(f"--against: expected FILE.py:FUNC, got {target!r}")
    if not func.isidentifier():
        raise LoadError(f"--against: {func!r} is not a function name")
    path = Path(path_text)
    if not path.is_file():
        raise LoadError(f"--against: {path_text!r} does not exist" if not path.exists() else f"--against: {path_text!r} is not a file")
    module_name = f"symprop_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"--against: cannot load {path_text!r} as Python (it should end in .py)")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise LoadError(f"--against: {path.name} line {error.lineno}: SyntaxError: {error.msg}") from None
    except BaseException as error:  # noqa: BLE001 - anything the user's module does on import
        if isinstance(error, KeyboardInterrupt):
            raise
        raise LoadError(f"--against: loading {path.name} raised {type(error).__name__}: {_one_line(error)}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
    function = getattr(module, func, None)
    if function is None:
        raise LoadError(f"--against: {path.name} has no function {func!r}")
    if not callable(function):
        raise LoadError(f"--against: {path.name}: {func!r} is a {type(function).__name__}, not a function")
    return function


# -- the public entry point ------------------------------------------------------


def gradcheck(
    subject: Any,
    at: Mapping[str | Symbol, object] | None = None,
    *,
    against: Callable[..., Any] | Mapping[str, Any] | str | None = None,
    eps: float = DEFAULT_EPS,
    rtol: float = DEFAULT_RTOL,
    floor: float = DEFAULT_FLOOR,
    exact: bool = False,
    sample: int | None = None,
) -> GradcheckReport:
    """Check exact gradients against finite differences, or a user's gradients against the exact ones.

    Args:
        subject: a :class:`~symprop.graph.Graph` (with ``at``), a recorded
            :class:`~symprop.backprop.BackwardPass`, a :class:`symprop.nn.Network`,
            or a problem with ``.graph`` and ``.at`` (as the command line loads).
        at: the point, for a graph: a value for every leaf.
        against: the user's gradient: a function ``grads(params, x, y) -> {name:
            array shaped like the parameter}``, such a dict itself, or
            ``"FILE.py:FUNC"``. For a network ``params`` is ``{name: float64
            array}`` and ``x``, ``y`` are the data (one row per sample); for a
            formula graph ``params`` is ``{name: float}``, ``x`` a dict of the
            other leaves' values (``None`` if every leaf is a parameter) and
            ``y`` is ``None``. Without it, central finite differences are used.
        eps: the finite-difference step (float64).
        rtol: the largest relative error that passes.
        floor: the relative error's denominator is at least this.
        exact: read decimal inputs of a graph as exact rationals.
        sample: for a network, check one sample's loss instead of the batch's.

    Returns:
        A :class:`GradcheckReport` (truthy when it passed).

    Raises:
        SympropError: bad input (unknown subject, bad point, bad tolerances);
            :class:`LoadError` for an ``against`` string that cannot be loaded.
    """
    for option, value in (("eps", eps), ("rtol", rtol), ("floor", floor)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise SympropError(f"{option}: expected a positive number, got {value!r}")
    target = _subject(subject, at, exact=exact, sample=sample)
    if against is None:
        return _check_numeric(target, eps=float(eps), rtol=float(rtol), floor=float(floor))
    name = "the given gradients"
    if isinstance(against, str):
        name = against
        against = load_function(against)
    elif callable(against):
        name = getattr(against, "__name__", "the gradient function")
    return _check_against(target, against, rtol=float(rtol), floor=float(floor), name=name)


def _subject(subject: Any, at: Any, *, exact: bool, sample: int | None) -> _Subject:
    if isinstance(subject, Graph):
        if at is None:
            raise SympropError("gradcheck(graph, at): give the point (a value for every leaf)")
        return _GraphSubject(subject, at, exact=exact)
    if isinstance(subject, BackwardPass):
        leaves = {s: subject.values[s] for s in subject.graph.leaves}
        return _GraphSubject(subject.graph, leaves)
    network = getattr(subject, "network", subject)
    if hasattr(network, "mlp") and hasattr(network, "exact_gradients"):
        if sample is None:
            sample = getattr(subject, "sample", None)  # a NetworkProblem from the command line
        return _NetworkSubject(network, sample=sample)
    if hasattr(subject, "graph") and hasattr(subject, "at"):
        return _GraphSubject(subject.graph, subject.at, exact=getattr(subject, "exact", False))
    raise SympropError(
        f"gradcheck: expected a Graph (with at), a BackwardPass or a Network, got {type(subject).__name__}"
    )

