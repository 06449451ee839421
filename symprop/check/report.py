"""The result of a gradient check: rows, findings, the derivation of a wrong entry, and the report.

Everything here is finished data: the comparisons that fill it are in
:mod:`symprop.check.compare`, and the renderers in :mod:`symprop.render.check`
read it (``print(report)``, ``rich.print(report)`` and Jupyter find them
through :mod:`symprop.display`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import sympy

from .. import display
from ..backprop import BackwardPass, FanIn, Step

__all__ = ["Row", "Derivation", "Finding", "GradcheckReport", "relative_error", "DEFAULT_FLOOR"]

#: Below this magnitude the relative error is taken against the floor instead.
DEFAULT_FLOOR = 1e-4


def relative_error(exact: float, numeric: float, floor: float = DEFAULT_FLOOR) -> float:
    """``|a - n| / max(|a|, |n|, floor)``; infinite when either is NaN or infinite."""
    if not (math.isfinite(exact) and math.isfinite(numeric)):
        return math.inf
    return abs(exact - numeric) / max(abs(exact), abs(numeric), floor)


@dataclass(frozen=True)
class Row:
    """One parameter scalar.

    Attributes:
        param: its label, ``"w"`` or ``"W1[0,1]"``.
        name: the parameter it belongs to (``"W1"``).
        index: its index in the parameter's array (``()`` for a scalar).
        symbolic: the exact gradient, as a float.
        numeric: the finite difference (or the user's value); ``None`` if there is none.
        rel_error: ``|symbolic - numeric| / max(|symbolic|, |numeric|, floor)``
            (infinite for NaN or a missing value).
        ok: True when it agrees, or when a kink excuses the difference.
        status: ``ok``; ``wrong`` (a finite number that disagrees); ``kink``
            (disagrees, but a kink lies inside the step); ``nan`` (NaN or infinity);
            or no usable value: ``missing`` (no such key), ``shape`` (the array has
            the wrong shape), ``invalid`` (not numbers, or not a dict), ``error``
            (the function raised).
        exact: the exact SymPy value, when there is one (formula graphs).
    """

    param: str
    name: str
    index: tuple[int, ...]
    symbolic: float
    numeric: float | None
    rel_error: float
    ok: bool
    status: str
    exact: sympy.Expr | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (non-finite numbers become ``null``)."""
        data = {
            "param": self.param,
            "symbolic": _json_number(self.symbolic),
            "numeric": _json_number(self.numeric),
            "rel_error": _json_number(self.rel_error),
            "ok": self.ok,
            "status": self.status,
        }
        if self.exact is not None and not (self.exact.is_Float or self.exact.is_Integer):
            data["exact"] = sympy.sstr(self.exact)
        return data


@dataclass
class Derivation:
    """The exact derivation of one gradient entry, as recorded by a backward pass.

    Attributes:
        backward: the backward pass the steps belong to.
        steps: the steps (and fan-in sums) that make the entry's gradient, right to left.
        entry: the entry's label (``"W1[2,0]"``).
        source: where the steps come from when not the whole loss (``"sample 2 of 4"``).
        total: for a batch, how the samples' gradients add up to the entry's gradient.
    """

    backward: BackwardPass
    steps: list[Step | FanIn]
    entry: str
    source: str | None = None
    total: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"entry", "source", "steps": [{"node", "input", "local", "upstream", "product"}], "total"}``."""

        def term(t) -> dict[str, Any]:
            return {"expr": sympy.sstr(t.expr), "value": _json_number(float(t.value))}

        steps = [
            {
                "node": s.node.name,
                "input": s.input.name,
                "local": term(s.local),
                "upstream": term(s.upstream),
                "product": term(s.product),
            }
            for s in self.steps
            if isinstance(s, Step)
        ]
        return {"entry": self.entry, "source": self.source, "steps": steps, "total": self.total}


@dataclass
class Finding:
    """What is wrong with one parameter (or with the user's function as a whole).

    Attributes:
        param: the parameter's name, or ``None`` for the whole function.
        kind: ``wrong`` (values), ``missing``, ``extra``, ``shape``, ``nan``,
            ``type`` (not numbers), ``error`` (an exception), ``not_dict``, or
            ``kink`` (a difference excused by a kink).
        message: one line that says what and by how much.
        hints: likely causes (``"its transpose matches the exact gradient"``).
        derivation: the exact derivation of the worst entry (for ``wrong``).
    """

    param: str | None
    kind: str
    message: str
    hints: list[str] = field(default_factory=list)
    derivation: Derivation | None = None

    @property
    def fails(self) -> bool:
        return self.kind != "kink"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"param": self.param, "kind": self.kind, "message": self.message, "hints": self.hints}
        if self.derivation is not None:
            data["derivation"] = self.derivation.to_dict()
        return data


@dataclass
class GradcheckReport:
    """The result of :func:`gradcheck`: rows, findings, and whether it passed.

    ``bool(report)`` is ``report.passed``. Printed, it is a plain-text table;
    in rich (``rich.print(report)``) and Jupyter it renders as a table too.

    Against finite differences ``floor`` is the relative error's least
    denominator; against the user's gradients it is relative to ``scale``
    (the problem's largest gradient with every chain-rule path counted in
    absolute value): the least denominator is ``floor * scale`` (``floor`` when ``scale`` is 0).
    """

    rows: list[Row]
    against: str
    eps: float | None
    rtol: float
    floor: float
    findings: list[Finding] = field(default_factory=list)
    loss: float | None = None
    output: str = "L"
    scale: float | None = None
    #: ``{"checked", "total", "per_tensor"}``: how many parameter entries were compared, of how many;
    #: ``per_tensor`` is the size of each tensor's seeded sample, None when every entry was
    entries: dict[str, Any] | None = None

    @property
    def floor_used(self) -> float:
        """The relative error's least denominator as applied: ``floor``, or ``floor * scale`` against the user's values."""
        return self.floor * (self.scale or 1.0)

    @property
    def sampled(self) -> bool:
        """True when finite differences checked a sample of the entries, not all of them."""
        return bool(self.entries) and self.entries.get("per_tensor") is not None

    @property
    def passed(self) -> bool:
        """True when every row is ok and nothing is wrong with the user's function."""
        return all(r.ok for r in self.rows) and not any(f.fails for f in self.findings)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failed(self) -> list[Row]:
        """The rows that are not ok."""
        return [r for r in self.rows if not r.ok]

    @property
    def wrong_params(self) -> list[str]:
        """The names of the parameters with a failing row or finding, in order."""
        names = [r.name for r in self.rows if not r.ok]
        names += [f.param for f in self.findings if f.fails and f.param is not None]
        return list(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        """``{"passed", "rows": [{"param", "symbolic", "numeric", "rel_error", "ok", ...}], ...}``.

        Against the user's values each row has them under ``"yours"`` as well as
        under ``"numeric"`` (kept, as every key), and ``"scale"`` is the gradient
        scale the floor is relative to (``null`` against finite differences).
        """
        rows = [r.to_dict() for r in self.rows]
        if self.eps is None:
            for row in rows:
                row["yours"] = row["numeric"]
        return {
            "passed": self.passed,
            "rows": rows,
            "against": self.against,
            "eps": self.eps,
            "rtol": self.rtol,
            "floor": self.floor,
            "scale": self.scale,
            "findings": [f.to_dict() for f in self.findings],
            "entries": self.entries,
        }

    def __str__(self) -> str:
        return display.show(self, "text") or repr(self)

    def __repr__(self) -> str:
        agree = sum(1 for r in self.rows if r.ok)
        verdict = "passed" if self.passed else f"FAILED, wrong: {', '.join(self.wrong_params)}"
        return f"GradcheckReport({verdict}: {agree} of {len(self.rows)} agree, against {self.against})"

    def __rich__(self):
        return display.show(self, "rich") or str(self)

    def _repr_markdown_(self) -> str | None:
        return display.show(self, "markdown")

    def _repr_html_(self) -> str | None:
        return display.show(self, "html")


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
