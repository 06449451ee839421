"""The benchmarks run (their ``--quick`` mode): the figures they print are measured, not asserted here.

Timings on a shared machine say nothing a test could hold; that the scripts
still run against the library as it is, and print what the README shows, is
what can break.
"""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run(script: str) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_command_line_figures_run():
    out = run("cli.py")
    assert "ratios to the start-up of symprop grad" in out
    assert "iris-size [4, 8, 8, 3] x 30 grad" in out and "of 1 targets met" in out


def test_the_training_step_figures_run():
    out = run("train_step.py")
    assert "[2, 3, 1] sigmoid, 4 samples" in out and "hand-written numpy" in out and "symprop compiled" in out
    assert "symprop within its target (0.6x numpy on the XOR net, 1.0x elsewhere)" in out and "depth  4:" in out
    assert "(target <= 0.60x" in out and "scalar code)" in out  # the XOR net runs the straight-line float code


def test_the_compiler_imports_first():
    """``import symprop.compiler`` before anything else (as the benchmark does) finds no half-made module."""
    done = subprocess.run([sys.executable, "-c", "import symprop.compiler; import symprop.nn.vectorized"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
