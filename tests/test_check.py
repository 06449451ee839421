"""The checker: exact gradients against finite differences and against a user's gradient function."""

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import symprop
from symprop.check import DEFAULT_FLOOR, DEFAULT_RTOL, LoadError, load_function, relative_error
from symprop.cli import main
from symprop.nn import MLP, Network
from symprop.render.check import check_text, derivation_lines

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
XOR_SPEC = EXAMPLES / "xor.toml"
LAB = ["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"]
LAB_AT = {"w": -2, "x": 2, "b": 8, "y": 1}


def run(*args):
    done = subprocess.run([sys.executable, "-m", "symprop", *args], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def example(file: str, function: str):
    """A function from examples/, loaded as --against loads it."""
    return load_function(f"{EXAMPLES / file}:{function}")


def xor_network() -> Network:
    from symprop.spec import load_spec

    return load_spec(XOR_SPEC).network


# -- the metric ------------------------------------------------------------------


def test_relative_error_and_nan():
    assert relative_error(1.0, 1.0) == 0
    assert relative_error(2.0, 1.0) == 0.5
    assert relative_error(0.0, 1e-12) == pytest.approx(1e-12 / DEFAULT_FLOOR)
    assert relative_error(1.0, math.nan) == math.inf  # NaN never passes (nan > tol is False)
    assert relative_error(math.inf, math.inf) == math.inf


# -- formula graphs ---------------------------------------------------------------


def test_formula_graph_agrees_with_finite_differences():
    graph = symprop.Graph.from_formulas(LAB, params=["w", "b"])
    report = symprop.gradcheck(graph, LAB_AT)
    assert report.passed and bool(report)
    assert [(r.param, r.symbolic, r.status) for r in report.rows] == [("w", 6.0, "ok"), ("b", 3.0, "ok")]
    assert all(r.rel_error < 1e-9 for r in report.rows)


def test_formula_graph_against_a_function_gets_floats_and_the_other_leaves():
    graph = symprop.Graph.from_formulas(LAB, params=["w", "b"])
    seen = {}

    def grads(params, x, y):
        seen.update(params=params, x=x, y=y)
        d = params["w"] * x["x"] + params["b"] - x["y"]
        return {"w": d * x["x"], "b": d}

    assert symprop.gradcheck(graph, LAB_AT, against=grads).passed
    assert seen == {"params": {"w": -2.0, "b": 8.0}, "x": {"x": 2.0, "y": 1.0}, "y": None}
    bad = symprop.gradcheck(graph, LAB_AT, against={"w": 6.0, "b": 6.0})
    assert not bad.passed and bad.wrong_params == ["b"]
    (finding,) = bad.findings
    # one entry is always "off by a constant factor": only a factor with a likely cause is said
    assert finding.hints == ["2 times the exact gradient: a factor 1/2 in the loss, as in half_squared_error?"]
    assert symprop.gradcheck(graph, LAB_AT, against={"w": 6.0, "b": 9.0}).findings[0].hints == []
    assert [(s.node.name, s.input.name) for s in finding.derivation.steps] == [("J", "d"), ("d", "a"), ("a", "b")]


def test_kinks_are_flagged_not_failed():
    graph = symprop.Graph.trace(symprop.parse_formula("relu(w*x + b) + abs(v)"))
    report = symprop.gradcheck(graph, {"w": 1, "x": 2, "b": -2, "v": 0})
    assert report.passed
    # abs'(0) = sign(0) = 0 is what the symmetric difference measures, so v agrees
    assert {r.param: r.status for r in report.rows} == {"w": "kink", "x": "kink", "b": "kink", "v": "ok"}
    assert any(f.kind == "kink" for f in report.findings)
    # away from the kink the same formula is checked normally
    assert all(r.status == "ok" for r in symprop.gradcheck(graph, {"w": 1, "x": 2, "b": -1, "v": 3}).rows)


def test_against_a_user_at_a_kink_only_one_sided_values_are_excused():
    graph = symprop.Graph.trace(symprop.parse_formula("relu(b) + relu(w)**2"))
    at = {"b": 0, "w": 0}
    assert symprop.gradcheck(graph, at, against={"b": 1.0, "w": 0.0}).passed  # relu'(0) = 1 is defensible
    bad = symprop.gradcheck(graph, at, against={"b": 2.0, "w": 1.0})  # outside [0, 1]; relu(w)**2 is smooth
    assert {r.param: r.status for r in bad.rows} == {"b": "wrong", "w": "wrong"}


def test_undefined_finite_difference_is_a_failure_not_a_crash():
    graph = symprop.Graph.from_formulas(["L = sqrt(w)"])
    report = symprop.gradcheck(graph, {"w": 1e-6}, eps=1e-5)  # sqrt(w - eps) is not real
    assert not report.passed and report.rows[0].status == "nan"


# -- the XOR net (examples/xor.toml) -------------------------------------------------------


def test_correct_xor_backprop_passes():
    grads = example("xor_backprop.py", "grads")
    network = xor_network()
    assert symprop.gradcheck(network).passed
    report = symprop.gradcheck(network, against=grads)
    assert report.passed and len(report.rows) == 13
    assert max(r.rel_error for r in report.rows) < 1e-12


@pytest.mark.parametrize(
    "bug, culprits, status, hint",
    [
        ("grads_missing_derivative", ["W1", "b1"], "wrong", "W2, b2 agree, so dL/dz2 is right"),
        ("grads_transposed", ["W1"], "shape", "its transpose is the exact gradient"),
        ("grads_forgotten_sum", ["b2"], "shape", "summing over the batch (axis 0)"),
        ("grads_sign", ["W1", "b1", "W2", "b2"], "wrong", "the sign is flipped"),
    ],
)
def test_each_seeded_bug_fails_and_names_the_culprit(bug, culprits, status, hint):
    report = symprop.gradcheck(xor_network(), against=example("buggy_backprop.py", bug))
    assert not report.passed
    assert report.wrong_params == culprits
    assert {r.name for r in report.rows if not r.ok} == set(culprits)
    assert {r.status for r in report.rows if not r.ok} == {status}
    first = next(f for f in report.findings if f.param == culprits[0])
    assert any(hint in h for h in first.hints), first.hints
    if status == "wrong":
        text = str(report)
        assert f"the exact derivation of dL/d{culprits[0]}[" in text and "sum over the 4 samples" in text
        locals_ = [s.local.expr for s in first.derivation.steps]
        assert any("a1" in str(e) and "1 - " in str(e) for e in locals_) or culprits[0] == "W2"


def test_user_function_problems_are_reported_clearly():
    network = xor_network()
    exact = network.exact_gradients()

    def returning(value):
        return lambda params, x, y: value

    def boom(params, x, y):
        raise ValueError("shapes (4,3) and (1,3)\nnot aligned")

    cases = {
        "missing": (returning({k: v for k, v in exact.items() if k != "W2"}), {"W2": "missing"}, "W2: missing"),
        "extra": (returning({**exact, "dW3": 0}), {}, "'dW3' is not a parameter"),
        "shape": (returning({**exact, "b1": exact["b1"][None, :]}), {"b1": "shape"}, "reshape to (3,)"),
        "nan": (returning({**exact, "W1": exact["W1"] * np.nan}), {"W1": "nan"}, "W1: NaN or infinity at W1[0,0]"),
        "type": (returning({**exact, "b2": None}), {"b2": "invalid"}, "b2: not an array of numbers"),
        "not a dict": (returning([1, 2]), {n: "invalid" for n in exact}, "returned list, not a dict"),
        "exception": (boom, {n: "error" for n in exact}, "boom raised ValueError: shapes (4,3) and (1,3) not aligned"),
    }
    for case, (function, statuses, message) in cases.items():
        report = symprop.gradcheck(network, against=function)
        assert not report.passed, case
        assert {r.name: r.status for r in report.rows if not r.ok} == statuses, case
        text = str(report)
        assert message in text and "Traceback" not in text, (case, text)


def test_the_checker_never_passes_a_gradient_wrong_by_more_than_its_tolerance():
    network = xor_network()
    exact = network.exact_gradients()
    k = 3
    scaled = symprop.gradcheck(network, against={n: g * (1 + k * DEFAULT_RTOL) for n, g in exact.items()})
    big = [r for r in scaled.rows if abs(r.symbolic) >= DEFAULT_FLOOR]
    assert big and all(r.status == "wrong" for r in big)
    flipped = symprop.gradcheck(network, against={n: -g for n, g in exact.items()})
    assert all(r.status == "wrong" for r in flipped.rows if abs(r.symbolic) >= DEFAULT_FLOOR)
    permuted = {**exact, "W1": exact["W1"][::-1], "W2": exact["W2"][:, ::-1]}
    report = symprop.gradcheck(network, against=permuted)
    assert report.wrong_params == ["W1", "W2"]
    assert "the right numbers in the wrong places" in " ".join(report.findings[0].hints)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_never_passes_beyond_tolerance_random(data):
    network = xor_network()
    exact = network.exact_gradients()
    name = data.draw(st.sampled_from(sorted(exact)))
    index = data.draw(st.sampled_from(list(np.ndindex(exact[name].shape))))
    factor = data.draw(st.floats(1.5, 1e3))  # how many tolerances it is off by
    sign = data.draw(st.sampled_from([-1, 1]))
    true = float(exact[name][index])
    tolerance = DEFAULT_RTOL * max(abs(true), DEFAULT_FLOOR)
    wrong = {n: g.copy() for n, g in exact.items()}
    wrong[name][index] = true + sign * factor * tolerance * 1.01
    report = symprop.gradcheck(network, against=wrong)
    assert not report.passed and report.wrong_params == [name]


# -- finite differences on random small networks -----------------------------------

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]
OUTPUTS = {  # loss -> output activations it makes sense with
    "half_squared_error": ["sigmoid", "tanh", "identity", "softplus", "leaky_relu"],
    "squared_error": ["sigmoid", "identity"],
    "mse": ["tanh", "identity"],
    "binary_cross_entropy": ["sigmoid"],
    "cross_entropy": ["softmax"],
}


