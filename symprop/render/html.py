"""The walkthrough as a web page: one self-contained HTML file with real math, the graph, and a stepper.

The page has a title, the leaves and the forward pass, the backward pass
right to left (each step's equation, upstream factor, local derivative,
product and rule), the rules used, the gradients and the update, as MathML
(:mod:`.mathml`); beside them the computation graph as inline SVG
(:mod:`.graph_svg`). Each backward row names its node, its input and the
edge between them, so the stepper of :mod:`.page` (Next / Previous, the
arrow keys) marks them in the graph as it walks the pass. Nothing is loaded
from anywhere: no fonts, scripts or styles from the network.
"""

from __future__ import annotations

import sympy

from ..backprop import BackwardPass
from .graph_svg import edge_key, graph_svg, node_keys
from .mathml import inline_math, math, mathml_expr, mathml_label, mathml_value, mo, mrow, mtext, paren, partial
from .numbers import DEFAULT_DIGITS
from .page import escape, page
from .walkthrough import StepRow, SumRow, Walkthrough, no_advice, reading_order

__all__ = ["render_html"]


class _Writer:
    """How one walkthrough writes labels, expressions and values as MathML."""

    def __init__(self, walk: Walkthrough):
        self.walk, self.out = walk, walk.out
        self.digits, self.exact = walk.digits, walk.exact_forms

    def label(self, text: str) -> str:
        return mathml_label(text, self.out)

    def d(self, text: str) -> str:
        """``∂L/∂text``."""
        return partial(mathml_label(self.out), mathml_label(text))

    def local(self, node: str, text: str) -> str:
        return partial(mathml_label(node), mathml_label(text))

    def expr(self, e: sympy.Expr, *, written: bool = False) -> str:
        return mathml_expr(e, self.digits, self.out, written=written)

    def value(self, v: sympy.Expr) -> str:
        return mathml_value(v, self.digits, exact=self.exact)

    def factor(self, expr: sympy.Expr | None, value: sympy.Expr, name: str | None = None) -> str:
        """``expr = value``; the value alone where the expression is a number; ``∂L/∂n = value`` by name."""
        if expr is None:
            return mrow(self.d(name), mo("="), self.value(value)) if name else self.value(value)
        if expr.is_Number:
            return self.value(value)
        return mrow(self.expr(expr), mo("="), self.value(value))


def _cells(*cells: tuple[str, str]) -> str:
    return "".join(f'<td class="{cls}">{content}</td>' if cls else f"<td>{content}</td>" for cls, content in cells)


