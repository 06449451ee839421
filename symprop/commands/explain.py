"""``symprop explain``: the step-by-step walkthrough."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Mapping

from ..graph import to_number
from ..render.formats import RenderOptions, formats_for, renderer
from . import streams
from .common import (
    add_output_arguments,
    add_source_arguments,
    add_view_argument,
    limit_walkthrough_size,
    load_problem,
    matrix_walkthrough,
    network_walkthrough,
    output_format,
    suffixes_of,
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
        help="output format (default: from the --output suffix "
        f"{'/'.join(suffixes_of('walkthrough'))}, text without one; else rich on a terminal, text in a pipe)",
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
    fmt: str,
    digits: int,
    output: str | None,
    *,
    expanded: bool = False,
    lr: str | None = None,
    exact: bool = False,
    exact_forms: bool = False,
    title: str | None = None,
) -> str:
    """The walkthrough of a recorded backward pass in one format (see :func:`resolve_format`);
    ``title`` names the command in a picture's title."""
    terminal = output is None and streams.stdout_is_terminal()
    color = fmt == "rich" and terminal and streams.color_wanted()
    options = RenderOptions(
        digits=digits,
        expanded=True if expanded else None,
        lr=None if lr is None else to_number(lr, name="--lr", exact=exact),
        exact_forms=exact_forms,
        color=color,
        width=text_width(output),
        title=title,
    )
    return renderer(fmt, "walkthrough")(bp, options)


def command_title(command: str, args: argparse.Namespace) -> str:
    """``symprop explain 'w*x'``, ``symprop explain --spec xor.toml``, ``symprop demo``: at most 70 characters."""
    if getattr(args, "expr", None):
        subject = args.expr
    elif getattr(args, "spec", None):
        subject = f"--spec {Path(args.spec).name}"
    else:
        subject = ""
    title = f"symprop {command} {subject}".strip()
    return title if len(title) <= 70 else title[:69] + "…"


def resolve_format(fmt: str | None, output: str | None, suffixes: Mapping[str, str], command: str) -> str:
    """``--format``, else the ``--output`` suffix's format (text without a suffix), else rich on a
    terminal, else text. An ``--output`` suffix not in ``suffixes`` is refused, with ``--format`` too."""
    picked = output_format(output, suffixes, plain="text", command=command)
    if fmt is not None:
        return fmt
    if picked is not None:
        return picked
    return "rich" if streams.stdout_is_terminal() else "text"


def run(args: argparse.Namespace) -> int:
    kind = "matrix" if args.view == "matrix" else "walkthrough"
    fmt = resolve_format(args.format, args.output, suffixes_of(kind), "explain" + (" --view matrix" if kind == "matrix" else ""))
    problem = load_problem(args)
    if args.view == "matrix":
        write_output(matrix_walkthrough(problem, fmt, args.digits), args.output)
        return 0
    limit_walkthrough_size(problem)
    text = render(problem.backward(), fmt, args.digits, args.output, expanded=args.expanded, lr=args.lr,
                  exact=getattr(problem, "exact", False) or args.exact, exact_forms=args.exact_forms,
                  title=command_title("explain", args))
    write_output(network_walkthrough(problem, fmt, text, args.digits), args.output)
    return 0
