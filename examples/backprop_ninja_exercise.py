"""Your backward pass of the backprop-ninja network (see examples/backprop_ninja.py for the network).

Fill in each ``None`` with ``dL/d(that value)``, shaped like the value
(``(m, n)`` per sample and unit, ``(n,)`` for a batch statistic, ``(m,)`` for
one per sample). Entries left ``None`` are not sent, so you can work right to
left and check as you go:

    python examples/backprop_ninja_exercise.py
    symprop check --spec examples/backprop_ninja.toml --against examples/backprop_ninja_exercise.py:grads

``L`` is the mean over the batch, so the first gradient, ``dL/da2``, is
already divided by ``m``.
"""

import numpy as np


def grads(params, x, y):
    W1, b1, gamma1, beta1, W2, b2 = (params[k] for k in ("W1", "b1", "gamma1", "beta1", "W2", "b2"))
    m = x.shape[0]
    # the forward pass, given
    z1 = x @ W1.T + b1
    mu1 = z1.mean(axis=0)
    var1 = ((z1 - mu1) ** 2).mean(axis=0)
    xhat1 = (z1 - mu1) / np.sqrt(var1 + 1e-5)
    bn1 = gamma1 * xhat1 + beta1
    a1 = np.tanh(bn1)
    z2 = a1 @ W2.T + b2
    sumexp2 = np.exp(z2).sum(axis=1)
    a2 = np.exp(z2) / sumexp2[:, None]
    # the backward pass, right to left: yours
    d = {}
    d["a2"] = -y / a2 / m  # done for you: L = mean of -sum(y*log(a2))
    d["sumexp2"] = None  # a2 = exp(z2)/sumexp2
    d["z2"] = None  # z2 reaches L through exp(z2) in a2 and through sumexp2
    d["W2"] = None
    d["b2"] = None
    d["a1"] = None
    d["bn1"] = None
    d["gamma1"] = None
    d["beta1"] = None
    d["xhat1"] = None
    d["var1"] = None
    d["mu1"] = None  # mu1 reaches L through xhat1 and through var1
    d["z1"] = None  # z1 reaches L through xhat1, var1 and mu1
    d["W1"] = None
    d["b1"] = None
    return {name: value for name, value in d.items() if value is not None}


if __name__ == "__main__":
    from backprop_ninja import grade

    grade(grads)
