"""Numbers people can read: short exact forms exactly, the rest as decimals; correct digits; 80 columns."""

import json
import re
from pathlib import Path

import mpmath
import pytest
import sympy

from symprop import Graph, backward
from symprop.cli import main
from symprop.functions import sigmoid
from symprop.render.numbers import decimal, format_value, is_long_exact
from symprop.render.text import render_gradients, render_text

ROOT = Path(__file__).resolve().parent.parent
MAZUR = str(ROOT / "examples" / "mazur_2_2_2.toml")
NEURON = ["1/(1 + exp(-(w0*x0 + w1*x1 + w2)))", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3"]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize(
    "value, shown",
    [
        (sympy.Rational(9, 2), "9/2"),
        (sympy.Rational(-1, 4), "-1/4"),
        (sympy.sqrt(2), "sqrt(2)"),
        (sympy.exp(-1), "exp(-1)"),
        (1 + sympy.exp(-1), "1.36788"),
        (1 / (1 + sympy.exp(-1)), "0.731059"),
        (-sympy.exp(-1) / (1 + sympy.exp(-1)) ** 2, "-0.196612"),
        (sympy.Rational(123456789, 1000000007), "0.123457"),
        (sympy.Float(0.1), "0.1"),
    ],
)
def test_a_value_is_exact_only_when_its_exact_form_is_short(value, shown):
    assert format_value(value) == shown
    assert is_long_exact(value) == (shown != sympy.sstr(value) and not value.is_Float)


def test_integer_inputs_read_as_decimals_with_one_sentence_in_the_header(capsys):
    out = run(capsys, "explain", *NEURON, "--format", "text")
    assert "≈" not in out
    assert out.count("long exact values are shown as 6-digit decimals") == 1
    assert "dL/dw0 = -0.196612\n" in out and "exp1 = exp(neg1)    = exp(-1)\n" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    exact = run(capsys, "explain", *NEURON, "--format", "text", "--exact-forms")
    assert "dL/dw0 = -exp(-1)/(exp(-1) + 1)**2 ≈ -0.196612" in exact and "long exact values" not in exact
    assert max(len(line) for line in exact.splitlines()) <= 80
    data = json.loads(run(capsys, "grad", *NEURON, "--json"))  # the exact forms stay available
    assert data["exact"]["gradients"]["w0"] == "-exp(-1)/(exp(-1) + 1)**2"


def test_digits_past_17_are_correct_digits_of_exact_values(capsys):
    out = run(capsys, "grad", "sigmoid(w)*exp(x)/3", "--at", "w=1,x=1/2", "--digits", "30")
    mpmath.mp.dps = 60
    loss = mpmath.exp(mpmath.mpf(1) / 2) / (3 * (1 + mpmath.exp(-1)))
    dw = loss * (1 - 1 / (1 + mpmath.exp(-1)))
    assert f"L = {mpmath.nstr(loss, 30, strip_zeros=False)}\n" in out
    assert f"dL/dw = {mpmath.nstr(dw, 30, strip_zeros=False)}\n" in out
    assert "dL/dx = 0.401770609571697064173067296307\n" in out  # 30 digits, all of them right
    assert decimal(sigmoid(sympy.Integer(1)), 25) == mpmath.nstr(1 / (1 + mpmath.exp(-1)), 25, strip_zeros=False)
    assert decimal(sympy.Rational(1, 3) / 10**7, 20) == "3.3333333333333333333e-08"
    assert decimal(sympy.exp(-800)) == "3.66787e-348"  # below float64: still a number, not 0
    assert decimal(sympy.Float(0.1), 30) == "0.10000000000000001"  # a float holds 17 digits


def test_a_value_longer_than_a_line_does_not_crash_the_text_walkthrough(capsys):
    # used to exit 3 with "Sign not allowed in string format specifier" when piped or saved
    out = run(capsys, "explain", "--spec", MAZUR, "--exact", "--format", "text", "--exact-forms")
    assert "loss L = " in out and max(len(line) for line in out.splitlines()) <= 80
    out = run(capsys, "explain", "--spec", MAZUR, "--exact", "--format", "text")
    assert "loss L = 0.298371\n" in out and max(len(line) for line in out.splitlines()) <= 80
    long = backward(Graph.trace("sigmoid(sigmoid(sigmoid(w)*w)*w)"), {"w": 3})
    for width in (80, 60, 40):
        text = render_text(long, exact_forms=True, width=width)
        assert max(len(line) for line in text.splitlines()) <= width


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--format", "text", "--lr", "0.1"],
        ["explain", "(w*x + b - y)**2/2", "--wrt", "w,b", "--at", "w=-2,x=2,b=8,y=1", "--format", "text"],
        ["explain", *NEURON, "--format", "text", "--expanded"],
        ["explain", "L = (a*b + c)*f", "--at", "a=2,b=-3,c=10,f=-2", "--format", "text", "--expanded"],
        ["explain", "(x + sigmoid(y))/(sigmoid(x) + (x + y)**2)", "--at", "x=3,y=-4", "--format", "text"],
        ["explain", "--spec", MAZUR, "--format", "text", "--lr", "0.5"],
        ["explain", "--spec", MAZUR, "--format", "rich"],
        ["grad", *NEURON, "--expanded"],
        ["grad", "--spec", MAZUR, "--expanded"],
        ["rules"],
    ],
    ids=lambda a: " ".join(a)[:50],
)
def test_every_text_line_fits_80_columns(capsys, args):
    out = run(capsys, *args)
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert not too_long, too_long


def test_grad_prints_expanded_forms_only_when_asked_and_cuts_long_ones(capsys):
    out = run(capsys, "grad", "--spec", MAZUR)
    assert "expanded:" not in out and "compact:" in out
    out = run(capsys, "grad", "--spec", MAZUR, "--expanded")
    assert out.count("expanded:") == 10 and "more characters; grad --json --expanded gives it whole)" in out
    nodes = "a0 = w*x; " + "; ".join(f"a{i} = sigmoid(a{i - 1})*w + a{i - 1}" for i in range(1, 5)) + "; L = a4**2"
    bp = backward(Graph.from_formulas(nodes), {"w": 0.3, "x": 0.5})
    text = render_gradients(bp, expanded=True)
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize(
    "extra, shown",
    [([], "w <- w - eta · dJ/dw = -2 - 0.1 · 6 = -2.6"),  # a decimal learning rate is a float, as --at
     (["--exact"], "w <- w - eta · dJ/dw = -2 - 1/10 · 6 = -13/5")],
)
def test_the_learning_rate_follows_the_rule_of_the_point(capsys, extra, shown):
    out = run(capsys, "explain", "c = w*x; a = c + b; d = a - y; J = d**2/2", "--wrt", "w,b",
              "--at", "w=-2,x=2,b=8,y=1", "--lr", "0.1", "--format", "text", *extra)
    assert shown in out
    exact = run(capsys, "demo", "--format", "text", "--lr", "1/10")
    assert "w <- w - eta · dJ/dw = -2 - 1/10 · 6 = -13/5" in exact


def test_no_value_is_written_with_an_approximation_sign_by_default(capsys):
    for fmt in ("text", "markdown", "latex"):
        out = run(capsys, "explain", *NEURON, "--format", fmt)
        assert "≈" not in out and r"\approx" not in out, fmt
    assert re.search(r"L &= \\frac\{1\}\{\\mathrm\{add\}_\{3\}\} = 0\.731059", run(capsys, "explain", *NEURON, "--format", "latex"))
