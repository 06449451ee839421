"""Checking gradients of named intermediates, the "backprop ninja" way: one name at a time, in backward order.

Besides parameters, a user's gradient function may return ``dL/dv`` for the
values a network computes on the way (``z1``, ``bn1``, ``a1``, the logits,
the probabilities: see the README for the names and shapes). Each is held
against the exact one from the backward pass; the report gets one row per
name (its worst entry), and the first wrong name **in backward order** (every
one after it agrees) gets the exact derivation of its worst entry: the step
that makes it is where the mistake is.

As for parameters, the relative error's floor is relative, here to each
intermediate's own scale (its largest gradient with every chain-rule path
counted in absolute value): ``dL/da2`` of a saturated sigmoid is about 1 while
``dL/dz2`` is about 1e-14, and twice the right ``dL/dz2`` must fail.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

import numpy as np

from ..backprop import FanIn
from .report import Derivation, Finding, Row, relative_error
from .subjects import Subject

__all__ = ["check_intermediates"]


def _base(symbol_name: str) -> str:
    """The intermediate a node belongs to: ``s2_bn1_0 -> bn1``, ``lnmu1 -> lnmu1``."""
    return re.sub(r"_\d+$", "", re.sub(r"^s\d+_", "", symbol_name))


def _from_agreed(derivation: Derivation | None, agreed: set[str]) -> Derivation | None:
    """Only the steps after the values that agree: those are known right, the mistake is in what follows."""
    if derivation is None or not agreed:
        return derivation
    steps = [
        event for event in derivation.steps
        if _base((event.adjoint.symbol if isinstance(event, FanIn) else event.input).name) not in agreed | {"L"}
    ]
    source = ", ".join(filter(None, [derivation.source, f"from {', '.join(sorted(agreed))}, which agree"]))
    return Derivation(derivation.backward, steps, derivation.entry, source, derivation.total)


def check_intermediates(
    subject: Subject,
    result: Mapping[Any, Any],
    *,
    rtol: float,
    floor: float,
    hints: Callable[..., list[str]],
    read: Callable[[Any, str], tuple[np.ndarray | None, str | None]],
) -> tuple[list[Row], list[Finding]]:
    """Rows and findings for the intermediates ``result`` gives, in backward order.

    Args:
        subject: what is checked (a network gives intermediates; a formula none).
        result: the user's dict, read into plain ``{name: value}``; keys that are not intermediates are ignored here.
        rtol: as for parameters.
        floor: relative to each intermediate's scale (:meth:`Subject.intermediate_scales`).
        hints: ``hints(theirs, exact, floor=, rtol=, batch=)``, the likely causes of a wrong array.
        read: ``read(value, name) -> (float64 array, None)`` or ``(None, why not)``; it runs the
            user's code (``__array__``) within the time limit.
    """
    exact_all = subject.intermediates() if any(k in subject.intermediate_names() for k in result) else {}
    scales = subject.intermediate_scales() if exact_all else {}
    rows: list[Row] = []
    findings: list[Finding] = []
    first: str | None = None
    for name in reversed(list(exact_all)):  # backward order: the last value made comes first
        if name not in result:
            continue
        exact = exact_all[name]
        theirs, problem = read(result[name], name)
        label = lambda index: subject.intermediate_label(name, index)  # noqa: E731
        if theirs is None or theirs.shape != exact.shape:
            status = "invalid" if theirs is None else "shape"
            what = problem if theirs is None else f"expected shape {exact.shape}, got {theirs.shape}"
            rows.append(Row(name, name, (), math.nan, None, math.inf, False, status))
            findings.append(Finding(name, "shape" if theirs is not None else "type", f"d{subject.output}/d{name}: {what}"))
            continue
        scaled = floor * (scales.get(name) or 1.0)  # every exact entry 0: nothing to scale by
        errors = np.array([relative_error(float(a), float(b), scaled) for a, b in zip(exact.ravel(), theirs.ravel())])
        # the largest relative error; among equal ones (a constant factor makes them all equal, up to
        # rounding) the largest absolute error, so the row does not depend on the last bit of a sum
        tied = errors >= errors.max() * (1 - 1e-9) if exact.size else errors
        where = np.where(tied.reshape(exact.shape), np.abs(exact - theirs), -np.inf) if exact.size else tied
        worst = np.unravel_index(int(np.argmax(where)), exact.shape) if exact.size else ()
        worst = tuple(int(i) for i in worst)
        bad = errors > rtol
        finite = bool(np.all(np.isfinite(theirs)))
        status = "ok" if not bad.any() else "wrong" if finite else "nan"
        rows.append(Row(name, name, worst, float(exact[worst]), float(theirs[worst]), float(errors.max()),
                        status == "ok", status))
        if status == "ok":
            continue
        wrong_at = [label(tuple(int(i) for i in ix)) for ix in np.argwhere(bad.reshape(exact.shape))]
        worst_abs = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(exact - theirs))), exact.shape))
        entries = ", ".join(wrong_at[:6]) + (", ..." if len(wrong_at) > 6 else "")
        detail = (
            f"{len(wrong_at)} of {exact.size} entries wrong: {entries}; max abs error "
            f"{abs(float(exact[worst_abs]) - float(theirs[worst_abs])):.3g} at {label(worst_abs)}"
        )
        found = hints(theirs, exact, floor=scaled, rtol=rtol, batch=getattr(subject, "batch", None)) if finite else []
        if first is None:
            first = name
            after = [r.name for r in rows[:-1]]
            agree = f" (every one after it agrees: {', '.join(after)})" if after else ""
            findings.append(Finding(
                name,
                "wrong",
                f"d{subject.output}/d{name} is the first wrong intermediate in backward order{agree}; {detail}",
                found + [f"the mistake is in the step that makes d{subject.output}/d{name} from the values after it"],
                derivation=_from_agreed(subject.intermediate_derivation(name, worst_abs), set(after)),
            ))
        else:
            findings.append(Finding(
                name, "wrong", f"d{subject.output}/d{name}: {detail} (it comes after {first} in backward order)", found
            ))
    return rows, findings
