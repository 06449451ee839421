"""``symprop explain``: the step-by-step walkthrough."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ..graph import to_number
from . import streams
from .common import add_output_arguments, add_source_arguments, add_view_argument, check_walkthrough_size, load_problem, matrix_walkthrough, network_walkthrough, write_output

FORMATS = ["rich", "text", "markdown", "latex", "html", "svg", "json"]

#: ``--output walk.md`` without ``--format`` picks the format from the suffix.
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".html": "html", ".htm": "html",
            ".svg": "svg", ".json": "json", ".txt": "text"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain",
        help="walk through the backward pass step by step",
        description="Print the forward pass, then every local derivative and chain-rule product "
        "from the output back to the parameters, then each parameter's gradient.",
    )
    add_source_arguments(parser)
    add_format_arguments(parser)
    add_view_argument(parser)
    return parser


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: rich on a terminal; else from the --output suffix "
        ".md/.tex/.html/.svg/.json; else text)",
    )
    add_output_arguments(parser)
    parser.add_argument(
        "--expanded",
        action="store_true",
        help="show every expanded gradient and upstream expression in full (default: only the short ones)",
    )
    parser.add_argument("--lr", metavar="ETA", help="a learning rate: also show the update w <- w - ETA * dL/dw")


def render(
    bp,
    fmt: str | None,
    digits: int,
    output: str | None,
    *,
    expanded: bool = False,
    lr: str | None = None,
) -> str:
    """The walkthrough of a recorded backward pass in one format."""
    fmt = resolve_format(fmt, output)
    options = {"digits": digits, "expanded": True if expanded else None, "lr": _learning_rate(lr, bp)}
    if fmt == "json":
        from ..render.json import dumps, explain_dict

        return dumps(explain_dict(bp, lr=options["lr"]))
    if fmt == "rich":
        from ..render.rich import render_rich

        terminal = output is None and streams.stdout_is_terminal()
        color = terminal and streams.color_wanted()
        return render_rich(bp, **options, color=color, width=streams.terminal_width() if terminal else 80)
    module, function = {
        "text": ("text", "render_text"),
        "markdown": ("markdown", "render_markdown"),
        "latex": ("latex", "render_latex"),
        "html": ("html", "render_html"),
        "svg": ("svg", "render_svg"),
    }[fmt]
    renderer = getattr(importlib.import_module(f"..render.{module}", __package__), function)
    return renderer(bp, **options)


def resolve_format(fmt: str | None, output: str | None) -> str:
    """``--format``, else rich on a terminal, else from the ``--output`` suffix, else text."""
    if fmt is None:
        if output is None:
            fmt = "rich" if streams.stdout_is_terminal() else "text"
        else:
            fmt = SUFFIXES.get(Path(output).suffix.lower(), "text")
    return fmt


def _learning_rate(text: str | None, bp):
    if text is None:
        return None
    exact = all(getattr(v, "is_Rational", False) for v in bp.values.values())
    return to_number(text, name="--lr", exact=exact)


def run(args: argparse.Namespace) -> int:
    problem = load_problem(args)
    fmt = resolve_format(args.format, args.output)
    if args.view == "matrix":
        write_output(matrix_walkthrough(problem, fmt, args.digits), args.output)
        return 0
    check_walkthrough_size(problem)
    text = render(problem.backward(), fmt, args.digits, args.output, expanded=args.expanded, lr=args.lr)
    write_output(network_walkthrough(problem, fmt, text, args.digits), args.output)
    return 0
