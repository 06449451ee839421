"""``symprop graph``: the computation graph as DOT, SVG, PNG or PDF, values and gradients on the nodes."""

from __future__ import annotations

import argparse

from ..errors import LimitError, SpecError, SympropError
from ..render.dot import RANKDIRS, VIEWS
from ..render.dot_layers import NOT_A_NETWORK
from ..render.formats import RenderOptions, formats_for, renderer
from . import streams
from .common import (
    MAX_WALKTHROUGH_STEPS,
    Problem,
    add_output_arguments,
    add_source_arguments,
    load_problem,
    output_format,
    suffixes_of,
    walkthrough_steps,
    write_output,
)

#: A picture of more boxes than this is hard to read per node: a note suggests --view layers.
CROWDED = 150


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "graph",
        help="the computation graph as Graphviz DOT, SVG, PNG or PDF",
        description="Write the computation graph: each leaf and node with its formula, value and "
        "gradient, each edge with its local derivative and rule. DOT goes to stdout unless --output; "
        "SVG, PNG and PDF need Graphviz's 'dot' program. The layout fits a 16:9 slide.",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--format",
        choices=[f.name for f in formats_for("graph")],
        default=None,
        help="dot (default), or svg, png, pdf (need Graphviz); else from the --output suffix "
        f"{'/'.join(suffixes_of('graph'))}",
    )
    parser.add_argument(
        "--rankdir",
        choices=RANKDIRS,
        default="auto",
        help="TB: top to bottom, LR: left to right; auto (default): whichever fits a 16:9 slide larger",
    )
    parser.add_argument(
        "--view",
        choices=VIEWS,
        default="scalar",
        help="scalar: a box per node (default); layers: a network as one box per layer",
    )
    add_output_arguments(parser)
    return parser


def layer_captions(problem) -> dict[str, str]:
    """What each box of a network's layer view is: ``{"z1": "linear 3", "a1": "sigmoid", "L": ...}``."""
    from ..nn.layers import walk

    mlp = problem.network.mlp
    captions: dict[str, str] = {}
    for layer in walk(mlp.stack):
        for name, _ in layer.intermediates():
            captions.setdefault(name, layer.describe)
    samples = problem.network.samples if problem.sample is None else 1
    if samples > 1:
        captions["L(s)"] = f"{mlp.loss} of each sample"
        captions["L"] = f"the {mlp.reduction} over the samples"
    else:
        captions["L"] = mlp.loss
    if mlp.weight_decay:
        captions["decay"] = f"weight decay {mlp.weight_decay:g}"
    return captions


def run(args: argparse.Namespace) -> int:
    picked = output_format(args.output, suffixes_of("graph"), plain="dot", command="graph")
    fmt = args.format or picked or "dot"
    if fmt in ("png", "pdf") and args.output is None and streams.stdout_is_terminal():
        raise SympropError(f"--format {fmt} writes a picture's bytes: give --output FILE.{fmt}, or redirect stdout")
    problem = load_problem(args)
    captions = None
    if args.view == "layers":
        if isinstance(problem, Problem):
            raise SpecError(NOT_A_NETWORK)
        captions = layer_captions(problem)
    steps = walkthrough_steps(problem)
    if steps > MAX_WALKTHROUGH_STEPS:
        instead = "--sample K to draw one sample" if hasattr(problem, "network") else "--wrt to pick fewer parameters"
        raise LimitError(f"the graph would have about {steps:,} derivative edges (limit {MAX_WALKTHROUGH_STEPS:,}); "
                         f"use {instead}")
    bp = problem.backward()
    boxes = len(bp.graph.leaves) + len(bp.graph.nodes)
    if args.view == "scalar" and boxes > CROWDED and not isinstance(problem, Problem):
        streams.say(f"symprop: note: {boxes} boxes are hard to read in one picture; "
                    "--view layers draws one box per layer")
    options = RenderOptions(digits=args.digits, rankdir=args.rankdir, view=args.view, captions=captions)
    write_output(renderer(fmt, "graph")(bp, options), args.output)
    return 0
