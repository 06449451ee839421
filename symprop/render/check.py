"""A gradient-check report as plain text, rich, Markdown, HTML, and JSON-ready data.

Each renderer reads the report's rows and findings (and the recorded backward
steps a finding carries); none computes anything.
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from typing import TYPE_CHECKING, Any, Callable

import sympy

from ..backprop import FanIn, Step
from ..notation import chain, paren, plus
from .matrix import fitted
from .numbers import format_expr, format_value

if TYPE_CHECKING:  # pragma: no cover
    from ..check import Derivation, Finding, GradcheckReport, Row

__all__ = ["check_text", "check_rich", "check_markdown", "check_html", "derivation_lines", "shown_rows"]

#: At most this many derivation lines per finding (a big batch has many).
MAX_DERIVATION_LINES = 40
#: A report of more rows than this shows only rows that do not agree (at most :data:`MAX_OTHERS_SHOWN`; the
#: findings below the table say which entries and by how much) and counts the rest; ``--json`` (and
#: ``report.rows``) keeps every row.
MAX_ROWS_SHOWN = 500
MAX_OTHERS_SHOWN = 40
HEADERS = ("param", "exact", "numeric", "rel. error", "ok")
AGAINST_HEADERS = ("param", "exact", "yours", "rel. error", "ok")
MARKS = {"ok": "ok", "wrong": "WRONG", "kink": "kink", "nan": "NaN", "missing": "missing", "shape": "bad shape",
         "invalid": "not numbers", "error": "error"}
STYLES = {status: ("green" if status == "ok" else "yellow" if status == "kink" else "bold red") for status in MARKS}


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.10g}"


def _error(value: float) -> str:
    return "-" if math.isinf(value) else f"{value:.2e}"


def _title(report: "GradcheckReport") -> str:
    if report.against == "finite differences":
        return (
            f"Gradient check of {report.output}: exact vs central finite differences "
            f"(eps {report.eps:g}, rtol {report.rtol:g}, floor {report.floor:g})"
        )
    if report.scale:
        floor = f"floor {report.floor:g} × {report.scale:.4g}, the gradient scale"
    else:
        floor = f"floor {report.floor:g}{'; every exact gradient is 0' if report.scale == 0 else ''}"
    return f"Gradient check of {report.output}: exact vs {report.against} (rtol {report.rtol:g}, {floor})"


def shown_rows(report: "GradcheckReport") -> tuple[list["Row"], str | None]:
    """The rows a report shows, and a line saying what it leaves out (None: every row is shown).

    A check of every entry of a big network (``--against`` on 79,510 entries) would
    otherwise print a table nobody reads before its verdict.
    """
    rows = report.rows
    if len(rows) <= MAX_ROWS_SHOWN:
        return list(rows), None
    other = [r for r in rows if r.status != "ok"]
    agree = len(rows) - len(other)
    note = f"({agree:,} of the {len(rows):,} rows agree and are not shown"
    if len(other) > MAX_OTHERS_SHOWN:
        note += f"; the first {MAX_OTHERS_SHOWN} of the {len(other):,} others are"
    return other[:MAX_OTHERS_SHOWN], note + "; --json lists every row)"


def _headers(report: "GradcheckReport") -> tuple[str, ...]:
    return HEADERS if report.against == "finite differences" else AGAINST_HEADERS


def _cells(row: "Row") -> tuple[str, ...]:
    return (row.param, _number(row.symbolic), _number(row.numeric), _error(row.rel_error), MARKS[row.status])


def _verdict(report: "GradcheckReport") -> str:
    total = len(report.rows)
    agree = sum(r.status == "ok" for r in report.rows)
    kinks = sum(r.status == "kink" for r in report.rows)
    kink_text = f", {kinks} at a kink (not judged)" if kinks else ""
    if report.passed:
        return f"passed: {agree} of {total} agree{kink_text}{_sampling(report)}"
    culprits = ", ".join(report.wrong_params)
    return f"FAILED: {agree} of {total} agree{kink_text}; wrong: {culprits or 'the function itself'}{_sampling(report)}"


def _sampling(report: "GradcheckReport") -> str:
    """What a sparse check left out, said with its verdict."""
    if not report.sampled:
        return ""
    entries = report.entries or {}
    return (f" (checked {entries['checked']:,} of {entries['total']:,} entries: a seeded random "
            f"{entries['per_tensor']:,} of each parameter tensor with more; --entries all checks every one)")


def _labelled(bp, expr) -> str:
    """An expression with each symbol written as its label (``a1_2`` as ``a1[2]``)."""
    graph = bp.graph
    relabel = {s: sympy.Symbol(graph.label(s)) for s in expr.free_symbols if graph.label(s) != s.name}
    return format_expr(expr.xreplace(relabel) if relabel else expr)


def _step(bp, step: Step, digits: int) -> str:
    """``dL/dz1[0] = dL/da1[0] · ∂a1[0]/∂z1[0] = 0.12 · (a1[0]*(1 - a1[0])) = 0.12 · 0.25 = 0.03``,
    factors written as ``explain`` writes them (``0.5 · (-2)``), a repeated form once."""
    out, label = bp.graph.output.name, bp.graph.label
    n, v = label(step.node), label(step.input)
    via = f" (via {n})" if bp.adjoints[step.input].is_fan_in else ""
    value = lambda x: paren(format_value(x, digits))  # noqa: E731
    upstream = value(step.upstream.value)
    return f"d{out}/d{v}{via} = " + chain([
        f"d{out}/d{n} · ∂{n}/∂{v}", f"{upstream} · {paren(_labelled(bp, step.local.expr))}",
        f"{upstream} · {value(step.local.value)}", format_value(step.product.value, digits),
    ])


def _fan_in(bp, event: FanIn, digits: int) -> str:
    out, adjoint = bp.graph.output.name, event.adjoint
    parts = plus(format_value(s.product.value, digits) for s in adjoint.steps)
    total = format_value(adjoint.value, digits)
    return f"d{out}/d{bp.graph.label(adjoint.symbol)} = sum of {len(adjoint.steps)} branches = {parts} = {total}"


def derivation_lines(derivation: "Derivation | None", digits: int = 6) -> list[str]:
    """The derivation's steps as one line each, right to left (bounded), then the batch total."""
    if derivation is None:
        return []
    bp, lines = derivation.backward, []
    for event in derivation.steps:
        if len(lines) == MAX_DERIVATION_LINES:
            lines.append(f"... {len(derivation.steps) - MAX_DERIVATION_LINES} more steps")
            break
        lines.append(_fan_in(bp, event, digits) if isinstance(event, FanIn) else _step(bp, event, digits))
    if derivation.total:
        lines.append(derivation.total)
    return lines


