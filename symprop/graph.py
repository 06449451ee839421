"""A computation graph: ordered, named nodes, each a SymPy formula.

A node's formula is written in leaves (inputs, parameters, constants) and
earlier nodes; the last node is the output (the loss). Three ways to build one:

>>> g = Graph.from_formulas(["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"])
>>> [n.name for n in g.nodes], [s.name for s in g.leaves]
(['c', 'a', 'd', 'J'], ['w', 'x', 'b', 'y'])

>>> Graph.trace("(w*x + b - y)**2/2").formulas()
['mul1 = w*x', 'add1 = mul1 + b', 'sub1 = add1 - y', 'pow1 = sub1**2', 'L = pow1/2']

(one node per operation, as written: :mod:`symprop.trace`), and
:meth:`Graph.from_exprs` for ready SymPy expressions. Evaluating a graph at a
point gives every node's value; :mod:`symprop.backprop` runs it backwards.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

import sympy
from sympy import Symbol
from sympy.core.evalf import PrecisionExhausted

from . import display
from .bounds import DECIMALS, limit_bits, substitute
from .errors import EvaluationError, FormulaError, GraphError, LimitError, PointError
from .registry import did_you_mean
from .expr import valid_name, make_symbol, parse_number
from .node import Node, formula_text
from .trace import formula_nodes, op_of, op_text, split_nodes, trace_nodes, typed_op, written

__all__ = ["Node", "Graph", "to_number", "formula_text", "MAX_EXPANDED_OPS"]

#: Bound on the size (``count_ops``) of an expanded, leaves-only expression.
MAX_EXPANDED_OPS = 20_000

#: Bound on the size of an exact closed-form value (sigmoids of integers nest
#: with depth, and evaluating them grows much faster than their size).
MAX_EXACT_VALUE_OPS = 1_000
MAX_EXACT_VALUE_DEPTH = 50


def _ordered_inputs(formula: sympy.Expr, names: Sequence[str] | None) -> tuple[Symbol, ...]:
    """The formula's symbols in the order given, else in the order it prints them."""
    free = formula.free_symbols
    if names is None:
        try:
            names = op_of(formula).names
        except GraphError:  # a function the tracer does not read: sorted by name
            return tuple(sorted(free, key=sympy.default_sort_key))
    by_name = {s.name: s for s in free}
    return tuple(by_name[n] for n in names if n in by_name)


