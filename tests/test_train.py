"""Optimizers, the training loop, divergence, and ``symprop train``."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symprop
from symprop.cli import main
from symprop.render.training import sparkline
from symprop.errors import SpecError
from symprop.nn import MLP
from symprop.optim import OPTIMIZERS, make_optimizer
from symprop.train import TrainingDiverged, train

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
XOR_X = np.array([[1, 1], [0, 1], [1, 0], [0, 0]])
XOR_Y = np.array([[0], [1], [1], [0]])


def xor_mlp():
    return MLP([2, 3, 1], "sigmoid", "half_squared_error", "sum")


@pytest.mark.parametrize("name,lr", [("sgd", 0.5), ("momentum", 0.2), ("rmsprop", 0.01), ("adam", 0.02)])
def test_every_optimizer_reduces_the_loss(name, lr):
    mlp = xor_mlp()
    result = train(mlp, mlp.init_params(1), XOR_X, XOR_Y, steps=300, lr=lr, optimizer=name)
    assert result.steps == 300 and len(result.loss_history) == 300
    assert result.final_loss < 0.8 * result.loss_history[0]


def test_adam_first_step_moves_each_parameter_by_the_learning_rate():
    opt = make_optimizer("adam", 0.1)
    new = opt.step({"w": np.array([1.0, -2.0])}, {"w": np.array([3.0, -0.5])})
    np.testing.assert_allclose(new["w"], [0.9, -1.9])  # bias-corrected m/sqrt(v) = sign(g)


def test_momentum_accumulates_like_pytorch():
    opt = make_optimizer("momentum", 0.1, beta=0.5)
    p = {"w": np.array([0.0])}
    p = opt.step(p, {"w": np.array([1.0])})  # v = 1
    p = opt.step(p, {"w": np.array([1.0])})  # v = 1.5
    np.testing.assert_allclose(p["w"], [-0.25])


def test_bad_optimizer_settings_are_named():
    with pytest.raises(SpecError, match="unknown optimizer 'adamw'"):
        make_optimizer("adamw", 0.1)
    with pytest.raises(SpecError, match="no hyper-parameter 'beta'"):
        make_optimizer("adam", 0.1, beta=0.9)
    with pytest.raises(SpecError, match="learning_rate"):
        make_optimizer("sgd", -1)
    assert set(OPTIMIZERS) == {"sgd", "momentum", "rmsprop", "adam"}


def test_loss_history_is_the_loss_each_step_starts_from():
    mlp = xor_mlp()
    params = mlp.init_params(1)
    long = train(mlp, params, XOR_X, XOR_Y, steps=5, lr=0.5)
    for k in range(5):
        short = train(mlp, params, XOR_X, XOR_Y, steps=k, lr=0.5)
        assert short.final_loss == long.loss_history[k]
    assert long.final_loss == symprop.compile(mlp).loss(long.params, XOR_X, XOR_Y)


def test_xor_matches_the_numpy_loop_to_1e_9():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import xor
    finally:
        sys.path.remove(str(EXAMPLES))
    initial, final, _ = xor.numpy_loop()
    result = train(xor_mlp(), xor.to_symprop(initial), xor.X, xor.Y, steps=2500, lr=0.5)
    for name, value in xor.to_symprop(final).items():
        np.testing.assert_allclose(result.params[name], value, rtol=0, atol=1e-9)


def diverging():
    mlp = MLP([1, 1], "identity", "squared_error", "sum")
    return mlp, {"W1": [[1.0]], "b1": [0.0]}, [[3.0], [-2.0]], [[1.0], [2.0]]


def test_a_diverging_run_stops_and_keeps_the_last_finite_parameters():
    mlp, params, x, y = diverging()
    with pytest.raises(TrainingDiverged, match=r"training diverged at step \d+: the loss is (inf|nan)") as caught:
        train(mlp, params, x, y, steps=10_000, lr=1.0)
    result = caught.value.result
    assert 0 < result.steps < 10_000
    assert all(np.isfinite(v) for v in result.loss_history) and np.isfinite(result.final_loss)
    assert all(np.all(np.isfinite(p)) for p in result.params.values())
    assert len(result.loss_history) == result.steps
    assert result.final_loss == symprop.compile(mlp).loss(result.params, x, y)
    assert f"kept the last parameters with a finite loss ({result.steps} steps in" in str(caught.value)
    assert f"diverged at step {result.steps + 1}:" in str(caught.value)


def test_sparkline_is_on_the_log_axis_of_the_first_loss():
    assert sparkline([]) == ""
    line = sparkline([10.0 ** -k for k in range(100)], width=10)
    assert len(line) == 10 and line[0] == "█" and line[-1] == "▁"
    assert sparkline([1.0, 1.0]) == "██"  # unchanged: at the top, where it started
    # half a decade a bar, whatever the run's own range: 0.571 -> 0.506 has hardly moved
    assert sparkline([0.571, 0.55, 0.53, 0.506]) == "████"
    assert sparkline([1.0, 10 ** -0.5, 0.1, 10 ** -1.5, 0.01, 10 ** -2.5, 0.001, 10 ** -3.5, 1e-9]) == "█▇▆▅▄▃▂▁▁"
    assert sparkline([1.0, 5.0, 0.5]) == "██▇"  # above the start: drawn at the top (and said in the summary)


# -- the command line -------------------------------------------------------------


def write_spec(tmp_path, train_table='learning_rate = 0.5\nsteps = 50\noptimizer = "sgd"'):
    spec = tmp_path / "xor.toml"
    spec.write_text(
        '[network]\nlayers = [2, 3, 1]\nactivation = "sigmoid"\nloss = "half_squared_error"\nreduction = "sum"\n'
        "[params]\nseed = 1\n"
        "[data]\nx = [[1, 1], [0, 1], [1, 0], [0, 0]]\ny = [[0], [1], [1], [0]]\n"
        f"[train]\n{train_table}\n"
    )
    return str(spec)


def test_train_json_contract(tmp_path, capsys):
    spec = write_spec(tmp_path)
    assert main(["train", "--spec", spec, "--json", "--steps", "20", "--lr", "0.3", "--optimizer", "momentum"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["steps", "loss_history", "final_loss", "params", "accuracy"]
    assert data["steps"] == 20 and len(data["loss_history"]) == 20
    mlp = xor_mlp()
    params = mlp.init_params(1)
    assert data["loss_history"][0] == symprop.compile(mlp).loss(params, XOR_X, XOR_Y)
    expected = train(mlp, params, XOR_X, XOR_Y, steps=20, lr=0.3, optimizer="momentum")
    assert data["final_loss"] == expected.final_loss
    assert data["params"] == {k: v.tolist() for k, v in expected.params.items()}


def test_train_summary_on_a_pipe_has_no_progress_bar(tmp_path):
    spec = write_spec(tmp_path)
    done = subprocess.run([sys.executable, "-m", "symprop", "train", "--spec", spec],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("trained [2, 3, 1] (sigmoid, sigmoid; half_squared_error, sum) on 4 samples:\n  50 steps")
    assert "W2 = [[" in done.stdout and "━" not in done.stdout


def test_train_show_code(tmp_path, capsys):
    assert main(["train", "--spec", write_spec(tmp_path), "--show-code"]) == 0
    out = capsys.readouterr().out
    assert "def loss_and_grads(params, x, y):" in out and "D2 = A2*(1 - A2)*(A2 - Y)" in out


def test_train_divergence_is_one_line_and_exit_2(tmp_path, capsys):
    spec = tmp_path / "lin.toml"
    spec.write_text('[network]\nlayers = [1, 1]\nactivation = "identity"\nloss = "squared_error"\nreduction = "sum"\n'
                    "[params]\nW1 = [[1.0]]\nb1 = [0.0]\n[data]\nx = [[3.0], [-2.0]]\ny = [[1.0], [2.0]]\n")
    assert main(["train", "--spec", str(spec), "--lr", "1", "--steps", "5000", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("symprop: error: training diverged at step ") and captured.err.count("\n") == 1
    # the last parameters with a finite loss are kept, and shown
    data = json.loads(captured.out)
    step = data["diverged"]["step"]
    assert f"at step {step}:" in captured.err and data["steps"] == step - 1
    assert math.isfinite(data["final_loss"]) and math.isfinite(data["params"]["W1"][0][0])
    assert len(data["loss_history"]) == data["steps"]
    assert main(["train", "--spec", str(spec), "--lr", "1", "--steps", "5000"]) == 2
    assert capsys.readouterr().out.startswith(f"diverged at step {step}; the last parameters with a finite loss:")


def test_train_plot_without_matplotlib_is_a_clear_exit_2(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["train", "--spec", write_spec(tmp_path), "--plot", str(tmp_path / "loss.png")]) == 2
    assert "--plot needs matplotlib: pip install 'symprop[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "loss.png").exists()


def test_train_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "loss.png"
    assert main(["train", "--spec", write_spec(tmp_path), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_refuses_a_graph_spec_and_bad_options(tmp_path, capsys):
    spec = tmp_path / "g.toml"
    spec.write_text('[graph]\nnodes = ["J = w**2"]\n[graph.at]\nw = 1\n')
    assert main(["train", "--spec", str(spec)]) == 2
    assert "train needs a [network] spec" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--spec", write_spec(tmp_path), "--lr", "nan"])
    assert exit_.value.code == 2


def test_sgd_steps_to_the_bit_and_leaves_its_inputs_alone():
    """sgd writes ``p - lr*g`` into a new array of its own: the same bits, the old parameters kept."""
    from symprop.optim import SGD

    rng = np.random.default_rng(3)
    p, g = {"W": rng.normal(size=(4, 3)), "b": np.float64(0.25)}, {"W": rng.normal(size=(4, 3)), "b": np.float64(2.0)}
    before = {k: np.copy(v) for k, v in p.items()}
    new = SGD(0.1).step(p, g)
    assert np.array_equal(new["W"], before["W"] - 0.1 * g["W"]) and new["b"] == 0.25 - 0.1 * 2.0
    assert all(np.array_equal(p[k], before[k]) for k in p) and new["W"] is not g["W"] and new["W"] is not p["W"]


def test_sgd_on_gradients_given_up_writes_into_them_with_the_same_bits():
    """``scratch=True``: the caller will not read the gradients again, so sgd's new parameters go there."""
    from symprop.optim import SGD

    rng = np.random.default_rng(4)
    p = {"W": rng.normal(size=(5, 7)), "b": rng.normal(size=5)}
    g = {"W": rng.normal(size=(7, 5)).T, "b": rng.normal(size=5)}  # a transposed view, as the compiled code gives
    expected = SGD(0.3).step(p, {k: v.copy() for k, v in g.items()})
    kept = {k: v.copy() for k, v in p.items()}
    new = SGD(0.3).step(p, g, scratch=True)
    assert all(new[k] is g[k] and np.array_equal(new[k], expected[k]) for k in p)
    assert all(np.array_equal(p[k], kept[k]) for k in p)


