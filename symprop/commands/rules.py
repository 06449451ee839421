"""``symprop rules``: the rules of differentiation that name each local derivative."""

from __future__ import annotations

import argparse
import textwrap

from ..rules import TABLE
from .common import add_output_arguments, output_format, text_width, write_output


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "rules",
        help="the rules of differentiation the walkthroughs name",
        description="Print the rule of each operation and function a formula may use, with its general "
        "form per operand: the rule each walkthrough step names for its local derivative.",
    )
    parser.add_argument("--json", action="store_true",
                        help='JSON: [{"name", "operation", "forms": [{"form", "latex"}], "note"}]')
    add_output_arguments(parser, digits_option=False)
    return parser


def rules_text(width: int = 80) -> str:
    """The table as text lines: name, operation, then each general form, each row within ``width``."""
    name_column = max(len(e.name) for e in TABLE)
    operation_column = max(len(e.operation) for e in TABLE)
    indent = 2 + name_column + 2 + operation_column + 2
    lines = [
        "Rules of differentiation: the local derivative ∂node/∂input of each operation",
        "(u, v are its operands; c, n are numbers)",
        "",
    ]
    for entry in TABLE:
        forms = [text for text, _ in entry.forms] + ([f"({entry.note})"] if entry.note else [])
        head = f"  {entry.name:<{name_column}}  {entry.operation:<{operation_column}}  "
        if indent + max(len(text) for text, _ in entry.forms) > width:  # narrow: the forms under the name
            lines.append(head.rstrip())
            head, pad = "      ", "      "
        else:
            pad = " " * indent
        for k, form in enumerate(forms):
            wrapped = textwrap.wrap(form, width - len(pad), break_long_words=False) or [""]
            lines.append((head if k == 0 else pad) + wrapped[0])
            lines += [pad + line for line in wrapped[1:]]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.json or output_format(args.output, {".txt": "text", ".json": "json"}, plain="text", command="rules") == "json":
        from ..render.json import dumps

        data = [{"name": e.name, "operation": e.operation,
                 "forms": [{"form": text, "latex": latex} for text, latex in e.forms], "note": e.note}
                for e in TABLE]
        write_output(dumps({"rules": data}), args.output)
        return 0
    write_output(rules_text(text_width(args.output)), args.output)
    return 0
