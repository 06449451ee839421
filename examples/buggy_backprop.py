"""Classic backprop bugs in the XOR net (examples/xor.toml), each caught and named by the checker.

Each function below is xor_backprop.grads with one bug:

* ``grads_missing_derivative``: dZ1 = dA1, the hidden sigmoid's derivative
  a1*(1 - a1) forgotten, so W1 and b1 are wrong (W2 and b2 are right);
* ``grads_transposed``: dW1 = x.T @ dZ1, the (inputs, hidden) layout of examples/xor.py's numpy loop,
  the transpose of symprop's W1 (3, 2);
* ``grads_forgotten_sum``: db2 = dZ2, one row per sample instead of the sum
  over the batch;
* ``grads_sign``: dA2 = y - a2, the derivative of the loss with the wrong sign.

Check one from the command line (exit code 1, and the culprit named):

    symprop check --spec examples/xor.toml --against examples/buggy_backprop.py:grads_missing_derivative

or run this file: python examples/buggy_backprop.py
"""

from pathlib import Path

from xor_backprop import sigmoid


def _forward(params, x):
    z1 = x @ params["W1"].T + params["b1"]
    a1 = sigmoid(z1)
    a2 = sigmoid(a1 @ params["W2"].T + params["b2"])
    return a1, a2


def grads_missing_derivative(params, x, y):
    a1, a2 = _forward(params, x)
    dZ2 = (a2 - y) * a2 * (1 - a2)
    dA1 = dZ2 @ params["W2"]
    dZ1 = dA1  # BUG: forgot "* a1 * (1 - a1)", the derivative of the hidden sigmoid
    return {"W1": dZ1.T @ x, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ a1, "b2": dZ2.sum(axis=0)}


def grads_transposed(params, x, y):
    a1, a2 = _forward(params, x)
    dZ2 = (a2 - y) * a2 * (1 - a2)
    dZ1 = (dZ2 @ params["W2"]) * a1 * (1 - a1)
    dW1 = x.T @ dZ1  # BUG: the numpy loop's layout (inputs, hidden), the transpose of W1's
    return {"W1": dW1, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ a1, "b2": dZ2.sum(axis=0)}


def grads_forgotten_sum(params, x, y):
    a1, a2 = _forward(params, x)
    dZ2 = (a2 - y) * a2 * (1 - a2)
    dZ1 = (dZ2 @ params["W2"]) * a1 * (1 - a1)
    db2 = dZ2  # BUG: one row per sample; the batch loss needs dZ2.sum(axis=0)
    return {"W1": dZ1.T @ x, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ a1, "b2": db2}


def grads_sign(params, x, y):
    a1, a2 = _forward(params, x)
    dZ2 = (y - a2) * a2 * (1 - a2)  # BUG: dL/da2 is a2 - y
    dZ1 = (dZ2 @ params["W2"]) * a1 * (1 - a1)
    return {"W1": dZ1.T @ x, "b1": dZ1.sum(axis=0), "W2": dZ2.T @ a1, "b2": dZ2.sum(axis=0)}


#: Each buggy function and the parameters the checker must name.
BUGS = {
    grads_missing_derivative: ["W1", "b1"],
    grads_transposed: ["W1"],
    grads_forgotten_sum: ["b2"],
    grads_sign: ["W1", "b1", "W2", "b2"],
}

if __name__ == "__main__":
    import symprop
    from symprop.spec import load_spec

    network = load_spec(Path(__file__).with_name("xor.toml")).network
    for function, culprits in BUGS.items():
        report = symprop.gradcheck(network, against=function)
        print(f"=== {function.__name__} ===")
        print(report)
        assert not report.passed, f"{function.__name__} should fail the check"
        assert report.wrong_params == culprits, (function.__name__, report.wrong_params)
