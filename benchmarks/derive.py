"""How long the exact backward pass of a network takes to derive, and how it grows with depth.

Derivation is reverse mode over named scalar nodes (one per pre-activation and
activation): one ``sympy.diff`` per edge, never the expanded loss, so the time
should grow linearly with the number of layers. Run:

    python3 benchmarks/derive.py

Prints the seconds for a [2, 16, 16, 16, 1] sigmoid net (one sample), then
for [2, 16 x depth, 1] at depths 1..6 with the time per layer, all measured
in this run.
"""

from __future__ import annotations

import time

import numpy as np

from symprop.nn import MLP, Network


def derive_seconds(layers: list[int], repeats: int = 1) -> tuple[float, float, int]:
    """(seconds to build the graph, seconds for the exact backward pass, number of nodes)."""
    net = Network(MLP(layers), None, np.full((1, layers[0]), 0.5), np.full((1, layers[-1]), 0.25), seed=0)
    best_build, best_pass = float("inf"), float("inf")
    for _ in range(repeats):
        net._graphs.clear()
        start = time.perf_counter()
        graph = net.graph()
        built = time.perf_counter()
        net.backward()
        done = time.perf_counter()
        best_build, best_pass = min(best_build, built - start), min(best_pass, done - built)
    return best_build, best_pass, len(graph.nodes)


def main() -> None:
    build, backward, nodes = derive_seconds([2, 16, 16, 16, 1], repeats=3)
    print(f"[2, 16, 16, 16, 1], one sample: {nodes} nodes, graph {build:.2f} s, "
          f"exact backward pass {backward:.2f} s (best of 3)")
    print()
    print("depth  layers                             nodes  graph s  backward s  backward s per hidden layer")
    for depth in range(1, 7):
        layers = [2] + [16] * depth + [1]
        build, backward, nodes = derive_seconds(layers)
        print(f"{depth:>5}  {str(layers):<34} {nodes:>5}  {build:>7.2f}  {backward:>10.2f}  {backward / depth:>10.2f}")


if __name__ == "__main__":
    main()
