"""Property-based: random formulas from the grammar, held against sympy.diff and finite differences."""

import math

import sympy
from helpers import central_difference, is_zero, whole_loss_diff
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from symprop import Graph, backward
from symprop.errors import EvaluationError

LEAVES = ["w", "x", "b"]
UNARY = ["exp({})", "sin({})", "cos({})", "tanh({})", "sigmoid({})", "log(1 + ({})**2)", "sqrt(1 + ({})**2)"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (2 + ({})**2)"]


def formulas(depth: int = 3):
    leaf = st.one_of(st.sampled_from(LEAVES), st.integers(-3, 3).map(str))
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0].format(t[1])),
            st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: t[0].format(t[1], t[2])),
            st.tuples(inner, st.integers(2, 3)).map(lambda t: f"({t[0]})**{t[1]}"),
        ),
        max_leaves=depth + 4,
    )


def traced(formula: str, at: dict):
    """Trace a drawn formula as written (one node per operation), and run it backwards at the drawn
    point (its own leaves only)."""
    graph = Graph.trace(formula)  # x - x keeps x: its gradient is 0 from branches that cancel
    assume(graph.leaves)
    at = {k: v for k, v in at.items() if k in {s.name for s in graph.leaves}}
    try:
        return graph, at, backward(graph, at)
    except EvaluationError as error:  # exp(exp(w**2)) at w=3 is e**8103: refused, rightly, by name
        assume("too large for floating point" not in str(error))
        raise


points = st.fixed_dictionaries({name: st.floats(-1.5, 1.5).map(lambda v: round(v, 3)) for name in LEAVES})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas(), points)
def test_random_formulas_match_sympy_diff_and_finite_differences(formula, at):
    graph, at, bp = traced(formula, at)
    for name, adjoint in bp.gradients.items():
        reference = whole_loss_diff(graph, name)
        assert is_zero(adjoint.expanded - reference), (formula, name)
        value = float(adjoint.value)
        assert math.isclose(value, float(reference.subs({graph.symbol(k): v for k, v in at.items()})), rel_tol=1e-9, abs_tol=1e-9)
        numeric = central_difference(graph, at, name)
        assert math.isclose(value, numeric, rel_tol=1e-5, abs_tol=1e-6), (formula, name, value, numeric)


@settings(max_examples=30, deadline=None)
@given(formulas(), st.fixed_dictionaries({n: st.integers(-3, 3) for n in LEAVES}))
def test_exact_inputs_match_sympy_diff_exactly(formula, at):
    graph, at, bp = traced(formula, at)
    for name, adjoint in bp.gradients.items():
        reference = whole_loss_diff(graph, name).xreplace({graph.symbol(k): sympy.Integer(v) for k, v in at.items()})
        assert is_zero(adjoint.value - reference), (formula, name)
