"""Exact evaluation within bounds: rows E1-E4 of the README's "Bad input and limits" table.

Exact inputs give exact values, and exact values can be huge (``(1/3)**1234567``
has 589,000 digits) or undecidable (``sin(1)**2 + cos(1)**2 - 1`` is 0, but no
finite precision shows it). Each is refused before the work starts, with one
line that names the limit and what to do instead; the same inputs in decimals
(or smaller) still work.
"""

from __future__ import annotations

import itertools
import keyword
import string
import time

import pytest
import sympy

from symprop import EvaluationError, Graph, LimitError, backward
from symprop.cli import main
from symprop.expr import MAX_FORMULA_LENGTH
from symprop.bounds import MAX_BACKWARD_OPS, MAX_EXACT_VALUE_BITS, backward_sizes


def fails(capsys, args, message):
    """``symprop ARGS`` exits 2 with one stderr line holding ``message``, in well under the time of the work."""
    start = time.monotonic()
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert err.startswith("symprop: error: ") and err.count("\n") == 1 and message in err, err
    assert time.monotonic() - start < 10
    return err


def succeeds(capsys, args) -> str:
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


# -- E1: exact values past 10,000 bits -----------------------------------------------

DECIMALS = "give the point in decimals (e.g. w=1.0, not w=1) to compute in floating point"


@pytest.mark.parametrize("formula, point, message", [
    ("x**w", "x=1/3,w=1234567", "the exact value of node 'L' would have about 1,234,567 bits (limit 10,000"),
    ("x**w", "x=1/3,w=123456789", "would have about 123,456,789 bits"),  # minutes and gigabytes, if computed
    ("x**w", "x=2,w=-20000", "would have about 20,000 bits"),
    ("a = x**w; b = a**w; c = b**w", "x=1/3,w=50", "the exact value of node 'c' would have about 198,100 bits"),
    ("a = x**w; b = x**v; L = a*b", "x=1/3,w=6000,v=6000", "the exact value of node 'L' has 19,020 bits"),
])
def test_E1_exact_values_past_the_bound_are_refused_before_they_are_computed(capsys, formula, point, message):
    assert f"{MAX_EXACT_VALUE_BITS:,}" == "10,000"
    err = fails(capsys, ["grad", formula, "--at", point], message)
    assert err.rstrip().endswith(DECIMALS)


def test_E1_within_the_bound_or_in_decimals_it_works(capsys):
    out = succeeds(capsys, ["grad", "x**w", "--at", "x=1/3,w=5000"])  # 7,925 bits: exact, shown as a decimal
    assert out.startswith("L = 2.47586e-2386\n")
    out = succeeds(capsys, ["grad", "x**w", "--at", "x=1/3,w=5000", "--exact-forms"])
    assert out.startswith("L = 1/" + str(3**5000)[:20])
    assert "dL/dx = 5000/" in out
    out = succeeds(capsys, ["grad", "x**w", "--at", "x=1,w=123456789"])  # 1**n is 1, whatever n
    assert "L = 1\n" in out and "dL/dx = 123456789\n" in out
    out = succeeds(capsys, ["grad", "x**w", "--at", "x=0.9999999,w=1234567"])
    assert out.startswith("L = 0.88386\n")  # exp(1234567 * log(0.9999999))


def test_E1_from_python(capsys):
    graph = Graph.from_formulas(["L = x**w"])
    with pytest.raises(LimitError, match="would have about 1,234,567 bits"):
        backward(graph, {"x": sympy.Rational(1, 3), "w": 1234567})
    assert float(backward(graph, {"x": 1 / 3, "w": 1234567}).loss) == 0.0  # 7e-589039: 0 in float64


# -- E2: backward passes past 250,000 operations of local derivatives ---------------------

def product_of(n: int) -> tuple[str, str]:
    """A product of ``n`` two-letter variables, and a point for it."""
    names = ("".join(p) for p in itertools.product(string.ascii_letters, string.ascii_letters + string.digits))
    chosen = list(itertools.islice((n for n in names if not keyword.iskeyword(n)), n))
    return "*".join(chosen), ",".join(f"{v}=1" for v in chosen)


def test_E2_a_product_of_thousands_of_variables_is_refused_at_once(capsys):
    formula, point = product_of(2400)
    assert len(formula) < MAX_FORMULA_LENGTH  # within the formula's own bounds
    traced = Graph.trace(formula)  # as written: 2,399 gates of two factors each, linear work
    assert len(traced.nodes) == 2399 and max(backward_sizes(traced).values()) < 100
    one_node = Graph.from_exprs([("L", sympy.Mul(*traced.leaves))])  # the same product as one node
    with pytest.raises(LimitError, match=r"about 5,762,400 operations \(limit 250,000\); node 'L' multiplies 2,400"):
        backward(one_node, {s: 1 for s in traced.leaves})
    formula, point = product_of(40)
    assert "dL/daA = 1" in succeeds(capsys, ["grad", formula, "--at", point])


def test_E2_the_estimate_counts_a_sum_by_its_terms():
    x, w, b = sympy.symbols("x w b")
    ws = sympy.symbols("w0:100")
    neuron = Graph.from_exprs([("z", sum(wi * xi for wi, xi in zip(ws, sympy.symbols("x0:100"))) + b)])
    assert backward_sizes(neuron)[neuron.output] == 100 * 2 * 3 + 1  # each input in one term of 3 operations
    product = Graph.from_exprs([("p", sympy.Mul(*ws))])
    assert backward_sizes(product)[product.output] == 100 * 101  # each of 100 inputs: the whole product
    assert MAX_BACKWARD_OPS == 250_000


# -- E3: dividing by a value SymPy cannot tell from zero ------------------------------

@pytest.mark.parametrize("formula", [
    "w/(sin(x)**2 + cos(x)**2 - 1)",
    "w/(tanh(x) - (exp(2*x) - 1)/(exp(2*x) + 1))",
])
def test_E3_a_value_that_cannot_be_told_from_zero_is_refused(capsys, formula):
    fails(capsys, ["grad", formula, "--at", "w=1,x=1"],
          "cannot be evaluated at w=1, x=1 (SymPy cannot decide its exact value: give the point in decimals)")
    with pytest.raises(EvaluationError, match="cannot decide"):
        backward(Graph.from_formulas([f"L = {formula}"]), {"w": 1, "x": 1})


# -- E4: numbers that JSON cannot hold ---------------------------------------------------

def test_E4_a_number_past_float64_in_json_is_one_line_that_names_its_key(capsys):
    args = ["explain", "w*x", "--at", "w=1e300,x=1", "--lr", "1e300"]
    fails(capsys, [*args, "--format", "json"],
          "update.params.x is -inf, which JSON cannot hold (a number past float64's range")
    assert "x <- x - eta · dL/dx = 1 - (1e+300) · (1e+300) = -inf" in succeeds(capsys, [*args, "--format", "text"])


def test_E4_the_matrix_view_too(capsys, tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text('[network]\nlayers = [1, 1]\nactivation = "identity"\nloss = "squared_error"\n'
                    "[params]\nW1 = [[1.0]]\nb1 = [0.0]\n[data]\nx = [[1e200]]\ny = [[1.0]]\n")
    fails(capsys, ["explain", "--spec", str(spec), "--view", "matrix", "--format", "json"],
          "is inf, which JSON cannot hold")
