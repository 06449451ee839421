"""``symprop check``: exact gradients against finite differences, or against your own code."""

from __future__ import annotations

import argparse
import contextlib
import io

from ..check import DEFAULT_EPS, DEFAULT_FLOOR, DEFAULT_RTOL, DEFAULT_TIMEOUT, gradcheck, user_code
from ..render.formats import RenderOptions, formats_for, renderer
from . import streams
from .common import (
    Problem,
    add_output_arguments,
    add_source_arguments,
    load_problem,
    output_format,
    parse_names,
    positive_number,
    suffixes_of,
    write_output,
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "check",
        help="check gradients: exact vs finite differences, or vs your own function",
        description="Compare the exact gradient of every parameter scalar with central finite differences "
        "in float64 (relative error |a-n| / max(|a|, |n|, floor) <= rtol), or with your own gradient "
        "function (--against FILE.py:FUNC). For each wrong parameter: which entries, by how much, and the "
        "exact derivation steps. Exit 0 when all agree, 1 when any does not, 2 for bad input.",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--against",
        metavar="FILE.py:FUNC",
        help="your gradient function grads(params, x, y) -> {name: array shaped like the parameter}; "
        "for a formula, params is {name: float}, x the other leaves ({name: float} or None), y None",
    )
    parser.add_argument("--eps", type=positive_number, default=DEFAULT_EPS, help="finite-difference step (default %(default)g)")
    parser.add_argument("--rtol", type=positive_number, default=DEFAULT_RTOL, help="largest relative error that passes (default %(default)g)")
    parser.add_argument(
        "--floor",
        type=positive_number,
        default=DEFAULT_FLOOR,
        help="least denominator of the relative error (default %(default)g); with --against, relative to the "
        "gradient scale (the largest gradient with every chain-rule path counted in absolute value)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_number,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="with --against: how long your file may take to load, and your function to return (default %(default)g)",
    )
    parser.add_argument(
        "--entries", default="auto", metavar="all|N",
        help="entries finite differences check: all, or N seeded random ones of each parameter tensor "
        "(default: all, unless the network has more than 10,000 parameters: then 100 of each tensor)",
    )
    parser.add_argument("--json", action="store_true", help='JSON: {"passed", "rows": [{"param", "symbolic", "numeric", "rel_error", "ok"}], ...}')
    parser.add_argument("--format", choices=[f.name for f in formats_for("report")], default=None,
                        help="output format (default: from the --output suffix "
                        f"{'/'.join(suffixes_of('report'))}, text without one; else rich on a terminal, text "
                        "otherwise; --json is --format json)")
    add_output_arguments(parser, digits_option=False)
    return parser


def run(args: argparse.Namespace) -> int:
    picked = output_format(args.output, suffixes_of("report"), plain="text", command="check")
    fmt = "json" if args.json else args.format or picked
    problem = load_problem(args, network_wrt=True)
    wrt = None if isinstance(problem, Problem) else parse_names(args.wrt, "--wrt")  # a formula's is in its graph
    printed = io.StringIO()
    user_code.EXIT_AFTER_IGNORED = 5.0  # a command must end: code that ignores the time limit ends the process
    try:
        with contextlib.redirect_stdout(printed):  # the user's prints must not mix into the report (--json)
            report = gradcheck(
                problem,
                against=args.against,
                eps=args.eps,
                rtol=args.rtol,
                floor=args.floor,
                sample=getattr(args, "sample", None),
                wrt=wrt,
                timeout=args.timeout,
                entries=args.entries,
            )
    finally:
        for line in printed.getvalue().splitlines():  # what the user's code printed, where it can be seen
            streams.say(line)
    write_output(render(report, fmt, args.output), args.output)
    return 0 if report.passed else 1


def render(report, fmt: str | None, output: str | None) -> str:
    """The report in one format (rich on a terminal unless one is given)."""
    if fmt is None:
        fmt = "rich" if output is None and streams.stdout_is_terminal() else "text"
    color = fmt == "rich" and output is None and streams.stdout_is_terminal() and streams.color_wanted()
    return renderer(fmt, "report")(report, RenderOptions(color=color))
