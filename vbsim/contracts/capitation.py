"""Capitation: a fixed PMPM paid in advance, global (total care) or partial (a covered share of
services), optionally risk-adjusted, with a withhold earned back by quality (DOMAIN.md s.1, s.3).

Alone, a capitation contract's provider net is capitation received - covered spend. Inside an
ACO contract (REACH TCC/PCC) capitation is a cash-flow advance reconciled against the benchmark:
it is reported (``capitation``, ``covered_spend``) but does not change the provider net.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from vbsim._validate import VbsimInputError

from ._term import Term
from .settlement import Context


@dataclasses.dataclass(frozen=True)
class Capitation(Term):
    """PMPM capitation.

    received = pmpm x member_months [x risk_score] - withheld + withheld x quality_score, with
    withheld = withhold x the gross capitation. Covered spend = context ``covered_spend`` if given,
    else covered share x expenditure (the share from context ``covered_share`` if given, else the
    ``covered_share`` parameter; a global capitation covers everything).

    Parameters
    ----------
    pmpm : capitation per member-month.
    scope : "global" (total care) or "partial" (a subset of services).
    covered_share : share of expenditure the capitation covers (must be 1 for "global").
    risk_adjusted : multiply by context ``risk_score``.
    withhold : share of the capitation withheld and earned back by ``quality_score``.

    Examples
    --------
    >>> from vbsim.contracts import Contract
    >>> c = Contract("PCC", capitation=Capitation(pmpm=50.0, scope="partial", covered_share=0.1))
    >>> s = c.settle(expenditure=1.2e6, member_months=1_200)
    >>> s.capitation, s.covered_spend, s.provider_net  # 60k received, 120k covered
    (60000.0, 120000.0, -60000.0)
    """

    pmpm: float
    scope: str = "global"
    covered_share: float = 1.0
    risk_adjusted: bool = False
    withhold: float = 0.0

    def __post_init__(self) -> None:
        self._real("pmpm", 0, math.inf)
        self._choice("scope", ["global", "partial"])
        self._real("covered_share", 0, 1)
        if self.scope == "global" and self.covered_share != 1.0:
            raise VbsimInputError(
                "Capitation.covered_share must be 1 for scope='global' (total care); got "
                f"{self.covered_share:g}; use scope='partial'"
            )
        self._choice("risk_adjusted", [False, True])
        self._real("withhold", 0, 1)

    def cash(self, expenditure: np.ndarray, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        """Return (capitation received, covered spend)."""
        gross = self.pmpm * ctx.need("member_months", "Capitation")
        if self.risk_adjusted:
            gross = gross * ctx.need("risk_score", "Capitation(risk_adjusted=True)")
        received = gross
        if self.withhold:
            q = ctx.need("quality_score", "Capitation.withhold")
            received = gross * (1.0 - self.withhold) + gross * self.withhold * q
        if ctx.has("covered_spend"):
            covered = ctx.get("covered_spend")
        else:
            share = ctx.get("covered_share") if ctx.has("covered_share") else self.covered_share
            covered = share * expenditure
        return received, covered