def _derivation_title(report: "GradcheckReport", finding: "Finding") -> str:
    d = finding.derivation
    source = f" ({d.source})" if d and d.source else ""
    return f"the exact derivation of d{report.output}/d{d.entry if d else ''}{source}, right to left:"


#: A formula in a sentence: names joined by `` = `` and `` · `` (``dL/dW1 = dL/dz1 · ∂z1/∂W1``).
_FORMULA = re.compile(r"[^\s,;:]+(?: [=·] [^\s,;:]+)+")


def _words(text: str, width: int | None, first: str = "", more: str = "  ") -> list[str]:
    """A sentence within ``width`` columns (None: one line), its further lines after ``more``; a
    formula in it that fits on a line is kept whole (``dL/dz1 · ∂z1/∂W1`` is never cut at its ``·``)."""
    if width is None:
        return [first + text]
    room = width - len(more)
    glued = _FORMULA.sub(lambda m: m.group().replace(" ", "\x00") if len(m.group()) <= room else m.group(), text)
    lines = textwrap.wrap(glued, width, initial_indent=first, subsequent_indent=more,
                          break_on_hyphens=False, break_long_words=False) or [first.rstrip()]
    return [line.replace("\x00", " ") for line in lines]


def _chain(text: str, width: int | None, indent: int) -> list[str]:
    """A derivation step within ``width``: continued at its `` = `` signs, ``indent`` columns further in."""
    if width is None:
        return [text]
    pieces = text.split(" = ")
    parts = [pieces[0]] + [p for piece in pieces[1:] for p in (" = ", piece)]
    return fitted(parts, width - indent, indent=4).split("\n")


def check_text(report: "GradcheckReport", *, width: int | None = None) -> str:
    """The report as plain text: title, table, verdict, then each finding.

    ``width``: lines wrap within it (the command line passes the terminal's,
    80 on a pipe); None keeps each sentence on one line, as ``str(report)`` does.
    """
    shown, note = shown_rows(report)
    rows = [_headers(report), *(_cells(r) for r in shown)]
    widths = [max(len(row[k]) for row in rows) for k in range(len(HEADERS))]
    lines = _words(_title(report), width)
    for row in rows if shown or not note else []:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:4], widths[1:4])] + [row[4]]
        lines.append("  " + "  ".join(cells))
    if note:
        lines += _words(note, width, "  ", "  ")
    lines += _words(_verdict(report), width)
    for finding in report.findings:
        lines.append("")
        lines += _words(finding.message, width)
        for hint in finding.hints:
            lines += _words(hint, width, "  hint: ", "    ")
        steps = derivation_lines(finding.derivation)
        if steps:
            lines += _words(_derivation_title(report, finding), width, "  ", "    ")
            lines += [f"    {part}" for line in steps for part in _chain(line, width, 4)]
    return "\n".join(lines) + "\n"


