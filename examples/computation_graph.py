"""A small computation graph, walked through backwards (the course-lab example).

J = (w*x + b - y)**2 / 2 as four named nodes, at w=-2, x=2, b=8, y=1.
Run it: python examples/computation_graph.py
"""

import sympy

import symprop
from symprop.render.text import render_text

graph = symprop.Graph.from_formulas(
    ["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"],
    params=["w", "b"],
)
bp = symprop.backward(graph, {"w": -2, "x": 2, "b": 8, "y": 1})

print(render_text(bp))
# The published numbers of this example: J = 4.5, dJ/dw = 6, dJ/db = 3.
assert bp.loss == sympy.Rational(9, 2)
assert bp.gradients["w"].value == 6 and bp.gradients["b"].value == 3
for name, gradient in bp.gradients.items():
    print(f"dJ/d{name} = {gradient.value}   compact: {gradient.compact}   expanded: {gradient.expanded}")
