"""The output path under faults: a full disk, closed streams, readers that go away, encodings, terminals, Ctrl-C.

Rows S1-S8 of the README's "Bad input and limits" table. Each test runs the
command in a subprocess, as a shell or a script would, and the fault is made
by the kernel: ``/dev/full``, a closed file descriptor, a pipe whose reader
has gone, a file-size limit (``RLIMIT_FSIZE``) for a disk that fills up, a
pseudo-terminal, a real SIGINT.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import resource
import select
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
import warnings
from pathlib import Path

import pytest

from symprop import LimitError
from symprop.cli import main
from symprop.commands import streams
from symprop.nn import MLP
from symprop.train import MAX_STEPS, train

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SYMPROP = [sys.executable, "-m", "symprop"]
FULL_DISK = "symprop: error: cannot write the output to stdout: No space left on device\n"


def run(args, *, env=None, timeout=60, **kwargs):
    """``symprop ARGS`` in a subprocess: (exit code, stdout bytes, stderr text)."""
    kwargs = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    done = subprocess.run([*SYMPROP, *args], timeout=timeout, env=None if env is None else {**os.environ, **env},
                          **kwargs)
    return done.returncode, done.stdout, done.stderr.decode("utf-8", "replace")


def shell(script: str, *args: str, timeout=60):
    """A POSIX shell line with ``$SYMPROP`` as the command: (exit code, stdout, stderr)."""
    done = subprocess.run(["sh", "-c", script, "sh", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "SYMPROP": " ".join(f"'{a}'" for a in SYMPROP)})
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def wrong_grads(tmp_path):
    """A user's gradient function that is wrong: ``check`` on it exits 1."""
    user = tmp_path / "wrong.py"
    user.write_text("def grads(params, x, y):\n    return {'w': 0.0}\n")
    return ["check", "w**2", "--at", "w=3", "--against", f"{user}:grads"]


def diverging_spec(tmp_path) -> str:
    spec = tmp_path / "lin.toml"
    spec.write_text('[network]\nlayers = [1, 1]\nactivation = "identity"\nloss = "squared_error"\nreduction = "sum"\n'
                    "[params]\nW1 = [[1.0]]\nb1 = [0.0]\n[data]\nx = [[3.0], [-2.0]]\ny = [[1.0], [2.0]]\n"
                    "[train]\nlearning_rate = 1.0\nsteps = 1000\n")
    return str(spec)


# -- S1: stdout on a full disk, or closed ---------------------------------------

@pytest.mark.parametrize("args", [
    ["grad", "(w*x + b - y)**2/2", "--at", "w=-2,x=2,b=8,y=1", "--json"],
    ["check", "w**2", "--at", "w=3"],
    ["explain", "--help"],
])
def test_S1_stdout_on_a_full_disk_is_one_line_and_exit_2(args):
    with open("/dev/full", "wb") as full:
        code, _, err = run(args, stdout=full)
    assert (code, err) == (2, FULL_DISK)


def test_S1_a_closed_stdout_is_one_line_and_exit_2_and_output_files_still_work(tmp_path):
    code, _, err = shell('eval "$SYMPROP" demo --format text >&-')
    assert (code, err) == (2, "symprop: error: cannot write the output: stdout is closed (use --output FILE)\n")
    walk = tmp_path / "walk.md"
    code, _, err = shell('eval "$SYMPROP" demo --output "$1" >&-', str(walk))
    assert (code, err) == (0, "") and walk.read_text().startswith("#")


# -- S2: the exit code, whatever happens to the streams -------------------------

