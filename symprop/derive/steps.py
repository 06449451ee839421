"""The derivation: a matrix formula as named intermediates, then ``∂L/∂v`` for each, right to left.

Forward, the formula becomes one named intermediate per operation (``prod1 =
W·x``, ``sum1 = prod1 + b - y``, ``L = sum1ᵀ·sum1/2``), each a SymPy matrix
expression over ``MatrixSymbol``s of its inputs. Backward, from ``∂L/∂L = 1``,
each intermediate ``n`` whose gradient ``G = ∂L/∂n`` is complete contributes
to each of its inputs ``v`` one **step**, with the identity that justifies it
and the shape of ``v`` (``∂L/∂v`` has the shape of ``v``):

* sums, products, transposes, sums of entries and traces: SymPy's own matrix
  calculus, ``Trace(G.T*n).diff(v)`` (the trace trick: ``dL = tr(Gᵀ dn)``);
* Hadamard products and powers, elementwise functions (``G ⊙ f'(z)``, with
  ``f'`` from ``sympy.diff``) and softmax (``a ⊙ G - a·(aᵀG)``): their own
  rules, since SymPy gives these only in array form.

Each step is kept three ways: ``compact`` (in ``G``'s symbol), ``formula``
(``G`` written out in intermediates, made shorter entry by entry where SymPy
can: a sigmoid after binary cross-entropy gives ``a - y``) and, on request,
in the given symbols only. :mod:`symprop.derive.check` holds every step against
the scalar backward pass, entry by entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import sympy
from sympy import HadamardPower, HadamardProduct, KroneckerProduct, MatAdd, MatMul, MatrixExpr, MatrixSymbol, OneMatrix, Trace, Transpose

from .. import display
from ..errors import ShapeError
from ..graph import MAX_EXPANDED_OPS
from .algebra import FUNCTIONS, Softmax, derivative, elementwise, function_name, simplify_elementwise, tidy
from .formula import Add, Apply, Formula, Had, Leaf, Named, Ones, Op, Pow, Prod, Softmax as SoftmaxOp, T, Total, Tr, shape_text
from .rules import Rule, product_rule, rule

__all__ = ["MatrixNode", "MatrixStep", "MatrixAdjoint", "Derivation", "trace_formula", "derive_nodes"]


@dataclass(frozen=True)
class MatrixNode:
    """One intermediate: ``symbol = formula``.

    Attributes:
        symbol: its ``MatrixSymbol`` (name and shape).
        formula: a SymPy matrix expression over the inputs' symbols (a scalar ``Trace`` for a trace).
        kind: ``sum``, ``product``, ``affine`` (a layer's ``W·a + b``), ``transpose``, ``total``,
            ``trace``, ``hadamard``, ``power``, ``elementwise``, ``softmax`` or ``loss``.
        inputs: the symbols it uses, each once, in order.
        parts: for a sum ``(coeff, symbol, transposed)`` per term; for a product
            ``(symbol, transposed)`` per factor, after the number ``coeff``.
        coeff: a product's number.
        function: an elementwise node's ``Lambda``; a loss node's name in ``function_name``.
        function_name: ``sigmoid``, ... for display.
        loss_gradient: a loss node's ``∂ℓ/∂a`` (entry by entry, from the loss table).
    """

    symbol: MatrixSymbol
    formula: sympy.Basic
    kind: str
    inputs: tuple[MatrixSymbol, ...]
    parts: tuple = ()
    coeff: sympy.Expr = sympy.S.One
    function: sympy.Lambda | None = None
    function_name: str = ""
    loss_gradient: MatrixExpr | None = None

    @property
    def name(self) -> str:
        return self.symbol.name

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.symbol.shape[0]), int(self.symbol.shape[1]))


@dataclass
class MatrixStep:
    """One contribution ``∂L/∂input += (node's share)``, right to left.

    Attributes:
        node: the intermediate to the right, whose gradient ``∂L/∂node`` is known.
        input: one of its inputs.
        rule: the identity used.
        compact: the share, written with ``∂L/∂node``'s symbol.
        formula: the share with ``∂L/∂node`` written out in intermediates.
        shape: the input's shape (the share's shape).
    """

    node: MatrixSymbol
    input: MatrixSymbol
    rule: Rule
    compact: MatrixExpr
    formula: MatrixExpr

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.input.shape[0]), int(self.input.shape[1]))


@dataclass
class MatrixAdjoint:
    """``∂L/∂v`` for an intermediate or a given matrix: the sum of its steps.

    Attributes:
        symbol: ``v``.
        gradient: the ``MatrixSymbol`` that stands for ``∂L/∂v`` in later steps (``dL_dv``).
        steps: one per intermediate that uses ``v``.
        compact: the sum of the steps' compact forms.
        formula: the sum of their formulas (in intermediates).
    """

    symbol: MatrixSymbol
    gradient: MatrixSymbol | None
    steps: list[MatrixStep] = field(default_factory=list)
    compact: MatrixExpr | None = None
    formula: MatrixExpr | None = None


@dataclass
class Derivation:
    """A matrix formula's gradients, derived step by step.

    Attributes:
        text: the formula as given.
        leaves: the given matrices, by name.
        nodes: the intermediates in forward order; the last is the output (1x1).
        wrt: the given matrices differentiated for.
        steps: every step, right to left.
        adjoints: ``∂L/∂v`` for the output, each intermediate on a path to a
            ``wrt`` matrix, and each ``wrt`` matrix.
        labels: how symbols are shown (``dL_dW`` is ``∂L/∂W``; a network's ``delta2`` is ``δ2``).
        check: the values at a point and their check (:class:`symprop.derive.check.Check`), once made.
    """

    text: str
    leaves: dict[str, MatrixSymbol]
    nodes: list[MatrixNode]
    wrt: list[MatrixSymbol]
    steps: list[MatrixStep]
    adjoints: dict[MatrixSymbol, MatrixAdjoint]
    labels: dict[str, str]
    check: Any = None
    _expanded: dict[MatrixSymbol, sympy.Basic] = field(default_factory=dict, repr=False)

    @property
    def output(self) -> MatrixNode:
        return self.nodes[-1]

    def __repr__(self) -> str:
        names = ", ".join(v.name for v in self.wrt)
        steps = len(self.steps)
        return f"Derivation({self.text!r}, wrt {names}: {steps} step{'s' if steps != 1 else ''})"

    def _repr_markdown_(self) -> str | None:
        """Jupyter: the derivation step by step, with its check."""
        return display.show(self, "markdown")

    @property
    def gradients(self) -> dict[str, MatrixAdjoint]:
        """``∂L/∂X`` for each ``wrt`` matrix, by name."""
        return {v.name: self.adjoints[v] for v in self.wrt}

    def node_symbol(self, name: str) -> MatrixSymbol:
        """The symbol of the intermediate called ``name``."""
        return next(n.symbol for n in self.nodes if n.name == name)

    def label(self, symbol: MatrixSymbol | str) -> str:
        name = symbol if isinstance(symbol, str) else symbol.name
        return self.labels.get(name, name)

    def expand(self, expr: sympy.Basic) -> sympy.Basic:
        """``expr`` (in intermediates) in the given matrices only.

        Raises:
            LimitError: past :data:`symprop.graph.MAX_EXPANDED_OPS` operations.
        """
        from ..graph import limit_size

        for node in self.nodes:
            if node.symbol not in self._expanded:
                inner = node.formula.xreplace(
                    {s: self._expanded[s] for s in node.inputs if s in self._expanded}
                )
                if not isinstance(inner, MatrixExpr):  # a trace: a number, as a 1x1 matrix
                    inner = MatMul(inner, OneMatrix(1, 1))
                self._expanded[node.symbol] = inner
        result = tidy(expr.xreplace({s: e for s, e in self._expanded.items()}))
        limit_size(result, "the expression in the given matrices", MAX_EXPANDED_OPS)
        return result


# -- forward: the formula as named intermediates ---------------------------------

_PREFIX = {Add: "sum", Prod: "prod", T: "transpose", Had: "had", Pow: "pow", SoftmaxOp: "softmax",
           Total: "total", Tr: "trace"}


class _Tracer:
    """Walks the parsed tree bottom-up, one named intermediate per operation (equal subtrees once)."""

    def __init__(self, formula: Formula, output: str):
        self.leaves = {name: MatrixSymbol(name, *shape) for name, shape in formula.leaves.items()}
        self.taken = set(self.leaves) | set(formula.nodes) | {output}
        self.counts: dict[str, int] = {}
        self.made: dict[Op, MatrixSymbol] = {}
        self.nodes: list[MatrixNode] = []
        root = formula.root
        if isinstance(root, Named):
            output, root = root.name, root.arg
        if isinstance(root, (Leaf, T, Ones)):
            root = Prod(sympy.S.One, (root,))
        self.build(root, output)

    def symbol_for(self, op: Op) -> MatrixSymbol | MatrixExpr:
        """A leaf's symbol, ``𝟙``, or the intermediate made for ``op``."""
        if isinstance(op, Leaf):
            return self.leaves[op.name]
        if isinstance(op, Ones):
            return OneMatrix(*op.shape)
        if isinstance(op, Named):
            if op not in self.made:
                self.made[op] = self.build(op.arg, op.name)
            return self.made[op]
        if op not in self.made:
            self.made[op] = self.build(op, None)
        return self.made[op]

    def _name(self, kind: str) -> str:
        while True:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            name = f"{kind}{self.counts[kind]}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def _factor(self, op: Op) -> tuple[MatrixExpr, MatrixExpr, bool]:
        """``(expression, symbol, transposed)`` of a factor or term: a transpose stays inline."""
        if isinstance(op, T):
            inner = self.symbol_for(op.arg)
            return Transpose(inner), inner, True
        inner = self.symbol_for(op)
        return inner, inner, False

    def build(self, op: Op, name: str | None) -> MatrixSymbol:
        if isinstance(op, (Leaf, Ones, T)) and name is not None:  # a node the user named: z = x
            op = Prod(sympy.S.One, (op,))
        if isinstance(op, Prod) and len(op.factors) == 1 and isinstance(op.factors[0], (Total, Tr)):
            inner = op.factors[0]  # c*sum(X), c*trace(X): one node
            return self._node(name, inner, coeff=op.coeff)
        return self._node(name, op)

    def _node(self, name: str | None, op: Op, coeff: sympy.Expr = sympy.S.One) -> MatrixSymbol:
        fields: dict = {}
        if isinstance(op, Add):
            terms = []
            for term in op.terms:
                c, inner = (term.coeff, term.factors[0]) if isinstance(term, Prod) and len(term.factors) == 1 else (1, term)
                expression, symbol, transposed = self._factor(inner)
                terms.append((expression if c == 1 else MatMul(c, expression), (c, symbol, transposed)))
            formula = MatAdd(*(e for e, _ in terms))
            kind, fields["parts"] = "sum", tuple(p for _, p in terms)
        elif isinstance(op, Prod):
            factors = [self._factor(f) for f in op.factors]
            formula = MatMul(*([op.coeff] if op.coeff != 1 else []), *(e for e, _, _ in factors))
            if len(factors) == 1 and op.coeff == 1:
                formula = factors[0][0]
            kind, fields["parts"], fields["coeff"] = "product", tuple((s, t) for _, s, t in factors), op.coeff
        elif isinstance(op, T):
            formula, kind = Transpose(self.symbol_for(op.arg)), "transpose"
        elif isinstance(op, Had):
            formula, kind = HadamardProduct(*(self.symbol_for(f) for f in op.factors)), "hadamard"
        elif isinstance(op, Pow):
            formula, kind = HadamardPower(self.symbol_for(op.arg), op.exponent), "power"
        elif isinstance(op, Apply):
            formula = elementwise(FUNCTIONS[op.function], self.symbol_for(op.arg))
            kind, fields["function"], fields["function_name"] = "elementwise", formula.function, op.function
        elif isinstance(op, SoftmaxOp):
            formula, kind = Softmax(self.symbol_for(op.arg)), "softmax"
        elif isinstance(op, Total):
            expression, _, _ = self._factor(op.arg)
            rows, cols = op.arg.shape
            factors = ([OneMatrix(1, rows)] if rows > 1 else []) + [expression] + ([OneMatrix(cols, 1)] if cols > 1 else [])
            formula = MatMul(*([coeff] if coeff != 1 else []), *factors)
            kind = "total"
        elif isinstance(op, Tr):
            inner = op.arg
            if isinstance(inner, Prod):
                formula = Trace(MatMul(*([inner.coeff] if inner.coeff != 1 else []), *(self._factor(f)[0] for f in inner.factors)))
            else:
                formula = Trace(self._factor(inner)[0])
            formula, kind = (coeff * formula if coeff != 1 else formula), "trace"
        else:  # pragma: no cover - the parser makes nothing else
            raise TypeError(type(op).__name__)
        if name is None:
            prefix = op.function if isinstance(op, Apply) else _PREFIX[type(op)]
            name = self._name(prefix)
        symbol = MatrixSymbol(name, *op.shape)
        inputs = _inputs(formula)
        node = MatrixNode(symbol, formula, kind, inputs, **fields)
        self.nodes.append(node)
        return symbol


def _inputs(formula: sympy.Basic) -> tuple[MatrixSymbol, ...]:
    seen: dict[MatrixSymbol, None] = {}
    for node in sympy.preorder_traversal(formula):
        if isinstance(node, MatrixSymbol):
            seen.setdefault(node)
    return tuple(seen)


def trace_formula(formula: Formula, *, output: str = "L") -> tuple[list[MatrixNode], dict[str, MatrixSymbol]]:
    """The formula as named intermediates in forward order, and the given matrices' symbols.

    Raises:
        ShapeError: the output is not 1x1 (a loss is a scalar).
    """
    if formula.root.shape != (1, 1):
        raise ShapeError(
            f"the formula is {shape_text(formula.root.shape)}, not a scalar: derive needs a 1x1 loss "
            "(e.g. sum(...), u.T*u or trace(...))"
        )
    tracer = _Tracer(formula, output)
    return tracer.nodes, tracer.leaves


# -- backward: the steps -----------------------------------------------------------


def derive_nodes(
    text: str,
    nodes: Sequence[MatrixNode],
    leaves: dict[str, MatrixSymbol],
    wrt: Sequence[MatrixSymbol],
    *,
    labels: dict[str, str] | None = None,
    gradient_names: dict[str, str] | None = None,
    upstream: MatrixSymbol | None = None,
) -> Derivation:
    """The backward pass over ``nodes``: every step, right to left, and each ``∂L/∂v``.

    Args:
        text: the formula (for display).
        nodes: the intermediates in forward order (the last is the 1x1 output).
        leaves: the given matrices.
        wrt: the given matrices to differentiate for.
        labels: display labels by symbol name.
        gradient_names: the name of ``∂L/∂v``'s symbol by ``v``'s name (default ``dL_dv``).
        upstream: for a piece of a larger formula (one layer of a network), the
            symbol of the gradient arriving at the last node from the right
            (``∂L/∂z``, shaped like that node); the steps are written in it.
            Without it the last node is the 1x1 loss itself.
    """
    labels = dict(labels or {})
    gradient_names = gradient_names or {}
    out = nodes[-1]
    needed = set(wrt)
    for node in nodes:
        if any(s in needed for s in node.inputs):
            needed.add(node.symbol)
    glue = {n.symbol: n.formula for n in nodes if n.kind in _GLUE}
    adjoints = {out.symbol: MatrixAdjoint(out.symbol, upstream, compact=upstream, formula=upstream)}
    steps: list[MatrixStep] = []
    for node in reversed(nodes):
        adjoint = adjoints.get(node.symbol)
        if adjoint is None:
            continue
        _complete(adjoint)
        for v in node.inputs:
            if v not in needed:
                continue
            target = adjoints.get(v)
            if target is None:
                name = gradient_names.get(v.name, f"dL_d{v.name}")
                target = adjoints[v] = MatrixAdjoint(v, MatrixSymbol(name, *v.shape))
                labels.setdefault(name, f"∂L/∂{labels.get(v.name, v.name)}")
            compact, which = _share(node, v, adjoint.gradient, glue=glue)
            formula = compact
            if adjoint.gradient is not None:
                formula, specific = _share(node, v, adjoint.gradient, adjoint.formula, glue=glue)
                which = specific if specific.name != which.name else which  # e.g. softmax after cross-entropy
            step = MatrixStep(node.symbol, v, which, compact, formula)
            steps.append(step)
            target.steps.append(step)
    for v in wrt:
        adjoint = adjoints.setdefault(v, MatrixAdjoint(v, MatrixSymbol(gradient_names.get(v.name, f"dL_d{v.name}"), *v.shape)))
        _complete(adjoint)
    return Derivation(text, dict(leaves), list(nodes), list(wrt), steps, adjoints, labels)


def _complete(adjoint: MatrixAdjoint) -> None:
    if adjoint.steps:
        adjoint.compact = tidy(MatAdd(*(s.compact for s in adjoint.steps))) if len(adjoint.steps) > 1 else adjoint.steps[0].compact
        adjoint.formula = tidy(MatAdd(*(s.formula for s in adjoint.steps))) if len(adjoint.steps) > 1 else adjoint.steps[0].formula
    elif adjoint.compact is None:  # the output, or a wrt matrix the output does not use
        shape = adjoint.symbol.shape
        adjoint.compact = adjoint.formula = (
            OneMatrix(1, 1) if adjoint.gradient is None else sympy.ZeroMatrix(*shape)
        )


#: Intermediates written out when a share is made shorter entry by entry (``1 - a`` inside ``(1 - y)/(1 - a)``).
_GLUE = ("sum", "hadamard", "power")


def _share(
    node: MatrixNode,
    v: MatrixSymbol,
    gradient: MatrixSymbol | None,
    upstream: MatrixExpr | None = None,
    *,
    glue: dict[MatrixSymbol, sympy.Basic],
) -> tuple[MatrixExpr, Rule]:
    """What ``node`` contributes to ``∂L/∂v`` given ``G = ∂L/∂node``, and the identity used.

    ``gradient`` is ``G``'s symbol (``None`` for the output, where ``G = 1``);
    ``upstream``, when given, is ``G`` written out, and the share is written with it.
    """
    G = upstream if upstream is not None else gradient
    kind = node.kind
    if kind in ("sum", "product", "affine", "transpose", "total", "trace"):
        formula = node.formula
        if gradient is None:
            scalar = formula if not isinstance(formula, MatrixExpr) else Trace(formula)
            share = scalar.diff(v)
        elif kind == "trace":  # a number times a matrix: G ⊗ ∂tr/∂v (G is 1x1)
            share = KroneckerProduct(G, formula.diff(v))
        else:
            share = Trace(MatMul(Transpose(gradient), formula)).diff(v)
            if upstream is not None:
                share = tidy(share).xreplace({gradient: upstream})
        share = tidy(share)
        if not isinstance(share, MatrixExpr) or tuple(share.shape) != tuple(v.shape):  # pragma: no cover
            raise ArithmeticError(f"SymPy gave {sympy.sstr(share)} for ∂{node.name}/∂{v.name}")
        return share, rule(_linear_rule(node, v))
    if kind == "elementwise":
        local = derivative(node.function, node.inputs[0], node.symbol)
        name = node.function_name or function_name(node.function) or "f"
        return _times(G, local, glue), rule("elementwise", name)
    if kind == "hadamard":
        factors = list(node.formula.args)
        terms = [
            HadamardProduct(*[f for j, f in enumerate(factors) if j != k]) if len(factors) > 2 else factors[1 - k]
            for k, f in enumerate(factors) if f == v
        ]
        local = terms[0] if len(terms) == 1 else MatAdd(*terms)
        return _times(G, local, glue), rule("hadamard_self" if len(terms) > 1 else "hadamard")
    if kind == "power":
        k = node.formula.exp
        local = k * HadamardPower(v, k - 1) if k != 2 else 2 * v
        return _times(G, local, glue), rule("power")
    if kind == "softmax":
        a = node.symbol
        if G is None:  # pragma: no cover - only a 1x1 softmax (the constant 1) can be the output
            G = OneMatrix(*a.shape)
        if upstream is None:
            return tidy(MatAdd(HadamardProduct(a, G), MatMul(-1, a, Transpose(a), G))), rule("softmax")
        weighted = simplify_elementwise(tidy(HadamardProduct(a, G)), glue)  # a ⊙ g, and aᵀg = 𝟙ᵀ(a ⊙ g)
        share = tidy(MatAdd(weighted, MatMul(-1, a, OneMatrix(1, a.shape[0]), weighted)))
        after_cross_entropy = isinstance(weighted, MatMul) and weighted.args[0] == -1 and len(weighted.args) == 2 \
            and isinstance(weighted.args[1], MatrixSymbol)
        return share, rule("softmax_cross_entropy" if after_cross_entropy else "softmax")
    if kind == "loss":
        return _times(G, node.loss_gradient, glue), rule("loss", node.function_name)
    raise TypeError(f"no rule for a {kind} node")  # pragma: no cover


def _times(G: MatrixExpr | None, local: MatrixExpr, glue: dict[MatrixSymbol, sympy.Basic]) -> MatrixExpr:
    """``G ⊙ local``, made shorter entry by entry where SymPy can (``G = 1`` for the output)."""
    if G is None:
        return tidy(local)
    return simplify_elementwise(tidy(HadamardProduct(G, local)), glue)


def _linear_rule(node: MatrixNode, v: MatrixSymbol) -> str:
    if node.kind == "sum":
        coeffs = [c for c, s, _ in node.parts if s == v]
        if len(coeffs) == 1 and coeffs[0] == 1:
            return "sum"
        if len(coeffs) == 1 and coeffs[0] == -1:
            return "difference"
        return "scaled"
    if node.kind == "product":
        if len(node.parts) == 1 and node.coeff == 1:  # z = x, or z = x.T: a named copy
            return "transpose" if node.parts[0][1] else "copy"
        return product_rule(list(node.parts), v, len(node.parts) == 1)
    if node.kind == "affine":  # a layer: z = W·a_prev + b
        W, a_prev, b, bias = node.parts
        return "product_left" if v == W else "product_right" if v == a_prev else "shared_bias" if bias == "layer" else "sum"
    return node.kind  # transpose, total, trace
