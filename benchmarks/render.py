"""How long the walkthrough of a [2, 3, 1] network takes to render, in every format.

Start-up (importing symprop, sympy and rich) is measured apart from the work:
building the graph, the exact backward pass, then each renderer on that pass.
Run it: python benchmarks/render.py   (prints one line per stage, in ms)

The net is ``symprop.nn.Network``: sigmoid layers, half squared error, one
sample, parameters drawn uniform(-1, 1) with seed 0.
"""

from __future__ import annotations

import random
import time

T0 = time.perf_counter()

import symprop  # noqa: E402,F401
from symprop.render import rich as _rich  # noqa: E402,F401  (start-up: rich is imported here)

STARTUP = time.perf_counter() - T0


def network_pass(layers=(2, 3, 1), seed: int = 0):
    """The exact backward pass of one sample through a sigmoid MLP (``symprop.nn.Network``)."""
    from symprop.nn import MLP, Network

    rng = random.Random(seed)
    x = [[round(rng.uniform(-1, 1), 2) for _ in range(layers[0])]]
    y = [[round(rng.uniform(0, 1), 2) for _ in range(layers[-1])]]
    net = Network(MLP(list(layers), activation="sigmoid", loss="half_squared_error"), None, x, y, seed=seed)
    return net.backward()


def main() -> None:
    from symprop.render import html, latex, markdown, svg, text
    from symprop.render import json as json_render
    from symprop.render import rich

    t = time.perf_counter()
    bp = network_pass()
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
