"""``symprop grad``: each parameter's gradient, compact and expanded, with its value."""

from __future__ import annotations

import argparse

from ..errors import LimitError
from ..render.json import dumps, grad_dict
from ..render.numbers import format_expr, format_value
from .common import (
    add_output_arguments,
    add_source_arguments,
    load_problem,
    write_output,
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "grad",
        help="exact gradients: value, compact form, expanded form",
        description="Print the loss and, for each parameter, the exact gradient's value, its compact "
        "form (in node symbols) and its expanded form (leaves only).",
    )
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="JSON output (see the README)")
    parser.add_argument(
        "--expanded",
        action="store_true",
        help="with --json, also the expanded forms (refused past a size bound)",
    )
    add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    problem = load_problem(args)
    bp = problem.backward()
    if args.json:
        if hasattr(problem, "network"):  # a network: values nested like the parameters
            from ..render.network import grad_json

            write_output(dumps(grad_json(problem, bp, expanded=args.expanded)), args.output)
            return 0
        write_output(dumps(grad_dict(bp, expanded=args.expanded)), args.output)
        return 0
    out = bp.graph.output.name
    lines = [f"{out} = {format_value(bp.loss, args.digits)}"]
    for name, adjoint in bp.gradients.items():
        lines.append(f"d{out}/d{bp.graph.label(adjoint.symbol)} = {format_value(adjoint.value, args.digits)}")
        lines.append(f"    compact:  {format_expr(adjoint.compact, args.digits)}")
        try:
            expanded = format_expr(adjoint.expanded, args.digits)
        except LimitError as error:
            expanded = f"(not shown: {error})"
        lines.append(f"    expanded: {expanded}")
    write_output("\n".join(lines) + "\n", args.output)
    return 0
