"""The matrix view in colour for a terminal: the text view's lines, its headings and names styled.

The layout is the text renderer's (:func:`.matrix.render_matrix_text`),
character for character; colour only marks the headings (bold), each
layer (magenta), the name of each matrix (cyan) and the loss (green), so a
pipe or ``NO_COLOR`` gets exactly the text view.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from .matrix import render_matrix_text
from .numbers import DEFAULT_DIGITS

if TYPE_CHECKING:
    from ..matrix import MatrixView

__all__ = ["render_matrix_rich"]

_NAME = re.compile(r"^(\s{4})(\S.*?)(?= = )")


def _styled(line: str) -> Text:
    text = Text(line)
    if line.startswith(("Matrix view", "Forward pass", "Backward pass")):
        text.stylize("bold")
    elif re.match(r"^  layer \d+", line):
        text.stylize("bold magenta")
    elif line.startswith(("  loss ", "  from the loss")):
        text.stylize("green")
    else:
        match = _NAME.match(line)
        if match:
            text.stylize("cyan", match.start(2), match.end(2))
    return text


def render_matrix_rich(view: MatrixView, *, digits: int = DEFAULT_DIGITS, color: bool = False) -> str:
    """The matrix view as text, with ANSI colours when ``color``."""
    plain = render_matrix_text(view, digits=digits)
    if not color:
        return plain
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=100_000, highlight=False,
                      emoji=False, soft_wrap=True)
    for line in plain.rstrip("\n").split("\n"):
        console.print(_styled(line))
    return buffer.getvalue()
