"""A training run as people read it: the loss on an axis that is said, the accuracy, the curve.

The sparkline's axis is fixed by the first loss, not stretched to each run's
own range: on a log scale, ``█`` is the first loss and each bar lower is half
a decade less (``▄`` is 1/100 of it), so a run from 0.571 to 0.506 stays at
``█`` (it has hardly moved) and one from 0.571 to 0.003 comes down to ``▄``.
A loss above the first one is drawn as ``█`` and said in words. The figure
(``--plot``, and the notebook's display) labels its axes and uses a log scale
unless asked for a linear one. Everything here reads a finished
:class:`~symprop.train.TrainResult`.

>>> sparkline([1.0, 0.5, 0.1, 0.01, 0.001, 0.0])
'█▇▆▄▂▁'
>>> axis_legend(0.571)
'log axis from the first loss: █ 0.571, ▄ 0.00571, ▁ 0.000181 or lower'
"""

from __future__ import annotations

import html
import io
import math
import warnings
from typing import Any

__all__ = [
    "BARS",
    "sparkline",
    "axis_legend",
    "loss_change",
    "summary_lines",
    "plot_bytes",
    "result_html",
    "result_text",
    "plural",
    "PLOT_RANGE",
]

BARS = "▁▂▃▄▅▆▇█"
#: Bars per decade of the log axis: one bar lower is a factor of sqrt(10) less.
PER_DECADE = 2
#: Past this the curve is drawn as log10(loss): matplotlib's log axis overflows near 1e300.
PLOT_RANGE = 1e200


def plural(count: int, word: str) -> str:
    """``1 sample``, ``4 samples``, ``0 steps``."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _level(value: float, start: float) -> int:
    """The bar of ``value`` on the log axis whose top is ``start``: 7 (``█``) at ``start`` or above."""
    if not value > 0:
        return 0
    below = PER_DECADE * math.log10(start / value)  # half decades below the first loss
    return max(0, min(len(BARS) - 1, len(BARS) - 1 - round(below)))


def sparkline(losses: list[float], width: int = 40) -> str:
    """The losses as one line of bars, sampled to ``width``, on the log axis of the first loss."""
    if not losses:
        return ""
    count = min(width, len(losses))
    picks = [losses[round(i * (len(losses) - 1) / max(count - 1, 1))] for i in range(count)]
    start = losses[0]
    if not start > 0:  # no log axis: a loss of 0 stays at the bottom
        return BARS[0] * count
    return "".join(BARS[_level(v, start)] for v in picks)


def axis_legend(start: float) -> str:
    """What the bars mean, in numbers."""
    if not start > 0:
        return "the first loss is 0: no log axis"
    bottom = start / 10 ** ((len(BARS) - 1) / PER_DECADE)
    middle = start / 10 ** (4 / PER_DECADE)
    return f"log axis from the first loss: {BARS[-1]} {start:.3g}, {BARS[3]} {middle:.3g}, {BARS[0]} {bottom:.3g} or lower"


def loss_change(start: float, end: float) -> str:
    """``174 times lower``, ``1.13 times higher``, ``unchanged``."""
    if end == start:
        return "unchanged"
    if end <= 0:
        return "down to 0"
    if start <= 0:
        return "up from 0"
    ratio = start / end
    factor = max(ratio, 1 / ratio)
    text = f"{factor:,.0f}" if 1000 <= factor < 1e9 else f"{factor:.3g}"
    return f"{text} times lower" if ratio > 1 else f"{text} times higher"


def summary_lines(result: Any, *, samples: int | None = None) -> list[str]:
    """The loss (start, end, change, sparkline and its axis), the rise above the start if any, and the accuracy."""
    losses = [*result.loss_history, result.final_loss]
    start, end = losses[0], losses[-1]
    steps = plural(result.steps, "step")
    lines = [f"loss {start:.6g} -> {end:.6g} ({loss_change(start, end)}) after {steps}"]
    if len(losses) > 1:
        lines.append(f"  {sparkline(losses)}  step 0 to {result.steps:,}")
        lines.append(f"  {axis_legend(start)}")
        highest = max(range(len(losses)), key=lambda i: losses[i])
        if losses[highest] > start:
            lines.append(f"  the loss rose above the first one: {losses[highest]:.6g} at step {highest:,} "
                         f"(drawn as {BARS[-1]})")
    if result.accuracy is not None:
        text = f"accuracy {result.accuracy.text}"
        if result.initial_accuracy is not None:
            text += f"; {result.initial_accuracy.percent} at the start"
        lines.append(text)
    return lines


def result_text(result: Any) -> str:
    """A :class:`~symprop.train.TrainResult` as text: how it trained, the summary, the parameters' shapes."""
    how = f"{plural(result.steps, 'step')} of {result.optimizer or 'training'}"
    if result.lr is not None:
        how += f", learning rate {result.lr:g}"
    shapes = ", ".join(f"{name} {tuple(getattr(p, 'shape', ()))}" for name, p in result.params.items())
    return "\n".join([f"trained: {how}", *summary_lines(result), f"parameters: {shapes}"]) + "\n"


