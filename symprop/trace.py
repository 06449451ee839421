"""The as-written tracer: a formula becomes one node per operation, in the form and order typed.

A course draws ``1/(1 + exp(-(w0*x0 + w1*x1 + w2)))`` as a circuit of gates:
``w0*x0``, ``w1*x1``, ``+``, ``+ w2``, ``*-1``, ``exp``, ``+1``, ``1/x``. The
tracer makes the same gates from the :class:`~symprop.expr.Op` tree the
parser keeps, with no rewriting by SymPy: ``a - b`` is a subtraction,
``a/b`` a division, ``-u`` a negation, ``1/x`` a reciprocal, operands stay in
the order typed, constants stay where they are written, and nothing cancels
(``x/x*w`` keeps ``x``). Inner nodes get readable names after their
operation (``mul1``, ``add2``, ``sub1``, ``div1``, ``neg1``, ``pow1``,
``recip1``, ``exp1``, ``sigmoid1``, ...); the last one is the output.

>>> nodes, leaves = trace_nodes("(a*b + c)*f")
>>> [str(node) for node in nodes]
['mul1 = a*b', 'add1 = mul1 + c', 'L = add1*f']

Named nodes (``"c = w*x; a = c + b; ..."``) stay one node each, as written,
unless split with :func:`split_nodes`. :class:`~symprop.graph.Graph` builds
graphs of these nodes (``Graph.trace``, ``Graph.from_formulas``, ``Graph.split``). A SymPy expression is traced through
:func:`op_of`, which reads SymPy's own tree as operations.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import sympy
from sympy import Symbol

from .errors import GraphError
from .expr import FUNCTIONS, Op, valid_name, make_symbol, parse_written, parse_written_node
from .functions import leaky_relu, relu, sigmoid, softplus
from .node import Node

__all__ = ["trace_nodes", "split_nodes", "formula_nodes", "op_of", "written", "written_node", "typed_op",
           "op_text", "DEFAULT_OUTPUT"]

#: The output's name when the formula does not name it (``loss`` if a leaf is called ``L``).
DEFAULT_OUTPUT = "L"

_PREFIX = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


def written(op: Op) -> sympy.Expr:
    """The formula as typed, as an unevaluated SymPy expression.

    ``a - b`` stays ``a - b`` (SymPy would keep it so too), but ``e + c``
    stays ``e + c``, ``x/x*w`` keeps its ``x`` and ``w0*x0`` its order when
    printed with ``order="none"``. Evaluating it (``xreplace`` of values,
    ``sympy.diff``) gives the same as :attr:`Op.value`.
    """
    if op.is_leaf:
        return op.value
    args = [written(a) for a in op.args]
    if op.kind == "+":
        terms = [args[0]] + [_negate(t) if sign == "-" else t for sign, t in zip(op.signs, args[1:])]
        return sympy.Add(*terms, evaluate=False)
    if op.kind == "*":
        if args[0] == 1 and len(args) == 2 and op.signs == ("/",):
            return sympy.Pow(args[1], -1, evaluate=False)  # 1/x
        factors = [args[0]] + [sympy.Pow(f, -1, evaluate=False) if sign == "/" else f
                               for sign, f in zip(op.signs, args[1:])]
        return sympy.Mul(*factors, evaluate=False)
    if op.kind == "neg":
        return _negate(args[0])
    if op.kind == "**":
        return sympy.Pow(args[0], args[1], evaluate=False)
    function = FUNCTIONS[op.kind][0]
    if op.kind == "leaky_relu" and len(args) == 1:
        args.append(op.value.args[1] if isinstance(op.value, function) else sympy.Rational(1, 100))
    return function(*args, evaluate=False)


def typed_op(nodes: Sequence[Node], symbol: Symbol) -> Op | None:
    """The formula of node ``symbol`` in leaves, as typed: each node's written operation with the
    nodes it uses put back in place, a chain the tracer cut into gates (``add1 = mul1 + mul2``,
    ``add2 = add1 + w2``) one chain again (``w0*x0 + w1*x1 + w2``), as the parser read it.

    None where a node on the way was built from a SymPy expression (it has no typed form).
    """
    ops: dict[Symbol, Op] = {}
    for node in nodes:
        if node.op is None:
            ops[node.symbol] = None
        else:
            ops[node.symbol] = _put_back(node.op, ops)
        if node.symbol == symbol:
            return ops[symbol]
    return None


def _put_back(op: Op, ops: dict) -> Op | None:
    if op.kind == "name":
        return ops.get(op.value, op) if op.value in ops else op
    if op.is_leaf:
        return op
    args = [_put_back(a, ops) for a in op.args]
    if any(a is None for a in args):
        return None
    signs = op.signs
    first = args[0]
    if op.kind in ("+", "*") and first.kind == op.kind:  # (a + b) + c is a + b + c, as Python reads it
        args, signs = [*first.args, *args[1:]], (*first.signs, *signs)
    return _op(op.kind, tuple(args), signs, op)


#: How tightly each kind of operation binds, as Python reads it (a call or a name binds tightest).
_LEVEL = {"+": 1, "*": 2, "neg": 3, "**": 4}


def op_text(op: Op) -> str:
    """An :class:`Op` as one line of text, as typed, with the parentheses Python needs and no others
    (``1/(1 + exp(-(w0*x0 + w1*x1 + w2)))``, ``x/x*w``: SymPy's printer would write ``x*w/x``)."""
    if op.kind == "name":
        return op.value.name
    if op.kind == "number":
        value = op.value
        return repr(float(value)) if value.is_Float else sympy.sstr(value)
    args = op.args
    if op.kind in ("+", "*"):
        level = _LEVEL[op.kind]
        text = _operand(args[0], level)
        for sign, arg in zip(op.signs, args[1:]):
            joint = f" {sign} " if op.kind == "+" else sign
            text += joint + _operand(arg, level + 1)
        return text
    if op.kind == "neg":
        return "-" + _operand(args[0], _LEVEL["neg"])
    if op.kind == "**":  # right-associative: a**b**c is a**(b**c); a**-b needs none
        exponent = op_text(args[1]) if _level(args[1]) >= _LEVEL["neg"] else f"({op_text(args[1])})"
        return f"{_operand(args[0], _LEVEL['**'] + 1)}**{exponent}"
    return f"{op.kind}({', '.join(op_text(a) for a in args)})"


def _level(op: Op) -> int:
    if op.kind == "number" and (op.value.is_negative or not (op.value.is_Integer or op.value.is_Float)):
        return _LEVEL["*"] if op.value.is_positive else _LEVEL["neg"]  # 1/20 reads as a quotient, -1 as a negation
    return _LEVEL.get(op.kind, 5)


def _operand(op: Op, level: int) -> str:
    """``op`` as an operand that needs at least ``level``: in parentheses where it binds looser."""
    text = op_text(op)
    return text if _level(op) >= level else f"({text})"


def _negate(expression: sympy.Expr) -> sympy.Expr:
    if expression.is_Number:
        return -expression
    return sympy.Mul(sympy.S.NegativeOne, expression, evaluate=False)


def written_node(symbol: Symbol, op: Op) -> Node:
    """A node whose formula is ``op`` as typed (printed in its own order)."""
    return Node(symbol, written(op), _symbols(op), op)


def _symbols(op: Op) -> tuple[Symbol, ...]:
    """The names of ``op`` as symbols, in the order typed."""
    found: dict[Symbol, None] = {}
    todo = [op]
    while todo:
        current = todo.pop()
        if current.kind == "name":
            found.setdefault(current.value)
        else:
            todo.extend(reversed(current.args))
    return tuple(found)


class _Tracer:
    """Turns :class:`Op` trees into gate nodes, naming each after its operation."""

    def __init__(self, taken: set[str]):
        self.taken = taken
        self.counts: dict[str, int] = {}
        self.nodes: list[Node] = []

    def _symbol(self, prefix: str, name: str | None) -> Symbol:
        if name is not None:
            return make_symbol(name)
        while True:
            self.counts[prefix] = self.counts.get(prefix, 0) + 1
            candidate = f"{prefix}{self.counts[prefix]}"
            if candidate not in self.taken:
                self.taken.add(candidate)
                return make_symbol(candidate)

    def _gate(self, gate: Op, prefix: str, name: str | None) -> Op:
        symbol = self._symbol(prefix, name)
        self.nodes.append(written_node(symbol, gate))
        return Op.leaf(symbol)

    def operand(self, op: Op) -> Op:
        """A leaf or a constant stays as written; anything else becomes its nodes."""
        if op.is_leaf or op.constant:
            return op
        return self.trace(op)

    def trace(self, op: Op, name: str | None = None) -> Op:
        """The nodes of ``op``; returns its last node as an operand (named ``name`` if given)."""
        if op.is_leaf or op.constant:
            if name is None:
                return op
            return self._gate(op, "id", name)  # a node that is just a name or a number
        if op.kind in ("+", "*"):
            acc = self.operand(op.args[0])
            last = len(op.args) - 1
            for i, (sign, arg) in enumerate(zip(op.signs, op.args[1:]), start=1):
                right = self.operand(arg)
                if acc.kind == op.kind and acc.constant:  # 2*3*x: the constants as written, one gate
                    gate = _op(op.kind, (*acc.args, right), (*acc.signs, sign), op)
                else:
                    gate = _op(op.kind, (acc, right), (sign,), op)
                if gate.constant:  # e.g. the 2*3 of 2*3*x: a constant, as written
                    acc = gate
                    continue
                prefix = "recip" if sign == "/" and acc.is_leaf and acc.value == 1 else _PREFIX[sign]
                acc = self._gate(gate, prefix, name if i == last else None)
            if name is not None and acc.kind != "name":
                acc = self._gate(acc, "id", name)
            return acc
        gate = _op(op.kind, tuple(self.operand(a) for a in op.args), op.signs, op)
        return self._gate(gate, "pow" if op.kind == "**" else op.kind, name)


def _op(kind: str, args: tuple[Op, ...], signs: tuple[str, ...], like: Op) -> Op:
    """One operation on operands (leaves, constants or node symbols), with SymPy's value of it."""
    values = [a.value for a in args]
    if kind == "+":
        value = sympy.Add(values[0], *(-v if s == "-" else v for s, v in zip(signs, values[1:])))
    elif kind == "*":
        value = sympy.Mul(values[0], *(1 / v if s == "/" else v for s, v in zip(signs, values[1:])))
    elif kind == "neg":
        value = -values[0]
    elif kind == "**":
        value = values[0] ** values[1]
    else:
        value = (FUNCTIONS[kind][0] if kind in FUNCTIONS else like.value.func)(*values)
    return Op(kind, args, value, signs, _merge(args))


def _output_name(names: Iterable[str]) -> str:
    names = set(names)
    if DEFAULT_OUTPUT not in names:
        return DEFAULT_OUTPUT
    candidate, k = "loss", 0
    while candidate in names:
        k += 1
        candidate = f"loss{k}"
    return candidate


def trace_nodes(
    source: str | sympy.Expr,
    *,
    output: str | None = None,
    exact: bool = False,
) -> tuple[list[Node], tuple[str, ...]]:
    """A formula (text, parsed safely, or a SymPy expression) as one node per operation.

    :meth:`symprop.graph.Graph.trace` makes the graph of them.

    Args:
        source: ``"(w*x + b - y)**2/2"``, or ``"J = ..."`` to name the output,
            or a SymPy expression (traced as SymPy's tree reads).
        output: the output's name (default ``L``, or ``loss`` when a leaf is
            called ``L``).
        exact: read decimals in the text as exact rationals.

    Returns:
        The nodes in forward order, and the leaves' names in the order typed.
    """
    if isinstance(source, str):
        if "=" in source:
            name, op = parse_written_node(source, {}, exact=exact)
            output = output or name
        else:
            op = parse_written(source, {}, exact=exact)
    else:
        expression = sympy.sympify(source)  # a SymPy object already: no text is parsed
        if not isinstance(expression, sympy.Expr):
            raise GraphError("trace needs a scalar SymPy expression")
        op = op_of(expression)
    output = valid_name(output, what="output name") if output else _output_name(op.names)
    tracer = _Tracer(set(op.names) | {output})
    tracer.trace(op, output)
    return tracer.nodes, tuple(op.names)


def formula_nodes(
    lines: Sequence[str], *, exact: bool = False, split: bool | None = None
) -> list[Node]:
    """Nodes from ``"name = formula"`` lines: each as written, or split into one node per operation.

    ``split=None`` splits a single line (a formula) and keeps several
    lines as the nodes the user named.
    """
    symbols: dict[str, Symbol] = {}
    parsed = []
    for line in lines:
        name, op = parse_written_node(line, symbols, exact=exact)
        symbol = symbols.setdefault(name, make_symbol(name))
        parsed.append(written_node(symbol, op))
    if split is None:
        split = len(parsed) == 1
    return split_nodes(parsed) if split else parsed


def split_nodes(nodes: Sequence[Node]) -> list[Node]:
    """Every node written with several operations split into one node per operation.

    A node the user named keeps its name (its last operation); nodes built
    from SymPy expressions without a written form stay as they are.
    """
    taken = {s.name for node in nodes for s in (node.symbol, *node.inputs)}
    tracer = _Tracer(taken)
    for node in nodes:
        if node.op is None or node.op.is_leaf or node.op.single:
            tracer.nodes.append(node)
        else:
            tracer.trace(node.op, node.name)
    return tracer.nodes


_FUNCTION_NAMES = {
    sympy.exp: "exp", sympy.log: "log", sympy.sin: "sin", sympy.cos: "cos", sympy.tanh: "tanh",
    sympy.Abs: "abs", sigmoid: "sigmoid", relu: "relu", leaky_relu: "leaky_relu", softplus: "softplus",
}


def op_of(expression: sympy.Expr, *, keep_order: bool = False) -> Op:
    """SymPy's tree of ``expression`` read as operations as one would write it.

    A term with a minus sign is a subtraction, a factor with a negative
    exponent a division, ``x**(1/2)`` a square root. Terms and factors are
    taken in printed order (``keep_order``: in the order of ``args``, for an
    expression built unevaluated as written).
    """
    if isinstance(expression, Symbol) or not expression.free_symbols:
        return Op.leaf(expression)
    if expression.is_Add:
        terms = expression.args if keep_order else expression.as_ordered_terms()
        ops, signs = [], []
        for i, term in enumerate(terms):
            negative = i > 0 and term.could_extract_minus_sign()
            ops.append(op_of(-term if negative else term, keep_order=keep_order))
            if i:
                signs.append("-" if negative else "+")
        return Op("+", tuple(ops), expression, tuple(signs), _merge(ops))
    if expression.is_Mul:
        return _product(expression, keep_order)
    if expression.is_Pow:
        base, exponent = expression.args
        if exponent.is_Number and exponent < 0:
            inverse = base if exponent == -1 else base ** (-exponent)
            inner = op_of(inverse, keep_order=keep_order)
            return Op("*", (Op.leaf(sympy.S.One), inner), expression, ("/",), inner.names)
        if exponent == sympy.S.Half:
            inner = op_of(base, keep_order=keep_order)
            return Op("sqrt", (inner,), expression, (), inner.names)
        args = (op_of(base, keep_order=keep_order), op_of(exponent, keep_order=keep_order))
        return Op("**", args, expression, (), _merge(args))
    if isinstance(expression, sympy.Function):
        kind = _FUNCTION_NAMES.get(expression.func, expression.func.__name__.lower())
        args = tuple(op_of(a, keep_order=keep_order) for a in expression.args)
        return Op(kind, args, expression, (), _merge(args))
    raise GraphError(f"cannot trace {type(expression).__name__} ({sympy.sstr(expression)[:40]})")


def _merge(ops: Sequence[Op]) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for op in ops:
        names.update(dict.fromkeys(op.names))
    return tuple(names)


def _product(expression: sympy.Expr, keep_order: bool) -> Op:
    """A product as ``c * u * v / w``, with a leading minus as a negation."""
    coefficient, rest = expression.as_coeff_Mul()
    if coefficient.is_negative:
        inner = op_of(-expression, keep_order=keep_order)
        return Op("neg", (inner,), expression, (), inner.names)
    numerator: list[Op] = []
    denominator: list[Op] = []
    if coefficient.is_Rational:
        if coefficient.p != 1:
            numerator.append(Op.leaf(sympy.Integer(coefficient.p)))
        if coefficient.q != 1:
            denominator.append(Op.leaf(sympy.Integer(coefficient.q)))
    elif coefficient != 1:
        numerator.append(Op.leaf(coefficient))
    factors = sympy.Mul.make_args(rest) if keep_order else rest.as_ordered_factors()
    for factor in factors:
        if factor.is_Pow and factor.exp.is_Number and factor.exp < 0:
            base = factor.base if factor.exp == -1 else factor.base ** (-factor.exp)
            denominator.append(op_of(base, keep_order=keep_order))
        else:
            numerator.append(op_of(factor, keep_order=keep_order))
    if not numerator:
        numerator.append(Op.leaf(sympy.S.One))
    args = tuple(numerator + denominator)
    if len(args) == 1:
        return args[0]
    signs = ("*",) * (len(numerator) - 1) + ("/",) * len(denominator)
    return Op("*", args, expression, signs, _merge(args))
