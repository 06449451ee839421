"""``--output FILE``: its suffix picks the format, and a suffix a command does not write is an error.

Text written into ``walk.png`` would be a file its own name misdescribes, so
every command that writes refuses it, before any work, with one line listing
the suffixes it knows. A name without a suffix is text (DOT for ``graph``), as
the README says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symprop.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
XOR = str(EXAMPLES / "xor.toml")
FORMULA = ["w*x", "--at", "w=1,x=2"]
WALK = ".txt, .md, .markdown, .tex, .html, .htm, .svg, .json"

CASES = [
    (["demo"], "demo", WALK, "text"),
    (["explain", *FORMULA], "explain", WALK, "text"),
    (["explain", "--spec", XOR, "--view", "matrix"], "explain --view matrix", ".txt, .md, .markdown, .json", "text"),
    (["grad", *FORMULA], "grad", ".txt, .json", "text"),
    (["check", *FORMULA], "check", ".txt, .md, .markdown, .html, .htm, .json", "text"),
    (["graph", *FORMULA], "graph", ".svg, .dot, .gv, .png, .pdf", "dot"),
    (["train", "--spec", XOR, "--steps", "3"], "train", ".txt, .json", "text"),
    (["train", "--spec", XOR, "--show-code"], "train --show-code", ".py, .txt", "text"),
    (["derive", "x.T*x", "--shapes", "x=2"], "derive", ".txt, .md, .markdown, .tex, .html, .htm, .json", "text"),
    (["rules"], "rules", ".txt, .json", "text"),
]


@pytest.mark.parametrize("args, command, known, plain", CASES, ids=[c[1] for c in CASES])
def test_an_unknown_suffix_is_one_line_and_exit_2(tmp_path, capsys, args, command, known, plain):
    target = tmp_path / "walk.png" if command != "graph" else tmp_path / "g.jpeg"
    assert main([*args, "--output", str(target)]) == 2
    out, err = capsys.readouterr()
    suffix = target.suffix
    assert err == (f"symprop: error: --output {str(target)!r}: symprop {command} does not write {suffix!r} files; "
                   f"give one of {known} (or a name without a suffix, for {plain})"
                   + ("; the loss curve is --plot FILE" if command == "train" else "") + "\n")
    assert out == "" and not target.exists()


@pytest.mark.parametrize("args, command, known, plain", CASES, ids=[c[1] for c in CASES])
def test_a_name_without_a_suffix_is_text(tmp_path, capsys, args, command, known, plain):
    target = tmp_path / "out"
    assert main([*args, "--output", str(target)]) in (0, 1)
    text = target.read_text(encoding="utf-8")
    if plain == "dot":
        assert text.startswith("digraph symprop {")
    else:
        assert not text.lstrip().startswith(("{", "<", "\\", "#", "|")), text[:80]  # not JSON, HTML, LaTeX, Markdown


def test_an_unknown_suffix_is_refused_with_format_too(tmp_path, capsys):
    assert main(["demo", "--format", "text", "--output", str(tmp_path / "walk.png")]) == 2
    assert "symprop demo does not write '.png' files" in capsys.readouterr().err


def test_a_known_suffix_of_another_format_follows_an_explicit_format(tmp_path):
    target = tmp_path / "walk.md"
    assert main(["demo", "--format", "json", "--output", str(target)]) == 0
    assert json.loads(target.read_text())["loss"] == 4.5


@pytest.mark.parametrize("command", [["grad", *FORMULA], ["rules"], ["train", "--spec", XOR, "--steps", "2"]])
def test_dot_json_writes_json(tmp_path, command):
    target = tmp_path / "out.JSON"  # suffixes are read without case
    assert main([*command, "--output", str(target)]) == 0
    data = json.loads(target.read_text())
    assert isinstance(data, dict)


def test_check_picks_its_format_by_suffix(tmp_path):
    assert main(["check", *FORMULA, "--output", str(tmp_path / "c.md")]) == 0
    assert "| param | exact | numeric | rel. error | ok |" in (tmp_path / "c.md").read_text()
    assert main(["check", *FORMULA, "--output", str(tmp_path / "c.json")]) == 0
    assert json.loads((tmp_path / "c.json").read_text())["passed"] is True


def test_show_code_writes_python(tmp_path):
    target = tmp_path / "step.py"
    assert main(["train", "--spec", XOR, "--show-code", "--output", str(target)]) == 0
    compile(target.read_text(), str(target), "exec")
