"""The training summary says what happened: the loss on a stated axis, the accuracy, the curve.

Its sparkline's axis is the first loss's (a bar per half decade), so a run
that hardly moves looks it; a classifier's accuracy is given before and after;
one sample and one step are singular. ``--plot`` labels its axes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from symprop.cli import main
from symprop.nn import MLP, Sequential
from symprop.nn.metrics import accuracy
from symprop.render.training import axis_legend, loss_change

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def summary(capsys, spec: str, *options: str) -> list[str]:
    assert main(["train", "--spec", str(EXAMPLES / spec), *options]) == 0
    return capsys.readouterr().out.split("\n")


def test_the_xor_summary(capsys):
    lines = summary(capsys, "xor.toml")
    assert lines[:7] == [  # within 80 columns, long lines broken between their clauses
        "trained [2, 3, 1] (sigmoid, sigmoid; half_squared_error, sum) on 4 samples:",
        "  2,500 steps of sgd, learning rate 0.5",
        "loss 0.571076 -> 0.00328428 (174 times lower) after 2,500 steps",
        "  ███████████▇▇▇▇▆▆▆▅▅▅▅▅▅▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄  step 0 to 2,500",
        "  log axis from the first loss: █ 0.571, ▄ 0.00571, ▁ 0.000181 or lower",
        "accuracy 100% (4 of 4 samples; output and target on the same side of 0.5);",
        "  50% at the start",
    ]
    assert max(len(line) for line in lines) <= 80


def test_a_run_that_hardly_moves_looks_flat_at_the_top(capsys):
    lines = summary(capsys, "xor.toml", "--steps", "300", "--lr", "0.1")
    assert lines[2] == "loss 0.571076 -> 0.504505 (1.13 times lower) after 300 steps"
    assert lines[3] == "  " + "█" * 40 + "  step 0 to 300"


def test_one_step_and_one_sample_are_singular(capsys):
    lines = summary(capsys, "mazur_2_2_2.toml", "--steps", "1")
    assert lines[0].endswith("on 1 sample:") and lines[1] == "  1 step of sgd, learning rate 0.5"
    assert lines[2] == "loss 0.298371 -> 0.285751 (1.04 times lower) after 1 step"  # E = 0.298371109 first (Mazur)
    assert lines[3] == "  ██  step 0 to 1"
    assert lines[5:7] == ["accuracy 50% (1 of 2 outputs; output and target on the same side of 0.5);",
                          "  50% at the start"]


def test_a_rise_above_the_first_loss_is_said(capsys):
    lines = summary(capsys, "xor.toml", "--steps", "200", "--lr", "30")
    assert "  the loss rose above the first one: 1.13422 at step 55 (drawn as █)" in lines


def test_softmax_accuracy_and_none_for_a_regression(capsys):
    lines = summary(capsys, "backprop_ninja.toml", "--steps", "300", "--optimizer", "adam", "--lr", "0.05")
    assert lines[2] == "loss 1.63798 -> 0.0013155 (1,245 times lower) after 300 steps"
    assert lines[5:7] == ["accuracy 100% (8 of 8 samples; the largest output is the target's class);",
                          "  12.5% at the start"]
    lines = summary(capsys, "mazur_2_2_2.toml", "--steps", "0")
    assert lines[2] == "loss 0.298371 -> 0.298371 (unchanged) after 0 steps" and lines[3].startswith("accuracy 50%")


def test_accuracy_rules():
    softmax = Sequential(2, [{"linear": 3}, "softmax"], loss="cross_entropy")
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.4, 0.5, 0.1]])
    onehot = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0]])
    assert (accuracy(softmax, probs, onehot).correct, accuracy(softmax, probs, onehot).total) == (2, 3)
    assert accuracy(softmax, probs, onehot).text == (
        "66.7% (2 of 3 samples; the largest output is the target's class)")
    regression = MLP([1, 1], "identity", "half_squared_error")
    assert accuracy(regression, [[0.2]], [[0.3]]) is None
    sigmoid = MLP([2, 2], "sigmoid", "binary_cross_entropy")
    assert accuracy(sigmoid, [[0.9, 0.2]], [[1, 1]]).text == (
        "50% (1 of 2 outputs; output and target on the same side of 0.5)")
    assert accuracy(sigmoid, [[0.9, 0.2]], [[2.0, 1.0]]) is None  # targets outside [0, 1]: not a classifier's
    one = MLP([2, 1], "sigmoid", "binary_cross_entropy")
    assert accuracy(one, [[0.9]], [[1]]).text == "100% (1 of 1 sample; output and target on the same side of 0.5)"


def test_the_axis_and_the_change_in_words():
    assert axis_legend(2.0) == "log axis from the first loss: █ 2, ▄ 0.02, ▁ 0.000632 or lower"
    assert axis_legend(0.0) == "the first loss is 0: no log axis"
    assert [loss_change(*p) for p in ((4, 2), (2, 4), (1, 1), (1, 0), (1, 1e-12))] == [
        "2 times lower", "2 times higher", "unchanged", "down to 0", "1e+12 times lower"]


@pytest.mark.parametrize("scale, ylabel", [("log", "loss (log scale)"), ("linear", "loss")])
def test_the_plot_labels_its_axes(tmp_path, capsys, scale, ylabel):
    pytest.importorskip("matplotlib")
    svg = tmp_path / "curve.svg"
    assert main(["train", "--spec", str(EXAMPLES / "xor.toml"), "--steps", "500", "--plot", str(svg),
                 "--plot-scale", scale]) == 0
    text = svg.read_text()
    # matplotlib writes each label's text in a comment before its glyphs
    for label in ("step", ylabel, "500 steps of sgd, learning rate 0.5", "accuracy 75%",
                  "[2, 3, 1] (sigmoid, sigmoid; half_squared_error, sum) on 4 samples"):
        assert f"<!-- {label} -->" in text, label
    assert ("<!-- loss (log scale) -->" in text) == (scale == "log")


def test_a_short_run_is_plotted_in_plain_numbers_and_whole_steps():
    pytest.importorskip("matplotlib")
    from symprop.render.training import plot_bytes

    # less than a decade on the log axis: ticks read 0.29, not 2.9×10⁻¹; one step: ticks 0 and 1, not 0.2, 0.4
    text = plot_bytes([0.298371, 0.285751], "svg", svg_text=True).decode("utf-8")
    ticks = [t for t in ("0.286", "0.29", "0.294", "0.298") if f">{t}</text>" in text]
    assert len(ticks) >= 3, ticks
    assert "10^{" not in text and "times10" not in text and "×" not in text
    assert ">0</text>" in text and ">1</text>" in text and ">0.2</text>" not in text
