"""The two comparisons: exact gradients against finite differences, and a user's gradients against the exact ones.

Each fills a :class:`~symprop.check.report.GradcheckReport`: one row per
parameter scalar, and a finding per wrong parameter with likely causes (hints)
and the exact derivation of its worst entry.

Why the defaults are sound
--------------------------
The relative error of a row is ``|a - n| / max(|a|, |n|, floor)`` (``a`` the
exact value, ``n`` the numeric one); a row is ok when it is at most ``rtol``
(so the floor makes ``rtol * floor`` an absolute tolerance for gradients near
0). A NaN or infinity is never ok.

A central difference ``(L(p + h) - L(p - h)) / 2h`` has a truncation error
of ``h**2 |L'''| / 6`` and a rounding error of about ``eps_machine |L| / h``
(``eps_machine = 2.2e-16``). The sum is smallest near
``h = eps_machine**(1/3) ~ 6e-6``, where both are about ``1e-11`` times the
scale of the loss: the default ``eps = 1e-5`` (CS231n's choice; torch.gradcheck
uses 1e-6). So an exact gradient and its finite difference agree to about
``1e-10`` relative on a well-scaled loss, and the default ``rtol = 1e-5``
leaves five orders of magnitude of room for badly scaled ones, while every
real bug (a missing factor, a transposed matrix, a forgotten sum, a sign) is
off by far more: CS231n calls a relative error above 1e-2 "probably wrong" and
below 1e-7 "happy"; torch.gradcheck allows rtol 1e-3 with atol 1e-5. The
``floor`` of ``1e-4`` turns the relative test into an absolute one of
``rtol * floor = 1e-9`` for gradients smaller than ``1e-4``, still a hundred
times the finite-difference noise of a loss of order 1, so a gradient that is
exactly 0 is not failed for a numeric ``1e-12``.

A user's float64 gradient carries no truncation error at all, so the same
``rtol`` is strict for it (a gradient scaled by ``1 + 2*rtol`` fails), and the
floor is relative: ``floor * scale``, where ``scale`` is the largest gradient
of the problem with every chain-rule path (and every sample's part) counted in
absolute value (:func:`~symprop.check.subjects.path_magnitudes`). A fixed
floor would be an absolute tolerance of ``1e-9``, and a network whose sigmoids
saturate has every gradient near ``1e-13``: twice the right gradient would
pass. Scaled, the tolerance follows the problem (a gradient multiplied by 2
fails at every scale), while the rounding noise of a correct float64
computation, about ``1e-16 * scale``, stays five orders of magnitude below it.
Counting the paths apart keeps a gradient that is a cancellation (a trained
network's batch gradient, a shared bias fed by a softmax's deltas, ``a - y``
of a saturated softmax) from being held to a noise below that of the terms it
cancels; the exact values, evaluated in float arithmetic from float inputs,
carry that noise too.

Kinks
-----
``relu``, ``leaky_relu`` and ``abs`` have no derivative at 0 (symprop uses
``relu'(0) = 0`` as PyTorch does). When a kink's argument changes sign between
``p - eps`` and ``p + eps`` the finite difference measures neither side, so a
disagreeing row is flagged ``kink`` and not counted as a wrong gradient. Against
a user's gradient only a kink argument at 0 itself (within ``1e-8``) excuses a
difference, and only for a value between the one-sided derivatives there
(``z > 0`` versus ``z >= 0`` are both defensible; anything else is wrong).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import CheckError, EvaluationError, LimitError
from .entries import Entries, choose_entries
from .intermediates import check_intermediates
from .report import DEFAULT_FLOOR, Finding, GradcheckReport, Row, relative_error
from .subjects import Subject
from .user_code import describe, run_user_code

__all__ = ["check_numeric", "check_against", "DEFAULT_EPS", "DEFAULT_RTOL", "DEFAULT_FLOOR"]

#: The finite-difference step ``h``: near ``eps_machine**(1/3)`` (see above).
DEFAULT_EPS = 1e-5
#: The largest relative error that counts as agreement.
DEFAULT_RTOL = 1e-5
#: Against a user's gradient, a kink argument this close to 0 excuses a difference.
KINK_TOUCH = 1e-8
#: The step of the one-sided differences that bound a user's value at a kink, and their tolerance.
ONE_SIDED_STEP = 1e-6
ONE_SIDED_RTOL = 1e-4


def _sign_changes(before: np.ndarray, after: np.ndarray) -> bool:
    return before.shape == after.shape and bool(np.any(np.sign(before) != np.sign(after)))


def _kink_between(subject: Subject, name: str, index: tuple[int, ...], h: float) -> bool:
    """Does a kink argument change sign when this scalar moves from ``p - h`` to ``p + h``?"""
    values = {n: v.copy() for n, v in subject.values.items()}
    p = float(values[name][index])
    values[name][index] = p - h
    minus = subject.kink_values(values)
    values[name][index] = p + h
    plus = subject.kink_values(values)
    return _sign_changes(minus, plus)


def _validate_step(subject: Subject, eps: float, entries: Entries | None = None) -> None:
    """Refuse a step that float64 cannot take at some (checked) parameter: ``p + eps == p`` (``--eps 1e-300``, ``w = 1e12``)."""
    for name, array in subject.values.items():
        for index in entries.of(name, array.shape) if entries else np.ndindex(array.shape):
            p = float(array[index])
            if p + eps == p or p - eps == p:
                gap = float(np.spacing(abs(p)))
                raise CheckError(
                    f"--eps {eps:g} is lost at {subject.label(name, index)} = {p:g}: float64 numbers there are "
                    f"{gap:.3g} apart, so p ± eps is p itself; give an --eps above {gap:.3g} "
                    f"(about 1e-05 × |p| = {1e-5 * abs(p):.3g} is usual)"
                )


def _numeric_gradient(subject: Subject, eps: float, entries: Entries | None = None) -> dict[str, np.ndarray]:
    """Central differences of the loss in float64, one parameter scalar at a time (NaN where not checked)."""
    _validate_step(subject, eps, entries)
    values = {n: v.copy() for n, v in subject.values.items()}
    numeric: dict[str, np.ndarray] = {}
    for name, array in values.items():
        result = np.full(array.shape, np.nan)
        loss = subject.loss_moving(name)
        for index in entries.of(name, array.shape) if entries else np.ndindex(array.shape):
            p = float(array[index])
            plus, minus = p + eps, p - eps
            array[index] = plus
            high = loss(values)
            array[index] = minus
            low = loss(values)
            array[index] = p
            result[index] = (high - low) / (plus - minus)  # the step as actually taken
        numeric[name] = result
    return numeric


def _one_sided(subject: Subject, name: str, index: tuple[int, ...], h: float) -> tuple[float, float]:
    """The left and right difference quotients ``(L(p) - L(p-h))/h`` and ``(L(p+h) - L(p))/h``."""
    values = {n: v.copy() for n, v in subject.values.items()}
    p = float(values[name][index])
    losses = []
    for point in (p - h, p, p + h):
        values[name][index] = point
        losses.append(subject.loss(values))
    return (losses[1] - losses[0]) / (p - (p - h)), (losses[2] - losses[1]) / ((p + h) - p)


def _excused_by_kink(subject: Subject, name: str, index: tuple[int, ...], theirs: float, *, floor: float) -> bool:
    """Against a user's value: a kink at the point itself, and the value between the one-sided derivatives.

    ``relu'(0)`` may be taken as 0 or 1 (or anything between); a value outside
    the one-sided derivatives is wrong whatever the convention.
    """
    scale = max(1.0, abs(float(subject.values[name][index])))
    if not subject.has_kinks or not _kink_between(subject, name, index, KINK_TOUCH * scale):
        return False
    left, right = _one_sided(subject, name, index, ONE_SIDED_STEP * scale)
    low, high = min(left, right), max(left, right)
    slack = ONE_SIDED_RTOL * max(abs(low), abs(high), floor)
    return low - slack <= theirs <= high + slack


def _rows(
    subject: Subject,
    given: Mapping[str, np.ndarray | None],
    *,
    rtol: float,
    floor: float,
    kink_step: float | None,
    reasons: Mapping[str, str] | None = None,
    entries: Entries | None = None,
) -> list[Row]:
    """One row per parameter scalar (per checked one, with ``entries``); ``kink_step`` None means
    "against a user's values".

    ``reasons`` gives the status of a parameter that has no values (``shape``, ...).
    """
    rows = []
    for name, exact in subject.exact.items():
        theirs = given.get(name)
        for index in entries.of(name, exact.shape) if entries else np.ndindex(exact.shape):
            a = float(exact[index])
            n = None if theirs is None else float(theirs[index])
            rel = math.inf if n is None else relative_error(a, n, floor)
            if n is None:
                status = (reasons or {}).get(name, "missing")
            elif not math.isfinite(n):
                status = "nan"
            elif rel <= rtol:
                status = "ok"
            elif kink_step is None and _excused_by_kink(subject, name, index, n, floor=floor):
                status = "kink"
            elif kink_step is not None and _kink_between(
                subject, name, index, kink_step * max(1.0, abs(float(subject.values[name][index])))
            ):
                status = "kink"
            else:
                status = "wrong"
            rows.append(
                Row(
                    param=subject.label(name, index),
                    name=name,
                    index=tuple(int(i) for i in index),
                    symbolic=a,
                    numeric=n,
                    rel_error=rel,
                    ok=status in ("ok", "kink"),
                    status=status,
                    exact=subject.symbolic(name, index),
                )
            )
    return rows


def _kink_findings(rows: Sequence[Row]) -> list[Finding]:
    kinked = [r for r in rows if r.status == "kink"]
    if not kinked:
        return []
    labels = ", ".join(r.param for r in kinked[:6]) + (", ..." if len(kinked) > 6 else "")
    return [
        Finding(
            None,
            "kink",
            f"not judged at a kink (relu/leaky_relu/abs at 0 within the step): {labels}",
        )
    ]


def check_numeric(subject: Subject, *, eps: float, rtol: float, floor: float, entries: int | str = "auto"
                  ) -> GradcheckReport:
    """The exact gradients against central finite differences: every entry, or a seeded sample of each
    tensor's for a network with many parameters (see :mod:`symprop.check.entries`)."""
    chosen = choose_entries({name: exact.shape for name, exact in subject.exact.items()}, entries)
    numeric = _numeric_gradient(subject, eps, chosen)
    rows = _rows(subject, numeric, rtol=rtol, floor=floor, kink_step=eps, entries=chosen)
    findings = _value_findings(subject, rows, numeric, floor=floor, rtol=rtol, entries=chosen) + _kink_findings(rows)
    return GradcheckReport(rows, "finite differences", eps, rtol, floor, findings, subject.loss_value(), subject.output,
                           entries=chosen.to_dict())


