"""Bad input and limits, one test per row of the README's "Bad input and limits" table.

Each row: the input, the exit code (2 for bad input or a limit), and the one
stderr line ``symprop: error: ...`` naming the symbol, node or key. The row
ids (H01, H02, ...) are the README table's. Most rows run ``main()`` in
process (fast); a few run the installed command as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from symprop import Graph, LimitError, backward, parse_formula
from symprop.cli import main
from symprop.commands.common import MAX_WALKTHROUGH_STEPS, limit_walkthrough_size, walkthrough_steps
from symprop.expr import MAX_DEPTH, MAX_FORMULA_LENGTH

XOR = Path(__file__).resolve().parent.parent / "examples" / "xor.toml"


def fails(capsys, args, message, code=2):
    """Run ``symprop ARGS``: exit ``code``, one stderr line that starts right and holds ``message``."""
    try:
        result = main(args)
    except SystemExit as exit_:  # argparse's usage errors
        result = exit_.code
    out, err = capsys.readouterr()
    assert result == code, (args, err)
    assert err.startswith("symprop: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and message in err, err
    return out, err


def succeeds(capsys, args):
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def run(*args, timeout=120):
    done = subprocess.run([sys.executable, "-m", "symprop", *args], capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


# -- formulas ---------------------------------------------------------------

@pytest.mark.parametrize(
    "row, formula, message",
    [
        ("H01", "w*(x", "malformed formula 'w*(x'"),  # malformed
        ("H01", "w*x +", "malformed formula"),
        ("H02", "foo(x)*w", "unknown function 'foo'; allowed: exp, log, sqrt"),  # unknown function
        ("H02", "exp(x, w)", "exp() takes 1 argument(s), got 2"),
        ("H03", "x^2*w", "'^' (use ** for powers)"),  # operator outside the grammar
        ("H03", "x // w", "'//'"),
        ("H04", "__import__('os').system('echo pwned')", "attribute access is not allowed"),  # injection
        ("H04", "().__class__.__base__.__subclasses__()", "attribute access is not allowed"),
        ("H04", "__import__('os')", "unknown function '__import__'"),
        ("H04", "exp.__globals__", "attribute access is not allowed"),
        ("H05", "'abc'", "a string is not allowed"),  # strings, lambdas, comprehensions, walrus ...
        ("H05", "(lambda: w)()", "only calls of plain function names"),
        ("H05", "[c for c in w]", "a comprehension is not allowed"),
        ("H05", "(w := 1)", "node name '(w :' is not allowed"),  # has '=': read as a node
        ("H05", "w if x else y", "'if' expression is not allowed"),
        ("H05", "x[0]", "indexing is not allowed"),
        ("H06", "__𝘤𝘭𝘢𝘴𝘴__", "is not allowed in a formula (ASCII only)"),  # NFKC look-alikes
        ("H06", "ｘ*w", "ASCII only"),
        ("H07", "__builtins__*w", "'__builtins__' is not allowed: names are ASCII letters"),  # dunder names
        ("H07", "exp*w", "'exp' is a function name; call it as exp(...)"),
        ("H08", "9**9**9*w", "exponent 387420489 is too large (limit 1000)"),  # power towers
        ("H08", "((w**1000)**1000)**1000", "exponent too large (limit 1000)"),
        ("H08", "exp(10**100*log(2))*w", "a power with an exponent too large"),
        ("H09", "1" * 500 + "*w", "integer literal is too long"),  # huge literals
        ("H09", "1e999*w", "number is not finite"),
        ("H10", "-(" * (MAX_DEPTH + 5) + "w" + ")" * (MAX_DEPTH + 5), "nested more than 100 levels deep"),
        ("H10", "(" * 250 + "w" + ")" * 250, "too many nested parentheses"),
        ("H10", "exp(" * (MAX_DEPTH + 5) + "w" + ")" * (MAX_DEPTH + 5), "nested more than 100 levels deep"),
        ("H11", "w+" * (MAX_FORMULA_LENGTH // 2) + "w", "longer than 10000 characters"),  # too long
        ("H12", "sqrt(-1)*w", "is not real as written"),  # constants outside the reals
        ("H12", "log(0)*w", "is undefined as written"),
        ("H12", "w/0", "division by zero"),
        ("H13", "   ", "formula is empty"),  # empty
    ],
)
def test_formula_rows(capsys, row, formula, message):
    fails(capsys, ["grad", formula, "--at", "w=1,x=2,y=3"], message)


def test_H25_a_formula_that_starts_with_a_minus_is_a_formula_not_an_option(capsys):
    assert succeeds(capsys, ["grad", "-log(x)*w", "--at", "x=1,w=2"]).startswith("L = 0")
    assert succeeds(capsys, ["grad", "--at", "x=1,w=2", "-x*w"]).startswith("L = -2")
    fails(capsys, ["grad", "w", "--at", "w=1", "-q"], "unrecognized arguments: -q")


def test_H13_no_formula_at_all(capsys):
    fails(capsys, ["grad"], "give a formula (EXPR) or --spec FILE")
    fails(capsys, ["grad", ""], "give a formula (EXPR) or --spec FILE")


def test_H04_injection_runs_nothing_through_the_installed_command(tmp_path):
    marker = tmp_path / "pwned"
    code, out, err = run("grad", f"__import__('os').system('touch {marker}')", "--at", "x=1")
    assert code == 2 and err.count("\n") == 1 and not marker.exists()


def test_H11_a_formula_of_the_maximum_length_from_a_file_works(tmp_path):
    # symprop grad "$(cat big.txt)": 800 terms, close to 10,000 characters; a sum is one level deep
    text = "+".join(f"w{i}*x{i}" for i in range(800))
    assert len(text) <= MAX_FORMULA_LENGTH < len(text) + 2300
    point = ",".join(f"w{i}=1.5,x{i}=2" for i in range(800))
    big = tmp_path / "big.txt"
    big.write_text(text)
    done = subprocess.run(f'{sys.executable} -m symprop grad "$(cat {big})" --at "{point}" --json',
                          shell=True, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["loss"] == 800 * 3.0 and data["gradients"]["w799"] == 2


# -- the point: --at and --wrt ----------------------------------------------

@pytest.mark.parametrize(
    "row, args, message",
    [
        ("H14", ["w*x", "--wrt", "q", "--at", "w=1,x=2"], "parameter 'q' is not in the formula"),
        ("H14", ["c = w*x; L = c**2", "--wrt", "c", "--at", "w=1,x=2"], "'c' is a node, not a leaf"),
        ("H14", ["w*x", "--wrt", "w,x,w", "--at", "w=1,x=2"], "parameter 'w' is named twice"),
        ("H14", ["w*x", "--wrt", "w,,x", "--at", "w=1,x=2"], "--wrt: empty name in 'w,,x'"),
        ("H15", ["w*x", "--at", "w=1"], "no value for 'x'"),
        ("H15", ["w*x"], "no value for 'w', 'x'"),
        ("H15", ["e**w", "--at", "w=1"],  # e is a name like any other: Euler's number to the w is exp(w)
         "no value for 'e'; did you mean exp(w)? (e is a variable here, not Euler's number)"),
        ("H15", ["1/(1 + E**(-w*x))", "--at", "w=1,x=2"], "no value for 'E'; did you mean exp(-w*x)?"),
        ("H15", ["x/e + w", "--at", "w=1,x=2"], "no value for 'e'\n"),  # dividing by e is no power of it
        ("H16", ["w*x", "--at", "w=1,w=2,x=1"], "--at: 'w' is given twice"),
        ("H17", ["w*x", "--at", "w=abc,x=1"], "'w': 'abc' is not a number"),
        ("H17", ["w*x", "--at", "w=nan,x=1"], "'w': 'nan' is not a number"),
        ("H17", ["w*x", "--at", "w=inf,x=1"], "'w': 'inf' is not a number"),
        ("H17", ["w*x", "--at", "w=1e999,x=1"], "'w': '1e999': the exponent is beyond ±400"),
        ("H17", ["w*x", "--at", "w=1e308e,x=1"], "'w': '1e308e' is not a number"),
        ("H17", ["w*x", "--at", "w=1/0,x=1"], "'w': '1/0' divides by zero"),
        ("H17", ["w*x", "--at", "w=" + "9" * 5000 + ",x=1"], "'w': number '99999999999999999999'... is too long"),
        ("H17", ["w*x", "--at", "w=1e-999999999,x=1", "--exact"], "the exponent is beyond ±400"),
        ("H17", ["w*x", "--at", "w,x=1"], "--at: expected name=value, got 'w'"),
        ("H18", ["w*x", "--at", "w=1,x=2,z=3"], "'z' is not in the formula"),
        ("H18", ["c = w*x; L = c**2", "--at", "w=1,x=2,c=3"], "'c' is a node, computed from its formula"),
    ],
)
def test_point_rows(capsys, row, args, message):
    fails(capsys, ["grad", *args], message)


@pytest.mark.parametrize(
    "formula, point, message",
    [
        ("log(x)*w", "w=1,x=0", "node 'log1' = log(x) is undefined at x=0, w=1"),
        ("w/x", "w=1,x=0", "node 'L' = w/x is undefined at w=1, x=0"),
        ("sqrt(x)*w", "w=1,x=0", "dsqrt1/dx = 1/(2*sqrt(x)) is undefined at x=0, w=1"),  # the value is 0, the derivative is not
        ("sqrt(x)*w", "w=1,x=-1", "node 'sqrt1' = sqrt(x) is not real at x=-1, w=1"),
        ("log(x)*w", "w=1,x=-2.5", "= log(x) is not real at x=-2.5, w=1"),
        ("relu(sin(x)**2 + cos(x)**2 - 1)*w", "w=1,x=1",  # 0, but SymPy cannot tell: refused at the sum
         "cannot be evaluated at x=1, w=1 (SymPy cannot decide its exact value: give the point in decimals)"),
        ("exp(x)*w", "w=1,x=1000", "= exp(x) is too large for floating point (it overflows float64) at x=1000, w=1"),
    ],
)
def test_H19_undefined_at_the_point_names_the_node(capsys, formula, point, message):
    fails(capsys, ["grad", formula, "--at", point], message)


# -- limits -----------------------------------------------------------------

def test_H20_exact_closed_forms_that_swell_are_refused_with_advice(capsys):
    deep = "sigmoid(" * 40 + "w*x" + ")" * 40
    fails(capsys, ["grad", deep, "--at", "w=1,x=2"], "give the point in decimals (e.g. w=1.0, not w=1)")
    assert "dL/dw = " in succeeds(capsys, ["grad", deep, "--at", "w=1.0,x=2"])


def test_H21_a_walkthrough_of_tens_of_thousands_of_steps_is_refused(capsys, tmp_path):
    spec = tmp_path / "wide.json"
    x = [[0.1] * 30 for _ in range(8)]
    y = [[0.5] * 10 for _ in range(8)]
    spec.write_text(json.dumps({"network": {"layers": [30, 30, 10]}, "data": {"x": x, "y": y}}))
    _, err = fails(capsys, ["explain", "--spec", str(spec)], "the walkthrough would have about 12,728 steps")
    assert "--sample K" in err and "--view matrix" in err and "symprop grad" in err


def test_H21_the_step_count_is_exact_for_formulas_and_networks(tmp_path):
    from symprop.cli import build_parser
    from symprop.commands.common import load_problem

    for text in ["c = w*x; a = c + b; d = a - y; J = d**2/2", "sigmoid(w*x + b)*(w - y)**2"]:
        problem = load_problem(build_parser().parse_args(["explain", text, "--at", "w=1,x=2,b=3,y=4"]))
        assert walkthrough_steps(problem) == len(problem.backward().steps)
    spec = tmp_path / "net.json"
    for network in [{"layers": [3, 4, 2]}, {"layers": [4, 3, 3], "activation": ["sigmoid", "softmax"],
                                             "loss": "cross_entropy"}]:
        data = {"x": [[0.1, 0.2, 0.3, 0.4][: network["layers"][0]]] * 3, "y": [[0.2, 0.3, 0.5][: network["layers"][-1]]] * 3}
        spec.write_text(json.dumps({"network": network, "data": data}))
        for extra in ([], ["--sample", "1"]):
            problem = load_problem(build_parser().parse_args(["explain", "--spec", str(spec), *extra]))
            assert walkthrough_steps(problem) == len(problem.backward().steps), (network, extra)
    small = Graph.from_formulas(["c = w*x", "L = c**2"])
    limit_walkthrough_size(type("P", (), {"graph": small})(), limit=3)
    with pytest.raises(LimitError, match=r"about 3 steps \(limit 2\); use 'symprop grad'"):
        limit_walkthrough_size(type("P", (), {"graph": small})(), limit=2)
    assert MAX_WALKTHROUGH_STEPS == 10_000


SWELLING = "; ".join(["a1 = w*x"] + [f"a{i} = a{i - 1}**2 + a{i - 1}" for i in range(2, 14)])


def test_H22_an_expanded_form_past_the_size_bound(capsys):
    fails(capsys, ["grad", SWELLING, "--at", "w=0.5,x=0.5", "--json", "--expanded"],
          "has more than 20000 operations; use the compact form (in node symbols) instead")
    out = succeeds(capsys, ["grad", SWELLING, "--at", "w=0.5,x=0.5", "--expanded"])  # text: said in place
    assert "expanded: (not shown: the expanded" in out and "compact:" in out
    assert "da13/da1 = " in out.split("where")[1]  # the long gradient written by its name is defined


DEEP = "sigmoid(" * 90 + "w*x" + ")" * 90  # within the parser's MAX_DEPTH = 100


@pytest.mark.parametrize("args", [["grad", "--json", "--expanded"], ["explain", "--format", "latex", "--expanded"],
                                  ["explain", "--format", "text", "--expanded"]])
def test_H23_ninety_levels_deep_finishes(capsys, args):
    out = succeeds(capsys, [*args, DEEP, "--at", "w=0.5,x=0.1"])
    assert out


def test_H23_a_recursion_error_anywhere_is_one_line_with_advice(capsys, monkeypatch):
    from symprop.commands import grad

    def too_deep(args):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(grad, "run", too_deep)
    fails(capsys, ["grad", "w*x", "--at", "w=1,x=2"], "too deeply nested for SymPy; split it into named nodes")


@pytest.mark.parametrize("command", ["grad", "explain"])
@pytest.mark.parametrize("digits, message", [("0", "expected a whole number from 1 to 30, got '0'"),
                                             ("31", "expected a whole number from 1 to 30, got '31'"),
                                             ("-5", "expected a whole number from 1 to 30, got '-5'"),
                                             ("abc", "expected a whole number from 1 to 30, got 'abc'")])
def test_H24_digits_out_of_range(capsys, command, digits, message):
    fails(capsys, [command, "w*x", "--at", "w=1.5,x=2", "--digits", digits], message)


@pytest.mark.parametrize("digits", ["1", "30"])
def test_H24_digits_extremes_that_are_allowed(capsys, digits):
    out = succeeds(capsys, ["grad", "w*x", "--at", "w=1.123456789,x=2", "--digits", digits])
    assert "dL/dw = 2" in out


# -- usage ------------------------------------------------------------------

def test_H25_unknown_or_missing_command(capsys):
    fails(capsys, ["frobnicate"], "invalid choice: 'frobnicate'")
    _, err = fails(capsys, ["expalin", "w*x"], "invalid choice: 'expalin'")
    assert err.endswith("; did you mean 'explain'? (see 'symprop --help')\n")
    fails(capsys, [], "give a command: demo, explain, grad")
    _, err = fails(capsys, ["grad", "w*x", "--frobnicate"], "unrecognized arguments: --frobnicate")
    assert err.endswith("--frobnicate (see 'symprop grad --help')\n")  # nothing close; the command's own help
    _, err = fails(capsys, ["train", "--spec", "f.toml", "--stpes", "100"], "unrecognized arguments: --stpes 100")
    assert err.endswith("; did you mean '--steps'? (see 'symprop train --help')\n")
    _, err = fails(capsys, ["grad", "w*x", "--att=w=1"], "unrecognized arguments: --att=w=1")
    assert "did you mean '--at'?" in err
    fails(capsys, ["grad", "w*x", "--spec", "f.toml"], "give either EXPR or --spec, not both")


@pytest.mark.parametrize(
    "args, message",
    [
        (["explain", "w*x", "--at", "w=1,x=2", "--format", "txt"], "invalid choice: 'txt' (choose from 'rich', "),
        (["check", "w*x", "--at", "w=1,x=2", "--format", "txt"], "; did you mean 'text'? (see 'symprop check --help')"),
        (["explain", "w*x", "--at", "w=1,x=2", "--format", "markdwon"], "; did you mean 'markdown'?"),
        (["graph", "w*x", "--rankdir", "lr"], "invalid choice: 'lr' (choose from 'auto', 'TB', 'LR'); did you mean 'LR'?"),
        (["explain", "w*x", "--at", "w=1,x=2", "--view", "matirx"], "; did you mean 'matrix'?"),
        (["train", "--spec", str(XOR), "--optimizer", "adamw"], "; did you mean 'adam'?"),
    ],
)
def test_H32_a_choice_that_is_a_typo_names_the_closest_choice(capsys, args, message):
    fails(capsys, args, message)


def test_H32_a_choice_nothing_is_close_to_is_listed_without_a_guess(capsys):
    _, err = fails(capsys, ["explain", "w*x", "--at", "w=1,x=2", "--format", "docx"], "invalid choice: 'docx'")
    assert "did you mean" not in err


# -- files ------------------------------------------------------------------

def test_H26_unreadable_spec_files(capsys, tmp_path):
    fails(capsys, ["grad", "--spec", str(tmp_path / "missing.toml")], "does not exist")
    fails(capsys, ["grad", "--spec", str(tmp_path)], "is a directory")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[graph]\nnodes = []\n")
    fails(capsys, ["grad", "--spec", str(binary)], "is not UTF-8 text")
    locked = tmp_path / "locked.toml"
    locked.write_text('[graph]\nnodes = ["L = w*x"]\n')
    locked.chmod(0)
    try:
        if os.geteuid() != 0:  # root reads anything
            fails(capsys, ["grad", "--spec", str(locked)], "cannot read spec file")
    finally:
        locked.chmod(0o600)


def test_H27_unwritable_output(capsys, tmp_path):
    fails(capsys, ["grad", "w*x", "--at", "w=1,x=2", "--output", str(tmp_path)], "cannot write")
    fails(capsys, ["grad", "w*x", "--at", "w=1,x=2", "--output", str(tmp_path / "no" / "such.txt")],
          "No such file or directory")


# -- graphs of named nodes --------------------------------------------------

@pytest.mark.parametrize(
    "nodes, message",
    [
        ("c = w*x; c = c + 1", "node 'c' is defined twice"),
        ("a = b + 1; b = w*x; L = a*b", "node 'a' uses 'b' before it is defined"),
        ("a = w*x; u = w + 1; L = a*2", "node 'u' is not used by the output 'L'"),
        ("a = a + w", "node 'a' uses itself"),
        ("exp = w*x", "node name 'exp' is a function name"),
        ("c == w", "a node is written 'name = formula'"),
    ],
)
def test_H28_nodes_that_do_not_make_a_graph(capsys, nodes, message):
    fails(capsys, ["grad", nodes, "--at", "w=1,x=2"], message)


def test_library_refusals_are_the_same_errors():
    """From Python the same rows are exceptions (subclasses of SympropError), never other types."""
    from symprop.errors import EvaluationError, FormulaError, PointError

    with pytest.raises(FormulaError):
        parse_formula("().__class__")
    graph = Graph.from_formulas(["c = w*x", "L = log(c)"])
    with pytest.raises(PointError, match="no value for 'x'"):
        backward(graph, {"w": 1})
    with pytest.raises(EvaluationError, match="node 'L' = log\\(c\\) is undefined at w=0, x=1"):
        backward(graph, {"w": 0, "x": 1})
    assert backward(graph, {"w": 1, "x": sympy.Rational(1, 2)}).gradients["w"].value == 1


# -- a user's gradient function (--against) ----------------------------------

@pytest.mark.parametrize(
    "body, status, message",
    [
        ("raise ValueError('oops')", "error", "grads raised ValueError: oops"),
        ("return None", "not numbers", "returned NoneType, not a dict of gradients"),
        ("return {'w': float('nan')}", "NaN", "w: NaN or infinity at w"),
        ("return {'w': [[1.0, 2.0], [3.0, 4.0]]}", "bad shape", "w: expected shape (), got (2, 2)"),
        ("return grads(params, x, y)", "error", "RecursionError"),
    ],
)
def test_H29_an_against_function_that_raises_or_returns_garbage_fails_the_check(capsys, tmp_path, body, status, message):
    user = tmp_path / "user.py"
    user.write_text(f"def grads(params, x, y):\n    {body}\n")
    assert main(["check", "w**2", "--at", "w=3", "--against", f"{user}:grads", "--format", "text"]) == 1
    out = " ".join(capsys.readouterr().out.split())  # the report wraps at 80 columns
    assert status in out and message in out and "FAILED" in out


def test_H29_an_against_function_that_calls_sys_exit_is_not_a_pass(capsys, tmp_path):
    user = tmp_path / "user.py"
    user.write_text("import sys\ndef grads(params, x, y):\n    sys.exit(0)\n")
    fails(capsys, ["check", "w**2", "--at", "w=3", "--against", f"{user}:grads"],
          "the user's code called sys.exit(0); nothing was checked")


def test_a_mistyped_function_or_against_name_gets_a_suggestion(capsys):
    _, err = fails(capsys, ["grad", "sigmiod(w)", "--at", "w=1"], "unknown function 'sigmiod'; allowed: exp, log")
    assert err.rstrip().endswith("; did you mean 'sigmoid'?")
    xor = str(Path(__file__).resolve().parent.parent / "examples")
    fails(capsys, ["check", "--spec", f"{xor}/xor.toml", "--against", f"{xor}/xor_backprop.py:grdas"],
          "--against: xor_backprop.py has no function 'grdas'; did you mean 'grads'?")


def test_a_name_in_another_case_gets_a_suggestion(capsys):
    fails(capsys, ["explain", "exp(w)", "--at", "W=1"], "'W' is not in the formula; did you mean 'w'?")
    fails(capsys, ["grad", "w*x", "--at", "w=1,x=2", "--wrt", "W"], "parameter 'W' is not in the formula; did you mean 'w'?")
    _, err = fails(capsys, ["grad", "w*x", "--at", "w=1,x=2,q=3"], "'q' is not in the formula")
    assert "did you mean" not in err  # nothing close: no guess
