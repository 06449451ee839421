"""Fan-out: a variable used twice gets the sum of both branches.

e = (a + b) * (b + 1), from Christopher Olah's "Calculus on Computational
Graphs": at a=2, b=1, de/da = 2 and de/db = 5 (= 2 via c plus 3 via d).
Run it: python examples/fan_out.py
"""

import symprop
from symprop.render.text import render_text

graph = symprop.Graph.from_formulas(["c = a + b", "d = b + 1", "e = c*d"])
bp = symprop.backward(graph, {"a": 2, "b": 1})
print(render_text(bp))

b = bp.gradients["b"]  # right to left, c before d: 2 via c, then 3 via d
assert b.is_fan_in and [s.product.value for s in b.steps] == [2, 3] and b.value == 5
