"""Backprop ninja: the backward pass of a small MLP with batchnorm, by hand, checked one intermediate at a time.

The exercise of Karpathy's "becoming a backprop ninja" (makemore, part 4) and
CS231n's batchnorm assignment, on a tiny data set made here: three blobs of
points in the plane, eight samples, three classes. The network (symprop's names)::

    z1 = x W1^T + b1                                   (8, 4)  linear
    mu1, var1 = the batch mean and biased variance of z1    (4,)
    xhat1 = (z1 - mu1)/sqrt(var1 + 1e-5)               (8, 4)  batchnorm,
    bn1 = gamma1*xhat1 + beta1                         (8, 4)  training mode
    a1 = tanh(bn1)                                     (8, 4)
    z2 = a1 W2^T + b2                                  (8, 3)  the logits
    sumexp2 = sum(exp(z2), 1); a2 = exp(z2)/sumexp2    (8,), (8, 3)  the probabilities
    L = mean over the samples of -sum(y*log(a2))

Your part is examples/backprop_ninja_exercise.py: fill in each ``None`` with
``dL/d(that value)``, shaped like the value. Grade it with

    python examples/backprop_ninja_exercise.py

or from the command line (examples/backprop_ninja.toml is the same problem as a spec file,
written by ``python examples/backprop_ninja.py --write-spec``):

    symprop check --spec examples/backprop_ninja.toml --against examples/backprop_ninja_exercise.py:grads

Every intermediate you return is compared with the exact one; the first
wrong one in backward order is named, with the exact derivation of its
worst entry. Running this file grades the exercise as it is, then a full
solution, then the same solution with a classic mistake.
"""

from pathlib import Path

import numpy as np

import textwrap
import symprop
from symprop.nn import Network, Sequential

LAYERS = [{"linear": 4}, "batchnorm", "tanh", {"linear": 3}, "softmax"]
SPEC = Path(__file__).resolve().parent / "backprop_ninja.toml"


def make_data(samples: int = 8, seed: int = 4):
    """Three blobs around the corners of a triangle; one-hot targets."""
    rng = np.random.default_rng(seed)
    labels = np.arange(samples) % 3
    centres = np.array([[0.0, 1.0], [-0.9, -0.5], [0.9, -0.5]])
    x = np.round(centres[labels] + 0.3 * rng.normal(size=(samples, 2)), 2)
    return x, np.eye(3)[labels]


def network() -> Network:
    x, y = make_data()
    return Network(Sequential(2, LAYERS, "cross_entropy"), None, x, y, seed=0, init="xavier")


def spec_text() -> str:
    """The same problem as a spec file, for ``symprop check --spec``."""
    x, y = make_data()
    rows = lambda a: "[" + ", ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in a) + "]"  # noqa: E731
    return (
        "# Written by examples/backprop_ninja.py: a small MLP with batchnorm on a tiny data set.\n"
        "[network]\ninputs = 2\n"
        'layers = [{linear = 4}, "batchnorm", "tanh", {linear = 3}, "softmax"]\n'
        'loss = "cross_entropy"\n\n[params]\ninit = "xavier"\n\n'
        f"[data]\nx = {rows(x)}\ny = {rows(y.astype(int))}\n"
    )


def solution(params, x, y, *, bug=False):
    """Every gradient by hand, as the exercise asks (``bug``: forget var's factor -1/2)."""
    W1, b1, gamma1, beta1, W2, b2 = (params[k] for k in ("W1", "b1", "gamma1", "beta1", "W2", "b2"))
    m = x.shape[0]
    z1 = x @ W1.T + b1
    mu1 = z1.mean(axis=0)
    var1 = ((z1 - mu1) ** 2).mean(axis=0)
    istd = 1 / np.sqrt(var1 + 1e-5)
    xhat1 = (z1 - mu1) * istd
    bn1 = gamma1 * xhat1 + beta1
    a1 = np.tanh(bn1)
    z2 = a1 @ W2.T + b2
    sumexp2 = np.exp(z2).sum(axis=1)
    a2 = np.exp(z2) / sumexp2[:, None]
    d = {"a2": -y / a2 / m}
    d["sumexp2"] = (d["a2"] * -np.exp(z2) / sumexp2[:, None] ** 2).sum(axis=1)
    d["z2"] = d["a2"] * a2 + d["sumexp2"][:, None] * np.exp(z2)
    d["W2"], d["b2"], d["a1"] = d["z2"].T @ a1, d["z2"].sum(axis=0), d["z2"] @ W2
    d["bn1"] = d["a1"] * (1 - a1**2)
    d["gamma1"], d["beta1"] = (d["bn1"] * xhat1).sum(axis=0), d["bn1"].sum(axis=0)
    d["xhat1"] = d["bn1"] * gamma1
    factor = 1.0 if bug else -0.5  # BUG: d(var + eps)^(-1/2)/dvar = -1/2 (var + eps)^(-3/2), the -1/2 forgotten
    d["var1"] = (d["xhat1"] * (z1 - mu1) * factor * (var1 + 1e-5) ** -1.5).sum(axis=0)
    d["mu1"] = (-d["xhat1"] * istd).sum(axis=0) + d["var1"] * (-2 * (z1 - mu1)).mean(axis=0)
    d["z1"] = d["xhat1"] * istd + d["var1"] * 2 * (z1 - mu1) / m + d["mu1"] / m
    d["W1"], d["b1"] = d["z1"].T @ x, d["z1"].sum(axis=0)
    return d


def buggy_solution(params, x, y):
    """The solution with a classic mistake: dL/dvar1 without its factor -1/2."""
    return solution(params, x, y, bug=True)


def grade(grads, *, quiet: bool = False) -> "symprop.check.GradcheckReport":
    """Check ``grads(params, x, y)`` against the exact gradients of every parameter and intermediate."""
    report = symprop.gradcheck(network(), against=grads)
    if not quiet:
        print(report)
    return report


if __name__ == "__main__":
    import sys

    import backprop_ninja_exercise

    if "--write-spec" in sys.argv:
        SPEC.write_text(spec_text(), encoding="utf-8")
    assert SPEC.read_text(encoding="utf-8") == spec_text(), "run with --write-spec to bring the spec file up to date"
    mine = grade(backprop_ninja_exercise.grads, quiet=True)
    done = ", ".join(f"{r.name} ({r.status})" for r in mine.rows if r.status != "missing")
    print(f"the exercise as shipped: checked {done};\n  still to do: {', '.join(mine.wrong_params)}")
    full = grade(solution, quiet=True)
    assert full.passed, str(full)
    print(f"a full solution: passed, {len(full.rows)} of {len(full.rows)} rows agree")
    buggy = grade(buggy_solution, quiet=True)
    first = next(f for f in buggy.findings if "first wrong intermediate" in f.message)
    assert first.param == "var1", first.message
    print("the same with dL/dvar1 missing its factor -1/2:")
    print(textwrap.fill(first.message, 80, initial_indent="  ", subsequent_indent="    "))