class Graph:
    """Ordered, named nodes with one output (the last node).

    Args:
        nodes: the nodes in forward order.
        params: the leaves to differentiate for (default: every leaf).
        labels: optional display labels for symbols (e.g. ``W1[2,1]`` for a
            symbol named ``W1_2_1``); renderers use :meth:`label`.
        leaf_order: names in the order the leaves were written (default: the
            order the nodes first use them).

    Raises:
        GraphError: a repeated name, a node used before it is defined, a node
            the output does not use, or a parameter that is not a leaf.
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        params: Iterable[str | Symbol] | None = None,
        *,
        labels: Mapping[Symbol, str] | None = None,
        leaf_order: Sequence[str] | None = None,
    ):
        if not nodes:
            raise GraphError("a graph needs at least one node")
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self.labels: dict[Symbol, str] = dict(labels or {})
        self._by_symbol: dict[Symbol, Node] = {}
        self._by_name: dict[str, Symbol] = {}
        leaves: dict[Symbol, None] = {}
        all_nodes = {node.symbol for node in self.nodes}
        for node in self.nodes:
            if node.name in self._by_name:
                raise GraphError(f"node {node.name!r} is defined twice")
            for symbol in node.inputs:
                if symbol == node.symbol:
                    raise GraphError(f"node {node.name!r} uses itself")
                if symbol not in self._by_symbol:
                    if symbol in all_nodes:
                        raise GraphError(
                            f"node {node.name!r} uses {symbol.name!r} before it is defined"
                        )
                    if symbol.name in self._by_name and self._by_name[symbol.name] != symbol:
                        raise GraphError(f"two different symbols are named {symbol.name!r}")
                    leaves.setdefault(symbol)
                    self._by_name[symbol.name] = symbol
            self._by_symbol[node.symbol] = node
            self._by_name[node.name] = node.symbol
        if leaf_order is not None:
            rank: dict[str, int] = {}
            for name in leaf_order:
                rank.setdefault(name, len(rank))
            leaves = dict.fromkeys(sorted(leaves, key=lambda s: rank.get(s.name, len(rank))))
        self.leaves: tuple[Symbol, ...] = tuple(leaves)
        for symbol, label in self.labels.items():  # one spelling: the printed name finds it too
            if label not in self._by_name and (symbol in leaves or symbol in self._by_symbol):
                self._by_name[label] = symbol
        self.consumers: dict[Symbol, list[Node]] = {s: [] for s in (*self.leaves, *self._by_symbol)}
        for node in self.nodes:
            for symbol in node.inputs:
                self.consumers[symbol].append(node)
        used = {self.output}
        for node in reversed(self.nodes):
            if node.symbol not in used:
                raise GraphError(f"node {node.name!r} is not used by the output {self.output.name!r}")
            used.update(node.inputs)
        if params is None:
            self.params: tuple[Symbol, ...] = self.leaves
        else:
            self.params = tuple(self._param(p) for p in params)
            seen: set[Symbol] = set()
            for p in self.params:
                if p in seen:
                    raise GraphError(f"parameter {p.name!r} is named twice")
                seen.add(p)
        self._expanded: dict[Symbol, sympy.Expr] = {}

    # -- construction ---------------------------------------------------

    @classmethod
    def from_formulas(
        cls,
        lines: Sequence[str],
        params: Iterable[str] | None = None,
        *,
        exact: bool = False,
        split: bool | None = None,
    ) -> "Graph":
        """Build a graph from node definitions like ``"a = c + b"`` (safely parsed).

        ``lines`` may also be one string with nodes separated by ``;`` or newlines.
        Each node stays as written; a single node (``"L = (a*b + c)*f"``) is
        traced into one node per operation. ``split=True`` splits every node
        into its operations, ``split=False`` never splits.
        """
        if isinstance(lines, str):
            lines = [part for part in lines.replace("\n", ";").split(";") if part.strip()]
        nodes = formula_nodes(lines, exact=exact, split=split)
        return cls(nodes, params, leaf_order=[n for node in nodes if node.op for n in node.op.names])

    @classmethod
    def from_exprs(
        cls,
        items: Mapping[str | Symbol, sympy.Expr] | Sequence[tuple[str | Symbol, sympy.Expr]],
        params: Iterable[str | Symbol] | None = None,
        *,
        labels: Mapping[Symbol, str] | None = None,
        written: bool = False,
        ordered: bool = True,
    ) -> "Graph":
        """Build a graph from ``name -> SymPy expression`` pairs in forward order.

        A name may be a string or a ``Symbol``; later expressions refer to
        earlier nodes by those symbols. ``written=True`` says the expressions
        are built unevaluated, as written (``sympy.Add(a, b, evaluate=False)``):
        they print in their own order and their rules follow that form.
        ``ordered=False`` takes each node's inputs in name order instead of the
        order its formula prints them (the order a walkthrough takes them):
        cheaper, for a graph that is derived but never narrated.
        """
        pairs = items.items() if isinstance(items, Mapping) else items
        nodes = []
        known: dict[str, Symbol] = {}
        for name, formula in pairs:
            if not isinstance(formula, sympy.Basic):
                raise GraphError(f"node {name!s}: expected a SymPy expression, got {type(formula).__name__}")
            formula = sympy.sympify(formula)  # numbers only: formula is already SymPy
            for s in formula.free_symbols:
                known.setdefault(s.name, s)
            if isinstance(name, Symbol):
                symbol = name
            else:
                valid_name(name, what="node name")
                symbol = known.get(name) or make_symbol(name)
            known[symbol.name] = symbol
            if written:
                op = op_of(formula, keep_order=True)
                nodes.append(Node(symbol, formula, _ordered_inputs(formula, op.names), op))
            elif ordered:
                nodes.append(Node(symbol, formula, _ordered_inputs(formula, None)))
            else:
                nodes.append(Node(symbol, formula, tuple(sorted(formula.free_symbols, key=lambda s: s.name))))
        return cls(nodes, params, labels=labels)

    @classmethod
    def trace(
        cls,
        expression: str | sympy.Expr,
        *,
        output: str | None = None,
        params: Iterable[str | Symbol] | None = None,
        exact: bool = False,
    ) -> "Graph":
        """One node per operation, as written: see :func:`symprop.trace.trace_nodes`.

        ``expression`` is a formula's text (parsed safely; ``"J = ..."`` names
        the output) or a SymPy expression.
        """
        nodes, leaf_order = trace_nodes(expression, output=output, exact=exact)
        return cls(nodes, params, leaf_order=leaf_order)

    def split(self) -> "Graph":
        """Every node written with several operations split into one node per operation."""
        return Graph(split_nodes(self.nodes), self.params, labels=self.labels, leaf_order=[s.name for s in self.leaves])

    # -- queries --------------------------------------------------------

    @property
    def output(self) -> Symbol:
        """The output node's symbol (the loss)."""
        return self.nodes[-1].symbol

    def is_node(self, symbol: Symbol) -> bool:
        """True for a node's symbol, False for a leaf's (or an unknown symbol)."""
        return symbol in self._by_symbol

    def node(self, name: str | Symbol) -> Node:
        """The node called ``name``."""
        symbol = self._by_name.get(name) if isinstance(name, str) else name
        if symbol not in self._by_symbol:
            raise GraphError(f"{name!s} is not a node of the graph")
        return self._by_symbol[symbol]

    def symbol(self, name: str | Symbol) -> Symbol:
        """The leaf or node symbol called ``name``."""
        if isinstance(name, Symbol):
            name = name.name
        if name not in self._by_name:
            raise GraphError(f"{name!r} is not in the graph")
        return self._by_name[name]

    def label(self, symbol: Symbol) -> str:
        """How a symbol is shown to people (its label, else its name)."""
        return self.labels.get(symbol, symbol.name)

    def formulas(self) -> list[str]:
        """The nodes as ``name = formula`` lines, in forward order."""
        return [str(node) for node in self.nodes]

    def _param(self, name: str | Symbol) -> Symbol:
        key = name.name if isinstance(name, Symbol) else str(name).strip()
        symbol = self._by_name.get(key)
        if symbol is None:
            raise GraphError(f"parameter {key!r} is not in the formula{did_you_mean(key, self._leaf_names())}")
        if symbol in self._by_symbol:
            raise GraphError(f"{key!r} is a node, not a leaf: only leaves can be parameters")
        return symbol

    def _leaf_names(self) -> list[str]:
        return [name for name, symbol in self._by_name.items() if symbol not in self._by_symbol]

    # -- values ---------------------------------------------------------

    def point(self, at: Mapping[str | Symbol, object], *, exact: bool = False) -> dict[Symbol, sympy.Expr]:
        """Check and convert a point: one number for every leaf, nothing else.

        Raises:
            PointError: a missing leaf, a name that is not a leaf, a non-number.
        """
        values: dict[Symbol, sympy.Expr] = {}
        for key, raw in at.items():
            name = key.name if isinstance(key, Symbol) else str(key).strip()
            symbol = self._by_name.get(name)
            if symbol is None:
                raise PointError(f"{name!r} is not in the formula{did_you_mean(name, self._leaf_names())}")
            if symbol in self._by_symbol:
                raise PointError(f"{name!r} is a node, computed from its formula; give values for leaves only")
            if symbol in values:
                raise PointError(f"{name!r} is given twice")
            values[symbol] = to_number(raw, name=name, exact=exact)
        missing = [s.name for s in self.leaves if s not in values]
        if missing:
            raise PointError(f"no value for {', '.join(repr(m) for m in missing)}{_euler_hint(self, missing)}")
        return values

    def evaluate(self, at: Mapping[str | Symbol, object], *, exact: bool = False) -> dict[Symbol, sympy.Expr]:
        """Every leaf's and node's value at the point, in forward order.

        Exact inputs (integers, rationals) give exact values (closed forms
        such as ``exp(-1)`` stay symbolic); any float makes the result float.

        Raises:
            EvaluationError: a node is undefined or not real at the point, or
                its exact value cannot be told apart from 0.
            LimitError: an exact value would pass :data:`~symprop.bounds.MAX_EXACT_VALUE_BITS`
                (give the point in decimals).
        """
        values = self.point(at, exact=exact)
        for node in self.nodes:
            try:
                value = substitute(node.evaluated, values, f"node {node.name!r}")
            except LimitError:
                raise
            except (ArithmeticError, AttributeError, TypeError, ValueError) as error:  # SymPy's own failures
                raise EvaluationError(
                    f"node {node.name!r} = {formula_text(node)} cannot be evaluated at {_at(self, values)} "
                    f"({type(error).__name__} in SymPy; e.g. a sign it cannot decide)"
                ) from None
            values[node.symbol] = finite_value(value, f"node {node.name!r} = {formula_text(node)}", values, self)
        return values

    def expanded(self, symbol: Symbol) -> sympy.Expr:
        """A node's formula with every earlier node substituted: leaves only.

        Raises:
            LimitError: if the expression would pass :data:`MAX_EXPANDED_OPS`.
        """
        if symbol not in self._by_symbol:
            return symbol
        if symbol not in self._expanded:
            for node in self.nodes:
                if node.symbol in self._expanded:
                    continue
                sub = {s: self._expanded[s] for s in node.inputs if s in self._expanded}
                expression = node.evaluated.xreplace(sub)
                limit_size(expression, f"the expanded form of {node.name!r}")
                self._expanded[node.symbol] = expression
                if node.symbol == symbol:
                    break
        return self._expanded[symbol]

    def typed_text(self, symbol: Symbol | None = None) -> str | None:
        """A node's formula (default: the output's) in leaves, as the user typed it
        (``1/(1 + exp(-(w0*x0 + w1*x1 + w2)))``, not SymPy's ``1/(exp(-w0*x0 - w1*x1 - w2) + 1)``);
        None where a node on the way was built from a SymPy expression."""
        op = typed_op(self.nodes, self.output if symbol is None else symbol)
        return None if op is None else op_text(op)

    def typed_formula(self, symbol: Symbol | None = None) -> sympy.Expr | None:
        """:meth:`typed_text` as an unevaluated SymPy expression, to print in its own order."""
        op = typed_op(self.nodes, self.output if symbol is None else symbol)
        return None if op is None else written(op)

    def expand(self, expression: sympy.Expr) -> sympy.Expr:
        """Any expression in node symbols, rewritten in leaves only."""
        sub = {s: self.expanded(s) for s in expression.free_symbols if s in self._by_symbol}
        result = expression.xreplace(sub)
        limit_size(result, "an expanded expression")
        return result

    def __repr__(self) -> str:
        return f"Graph({self.formulas()!r})"

    def _repr_svg_(self) -> str | None:
        """Jupyter: the graph's picture, its formulas in boxes (needs Graphviz's ``dot``)."""
        return display.show(self, "svg")

    def _repr_html_(self) -> str | None:
        """Jupyter: the picture inline, or without Graphviz a table of the nodes."""
        return display.show(self, "html")