def check_against(
    subject: Subject,
    against: Callable[..., Any] | Mapping[str, Any],
    *,
    rtol: float,
    floor: float,
    name: str,
    timeout: float | None = None,
) -> GradcheckReport:
    """Hold the user's gradients (a function's result, or a dict) against the exact ones.

    The user's code (the function, and whatever its result does when read:
    ``__iter__``, ``__array__``) runs within ``timeout`` seconds; anything it
    raises becomes a finding. The floor is relative: ``floor * subject.scale``
    for parameters; for each named intermediate, ``floor`` times its own scale.

    Raises:
        CheckError: the function called ``sys.exit()`` or ran past ``timeout``.
    """
    findings: list[Finding] = []
    given: dict[str, np.ndarray | None] = {}
    entries: dict[str, Any] = {}
    scaled = floor * (subject.scale or 1.0)  # every exact gradient 0: nothing to scale by
    result = against
    if callable(against):
        params, x, y = subject.user_arguments()
        result, error = run_user_code(lambda: against(params, x, y), timeout=timeout, what=name)
        if error is not None:
            findings.append(Finding(None, "error", f"{name} raised {describe(error)}"))
    if not findings:
        if not isinstance(result, Mapping):
            findings.append(
                Finding(
                    None,
                    "not_dict",
                    f"{name} returned {type(result).__name__}, not a dict of gradients "
                    f"({', '.join(subject.exact)} -> arrays shaped like the parameters)",
                )
            )
        else:
            entries, others, error = _entries(result, name, timeout)
            if error is not None:
                findings.append(Finding(None, "not_dict", f"reading the dict {name} returned raised {describe(error)}"))
                entries = {}
            else:
                given, problems = _read_gradients(subject, entries, others, timeout=timeout, floor=scaled)
                findings.extend(problems)
    reasons = {f.param: _REASONS[f.kind] for f in findings if f.param is not None and f.kind in _REASONS}
    if any(f.param is None and f.kind in _REASONS for f in findings):
        whole = next(_REASONS[f.kind] for f in findings if f.param is None and f.kind in _REASONS)
        reasons = {name: whole for name in subject.exact}
    rows = _rows(subject, given, rtol=rtol, floor=scaled, kink_step=None, reasons=reasons)
    findings.extend(_value_findings(subject, rows, given, floor=scaled, rtol=rtol))
    findings.extend(_kink_findings(rows))
    if entries:  # gradients of named intermediates (z1, bn1, a2, ...), in backward order
        read = lambda raw, key: _as_array(raw, key, timeout)  # noqa: E731
        more_rows, more_findings = check_intermediates(subject, entries, rtol=rtol, floor=floor, hints=_value_hints, read=read)
        rows += more_rows
        findings[:0] = more_findings  # the first wrong intermediate says where the mistake is: first
    total = sum(exact.size for exact in subject.exact.values())
    return GradcheckReport(rows, name, None, rtol, floor, findings, subject.loss_value(), subject.output, subject.scale,
                           entries={"checked": total, "total": total, "per_tensor": None})


