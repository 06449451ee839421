"""``symprop graph``: the computation graph as DOT or SVG, values and gradients on the nodes."""

from __future__ import annotations

import argparse

from ..render.formats import RenderOptions, format_for_suffix, formats_for, renderer
from .common import (
    add_output_arguments,
    add_source_arguments,
    load_problem,
    write_output,
)


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
        choices=[f.name for f in formats_for("graph")],
        default=None,
        help="dot (default) or svg (needs Graphviz); --output FILE.svg picks svg",
    )
    add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    fmt = args.format or (args.output and format_for_suffix(args.output, "graph")) or "dot"
    bp = load_problem(args).backward()
    write_output(renderer(fmt, "graph")(bp, RenderOptions(digits=args.digits)), args.output)
    return 0
