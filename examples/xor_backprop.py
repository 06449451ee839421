"""A hand-written numpy backprop for the XOR net (examples/xor.toml), checked against the exact gradient.

The network of xor.toml: layers [2, 3, 1], sigmoid everywhere, half
squared error summed over the batch. The classic numpy loop stores ``w1`` as (inputs,
hidden); symprop's convention is ``W1[j, i]`` joins input i to neuron j, so
``W1`` has shape (3, 2), ``b1`` (3,), ``W2`` (1, 3), ``b2`` (1,).

Check it from the command line:

    symprop check --spec examples/xor.toml --against examples/xor_backprop.py:grads

or run this file: python examples/xor_backprop.py
"""

from pathlib import Path

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def grads(params, x, y):
    """dL/dparam for L = sum over samples of ½(y - ŷ)², as the classic numpy loop computes it."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    # forward, one row per sample
    z1 = x @ W1.T + b1  # (m, 3)
    a1 = sigmoid(z1)
    z2 = a1 @ W2.T + b2  # (m, 1)
    a2 = sigmoid(z2)
    # backward
    dA2 = a2 - y  # dL/da2
    dZ2 = dA2 * a2 * (1 - a2)  # dL/dz2 = dL/da2 * sigmoid'(z2)
    dW2 = dZ2.T @ a1  # (1, 3): sums over the batch
    db2 = dZ2.sum(axis=0)  # (1,)
    dA1 = dZ2 @ W2  # (m, 3): dL/da1 = dL/dz2 * dz2/da1
    dZ1 = dA1 * a1 * (1 - a1)
    dW1 = dZ1.T @ x  # (3, 2)
    db1 = dZ1.sum(axis=0)  # (3,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


if __name__ == "__main__":
    import symprop
    from symprop.spec import load_spec

    spec = load_spec(Path(__file__).with_name("xor.toml"))
    print(symprop.gradcheck(spec.network))  # the exact gradient vs finite differences
    report = symprop.gradcheck(spec.network, against=grads)  # vs this file's backprop
    print(report)
    assert report.passed, "the hand-written backprop should agree with the exact gradient"
