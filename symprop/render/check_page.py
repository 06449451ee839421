"""A gradient-check report as a web page: the table, the verdict, and each finding's derivation as math.

The page is built like the walkthrough's (:mod:`.page`): self-contained, the
window's width, a clean print. The table is the text report's (each row's
status coloured), and the exact derivation of a wrong entry is written step
by step in MathML, ``∂L/∂v = ∂L/∂n · ∂n/∂v = upstream · local = product``,
from the recorded steps. (:func:`.check.check_html` stays the fragment
Jupyter shows.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..backprop import FanIn, Step
from ..notation import once
from .check import MAX_DERIVATION_LINES, _cells, _derivation_title, _headers, _title, _verdict, shown_rows
from .mathml import math, mathml_expr, mathml_label, mathml_value, mo, mrow, mtext, paren, partial
from .numbers import DEFAULT_DIGITS
from .page import escape, page

if TYPE_CHECKING:  # pragma: no cover
    from ..check import Derivation, GradcheckReport

__all__ = ["render_report_html"]

_CLASSES = {"ok": "ok", "kink": "kink"}


def _step(derivation: "Derivation", event: Step | FanIn, digits: int) -> str:
    bp = derivation.backward
    graph = bp.graph
    out = graph.label(graph.output)
    d = lambda label: partial(mathml_label(out), mathml_label(label))  # noqa: E731
    value = lambda v: mathml_value(v, digits)  # noqa: E731
    if isinstance(event, FanIn):
        adjoint = event.adjoint
        parts = []
        for k, s in enumerate(adjoint.steps):  # a negative term after the first in parentheses, as in the text
            term = value(s.product.value)
            parts += [mo("+"), paren(term, s.product.value)] if k else [term]
        return math(mrow(d(graph.label(adjoint.symbol)), mo("="), mtext(f"sum of {len(adjoint.steps)} branches "),
                         mo("="), *parts, mo("="), value(adjoint.value)))
    n, v = graph.label(event.node), graph.label(event.input)
    via = (mtext(f" (via {n})"),) if bp.adjoints[event.input].is_fan_in else ()
    relabel = {s: s.func(graph.label(s)) for s in event.local.expr.free_symbols if graph.label(s) != s.name}
    local = event.local.expr.xreplace(relabel) if relabel else event.local.expr
    up = paren(value(event.upstream.value), event.upstream.value)
    forms = once([mrow(d(n), mo("·"), partial(mathml_label(n), mathml_label(v))),
                  mrow(up, mo("·"), paren(mathml_expr(local, digits), local)),
                  mrow(up, mo("·"), paren(value(event.local.value), event.local.value)), value(event.product.value)])
    return math(mrow(d(v), *via, *(piece for form in forms for piece in (mo("="), form))))


def _derivation(report: "GradcheckReport", finding, digits: int) -> str:
    derivation = finding.derivation
    if derivation is None:
        return ""
    items = []
    for k, event in enumerate(derivation.steps):
        if k == MAX_DERIVATION_LINES:
            items.append(f"<li>… {len(derivation.steps) - MAX_DERIVATION_LINES} more steps</li>")
            break
        items.append(f"<li>{_step(derivation, event, digits)}</li>")
    if derivation.total:
        items.append(f"<li>{escape(derivation.total)}</li>")
    return f"<p>{escape(_derivation_title(report, finding))}</p><ol class='derivation'>{''.join(items)}</ol>"


def render_report_html(report: "GradcheckReport", *, digits: int = DEFAULT_DIGITS) -> str:
    """The report as one self-contained HTML page."""
    headers = "".join(f"<th{' class=num' if 0 < k < 4 else ''}>{escape(h)}</th>"
                      for k, h in enumerate(_headers(report)))
    rows = []
    shown, note = shown_rows(report)
    for row in shown:
        cells = _cells(row)
        status = _CLASSES.get(row.status, "bad")
        rows.append("<tr>" + "".join(f"<td{' class=num' if 0 < k < 4 else ''}><code>{escape(c)}</code></td>"
                                     for k, c in enumerate(cells[:4]))
                    + f'<td class="{status}">{escape(cells[4])}</td></tr>')
    verdict = _verdict(report)
    body = [f'<div class="scroll"><table class="report"><thead><tr>{headers}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table></div>", *([f"<p>{escape(note)}</p>"] if note else []),
            f'<p class="{"ok" if report.passed else "bad"}">{escape(verdict)}</p>']
    for finding in report.findings:
        body.append(f"<h2>{escape(finding.param or 'the function')}</h2><p>{escape(finding.message)}</p>")
        if finding.hints:
            body.append("<ul>" + "".join(f"<li>hint: {escape(h)}</li>" for h in finding.hints) + "</ul>")
        body.append(_derivation(report, finding, digits))
    title = _title(report)
    return page(title, escape(f"Gradient check of {report.output}"), "<main>" + "".join(body) + "</main>",
                subtitle=escape(title))
