"""``symprop derive``: a matrix formula's gradients derived step by step, or a network's layer formulas."""

from __future__ import annotations

import argparse

from ..errors import SympropError
from ..render.formats import RenderOptions, formats_for, renderer
from . import streams
from .common import add_output_arguments, sample_index, suffixes_of, write_output
from .explain import resolve_format

#: The formats a derivation can be written in (the formats table's).
FORMATS = [f.name for f in formats_for("derivation")]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "derive",
        help="matrix calculus step by step: a formula over matrices, or a network's layers",
        description="Derive the gradients of a 1x1 formula over matrices and vectors, right to left, each step "
        "with the identity that justifies it and the shape of what it gives; check every step against the "
        "scalar backward pass entry by entry. With --spec, a network's delta, dL/dW, dL/db and dL/da_prev per layer.",
    )
    parser.add_argument(
        "expr",
        nargs="?",
        metavar="EXPR",
        help="a matrix formula, e.g. '(W*x + b - y).T*(W*x + b - y)/2' ('*' the matrix product, .T the "
        "transpose, hadamard(A, B) the entry by entry product, sum(X), trace(X), elementwise functions, softmax)",
    )
    parser.add_argument("--shapes", metavar="N=RxC,...", help="every matrix's shape, e.g. W=3x2,x=2x1 (x=2 is 2x1)")
    parser.add_argument("--wrt", metavar="A,B", help="the matrices to differentiate for (default: every one)")
    parser.add_argument(
        "--at",
        metavar="N=[[..],..],...",
        help="a point: every matrix as rows, e.g. W=[[1,2],[3,4],[5,6]],x=[1,2] (a flat list is a vector); "
        "without it the check uses a random point",
    )
    parser.add_argument("--exact", action="store_true", help="read decimals in --at as exact fractions")
    parser.add_argument("--spec", metavar="FILE", help="a [network] spec: derive each layer's formulas at its values")
    parser.add_argument("--sample", type=sample_index, default=None, metavar="K",
                        help="with --spec: show (and check step by step) sample K (default 0)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="output format (default: from the --output suffix "
                        f"{'/'.join(suffixes_of('derivation'))}, text without one; else rich on a "
                        "terminal, text in a pipe)")
    parser.add_argument("--json", action="store_true", help="the same as --format json")
    add_output_arguments(parser)
    return parser


def derive_problem(args: argparse.Namespace):
    """The checked derivation the arguments ask for: a formula's or a network spec's."""
    if args.spec and args.expr:
        raise SympropError("give either EXPR (with --shapes) or --spec, not both")
    if args.spec:
        for option in ("shapes", "wrt", "at"):
            if getattr(args, option):
                raise SympropError(f"--{option} is for a formula; a network's shapes and values come from its spec")
        from ..derive import derive_spec
        from ..spec import GraphSpec, load_spec

        spec = load_spec(args.spec)
        if isinstance(spec, GraphSpec):
            raise SympropError("derive --spec needs a [network] spec; for a formula give EXPR and --shapes")
        spec.network.exact = spec.network.exact or args.exact
        return derive_spec(spec.network, sample=args.sample)
    if not args.expr:
        raise SympropError("give a matrix formula (EXPR) with --shapes, or --spec FILE")
    if args.sample is not None:
        raise SympropError("--sample is for a [network] spec")
    if not args.shapes:
        raise SympropError("give every matrix's shape with --shapes, e.g. --shapes W=3x2,x=2x1")
    from ..derive import derive

    return derive(args.expr, args.shapes, wrt=args.wrt, at=args.at, exact=args.exact)


def render(result, fmt: str, digits: int, output: str | None) -> str:
    """The derivation in ``fmt``, by the formats table's renderer for a derivation."""
    color = fmt == "rich" and output is None and streams.stdout_is_terminal() and streams.color_wanted()
    return renderer(fmt, "derivation")(result, RenderOptions(digits=digits, color=color))


def run(args: argparse.Namespace) -> int:
    fmt = resolve_format("json" if args.json else args.format, args.output,
                         suffixes_of("derivation"), "derive")
    result = derive_problem(args)
    write_output(render(result, fmt, args.digits, args.output), args.output)
    from ..derive import Derivation

    passed = result.check.passed if isinstance(result, Derivation) else result.passed
    return 0 if passed else 1
