"""``symprop explain``: the step-by-step walkthrough."""

from __future__ import annotations

import argparse
import sys

from ..render.numbers import DEFAULT_DIGITS
from .common import add_source_arguments, load_problem, write_output

FORMATS = ["rich", "text", "json"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain",
        help="walk through the backward pass step by step",
        description="Print the forward pass, then every local derivative and chain-rule product "
        "from the output back to the parameters, then each parameter's gradient.",
    )
    add_source_arguments(parser)
    add_format_arguments(parser)
    return parser


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: rich on a terminal, text otherwise)",
    )
    parser.add_argument("--digits", type=_digits, default=DEFAULT_DIGITS, help="significant digits (default %(default)s)")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")


def _digits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 30:
        raise argparse.ArgumentTypeError("expected 1 to 30")
    return value


def render(bp, fmt: str | None, digits: int, output: str | None) -> str:
    """The walkthrough of a recorded backward pass in one format."""
    if fmt is None:
        fmt = "rich" if output is None and sys.stdout.isatty() else "text"
    if fmt == "json":
        from ..render.json import dumps, explain_dict

        return dumps(explain_dict(bp))
    if fmt == "rich":
        from ..render.rich import render_rich

        return render_rich(bp, digits=digits, color=output is None and sys.stdout.isatty())
    from ..render.text import render_text

    return render_text(bp, digits=digits)


def run(args: argparse.Namespace) -> int:
    bp = load_problem(args).backward()
    write_output(render(bp, args.format, args.digits, args.output), args.output)
    return 0
