"""``symprop graph``: the computation graph as DOT or SVG, values and gradients on the nodes."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_output_arguments, add_source_arguments, load_problem, write_output


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "graph",
        help="the computation graph as Graphviz DOT or SVG",
        description="Write the computation graph: each leaf and node with its formula, value and "
        "gradient, each edge with its local derivative. DOT goes to stdout unless --output; "
        "SVG needs Graphviz's 'dot' program.",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--format",
        choices=["dot", "svg"],
        default=None,
        help="dot (default) or svg (needs Graphviz); --output FILE.svg picks svg",
    )
    add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..render.dot import render_dot, to_svg

    fmt = args.format
    if fmt is None:
        fmt = "svg" if args.output and Path(args.output).suffix.lower() == ".svg" else "dot"
    bp = load_problem(args).backward()
    text = render_dot(bp, digits=args.digits)
    if fmt == "svg":
        text = to_svg(text)
    write_output(text, args.output)
    return 0
