"""Multi-year rules on the engine's own cost paths (small runs)."""

from __future__ import annotations

import numpy as np
import pytest

from vbsim import presets
from vbsim.costs import Lognormal
from vbsim.drivers import Drivers
from vbsim.multiyear import (
    CashTerms,
    FixedBenchmark,
    MultiYearContract,
    RebasedBenchmark,
    compare,
    standard_strategies,
    with_savings,
)
from vbsim.population import Cohort, Population
from vbsim.simulate import simulate

CV = 1e-4  # near-deterministic member costs


@pytest.fixture(scope="module")
def flat_paths():
    """Deterministic engine run: no member noise, no deaths or churn, trend = benchmark update."""
    kw = dict(risk_sd=0.0, mortality=0.0, churn=0.0, eol_uplift=1.0)
    pop = Population([Cohort("aged", 400, Lognormal(mean=1.2e4, cv=CV), **kw),
                      Cohort("high_needs", 40, Lognormal(mean=6e4, cv=CV), **kw)])
    d = Drivers(trend_mean=0.05, trend_sd=0.0, shock_prob=0.0, benchmark_sd=0.0)
    return simulate(pop, d, n_scenarios=4, years=13, seed=3)


@pytest.mark.parametrize("rule", [FixedBenchmark(), RebasedBenchmark()])
def test_engine_deterministic_costs_give_zero_savings(flat_paths, rule):
    st = MultiYearContract(rule, presets.lead("professional", withhold=0.0)).settle_paths(
        flat_paths)
    rate = (st["benchmark"] - st["expenditure"]) / st["benchmark"]
    # member cost noise cv 1e-4 over 440 members: relative error ~1e-5; 1e-3 is 100 SE
    np.testing.assert_allclose(rate.values, 0.0, atol=1e-3)
    np.testing.assert_allclose(st["payment"].values / st["benchmark"].values, 0.0, atol=1e-3)


def test_engine_rebasing_lowers_benchmark_after_savings(flat_paths):
    x = 0.04
    saved = with_savings(flat_paths, x, first_year=4)
    lead = FixedBenchmark().benchmark(saved)
    mssp = RebasedBenchmark().benchmark(saved)
    ratio = mssp / lead
    np.testing.assert_allclose(ratio[:, :5], 1.0, rtol=1e-9)
    np.testing.assert_allclose(ratio[:, 5:], 1 - x, atol=1e-3)


def test_engine_compare_runs_and_strategies_share_paths():
    pop = Population([Cohort("aged", 300, Lognormal(mean=1.2e4, cv=2.0))])
    p = simulate(pop, n_scenarios=40, years=6, seed=5)
    cmp = compare(p, standard_strategies(), cash={"LEAD Global": CashTerms(capitation_share=1.0)})
    assert cmp.sizes["contract"] == 3 and cmp.sizes["year"] == 3
    e = cmp["expenditure"].values
    np.testing.assert_array_equal(e[0], e[1])  # same paths for every strategy
    assert np.all(np.isfinite(cmp["npv"].values))
