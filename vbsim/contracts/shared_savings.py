"""Shared savings: upside-only (MSR gate, sharing rate, cap) and two-sided risk (MLR gate, loss
rate, loss limits, relief). Rules from DOMAIN.md section 2 (MSSP PY2023+).

Every sharing rule returns the same components from ``share(G, B, r, ctx, sequestration)``:
``gate_met, shared_before_cap, sequestration, relief, shared_after_cap, cap_hit,
quality_adjustment`` (numpy arrays; savings positive, losses negative).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError

from ._term import GATE_EPS, Term, as_rate_or_table
from .settlement import Context

# MSSP one-sided MSR by assigned beneficiaries (DOMAIN.md s.2 [C range], linear interpolation
# inside each band [R]): (band start, band end, MSR at start, MSR at end).
MSR_TABLE: tuple[tuple[int, int, float, float], ...] = (
    (5_000, 5_999, 0.039, 0.036),
    (6_000, 6_999, 0.036, 0.034),
    (7_000, 7_999, 0.034, 0.032),
    (8_000, 9_999, 0.032, 0.029),
    (10_000, 14_999, 0.029, 0.027),
    (15_000, 19_999, 0.027, 0.025),
    (20_000, 49_999, 0.025, 0.022),
    (50_000, 59_999, 0.022, 0.020),
)
MSR_FLOOR = 0.020  # 60,000+ assigned beneficiaries [C]


def msr_from_table(assigned_beneficiaries: Any) -> np.ndarray:
    """MSSP minimum savings rate for a number of assigned beneficiaries (vectorised).

    Linear inside each band of the size table; 2.0% at 60,000 and above. Below 5,000 the program
    uses a confidence-interval formula (up to 12.2%) that is not tabulated here: an error.

    >>> round(float(msr_from_table(12_000)), 8)  # 2.9% - (2,000 / 4,999) x 0.2%
    0.02819984
    >>> float(msr_from_table(60_000)), float(msr_from_table(5_000))
    (0.02, 0.039)
    """
    n = np.asarray(assigned_beneficiaries, dtype=float)
    if n.size and (not np.all(np.isfinite(n)) or n.min() < 5_000):
        raise VbsimInputError(
            "assigned_beneficiaries must be >= 5000 for the MSR size table (msr='table'); got "
            f"min {n.min():g}. Smaller ACOs: pass a fixed msr"
        )
    xp = [p for lo, hi, _, _ in MSR_TABLE for p in (lo, hi)]
    fp = [p for _, _, a, b in MSR_TABLE for p in (a, b)]
    return np.interp(n, xp, fp, right=MSR_FLOOR)


def _min_rate(value: Any, ctx: Context, by: str) -> Any:
    if isinstance(value, str):  # "table"
        return msr_from_table(ctx.need("assigned_beneficiaries", by))
    return value


def _savings(rule: Any, G: np.ndarray, B: np.ndarray, r: np.ndarray, ctx: Context,
             seq: float, name: str) -> dict[str, np.ndarray]:
    """Savings side shared by both rules: gate, rate (optionally x quality), sequestration, cap."""
    msr = _min_rate(rule.msr, ctx, f"{name}.msr='table'")
    gate = (G > 0) & (r >= msr - GATE_EPS)
    rate = rule.rate
    if rule.scale_by_quality:
        rate = rate * ctx.need("quality_score", f"{name}.scale_by_quality")
    before = np.where(gate, G * rate, 0.0)
    sequestration = before * seq  # before the cap [C]
    net = before - sequestration
    if rule.cap is None:
        after, hit = net, np.zeros(np.shape(net), bool)
    else:
        cap_amount = rule.cap * B
        after, hit = np.minimum(net, cap_amount), net > cap_amount
    return {"gate": gate, "before": before, "seq": sequestration, "after": after, "hit": hit}


@dataclasses.dataclass(frozen=True)
class SharedSavings(Term):
    """Upside-only shared savings: MSR gate, sharing rate, savings cap.

    Payment = min(G x rate x (1 - sequestration), cap x benchmark) when r = G / benchmark clears
    the MSR (a gate, not a deductible: sharing starts at the first dollar) [C]; else 0.

    Parameters
    ----------
    rate : sharing rate in [0, 1] (with quality standard met).
    msr : minimum savings rate in [0, 1), or ``"table"`` for the MSSP size table (needs context
        ``assigned_beneficiaries``).
    cap : savings cap as a share of the (final) benchmark, or None for no cap.
    scale_by_quality : multiply the rate by context ``quality_score`` (MSSP before PY2019).

    Examples
    --------
    >>> from vbsim.contracts import Contract
    >>> c = Contract("one-sided", sharing=SharedSavings(rate=0.4, msr=0.02, cap=0.1))
    >>> c.settle(benchmark=100e6, expenditure=96e6).payment  # 40% x 4M x 0.98
    1568000.0
    """

    rate: float
    msr: float | str = 0.0
    cap: float | None = None
    scale_by_quality: bool = False

    def __post_init__(self) -> None:
        self._real("rate", 0, 1)
        self._set("msr", as_rate_or_table(type(self).__name__, "msr", self.msr))
        self._opt_real("cap", 0, math.inf)
        self._choice("scale_by_quality", [False, True])

    def share(self, G: np.ndarray, B: np.ndarray, r: np.ndarray, ctx: Context,
              seq: float) -> dict[str, np.ndarray]:
        s = _savings(self, G, B, r, ctx, seq, "SharedSavings")
        zero = np.zeros(np.shape(G))
        return {"gate_met": s["gate"], "shared_before_cap": s["before"], "sequestration": s["seq"],
                "relief": zero, "shared_after_cap": s["after"], "cap_hit": s["hit"],
                "quality_adjustment": zero}


@dataclasses.dataclass(frozen=True)
class QualityLossRate(Term):
    """Quality-dependent loss rate: clip(1 - slope x quality_score, floor, ceiling).

    Failing the quality standard (context ``quality_standard_met`` false) gives ``ceiling``.
    MSSP ENHANCED: slope 0.75, floor 0.40, ceiling 0.75 [C, DOMAIN.md s.2].

    Parameters
    ----------
    slope : in [0, 1]: the loss rate falls by ``slope`` per unit of quality score. Default 0.75.
    floor : lowest loss rate, in [0, 1]. Default 0.40.
    ceiling : highest loss rate, in [0, 1], at least ``floor``; also the rate when the quality
        standard is not met. Default 0.75.

    >>> QualityLossRate().rate(np.array(0.8), np.array(True)).item()  # clip(1 - 0.6, .4, .75)
    0.4
    """

    slope: float = 0.75
    floor: float = 0.40
    ceiling: float = 0.75

    def __post_init__(self) -> None:
        self._real("slope", 0, 1)
        self._real("floor", 0, 1)
        self._real("ceiling", 0, 1)
        if self.floor > self.ceiling:
            raise VbsimInputError(
                f"QualityLossRate.floor must be <= ceiling ({self.ceiling:g}); got {self.floor:g}"
            )

    def rate(self, quality_score: np.ndarray, standard_met: np.ndarray) -> np.ndarray:
        r = np.clip(1.0 - self.slope * quality_score, self.floor, self.ceiling)
        return np.where(standard_met, r, self.ceiling)


@dataclasses.dataclass(frozen=True)
class TwoSidedRisk(Term):
    """Two-sided shared savings and losses (MSSP BASIC C-E, ENHANCED; older Tracks 1+, 2, 3).

    Savings as :class:`SharedSavings`. Losses: when -r clears the MLR, the shared loss is
    G x loss rate (from the first dollar), reduced by context ``relief`` (never below zero), then
    limited by the smaller of ``loss_limit_benchmark`` x benchmark and ``loss_limit_revenue`` x
    context ``revenue`` [C, DOMAIN.md s.2]. When no ``revenue`` is passed only the benchmark
    limit applies (as for an ACO whose revenue is high enough for it to bind).

    Parameters
    ----------
    rate, msr, cap, scale_by_quality : savings side, as in :class:`SharedSavings`.
    loss_rate : a fixed rate in [0, 1] or a :class:`QualityLossRate`.
    mlr : minimum loss rate in [0, 1), ``"table"``, or None for the same value as ``msr``.
    loss_limit_benchmark, loss_limit_revenue : loss limits as shares (None: no such limit).

    Examples
    --------
    >>> from vbsim.contracts import Contract
    >>> c = Contract("E", sharing=TwoSidedRisk(rate=0.5, cap=0.1, loss_rate=0.3, msr=0.0,
    ...              loss_limit_benchmark=0.04, loss_limit_revenue=0.08))
    >>> c.settle(benchmark=180e6, expenditure=190.8e6, revenue=30e6).payment  # min(3.24M, 2.4M)
    -2400000.0
    """

    rate: float
    loss_rate: float | QualityLossRate
    msr: float | str = 0.0
    mlr: float | str | None = None
    cap: float | None = None
    loss_limit_benchmark: float | None = None
    loss_limit_revenue: float | None = None
    scale_by_quality: bool = False

    def __post_init__(self) -> None:
        n = type(self).__name__
        self._real("rate", 0, 1)
        if isinstance(self.loss_rate, dict):
            allowed = [f.name for f in dataclasses.fields(QualityLossRate)]
            extra = sorted(set(self.loss_rate) - set(allowed))
            if extra:
                raise VbsimInputError(f"{n}.loss_rate.{extra[0]} is not a parameter of "
                                      f"quality_loss_rate; allowed: {', '.join(allowed)}")
            self._set("loss_rate", QualityLossRate(**self.loss_rate))
        if not isinstance(self.loss_rate, QualityLossRate):
            self._real("loss_rate", 0, 1)
        self._set("msr", as_rate_or_table(n, "msr", self.msr))
        self._set("mlr", as_rate_or_table(n, "mlr", self.mlr, allow_none=True))
        self._opt_real("cap", 0, math.inf)
        self._opt_real("loss_limit_benchmark", 0, math.inf)
        self._opt_real("loss_limit_revenue", 0, math.inf)
        self._choice("scale_by_quality", [False, True])

    def share(self, G: np.ndarray, B: np.ndarray, r: np.ndarray, ctx: Context,
              seq: float) -> dict[str, np.ndarray]:
        n = "TwoSidedRisk"
        s = _savings(self, G, B, r, ctx, seq, n)
        mlr = _min_rate(self.msr if self.mlr is None else self.mlr, ctx, f"{n}.mlr='table'")
        lgate = (G < 0) & (-r >= mlr - GATE_EPS)
        if isinstance(self.loss_rate, QualityLossRate):
            met = ctx.get("quality_standard_met")
            if np.any(lgate & met):  # failing the standard gives the ceiling, whatever the score
                q = ctx.need("quality_score", f"{n}.loss_rate (quality-dependent)")
            else:
                q = np.ones(np.shape(G))
            lr = self.loss_rate.rate(q, met)
        else:
            lr = self.loss_rate
        loss = np.where(lgate, G * lr, 0.0)  # <= 0
        relief_ctx = ctx.get("relief")
        relief = np.zeros(np.shape(G)) if relief_ctx is None else np.minimum(relief_ctx, -loss)
        loss = loss + relief
        limit = np.full(np.shape(G), np.inf)
        if self.loss_limit_benchmark is not None:
            limit = np.minimum(limit, self.loss_limit_benchmark * B)
        if self.loss_limit_revenue is not None and ctx.has("revenue"):
            # without context revenue only the benchmark limit applies (the high-revenue case)
            limit = np.minimum(limit, self.loss_limit_revenue * ctx.get("revenue"))
        loss_after = np.maximum(loss, -limit)
        return {
            "gate_met": np.where(G >= 0, s["gate"], lgate),
            "shared_before_cap": s["before"] + np.where(lgate, G * lr, 0.0),
            "sequestration": s["seq"],
            "relief": relief,
            "shared_after_cap": s["after"] + loss_after,
            "cap_hit": s["hit"] | (loss < -limit),
            "quality_adjustment": np.zeros(np.shape(G)),
        }
