"""Scenario drivers: trend AR(1), shocks, benchmark basis risk and quality moments."""

from __future__ import annotations

import numpy as np
import pytest

from vbsim._validate import VbsimInputError
from vbsim.drivers import Drivers, driver_paths

N = 40_000


def _within(est, exact, se, k=4.0):
    assert abs(est - exact) < k * se, (est, exact, se)


def test_trend_benchmark_and_quality_moments():
    d = Drivers(trend_mean=0.03, trend_sd=0.02, trend_corr=0.6, shock_prob=0.0,
                benchmark_trend_mean=0.025, benchmark_sd=0.01, benchmark_corr=0.5,
                quality_mean=0.9, quality_sd=0.05)
    p = driver_paths(d, N, 3, seed=4)
    g, b = p.growth, p.benchmark_factor - 1
    _within(g[:, 2].mean(), 0.03, 0.02 / np.sqrt(N))
    _within(g[:, 1].std(), 0.02, 0.02 / np.sqrt(2 * N))
    se_r = 1 / np.sqrt(N)
    _within(np.corrcoef(g[:, 0], g[:, 1])[0, 1], 0.6, se_r)
    _within(np.corrcoef(g[:, 0], g[:, 2])[0, 1], 0.36, se_r)
    _within(b[:, 0].mean(), 0.025, 0.01 / np.sqrt(N))
    _within(np.corrcoef(g[:, 0], b[:, 0])[0, 1], 0.5, se_r)
    _within(p.quality.mean(), 0.9, 0.05 / np.sqrt(N))
    _within(p.quality.std(), 0.05, 0.05 / np.sqrt(N))
    assert np.allclose(p.trend_index[:, 2], np.prod(1 + g, axis=1))
    assert np.allclose(p.benchmark_index[:, 1], np.prod(1 + b[:, :2], axis=1))


def test_shocks_and_pass_through():
    d = Drivers(trend_sd=0.0, benchmark_sd=0.0, shock_prob=0.1, shock_size=0.05,
                shock_pass_through=0.4)
    p = driver_paths(d, N, 2, seed=9)
    _within(p.shock.mean(), 0.1, np.sqrt(0.09 / (2 * N)))
    assert np.allclose(p.growth, 0.04 + 0.05 * p.shock)
    assert np.allclose(p.benchmark_factor, 1.04 + 0.4 * 0.05 * p.shock)


def test_quality_cost_correlation_sign():
    d = Drivers(quality_cost_corr=0.8, shock_prob=0.0)
    p = driver_paths(d, N, 1, seed=2)
    assert np.corrcoef(p.growth[:, 0], p.quality[:, 0])[0, 1] < -0.6


def test_scenarios_do_not_depend_on_the_run_size():
    a = driver_paths(Drivers(), 50, 2, seed=1)
    b = driver_paths(Drivers(), 10, 2, seed=1, first_scenario=40)
    assert np.array_equal(a.trend_index[40:], b.trend_index)
    assert np.array_equal(a.quality[40:], b.quality)


def test_validation():
    with pytest.raises(VbsimInputError, match="quality_sd"):
        Drivers(quality_mean=0.9, quality_sd=0.5)
    with pytest.raises(VbsimInputError, match="trend_mean\\[1\\]"):
        Drivers(trend_mean=[0.01, 0.9])