def limit_size(expression: sympy.Expr, what: str, limit: int = MAX_EXPANDED_OPS) -> None:
    """Refuse an expression larger than ``limit`` operations (cheap DAG-free count)."""
    count = 0
    for _ in sympy.preorder_traversal(expression):
        count += 1
        if count > limit:
            raise LimitError(
                f"{what} has more than {limit} operations; use the compact form (in node symbols) "
                "instead (e.g. without --expanded)"
            )


def to_number(raw: object, *, name: str = "value", exact: bool = False) -> sympy.Expr:
    """Convert a user's number (int, float, Fraction, text, SymPy) to a SymPy number."""
    if isinstance(raw, bool):
        raise PointError(f"{name!r}: expected a number, got {raw!r}")
    if isinstance(raw, sympy.Basic):
        if not raw.is_number:
            raise PointError(f"{name!r}: expected a number, got {sympy.sstr(raw)!r}")
        value = raw
    elif isinstance(raw, int):
        value = sympy.Integer(raw)
    elif isinstance(raw, Fraction):
        value = sympy.Rational(raw.numerator, raw.denominator)
    elif isinstance(raw, str):
        try:
            value = parse_number(raw, exact=exact)
        except FormulaError as error:  # says what is wrong with the text, shortened
            raise PointError(f"{name!r}: {error}") from None
        except Exception:
            shown = raw if len(raw) <= 40 else raw[:40] + "..."
            raise PointError(f"{name!r}: {shown!r} is not a number") from None
    else:
        try:
            as_float = float(raw)  # numpy scalars and 0-d arrays
        except (TypeError, ValueError):
            raise PointError(f"{name!r}: expected a number, got {type(raw).__name__}") from None
        if exact:
            value = sympy.Rational(repr(as_float)) if math.isfinite(as_float) else sympy.Float(as_float)
        else:
            value = sympy.Float(as_float)
    number = value if value.is_Number else value.evalf()
    if not _finite_real(number):
        raise PointError(f"{name!r}: {sympy.sstr(value)} is not a finite real number")
    return value


