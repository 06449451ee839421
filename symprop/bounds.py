"""How much exact work one evaluation may do, estimated before SymPy does it.

Exact inputs give exact values, and SymPy computes some of them the moment it
builds them: ``Rational(1, 3)**1234567`` is a number of 589,000 digits, and
``(1/3)**123456789`` takes minutes and gigabytes. Python itself refuses to
print an integer past 4,300 digits. Likewise a product of n factors has n
local derivatives of n - 1 factors each. Each bound here is checked from the
sizes of the inputs, before the work, and a refusal says what to do instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import sympy
from sympy import Symbol

from .errors import LimitError

if TYPE_CHECKING:
    from .graph import Graph

__all__ = [
    "MAX_EXACT_VALUE_BITS",
    "MAX_BACKWARD_OPS",
    "DECIMALS",
    "exact_bits",
    "limit_bits",
    "substitute",
    "backward_sizes",
    "limit_backward_size",
]

#: Bound on an exact number's numerator and denominator, in bits (about 3,000 digits).
MAX_EXACT_VALUE_BITS = 10_000

#: Bound on the local derivatives of one backward pass, in operations (see
#: :func:`backward_sizes`): about 10 seconds of SymPy. A product of 2,400
#: factors would need 5.8 million.
MAX_BACKWARD_OPS = 250_000

#: What to do about an exact value that is too large.
DECIMALS = "give the point in decimals (e.g. w=1.0, not w=1) to compute in floating point"


def exact_bits(number: sympy.Rational) -> int:
    """The size of an exact number: the longer of its numerator and denominator, in bits."""
    return max(abs(number.p).bit_length(), number.q.bit_length())


def limit_bits(number: sympy.Expr, what: str, *, estimate: int | None = None) -> None:
    """Refuse an exact number (or the ``estimate`` of one) past :data:`MAX_EXACT_VALUE_BITS`."""
    bits = estimate if estimate is not None else exact_bits(number) if number.is_Rational else 0
    if bits > MAX_EXACT_VALUE_BITS:
        size = f"would have about {bits:,}" if estimate is not None else f"has {bits:,}"
        raise LimitError(
            f"the exact value of {what} {size} bits (limit {MAX_EXACT_VALUE_BITS:,}, about 3,000 digits); {DECIMALS}"
        )


def substitute(expression: sympy.Expr, values: Mapping[Symbol, sympy.Expr], what: str) -> sympy.Expr:
    """``expression.xreplace(values)``, refusing an exact power that would pass the size bound.

    SymPy computes ``Rational**Integer`` as soon as it is built, so the size of
    each power (``bits(base) * |exponent|``) is estimated from its substituted
    base and exponent before it is built, innermost first.

    Raises:
        LimitError: a power's exact value would pass :data:`MAX_EXACT_VALUE_BITS`.
    """
    done: dict[sympy.Basic, sympy.Basic] = {}

    def walk(node: sympy.Basic) -> sympy.Basic:
        if node in values:
            return values[node]
        if not node.args:
            return node
        if node not in done:
            args = tuple(walk(a) for a in node.args)
            if args == node.args:
                done[node] = node
            else:
                if node.is_Pow:
                    _limit_power(*args, what)
                done[node] = node.func(*args)
        return done[node]

    return walk(expression)


def _limit_power(base: sympy.Basic, exponent: sympy.Basic, what: str) -> None:
    """Refuse ``base**exponent`` when both are exact and the result would pass the size bound."""
    if not (exponent.is_Rational and base.is_number) or base.has(sympy.Float):
        return
    # The rationals in the base (sqrt(2)**n is 2**(n/2)) times how often it is multiplied.
    size = max((exact_bits(r) - 1 for r in base.atoms(sympy.Rational)), default=0)
    limit_bits(base, what, estimate=size * (abs(exponent.p) // exponent.q))


def backward_sizes(graph: Graph) -> dict[Symbol, int]:
    """About how many operations the local derivatives of each node hold.

    Each input of a node gets one local derivative, about as large as the term
    of the node it appears in: a sum's terms are differentiated apart, so a
    neuron with n inputs costs about n terms, but a product of n factors costs
    n derivatives of n - 1 factors each.
    """
    sizes = {}
    for node in graph.nodes:
        inputs, total = set(node.inputs), 0
        for term in node.formula.args if node.formula.is_Add else (node.formula,):
            held = len(term.free_symbols & inputs)
            if held:
                total += held * sum(1 for _ in sympy.preorder_traversal(term))
        sizes[node.symbol] = total
    return sizes


def limit_backward_size(graph: Graph, limit: int = MAX_BACKWARD_OPS) -> None:
    """Refuse a graph whose local derivatives would pass ``limit`` operations, before deriving them."""
    sizes = backward_sizes(graph)
    size = sum(sizes.values())
    if size > limit:
        worst = graph.node(max(sizes, key=sizes.__getitem__))
        advice = "the graph is too large for an exact backward pass"
        if worst.formula.is_Mul:
            advice = (f"node {worst.name!r} multiplies {len(worst.formula.args):,} factors, and each has its own "
                      "derivative, the product of all the others: split it into named nodes ('a = w1*w2*...; b = a*...')")
        raise LimitError(f"the local derivatives would have about {size:,} operations (limit {limit:,}); {advice}")
