"""The command line, run as a user runs it."""

import json
import subprocess
import sys

import pytest

from symprop.cli import main


def run(*args, stdin=None):
    """Run the installed ``symprop`` in a subprocess: exit code, stdout, stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "symprop", *args], capture_output=True, text=True, input=stdin, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def test_demo_prints_the_whole_walkthrough():
    code, out, err = run("demo", "--format", "text")
    assert code == 0 and err == ""
    assert "dJ/dw = dJ/dc · ∂c/∂w = d · x = 3 · 2 = 6" in out
    assert out.index("Forward pass") < out.index("Backward pass") < out.index("Gradients")


def test_grad_json_contract(capsys):
    assert main(["grad", "(w*x + b - y)**2/2", "--wrt", "w,b", "--at", "w=-2,x=2,b=8,y=1", "--json", "--expanded"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loss"] == 4.5
    assert data["gradients"] == {"w": 6, "b": 3}
    assert data["symbolic"] == {"w": "sub1*x", "b": "sub1"}  # sub1 = add1 - y, the gate before the square
    assert data["nodes"] == {"mul1": "w*x", "add1": "mul1 + b", "sub1": "add1 - y"}
    assert data["expanded"] == {"w": "x*(b + w*x - y)", "b": "b + w*x - y"}


def test_grad_text_with_named_nodes(capsys):
    assert main(["grad", "c = a + b; d = b + 1; e = c*d", "--at", "a=2,b=1"]) == 0
    out = capsys.readouterr().out
    assert "de/da = 2" in out and "de/db = 5" in out and "compact:  c + d" in out


def test_explain_json_contract(capsys):
    assert main(["explain", "c = w*x; a = c + b; d = a - y; J = d**2/2", "--wrt", "w,b",
                 "--at", "w=-2,x=2,b=8,y=1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loss"] == 4.5
    assert [f["node"] for f in data["forward"]] == ["c", "a", "d", "J"]
    assert [(s["node"], s["input"]) for s in data["backward"]] == [
        ("J", "d"), ("d", "a"), ("a", "c"), ("a", "b"), ("c", "w")]
    assert data["backward"][-1] == {
        "node": "c", "input": "w",
        "local": {"expr": "x", "value": 2}, "upstream": {"expr": "d", "value": 3},
        "product": {"expr": "d*x", "value": 6},
        "rule": {"name": "product", "form": "∂(u·v)/∂u = v", "latex": r"\frac{\partial (u \cdot v)}{\partial u} = v"},
        "operand": None,
    }
    assert [s["rule"]["name"] for s in data["backward"]] == [
        "constant multiple, power", "difference", "sum", "sum", "product"]
    assert data["gradients"] == {"w": 6, "b": 3}


def test_spec_file(tmp_path, capsys):
    spec = tmp_path / "lab.toml"
    spec.write_text(
        '[graph]\nnodes = ["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"]\nparams = ["w", "b"]\n'
        "[graph.at]\nx = 2\nw = -2\nb = 8\ny = 1\n"
    )
    assert main(["grad", "--spec", str(spec), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gradients"] == {"w": 6, "b": 3}
    assert main(["grad", "--spec", str(spec), "--json", "--at", "w=1"]) == 0  # --at overrides the file
    assert json.loads(capsys.readouterr().out)["gradients"] == {"w": 18, "b": 9}


def test_rich_output_to_a_file_has_no_escape_codes(tmp_path):
    out = tmp_path / "walk.txt"
    code, _, _ = run("explain", "sigmoid(w*x)", "--at", "w=1/2,x=2", "--format", "rich", "--output", str(out))
    text = out.read_text()
    assert code == 0 and "\x1b[" not in text and "Backward pass" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["grad", "__import__('os').system('echo pwned')", "--at", "x=1"], "attribute access is not allowed"),
        (["grad", "__import__('os')", "--at", "x=1"], "unknown function '__import__'"),
        (["grad", "x.__class__", "--at", "x=1"], "attribute access is not allowed"),
        (["grad", "w*x", "--wrt", "q", "--at", "w=1,x=2"], "parameter 'q' is not in the formula"),
        (["grad", "w*x", "--at", "w=1"], "no value for 'x'"),
        (["grad", "w*x", "--at", "w=1,w=2,x=1"], "'w' is given twice"),
        (["grad", "w*x", "--at", "w=abc,x=1"], "'w': 'abc' is not a number"),
        (["grad", "log(x)*w", "--at", "w=1,x=0"], "is undefined at"),
        (["grad", "w/x", "--at", "w=1,x=0"], "is undefined at"),
        (["grad", "--spec", "/no/such/file.toml"], "does not exist"),
        (["grad"], "give a formula (EXPR) or --spec FILE"),
        (["explain", "w*x", "--format", "docx"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    code, out, err = run(*args)
    assert code == 2, err
    assert err.startswith("symprop: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert "pwned" not in out


def test_bad_spec_files(tmp_path):
    cases = {
        "typo.toml": ('[graph]\nnodes = ["L = w*x"]\nparam = ["w"]\n', "unknown key graph.'param'"),
        "node.toml": ('[graph]\nnode = ["L = w*x"]\n',
                      "unknown key graph.'node'; expected one of: at, exact, nodes, params; did you mean 'nodes'?"),
        "broken.toml": ("[graph\n", "invalid TOML"),
        "nan.toml": ('[graph]\nnodes = ["L = w*x"]\n[graph.at]\nw = nan\nx = 1\n', "graph.at.w: nan is not a finite number"),
        "bad.json": ("{", "invalid JSON"),
        "evil.toml": ('[graph]\nnodes = ["L = w.__class__"]\n', "graph.nodes: attribute access"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        code, _, err = run("grad", "--spec", str(path))
        assert code == 2 and message in err and err.count("\n") == 1, (name, err)


def test_help_explains_every_command():
    code, out, _ = run("--help")
    assert code == 0 and "demo" in out and "explain" in out and "grad" in out
    code, out, _ = run("grad", "--help")
    assert code == 0 and "--wrt" in out and "--at" in out
