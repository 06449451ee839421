"""Vanishing gradients: per-layer gradient norms of a deep sigmoid net and a relu net.

Going back through a layer multiplies delta by ``W`` and by the activation's
local derivative. symprop derives that derivative exactly: for sigmoid it is
``a*(1 - a)``, at most 1/4, so every sigmoid layer shrinks the gradient by 4
or more unless the weights make up for it; relu's is 0 or 1.

    python examples/vanishing.py
"""

import numpy as np
import sympy
from rich.console import Console
from rich.table import Table

import symprop
from symprop.nn import get_activation
from symprop.functions import sigmoid

DEPTH = 10  # layers with weights
WIDTH = 16


def the_local_derivatives(console: Console) -> None:
    """sigmoid' and its maximum, derived with SymPy; relu' for comparison."""
    z = sympy.Symbol("z", real=True)
    a = sympy.Symbol("a", real=True)
    local = get_activation("sigmoid").derivative()  # a*(1 - a), from sympy.diff(sigmoid(z), z)
    peak = sympy.solve(sympy.diff(local, a), a)
    top = sympy.maximum(local, a, sympy.Interval(0, 1))
    at_zero = sympy.diff(sigmoid(z), z).subs(z, 0)
    console.print(f"sigmoid'(z) = {sympy.sstr(local)} with a = sigmoid(z)   (sympy.diff, written through a)")
    console.print(f"  d/da[{sympy.sstr(local)}] = 0 at a = {sympy.sstr(peak[0])}; max over 0 < a < 1: "
                  f"{sympy.sstr(top)} (= sigmoid'(0) = {sympy.sstr(at_zero)})")
    console.print(f"  so {DEPTH - 1} sigmoid layers scale delta by at most (1/4)**{DEPTH - 1}\n    = "
                  f"{sympy.sstr(sympy.Rational(1, 4) ** (DEPTH - 1))} ≈ {0.25 ** (DEPTH - 1):.1e} (times the weights)")
    console.print(f"relu'(z) = {sympy.sstr(get_activation('relu').derivative())}: 1 for z > 0, 0 otherwise\n")


def layer_norms(hidden: str, x: np.ndarray, y: np.ndarray) -> list[float]:
    mlp = symprop.nn.MLP([x.shape[1]] + [WIDTH] * (DEPTH - 1) + [1], [hidden] * (DEPTH - 1) + ["sigmoid"],
                         "binary_cross_entropy")
    params = mlp.init_params(0, "xavier" if hidden == "sigmoid" else "he")
    _, grads = symprop.compile(mlp).loss_and_grads(params, x, y)
    return [float(np.linalg.norm(grads[f"W{l}"])) for l in range(1, DEPTH + 1)]


def main() -> None:
    console = Console(highlight=False, markup=False, width=100)
    the_local_derivatives(console)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4))
    y = (x[:, :1] * x[:, 1:2] > 0).astype(float)
    norms = {name: layer_norms(name, x, y) for name in ("sigmoid", "relu")}

    table = Table(title=f"|dL/dW| per layer at initialisation, {DEPTH} layers of width {WIDTH}, 64 samples")
    table.add_column("layer", justify="right")
    for name in norms:
        table.add_column(f"{name} hidden", justify="right")
        table.add_column("÷ last layer", justify="right")
    for l in range(DEPTH):
        cells = [str(l + 1)]
        for values in norms.values():
            cells += [f"{values[l]:.2e}", f"{values[l] / values[-1]:.1e}"]
        table.add_row(*cells)
    console.print(table)
    sig, rel = norms["sigmoid"], norms["relu"]
    console.print(f"first layer / last layer: sigmoid {sig[0] / sig[-1]:.1e}, relu {rel[0] / rel[-1]:.1e}")
    assert sig[0] / sig[-1] < 1e-3 and rel[0] / rel[-1] > 1e-2


if __name__ == "__main__":
    main()
