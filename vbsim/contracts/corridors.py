"""Risk corridors: marginal bands on |savings rate| with a retained share per band (ACO REACH).

The amount retained is benchmark x sum_k share_k x (part of |r| inside band k), like tax
brackets, computed on the final (post-discount) benchmark [C, DOMAIN.md s.3]; savings are then
reduced by sequestration (before any cap).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._term import Term, bands_tuple, marginal
from .settlement import Context

Bands = tuple[tuple[float, float, float], ...]


@dataclasses.dataclass(frozen=True)
class Corridors(Term):
    """Marginal risk corridors, separate for savings and losses.

    Parameters
    ----------
    bands_savings : ``((lower, upper, share), ...)`` on r >= 0; contiguous from 0, ``upper`` may
        be ``inf``; nothing is shared above the last upper bound.
    bands_losses : the same for losses (on -r); None: the savings bands.
    savings_cap, loss_limit : optional caps as shares of the final benchmark.

    Examples
    --------
    REACH Professional at r = +12% on $126.74M: 5%x50% + 5%x35% + 2%x15% = 4.55% -> x 0.98.

    >>> from vbsim.contracts import Contract
    >>> inf = float("inf")
    >>> pro = Corridors(((0, .05, .5), (.05, .10, .35), (.10, .15, .15), (.15, inf, .05)))
    >>> s = Contract("pro", sharing=pro).settle(benchmark=126.74e6, expenditure=126.74e6 * 0.88)
    >>> round(s.payment)
    5651337
    """

    bands_savings: Bands
    bands_losses: Bands | None = None
    savings_cap: float | None = None
    loss_limit: float | None = None

    def __post_init__(self) -> None:
        n = type(self).__name__
        self._set("bands_savings", bands_tuple(n, "bands_savings", self.bands_savings))
        if self.bands_losses is not None:
            self._set("bands_losses", bands_tuple(n, "bands_losses", self.bands_losses))
        self._opt_real("savings_cap", 0, math.inf)
        self._opt_real("loss_limit", 0, math.inf)

    def retained(self, r: np.ndarray) -> np.ndarray:
        """Signed share of the benchmark kept by the provider at savings rate ``r``.

        >>> inf = float("inf")
        >>> glob = Corridors(((0, .25, 1), (.25, .35, .5), (.35, .5, .25), (.5, inf, .1)))
        >>> float(glob.retained(np.array(0.30)))  # 25% + 5% x 50%
        0.275
        """
        losses = self.bands_savings if self.bands_losses is None else self.bands_losses
        r = np.asarray(r, dtype=float)
        return np.where(r >= 0, marginal(np.maximum(r, 0), self.bands_savings),
                        -marginal(np.maximum(-r, 0), losses))

    def share(self, G: np.ndarray, B: np.ndarray, r: np.ndarray, ctx: Context,
              seq: float) -> dict[str, np.ndarray]:
        before = self.retained(r) * B
        sequestration = np.maximum(before, 0.0) * seq
        net = before - sequestration
        hit = np.zeros(np.shape(net), bool)
        if self.savings_cap is not None:
            hit = hit | (net > self.savings_cap * B)
            net = np.minimum(net, self.savings_cap * B)
        if self.loss_limit is not None:
            hit = hit | (net < -self.loss_limit * B)
            net = np.maximum(net, -self.loss_limit * B)
        zero = np.zeros(np.shape(net))
        return {"gate_met": np.ones(np.shape(net), bool), "shared_before_cap": before,
                "sequestration": sequestration, "relief": zero, "shared_after_cap": net,
                "cap_hit": hit, "quality_adjustment": zero}
