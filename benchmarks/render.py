"""How long the walkthrough of a [2, 3, 1] network takes to render, in every format.

Start-up (importing symprop, sympy and rich) is measured apart from the work:
building the graph, the exact backward pass, then each renderer on that pass.
Run it: python benchmarks/render.py   (prints one line per stage, in ms)

Until the network builder lands, the net is written here as a formula graph
with the MLP's conventions (DESIGN.md): ``z1 = W1 x + b1``, ``a1 = sigmoid(z1)``,
``z2 = W2 a1 + b2``, ``yhat = sigmoid(z2)``, half squared error, labels
``W1[j,i]``.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()
import sympy  # noqa: E402

import symprop  # noqa: E402
from symprop.render import rich as _rich  # noqa: E402,F401  (start-up: rich is imported here)

STARTUP = time.perf_counter() - T0


def mlp_graph(layers=(2, 3, 1), seed: int = 0):
    """A sigmoid MLP as a formula graph with labels, and a point (x, y, params)."""
    import random

    rng = random.Random(seed)
    labels, at, items, previous = {}, {}, [], []

    def leaf(name, label, value):
        symbol = sympy.Symbol(name)
        labels[symbol] = label
        at[name] = value
        return symbol

    previous = [leaf(f"x_{i}", f"x[{i}]", round(rng.uniform(-1, 1), 2)) for i in range(layers[0])]
    params = []
    for l in range(1, len(layers)):
        current = []
        for j in range(layers[l]):
            weights = [leaf(f"W{l}_{j}_{i}", f"W{l}[{j},{i}]", round(rng.uniform(-1, 1), 2)) for i in range(layers[l - 1])]
            bias = leaf(f"b{l}_{j}", f"b{l}[{j}]", round(rng.uniform(-1, 1), 2))
            params += [*weights, bias]
            z = sympy.Symbol(f"z{l}_{j}")
            a = sympy.Symbol(f"a{l}_{j}")
            labels[z], labels[a] = f"z{l}[{j}]", f"a{l}[{j}]"
            items.append((z, sum((w * p for w, p in zip(weights, previous)), bias)))
            items.append((a, symprop.sigmoid(z)))
            current.append(a)
        previous = current
    targets = [leaf(f"y_{k}", f"y[{k}]", round(rng.uniform(0, 1), 2)) for k in range(layers[-1])]
    loss = sum(((y - a) ** 2 for y, a in zip(targets, previous)), sympy.S.Zero) / 2
    items.append(("L", loss))
    graph = symprop.Graph.from_exprs(items, params, labels=labels)
    return graph, at


def main() -> None:
    from symprop.render import html, latex, markdown, svg, text
    from symprop.render import json as json_render
    from symprop.render import rich

    t = time.perf_counter()
    graph, at = mlp_graph()
    bp = symprop.backward(graph, at)
    derive = time.perf_counter() - t
    print(f"start-up (import symprop, sympy, rich): {STARTUP * 1000:7.1f} ms")
    print(f"graph + exact backward pass [2, 3, 1]:  {derive * 1000:7.1f} ms  ({len(bp.steps)} steps)")
    renderers = {
        "text": lambda: text.render_text(bp),
        "rich": lambda: rich.render_rich(bp, width=80),
        "markdown": lambda: markdown.render_markdown(bp),
        "latex": lambda: latex.render_latex(bp),
        "html": lambda: html.render_html(bp),
        "svg": lambda: svg.render_svg(bp),
        "json": lambda: json_render.dumps(json_render.explain_dict(bp)),
    }
    for name, render in renderers.items():
        t = time.perf_counter()
        render()
        print(f"render {name:<8}                        {(time.perf_counter() - t) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
