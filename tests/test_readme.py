"""The README works as written: every command runs, every shown output is real.

- each ``symprop ...`` line of a ``sh`` block runs and exits as documented;
- each ``$ symprop ...`` of a ``text`` block runs, and every output line shown
  under it (``...`` marks a cut) appears in what it really prints;
- each ``python`` block runs;
- a ``toml`` block that starts with ``# NAME.toml`` is the file the commands use.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, flags=re.S | re.M)


def _commands() -> list[str]:
    lines = []
    for lang, body in BLOCKS:
        if lang == "sh":
            lines += [line for line in body.splitlines() if line.startswith("symprop ")]
    return lines


def _transcripts() -> list[tuple[str, list[str]]]:
    found = []
    for lang, body in BLOCKS:
        lines = body.splitlines()
        if lang == "text" and lines and lines[0].startswith("$ symprop "):
            found.append((lines[0][2:], [line.rstrip() for line in lines[1:]]))
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A fresh folder with the examples and the README's own files in it."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", folder / "examples")
    for lang, body in BLOCKS:
        first = body.splitlines()[0] if body else ""
        if lang == "toml" and re.fullmatch(r"# [\w.-]+\.toml", first):
            (folder / first[2:]).write_text(body)
    return folder


def _run(line: str, cwd: Path) -> subprocess.CompletedProcess:
    script = f'symprop() {{ "{sys.executable}" -m symprop "$@"; }}\n{line}'
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def _expected_exit(line: str) -> tuple[int, str]:
    """The exit code a README line documents, and a word its error must contain."""
    if "buggy" in line:
        return 1, ""
    if "--plot" in line and importlib.util.find_spec("matplotlib") is None:
        return 2, "matplotlib"
    if line.startswith("symprop graph") and re.search(r"\.(svg|png|pdf)\b", line) and shutil.which("dot") is None:
        return 2, "Graphviz"
    return 0, ""


@pytest.mark.parametrize("line", _commands())
def test_readme_command_runs(line, workdir):
    done = _run(line, workdir)
    code, word = _expected_exit(line)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == code, (line, done.stderr[-2000:])
    assert word in done.stderr
    assert done.stdout or done.returncode == 2 or "--output" in line or "--plot" in line


@pytest.mark.parametrize("line, shown", _transcripts(), ids=[t[0][:60] for t in _transcripts()])
def test_readme_transcript_is_real(line, shown, workdir):
    done = _run(line, workdir)
    code, _ = _expected_exit(line)
    assert done.returncode == code, done.stderr[-2000:]
    printed = {out.rstrip() for out in done.stdout.splitlines()}
    missing = [s for s in shown if s.strip() and s.strip() != "..." and s not in printed]
    assert not missing, f"shown in the README but not printed by {line!r}: {missing}"
    if not re.search(r"--json|--format (json|html|latex|markdown|dot)|--show-code|^symprop graph", line):
        wide = [out for out in printed if len(out) > 80]  # a pipe is 80 columns wide
        assert not wide, f"{line!r} prints lines wider than 80 columns: {wide[:3]}"


PYTHON_BLOCKS = [body for lang, body in BLOCKS if lang == "python"]


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"python-{i}" for i in range(len(PYTHON_BLOCKS))])
def test_readme_python_block_runs(code):
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_readme_opens_with_the_two_commands_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- ci:install -->" in README and "<!-- ci:test -->" in README and "readme_command install" in ci
    first_blocks = [body.strip() for lang, body in BLOCKS[:2]]
    assert first_blocks[0].endswith("symprop demo") and "pip install ." in first_blocks[0]
    assert "'.[test]'" in first_blocks[1] and first_blocks[1].endswith("pytest")