def check_rich(report: "GradcheckReport"):
    """The report as a rich renderable (a table, the verdict, the findings)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, highlight=False)
    for k, header in enumerate(_headers(report)):
        table.add_column(header, justify="left" if k in (0, 4) else "right", no_wrap=k == 0, overflow="fold")
    shown, note = shown_rows(report)
    for row in shown:
        cells = _cells(row)
        table.add_row(*(Text(c) for c in cells[:4]), Text(cells[4], style=STYLES[row.status]))
    verdict = Text(_verdict(report), style="bold green" if report.passed else "bold red")
    parts: list[Any] = [Text(_title(report), style="bold")] + ([table] if shown or not note else [])
    if note:
        parts.append(_Fitted(lambda w: _words(note, w, "  ", "  "), "dim"))
    parts.append(verdict)
    for finding in report.findings:
        parts.append(Text(""))
        parts.append(_Fitted(lambda w, m=finding.message: _words(m, w), "yellow" if finding.kind == "kink" else "red"))
        parts.extend(_Fitted(lambda w, h=hint: _words(h, w, "  hint: ", "    "), "cyan") for hint in finding.hints)
        steps = derivation_lines(finding.derivation)
        if steps:
            title = _derivation_title(report, finding)
            parts.append(_Fitted(lambda w, t=title: _words(t, w, "  ", "    "), "dim"))
            parts.append(_Fitted(lambda w, s=steps: [f"    {part}" for line in s for part in _chain(line, w, 4)]))
    return Group(*parts)


class _Fitted:
    """Lines rich lays out at its console's width as the text report wraps them (a formula kept whole)."""

    def __init__(self, lines: Callable[[int], list[str]], style: str = ""):
        self.lines, self.style = lines, style

    def __rich_console__(self, console, options):
        from rich.text import Text

        for line in self.lines(options.max_width):
            yield Text(line, style=self.style)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def check_markdown(report: "GradcheckReport") -> str:
    """The report as Markdown (a table, the verdict, the findings with their derivations)."""
    lines = [f"**{_md(_title(report))}**", "", "| " + " | ".join(_headers(report)) + " |", "|---|---:|---:|---:|---|"]
    shown, note = shown_rows(report)
    for row in shown:
        lines.append("| " + " | ".join(_md(c) for c in _cells(row)) + " |")
    if note:
        lines += ["", _md(note)]
    lines += ["", f"**{_md(_verdict(report))}**"]
    for finding in report.findings:
        lines += ["", f"- {_md(finding.message)}"]
        lines += [f"  - hint: {_md(hint)}" for hint in finding.hints]
        steps = derivation_lines(finding.derivation)
        if steps:
            lines += ["", f"  {_md(_derivation_title(report, finding))}", "", "  ```text"]
            lines += [f"  {line}" for line in steps]
            lines.append("  ```")
    return "\n".join(lines) + "\n"


def check_html(report: "GradcheckReport") -> str:
    """The report as an HTML fragment (for Jupyter)."""
    e = html.escape
    colours = {"ok": "green", "kink": "darkorange"}
    out = [f"<div><p><b>{e(_title(report))}</b></p><table>"]
    out.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in _headers(report)) + "</tr>")
    shown, note = shown_rows(report)
    for row in shown:
        cells = _cells(row)
        colour = colours.get(row.status, "red")
        out.append(
            "<tr>"
            + "".join(f"<td style='text-align:{'left' if k == 0 else 'right'}'><code>{e(c)}</code></td>" for k, c in enumerate(cells[:4]))
            + f"<td style='color:{colour}'><b>{e(cells[4])}</b></td></tr>"
        )
    out.append("</table>")
    if note:
        out.append(f"<p>{e(note)}</p>")
    out.append(f"<p style='color:{'green' if report.passed else 'red'}'><b>{e(_verdict(report))}</b></p>")
    for finding in report.findings:
        out.append(f"<p>{e(finding.message)}</p>")
        if finding.hints:
            out.append("<ul>" + "".join(f"<li>hint: {e(h)}</li>" for h in finding.hints) + "</ul>")
        steps = derivation_lines(finding.derivation)
        if steps:
            out.append(f"<p>{e(_derivation_title(report, finding))}</p><pre>{e(chr(10).join(steps))}</pre>")
    out.append("</div>")
    return "\n".join(out)
