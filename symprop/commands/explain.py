"""``symprop explain``: the step-by-step walkthrough."""

from __future__ import annotations

import argparse
from ..graph import to_number
from ..render.formats import RenderOptions, format_for_suffix, formats_for, renderer
from . import streams
from .common import (
    add_output_arguments,
    add_source_arguments,
    add_view_argument,
    limit_walkthrough_size,
    load_problem,
    matrix_walkthrough,
    network_walkthrough,
    text_width,
    write_output,
)

#: The formats a walkthrough can be written in (the formats table's).
FORMATS = [f.name for f in formats_for("walkthrough")]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain",
        help="walk through the backward pass step by step",
        description="Print the forward pass (a formula as one node per operation, as written), then every "
        "local derivative, with the rule that gives it, and chain-rule product from the output back to the "
        "parameters, then each parameter's gradient. 'symprop rules' lists the rules.",
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
        f"{'/'.join(s for f in formats_for('walkthrough') for s in f.suffixes)}; else text)",
    )
    add_output_arguments(parser)
    parser.add_argument(
        "--expanded",
        action="store_true",
        help="show every expanded gradient and upstream expression in full (default: only the short ones)",
    )
    parser.add_argument("--lr", metavar="ETA", help="a learning rate: also show the update w <- w - ETA * dL/dw "
                        "(like --at: 1/10 is exact, 0.1 a float unless --exact)")
    parser.add_argument("--exact-forms", action="store_true",
                        help="print every exact value in its exact form (default: long ones as decimals, said once)")


def render(
    bp,
    fmt: str | None,
    digits: int,
    output: str | None,
    *,
    expanded: bool = False,
    lr: str | None = None,
    exact: bool = False,
    exact_forms: bool = False,
) -> str:
    """The walkthrough of a recorded backward pass in one format."""
    fmt = resolve_format(fmt, output)
    terminal = output is None and streams.stdout_is_terminal()
    color = fmt == "rich" and terminal and streams.color_wanted()
    options = RenderOptions(
        digits=digits,
        expanded=True if expanded else None,
        lr=None if lr is None else to_number(lr, name="--lr", exact=exact),
        exact_forms=exact_forms,
        color=color,
        width=text_width(output),
    )
    return renderer(fmt, "walkthrough")(bp, options)


def resolve_format(fmt: str | None, output: str | None, *, kind: str = "walkthrough") -> str:
    """``--format``, else rich on a terminal, else from the ``--output`` suffix (the formats that show ``kind``), else text."""
    if fmt is None:
        if output is None:
            fmt = "rich" if streams.stdout_is_terminal() else "text"
        else:
            fmt = format_for_suffix(output, kind) or "text"
    return fmt


def run(args: argparse.Namespace) -> int:
    problem = load_problem(args)
    fmt = resolve_format(args.format, args.output)
    if args.view == "matrix":
        write_output(matrix_walkthrough(problem, fmt, args.digits), args.output)
        return 0
    limit_walkthrough_size(problem)
    text = render(problem.backward(), fmt, args.digits, args.output, expanded=args.expanded, lr=args.lr,
                  exact=getattr(problem, "exact", False) or args.exact, exact_forms=args.exact_forms)
    write_output(network_walkthrough(problem, fmt, text, args.digits), args.output)
    return 0
