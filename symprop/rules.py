"""The rules of differentiation, one per operation or function, and which rule gives a local derivative.

A walkthrough shows ``∂a/∂z = a*(1 - a)``; the rule says why (the sigmoid
identity), and its general form, ``∂σ(u)/∂u = σ(u)(1 − σ(u))``, what to
remember. :data:`TABLE` is the flat table (``symprop rules`` prints it):
each rule has a name, the operation it is for, and one general form per
operand (``∂(u·v)/∂u = v`` and ``∂(u·v)/∂v = u``).

The rules only *name* what ``sympy.diff`` computed; they never compute a
derivative. :func:`operand_rule` names the rule of one operand of one
operation (a gate: ``w0*x0``, ``exp(u)``), :func:`node_rules` the rules, in
the order the chain rule applies them from the outside in, of every name in
a node written with several operations (``J = d**2/2``: constant multiple,
then power).

Not the table of :mod:`symprop.derive.rules`: a matrix identity says how an upstream
gradient is contracted (``δ·xᵀ`` for ``W·x``), not a local derivative per operand.

>>> from symprop.expr import parse_written
>>> operand_rule(parse_written("w0*x0"), 1).form
'∂(u·v)/∂v = u'
>>> node_rules(parse_written("d**2/2"))["d"].name
'constant multiple, power'
"""

from __future__ import annotations

from dataclasses import dataclass

from .expr import Op

__all__ = ["Rule", "RuleEntry", "TABLE", "rule", "operand_rule", "node_rules"]


@dataclass(frozen=True)
class Rule:
    """A rule of differentiation as one step uses it.

    Attributes:
        name: ``"product"``, ``"sigmoid"``, ...; for a node of several
            operations, the names in the order applied (``"constant
            multiple, power"``).
        form: the general form, ``∂(u·v)/∂u = v`` (several joined by ``; ``).
        latex: the general form in LaTeX math.
        parts: the single rules a composite one is made of (empty for one rule).
    """

    name: str
    form: str
    latex: str
    parts: tuple["Rule", ...] = ()

    @classmethod
    def chain(cls, parts: list["Rule"]) -> "Rule":
        """The rules of one input of a node, outermost first; each name once, with its first form."""
        unique: dict[str, Rule] = {}
        for part in parts:
            for single in part.parts or (part,):
                unique.setdefault(single.name, single)
        if len(unique) == 1:
            return next(iter(unique.values()))
        singles = tuple(unique.values())
        return cls(
            ", ".join(r.name for r in singles),
            "; ".join(r.form for r in singles),
            r",\ ".join(r.latex for r in singles),
            singles,
        )


@dataclass(frozen=True)
class RuleEntry:
    """One row of the table: a rule's name, its operation, and a general form per operand.

    ``forms`` holds ``(text, latex)`` pairs: for ``u + v`` the one for ``u``
    then the one for ``v``; for a function of ``u``, one pair.
    """

    name: str
    operation: str
    forms: tuple[tuple[str, str], ...]
    note: str = ""


def _d(top: str, var: str = "u") -> str:
    return rf"\frac{{\partial {top}}}{{\partial {var}}}"


