"""Statistics used in calibration, for data and for models, each defined once.

Definitions (shared by data and model, so a fit compares like with like):

- ``top{k}_share``: share of total spending held by the top ``k`` % of members. Data: the
  ``floor(k/100 * n)`` members with the largest costs. Model: ``E[X; X > q] + q (p - S(q))``
  over ``E[X]`` with ``q = F^{-1}(1 - p)``; since ``lev(q) = E[min(X, q)]`` this is
  ``(E[X] - lev(q) + q p) / E[X]`` (the term ``q p`` covers an atom at ``q``).
- ``bottom{k}_share``: data: the ``floor(k/100 * n)`` smallest costs over the total; model:
  ``1 - top{100-k}_share``.
- ``p{k}``: the ``k``-th percentile (data: numpy's linear interpolation).
- ``cv``: standard deviation over mean (data: ``ddof=1``).
- ``top{k}_stay_{h}yr``: of the members in the top ``k`` % in year ``y``, the share also in the
  top ``k`` % in each of years ``y+1 .. y+h``. Data: members present in all ``h+1`` years
  (a balanced panel; members who die or leave are excluded), ranked within that panel each year,
  averaged over every window of ``h+1`` consecutive years. Model: a Gaussian AR(1) latent rank
  with lag-one correlation ``rho``, so the orthant probability of an ``(h+1)``-variate normal with
  correlations ``rho^|i-j|``, divided by ``k/100``.

>>> round(top_share_sample([0, 1, 1, 8], 0.25), 3)
0.8
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, stats

from .._validate import VbsimInputError

__all__ = [
    "empirical_summary",
    "model_top_share",
    "orthant_ar1",
    "panel_persistence",
    "parse_persistence_key",
    "persistence_ar1",
    "rho_for_persistence",
    "top_share_sample",
]

_PERSIST_RE = re.compile(r"^top(\d+(?:\.\d+)?)_stay_(\d+)yr$")


def top_share_sample(costs: npt.ArrayLike, p: float) -> float:
    """Share of the total held by the ``floor(p n)`` largest values of ``costs``.

    >>> top_share_sample([5, 0, 3, 2], 0.5)
    0.8
    """
    c = np.sort(np.asarray(costs, dtype=float))[::-1]
    k = int(math.floor(p * c.size + 1e-9))
    total = c.sum()
    return float(c[:k].sum() / total) if total > 0 else math.nan


def empirical_summary(costs: npt.ArrayLike) -> dict[str, float]:
    """Summary statistics of one year of member costs, as in ``desynpuf_cost_distribution_summary``.

    Keys: ``n, mean, sd, cv, share_zero, p25, p50, p75, p90, p95, p99, max, top1_share,
    top5_share, top10_share, top20_share, bottom50_share``.

    >>> s = empirical_summary([0.0, 0.0, 10.0, 30.0])
    >>> s["share_zero"], s["mean"], s["top20_share"]
    (0.5, 10.0, 0.0)
    """
    c = np.asarray(costs, dtype=float)
    if c.size < 2:
        raise VbsimInputError(f"costs must have at least 2 values; got {c.size}")
    out: dict[str, float] = {"n": float(c.size), "mean": float(c.mean())}
    out["sd"] = float(c.std(ddof=1))
    out["cv"] = out["sd"] / out["mean"] if out["mean"] > 0 else math.nan
    out["share_zero"] = float(np.mean(c == 0))
    for k in (25, 50, 75, 90, 95, 99):
        out[f"p{k}"] = float(np.percentile(c, k))
    out["max"] = float(c.max())
    for k in (1, 5, 10, 20):
        out[f"top{k}_share"] = top_share_sample(c, k / 100)
    k = int(math.floor(0.5 * c.size + 1e-9))
    out["bottom50_share"] = float(np.sort(c)[:k].sum() / c.sum()) if c.sum() > 0 else math.nan
    return out


def model_top_share(model: Any, p: float) -> float:
    """Share of expected spending held by the top fraction ``p`` of members under ``model``.

    ``model`` needs ``mean``, ``ppf`` and ``lev`` (the :mod:`vbsim.costs` interface). Uses
    ``(E[X] - lev(q) + q p) / E[X]`` with ``q = ppf(1 - p)``: no simulation.

    >>> class Exp:  # exponential with mean 1: top share p = p (1 - ln p)
    ...     mean = 1.0
    ...     def ppf(self, u): return -np.log1p(-np.asarray(u))
    ...     def lev(self, d): return 1 - np.exp(-np.asarray(d))
    >>> round(model_top_share(Exp(), 0.1), 6) == round(0.1 * (1 - math.log(0.1)), 6)
    True
    """
    q = float(np.asarray(model.ppf(1.0 - p)))
    mean = float(model.mean)
    return (mean - float(np.asarray(model.lev(q))) + q * p) / mean


def parse_persistence_key(key: str) -> tuple[float, int]:
    """``"top10_stay_2yr"`` -> ``(0.10, 2)``: the top fraction and the number of later years.

    >>> parse_persistence_key("top10_stay_2yr")
    (0.1, 2)
    """
    m = _PERSIST_RE.match(str(key))
    if not m:
        raise VbsimInputError(
            f"persistence key must look like 'top10_stay_2yr' (top k% staying k% in each of "
            f"the next h years, h in 1..4); got {key!r}"
        )
    p, h = float(m.group(1)) / 100, int(m.group(2))
    if not (0 < p < 1) or not (1 <= h <= 4):
        raise VbsimInputError(f"persistence key {key!r}: need 0 < k < 100 and 1 <= h <= 4")
    return p, h


def persistence_ar1(rho: float, p: float = 0.10, years: int = 2) -> float:
    """P(top ``p`` in each of the next ``years`` years | top ``p`` now), Gaussian AR(1) ranks.

    An orthant probability of the ``(years+1)``-variate standard normal with correlations
    ``rho^|i-j|``, divided by ``p``. At ``rho = 0`` it is ``p**years``; at ``rho -> 1`` it is 1.

    >>> round(persistence_ar1(0.0, 0.1, 2), 6)
    0.01
    >>> round(persistence_ar1(0.5, 0.1, 1), 3)  # bivariate normal (tests: scipy's cdf agrees)
    0.324
    """
    if rho == 0.0:
        return p**years
    return _orthant(rho, p, years) / p


def _orthant(rho: float, p: float, years: int) -> float:
    return orthant_ar1(rho, float(stats.norm.isf(p)), years)


def orthant_ar1(rho: float, z: float, years: int) -> float:
    """P(Z_0 > z, ..., Z_years > z) for a stationary standard Gaussian AR(1) with lag-1 ``rho``.

    >>> round(orthant_ar1(0.0, 0.0, 2), 6)
    0.125
    """
    s = math.sqrt(max(1.0 - rho * rho, 1e-300))
    if years <= 2:
        # Markov: given Z_1, the neighbours Z_0 and Z_2 are independent N(rho Z_1, 1 - rho^2),
        # so the orthant probability is a 1-d integral over Z_1 (deterministic, ~1e-10 accurate).
        c = 1.0 / math.sqrt(2.0 * math.pi)
        r2 = math.sqrt(2.0)

        def integrand(x: float) -> float:
            sf = 0.5 * math.erfc((z - rho * x) / (s * r2))
            return c * math.exp(-0.5 * x * x) * sf**years

        val, _ = integrate.quad(integrand, z, np.inf, epsabs=1e-12, epsrel=1e-10, limit=200)
        return float(val)
    n = years + 1
    idx = np.arange(n)
    cov = rho ** np.abs(idx[:, None] - idx[None, :])
    # -Z has the same law, so P(all Z > z) = P(all Z < -z); Genz's method with a fixed seed.
    mvn = stats.multivariate_normal(
        mean=np.zeros(n), cov=cov, seed=12345, abseps=1e-8, releps=1e-7, maxpts=400_000 * n
    )
    return float(mvn.cdf(np.full(n, -z)))


def rho_for_persistence(target: float, p: float = 0.10, years: int = 2) -> float:
    """The AR(1) latent correlation ``rho`` in [0, 0.999] whose persistence equals ``target``.

    >>> rho = rho_for_persistence(0.28, 0.10, 2)
    >>> round(persistence_ar1(rho, 0.10, 2), 4)
    0.28
    """
    lo, hi = 0.0, 0.999
    floor, ceil = persistence_ar1(lo, p, years), persistence_ar1(hi, p, years)
    if not (floor <= target <= ceil):
        raise VbsimInputError(
            f"persistence target must be in [{floor:.4g}, {ceil:.4g}] for top {p:g}, "
            f"{years} later years (rho in [0, 0.999]); got {target!r}"
        )
    return float(optimize.brentq(lambda r: persistence_ar1(r, p, years) - target, lo, hi,
                                 xtol=1e-6))


def panel_persistence(
    costs_by_year: Mapping[int, Mapping[object, float]], p: float = 0.10, years: int = 2
) -> tuple[float, int, int]:
    """Empirical ``top{p}_stay_{years}yr`` from member costs per year.

    ``costs_by_year[year][member] = cost``. For every window of ``years + 1`` consecutive
    calendar years present, keep members with a cost in every year of the window, rank them
    within the window each year (largest first, ties broken by member id so the answer is
    reproducible), and count how many of the year-1 top ``floor(p n)`` are in the top in every
    later year. Returns ``(share, n_top, n_windows)`` pooled over windows (share = stayers over
    year-1 top members).

    >>> by_year = {1: {"a": 9, "b": 1, "c": 0}, 2: {"a": 8, "b": 0, "c": 1}}
    >>> panel_persistence(by_year, p=0.34, years=1)
    (1.0, 1, 1)
    """
    all_years = sorted(costs_by_year)
    stay = top = windows = 0
    for y0 in all_years:
        window = list(range(y0, y0 + years + 1))
        if any(y not in costs_by_year for y in window):
            continue
        members = set(costs_by_year[window[0]])
        for y in window[1:]:
            members &= set(costs_by_year[y])
        ids = sorted(members, key=str)
        n = len(ids)
        k = int(math.floor(p * n + 1e-9))
        if k == 0:
            continue
        windows += 1
        tops = []
        for y in window:
            c = np.array([costs_by_year[y][m] for m in ids], dtype=float)
            order = np.lexsort((np.arange(n), -c))  # largest cost first; ties by member id
            tops.append(set(order[:k].tolist()))
        stayed = set.intersection(*tops)
        stay += len(stayed)
        top += k
    if top == 0:
        return math.nan, 0, 0
    return stay / top, top, windows