#: The row status of a parameter whose finding is of this kind.
_REASONS = {"missing": "missing", "shape": "shape", "type": "invalid", "not_dict": "invalid", "error": "error"}


def _entries(result: Mapping[Any, Any], name: str, timeout: float | None) -> tuple[dict[str, Any], list[str], BaseException | None]:
    """The user's dict as plain ``{str: value}`` (reading it runs their code: ``items()``), and the other keys' types."""

    def read() -> tuple[dict[str, Any], list[str]]:
        entries, others = {}, []
        for key, value in result.items():
            if isinstance(key, str):
                entries[str.__str__(key)] = value
            else:
                others.append(type(key).__name__)
        return entries, others

    pairs, error = run_user_code(read, timeout=timeout, what=f"reading what {name} returned")
    return (*(pairs or ({}, [])), error)


def _as_array(raw: Any, name: str, timeout: float | None) -> tuple[np.ndarray | None, str | None]:
    """A value as a float64 array, or why not (converting it runs the user's code: ``__array__``)."""
    array, error = run_user_code(lambda: np.asarray(raw), timeout=timeout, what=f"converting {name}")
    if error is not None:
        return None, f"cannot be read as numbers: converting it raised {describe(error)}"
    if array.dtype.kind not in "iuf":  # None, text, objects, booleans are not gradients
        return None, f"not an array of numbers (got {type(raw).__name__})"
    return array.astype(np.float64), None