def test_training_writes_each_step_into_the_gradients_and_gives_the_same_run(monkeypatch):
    """The training loop lets sgd reuse the compiled gradients' arrays (no new array a step); the run is
    the one a plain loop of ``loss_and_grads`` and ``SGD.step`` gives, to the bit, and an optimizer whose
    ``step`` takes no ``scratch`` still trains."""
    from symprop.optim import SGD, Optimizer
    from symprop.train import Stepper

    mlp = MLP([4, 6, 3], ["tanh", "softmax"], "cross_entropy")
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(9, 4)), np.eye(3)[rng.integers(0, 3, 9)]
    params = mlp.init_params(2, "xavier")
    compiled = symprop.compile(mlp)
    result = train(compiled, params, x, y, steps=40, lr=0.3)
    current = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    for _ in range(40):
        current = SGD(0.3).step(current, compiled.loss_and_grads(current, x, y)[1])
    assert all(np.array_equal(result.params[k], current[k]) for k in current)

    given = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    kept = {k: v.copy() for k, v in given.items()}
    assert not Stepper(compiled, given, x, y, SGD(0.3))._big  # weights this small are allocated without page faults
    monkeypatch.setattr(Stepper, "SPARE_MIN", 1)  # as if they were big enough to be worth reusing
    stepper = Stepper(compiled, given, x, y, SGD(0.3))
    stepper.evaluate(0)
    grads = stepper._grads
    stepper.advance()
    assert stepper._scratch and stepper.params["W1"] is grads["W1"]  # the new weights live in the gradient's array
    first = stepper.params
    for step in (1, 2, 3):
        stepper.evaluate(step)
        stepper.advance()
    # three steps on, the first step's weight arrays hold the fourth step's new weights; the biases are new arrays
    assert np.shares_memory(stepper.params["W1"], first["W1"]) and np.shares_memory(stepper.params["W2"], first["W2"])
    assert not np.shares_memory(stepper.params["b1"], first["b1"])
    assert all(np.array_equal(given[k], kept[k]) for k in kept)  # the caller's arrays are never written

    class Plain(Optimizer):  # a user's optimizer, written before ``scratch`` existed
        def step(self, params, grads):
            return {k: p - self.lr * grads[k] for k, p in params.items()}

    plain = train(compiled, params, x, y, steps=40, lr=0.3, optimizer=Plain(0.3))
    assert all(np.array_equal(plain.params[k], current[k]) for k in current)