#: A curve of more steps than this is drawn through each stretch's lowest and highest loss (the
#: envelope a screen shows anyway), so that an SVG or PDF of a million steps stays small.
MAX_POINTS = 4000


def _envelope(steps: Any, values: Any) -> tuple[Any, Any]:
    import numpy as np

    if len(values) <= MAX_POINTS:
        return steps, values
    keep = {0, len(values) - 1}
    for chunk in np.array_split(np.arange(len(values)), MAX_POINTS // 2):
        keep.update((int(chunk[np.argmin(values[chunk])]), int(chunk[np.argmax(values[chunk])])))
    index = np.array(sorted(keep))
    return steps[index], values[index]


def plot_bytes(losses: list[float], fmt: str = "png", *, title: str = "", scale: str = "log",
               ylabel: str = "loss", accuracy: str | None = None, svg_text: bool = False) -> bytes:
    """The loss curve as a picture (``fmt`` any format matplotlib writes): step on x, the loss on y.

    ``scale="log"`` puts the loss on a log axis where it is positive; a run whose
    losses pass :data:`PLOT_RANGE` (a diverged one) is drawn as ``log10(loss)``.
    ``svg_text`` keeps an SVG's labels as text (small, for a notebook) instead of outlines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.asarray(losses, dtype=np.float64)
    steps = np.arange(len(values))
    finite = np.isfinite(values)
    steps, values = _envelope(steps[finite], values[finite])
    positive = len(values) > 0 and bool(np.all(values > 0))
    label = ylabel
    if positive and (values.max() > PLOT_RANGE or values.min() < 1 / PLOT_RANGE):
        values, label, scale = np.log10(values), f"log10({ylabel})", "linear"
    elif len(values):
        values = np.clip(values, -PLOT_RANGE, PLOT_RANGE)
    log = scale == "log" and positive
    with matplotlib.rc_context({"svg.fonttype": "none" if svg_text else "path"}), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fig, ax = plt.subplots(figsize=(7.2, 4.05))  # 16:9
        try:
            _draw(ax, steps, values, label=label, log=log, title=title, accuracy=accuracy)
            fig.tight_layout()
            image = io.BytesIO()
            fig.savefig(image, format=fmt)
        finally:
            plt.close(fig)
    return image.getvalue()


def _draw(ax: Any, steps: Any, values: Any, *, label: str, log: bool, title: str, accuracy: str | None) -> None:
    """The curve, its first and last points marked with their values, the axes labelled."""
    ax.plot(steps, values, color="#1f5fa8", linewidth=1.5)
    if len(values):
        ax.plot([steps[0], steps[-1]], [values[0], values[-1]], "o", color="#1f5fa8", markersize=4)
        for k, where in ((0, "left"), (-1, "right")):
            ax.annotate(f"{values[k]:.3g}", (steps[k], values[k]), textcoords="offset points",
                        xytext=(0, 6), ha=where, fontsize=9)
    if log:
        ax.set_yscale("log")
        if len(values) and values.max() < 10 * values.min():  # less than a decade: plain numbers, not 2.98×10⁻¹
            from matplotlib.ticker import FuncFormatter

            plain = FuncFormatter(lambda v, _: f"{v:.3g}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
    if len(steps) and steps[-1] < 10:  # a short run: whole steps, not 0.2, 0.4, ...
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.04, y=0.12)
    ax.grid(True, which="major", alpha=0.4)
    ax.set_xlabel("step")
    ax.set_ylabel(label + (" (log scale)" if log else ""))
    if title:
        ax.set_title(title, fontsize=10)
    if accuracy:
        ax.text(0.99, 0.97, accuracy, transform=ax.transAxes, ha="right", va="top", fontsize=9)


def result_html(result: Any) -> str:
    """A :class:`~symprop.train.TrainResult` for a notebook: the summary, and the loss curve as SVG
    (with matplotlib; else the sparkline), never the thousands of losses it holds."""
    import importlib.util

    lines = result_text(result).rstrip("\n").split("\n")
    head, body = lines[0], lines[1:]
    losses = [*result.loss_history, result.final_loss]
    picture = ""
    if importlib.util.find_spec("matplotlib") is not None and len(losses) > 1:
        accuracy = f"accuracy {result.accuracy.percent}" if result.accuracy is not None else None
        svg = plot_bytes(losses, "svg", title=head.removeprefix("trained: "), accuracy=accuracy,
                         svg_text=True).decode("utf-8")
        picture = svg[svg.index("<svg"):]
    text = "\n".join(html.escape(line) for line in body)
    return f"<div><p><b>{html.escape(head)}</b></p><pre>{text}</pre>{picture}</div>"
