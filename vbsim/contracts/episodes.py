"""Episodes: bundled payments (target price, stop-gain / stop-loss, quality adjustment) and case
rates by acuity level (DOMAIN.md s.1, s.5, s.6 example 7)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_real

from ._term import Term
from .settlement import Context


@dataclasses.dataclass(frozen=True)
class Bundle(Term):
    """Bundled-payment reconciliation against a target amount.

    target amount = the final benchmark (the ``benchmark`` argument, or ``target_price`` x
    context ``episodes`` when no benchmark is passed), after the contract's discount.
    reconciliation = target - actual, savings reduced by sequestration, then limited to
    [-stop_loss x target, stop_gain x target] ([R] 20% each in BPCI Advanced), then the quality
    adjustment: a positive amount is cut by up to ``quality_adjustment`` x (1 - quality_score),
    a repayment is reduced by up to ``quality_adjustment`` x quality_score (BPCI-A CQS style [A]).

    Parameters
    ----------
    target_price : dollars per episode, used with context ``episodes`` when no benchmark is
        passed; None: the benchmark is the target. Default None.
    stop_gain : largest positive reconciliation as a share of the target, or None for no limit.
        Default 0.20 [R].
    stop_loss : largest repayment as a share of the target, or None for no limit. Default 0.20
        [R].
    quality_adjustment : share in [0, 1] of the reconciliation that the quality score can
        move. Default 0.

    Examples
    --------
    DOMAIN.md s.6 example 7: 200 episodes x $25,000 = $5.0M target.

    >>> from vbsim.contracts import Contract
    >>> c = Contract("bundle", sharing=Bundle(target_price=25_000), sequestration=0.0)
    >>> c.settle(expenditure=4.6e6, episodes=200).payment
    400000.0
    >>> c.settle(expenditure=6.4e6, episodes=200).payment  # raw -1.4M, limited to 20%
    -1000000.0
    """

    target_price: float | None = None
    stop_gain: float | None = 0.20
    stop_loss: float | None = 0.20
    quality_adjustment: float = 0.0

    def __post_init__(self) -> None:
        self._opt_real("target_price", 0, math.inf, lo_open=True)
        self._opt_real("stop_gain", 0, math.inf)
        self._opt_real("stop_loss", 0, math.inf)
        self._real("quality_adjustment", 0, 1)

    def share(self, G: np.ndarray, B: np.ndarray, r: np.ndarray, ctx: Context,
              seq: float) -> dict[str, np.ndarray]:
        sequestration = np.maximum(G, 0.0) * seq
        net = G - sequestration
        hi = np.inf if self.stop_gain is None else self.stop_gain * B
        lo = -np.inf if self.stop_loss is None else -self.stop_loss * B
        limited = np.clip(net, lo, hi)
        hit = (net > hi) | (net < lo)
        qa = np.zeros(np.shape(G))
        if self.quality_adjustment:
            q = ctx.need("quality_score", "Bundle.quality_adjustment")
            factor = np.where(limited > 0, 1.0 - self.quality_adjustment * (1.0 - q),
                              1.0 - self.quality_adjustment * q)
            qa = limited * factor - limited
        return {"gate_met": np.ones(np.shape(G), bool), "shared_before_cap": G,
                "sequestration": sequestration, "relief": np.zeros(np.shape(G)),
                "shared_after_cap": limited + qa, "cap_hit": hit, "quality_adjustment": qa}


@dataclasses.dataclass(frozen=True)
class CaseRate(Term):
    """Fixed payment per case (client per period) by acuity level.

    ``rates`` is ``((level, amount), ...)`` (a dict is accepted and stored sorted as pairs);
    context ``cases`` maps each level to a count. All expenditure is covered spend.

    Parameters
    ----------
    rates : acuity level -> dollars per case (each >= 0; at least one level), as a table or
        as ``(level, amount)`` pairs.

    Examples
    --------
    >>> from vbsim.contracts import Contract
    >>> c = Contract("BH", capitation=CaseRate({"low": 1_000.0, "high": 5_000.0}))
    >>> s = c.settle(expenditure=140_000.0, cases={"low": 50, "high": 20})
    >>> s.capitation, s.provider_net  # 50k + 100k received, 140k spent
    (150000.0, 10000.0)
    """

    rates: Any

    def __post_init__(self) -> None:
        n = type(self).__name__
        items = self.rates.items() if isinstance(self.rates, Mapping) else self.rates
        try:
            pairs = tuple((str(k), v) for k, v in items)
        except (TypeError, ValueError):
            raise VbsimInputError(
                f"{n}.rates must map acuity level -> amount; got {self.rates!r}"
            ) from None
        if not pairs:
            raise VbsimInputError(f"{n}.rates must have at least one acuity level")
        pairs = tuple((k, check_real(f"{n}.rates[{k!r}]", v, 0, math.inf)) for k, v in pairs)
        if len({k for k, _ in pairs}) != len(pairs):
            raise VbsimInputError(f"{n}.rates has a repeated acuity level: {pairs}")
        self._set("rates", pairs)

    def cash(self, expenditure: np.ndarray, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        cases = ctx.need("cases", "CaseRate")
        levels = [k for k, _ in self.rates]
        extra = [k for k in cases if k not in levels]
        if extra:
            raise VbsimInputError(
                f"cases has unknown acuity level(s) {extra}; CaseRate levels: {', '.join(levels)}"
            )
        total = np.zeros(np.shape(expenditure))
        for level, amount in self.rates:
            total = total + amount * cases.get(level, 0.0)  # a missing level: no cases
        return total, expenditure
