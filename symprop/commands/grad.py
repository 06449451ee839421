"""``symprop grad``: each parameter's gradient, compact and expanded, with its value."""

from __future__ import annotations

import argparse

import sympy

from ..render.json import dumps, grad_dict
from ..render.numbers import format_expr
from ..render.text import render_gradient_forms, render_gradients
from .common import (
    add_output_arguments,
    add_source_arguments,
    load_problem,
    output_format,
    text_width,
    write_output,
)

#: What ``--output FILE`` may be: text, or JSON (as ``--json``).
SUFFIXES = {".txt": "text", ".json": "json"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "grad",
        help="exact gradients: value, compact form, expanded form",
        description="Print the loss and, for each parameter, the exact gradient's value and its compact "
        "form (in node symbols, each node defined after them); with --expanded, its expanded form (leaves only).",
    )
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true", help="JSON output (see the README); --output FILE.json too")
    parser.add_argument(
        "--expanded",
        action="store_true",
        help="also the expanded forms, in leaves only (text: long ones are cut with a note; "
        "--json: refused past a size bound)",
    )
    parser.add_argument("--exact-forms", action="store_true",
                        help="print every exact value in its exact form (default: long ones as decimals)")
    add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    as_json = args.json or output_format(args.output, SUFFIXES, plain="text", command="grad") == "json"
    problem = load_problem(args)
    forms = _forms(problem, args, as_json)
    if forms is not None:  # a network in float mode: its forms derived once per pattern, values vectorized
        if as_json:
            from ..render.network import grad_json_forms

            write_output(dumps(grad_json_forms(problem.network.params, forms)), args.output)
            return 0
        write_output(render_gradient_forms(forms, digits=args.digits, width=text_width(args.output)), args.output)
        return 0
    bp = problem.backward()
    if as_json:
        if hasattr(problem, "network"):  # a network: values nested like the parameters
            from ..render.network import grad_json

            write_output(dumps(grad_json(problem, bp, expanded=args.expanded)), args.output)
            return 0
        write_output(dumps(grad_dict(bp, expanded=args.expanded)), args.output)
        return 0
    text = render_gradients(bp, digits=args.digits, expanded=args.expanded, width=text_width(args.output),
                            exact_forms=args.exact_forms)
    write_output(text, args.output)
    return 0


def _forms(problem, args: argparse.Namespace, as_json: bool):
    """A network's gradient forms and values without its scalar batch graph, where they apply (else None).

    The same text as the scalar pass (:mod:`symprop.nn.forms`); ``--expanded`` and
    ``--exact-forms`` (and exact inputs, coupled samples) take the scalar pass.
    """
    network = getattr(problem, "network", None)
    if network is None or args.expanded or args.exact_forms:
        return None
    from ..nn.forms import gradient_forms

    printer = sympy.sstr if as_json else (lambda expr: format_expr(expr, args.digits))
    return gradient_forms(network, problem.sample, printer)
