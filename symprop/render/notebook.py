"""How symprop's objects look in a notebook: each one short, as a picture, a table or mathematics.

Jupyter shows an object by the richest form it offers (HTML, then Markdown,
LaTeX, SVG, then plain text); :mod:`symprop.render.displays` registers these
functions for the classes they show. A graph is its picture (SVG from
Graphviz's ``dot``, or a table of its nodes without it), a network its layers
with their shapes and its parameter count, the compiled code a summary with the
source folded away, the matrix view its matrices in LaTeX (in Markdown, its names as code), a table (of
activations, losses, ...) its entries. None of them derives anything, and none
prints the thousands of numbers some of these objects hold.
"""

from __future__ import annotations

import html
import math
import shutil
from typing import Any

import sympy

from .markdown import code, table

__all__ = [
    "backward_markdown",
    "backward_latex",
    "MAX_NOTEBOOK_STEPS",
    "graph_html",
    "graph_svg",
    "architecture_markdown",
    "network_markdown",
    "compiled_html",
    "matrix_view_markdown",
    "matrix_latex",
    "registry_markdown",
    "spec_markdown",
    "parameter_count",
    "MAX_MATRIX",
]

#: A matrix with more rows or columns than this is shown by its shape only (MathJax slows to a crawl).
MAX_MATRIX = 12


# -- graphs ---------------------------------------------------------------------


def graph_svg(graph: Any) -> str | None:
    """The graph's picture as SVG (its formulas, no values), or None without Graphviz."""
    if shutil.which("dot") is None:
        return None
    from .dot import render_dot, to_svg

    return to_svg(render_dot(graph))


def graph_html(graph: Any) -> str:
    """The picture inline (Graphviz), else a table of the nodes: name, formula, inputs."""
    svg = graph_svg(graph)
    if svg is not None:
        return svg[svg.index("<svg"):]
    params = set(graph.params)
    rows = [[graph.label(s), "(parameter)" if s in params else "(input)", ""] for s in graph.leaves]
    for node in graph.nodes:
        rows.append([graph.label(node.symbol), str(node).split(" = ", 1)[1],
                     ", ".join(graph.label(s) for s in node.inputs)])
    body = "".join(
        "<tr>" + "".join(f"<td><code>{html.escape(cell)}</code></td>" for cell in row) + "</tr>" for row in rows
    )
    note = "(install Graphviz's <code>dot</code> to see it drawn)"
    return (f"<p>Graph of {len(graph.nodes)} nodes, output <code>{html.escape(graph.label(graph.output))}</code> "
            f"{note}</p><table><tr><th>name</th><th>formula</th><th>inputs</th></tr>{body}</table>")


# -- backward passes ----------------------------------------------------------------

#: A backward pass of more chain-rule steps than this shows its gradients only: a notebook (and
#: MathJax) would take minutes over the thousands of rows of a network's walkthrough.
MAX_NOTEBOOK_STEPS = 400


def backward_markdown(bp: Any) -> str:
    """The walkthrough as Markdown tables with LaTeX math; past :data:`MAX_NOTEBOOK_STEPS`, the loss and
    the first gradients, saying how to see the rest."""
    from .markdown import render_markdown

    if len(bp.steps) <= MAX_NOTEBOOK_STEPS:
        return render_markdown(bp, math=True, heading="####")
    grads = list(bp.gradients.items())
    rows = [[code(f"dL/d{name}"), f"{float(adjoint.value):.6g}"] for name, adjoint in grads[:20]]
    lines = [f"**Backward pass** of {len(bp.steps):,} chain-rule steps: loss {float(bp.loss):.6g}; "
             f"{len(grads):,} gradients" + (", the first 20:" if len(grads) > 20 else ":"), ""]
    lines += table(["gradient", "value"], rows, "lr")
    lines += ["", "(Too many steps to show here: `symprop.render.markdown.render_markdown(bp)` writes them all, "
              "and `symprop.matrix_view(network)` shows a network's layer by layer.)"]
    return "\n".join(lines) + "\n"


def backward_latex(bp: Any) -> str | None:
    """The backward pass as one aligned display, or None past :data:`MAX_NOTEBOOK_STEPS`."""
    from .latex import notebook_latex

    return notebook_latex(bp) if len(bp.steps) <= MAX_NOTEBOOK_STEPS else None


# -- networks ---------------------------------------------------------------------


def parameter_count(arch: Any) -> int:
    """How many numbers the architecture learns."""
    return sum(math.prod(shape) for shape in arch.param_shapes().values())


_SHAPES = {"mn": "(m, {})", "n": "({},)", "m": "(m,)"}  # the intermediates' axes, as numpy arrays have them


def _layer_rows(arch: Any) -> list[list[str]]:
    from ..nn.layers import walk

    widths = arch.intermediates()
    rows = [["input", code(f"x (m, {arch.n_inputs})"), ""]]
    for layer in walk(arch.stack):
        outputs = ", ".join(f"{name} {_SHAPES[widths[name][0]].format(widths[name][1])}"
                            for name, _ in layer.intermediates())
        shapes = layer.param_shapes()
        params = ", ".join(f"{name} {tuple(shape)}" for name, shape in shapes.items())
        if shapes:
            params += f": {sum(math.prod(shape) for shape in shapes.values())}"
        rows.append([layer.describe, code(outputs) if outputs else "", code(params) if params else ""])
    return rows


