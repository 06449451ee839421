"""How much a compiled training step costs, as ratios to hand-written numpy measured in the same run.

Four cases, each with sgd:

* the XOR net, [2, 3, 1], sigmoid, half squared error summed, 4 samples;
* a softmax classifier, [2, 100, 3], relu + softmax + cross-entropy, 300 spiral points;
* [64, 32, 10], tanh + softmax + cross-entropy, 256 samples (8x8 digits' size);
* MNIST-size, [784, 100, 10], sigmoid + softmax + cross-entropy, 64 samples.

The targets: symprop's step within 1.0x the numpy step at every size, and
within 0.6x on the XOR net (where symprop runs straight-line scalar code).

A step is the forward pass, the loss, the gradients and the sgd update. For
symprop it is one iteration of ``symprop.train.train``'s loop (its ``Stepper``:
the scalar code of ``symprop.scalar_code`` for a net of a few dozen parameters
and samples, else the compiled array code; the finiteness check of the loss;
``SGD.step``); the
baseline is the same step written by hand in numpy, as XOR tutorials and CS231n do.
JAX (float64, ``jit`` of the whole step), PyTorch (float64, autograd) and
micrograd are timed too when they are installed, and skipped with a note
otherwise (micrograd runs only the XOR net: a scalar autograd of 10^4 and more
weights per sample takes seconds a step). Last, the time to derive and
compile the gradients as the network gets deeper (the exact scalar backward
pass is timed by ``benchmarks/derive.py``).

    python benchmarks/train_step.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import symprop  # noqa: E402
from symprop.compiler import output_delta, softmax_p  # noqa: E402
from symprop.nn import activations, losses  # noqa: E402
from symprop.nn import MLP  # noqa: E402
from symprop.optim import SGD  # noqa: E402
from symprop.train import Stepper  # noqa: E402
from spiral import spiral  # noqa: E402


def best_of(step, number: int, repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``number`` steps, in microseconds per step."""
    return min(timeit.repeat(step, number=number, repeat=repeat)) / number * 1e6