@st.composite
def networks(draw):
    loss = draw(st.sampled_from(sorted(OUTPUTS)))
    output = draw(st.sampled_from(OUTPUTS[loss]))
    hidden = draw(st.sampled_from(HIDDEN))
    n0, n1 = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    n2 = 2 if loss == "cross_entropy" else draw(st.integers(1, 2))
    m = draw(st.integers(1, 3))
    mlp = MLP(
        [n0, n1, n2],
        [hidden, output],
        loss=loss,
        reduction=draw(st.sampled_from(["mean", "sum"])),
        bias=draw(st.sampled_from(["neuron", "layer", "none"])),
    )
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(m, n0))
    if loss == "cross_entropy":
        y = np.eye(n2)[rng.integers(0, n2, size=m)]
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, size=(m, n2)).astype(float)
    else:
        y = rng.uniform(-1, 1, size=(m, n2))
    return Network(mlp, None, x, y, seed=seed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_finite_differences_agree_with_exact_gradients_on_random_networks(network):
    report = symprop.gradcheck(network)
    assert report.passed, str(report)
    assert all(r.status in ("ok", "kink") for r in report.rows)


def test_relu_kink_in_a_network_is_flagged():
    mlp = MLP([1, 1, 1], ["relu", "identity"])
    network = Network(mlp, {"W1": [[1.0]], "b1": [-0.5], "W2": [[2.0]], "b2": [0.0]}, [[0.5]], [[1.0]])
    report = symprop.gradcheck(network)
    assert report.passed
    assert {r.param: r.status for r in report.rows}["b1[0]"] == "kink"
    assert {r.param: r.status for r in report.rows}["b2[0]"] == "ok"


# -- renderers ----------------------------------------------------------------------


def test_report_renders_in_rich_jupyter_and_json():
    report = symprop.gradcheck(xor_network(), against=example("buggy_backprop.py", "grads_missing_derivative"))
    console = Console(width=200, color_system=None, file=io.StringIO())
    console.print(report)
    rich_text = console.file.getvalue()
    assert "W1[0,0]" in rich_text and "WRONG" in rich_text and "FAILED" in rich_text
    html = report._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and "WRONG" in html
    assert "| W1[0,0] |" in report._repr_markdown_()
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["passed"] is False
    assert set(data["rows"][0]) >= {"param", "symbolic", "numeric", "rel_error", "ok"}
    assert data["findings"][0]["derivation"]["steps"][0]["node"] == "L"


# -- the command line ----------------------------------------------------------------


def test_cli_formula_check_json_contract(capsys):
    code = main(["check", "(w*x + b - y)**2/2", "--wrt", "w,b", "--at", "w=-2,x=2,b=8,y=1", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["passed"] is True
    assert [{k: row[k] for k in ("param", "symbolic", "ok")} for row in data["rows"]] == [
        {"param": "w", "symbolic": 6.0, "ok": True},
        {"param": "b", "symbolic": 3.0, "ok": True},
    ]
    assert all(abs(row["numeric"] - row["symbolic"]) < 1e-8 and row["rel_error"] < 1e-9 for row in data["rows"])


def test_cli_against_exit_codes_as_a_user_runs_it():
    code, out, _ = run("check", "--spec", str(XOR_SPEC), "--against", f"{EXAMPLES / 'xor_backprop.py'}:grads")
    assert code == 0 and "passed: 13 of 13 agree" in out
    code, out, _ = run(
        "check", "--spec", str(XOR_SPEC), "--against", f"{EXAMPLES / 'buggy_backprop.py'}:grads_missing_derivative"
    )
    assert code == 1 and "wrong: W1, b1" in out and "the exact derivation of dL/dW1[" in out


def test_cli_check_options_and_user_files(tmp_path, capsys):
    assert main(["check", "--spec", str(XOR_SPEC), "--json", "--rtol", "1e-3", "--eps", "1e-6"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and data["rtol"] == 1e-3 and data["eps"] == 1e-6 and len(data["rows"]) == 13

    wrong, right = tmp_path / "wrong.py", tmp_path / "right.py"
    wrong.write_text("def grads(params, x, y):\n    return {'w': 1.0}\n")
    right.write_text("def grads(params, x, y):\n    return {'w': 2 * params['w']}\n")
    assert main(["check", "w**2", "--at", "w=3", "--against", f"{wrong}:grads", "--format", "text"]) == 1
    assert "WRONG" in capsys.readouterr().out
    assert main(["check", "w**2", "--at", "w=3", "--against", f"{right}:grads", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True

    broken, raising = tmp_path / "broken.py", tmp_path / "raising.py"
    broken.write_text("def grads(:\n")
    raising.write_text("import no_such_module_xyz\n")
    for target, message in [
        (f"{tmp_path / 'nope.py'}:grads", "does not exist"),
        (f"{right}", "expected FILE.py:FUNC"),
        (f"{right}:other", "has no function 'other'"),
        (f"{broken}:grads", "SyntaxError"),
        (f"{raising}:grads", "raised ModuleNotFoundError"),
    ]:
        assert main(["check", "w**2", "--at", "w=3", "--against", target]) == 2, target
        err = capsys.readouterr().err
        assert err.startswith("symprop: error: --against") and err.count("\n") == 1, (target, err)
        assert message in err and "Traceback" not in err


def test_cli_bad_tolerances_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["check", "w**2", "--at", "w=3", "--eps", "0"])
    assert exit_.value.code == 2 and "expected a positive number" in capsys.readouterr().err


def test_load_function_is_the_users_module(tmp_path):
    (tmp_path / "helper_mod_xyz.py").write_text("FACTOR = 2\n")
    user = tmp_path / "user.py"
    user.write_text("from helper_mod_xyz import FACTOR\ndef grads(p, x, y):\n    return FACTOR\nNOT_CALLABLE = 3\n")
    assert load_function(f"{user}:grads")(None, None, None) == 2  # its folder is importable while it loads
    with pytest.raises(LoadError, match="is a int, not a function"):
        load_function(f"{user}:NOT_CALLABLE")


# -- how a derivation is written ------------------------------------------------------


def test_a_derivation_writes_negative_factors_and_terms_as_explain_does_and_each_form_once():
    """``0.141791 · (-0.994523)``, ``+ (-0.0351865)``; ``(-0.0351865) · 1 = -0.0351865`` (no ``· 1`` twice)."""
    report = symprop.gradcheck(xor_network(), against=example("buggy_backprop.py", "grads_missing_derivative"))
    b1 = next(f for f in report.findings if f.param == "b1")
    lines = derivation_lines(b1.derivation)
    assert lines[2] == ("dL/da1[2] = dL/dz2[0] · ∂z2[0]/∂a1[2] = 0.141791 · W2[0,2] = 0.141791 · (-0.994523)"
                        " = -0.141014")
    assert lines[3] == ("dL/dz1[2] = dL/da1[2] · ∂a1[2]/∂z1[2] = (-0.141014) · (a1[2]*(1 - a1[2]))"
                        " = (-0.141014) · 0.249525 = -0.0351865")
    assert lines[4] == "dL/db1[2] = dL/dz1[2] · ∂z1[2]/∂b1[2] = (-0.0351865) · 1 = -0.0351865"
    assert lines[5] == ("dL/db1[2] = sum over the 4 samples = -0.0210315 + 0.0161085 + 0.0140777 + (-0.0351865)"
                        " = -0.0260319")
    assert b1.derivation.to_dict()["total"] == lines[5]  # --json says it the same way
    assert not any("· -" in line or "+ -" in line for line in derivation_lines(b1.derivation))


def test_a_fan_in_sum_and_exact_factors_in_a_formula_derivation():
    graph = symprop.Graph.from_formulas(["c = w*x", "d = w*y", "J = c*d/2"], params=["w"])
    report = symprop.gradcheck(graph, {"w": 1, "x": 2, "y": -3}, against={"w": 1.0})
    assert derivation_lines(report.findings[0].derivation) == [
        "dJ/dc = dJ/dJ · ∂J/∂c = 1 · d/2 = 1 · (-3/2) = -3/2",
        "dJ/dd = dJ/dJ · ∂J/∂d = 1 · c/2 = 1 · 1 = 1",
        "dJ/dw (via c) = dJ/dc · ∂c/∂w = (-3/2) · x = (-3/2) · 2 = -3",
        "dJ/dw (via d) = dJ/dd · ∂d/∂w = 1 · y = 1 · (-3) = -3",
        "dJ/dw = sum of 2 branches = -3 + (-3) = -6",
    ]
    split = symprop.Graph.trace("J = (w*x)**2/2")
    report = symprop.gradcheck(split, {"w": 1, "x": 2}, against={"w": 1.0, "x": 1.0})
    first = derivation_lines(report.findings[0].derivation)[0]
    assert first == "dJ/dpow1 = dJ/dJ · ∂J/∂pow1 = 1 · 1/2 = 1/2"  # not "1 · 1/2 = 1 · 1/2 = 1/2"


def test_a_hint_keeps_each_formula_on_one_line_at_80_columns():
    """The hint names the steps to look at; at 80 columns none is cut at its ``·`` or ``=``."""
    report = symprop.gradcheck(xor_network(), against=example("buggy_backprop.py", "grads_missing_derivative"))
    lines = check_text(report, width=80).splitlines()
    at = lines.index("  hint: W2, b2 agree, so dL/dz2 is right: the mistake is in the steps after it,")
    assert lines[at + 1:at + 3] == ["    dL/da1 = dL/dz2 · ∂z2/∂a1, dL/dz1 = dL/da1 · ∂a1/∂z1 or",
                                    "    dL/dW1 = dL/dz1 · ∂z1/∂W1"]
    assert all(len(line) <= 80 for line in lines)
    assert not any(line.rstrip().endswith(("·", "=")) for line in lines)
    narrow = io.StringIO()  # rich wraps the same way at its console's width
    Console(file=narrow, width=60, color_system=None).print(report)
    text = narrow.getvalue().splitlines()
    assert "    dL/dz1 = dL/da1 · ∂a1/∂z1 or dL/dW1 = dL/dz1 · ∂z1/∂W1" in text
    assert all(len(line) <= 60 for line in text) and not any(line.rstrip().endswith(("·", "=")) for line in text)
