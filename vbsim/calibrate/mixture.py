"""The observed annual cost ``Y = R X`` of a cohort member: cost model times a risk score.

:class:`vbsim.population.Cohort` gives each member a fixed lognormal risk score ``R`` (mean 1,
log-sd ``risk_sd``) and a cost ``R X``, with ``X = ppf(Phi(z))`` from the cost model and ``z`` the
member's AR(1) latent rank. Published concentration and persistence describe ``Y``, not ``X``,
so calibration fits ``X`` such that ``Y`` matches. Expectations over ``R`` use Gauss-Hermite
quadrature (48 nodes; the integrands are smooth in ``log R``):

- ``F_Y(y) = E_R[F_X(y / R)]``, ``lev_Y(d) = E_R[R lev_X(d / R)]``, ``E[Y] = E[X]``,
  ``cv_Y^2 = e^{risk_sd^2} (1 + cv_X^2) - 1``;
- persistence: ``P(Y_t > q, t = 0..h) = E_R[P(z_t > Phi^-1(F_X(q / R)), t = 0..h)]``, an AR(1)
  orthant probability for each node.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from .stats import orthant_ar1, persistence_ar1

__all__ = ["RiskMixed"]

_NODES = 48


class RiskMixed:
    """Distribution of ``R X``: ``R`` lognormal (mean 1, log-sd ``risk_sd``) independent of ``X``.

    Has ``mean``, ``sd``, ``cdf``, ``ppf`` (scalar), ``lev`` (scalar) like a cost model, so the
    statistics in :mod:`vbsim.calibrate.stats` apply, plus :meth:`persistence`.

    >>> from vbsim.costs import Lognormal
    >>> y = RiskMixed(Lognormal(mean=100.0, cv=1.0), 0.5)  # lognormal x lognormal = lognormal
    >>> s2 = math.log(2.0) + 0.25
    >>> round(y.sd / y.mean, 6) == round(math.sqrt(math.exp(s2) - 1), 6)
    True
    """

    def __init__(self, model, risk_sd: float) -> None:
        self.model = model
        self.risk_sd = float(risk_sd)
        x, w = np.polynomial.hermite_e.hermegauss(_NODES)
        s = self.risk_sd
        self._r = np.exp(s * x - 0.5 * s * s)
        self._w = w / w.sum()
        self.mean = float(model.mean)
        cv_x = model.sd / model.mean
        self.sd = self.mean * math.sqrt(math.exp(s * s) * (1.0 + cv_x * cv_x) - 1.0)
        self._zero = float(np.asarray(model.cdf(0.0)))

    def cdf(self, y: float) -> float:
        """P(Y <= y)."""
        if y < 0:
            return 0.0
        if y == 0:
            return self._zero
        return float(np.dot(self._w, self.model.cdf(y / self._r)))

    def lev(self, d: float) -> float:
        """E[min(Y, d)] = E_R[R lev_X(d / R)]."""
        if d <= 0:
            return float(min(d, 0.0))
        return float(np.dot(self._w, self._r * self.model.lev(d / self._r)))

    def ppf(self, u: float) -> float:
        """Quantile of Y (0 on the zero mass), by root finding between node quantiles."""
        u = float(u)
        if u <= self._zero:
            return 0.0
        x = float(np.asarray(self.model.ppf(u)))
        lo, hi = x * self._r.min(), x * self._r.max()
        if hi <= lo:
            return x
        return float(optimize.brentq(lambda y: self.cdf(y) - u, lo, hi, xtol=1e-12 * hi,
                                     rtol=1e-13))

    def persistence(self, rho: float, p: float = 0.10, years: int = 2) -> float:
        """P(Y in top ``p`` in each of the next ``years`` | top ``p`` now), AR(1) ranks ``rho``.

        The top is cut at ``q = ppf(1 - p)``; with ``risk_sd = 0`` this is the plain AR(1)
        value of :func:`vbsim.calibrate.stats.persistence_ar1`.
        """
        if self.risk_sd == 0.0:
            return persistence_ar1(rho, p, years)
        q = self.ppf(1.0 - p)
        fx = np.clip(self.model.cdf(q / self._r), 0.0, 1.0)
        a = special.ndtri(fx)
        terms = [
            0.0 if (wi < 1e-12 or ai == math.inf) else
            1.0 if ai == -math.inf else orthant_ar1(rho, float(ai), years)
            for ai, wi in zip(a, self._w, strict=True)
        ]
        return float(np.dot(self._w, terms)) / (1.0 - self.cdf(q))