#: Every rule symprop names, in the order ``symprop rules`` prints them.
TABLE: tuple[RuleEntry, ...] = (
    RuleEntry("sum", "u + v", (("∂(u + v)/∂u = 1", _d("(u + v)") + " = 1"),
                               ("∂(u + v)/∂v = 1", _d("(u + v)", "v") + " = 1"))),
    RuleEntry("difference", "u - v", (("∂(u − v)/∂u = 1", _d("(u - v)") + " = 1"),
                                      ("∂(u − v)/∂v = −1", _d("(u - v)", "v") + " = -1"))),
    RuleEntry("product", "u*v", (("∂(u·v)/∂u = v", _d(r"(u \cdot v)") + " = v"),
                                 ("∂(u·v)/∂v = u", _d(r"(u \cdot v)", "v") + " = u"))),
    RuleEntry("constant multiple", "c*u, u/c", (("∂(c·u)/∂u = c", _d(r"(c \cdot u)") + " = c"),
                                                ("∂(u/c)/∂u = 1/c", _d("(u/c)") + r" = \frac{1}{c}")),
              "c is a number"),
    RuleEntry("quotient", "u/v", (("∂(u/v)/∂u = 1/v", _d("(u/v)") + r" = \frac{1}{v}"),
                                  ("∂(u/v)/∂v = −u/v²", _d("(u/v)", "v") + r" = -\frac{u}{v^{2}}"))),
    RuleEntry("reciprocal", "1/v, c/v", (("∂(1/v)/∂v = −1/v²", _d("(1/v)", "v") + r" = -\frac{1}{v^{2}}"),
                                         ("∂(c/v)/∂v = −c/v²", _d("(c/v)", "v") + r" = -\frac{c}{v^{2}}"))),
    RuleEntry("negation", "-u", (("∂(−u)/∂u = −1", _d("(-u)") + " = -1"),)),
    RuleEntry("power", "u**n", (("∂(uⁿ)/∂u = n·uⁿ⁻¹", _d("u^{n}") + r" = n\,u^{n-1}"),), "n is a number"),
    RuleEntry("exponential", "c**u", (("∂(cᵘ)/∂u = cᵘ·log c", _d("c^{u}") + r" = c^{u} \log c"),), "c is a number"),
    RuleEntry("general power", "u**v", (("∂(uᵛ)/∂u = v·uᵛ⁻¹", _d("u^{v}") + r" = v\,u^{v-1}"),
                                        ("∂(uᵛ)/∂v = uᵛ·log u", _d("u^{v}", "v") + r" = u^{v} \log u"))),
    RuleEntry("exp", "exp(u)", (("∂exp(u)/∂u = exp(u)", _d("e^{u}") + " = e^{u}"),)),
    RuleEntry("log", "log(u)", (("∂log(u)/∂u = 1/u", _d(r"\log u") + r" = \frac{1}{u}"),), "the natural log"),
    RuleEntry("sqrt", "sqrt(u)", (("∂√u/∂u = 1/(2√u)", _d(r"\sqrt{u}") + r" = \frac{1}{2\sqrt{u}}"),)),
    RuleEntry("sin", "sin(u)", (("∂sin(u)/∂u = cos(u)", _d(r"\sin u") + r" = \cos u"),)),
    RuleEntry("cos", "cos(u)", (("∂cos(u)/∂u = −sin(u)", _d(r"\cos u") + r" = -\sin u"),)),
    RuleEntry("tanh", "tanh(u)", (("∂tanh(u)/∂u = 1 − tanh²(u)", _d(r"\tanh u") + r" = 1 - \tanh^{2} u"),)),
    RuleEntry("sigmoid", "sigmoid(u)", (("∂σ(u)/∂u = σ(u)(1 − σ(u))",
                                         _d(r"\sigma(u)") + r" = \sigma(u)\,(1 - \sigma(u))"),)),
    RuleEntry("relu", "relu(u)", (("∂relu(u)/∂u = 1 if u > 0 else 0",
                                   _d(r"\operatorname{relu}(u)") + r" = [u > 0]"),),
              "0 at u = 0: a convention, PyTorch's"),
    RuleEntry("leaky_relu", "leaky_relu(u, s)", (("∂leaky_relu(u)/∂u = 1 if u > 0 else s",
                                                   _d(r"\operatorname{leaky\_relu}(u)") + r" = 1 \text{ if } u > 0"
                                                   r" \text{ else } s"),),
              "s is the slope, 0.01 unless given; s at u = 0"),
    RuleEntry("abs", "abs(u)", (("∂|u|/∂u = sign(u)", _d("|u|") + r" = \operatorname{sign} u"),), "0 at u = 0"),
    RuleEntry("softplus", "softplus(u)", (("∂softplus(u)/∂u = σ(u)", _d(r"\operatorname{softplus}(u)")
                                           + r" = \sigma(u)"),), "softplus(u) = log(1 + exp(u))"),
    RuleEntry("identity", "u", (("∂u/∂u = 1", _d("u") + " = 1"),), "a node that is just another name"),
    RuleEntry("function", "f(u)", (("∂f(u)/∂u = f′(u)", _d("f(u)") + " = f'(u)"),),
              "any other SymPy function, from Graph.trace or Graph.from_exprs"),
)

