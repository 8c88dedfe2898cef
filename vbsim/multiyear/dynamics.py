"""Cohort-level population dynamics and care-management effects on simulated paths.

The engine already simulates deaths, leavers and joiners within each cohort. What it does not do
(yet) is move members between cohorts (ageing into another enrolment type, becoming high-needs)
or grow/shrink a cohort's alignment by a planned path. :func:`reweight_cohorts` approximates
both at the cohort level by scaling each cohort's extensive totals by a weight per year.

Approximation (documented in docs/multiyear.md): scaling a cohort's totals by ``w`` scales its
mean by ``w`` exactly but its variance by ``w**2`` instead of ``w`` (a cohort of ``w * n``
independent members); for ``w > 1`` the spread is overstated, for ``w < 1`` understated. Large
changes should be simulated by the engine with the cohort sizes of the target year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError, check_array, check_real

__all__ = ["EXTENSIVE", "reweight_cohorts", "growth_weights", "with_risk_drift", "with_savings"]

#: CostPaths variables that are sums over members (scaled by a cohort weight).
EXTENSIVE = ("member_months", "cost", "cost_capped", "excess", "deaths", "benchmark")


def growth_weights(years: int, rate: float, *, start: int = 1) -> np.ndarray:
    """Weights ``(1 + rate) ** max(0, year - start)`` for years 1..``years``.

    A cohort growing (alignment growth) or shrinking (attrition) by ``rate`` a year from ``start``.

    >>> growth_weights(4, 0.1, start=2).round(3).tolist()
    [1.0, 1.0, 1.1, 1.21]
    """
    check_real("rate", rate, -1.0, 10.0, lo_open=True)
    t = np.arange(1, years + 1)
    return (1.0 + rate) ** np.maximum(0, t - start)


def reweight_cohorts(
    paths: xr.Dataset, weights: Mapping[str, Sequence[float] | float]
) -> xr.Dataset:
    """Scale each named cohort's extensive totals by a weight per simulated year.

    Parameters
    ----------
    paths:
        CostPaths Dataset.
    weights:
        ``cohort -> weight`` (a number, or one weight per simulated year). Cohorts not named keep
        weight 1. Intensive variables (``risk_score``, drivers) are unchanged.

    Examples
    --------
    >>> from vbsim.multiyear import demo_paths
    >>> p = reweight_cohorts(demo_paths(years=3), {"high_needs": [1.0, 1.5, 2.0]})
    >>> (p["member_months"].sel(cohort="high_needs").values[0] / 12).tolist()
    [500.0, 750.0, 1000.0]
    """
    cohorts = [str(c) for c in paths["cohort"].values]
    T = paths.sizes["year"]
    w = np.ones((T, len(cohorts)))
    for name, val in weights.items():
        if name not in cohorts:
            raise VbsimInputError(f"weights[{name!r}]: no such cohort; cohorts: {cohorts}")
        a = check_array(f"weights[{name!r}]", val, 0.0)
        if a.ndim == 0:
            a = np.full(T, float(a))
        if a.shape != (T,):
            raise VbsimInputError(
                f"weights[{name!r}] must be a number or {T} numbers (one per year); "
                f"got {a.size}"
            )
        w[:, cohorts.index(name)] = a
    wda = xr.DataArray(w, dims=("year", "cohort"),
                       coords={"year": paths["year"], "cohort": paths["cohort"]})
    out = paths.copy()
    for v in EXTENSIVE:
        if v in out:
            out[v] = out[v] * wda
    out.attrs = dict(paths.attrs)
    out.attrs["cohort_weights"] = repr({k: np.round(w[:, cohorts.index(k)], 6).tolist()
                                        for k in weights})
    return out


def with_savings(
    paths: xr.Dataset, savings: Sequence[float] | float, *, first_year: int = 1
) -> xr.Dataset:
    """Lower cost (and its capped/excess statistics) by ``savings[k]`` in year ``first_year + k``.

    A what-if for a care-management effect: an ACO that cuts cost by ``x`` from a given year.
    The engine's expected cost (``benchmark``) is unchanged. A number applies to every year from
    ``first_year`` on.

    >>> from vbsim.multiyear import demo_paths
    >>> p = with_savings(demo_paths(years=3, trend=0.0), 0.05, first_year=2)
    >>> (p["cost"].sel(cohort="aged").values[0] / 1e6).round(1).tolist()
    [120.0, 114.0, 114.0]
    """
    T = paths.sizes["year"]
    years = paths["year"].values
    s = np.asarray(savings, dtype=float)
    f = np.zeros(T)
    start = int(np.searchsorted(years, first_year))
    if start >= T:
        raise VbsimInputError(f"first_year must be a simulated year (1..{years[-1]}); got "
                              f"{first_year}")
    if s.ndim == 0:
        f[start:] = s
    else:
        n = min(s.size, T - start)
        f[start:start + n] = s[:n]
    check_array("savings", f, -1.0, 1.0)
    fac = xr.DataArray(1.0 - f, dims=("year",), coords={"year": paths["year"]})
    out = paths.copy()
    for v in ("cost", "cost_capped", "excess"):
        if v in out:
            out[v] = out[v] * fac
    out.attrs = dict(paths.attrs)
    return out


def with_risk_drift(
    paths: xr.Dataset, drift: Mapping[str, float] | float, *, first_year: int = 1,
    cost_follows: bool = True,
) -> xr.Dataset:
    """Let mean risk scores drift by ``drift`` a year from ``first_year`` (ageing, coding).

    With ``cost_follows`` (ageing: members get sicker) cost, its capped/excess statistics and the
    engine's expected cost (``benchmark``) scale with the risk score, since a member's cost is
    risk score x a draw (docs/engine.md). Without it (coding intensity) only the risk score moves.
    ``drift`` is one rate for every cohort or ``{cohort: rate}``. A cohort-level approximation of
    what the engine does not simulate (members ageing); see docs/multiyear.md.

    >>> from vbsim.multiyear import demo_paths
    >>> p = with_risk_drift(demo_paths(years=3, trend=0.0), 0.02, first_year=2)
    >>> p["risk_score"].sel(cohort="aged").values[0].round(4).tolist()
    [1.0, 1.02, 1.0404]
    """
    cohorts = [str(c) for c in paths["cohort"].values]
    rates = dict.fromkeys(cohorts, 0.0)
    if isinstance(drift, Mapping):
        for name, r in drift.items():
            if name not in cohorts:
                raise VbsimInputError(f"drift[{name!r}]: no such cohort; cohorts: {cohorts}")
            rates[name] = check_real(f"drift[{name!r}]", r, -0.5, 1.0)
    else:
        r = check_real("drift", drift, -0.5, 1.0)
        rates = dict.fromkeys(cohorts, r)
    years = paths["year"].values
    steps = np.maximum(0, years - first_year + 1)
    fac = np.stack([(1.0 + rates[c]) ** steps for c in cohorts], axis=1)
    f = xr.DataArray(fac, dims=("year", "cohort"),
                     coords={"year": paths["year"], "cohort": paths["cohort"]})
    out = paths.copy()
    out["risk_score"] = out["risk_score"] * f
    if cost_follows:
        for v in ("cost", "cost_capped", "excess", "benchmark"):
            if v in out:
                out[v] = out[v] * f
    out.attrs = dict(paths.attrs)
    return out