def _read_gradients(
    subject: Subject, entries: Mapping[str, Any], others: list[str], *, timeout: float | None, floor: float
) -> tuple[dict[str, np.ndarray | None], list[Finding]]:
    """Check the user's dict (as :func:`_entries` read it) against the parameters: keys, types, shapes, finiteness."""
    given: dict[str, np.ndarray | None] = {}
    findings: list[Finding] = []
    expected = ", ".join(subject.exact)
    for kind in others:
        findings.append(Finding(None, "extra", f"a key of type {kind} is not a parameter name (expected {expected})"))
    intermediates = subject.intermediate_names()
    for key in entries:
        if key not in subject.exact and key not in subject.unchecked and key not in intermediates:
            also = f"; or a named intermediate: {', '.join(subject.intermediates())}" if intermediates else ""
            findings.append(Finding(key, "extra", f"{key!r} is not a parameter (expected {expected}{also})"))
    for param, exact in subject.exact.items():
        if param not in entries:
            findings.append(Finding(param, "missing", f"{param}: missing from the returned dict"))
            continue
        array, problem = _as_array(entries[param], f"{param}", timeout)
        if array is None:
            findings.append(Finding(param, "type", f"{param}: {problem}"))
            continue
        if array.shape != exact.shape:
            findings.append(
                Finding(
                    param,
                    "shape",
                    f"{param}: expected shape {exact.shape}, got {array.shape}",
                    _shape_hints(array, exact, floor=floor),
                )
            )
            continue
        bad = ~np.isfinite(array)
        if bad.any():
            where = [subject.label(param, tuple(int(i) for i in ix)) for ix in np.argwhere(bad)[:4]]
            findings.append(
                Finding(param, "nan", f"{param}: NaN or infinity at {', '.join(where)}{', ...' if bad.sum() > 4 else ''}")
            )
        given[param] = array
    return given, findings


def _close(a: np.ndarray, b: np.ndarray, floor: float, rtol: float = DEFAULT_RTOL) -> bool:
    """Every entry within ``rtol`` of the larger magnitude (at least ``floor``)."""
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return False
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return bool(np.all(np.abs(a - b) <= rtol * scale))


def _shape_hints(array: np.ndarray, exact: np.ndarray, *, floor: float) -> list[str]:
    """Why the shape might be off: transposed, an extra axis, a missing batch sum."""
    hints = []
    if array.ndim == 2 and _close(array.T, exact, floor):
        hints.append("its transpose is the exact gradient: the convention is W[j, i] joins input i to neuron j")
    elif array.size == exact.size and _close(array.reshape(exact.shape), exact, floor):
        hints.append(f"the values are right; reshape to {exact.shape} (e.g. no keepdims)")
    elif array.ndim >= 1 and array.shape[1:] == exact.shape and _close(array.sum(axis=0), exact, floor):
        hints.append("one row per sample: summing over the batch (axis 0) gives the exact gradient")
    elif array.ndim >= 1 and array.shape[0] == 1 and array.shape[1:] == exact.shape:
        hints.append("an extra leading axis of length 1")
    elif array.ndim >= 1 and array.size and array.size % max(exact.size, 1) == 0 and array.size > exact.size:
        hints.append(f"{array.size // max(exact.size, 1)} times too many entries: a forgotten sum over the batch?")
    return hints