def reader_gone(args, **kwargs):
    """Run with stdout into a pipe whose reader closes it at once: (exit code, stderr)."""
    process = subprocess.Popen([*SYMPROP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    process.stdout.close()  # long before the command writes (SymPy alone takes half a second to load)
    err = process.stderr.read().decode()
    return process.wait(timeout=60), err


def test_S2_a_reader_that_has_gone_keeps_the_commands_exit_code(wrong_grads, tmp_path):
    assert reader_gone(wrong_grads) == (1, "")  # the check failed: 1, as with a reader
    assert reader_gone(["check", "w**2", "--at", "w=3"]) == (0, "")
    assert reader_gone(["demo", "--format", "text"]) == (0, "")
    code, err = reader_gone(["train", "--spec", diverging_spec(tmp_path)])  # its error line still reaches stderr
    assert code == 2 and err.startswith("symprop: error: training diverged at step") and err.count("\n") == 1


def test_S2_a_reader_that_stops_half_way_is_not_an_error():
    process = subprocess.Popen([*SYMPROP, "explain", "--spec", str(EXAMPLES / "xor.toml"), "--format", "text"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline() == b"Forward pass\n"  # as `| head -n 1`
    process.stdout.close()
    assert process.wait(timeout=60) == 0 and process.stderr.read() == b""


def test_S2_bad_input_exits_2_with_stderr_closed_or_into_a_closed_pipe(wrong_grads):
    process = subprocess.Popen([*SYMPROP, "grad", "w*(x"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stderr.close()
    assert process.wait(timeout=60) == 2 and process.stdout.read() == b""
    assert shell('eval "$SYMPROP" grad "w*(x" 2>&-')[0] == 2
    assert shell('eval "$SYMPROP" "$@" 2>&- > /dev/null', *wrong_grads)[0] == 1
    assert shell('eval "$SYMPROP" "$@" 2>&- >&-', *wrong_grads)[0] == 2  # the report cannot be written at all


# -- S3: encodings that cannot show ∂ or · -----------------------------------------

@pytest.mark.parametrize("env, encoding, dot", [
    ({"PYTHONIOENCODING": "cp1252"}, "cp1252", "·"),  # Windows' code page: has ·, not ∂
    ({"PYTHONIOENCODING": "iso-8859-1"}, "iso-8859-1", "·"),
    ({"PYTHONIOENCODING": "ascii:strict"}, "ascii", "*"),
    ({"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": ""}, "ascii", "*"),
])
def test_S3_encodings_that_cannot_show_the_symbols_get_ascii_spellings(env, encoding, dot):
    code, out, err = run(["demo", "--format", "text", "--lr", "0.1"], env=env)
    assert (code, err) == (0, "")
    text = out.decode(encoding)  # every byte is in the stream's encoding
    assert f"  dJ/dw = dJ/dc {dot} dc/dw = d {dot} x = 3 {dot} 2 = 6" in text
    assert "Backward pass, right to left: d(loss)/d(input) = d(loss)/d(node)" in text
    assert f"  w <- w - eta {dot} dJ/dw = -2 - 0.1 {dot} 6 = -2.6" in text  # --lr 0.1 is a float, like --at


def test_S3_help_the_rich_tables_and_the_matrix_view_in_ascii():
    env = {"PYTHONIOENCODING": "ascii:strict"}
    assert run(["explain", "--help"], env=env)[0] == 0
    code, out, err = run(["demo", "--format", "rich"], env=env)
    assert (code, err) == (0, "") and out.isascii()
    assert "-----" in out.decode() and "dJ/dw" in out.decode()  # the table's rule, as ASCII
    code, out, err = run(["explain", "--spec", str(EXAMPLES / "mazur_2_2_2.toml"), "--view", "matrix",
                          "--format", "text"], env=env)
    assert (code, err) == (0, "") and out.isascii()
    assert "dL/dW2 = delta2*a1^T = [" in out.decode() and "[ 0.082167   0.0826676 ]" in out.decode()  # ⎡ ⎣: [


def test_S3_a_character_with_no_spelling_is_a_question_mark_and_one_note(capsys):
    assert streams.ascii_spelling("∂") == "d" and streams.ascii_spelling("─") == "-"
    assert streams.ascii_spelling("⎡") == "[" and streams.ascii_spelling("⎦") == "]"
    assert streams.ascii_spelling("é") == "e" and streams.ascii_spelling("😀") is None
    streams.prepare()
    assert "∂x ≈ 😀".encode("ascii", "symprop-ascii") == b"dx ~ ?"
    assert streams.finish(0) == 0
    err = capsys.readouterr().err
    assert err.startswith("symprop: note: stdout's encoding") and "1 character(s)" in err and err.count("\n") == 1


# -- S4: --output: a failed write never loses the old file -------------------------

def full_disk_at(size: int):
    """For a child process: files may not grow past ``size`` bytes (EFBIG, as a disk that fills up)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_S4_a_write_that_fails_keeps_the_old_file(tmp_path):
    walk = tmp_path / "walk.html"
    mazur = str(EXAMPLES / "mazur_2_2_2.toml")
    assert run(["explain", "--spec", mazur, "--lr", "0.5", "--output", str(walk)])[0] == 0
    walk.chmod(0o640)
    old = walk.read_bytes()
    assert len(old) > 40_000
    code, _, err = run(["explain", "--spec", mazur, "--lr", "0.7", "--output", str(walk)],
                       preexec_fn=full_disk_at(8192))
    assert code == 2 and err == f"symprop: error: cannot write '{walk}': File too large; the old file is unchanged\n"
    assert walk.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["walk.html"]
    assert run(["explain", "--spec", mazur, "--lr", "0.7", "--output", str(walk)])[0] == 0  # with room: replaced
    assert walk.read_bytes() != old and "0.7" in walk.read_text() and stat.S_IMODE(walk.stat().st_mode) == 0o640


def test_S4_output_through_a_symlink_writes_the_file_it_names(tmp_path):
    target, link = tmp_path / "real.txt", tmp_path / "link.txt"
    target.write_text("old\n")
    link.symlink_to(target)
    assert run(["demo", "--format", "text", "--output", str(link)])[0] == 0
    assert link.is_symlink() and target.read_text().startswith("Forward pass")


def test_S4_a_fifo_or_a_device_as_output_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    code, _, err = run(["demo", "--output", str(fifo)], timeout=30)  # nobody reads it: writing would block
    assert code == 2 and err == (f"symprop: error: cannot write '{fifo}': it is a FIFO (named pipe), not a regular "
                                 "file (write to a file, or leave out --output to print to stdout)\n")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert main(["demo", "--output", "/dev/full"]) == 2
    assert "'/dev/full': it is a character device, not a regular file" in capsys.readouterr().err


# -- S5: --spec: regular files of a bounded size, each key once ------------------------

def test_S5_a_spec_that_is_a_fifo_a_device_or_too_large_is_refused(tmp_path, capsys):
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    code, _, err = run(["grad", "--spec", str(fifo)], timeout=30)  # no writer: reading would block forever
    assert (code, err) == (2, f"symprop: error: spec file '{fifo}' is a FIFO (named pipe), not a regular file; "
                              "give a .toml or .json file\n")
    assert main(["grad", "--spec", "/dev/zero"]) == 2  # endless: never read into memory
    assert "'/dev/zero' is a device or a socket, not a regular file" in capsys.readouterr().err
    huge = tmp_path / "huge.toml"
    with open(huge, "wb") as file:  # sparse: takes no room on disk
        file.truncate(50_000_000)
    assert main(["grad", "--spec", str(huge)]) == 2
    assert capsys.readouterr().err == (f"symprop: error: spec file '{huge}' is larger than 10,000,000 bytes "
                                       "(the limit for a spec file)\n")


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_S5_a_number_past_pythons_digit_limit_is_refused(tmp_path, capsys, suffix):
    spec = tmp_path / f"big{suffix}"
    big = "9" * 5000
    spec.write_text(f'{{"graph": {{"nodes": ["J = w**2"], "at": {{"w": {big}}}}}}}' if suffix == ".json"
                    else f'[graph]\nnodes = ["J = w**2"]\n[graph.at]\nw = {big}\n')
    assert main(["grad", "--spec", str(spec)]) == 2
    if suffix == ".json":  # JSON reads it as text: the key is named
        assert capsys.readouterr().err == ("symprop: error: graph.at.w: an integer of 5,000 digits is too large "
                                           "(at most 400 bits, about 120 digits)\n")
    else:
        assert capsys.readouterr().err == (f"symprop: error: big{suffix} line 4: a number has more than 4,300 digits "
                                           "(Python's limit for reading one)\n")


@pytest.mark.parametrize("text, key", [
    ('{"graph": {"nodes": ["J = w**2"], "at": {"w": 1, "w": 2}}}', "w"),
    ('{"graph": {"nodes": ["J = w**2"], "at": {"w": 1}}, "graph": {"nodes": ["J = w"]}}', "graph"),
    ('{"network": {"layers": [1, 1], "loss": "mse", "loss": "squared_error"}}', "loss"),
])
def test_S5_a_json_spec_that_names_a_key_twice_is_refused(tmp_path, capsys, text, key):
    spec = tmp_path / "lab.json"
    spec.write_text(text)
    assert main(["grad", "--spec", str(spec)]) == 2
    assert capsys.readouterr().err == f"symprop: error: lab.json: the key {key!r} is given twice in one object\n"


# -- S6: the terminal: its width, NO_COLOR, TERM=dumb ----------------------------------

def on_terminal(args, env, columns=100):
    """Run with stdout on a pseudo-terminal ``columns`` wide: (exit code, what the terminal got, stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen([*SYMPROP, *args], stdout=slave, stderr=subprocess.PIPE,
                               env={**os.environ, "TERM": "xterm-256color", **env})
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, "no output in 60 s"
        try:
            chunk = os.read(master, 65536)
        except OSError as error:  # EIO: the other side is closed
            assert error.errno == errno.EIO
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    err = process.stderr.read().decode()
    return process.wait(timeout=60), b"".join(chunks).decode().replace("\r\n", "\n"), err


def test_S6_a_narrow_terminal_gets_the_minimum_width_and_a_note():
    for columns in ("20", "0", "abc"):
        code, out, err = on_terminal(["demo"], {"COLUMNS": columns})
        assert code == 0 and "dJ/dw" in out and "upstream" in out and "local" in out, columns
        if columns == "20":
            assert err == ("symprop: note: the terminal is 20 columns wide; the walkthrough needs 80 and is printed "
                           "80 wide (or use --format text)\n")
        else:  # ignored: the terminal's own width (100)
            assert err == ""
    assert max(len(line) for line in on_terminal(["demo"], {"COLUMNS": "20", "NO_COLOR": "1"})[1].splitlines()) <= 80


@pytest.mark.parametrize("env, colour", [
    ({}, True), ({"NO_COLOR": "1"}, False), ({"NO_COLOR": ""}, True), ({"TERM": "dumb"}, False),
])
def test_S6_no_color_and_a_dumb_terminal_are_honoured(env, colour):
    code, out, err = on_terminal(["demo"], env)
    assert (code, err) == (0, "") and ("\x1b[" in out) == colour and "dJ/dw" in out


def test_S6_the_check_table_honours_no_color():
    assert "\x1b[" in on_terminal(["check", "w**2", "--at", "w=3"], {})[1]
    code, out, err = on_terminal(["check", "w**2", "--at", "w=3"], {"NO_COLOR": "1"})
    assert (code, err) == (0, "") and "\x1b[" not in out and "passed: 1 of 1 agree" in out


# -- S7: Ctrl-C at any moment ---------------------------------------------------

def commands():
    yield SYMPROP
    script = Path(sys.executable).with_name("symprop")
    if script.exists():  # the installed command, as a user runs it
        yield [str(script)]


@pytest.mark.parametrize("command", list(commands()), ids=lambda c: Path(c[-1]).name)
def test_S7_ctrl_c_at_any_moment_is_one_line_and_exit_130(command):
    # Python reports each import as it finishes (PYTHONPROFILEIMPORTTIME): the first of SymPy's own marks
    # the moment symprop's code is running, however loaded the machine. From there: while SymPy and
    # numpy load, while the network is derived and compiled, while it trains.
    args = ["train", "--spec", str(EXAMPLES / "xor.toml"), "--steps", "1000000"]
    for delay in (0.0, 0.05, 0.2, 0.5, 1.0, 2.0):
        process = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
        while not any(name in process.stderr.readline() for name in ("mpmath", "sympy", "symprop: ")):
            assert process.poll() is None
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        lines = [line for line in err.splitlines() if not line.startswith("import time:")]
        assert (process.returncode, lines) == (130, ["symprop: interrupted"]), (delay, err[-2000:])
        assert out == ""


# -- S8: train: --plot and --steps ----------------------------------------------------

def test_S8_plot_formats_and_a_diverged_run(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    xor = str(EXAMPLES / "xor.toml")
    assert main(["train", "--spec", xor, "--steps", "5", "--plot", str(tmp_path / "p.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symprop: error: --plot: matplotlib cannot write '.txt' files; give one of ")
    assert ".png" in err and ".pdf" in err and ".svg" in err and not (tmp_path / "p.txt").exists()
    curve = tmp_path / "curve"  # no suffix: PNG, written where asked
    assert main(["train", "--spec", xor, "--steps", "5", "--plot", str(curve)]) == 0
    assert capsys.readouterr().out.endswith(f"loss curve saved to {curve}\n")
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not Path(f"{curve}.png").exists()
    assert main(["train", "--spec", xor, "--steps", "5", "--plot", str(tmp_path / "c.svg")]) == 0
    assert b"<svg" in (tmp_path / "c.svg").read_bytes()
    diverged = tmp_path / "diverged.png"  # losses up to 4e306: drawn as log10(loss), no warning, no error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["train", "--spec", diverging_spec(tmp_path), "--plot", str(diverged)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("symprop: error: training diverged at step 110") and err.count("\n") == 1
    assert diverged.read_bytes()[:4] == b"\x89PNG" and f"loss curve saved to {diverged}" in out


def test_S8_steps_past_the_bound_are_refused_before_training(tmp_path, capsys):
    assert main(["train", "--spec", str(EXAMPLES / "xor.toml"), "--steps", str(10**12)]) == 2
    assert capsys.readouterr().err.startswith(
        "symprop: error: --steps: 1,000,000,000,000 steps is past the limit of 1,000,000 per run")
    spec = tmp_path / "long.toml"
    spec.write_text((EXAMPLES / "xor.toml").read_text().replace("steps = 2500", "steps = 1000000000000"))
    assert main(["train", "--spec", str(spec)]) == 2
    assert capsys.readouterr().err.startswith(
        "symprop: error: train.steps: 1,000,000,000,000 steps is past the limit")
    with pytest.raises(LimitError, match="past the limit of 1,000,000"):
        train(MLP([1, 1], "identity", "mse"), {"W1": [[0.0]], "b1": [0.0]}, [[1.0]], [[1.0]], steps=MAX_STEPS + 1, lr=0.1)


def test_S7_a_ctrl_c_python_had_to_ignore_or_wrap_still_stops_the_command(monkeypatch, capsys):
    """Two moments the test above can hit: a Ctrl-C inside a callback (an import's module lock) is ignored
    by Python and sent again; one inside class creation comes wrapped in a RuntimeError. Both end as one
    line and 130."""
    import threading
    import weakref

    from symprop import cli

    sent = []
    monkeypatch.setattr(threading, "Timer", lambda delay, kill, args: type("T", (), {"start": lambda self: sent.append(args)})())
    hook = cli._interrupt_again(lambda unraisable: sent.append("default"))
    hook(type("U", (), {"exc_value": KeyboardInterrupt()})())
    hook(type("U", (), {"exc_value": ValueError()})())
    assert sent == [(os.getpid(), signal.SIGINT), "default"]

    def wrapped(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise RuntimeError("Error calling __set_name__ on 'Field' instance") from interrupt

    monkeypatch.setattr("symprop.commands.demo.run", wrapped)
    assert main(["demo"]) == 130
    assert capsys.readouterr().err == "symprop: interrupted\n"