def _finite_real(number: sympy.Expr) -> bool:
    return bool(
        number.is_Number
        and number not in (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
        and math.isfinite(float(number))
    )


def limit_exact_value(value: sympy.Expr, what: str) -> None:
    """Refuse an exact number past :data:`~symprop.bounds.MAX_EXACT_VALUE_BITS`, or a closed
    form past :data:`MAX_EXACT_VALUE_OPS` operations, with what to do instead."""
    if value.is_Number:
        limit_bits(value, what)
        return
    count, todo = 0, [(value, 1)]
    while todo:
        expression, depth = todo.pop()
        count += 1
        limit_bits(expression, what)
        if count > MAX_EXACT_VALUE_OPS or depth > MAX_EXACT_VALUE_DEPTH:
            size = f"more than {MAX_EXACT_VALUE_OPS} operations" if count > MAX_EXACT_VALUE_OPS else (
                f"nested more than {MAX_EXACT_VALUE_DEPTH} levels deep")
            raise LimitError(f"the exact value of {what} is a closed form {size}; {DECIMALS}")
        todo.extend((arg, depth + 1) for arg in expression.args)


def finite_value(value: sympy.Expr, what: str, values: Mapping[Symbol, sympy.Expr], graph: "Graph") -> sympy.Expr:
    """Return ``value`` if it is a finite real number, else say where it is undefined.

    An exact closed form that SymPy cannot tell apart from 0 (``sin(1)**2 +
    cos(1)**2 - 1``) cannot be evaluated: dividing by it would give a number
    made of rounding noise.
    """
    limit_exact_value(value, what.partition(" = ")[0])
    if value.is_Number:
        number = value
    else:
        try:
            number = value.evalf(strict=True)
        except PrecisionExhausted:
            number = value  # not a Number: "cannot be evaluated" below
        except (RecursionError, ValueError, TypeError):
            number = sympy.nan
    if not _finite_real(number):
        advice = ""
        if number.is_number and number.has(sympy.I):
            kind = "is not real"
        elif number.is_Number and number.is_finite:  # exact or mpmath, but past float64
            kind = "is too large for floating point (it overflows float64)"
        elif not number.is_Number and not number.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            # e.g. relu(sin(1)**2 + cos(1)**2 - 1): SymPy cannot decide the sign exactly
            kind, advice = "cannot be evaluated", " (SymPy cannot decide its exact value: give the point in decimals)"
        else:
            kind = "is undefined"
        raise EvaluationError(f"{what} {kind} at {_at(graph, values)}{advice}")
    return value


def _euler_hint(graph: "Graph", missing: Sequence[str]) -> str:
    """``e**w`` where ``e`` has no value: Euler's number is written ``exp(w)`` (``e`` is a name like any
    other, never silently the constant), so say so with the exponent as the user meant it."""
    for name in ("e", "E"):
        if name not in missing:
            continue
        for node in graph.nodes:
            ops = [node.op] if node.op is not None else []
            while ops:
                op = ops.pop()
                base = op.args[0] if op.kind == "**" else None
                if base is not None and base.kind == "name" and base.names == (name,):
                    try:
                        exponent = sympy.sstr(graph.expand(op.args[1].value), order="none")
                    except LimitError:
                        exponent = sympy.sstr(op.args[1].value)
                    return f"; did you mean exp({exponent})? ({name} is a variable here, not Euler's number)"
                ops.extend(op.args)
    return ""


def _at(graph: "Graph", values: Mapping[Symbol, sympy.Expr]) -> str:
    """The point in a message: ``x=0, w=1``."""
    return ", ".join(f"{s.name}={_show(values[s])}" for s in graph.leaves if s in values)


def _show(value: sympy.Expr) -> str:
    """A leaf's value in a message: ``0.5``, not ``0.500000000000000``."""
    return repr(float(value)) if value.is_Float else sympy.sstr(value)