def _value_findings(
    subject: Subject,
    rows: Sequence[Row],
    given: Mapping[str, np.ndarray | None],
    *,
    floor: float,
    rtol: float,
    entries: Entries | None = None,
) -> list[Finding]:
    """One finding per parameter with wrong finite values: which entries, how much, the derivation."""
    findings = []
    right = {n for n in subject.exact if all(r.ok for r in rows if r.name == n)}
    for name, exact in subject.exact.items():
        wrong = [r for r in rows if r.name == name and r.status == "wrong"]
        if not wrong:
            continue
        theirs = given[name]
        assert theirs is not None
        worst_abs = max(wrong, key=lambda r: abs(r.symbolic - r.numeric))
        worst_rel = max(wrong, key=lambda r: r.rel_error)
        total = int(np.prod(exact.shape, dtype=int))
        checked = entries.of(name, exact.shape) if entries and entries.chosen else None
        if checked is not None and len(checked) < total:  # a sample: the hints read the checked entries
            rows_of = tuple(np.array(checked).T)
            theirs, exact = theirs[rows_of], exact[rows_of]
            what = f"{len(wrong)} of the {len(checked)} checked entries (of {total})"
        else:
            what = f"{len(wrong)} of {total} entries" if exact.shape else "wrong"
        shown = ", ".join(r.param for r in wrong[:6]) + (", ..." if len(wrong) > 6 else "")
        message = (
            f"{name}: {what}{' wrong: ' + shown if exact.shape else ''}; "
            f"max abs error {abs(worst_abs.symbolic - worst_abs.numeric):.3g} at {worst_abs.param}, "
            f"max rel error {worst_rel.rel_error:.3g} at {worst_rel.param}"
        )
        hints = _value_hints(theirs, exact, floor=floor, rtol=rtol, batch=_batch_size(subject))
        hints += [h for h in [subject.where_hint(name, right)] if h]
        try:
            derivation = subject.derivation(name, worst_abs.index)
        except LimitError as error:  # the narrated scalar pass is too big; the comparison above did not need it
            derivation = None
            hints.append(f"the derivation of {worst_abs.param} is not shown: {str(error).split(';')[0]}; "
                         "the same mistake in a narrower network shows it step by step")
        except EvaluationError as error:  # one sample's scalar pass leaves float64 where the vectorized values did not
            derivation = None
            hints.append(f"the derivation of {worst_abs.param} is not shown: in one sample's step-by-step pass "
                         f"{str(error).split(' at ')[0]}")
        findings.append(Finding(name, "wrong", message, hints, derivation=derivation))
    return findings


def _batch_size(subject: Subject) -> int | None:
    return getattr(subject, "batch", None)


def _value_hints(theirs: np.ndarray, exact: np.ndarray, *, floor: float, rtol: float, batch: int | None) -> list[str]:
    """Likely causes of a wrong gradient with the right shape."""
    hints = []
    if _close(-theirs, exact, floor, rtol):
        return ["the sign is flipped"]
    if theirs.ndim == 2 and theirs.shape[0] == theirs.shape[1] and _close(theirs.T, exact, floor, rtol):
        return ["its transpose is the exact gradient: the convention is W[j, i] joins input i to neuron j"]
    big = np.abs(exact) > floor
    if big.any():
        ratios = theirs[big] / exact[big]
        ratio = float(np.median(ratios))
        if ratio != 0 and np.allclose(ratios, ratio, rtol=1e-9, atol=0) and _close(theirs / ratio, exact, floor, rtol):
            cause = ""
            if batch and batch > 1 and (math.isclose(ratio, batch) or math.isclose(ratio, 1 / batch)):
                cause = f"the batch has {batch} samples: mean versus sum over the batch?"
            elif math.isclose(ratio, 2.0) or math.isclose(ratio, 0.5):
                cause = "a factor 1/2 in the loss, as in half_squared_error?"
            if big.sum() > 1:  # one entry is always "off by a constant factor": that says nothing
                hints.append(f"off by a constant factor: {ratio:.6g} times the exact gradient" + (f" ({cause})" if cause else ""))
            elif cause:
                hints.append(f"{ratio:.6g} times the exact gradient: {cause}")
    if exact.size > 1 and not hints:
        if _close(np.sort(theirs, axis=None), np.sort(exact, axis=None), floor, rtol):
            hints.append("the right numbers in the wrong places: a transposed or permuted array")
    return hints