def _forward(walk: Walkthrough, w: _Writer) -> str:
    rows = []
    for r in walk.forward:
        if r.formula is None:  # the leaves are in the heading's "at ..."
            continue
        formula = f"<td>{inline_math(w.expr(r.formula, written=r.written))}</td>"
        rows.append(f'<tr><td>{math(w.label(r.label))}</td>{formula}'
                    f'<td class="num value">{math(w.value(r.value))}</td></tr>')
    return ('<div class="scroll"><table class="forward"><thead><tr><th>node</th><th>formula, as written</th><th class="num">value</th>'
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


def _step_row(walk: Walkthrough, w: _Writer, row: StepRow, keys: dict) -> str:
    step = row.step
    head = mrow(w.d(row.input), *((mtext(f" (via {row.branch})"),) if row.via else ()), mo("=", breakable=True),
                w.d(row.node), mo("·"), w.local(row.node, row.input))
    named = row.node if row.upstream is None and not step.upstream.expr.is_Number else None
    upstream = w.factor(row.upstream, step.upstream.value, named)
    local = w.factor(row.local, step.local.value)
    product = w.value(step.product.value)
    rule = ""
    if row.rule is not None:
        singles = row.rule.parts or (row.rule,)
        forms = "; ".join(r.form for r in singles)
        rule = f'{escape(row.rule.name)}<span class="form">{escape(forms)}</span>'
    numbers = mrow(paren(w.value(step.upstream.value), step.upstream.value), mo("·"),
                   paren(w.value(step.local.value), step.local.value))
    caption = math(mrow(head, mo("="), numbers, mo("="), product)) + (f" [{escape(row.rule.name)}]" if row.rule else "")
    data = (f'data-step data-node="{keys[step.node]}" data-input="{keys[step.input]}" '
            f'data-edges="{edge_key(keys, step.input, step.node)}"')
    return (f"<tr {data}>" + _cells(("eq", inline_math(head, wrap=0)), ("", inline_math(upstream, wrap=24)),
                                     ("", inline_math(local, wrap=24)),
                                     ("num product", math(f"<mstyle mathvariant='bold'>{product}</mstyle>")),
                                     ("rule", rule))
            + f'<td class="caption" hidden>{caption}</td></tr>')


def _sum_row(walk: Walkthrough, w: _Writer, row: SumRow, keys: dict) -> str:
    adjoint = row.adjoint
    vias = []
    for k, (via, value) in enumerate(zip(row.vias, row.values)):
        vias += ([mo("+", breakable=True)] if k else []) + [paren(w.value(value), value)]
    names = [mtext(f"(via {via})") for via in row.vias]
    head = mrow(w.d(row.input), mo("="), *(m for k, name in enumerate(names)
                                           for m in ([mo("+", breakable=True)] if k else []) + [name]))
    total = w.value(adjoint.value)
    edges = " ".join(dict.fromkeys(edge_key(keys, adjoint.symbol, s.node) for s in adjoint.steps))
    caption = math(mrow(head, mo("="), *vias, mo("="), total))
    return (f'<tr data-step data-input="{keys[adjoint.symbol]}" data-edges="{edges}">'
            + _cells(("eq", inline_math(head, wrap=0)), ("", "sum of the branches"), ("", inline_math(mrow(*vias), wrap=24)),
                     ("num product", math(f"<mstyle mathvariant='bold'>{total}</mstyle>")), ("rule", ""))
            + f'<td class="caption" hidden>{caption}</td></tr>')


def _backward(walk: Walkthrough, w: _Writer, keys: dict) -> str:
    graph = walk.bp.graph
    one = math(mrow(w.d(walk.out), mo("="), "<mn>1</mn>"))
    rows = [f'<tr data-step data-node="{keys[graph.output]}">'
            + _cells(("eq", one), ("", ""), ("", ""), ("num product", math("<mn>1</mn>")),
                     ("rule", "the start: the output's gradient with respect to itself"))
            + f'<td class="caption" hidden>{one}</td></tr>']
    for row in walk.backward:
        rows.append(_sum_row(walk, w, row, keys) if isinstance(row, SumRow) else _step_row(walk, w, row, keys))
    chain = math(mrow(partial(mathml_label(walk.out), "<mi>v</mi>"), mo("="), partial(mathml_label(walk.out), "<mi>n</mi>"),
                      mo("·"), partial("<mi>n</mi>", "<mi>v</mi>")))
    return (f"<p>Each step: {chain}, the <b>upstream</b> gradient known from the right times the <b>local</b> "
            "derivative of the node; a variable used by several nodes adds up its branches.</p>"
            '<div class="scroll"><table class="backward"><thead><tr><th>step</th><th>upstream</th><th>local</th>'
            '<th class="num">product</th><th>rule</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")


def _gradients(walk: Walkthrough, w: _Writer) -> str:
    shown = any(r.expanded is not None for r in walk.gradients)
    rows = []
    for r in walk.gradients:
        expanded = f"<td>{inline_math(w.expr(r.expanded))}</td>" if shown and r.expanded is not None else "<td></td>" * shown
        rows.append(f"<tr><td>{math(w.d(r.label))}</td><td>{inline_math(w.expr(r.compact))}</td>{expanded}"
                    f'<td class="num value">{math(w.value(r.value))}</td></tr>')
    head = "<th>gradient</th><th>compact, in the nodes</th>" + ("<th>expanded, in the leaves</th>" if shown else "")
    out = (f'<div class="scroll"><table class="gradients"><thead><tr>{head}<th class="num">value</th></tr></thead><tbody>'
           + "".join(rows) + "</tbody></table></div>")
    if walk.omitted:
        out += f'<p class="note">({escape(no_advice(walk.omitted))}.)</p>'
    return out


def _update(walk: Walkthrough, w: _Writer) -> str:
    eta = w.value(walk.lr)
    rule = math(mrow("<mi>w</mi>", mo("←"), "<mi>w</mi>", mo("−"), "<mi>η</mi>", mo("·"),
                     partial(mathml_label(walk.out), "<mi>w</mi>"))) + ", " + math(mrow("<mi>η</mi>", mo("="), eta))
    rows = "".join(
        f"<tr><td>{math(w.label(r.label))}</td><td class='num'>{math(w.value(r.old))}</td>"
        f"<td class='num'>{math(mrow(mo('−'), eta, mo('·'), paren(w.value(r.grad), r.grad)))}</td>"
        f"<td class='num value'>{math(w.value(r.new))}</td></tr>"
        for r in walk.updates
    )
    return (f"<p>{rule}</p><table class='update'><thead><tr><th>parameter</th><th class='num'>old</th>"
            f"<th class='num'>step</th><th class='num'>new</th></tr></thead><tbody>{rows}</tbody></table>")


def _rules(walk: Walkthrough) -> str:
    rows = "".join(f"<tr><td>{escape(rule.name)}</td><td>{escape(rule.form)}</td></tr>" for rule in walk.rules)
    return ("<table class='rules'><thead><tr><th>rule</th><th>general form</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _title_markup(walk: Walkthrough, w: _Writer) -> str:
    """The page's heading: the loss as math where it is short."""
    formula = walk.loss_formula()
    if formula is None:
        return escape(walk.title())
    return f"Backpropagation through {math(mrow(w.label(walk.out), mo('='), w.expr(formula, written=walk.loss_written)))}"


def render_html(
    bp: BackwardPass,
    *,
    digits: int = DEFAULT_DIGITS,
    expanded: bool | None = None,
    lr: sympy.Expr | None = None,
    exact_forms: bool = False,
    graphviz: bool | None = None,
    width: int | None = None,
) -> str:
    """The walkthrough as one self-contained HTML page (``graphviz=False`` draws the graph without Graphviz).

    ``width`` is accepted for the other formats' sake and ignored: the page takes the window's width.
    """
    del width
    walk = Walkthrough(bp, digits=digits, expanded=expanded, lr=lr, exact_forms=exact_forms)
    w = _Writer(walk)
    keys = node_keys(bp)
    leaves = [r for r in reading_order(walk.forward) if r.formula is None]
    at = ", ".join(math(mrow(w.label(r.label), mo("="), w.value(r.value))) for r in leaves)
    kinds = {"parameter": "parameters", "input": "inputs"}
    counted = ", ".join(f"{sum(r.kind == kind for r in leaves)} {name}" for kind, name in kinds.items()
                        if any(r.kind == kind for r in leaves))
    notes = [counted] * bool(counted) + [escape(no_advice(walk.note))] * bool(walk.note)
    subtitle = f"at {at}" + "".join(f' <span class="note">({note})</span>' for note in notes)
    tables = [
        "<h2>Forward pass</h2>", _forward(walk, w),
        f"<p>Loss: {math(mrow(w.label(walk.out), mo('='), w.value(walk.loss)))}</p>",
        "<h2>Backward pass, right to left</h2>", _backward(walk, w, keys),
    ]
    if walk.rules:
        tables += ["<h2>Rules used</h2>", _rules(walk)]
    tables += ["<h2>Gradients</h2>", _gradients(walk, w)]
    if walk.updates:
        tables += ["<h2>Update</h2>", _update(walk, w)]
    svg, drawn_by = graph_svg(bp, digits=digits, graphviz=graphviz)
    if svg:
        figure = (f'<h2>Computation graph</h2><section class="figure" aria-label="computation graph">{svg}</section>'
                  f'<p class="note">Drawn by {escape(drawn_by)}: each box is a leaf or a node with its value and '
                  "gradient; an edge runs from an input to the node that uses it, with its local derivative "
                  f"{'on it' if drawn_by == 'Graphviz' else 'when the pointer rests on it'}.</p>")
    else:
        figure = f'<p class="note">({escape(drawn_by)}.)</p>'
    body = f'<main>{figure}{"".join(tables)}</main>'
    return page(walk.title(), _title_markup(walk, w), body, subtitle=subtitle,
                stepper="Press → or Next to walk the backward pass one step at a time.", graph=bool(svg))
