"""A softmax classifier on a 3-class spiral (CS231n's data set, generated here): 2-100-3, relu, cross-entropy.

The output layer's delta is derived through the softmax Jacobian; for
cross-entropy it is ``yhat*sum(y) - y`` (``yhat - y`` for one-hot targets),
and the loss is computed from the log-softmax, so large logits are harmless.

    python examples/spiral.py
"""

import time

import numpy as np

import symprop
from symprop.nn import MLP
from symprop.train import train


def spiral(points_per_class: int = 100, classes: int = 3, seed: int = 0):
    """CS231n's spiral: ``classes`` arms of ``points_per_class`` noisy points in the plane."""
    rng = np.random.default_rng(seed)
    x = np.zeros((points_per_class * classes, 2))
    labels = np.zeros(points_per_class * classes, dtype=int)
    for j in range(classes):
        rows = slice(points_per_class * j, points_per_class * (j + 1))
        r = np.linspace(0.0, 1, points_per_class)  # radius
        t = np.linspace(j * 4, (j + 1) * 4, points_per_class) + rng.standard_normal(points_per_class) * 0.2  # theta
        x[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        labels[rows] = j
    return x, labels


def main() -> None:
    x, labels = spiral()
    y = np.eye(3)[labels]  # one-hot targets
    mlp = MLP([2, 100, 3], ["relu", "softmax"], "cross_entropy")
    compiled = symprop.compile(mlp)
    print("The output layer's delta, as compiled (P = a*dl/da, then the softmax Jacobian):")
    for line in compiled.source.splitlines():
        if line.strip().startswith(("P2 =", "S2 =", "D2 =")):
            print("    " + line.strip())

    start = time.perf_counter()
    result = train(compiled, mlp.init_params(0, "he"), x, y, steps=4000, lr=1.0, optimizer="sgd")
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(np.argmax(compiled.forward(result.params, x), axis=1) == labels))
    print(f"{len(x)} points, {result.steps} steps of sgd (learning rate 1.0) in {seconds:.1f} s")
    print(f"cross-entropy {result.loss_history[0]:.4f} -> {result.final_loss:.4f}; training accuracy {accuracy:.1%}")
    assert accuracy >= 0.97, accuracy


if __name__ == "__main__":
    main()
