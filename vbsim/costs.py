"""Annual cost of one member: the cost models the engine samples from.

Each model describes the allowed cost of one member with risk score 1.0 over one full year at
the cost level of year 0 (before trend). They are frozen, validated dataclasses with

- ``mean`` and ``var`` (closed form),
- ``cdf(x)``, ``ppf(u)`` (numpy-vectorised; numeric for :class:`CompoundPoisson`),
- ``lev(d)`` = E[min(X, d)] and ``stop_loss(d)`` = E[(X - d)+] (closed form for
  :class:`Lognormal` and :class:`Spliced`, numeric for :class:`CompoundPoisson`),
- ``kernel_spec()`` = ``(family_code, params)``: what the numba kernels need, a family code and a
  flat float64 parameter vector (layout documented on each class and in ``docs/engine.md``),
- ``to_dict()`` and :func:`cost_model_from_dict` for JSON round trips (result ``attrs``).

The engine maps a member's standard-normal latent cost rank ``z`` to a cost through the model's
quantile function, ``X = ppf(Phi(z))``, so year-to-year persistence of ranks is the latent AR(1)
(see :mod:`vbsim.population`). :class:`CompoundPoisson` maps the rank to the claim count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numba import njit
from scipy import special

from vbsim._threads import split_range
from vbsim._validate import VbsimInputError, check_choice, check_real
from vbsim.lattice import lattice_lev, rounding

__all__ = [
    "LOGNORMAL",
    "SPLICED",
    "COMPOUND_POISSON",
    "N_PARAMS",
    "CostModel",
    "Lognormal",
    "Spliced",
    "CompoundPoisson",
    "cost_model_from_dict",
]

#: Family codes understood by the engine kernels.
LOGNORMAL = 0
SPLICED = 1
COMPOUND_POISSON = 2
#: Length of every kernel parameter vector (padded with zeros).
N_PARAMS = 8


def _phi(x: Any) -> Any:
    return 0.5 * special.erfc(-np.asarray(x, dtype=float) / math.sqrt(2.0))


def _ln_lev(d: np.ndarray, mu: float, s: float) -> np.ndarray:
    """E[min(L, d)] for L ~ lognormal(mu, s), d > 0 (array)."""
    with np.errstate(divide="ignore"):
        ld = np.log(d)
    m = math.exp(mu + 0.5 * s * s)
    return m * _phi((ld - mu - s * s) / s) + d * (1.0 - _phi((ld - mu) / s))


def _ln_stop_loss(d: np.ndarray, mu: float, s: float) -> np.ndarray:
    """E[(L - d)+] for L ~ lognormal(mu, s), d > 0 (array), without the cancellation of
    ``mean - lev(d)`` (which is rounding noise once the premium is below ~1e-16 of the mean)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ld = np.log(d)
        m = math.exp(mu + 0.5 * s * s)
        out = m * _phi((mu + s * s - ld) / s) - d * _phi((mu - ld) / s)
    return np.where(np.isinf(d), 0.0, out)


def _pad(values: list[float]) -> np.ndarray:
    out = np.zeros(N_PARAMS)
    out[: len(values)] = values
    return out


# Largest mean annual cost per member-year a model accepts (assumption: far above any real
# cohort, ~$10k-$100k; it rules out inf and values that overflow the quantile tables).
MAX_MEAN = 1e9

