"""What ``symprop grad`` and ``symprop check`` do on a network spec, done by a peer, for ``benchmarks/cli.py``.

    python benchmarks/peers.py JAX|PyTorch SPEC.json grad|check

``grad``: the gradients of the mean cross-entropy at the spec's point, in float64,
by the peer's reverse mode. ``check``: those gradients against central
differences of the peer's own loss, on every entry of a network of at most
10,000 parameter scalars, else on a seeded random 100 entries of each tensor
(CS231n's sparse gradient check; the same rule as ``symprop check``). The
parameters are symprop's own initialisation, so both work at the same point.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from symprop.nn import MLP


def load(path: str):
    spec = json.loads(open(path).read())
    net = spec["network"]
    mlp = MLP(net["layers"], net["activation"], net["loss"])
    params = mlp.init_params(spec["params"]["seed"], spec["params"]["init"])
    return mlp, params, np.array(spec["data"]["x"], dtype=float), np.array(spec["data"]["y"], dtype=float)


def entries(params: dict[str, np.ndarray]) -> dict[str, list[tuple[int, ...]]]:
    total = sum(p.size for p in params.values())
    rng = np.random.default_rng(0)
    chosen = {}
    for name, p in params.items():
        if total <= 10_000 or p.size <= 100:
            chosen[name] = list(np.ndindex(*p.shape))
        else:
            flat = np.sort(rng.choice(p.size, size=100, replace=False))
            chosen[name] = [tuple(int(i) for i in np.unravel_index(k, p.shape)) for k in flat]
    return chosen


def jax_functions(mlp, x, y):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    acts = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu}

    def loss(params):
        h = jnp.asarray(x)
        for layer, act in enumerate(mlp.activations, start=1):
            z = h @ params[f"W{layer}"].T + params[f"b{layer}"]
            h = z if act == "softmax" else acts[act](z)
        return -jnp.mean(jnp.sum(jnp.asarray(y) * jax.nn.log_softmax(h), axis=1))

    grad = jax.jit(jax.grad(loss))
    value = jax.jit(loss)
    return (lambda p: {k: np.asarray(v) for k, v in grad({k: jnp.asarray(a) for k, a in p.items()}).items()},
            lambda p: float(value({k: jnp.asarray(a) for k, a in p.items()})))


def torch_functions(mlp, x, y):
    import torch

    torch.set_num_threads(1)
    tx, ty = torch.tensor(x), torch.tensor(y)
    acts = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}

    def loss(params):
        h = tx
        for layer, act in enumerate(mlp.activations, start=1):
            z = torch.nn.functional.linear(h, params[f"W{layer}"], params[f"b{layer}"])
            h = z if act == "softmax" else acts[act](z)
        return -(ty * torch.log_softmax(h, dim=1)).sum(dim=1).mean()

    def grad(p):
        ps = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
        loss(ps).backward()
        return {k: v.grad.numpy() for k, v in ps.items()}

    def value(p):
        with torch.no_grad():
            return float(loss({k: torch.tensor(v) for k, v in p.items()}))

    return grad, value


def main() -> None:
    peer, path, command = sys.argv[1:4]
    mlp, params, x, y = load(path)
    grad, value = {"JAX": jax_functions, "PyTorch": torch_functions}[peer](mlp, x, y)
    grads = grad(params)
    if command == "grad":
        return
    eps, worst = 1e-6, 0.0
    for name, where in entries(params).items():
        p = params[name]
        for index in where:
            old = p[index]
            p[index] = old + eps
            high = value(params)
            p[index] = old - eps
            low = value(params)
            p[index] = old
            numeric = (high - low) / (2 * eps)
            worst = max(worst, abs(numeric - grads[name][index]) / max(abs(numeric), abs(grads[name][index]), 1e-8))
    if worst > 1e-4:
        raise SystemExit(f"{peer}: gradient check failed, worst relative error {worst:.3g}")


if __name__ == "__main__":
    main()
