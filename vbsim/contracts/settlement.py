"""The settlement record and the conversion of floats / numpy arrays / DataArrays to float64 arrays.

The numerical core of every contract works on plain float64 numpy arrays that broadcast against
each other. :func:`prepare` turns the caller's inputs into such arrays (remembering whether they
were floats, arrays or DataArrays) and :class:`Settlement` turns the results back.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError

# Context names the pipeline understands, with their allowed range (None: no range check).
SCALAR_CONTEXT: dict[str, tuple[float, float]] = {
    "quality_score": (0.0, 1.0),
    "assigned_beneficiaries": (0.0, math.inf),
    "member_months": (0.0, math.inf),
    "revenue": (0.0, math.inf),
    "relief": (0.0, math.inf),
    "episodes": (0.0, math.inf),
    "expected_cost": (0.0, math.inf),
    "risk_score": (0.0, math.inf),
    "covered_spend": (0.0, math.inf),
    "covered_share": (0.0, 1.0),
    "payer_benchmark": (0.0, math.inf),
}
BOOL_CONTEXT = ("quality_standard_met",)
MAPPING_CONTEXT = ("excess", "expected_excess", "cases")
ALL_CONTEXT = tuple(SCALAR_CONTEXT) + BOOL_CONTEXT + MAPPING_CONTEXT


def _is_da(x: Any) -> bool:
    return type(x).__name__ == "DataArray" and hasattr(x, "dims")


def _check_leaf(field: str, a: np.ndarray, lo: float, hi: float) -> None:
    if a.size and not np.all(np.isfinite(a)):
        raise VbsimInputError(f"{field} must be finite (no NaN or inf); allowed [{lo:g}, {hi:g}]")
    if a.size and (a.min() < lo or a.max() > hi):
        raise VbsimInputError(
            f"{field} must be in [{lo:g}, {hi:g}]; got values from {a.min():g} to {a.max():g}"
        )


class Context:
    """Validated float64 inputs broadcast to one shape, with clear errors for missing names.

    >>> ctx = prepare(np.array([100.0, 200.0]), 90.0, {})
    >>> ctx.shape, ctx.get("expenditure").tolist(), ctx.has("revenue")
    ((2,), [90.0, 90.0], False)
    """

    def __init__(self, leaves: dict[str, Any], kind: str, template: Any, shape: tuple) -> None:
        self._v = leaves
        self.kind = kind
        self.template = template
        self.shape = shape
        self.inputs = [a for a in leaves.values() if isinstance(a, np.ndarray)]

    def has(self, name: str) -> bool:
        return name in self._v

    def get(self, name: str, default: Any = None) -> Any:
        return self._v.get(name, default)

    def need(self, name: str, by: str) -> Any:
        if name not in self._v:
            raise VbsimInputError(
                f"context {name!r} is required by {by}; pass {name}=... to settle()"
            )
        return self._v[name]

    def lookup(self, name: str, key: Any, by: str) -> np.ndarray:
        """Entry ``key`` of mapping context ``name`` (e.g. excess at one threshold)."""
        m = self.need(name, by)
        for k, v in m.items():
            if k == key or (isinstance(k, (int, float)) and isinstance(key, (int, float))
                            and math.isclose(float(k), float(key), rel_tol=1e-12)):
                return v
        raise VbsimInputError(
            f"context {name!r} has no entry for {key!r} (required by {by}); has "
            + ", ".join(repr(k) for k in m)
        )


def prepare(benchmark: Any, expenditure: Any, context: Mapping[str, Any]) -> Context:
    """Validate and broadcast every input; returns a :class:`Context` of float64 arrays.

    >>> ctx = prepare(240e6, np.array([228e6, 250e6]), {"revenue": 60e6})
    >>> ctx.need("revenue", "a loss limit").tolist()
    [60000000.0, 60000000.0]
    """
    unknown = [k for k in context if k not in ALL_CONTEXT]
    if unknown:
        raise VbsimInputError(
            f"unknown context name(s) {', '.join(map(repr, unknown))}; allowed: "
            + ", ".join(ALL_CONTEXT)
        )
    flat: dict[tuple[str, Any], Any] = {("benchmark", None): benchmark,
                                        ("expenditure", None): expenditure}
    for k, v in context.items():
        if v is None:
            continue
        if k in MAPPING_CONTEXT:
            if _is_da(v) and "threshold" in v.dims:
                v = {float(t): v.sel(threshold=t, drop=True) for t in v["threshold"].values}
            if not isinstance(v, Mapping):
                raise VbsimInputError(f"context {k!r} must be a mapping (key -> amount); got {v!r}")
            for kk, vv in v.items():
                flat[(k, kk)] = vv
        else:
            flat[(k, None)] = v
    das = [v for v in flat.values() if _is_da(v)]
    kind = "dataarray" if das else "scalar"
    template = None
    if das:
        import xarray as xr

        template = xr.broadcast(*das)[0] if len(das) > 1 else das[0]
        template = xr.zeros_like(template, dtype=float)
    arrays: dict[tuple[str, Any], np.ndarray] = {}
    for key, v in flat.items():
        field = key[0] if key[1] is None else f"{key[0]}[{key[1]!r}]"
        if _is_da(v):
            a = v.broadcast_like(template).transpose(*template.dims).values
        else:
            if not isinstance(v, (int, float, np.number, bool, np.bool_)):
                if kind == "scalar":
                    kind = "array"
            a = np.asarray(v)
        if key[0] in BOOL_CONTEXT:
            if a.dtype != bool:
                raise VbsimInputError(f"{field} must be true/false; got {v!r}")
        else:
            if a.dtype.kind in "bUSa":  # True is not $1, "1e6" is not a number
                raise VbsimInputError(f"{field} must be a number or array of numbers; got {v!r}")
            try:
                a = a.astype(float, copy=False)
            except (TypeError, ValueError):
                raise VbsimInputError(
                    f"{field} must be a number or array of numbers; got {v!r}"
                ) from None
            lo, hi = SCALAR_CONTEXT.get(key[0], (0.0, math.inf))
            _check_leaf(field, a, lo, hi)
        arrays[key] = a
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k[0]}{a.shape}" for k, a in arrays.items())
        raise VbsimInputError(f"inputs do not broadcast to one shape: {shapes}") from None
    leaves: dict[str, Any] = {}
    for (k, kk), a in arrays.items():
        a = np.broadcast_to(a, shape)
        if kk is None:
            leaves[k] = a
        else:
            leaves.setdefault(k, {})[kk] = a
    leaves.setdefault("quality_standard_met", np.ones(shape, dtype=bool))
    E = leaves["expenditure"]
    for kk, a in (leaves.get("excess") or {}).items():
        if np.any(a - E > 1e-9 * np.maximum(np.abs(E), 1.0)):
            raise VbsimInputError(
                f"excess[{kk!r}] must not exceed expenditure (the cost above an attachment is "
                f"part of the total); got {float(np.max(a - E)):,.6g} more")
    return Context(leaves, kind, template, shape)


FLAGS = ("gate_met", "cap_hit", "stop_loss_hit", "quality_gate_met")


@dataclasses.dataclass(frozen=True, repr=False)
class Settlement:
    """Components of one performance-year settlement (same kind as the inputs).

    All amounts are totals in the currency of the inputs. Signs: ``payment`` and ``provider_net``
    are what the provider receives (negative: the provider owes); ``payer_net`` is the payer's gain
    against the pre-discount benchmark. See docs/contracts.md for the pipeline order.

    >>> from vbsim.presets import mssp
    >>> s = mssp("ENHANCED", msr=0.02).settle(benchmark=240e6, expenditure=228e6)
    >>> round(s.payment)
    8820000
    >>> s.gate_met, s.cap_hit
    (True, False)
    """

    benchmark: Any
    discount: Any
    withhold: Any
    withhold_earned: Any
    final_benchmark: Any
    expenditure: Any
    stop_loss_recoveries: Any
    stop_loss_premium: Any
    counted_expenditure: Any
    gross_savings: Any
    savings_rate: Any
    shared_before_cap: Any
    sequestration: Any
    relief: Any
    shared_after_cap: Any
    quality_adjustment: Any
    p4p: Any
    capitation: Any
    covered_spend: Any
    payment: Any
    provider_net: Any
    payer_net: Any
    gate_met: Any
    cap_hit: Any
    stop_loss_hit: Any
    quality_gate_met: Any

    @classmethod
    def build(cls, ctx: Context, values: dict[str, np.ndarray], name: str = "") -> Settlement:
        out = {}
        for f in dataclasses.fields(cls):
            a = np.asarray(values[f.name], dtype=bool if f.name in FLAGS else float)
            if a.shape != ctx.shape or not a.flags.writeable:
                a = np.array(np.broadcast_to(a, ctx.shape))  # own, full-size memory
            elif any(a is x for x in ctx.inputs):
                a = a.copy()  # never hand back the caller's array
            if ctx.kind == "dataarray":
                out[f.name] = ctx.template.copy(data=a).rename(f.name)
            elif ctx.kind == "scalar" and a.ndim == 0:
                out[f.name] = bool(a) if f.name in FLAGS else float(a)
            else:
                out[f.name] = a
        return cls(**out)

    def to_dict(self) -> dict[str, Any]:
        """``{component: value}`` in pipeline order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dataset(self) -> Any:
        """An ``xarray.Dataset`` of all components (inputs must have been DataArrays or arrays)."""
        import xarray as xr

        d = self.to_dict()
        if _is_da(self.payment):
            return xr.Dataset(d)
        return xr.Dataset({k: (tuple(f"dim_{i}" for i in range(np.ndim(v))), np.asarray(v))
                           for k, v in d.items()})

    def _rows(self) -> list[tuple[str, str]]:
        rows = []
        for k, v in self.to_dict().items():
            a = np.asarray(v)
            if a.ndim == 0:
                x = float(a)
                s = str(bool(a)) if k in FLAGS else (f"{x:,.2f}" if abs(x) >= 1 or x == 0
                                                     else f"{x:.6g}")
            elif k in FLAGS:
                s = f"share true {a.mean():.3f}  (shape {a.shape})"
            else:
                s = (f"mean {a.mean():,.2f}  min {a.min():,.2f}  max {a.max():,.2f}"
                     f"  (shape {a.shape})")
            rows.append((k, s))
        return rows

    def __repr__(self) -> str:
        rows = self._rows()
        w = max(len(k) for k, _ in rows)
        return "Settlement(\n" + "\n".join(f"  {k:<{w}} = {s}" for k, s in rows) + "\n)"

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{html.escape(s)}</td></tr>"
            for k, s in self._rows()
        )
        return f"<table><caption>Settlement</caption>{body}</table>"