class CostModel:
    """Base class: ``stop_loss`` from ``lev``, ``sd``/``cv`` from ``var``.

    >>> from vbsim.costs import CostModel, Lognormal
    >>> m = Lognormal(mean=1e4, cv=2)
    >>> isinstance(m, CostModel), round(m.sd), round(m.stop_loss(0.0))
    (True, 20000, 10000)
    """

    mean: float

    @property
    def var(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def sd(self) -> float:
        """Standard deviation of the annual cost."""
        return math.sqrt(self.var)

    def lev(self, d: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop_loss(self, d: Any) -> Any:
        """Stop-loss premium E[(X - d)+] = mean - lev(d)."""
        return self.mean - self.lev(d)

    def kernel_spec(self) -> tuple[int, np.ndarray]:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class Lognormal(CostModel):
    """Lognormal annual cost with the given mean and coefficient of variation; no zeros.

    Kernel parameters: ``[mu, sigma]``; the engine maps latent ``z`` to ``exp(mu + sigma z)``.

    Parameters
    ----------
    mean : float
        Mean annual cost (dollars per member-year), > 0.
    cv : float
        Coefficient of variation sd/mean, in (0, 20]. Default 2.0: DE-SynPUF full-year members
        have cv 1.9-2.2 (``shared/data/desynpuf_cost_distribution_summary.csv``).

    Examples
    --------
    >>> m = Lognormal(mean=12_000, cv=2.0)
    >>> round(m.sigma, 4), round(float(m.stop_loss(0.0)))
    (1.2686, 12000)
    >>> round(float(m.lev(1e12)))
    12000
    """

    mean: float
    cv: float = 2.0  # DE-SynPUF full-year members: cv 1.9-2.2 (shared/data summary CSV) [C]

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", check_real("Lognormal.mean", self.mean, 0, MAX_MEAN,
                                                    lo_open=True))
        object.__setattr__(self, "cv", check_real("Lognormal.cv", self.cv, 0, 20, lo_open=True))

    @property
    def sigma(self) -> float:
        """Log-scale standard deviation, sqrt(log(1 + cv^2))."""
        return math.sqrt(math.log1p(self.cv * self.cv))

    @property
    def mu(self) -> float:
        """Log-scale mean, log(mean) - sigma^2 / 2."""
        return math.log(self.mean) - 0.5 * self.sigma**2

    @property
    def var(self) -> float:
        """Variance, (cv * mean)^2."""
        return (self.cv * self.mean) ** 2

    def cdf(self, x: Any) -> Any:
        """P(X <= x)."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _phi((np.log(np.maximum(x, 0.0)) - self.mu) / self.sigma)
        return np.where(x > 0, out, 0.0)

    def ppf(self, u: Any) -> Any:
        """Quantile function exp(mu + sigma Phi^-1(u))."""
        return np.exp(self.mu + self.sigma * special.ndtri(np.asarray(u, dtype=float)))

    def lev(self, d: Any) -> Any:
        """Limited expected value E[min(X, d)], closed form."""
        d = np.asarray(d, dtype=float)
        dd = np.where(d > 0, d, 1.0)
        return np.where(d > 0, _ln_lev(dd, self.mu, self.sigma), np.minimum(d, 0.0))

    def stop_loss(self, d: Any) -> Any:
        """Stop-loss premium E[(X - d)+], closed form (accurate far in the tail).

        >>> m = Lognormal(mean=100.0, cv=1.0)
        >>> bool(abs(m.stop_loss(150.0) - (m.mean - m.lev(150.0))) < 1e-12)
        True
        >>> 0.0 < float(m.stop_loss(1e6)) < 1e-20   # mean - lev(1e6) is rounding noise there
        True
        """
        d = np.asarray(d, dtype=float)
        dd = np.where(d > 0, d, 1.0)
        return np.where(d > 0, _ln_stop_loss(dd, self.mu, self.sigma), self.mean - d)[()]

    def kernel_spec(self) -> tuple[int, np.ndarray]:
        """``(LOGNORMAL, [mu, sigma, 0...])``."""
        return LOGNORMAL, _pad([self.mu, self.sigma])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"family": "Lognormal", "mean": self.mean, "cv": self.cv}


#: Smallest positive Spliced.tail_share: below it the splice point (the body's 1 - q quantile)
#: is not representable in double precision (numerical limit, not an assumption).
TAIL_SHARE_MIN = 1e-12


@dataclass(frozen=True)
class Spliced(CostModel):
    """Zero mass, lognormal body and generalized Pareto (GPD) tail, spliced continuously.

    With probability ``zero_share`` the cost is 0. Otherwise the positive cost Y follows a
    lognormal(mu, sigma) below the splice threshold ``t`` = lognormal quantile at
    ``1 - tail_share``, and above it ``t + GPD(tail_shape, beta)`` with probability
    ``tail_share``; ``beta = tail_share / f_LN(t)`` makes the density continuous at ``t``.
    ``mu`` and ``sigma`` are solved so that the whole distribution (zeros included) has the
    given ``mean`` and ``cv``.

    Kernel parameters: ``[zero_share, mu, sigma, tail_share, t, beta, tail_shape, z0]`` with
    ``z0 = Phi^-1(zero_share)`` (the latent below which the cost is zero).

    Parameters
    ----------
    mean : float
        Mean annual cost including zeros, > 0.
    cv : float
        Coefficient of variation including zeros; must be attainable (error says the range).
        Default 2.0 (DE-SynPUF full-year members: 1.9-2.2).
    zero_share : float
        Probability of zero cost, in [0, 0.9]. Default 0.15: DOMAIN.md section 5, 13-17% of
        full-year members in CMS synthetic claims.
    tail_share : float
        Probability, among positive costs, of falling in the Pareto tail, in [0, 0.5].
        Default 0.05: assumption.
    tail_shape : float
        GPD shape xi in [0, 0.5) (finite variance). Default 0.3: assumption.

    Examples
    --------
    >>> m = Spliced(mean=12_000, cv=2.5, zero_share=0.15, tail_share=0.05, tail_shape=0.3)
    >>> round(float(m.lev(1e15)) / 12_000, 6), round(float(m.cdf(0.0)), 2)
    (1.0, 0.15)
    >>> round(m.sd / m.mean, 6)
    2.5
    """

    mean: float
    cv: float = 2.0  # DE-SynPUF full-year members: cv 1.9-2.2 (shared/data summary CSV) [C]
    zero_share: float = 0.15  # DOMAIN.md s5: 13-17% zero-cost full-year members [C, shape]
    tail_share: float = 0.05  # assumption
    tail_shape: float = 0.3  # assumption (finite variance needs < 0.5)

    def __post_init__(self) -> None:
        f = object.__setattr__
        f(self, "mean", check_real("Spliced.mean", self.mean, 0, MAX_MEAN, lo_open=True))
        f(self, "cv", check_real("Spliced.cv", self.cv, 0, 20, lo_open=True))
        f(self, "zero_share", check_real("Spliced.zero_share", self.zero_share, 0, 0.9))
        f(self, "tail_share", check_real("Spliced.tail_share", self.tail_share, 0, 0.5))
        if 0.0 < self.tail_share < TAIL_SHARE_MIN:  # 1 - q rounds to 1: no splice point
            raise VbsimInputError(
                f"Spliced.tail_share must be 0 (no tail) or in [{TAIL_SHARE_MIN:g}, 0.5]; "
                f"got {self.tail_share!r}")
        f(self, "tail_shape", check_real("Spliced.tail_shape", self.tail_shape, 0, 0.5,
                                         hi_open=True))
        lo, hi = self._cv_of_sigma(0.02), self._cv_of_sigma(3.5)
        if not lo < self.cv < hi:
            raise VbsimInputError(
                f"Spliced.cv must be in ({lo:.4g}, {hi:.4g}) for zero_share={self.zero_share:g}, "
                f"tail_share={self.tail_share:g}, tail_shape={self.tail_shape:g}; got {self.cv:g}"
            )

    # --- shape at mu = 0 -------------------------------------------------------------------
    def _shape(self, s: float) -> tuple[float, float, float, float]:
        """(t, beta, m1, m2) of the positive part Y at mu = 0, sigma = s."""
        q, xi = self.tail_share, self.tail_shape
        if q == 0.0:
            return math.inf, 0.0, math.exp(0.5 * s * s), math.exp(2 * s * s)
        zq = float(special.ndtri(1.0 - q))
        t = math.exp(s * zq)
        beta = q * s * t / (math.exp(-0.5 * zq * zq) / math.sqrt(2.0 * math.pi))  # / pdf(zq)
        m1 = math.exp(0.5 * s * s) * float(_phi(zq - s)) + q * (t + beta / (1 - xi))
        ez2 = 2 * beta * beta / ((1 - xi) * (1 - 2 * xi))
        m2 = math.exp(2 * s * s) * float(_phi(zq - 2 * s)) + q * (
            t * t + 2 * t * beta / (1 - xi) + ez2
        )
        return t, beta, m1, m2

    def _cv_of_sigma(self, s: float) -> float:
        _, _, m1, m2 = self._shape(s)
        return math.sqrt(m2 / ((1.0 - self.zero_share) * m1 * m1) - 1.0)

    @cached_property
    def _solved(self) -> tuple[float, float, float, float]:
        from scipy import optimize  # here, not at import: scipy.optimize takes ~0.5 s to load

        s = optimize.brentq(lambda x: self._cv_of_sigma(x) - self.cv, 0.02, 3.5, xtol=1e-14)
        t0, b0, m1, _ = self._shape(s)
        scale = self.mean / ((1.0 - self.zero_share) * m1)
        return math.log(scale), s, t0 * scale, b0 * scale

    @property
    def mu(self) -> float:
        """Log-scale location of the lognormal body."""
        return self._solved[0]

    @property
    def sigma(self) -> float:
        """Log-scale spread of the lognormal body."""
        return self._solved[1]

    @property
    def threshold(self) -> float:
        """Splice point t (dollars); inf when tail_share = 0."""
        return self._solved[2]

    @property
    def tail_scale(self) -> float:
        """GPD scale beta (dollars)."""
        return self._solved[3]

    @property
    def var(self) -> float:
        """Variance, (cv * mean)^2."""
        return (self.cv * self.mean) ** 2

    def _gpd_sf(self, y: np.ndarray) -> np.ndarray:
        xi, b = self.tail_shape, self.tail_scale
        if xi == 0.0:
            return np.exp(-y / b)
        return (1.0 + xi * y / b) ** (-1.0 / xi)

    def _gpd_lev(self, c: np.ndarray) -> np.ndarray:
        xi, b = self.tail_shape, self.tail_scale
        if xi == 0.0:
            return b * (1.0 - np.exp(-c / b))
        return b / (1 - xi) * (1.0 - (1.0 + xi * c / b) ** (1.0 - 1.0 / xi))

    def cdf(self, x: Any) -> Any:
        """P(X <= x)."""
        x = np.asarray(x, dtype=float)
        p0, t = self.zero_share, self.threshold
        xp = np.where(x > 0, x, 1.0)
        body = _phi((np.log(xp) - self.mu) / self.sigma)
        if t < math.inf:
            tail = 1.0 - self.tail_share * self._gpd_sf(np.maximum(xp - t, 0.0))
            fy = np.where(xp <= t, body, tail)
        else:
            fy = body
        return np.where(x < 0, 0.0, np.where(x > 0, p0 + (1 - p0) * fy, p0))

    def ppf(self, u: Any) -> Any:
        """Quantile function (0 on the zero mass)."""
        u = np.asarray(u, dtype=float)
        p0, q, xi, b = self.zero_share, self.tail_share, self.tail_shape, self.tail_scale
        up = np.clip((u - p0) / (1.0 - p0), 0.0, 1.0)
        body = np.exp(self.mu + self.sigma * special.ndtri(np.minimum(up, 1.0 - q)))
        if q > 0:
            w = np.clip((1.0 - up) / q, 0.0, 1.0)
            with np.errstate(divide="ignore"):
                g = -b * np.log(w) if xi == 0.0 else b / xi * (w ** (-xi) - 1.0)
            body = np.where(up > 1.0 - q, self.threshold + g, body)
        return np.where(u <= p0, 0.0, body)

    def lev(self, d: Any) -> Any:
        """Limited expected value E[min(X, d)], closed form."""
        d = np.asarray(d, dtype=float)
        t = self.threshold
        dd = np.where(d > 0, d, 1.0)
        below = _ln_lev(np.minimum(dd, t), self.mu, self.sigma)
        if t < math.inf:
            above = self.tail_share * self._gpd_lev(np.maximum(dd - t, 0.0))
            below = below + np.where(dd > t, above, 0.0)
        return np.where(d > 0, (1.0 - self.zero_share) * below, np.minimum(d, 0.0))

    def stop_loss(self, d: Any) -> Any:
        """Stop-loss premium E[(X - d)+]: ``mean - lev(d)`` below the threshold, the GPD's own
        closed form above it (``q sf(c) (b + xi c) / (1 - xi)``, accurate far in the tail).

        >>> m = Spliced(mean=12_000.0, cv=3.0, tail_shape=0.3)
        >>> bool(abs(m.stop_loss(2e5) / (m.mean - m.lev(2e5)) - 1) < 1e-9)
        True
        """
        d = np.asarray(d, dtype=float)
        t = self.threshold
        out = self.mean - self.lev(d)
        if t < math.inf:
            c = np.maximum(d - t, 0.0)
            xi, b = self.tail_shape, self.tail_scale
            with np.errstate(invalid="ignore"):  # inf x 0 at d = inf
                gpd = self._gpd_sf(c) * (b + xi * c) / (1.0 - xi)  # E[(Y - c)+], Y ~ GPD
            gpd = np.where(np.isinf(c), 0.0, gpd)
            out = np.where(d > t, (1.0 - self.zero_share) * self.tail_share * gpd, out)
        return np.asarray(out)[()]

    def kernel_spec(self) -> tuple[int, np.ndarray]:
        """``(SPLICED, [zero_share, mu, sigma, tail_share, t, beta, tail_shape, z0])``."""
        z0 = float(special.ndtri(self.zero_share)) if self.zero_share > 0 else -1e300
        t = self.threshold if self.threshold < math.inf else 1e300
        return SPLICED, _pad([self.zero_share, self.mu, self.sigma, self.tail_share, t,
                              self.tail_scale, self.tail_shape, z0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"family": "Spliced", "mean": self.mean, "cv": self.cv,
                "zero_share": self.zero_share, "tail_share": self.tail_share,
                "tail_shape": self.tail_shape}


@dataclass(frozen=True)
class CompoundPoisson(CostModel):
    """Annual cost = sum of a Poisson(``rate``) number of lognormal claims.

    The engine maps the member's latent rank to the claim count (Poisson quantile of Phi(z)),
    so persistence acts on how often a member claims; claim sizes are independent draws.
    ``cdf``, ``ppf`` and ``lev`` are numeric: the severity is discretised on a grid of 2^16
    points (method of rounding, which keeps its mean up to the claims above the grid's top)
    and the compound distribution computed by FFT on 2^17 points.

    Kernel parameters: ``[rate, mu_severity, sigma_severity]``.

    Parameters
    ----------
    rate : float
        Expected number of claims per member-year, in (0, 50].
    severity : Lognormal
        Claim-size distribution.

    Examples
    --------
    >>> m = CompoundPoisson(rate=2.0, severity=Lognormal(mean=3_000, cv=1.5))
    >>> m.mean, round(m.cv, 4)
    (6000.0, 1.2748)
    >>> round(float(m.cdf(0.0)), 4)  # P(no claim) = exp(-2)
    0.1353
    """

    rate: float
    severity: Lognormal

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", check_real("CompoundPoisson.rate", self.rate, 0, 50,
                                                    lo_open=True))
        if not isinstance(self.severity, Lognormal):
            raise VbsimInputError(
                f"CompoundPoisson.severity must be a Lognormal; got {self.severity!r}")

    @property
    def mean(self) -> float:  # type: ignore[override]
        """rate x E[claim]."""
        return self.rate * self.severity.mean

    @property
    def var(self) -> float:
        """rate x E[claim^2]."""
        s = self.severity
        return self.rate * (s.var + s.mean**2)

    @property
    def cv(self) -> float:
        """Coefficient of variation."""
        return self.sd / self.mean

    @cached_property
    def _grid(self) -> tuple[float, np.ndarray]:
        n = 2**16
        hi = max(float(self.severity.ppf(1 - 1e-10)), self.mean + 40 * self.sd) * 1.2
        h = hi / n
        # method of rounding from the stop-loss premium (rounded_pmf; rounding cell
        # probabilities to the nearest point biased the mean by up to 1e-3 for heavy severities)
        # keep all 2n points: a total above the claims' grid top (several large claims) stays
        # on the grid instead of being dropped and renormalised away (1e-7 of the mean)
        pmf = np.clip(compound_poisson_pmf([self.severity], [1.0], self.rate, h, n, 2 * n),
                      0.0, None)
        return h, pmf / pmf.sum()

    def capped_moments(self, d: float) -> tuple[float, float]:
        """``(E[min(S, d)], E[min(S, d)^2])`` on a grid fitted to ``d``: step ``d / m`` with
        ``m`` at least 2^14 and the step at most that of the 2^16-point grid behind :meth:`lev`
        (which is coarse for a cap far below the claim sizes). A claim of ``d`` or more puts
        ``S`` at ``d`` or more, so claims are capped at ``d`` first; the totals' grid holds
        ``kmax`` capped claims, ``kmax`` the Poisson 1 - 1e-16 quantile (no aliasing). Beyond
        the claims' grid top, the moments of that grid.

        >>> m = CompoundPoisson(rate=2.0, severity=Lognormal(mean=3_000, cv=1.5))
        >>> m1, m2 = m.capped_moments(1e9)
        >>> round(m1), round(m2 / (m.var + m.mean**2), 4)
        (6000, 1.0)
        """
        d = float(d)
        hg, pmf = self._grid
        if d >= hg * (pmf.size // 2 - 1):  # at or above the claims' grid top
            y = np.minimum(hg * np.arange(pmf.size), d)
            return float(pmf @ y), float(pmf @ (y * y))
        # at least 2^14 steps below d (assumption: discretisation error ~(h/d)^2 ~ 4e-9)
        m = max(2**14, math.ceil(d / hg))
        h = d / m
        from scipy import stats  # here, not at import: scipy.stats takes ~1 s to load

        kmax = float(stats.poisson.isf(1e-16, self.rate)) + 1.0
        size = 1 << int(math.ceil(math.log2(kmax * m + 1)))
        # claims at 0, h, ..., d (>= d lumped at d)
        pmf = np.clip(compound_poisson_pmf([self.severity], [1.0], self.rate, h, m + 1, size),
                      0.0, None)
        pmf /= pmf.sum()
        y = np.minimum(h * np.arange(size), d)
        return float(pmf @ y), float(pmf @ (y * y))

    @cached_property
    def _cdf_nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """The cdf's nodes: the atom ``P(S = 0) = exp(-rate)`` at 0, then the grid's cumulative
        mass at the cell ends ``(k + 1/2) h`` (a grid point holds the mass of the cell around
        it, so a step cdf read at a point counted half a cell too much), linear in between."""
        h, pmf = self._grid
        cum = np.cumsum(pmf)
        p0 = min(math.exp(-self.rate), float(cum[0]))
        return (np.concatenate([[0.0], h * (np.arange(pmf.size) + 0.5)]),
                np.concatenate([[p0], cum]))

    def cdf(self, x: Any) -> Any:
        """P(S <= x), numeric (2^16-point grid, linear between cell ends; the atom at 0 exact).

        >>> m = CompoundPoisson(rate=2.0, severity=Lognormal(mean=5_000, cv=1.5))
        >>> round(float(m.cdf(0.0)), 6) == round(math.exp(-2.0), 6)  # no claim
        True
        """
        t, c = self._cdf_nodes
        x = np.asarray(x, dtype=float)
        return np.where(x < 0, 0.0, np.interp(x, t, c))

    def ppf(self, u: Any) -> Any:
        """Quantile function, numeric: the inverse of :meth:`cdf` (0 up to the atom's mass).

        >>> m = CompoundPoisson(rate=2.0, severity=Lognormal(mean=5_000, cv=1.5))
        >>> bool(abs(m.cdf(m.ppf(0.5)) - 0.5) < 1e-9)
        True
        """
        t, c = self._cdf_nodes
        u = np.asarray(u, dtype=float)
        cc, keep = np.unique(c, return_index=True)  # flat stretches: their lowest point
        return np.where(u <= c[0], 0.0, np.interp(u, cc, t[keep]))

    @cached_property
    def _lev_nodes(self) -> tuple[np.ndarray, np.ndarray]:
        return lattice_lev(self._grid[1], self._grid[0])

    def lev(self, d: Any) -> Any:
        """E[min(S, d)], numeric (grid), vectorised; ``d <= 0`` gives ``d``."""
        x, nodes = self._lev_nodes
        d = np.asarray(d, dtype=float)
        out = np.where(d > 0, np.interp(d, x, nodes), np.minimum(d, 0.0))
        return out if d.ndim else float(out)

    def kernel_spec(self) -> tuple[int, np.ndarray]:
        """``(COMPOUND_POISSON, [rate, mu_severity, sigma_severity, 0...])``."""
        return COMPOUND_POISSON, _pad([self.rate, self.severity.mu, self.severity.sigma])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"family": "CompoundPoisson", "rate": self.rate,
                "severity": self.severity.to_dict()}


@njit(cache=True, nogil=True)
def _ln_premium_fill(mu: float, s: float, h: float, out: np.ndarray, i0: int, i1: int) -> None:
    """``out[i] = pi((i + 1) h)`` for ``i0 <= i < i1``, ``pi(x) = E[(L - x)+]`` and ``L ~
    lognormal(mu, s)``: the closed form of :func:`_ln_stop_loss` in one compiled pass (numpy
    took ~12 array passes: 0.56 s for 2^22 points, this 0.2 s on 2 threads)."""
    m = math.exp(mu + 0.5 * s * s)
    c = 1.0 / (s * math.sqrt(2.0))
    for i in range(i0, i1):
        d = h * (i + 1)
        ld = math.log(d)
        out[i] = 0.5 * (m * math.erfc((ld - mu - s * s) * c) - d * math.erfc((ld - mu) * c))


#: Points per thread below which the compiled passes run in the calling thread (assumption:
#: a thread pool costs ~0.1 ms, a point ~10-50 ns).
_MIN_PART = 2**16


def rounded_pmf(severity: Lognormal, h: float, n: int) -> np.ndarray:
    """Lognormal claims on the grid ``0, h, ..., (n - 1) h`` by the method of rounding
    (:func:`vbsim.lattice.rounding`), from the closed-form stop-loss premium
    ``pi(x) = E[(C - x)+]`` so the far tail is not rounding noise (with ``lev`` it was ~1e-11
    per point, 5e-6 of the mean after compounding). The last point takes the rest.

    >>> sev = Lognormal(mean=100.0, cv=1.0)
    >>> f = rounded_pmf(sev, 1.0, 20_000)
    >>> bool(abs(f @ np.arange(20_000) - 100.0) < 1e-7), bool(f.min() >= 0)
    (True, True)
    """
    tail = np.empty(int(n))
    split_range(lambda i0, i1: _ln_premium_fill(severity.mu, severity.sigma, float(h), tail,
                                                i0, i1), tail.size, _MIN_PART)
    return rounding(-np.concatenate([[severity.mean], tail]), h)


@njit(cache=True, nogil=True)
def _poisson_cf_add(mix: np.ndarray, ph: np.ndarray, rate: float, w: float, i0: int,
                    i1: int) -> None:
    """``mix += w exp(rate (ph - 1))`` on ``[i0, i1)`` in one compiled pass (numpy's complex
    ``exp`` and its temporaries took ~0.35 s for 2^22 points; this ~0.06 s on 2 threads)."""
    for j in range(i0, i1):
        z = ph[j]
        e = w * math.exp(rate * (z.real - 1.0))
        t = rate * z.imag
        mix[j] += complex(e * math.cos(t), e * math.sin(t))


def compound_poisson_pmf(severities: list[Lognormal], weights: Any, rate: float, h: float,
                         m: int, size: int) -> np.ndarray:
    """Total of a Poisson(``rate``) number of claims on ``0, h, ..., (size - 1) h``, mixed over
    claim-size models: ``sum_k weights[k] P(S_k = i h)`` with ``S_k`` a compound Poisson sum of
    claims from ``severities[k]``, each rounded on ``m`` points (``m <= size``; the last takes
    the claim's mass beyond). By FFT on ``size`` points, the mixture taken in the Fourier domain
    (one inverse transform); totals beyond ``size`` wrap around, so callers size it to hold
    them. Round-off leaves ~1e-16 noise, negative points included.

    >>> f = compound_poisson_pmf([Lognormal(mean=10.0, cv=1.0)], [1.0], 2.0, 0.5, 4_096, 8_192)
    >>> round(float(f.sum()), 12), round(float(f @ (0.5 * np.arange(8_192))), 6)  # rate E[C]
    (1.0, 20.0)
    """
    m, size = int(m), int(size)
    if not 1 <= m <= size:
        raise VbsimInputError(f"compound_poisson_pmf: m must be in [1, size={size}]; got {m}")
    mix = np.zeros(size // 2 + 1, dtype=complex)
    for sev, w in zip(severities, weights, strict=True):
        ph = np.fft.rfft(rounded_pmf(sev, h, m), size)
        split_range(lambda i0, i1, ph=ph, w=float(w): _poisson_cf_add(mix, ph, float(rate), w,
                                                                      i0, i1),
                    mix.size, _MIN_PART)
    return np.fft.irfft(mix, size)


def cost_model_from_dict(d: dict[str, Any]) -> CostModel:
    """Rebuild a cost model from :meth:`to_dict` output (or a scenario-file table).

    >>> cost_model_from_dict({"family": "Lognormal", "mean": 100.0, "cv": 1.0})
    Lognormal(mean=100.0, cv=1.0)
    """
    if not isinstance(d, dict) or "family" not in d:
        raise VbsimInputError(f"cost model must be a table with a 'family' key; got {d!r}")
    fam = check_choice("cost.family", d["family"], ["Lognormal", "Spliced", "CompoundPoisson"])
    kw = {k: v for k, v in d.items() if k != "family"}
    if fam == "CompoundPoisson" and isinstance(kw.get("severity"), dict):
        kw["severity"] = cost_model_from_dict(kw["severity"])
    cls = {"Lognormal": Lognormal, "Spliced": Spliced, "CompoundPoisson": CompoundPoisson}[fam]
    try:
        return cls(**kw)
    except TypeError as e:
        raise VbsimInputError(f"cost model {fam}: {e}") from None