def architecture_markdown(arch: Any) -> str:
    """A network's layers (what each makes, with its shape; its parameters) and its parameter count."""
    name = type(arch).__name__
    lines = [f"**{name}** {code(arch.summary)}: {parameter_count(arch):,} parameters", ""]
    lines += table(["layer", "values (m samples)", "parameters"], _layer_rows(arch))
    return "\n".join(lines) + "\n"


def network_markdown(network: Any) -> str:
    """The architecture, the data's shapes and the loss at the current parameters."""
    loss = network.loss()
    head = architecture_markdown(network.mlp)
    data = (f"on {network.samples:,} sample{'s' if network.samples != 1 else ''} "
            f"(x {tuple(network.x.shape)}, y {tuple(network.y.shape)}); loss {loss:.6g} at these parameters")
    return head + "\n" + data + "\n"


def compiled_html(compiled: Any) -> str:
    """What was compiled and derived; the generated source folded away."""
    lines = compiled.source.count("\n")
    derived = "".join(f"<li><code>{html.escape(str(d))}</code></li>" for d in compiled.derivations)
    return (
        f"<p><b>Compiled</b> <code>{html.escape(compiled.mlp.summary)}</code>: "
        f"<code>loss_and_grads(params, x, y)</code> and <code>forward(params, x)</code>, "
        f"{lines} lines of numpy</p>"
        + (f"<p>derived with <code>sympy.diff</code>:</p><ul>{derived}</ul>" if derived else "")
        + f"<details><summary>the source</summary><pre>{html.escape(compiled.source)}</pre></details>"
    )


# -- the matrix view ----------------------------------------------------------------


def _number(value: sympy.Expr, digits: int) -> sympy.Expr:
    return value if value.is_Rational else sympy.Symbol(f"{float(value):.{digits}g}")


def matrix_latex(matrix: sympy.MatrixBase, digits: int = 4) -> str:
    """A matrix of values as a LaTeX ``bmatrix`` (``digits`` digits; past :data:`MAX_MATRIX`, its shape)."""
    if matrix.rows > MAX_MATRIX or matrix.cols > MAX_MATRIX:
        return rf"\text{{(a {matrix.rows} by {matrix.cols} matrix)}}"
    if all(v.is_number for v in matrix):
        matrix = matrix.applyfunc(lambda v: _number(v, digits))
    return sympy.latex(matrix, mat_str="bmatrix", mat_delim="")


def _side(side: Any, digits: int) -> str:
    if isinstance(side, sympy.MatrixBase):
        return f"${matrix_latex(side, digits)}$"
    if isinstance(side, sympy.Basic):
        return f"${sympy.latex(side)}$"
    return code(str(side))


def matrix_view_markdown(view: Any, *, digits: int = 4) -> str:
    """The matrix view for a notebook: each equation a line, its names as code and its matrices as
    LaTeX ``bmatrix`` (MathJax in Jupyter; amsmath when nbconvert makes a PDF), ``digits`` digits."""
    m = len(view.samples)
    columns = "one sample" if m == 1 else f"{m} samples as columns"
    lines = [f"#### Matrix view ({columns}), forward layer by layer", "",
             f"{code('a0 = x')} = {_side(view.input, digits)}", ""]

    def add(item: tuple) -> None:
        if item[0] == "stage":
            lines.extend([f"**layer {item[1]}**" + (f" ({item[2]})" if item[2] else ""), ""])
        elif item[0] == "text":
            lines.extend([code(item[1].strip()), ""])
        else:
            _, name, sides, note = item
            text = " = ".join([code(name), *(_side(side, digits) for side in sides)])
            lines.extend([text + (f" {note.strip()}" if note.strip() else ""), ""])

    for item in view.forward_items:
        add(item)
    loss = view.loss if view.loss.is_Rational else sympy.Symbol(f"{float(view.loss):.6g}")
    lines.extend([f"loss {code('L')} = ${sympy.latex(loss)}$", "", "#### Backward pass, right to left", ""])
    for item in view.backward_items:
        add(item)
    return "\n".join(lines)


# -- tables and specs ---------------------------------------------------------------


def _describe(entry: Any) -> str:
    for attribute in ("math", "description"):
        text = getattr(entry, attribute, None)
        if isinstance(text, str) and text:
            return text
    doc = (getattr(entry, "__doc__", None) or "").strip().split("\n")[0]
    return doc


def registry_markdown(registry: Any) -> str:
    """A table (activations, losses, layers, optimizers, formats) as name and what it is."""
    rows = [[code(name), _describe(entry)] for name, entry in registry.items()]
    kinds = registry.kind + ("es" if registry.kind.endswith("s") else "s")  # losses
    return "\n".join([f"**{len(registry)} {kinds}**", "", *table([registry.kind, "what it is"], rows)]) + "\n"


def spec_markdown(spec: Any) -> str:
    """A spec file's content: its network (and training settings), or its graph's formulas and point."""
    network = getattr(spec, "network", None)
    if network is not None:
        text = network_markdown(network)
        train = getattr(spec, "train", None)
        if train is not None:
            text += (f"\ntraining: {train.steps:,} steps of {train.optimizer}, "
                     f"learning rate {train.learning_rate:g}\n")
        return text
    graph = spec.graph
    lines = [f"**Graph** of {len(graph.nodes)} nodes at " + (", ".join(f"{k} = {v}" for k, v in spec.at.items()) or
                                                           "no point"), ""]
    lines += [f"- {code(formula)}" for formula in graph.formulas()]
    return "\n".join(lines) + "\n"
