"""Fixtures: a synthetic CostPaths Dataset (no engine needed) and a small simulated one."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

N_MEMBERS = 2000
PBPY = 12_000.0


def synthetic_paths(n_scenarios: int = 2000, seed: int = 7,
                    thresholds: tuple[float, ...] = (25_000.0, 50_000.0, 100_000.0, 200_000.0),
                    ) -> xr.Dataset:
    """A CostPaths-shaped Dataset: one cohort, one year, savings rate ~ N(0.01, 0.04).

    Excess above t is an independent exponential-tail approximation (convex, decreasing in t),
    enough to exercise threshold interpolation; it is not a model of real claims.
    """
    rng = np.random.default_rng(seed)
    n = n_scenarios
    bench = np.full((n, 1, 1), N_MEMBERS * PBPY)
    cost = bench * (1.0 - rng.normal(0.01, 0.04, (n, 1, 1)))
    t = np.asarray(thresholds)
    scale = rng.gamma(20.0, 1 / 20.0, (n, 1, 1, 1))
    excess = N_MEMBERS * 0.3 * PBPY * np.exp(-t / 40_000.0)[None, None, None, :] * scale
    return xr.Dataset(
        {"member_months": (("scenario", "year", "cohort"), np.full((n, 1, 1), 12.0 * N_MEMBERS)),
         "cost": (("scenario", "year", "cohort"), cost),
         "benchmark": (("scenario", "year", "cohort"), bench),
         "excess": (("scenario", "year", "cohort", "threshold"), excess),
         "quality": (("scenario", "year"), np.full((n, 1), 0.9))},
        coords={"scenario": np.arange(n), "year": [1], "cohort": ["all"], "threshold": t})


@pytest.fixture(scope="session")
def paths() -> xr.Dataset:
    return synthetic_paths()