def test_a_big_weight_takes_the_arrays_of_two_steps_before_with_the_same_run():
    """W1 of [130, 128, 2] has 16,640 entries (past ``Stepper.SPARE_MIN``): from the fourth step its gradient
    is written into the weights of two steps before; the run is the plain loop's, to the bit."""
    from symprop.optim import SGD
    from symprop.train import Stepper

    mlp = MLP([130, 128, 2], ["sigmoid", "softmax"], "cross_entropy")
    rng = np.random.default_rng(9)
    x, y = rng.uniform(size=(6, 130)), np.eye(2)[[0, 1, 1, 0, 1, 0]]
    params = mlp.init_params(3, "xavier")
    compiled = symprop.compile(mlp)
    stepper = Stepper(compiled, mlp.validate_params(params), x, y, SGD(0.2))
    assert stepper._big == {"W1"}
    seen = []
    for step in range(6):
        stepper.evaluate(step)
        stepper.advance()
        seen.append(stepper.params["W1"])
    assert np.shares_memory(seen[4], seen[1]) and np.shares_memory(seen[5], seen[2])
    current = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    for _ in range(6):
        current = SGD(0.2).step(current, compiled.loss_and_grads(current, x, y)[1])
    assert all(np.array_equal(stepper.params[k], current[k]) for k in current)
