"""``symprop demo``: a built-in walkthrough that needs no file."""

from __future__ import annotations

import argparse

from ..backprop import backward
from ..graph import Graph
from .common import suffixes_of, write_output
from .explain import add_format_arguments, command_title, render, resolve_format

#: The computation graph of a classic course lab on backprop: one neuron,
#: half squared error. Its published gradients: dJ/dw = 6, dJ/db = 3.
DEMO_NODES = ["c = w*x", "a = c + b", "d = a - y", "J = d**2/2"]
DEMO_POINT = {"w": -2, "x": 2, "b": 8, "y": 1}
DEMO_PARAMS = ["w", "b"]


def demo_graph() -> Graph:
    """The demo's graph: ``J = (w*x + b - y)**2 / 2`` as four named nodes."""
    return Graph.from_formulas(DEMO_NODES, DEMO_PARAMS)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo",
        help="a built-in walkthrough (no input needed)",
        description="Walk through the backward pass of J = (w*x + b - y)**2/2 as four nodes "
        "(c = w*x, a = c + b, d = a - y, J = d**2/2) at w=-2, x=2, b=8, y=1.",
    )
    add_format_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    fmt = resolve_format(args.format, args.output, suffixes_of("walkthrough"), "demo")
    bp = backward(demo_graph(), DEMO_POINT)
    write_output(
        render(bp, fmt, args.digits, args.output, expanded=args.expanded, lr=args.lr,
               exact_forms=args.exact_forms, title=command_title("demo", args)),
        args.output,
    )
    return 0
