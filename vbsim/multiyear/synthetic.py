"""Small hand-made cost paths with a known answer, for examples and tests.

:func:`demo_paths` builds a Dataset with the ``CostPaths`` layout of :func:`vbsim.simulate`
(dims scenario, year, cohort) in which every cohort's cost per person-year grows exactly at the
benchmark update rate, optionally with lognormal noise. It never calls the engine, so the
multi-year rules can be checked against exact arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from vbsim._validate import check_array, check_int, check_real

__all__ = ["demo_paths"]


def demo_paths(
    *,
    n_scenarios: int = 2,
    years: int = 13,
    cohorts: Sequence[str] = ("aged", "high_needs"),
    members: Sequence[float] = (10_000.0, 500.0),
    cost_pc: Sequence[float] = (12_000.0, 60_000.0),
    trend: float = 0.04,
    noise: float = 0.0,
    risk_score: float = 1.0,
    quality: float = 0.9,
    seed: int = 0,
) -> xr.Dataset:
    """Cost paths whose cost per person-year is ``cost_pc * (1 + trend) ** (year - 1)``.

    For tests and examples: the default sizes, costs, trend and quality are illustrative, not
    calibrated (the standard cohorts are in :func:`vbsim.population.standard_cohort`).

    Parameters
    ----------
    n_scenarios, years:
        Sizes (years include any base years).
    cohorts, members, cost_pc:
        Cohort names, members (full-year, constant) and year-1 cost per person-year.
    trend:
        Growth of cost and of ``benchmark_index`` per year.
    noise:
        Coefficient of variation of a lognormal factor on each (scenario, year, cohort) cost
        (0: deterministic costs).
    risk_score, quality:
        Constant mean risk score and quality score.

    Examples
    --------
    >>> p = demo_paths(years=3)
    >>> p["cost"].sel(cohort="aged").values[0].round().tolist()
    [120000000.0, 124800000.0, 129792000.0]
    """
    S = check_int("n_scenarios", n_scenarios, 1)
    T = check_int("years", years, 1, 60)
    m = check_array("members", members, 0)
    c = check_array("cost_pc", cost_pc, 0)
    if not (len(cohorts) == m.size == c.size):
        raise ValueError("cohorts, members and cost_pc must have the same length")
    check_real("trend", trend, -0.5, 1.0)
    check_real("noise", noise, 0.0, 10.0)
    C = len(cohorts)
    idx = (1 + trend) ** np.arange(T)
    expected = c[None, None, :] * m[None, None, :] * idx[None, :, None] * np.ones((S, 1, 1))
    cost = expected.copy()
    if noise > 0:
        rng = np.random.default_rng(seed)
        s2 = np.log1p(noise**2)
        cost = cost * np.exp(rng.standard_normal((S, T, C)) * np.sqrt(s2) - s2 / 2)
    mm = np.broadcast_to(12.0 * m[None, None, :], (S, T, C)).copy()
    dims3 = ("scenario", "year", "cohort")
    ds = xr.Dataset(
        {
            "member_months": (dims3, mm),
            "cost": (dims3, cost),
            "risk_score": (dims3, np.full((S, T, C), float(risk_score))),
            "deaths": (dims3, np.zeros((S, T, C))),
            "benchmark": (dims3, expected * risk_score),
            "trend_index": (("scenario", "year"), np.broadcast_to(idx, (S, T)).copy()),
            "benchmark_index": (("scenario", "year"), np.broadcast_to(idx, (S, T)).copy()),
            "quality": (("scenario", "year"), np.full((S, T), float(quality))),
        },
        coords={"scenario": np.arange(S), "year": np.arange(1, T + 1), "cohort": list(cohorts)},
    )
    ds.attrs["source"] = "vbsim.multiyear.demo_paths"
    return ds