_BY_NAME = {entry.name: entry for entry in TABLE}

#: The rule of each function by the name it is typed with (SymPy's ``Abs`` is ``abs``).
_FUNCTION_RULES = {"exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu", "abs", "softplus"}


def rule(name: str, operand: int = 0) -> Rule:
    """The rule ``name`` for its operand ``operand`` (0 is ``u``, 1 is ``v``)."""
    entry = _BY_NAME[name]
    text, latex = entry.forms[min(operand, len(entry.forms) - 1)]
    return Rule(name, text, latex)


def _binary(sign: str, side: int, other_constant: bool, other_is_one: bool = False) -> Rule:
    """The rule of one side (0 is ``u``, 1 is ``v``) of ``u sign v``."""
    if sign == "+":
        return rule("sum", side)
    if sign == "-":
        return rule("difference", side)
    if sign == "*":
        return rule("constant multiple", 0) if other_constant else rule("product", side)
    if side == 0:
        return rule("constant multiple", 1) if other_constant else rule("quotient", 0)
    if other_constant:
        return rule("reciprocal", 0 if other_is_one else 1)
    return rule("quotient", 1)


def _chain_rules(op: Op) -> list[list[Rule]]:
    """For each operand of a chain ``t0 s1 t1 s2 t2 ...``, read as ``((t0 s1 t1) s2 t2) ...``
    as Python does, the rules from the outermost operation in (each name once)."""
    n = len(op.args)
    outer: list[list[Rule]] = [[] for _ in range(n + 1)]  # outer[k]: the left sides of ops n-1 .. k
    for k in range(n - 1, 0, -1):
        new = _binary(op.signs[k - 1], 0, op.args[k].constant)
        known = any(r.name == new.name for r in outer[k + 1])
        outer[k] = outer[k + 1] if known else outer[k + 1] + [new]
    result = [outer[1]]
    prefix_constant = op.args[0].constant
    for i in range(1, n):
        first = op.args[0]
        is_one = i == 1 and first.is_leaf and first.value == 1
        result.append(outer[i + 1] + [_binary(op.signs[i - 1], 1, prefix_constant, is_one)])
        prefix_constant = prefix_constant and op.args[i].constant
    return result


def operand_rule(op: Op, operand: int) -> Rule:
    """The rule for operand ``operand`` of one operation ``op`` (a gate such as ``w0*x0``)."""
    if op.kind in ("+", "*"):
        return Rule.chain(_chain_rules(op)[operand])
    if op.kind == "neg":
        return rule("negation")
    if op.kind == "**":
        base, exponent = op.args
        if operand == 0:
            return rule("power") if exponent.constant else rule("general power", 0)
        return rule("exponential") if base.constant else rule("general power", 1)
    if op.kind == "name":
        return rule("identity")
    return rule(op.kind if op.kind in _FUNCTION_RULES else "function")


def node_rules(op: Op) -> dict[str, Rule]:
    """For each name in a node's formula, the rules the chain rule applies to reach it, outermost first.

    A name used in several places gets the rules of every path, each rule
    once, in the order first applied (``a*b + b**3`` for ``b``: sum,
    product, power).
    """
    found: dict[str, list[Rule]] = {}
    todo: list[tuple[Op, list[Rule]]] = [(op, [])]
    while todo:  # depth first, left to right: the paths in the order typed
        current, path = todo.pop()
        if current.kind == "name":
            found.setdefault(current.names[0], []).extend(path or [rule("identity")])
            continue
        if current.is_leaf or current.constant:
            continue
        children = []
        chain = _chain_rules(current) if current.kind in ("+", "*") else None
        for i, arg in enumerate(current.args):
            if arg.constant:
                continue
            step = Rule.chain(chain[i]) if chain is not None else operand_rule(current, i)
            children.append((arg, path + [step]))
        todo.extend(reversed(children))
    return {name: Rule.chain(parts) for name, parts in found.items()}