def best_of_interleaved(steps: dict, number: int, rounds: int) -> dict:
    """Each step's fastest run of ``number`` steps over ``rounds`` rounds, the steps taking turns within a
    round (so that a machine whose load drifts, as a shared one's does, slows both sides alike), in
    microseconds per step."""
    best = {name: math.inf for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            seconds = timeit.timeit(step, number=number)
            best[name] = min(best[name], seconds / number * 1e6)
    return best


# -- the two cases: data, initial parameters, a hand-written numpy step ------------


def xor_case():
    x = np.array([[1, 1], [0, 1], [1, 0], [0, 0]], dtype=float)
    y = np.array([[0], [1], [1], [0]], dtype=float)
    mlp = MLP([2, 3, 1], "sigmoid", "half_squared_error", "sum")
    params = mlp.init_params(1)
    state = {"w1": params["W1"].T.copy(), "b1": params["b1"][None, :].copy(),
             "w2": params["W2"].T.copy(), "b2": params["b2"][None, :].copy()}

    def numpy_step(lr=0.5):  # the numpy loop's body (examples/xor.py), with the cost summed
        w1, b1, w2, b2 = state["w1"], state["b1"], state["w2"], state["b2"]
        a1 = 1 / (1 + np.exp(-(x.dot(w1) + b1)))
        a2 = 1 / (1 + np.exp(-(a1.dot(w2) + b2)))
        cost = np.sum((y - a2) ** 2) / 2
        dz2 = (a2 - y) * (a2 * (1 - a2))
        dz1 = dz2.dot(w2.T) * (a1 * (1 - a1))
        state["w2"] = w2 - lr * a1.T.dot(dz2)
        state["b2"] = b2 - lr * np.sum(dz2, axis=0, keepdims=True)
        state["w1"] = w1 - lr * x.T.dot(dz1)
        state["b1"] = b1 - lr * np.sum(dz1, axis=0, keepdims=True)
        return cost

    return "[2, 3, 1] sigmoid, 4 samples", mlp, params, x, y, 0.5, numpy_step


def spiral_case():
    x, labels = spiral()
    return classifier_case([2, 100, 3], "relu", 1.0, x, labels, init="he")


def classifier_case(layers: list[int], activation: str, lr: float, x=None, labels=None, m: int = 0, init="xavier"):
    """A softmax classifier, CS231n's "putting it together" step (with the max shift) written by hand;
    without ``x``, on ``m`` seeded made-up inputs in [0, 1)."""
    if x is None:
        rng = np.random.default_rng(layers[0])
        x = rng.uniform(0, 1, (m, layers[0]))
        labels = rng.integers(0, layers[-1], m)
    m = x.shape[0]
    y = np.eye(layers[-1])[labels]
    mlp = MLP(layers, [activation, "softmax"], "cross_entropy")
    params = mlp.init_params(0, init)
    state = {"W1": params["W1"].T.copy(), "b1": params["b1"].copy(),
             "W2": params["W2"].T.copy(), "b2": params["b2"].copy()}
    rows = np.arange(m)

    def numpy_step():
        W1, b1, W2, b2 = state["W1"], state["b1"], state["W2"], state["b2"]
        z1 = x.dot(W1) + b1
        if activation == "relu":
            hidden = np.maximum(0, z1)
        elif activation == "tanh":
            hidden = np.tanh(z1)
        else:
            hidden = 1 / (1 + np.exp(-z1))
        scores = hidden.dot(W2) + b2
        scores = scores - np.max(scores, axis=1, keepdims=True)
        exp_scores = np.exp(scores)
        probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
        loss = np.sum(-np.log(probs[rows, labels])) / m
        dscores = probs
        dscores[rows, labels] -= 1
        dscores /= m
        dhidden = dscores.dot(W2.T)
        if activation == "relu":
            dhidden[hidden <= 0] = 0
        else:
            dhidden *= (1 - hidden * hidden) if activation == "tanh" else hidden * (1 - hidden)
        state["W2"] = W2 - lr * hidden.T.dot(dscores)
        state["b2"] = b2 - lr * np.sum(dscores, axis=0)
        state["W1"] = W1 - lr * x.T.dot(dhidden)
        state["b1"] = b1 - lr * np.sum(dhidden, axis=0)
        return loss

    name = f"{layers} {activation}+softmax, {m} samples"
    return name, mlp, params, x, y, lr, numpy_step


def digits_case():
    return classifier_case([64, 32, 10], "tanh", 0.5, m=256)


def mnist_case():
    return classifier_case([784, 100, 10], "sigmoid", 0.1, m=64)


def symprop_step(mlp, params, x, y, lr):
    """One iteration of symprop.train.train's loop: its ``Stepper`` (straight-line scalar code for the
    XOR net, the compiled array code for the others), with the loop's finiteness check."""
    stepper = Stepper(symprop.compile(mlp), mlp.validate_params(params), x, y, SGD(lr), steps=10**6)

    def step():
        loss = stepper.evaluate(0)
        if not math.isfinite(loss):
            raise RuntimeError("diverged")
        stepper.advance()
        return loss

    step.path = "scalar code" if stepper.scalar is not None else "array code"
    return step


def jax_step(mlp, params, x, y, lr):
    """The whole step (loss, gradients, update) as one ``jax.jit`` function, in float64."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    hidden = {"relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh}[mlp.activations[0]]
    softmax = mlp.activations[-1] == "softmax"
    tx, ty = jnp.asarray(x), jnp.asarray(y)

    def loss(ps):
        z2 = hidden(tx @ ps["W1"].T + ps["b1"]) @ ps["W2"].T + ps["b2"]
        if softmax:
            return -jnp.mean(jnp.sum(ty * jax.nn.log_softmax(z2), axis=1))
        return jnp.sum((jax.nn.sigmoid(z2) - ty) ** 2) / 2

    @jax.jit
    def update(ps):
        value, grads = jax.value_and_grad(loss)(ps)
        return value, {k: ps[k] - lr * grads[k] for k in ps}

    state = {"p": {k: jnp.asarray(v) for k, v in params.items()}}

    def step():
        value, state["p"] = update(state["p"])
        return float(value)

    step()  # compile outside the timing
    return step


def torch_step(mlp, params, x, y, lr):
    import torch

    torch.set_num_threads(1)
    ps = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)
    softmax = mlp.activations[-1] == "softmax"
    labels = ty.argmax(dim=1)
    hidden = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[mlp.activations[0]]

    def step():
        a1 = torch.nn.functional.linear(tx, ps["W1"], ps["b1"])
        a1 = hidden(a1)
        z2 = torch.nn.functional.linear(a1, ps["W2"], ps["b2"])
        if softmax:
            loss = torch.nn.functional.cross_entropy(z2, labels)
        else:
            loss = ((torch.sigmoid(z2) - ty) ** 2).sum() / 2
        for p in ps.values():
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in ps.values():
                p -= lr * p.grad
        return loss.item()

    return step


def micrograd_step(mlp, params, x, y, lr):
    """micrograd's own MLP of the same widths (relu hidden, linear output: micrograd has no sigmoid)."""
    from micrograd.nn import MLP as MicroMLP

    net = MicroMLP(mlp.layers[0], mlp.layers[1:])
    rows = [list(map(float, r)) for r in x]
    targets = [float(r[0]) for r in y]

    def step():
        loss = sum(((net(r) - t) ** 2 for r, t in zip(rows, targets)), 0) * 0.5
        net.zero_grad()
        loss.backward()
        for p in net.parameters():
            p.data -= lr * p.grad
        return loss.data

    return step


def check_same_first_steps(case) -> None:
    """The baseline and symprop agree on the losses of their first steps (same problem, same start)."""
    name, mlp, params, x, y, lr, numpy_step = case
    ours = symprop_step(mlp, params, x, y, lr)
    a = [numpy_step() for _ in range(3)]
    b = [ours() for _ in range(3)]
    assert np.allclose(a, b, rtol=1e-10), (name, a, b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the XOR net alone, fewer repeats (noisier)")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}; microseconds per step, the best of "
          f"{2 * repeat} runs (numpy and symprop taking turns), of {repeat} for the peers\n")
    cases = ((xor_case, 2000, 0.6), (spiral_case, 300, 1.0), (digits_case, 300, 1.0), (mnist_case, 50, 1.0))
    if args.quick:
        cases = ((xor_case, 200, 0.6),)
    met = []
    for make, number, target in cases:
        case = make()
        check_same_first_steps(make())
        name, mlp, params, x, y, lr, numpy_step = case
        ours = symprop_step(mlp, params, x, y, lr)
        times = best_of_interleaved({"numpy": numpy_step, "symprop": ours}, number, 2 * repeat)
        base = times["numpy"]
        print(f"{name}")
        print(f"  hand-written numpy   {base:9.1f} us   1.00x")
        t = times["symprop"]
        print(f"  symprop compiled     {t:9.1f} us   {t / base:.2f}x   (target <= {target:.2f}x: "
              f"{'met' if t <= target * base else 'NOT met'}; {ours.path})")
        met.append(t <= target * base)
        peers = (("JAX (float64, jit)", jax_step, number), ("PyTorch (float64)", torch_step, number),
                 ("micrograd (relu)", micrograd_step, 200))
        for label, maker, n in peers:
            if label.startswith("micrograd") and mlp.layers != [2, 3, 1]:
                print(f"  {label:<20} (not run: scalar autograd on {mlp.layers} x {len(x)} samples)")
                continue
            try:
                other = maker(mlp, params, x, y, lr)
            except ImportError:
                print(f"  {label:<20} (not installed; skipped)")
                continue
            t = best_of(other, n, repeat)
            print(f"  {label:<20} {t:9.1f} us   {t / base:.2f}x")
        print()
    print(f"symprop within its target (0.6x numpy on the XOR net, 1.0x elsewhere): {sum(met)} of {len(met)} sizes\n")

    print("Deriving and compiling the gradients, [2, 8 x depth, 1] sigmoid (caches cleared):")
    for depth in (1, 2, 4) if args.quick else (1, 2, 4, 8, 16, 32):
        for cached in (activations._derivative, output_delta, softmax_p, losses._checked_term):
            cached.cache_clear()
        mlp = MLP([2] + [8] * depth + [1], "sigmoid", "binary_cross_entropy")
        start = time.perf_counter()
        symprop.compile(mlp)
        print(f"  depth {depth:>2}: {(time.perf_counter() - start) * 1e3:7.1f} ms")
    print("(the exact scalar backward pass, node by node: benchmarks/derive.py)")


if __name__ == "__main__":
    main()
