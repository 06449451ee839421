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
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

from sympy import Symbol

from ..backprop import BackwardPass
from ..errors import CheckError, SympropError
from ..graph import Graph
from ..nn import Network, NetworkProblem
from .compare import (
    DEFAULT_EPS,
    DEFAULT_FLOOR,
    DEFAULT_RTOL,
    check_against,
    check_numeric,
)
from .entries import read_entries
from .report import Derivation, Finding, GradcheckReport, Row, relative_error
from .subjects import GraphSubject, NetworkSubject, Subject, derivation_steps
from .user_code import DEFAULT_TIMEOUT, LoadError, load_function

__all__ = [
    "gradcheck",
    "GradcheckReport",
    "Row",
    "Finding",
    "Derivation",
    "derivation_steps",
    "relative_error",
    "load_function",
    "LoadError",
    "CheckError",
    "DEFAULT_EPS",
    "DEFAULT_TIMEOUT",
    "DEFAULT_RTOL",
    "DEFAULT_FLOOR",
]


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
    wrt: Sequence[str] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    entries: int | str = "auto",
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
        floor: the relative error's denominator is at least this; against the
            user's gradients, at least this times the gradient scale (the
            largest gradient with every chain-rule path counted in absolute value).
        exact: read decimal inputs of a graph as exact rationals.
        sample: for a network, check one sample's loss instead of the batch's.
        wrt: check these parameters only (a network's ``["W2", "b2"]``, a graph's leaves).
        timeout: seconds the user's code may run (loading its file, and the
            call); None for no limit.
        entries: which entries finite differences check: ``"auto"`` (every one, unless
            the network has more than 10,000 parameter scalars: then a seeded random
            100 of each tensor, as CS231n's sparse gradient check), ``"all"``, or a
            number per tensor (see :mod:`symprop.check.entries`). A check against
            your own gradients compares every entry.

    Returns:
        A :class:`GradcheckReport` (truthy when it passed).

    Raises:
        SympropError: bad input (unknown subject, bad point, bad tolerances);
            :class:`LoadError` for an ``against`` string that cannot be loaded;
            :class:`~symprop.errors.CheckError` for a step float64 cannot take,
            or user's code that calls ``sys.exit()`` or runs past ``timeout``.
    """
    for option, value in (("eps", eps), ("rtol", rtol), ("floor", floor)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise SympropError(f"{option}: expected a positive number, got {value!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0):
        raise SympropError(f"timeout: expected a positive number of seconds or None, got {timeout!r}")
    entries = read_entries(entries)
    if against is not None and entries != "auto":
        raise SympropError("entries: a check against your gradients compares every entry; "
                           "--entries is for finite differences")
    target = _subject(subject, at, exact=exact, sample=sample, wrt=wrt)
    if against is None:
        return check_numeric(target, eps=float(eps), rtol=float(rtol), floor=float(floor), entries=entries)
    name = "the given gradients"
    if isinstance(against, str):
        name = against
        against = load_function(against, timeout=timeout)
    elif callable(against):
        name = getattr(against, "__name__", "the gradient function")
    return check_against(target, against, rtol=float(rtol), floor=float(floor), name=name, timeout=timeout)


def _subject(subject: Any, at: Any, *, exact: bool, sample: int | None, wrt: Sequence[str] | None) -> Subject:
    def some(graph: Graph) -> Graph:
        if wrt is None:
            return graph
        return Graph(graph.nodes, list(wrt), labels=graph.labels, leaf_order=[s.name for s in graph.leaves])

    if isinstance(subject, Graph):
        if at is None:
            raise SympropError("gradcheck(graph, at): give the point (a value for every leaf)")
        return GraphSubject(some(subject), at, exact=exact)
    if isinstance(subject, BackwardPass):
        leaves = {s: subject.values[s] for s in subject.graph.leaves}
        return GraphSubject(some(subject.graph), leaves)
    if isinstance(subject, NetworkProblem):  # as the command line loads it: the sample it narrates
        return NetworkSubject(subject.network, sample=subject.sample if sample is None else sample, wrt=wrt)
    if isinstance(subject, Network):
        return NetworkSubject(subject, sample=sample, wrt=wrt)
    if hasattr(subject, "graph") and hasattr(subject, "at"):
        return GraphSubject(some(subject.graph), subject.at, exact=getattr(subject, "exact", False))
    raise SympropError(
        f"gradcheck: expected a Graph (with at), a BackwardPass or a Network, got {type(subject).__name__}"
    )
