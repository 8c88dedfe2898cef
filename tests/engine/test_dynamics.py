"""Population dynamics in the engine: alignment growth, ageing, end-of-life cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vbsim._validate import VbsimInputError
from vbsim.costs import Lognormal
from vbsim.drivers import Drivers
from vbsim.population import Cohort, Population
from vbsim.simulate import simulate

FLAT = Drivers(trend_mean=0.0, trend_sd=0.0, shock_prob=0.0)
COST = Lognormal(mean=10_000, cv=1.0)


def _cohort(**kw):
    base = dict(risk_sd=0.0, persistence=0.5, mortality=0.0, churn=0.0)
    return Cohort("c", 2_000, COST, **{**base, **kw})


def test_growth_opens_slots_on_schedule():
    co = _cohort(growth=0.1, mortality=0.05, churn=0.1)
    p = simulate(Population([co]), FLAT, n_scenarios=5, years=4, seed=2)
    # replacement 1: every exit is refilled, so the members at the start of each year are
    # exactly the open slots; the entrants are the exits refilled plus the new slots
    slots = co.slots(4)
    assert slots.tolist() == [2000, 2200, 2420, 2662]
    assert (p["members_start"].sel(cohort="c").values == slots).all()
    exits = (p["deaths"] + p["leavers"]).sel(cohort="c").values
    new = p["new_members"].sel(cohort="c").values
    assert np.array_equal(new[:, 1:], exits[:, :-1] + np.diff(slots))


def test_risk_ageing_raises_each_stayers_score():
    a = 0.05
    p = simulate(Population([_cohort(risk_sd=0.5, risk_ageing=a)]), FLAT, n_scenarios=3,
                 years=4, seed=3)
    r = p["risk_score"].sel(cohort="c").values  # nobody leaves: the same members every year
    np.testing.assert_allclose(r[:, 1:] / r[:, :-1], 1 + a, rtol=1e-12)
    c = p["cost"].sel(cohort="c").values
    assert (c[:, -1].mean() / c[:, 0].mean()) > 1.1  # costs follow the scores (1.05^3 = 1.16)


def test_mortality_ageing_deaths_match_survival_curve():
    m, a, n, years, scen = 0.04, 0.1, 2_000, 5, 40
    co = _cohort(mortality=m, mortality_ageing=a, replacement=0.0, stationary_start=False)
    p = simulate(Population([co]), FLAT, n_scenarios=scen, years=years, seed=4)
    deaths = p["deaths"].sel(cohort="c").values.sum(axis=0)
    q = m * (1 + a) ** np.arange(years)
    alive = n * scen * np.concatenate([[1.0], np.cumprod(1 - q)[:-1]])
    expected = alive * q
    sd = np.sqrt(alive * q * (1 - q))
    assert np.all(np.abs(deaths - expected) < 4 * sd), (deaths, expected)


def test_stationary_start_keeps_a_stable_panel_stationary():
    """Constant exit hazard q, every exit refilled: a slot's tenure is geometric(q), so with the
    stationary start the mean risk score is the same every year, E[(1 + a)^min(A, 40)]."""
    a, m, churn, scen, years = 0.03, 0.05, 0.15, 40, 6
    q = m + churn
    k = np.arange(40)
    exact = np.sum(q * (1 - q) ** k * (1 + a) ** k) + (1 - q) ** 40 * (1 + a) ** 40
    co = _cohort(mortality=m, churn=churn, risk_ageing=a)
    p = simulate(Population([co]), FLAT, n_scenarios=scen, years=years, seed=6)
    r = p["risk_score"].sel(cohort="c").values  # (scenario, year)
    se = r.std(axis=0, ddof=1) / np.sqrt(scen)
    assert np.all(np.abs(r.mean(axis=0) - exact) < 4 * se), (r.mean(axis=0), exact, se)
    # a newly formed panel (everyone at tenure 0) starts at 1 and drifts up toward it
    fresh = simulate(Population([_cohort(mortality=m, churn=churn, risk_ageing=a,
                                         stationary_start=False)]),
                     FLAT, n_scenarios=scen, years=years, seed=6)
    rf = fresh["risk_score"].sel(cohort="c").values.mean(axis=0)
    assert abs(rf[0] - 1.0) < 0.01 and np.all(np.diff(rf) > 0) and rf[-1] < exact


def test_eol_cost_adds_to_decedents():
    m, u, eol, n, scen = 0.1, 2.0, 50_000.0, 2_000, 60
    co = _cohort(mortality=m, eol_uplift=u, eol_cost=eol, persistence=0.0)
    p = simulate(Population([co]), FLAT, n_scenarios=scen, seed=5)
    per = p["cost"].sel(cohort="c").values[:, 0] / n  # iid per scenario
    exact = COST.mean * (1 - m + m * u) + m * eol
    assert abs(per.mean() - exact) < 4 * per.std(ddof=1) / np.sqrt(scen)
    # the cohort's closed form includes it too (per member-year: decedents count half a year)
    assert co.expected_cost_pbpy() == pytest.approx(exact / (1 - m / 2), rel=1e-9)


def test_bad_dynamics_are_named():
    with pytest.raises(VbsimInputError, match="Cohort.growth"):
        _cohort(growth=-0.1)
    with pytest.raises(VbsimInputError, match="Cohort.risk_ageing"):
        _cohort(risk_ageing=2.0)
    with pytest.raises(VbsimInputError, match="Cohort.eol_cost"):
        _cohort(eol_cost=-1.0)
    with pytest.raises(VbsimInputError, match="Cohort.stationary_start"):
        _cohort(stationary_start="yes")


def test_stationary_tenure_with_a_vanishing_exit_rate_is_the_cap():
    """q -> 0: log u / log(1 - q) overflows an int64 before the cap; the tenure is TENURE_MAX.

    Found by the property test of tests/engine/test_transitions.py (mortality 1e-300): the
    kernel floored to an int64 first, got garbage and applied no ageing; the reference 40 years.
    """
    from vbsim.engine.kernel import TENURE_MAX, prior_tenure
    from vbsim.engine.reference import prior_tenure_np

    for q in (1e-300, 1e-18, 5e-324):
        assert prior_tenure(0.5, q) == TENURE_MAX
        assert prior_tenure_np(np.array([0.5]), np.array([q]))[0] == TENURE_MAX
    assert prior_tenure(0.5, 0.1) == prior_tenure_np(np.array([0.5]), np.array([0.1]))[0] == 6.0
    co = _cohort(risk_sd=0.5, mortality=1e-300, risk_ageing=0.04)
    a = simulate(Population([co]), FLAT, n_scenarios=2, years=2, seed=4)
    b = simulate(Population([co]), FLAT, n_scenarios=2, years=2, seed=4, backend="numpy")
    np.testing.assert_allclose(a["cost"].values, b["cost"].values, rtol=1e-9)
    # year 1: every member has aged the full 40 years; mean of 2 x 2,000 iid lognormal scores
    # (mean 1, log-sd 0.5) times 1.04^40, within 4 standard errors
    got = a["risk_score"].sel(year=1).values.mean()
    se = math.sqrt(math.exp(0.25) - 1.0) / math.sqrt(2 * 2_000) * 1.04**TENURE_MAX
    assert abs(got - 1.04**TENURE_MAX) < 4 * se


@pytest.mark.parametrize("ageing", [dict(risk_ageing=0.03, mortality_ageing=0.09),
                                    dict(mortality_ageing=0.09, churn=0.05)])
def test_default_benchmark_is_fair_in_year_one_with_ageing(ageing):
    """With a stationary start, starting members have aged already: their death probabilities
    grew by (1 + mortality_ageing)^A. The closed forms took tenure 0, so the default benchmark
    sat 19-39% below year-1 cost (a review: cost / benchmark 1.26 at 3% / 9% ageing)."""
    from vbsim.costs import Spliced

    flat = Drivers(trend_mean=0.0, trend_sd=0.0, shock_prob=0.0, benchmark_sd=0.0)
    c = Cohort("a", 3_000, Spliced(mean=11_000.0), **ageing)
    p = simulate(Population([c]), flat, n_scenarios=200, years=1, seed=3, progress=False)
    cost = p["cost"].sum(["cohort", "year"]).values
    ratio = cost / p["benchmark"].sum(["cohort", "year"]).values
    assert abs(ratio.mean() - 1.0) < 4 * ratio.std(ddof=1) / np.sqrt(ratio.size)
    pbpy = cost / (p["member_months"].sum(["cohort", "year"]).values / 12)
    assert abs(pbpy.mean() / c.expected_cost_pbpy() - 1) < 4 * pbpy.std(ddof=1) / np.sqrt(
        pbpy.size) / pbpy.mean()
