"""Quality terms: a withhold earned back by quality score, a pay-for-performance schedule, and a
quality gate that voids shared savings (DOMAIN.md s.1-3)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from vbsim._validate import VbsimInputError

from ._term import Term
from .settlement import Context


@dataclasses.dataclass(frozen=True)
class QualityWithhold(Term):
    """A share of the benchmark withheld and earned back in proportion to the quality score.

    withheld = rate x final benchmark; earned back = withheld x quality_score when the score is
    at least ``floor`` (else 0). With ``applies_to="benchmark"`` (REACH, LEAD) the net withhold
    reduces the benchmark before sharing, so it passes through the corridors; with
    ``"payment"`` it is a separate cash flow added to the payment.

    Parameters
    ----------
    rate : share of the final benchmark withheld, in [0, 1] (REACH 2% in 2023-25, 5% in 2026
        [C]).
    applies_to : "benchmark" (the net withhold lowers the benchmark before sharing) or
        "payment" (a separate cash flow). Default "benchmark".
    floor : quality score in [0, 1] below which nothing is earned back. Default 0.

    Examples
    --------
    >>> w = QualityWithhold(rate=0.02)
    >>> [float(x) for x in w.amounts(np.array(100.0), np.array(0.9))]  # withheld, earned back
    [2.0, 1.8]
    """

    rate: float
    applies_to: str = "benchmark"
    floor: float = 0.0

    def __post_init__(self) -> None:
        self._real("rate", 0, 1)
        self._choice("applies_to", ["benchmark", "payment"])
        self._real("floor", 0, 1)

    def amounts(self, B: np.ndarray, quality_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        withheld = self.rate * B
        frac = np.where(quality_score >= self.floor, quality_score, 0.0)
        return withheld, withheld * frac


@dataclasses.dataclass(frozen=True)
class PayForPerformance(Term):
    """Bonus / penalty by quality score: a step schedule.

    ``amounts[k]`` applies when the score lies in [thresholds[k-1], thresholds[k]) (len(amounts)
    = len(thresholds) + 1); each amount is a share of the final benchmark (``basis="benchmark"``)
    or dollars per member-month (``basis="pmpm"``, needs ``member_months``). Negative: penalty.

    Parameters
    ----------
    thresholds : quality scores in [0, 1], strictly increasing, where the step changes.
    amounts : one more entry than ``thresholds``: the bonus (or, negative, penalty) in each
        score interval, lowest scores first.
    basis : "benchmark" (amounts are shares of the final benchmark) or "pmpm" (dollars per
        member-month). Default "benchmark".

    Examples
    --------
    >>> p = PayForPerformance(thresholds=(0.5, 0.8), amounts=(-0.01, 0.0, 0.01))
    >>> [float(x) for x in p.amount(np.array([0.3, 0.5, 0.9]), np.array(100.0), None)]
    [-1.0, 0.0, 1.0]
    """

    thresholds: tuple[float, ...]
    amounts: tuple[float, ...]
    basis: str = "benchmark"

    def __post_init__(self) -> None:
        n = type(self).__name__
        for name in ("thresholds", "amounts"):
            if not isinstance(getattr(self, name), (list, tuple, np.ndarray)):
                what = "scores in [0, 1]" if name == "thresholds" else "amounts"
                raise VbsimInputError(
                    f"{n}.{name} must be a list of {what}; got {getattr(self, name)!r}")
        th = tuple(self._chk(f"thresholds[{i}]", t, 0, 1) for i, t in enumerate(self.thresholds))
        if any(b <= a for a, b in zip(th, th[1:], strict=False)):
            raise VbsimInputError(f"{n}.thresholds must be strictly increasing; got {th}")
        am = tuple(self._chk(f"amounts[{i}]", a, -math.inf, math.inf)
                   for i, a in enumerate(self.amounts))
        if len(am) != len(th) + 1:
            raise VbsimInputError(
                f"{n}.amounts must have len(thresholds) + 1 = {len(th) + 1} entries; got {len(am)}"
            )
        self._set("thresholds", th)
        self._set("amounts", am)
        self._choice("basis", ["benchmark", "pmpm"])

    def _chk(self, name: str, v: object, lo: float, hi: float) -> float:
        from vbsim._validate import check_real

        return check_real(self._f(name), v, lo, hi)

    def amount(self, quality_score: np.ndarray, B: np.ndarray, ctx: Context | None) -> np.ndarray:
        idx = np.searchsorted(np.asarray(self.thresholds), quality_score, side="right")
        per = np.asarray(self.amounts)[idx]
        if self.basis == "benchmark":
            return per * B
        assert ctx is not None
        return per * ctx.need("member_months", "PayForPerformance(basis='pmpm')")


@dataclasses.dataclass(frozen=True)
class QualityGate(Term):
    """Shared savings are voided unless the quality standard is met.

    The gate fails when context ``quality_standard_met`` is false (when ``require_standard``) or
    ``quality_score`` is below ``min_score``. Losses are still owed. MSSP: failing the quality
    performance standard means no shared savings [C, DOMAIN.md s.2].

    Parameters
    ----------
    min_score : quality score in [0, 1] below which the gate fails. Default 0 (no minimum).
    require_standard : also fail when context ``quality_standard_met`` is false. Default True.

    >>> QualityGate(min_score=0.3).passed(np.array([0.2, 0.5]), np.array(True)).tolist()
    [False, True]
    """

    min_score: float = 0.0
    require_standard: bool = True

    def __post_init__(self) -> None:
        self._real("min_score", 0, 1)
        self._choice("require_standard", [True, False])

    def passed(self, quality_score: np.ndarray | None, standard_met: np.ndarray) -> np.ndarray:
        ok = np.asarray(standard_met) if self.require_standard else np.ones(np.shape(standard_met),
                                                                             bool)
        if self.min_score > 0:
            ok = ok & (quality_score >= self.min_score)
        return ok
