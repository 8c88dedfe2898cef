"""The default cohorts reproduce the Medicare facts of DOMAIN.md s5 on the full member model.

Statistics (definitions in :mod:`vbsim.calibrate.defaults`) are measured on a 300,000-member,
3-year panel of ``standard_cohort("aged_non_dual")`` simulated by
:func:`vbsim.engine.panel.member_panel` (the engine's own formulas and streams), with a seed
different from the one the defaults were fitted on.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import vbsim
from vbsim._validate import VbsimInputError
from vbsim.calibrate.defaults import (
    fit_aged_default,
    panel_persistence_top,
    panel_top_shares,
)
from vbsim.calibrate.stats import panel_persistence
from vbsim.costs import CompoundPoisson, Lognormal
from vbsim.engine.panel import ABSENT, DIED, LEFT, STAYED, member_panel
from vbsim.population import Cohort, Population, standard_cohort

WALLIS = {0.01: 0.149, 0.05: 0.415, 0.10: 0.600, 0.20: 0.791}  # DOMAIN.md s5
PERSIST = 0.28  # DOMAIN.md s5, Commonwealth Fund 2019
N, SEED = 300_000, 777


@pytest.fixture(scope="module")
def panel():
    return member_panel(standard_cohort("aged_non_dual", N), n_members=N, years=3, seed=SEED,
                        trend=np.ones(3))


def test_top_shares_match_wallis(panel) -> None:
    """Year-1 members, year-1 cost as observed: within 2 points of Wallis et al. 2021."""
    got = panel_top_shares(panel["cost"][:, 0], panel["status"][:, 0] != ABSENT,
                           tops=tuple(WALLIS))
    for p, target in WALLIS.items():
        assert abs(got[f"top{100 * p:g}_share"] - target) <= 0.02, (p, got)


def test_top_decile_persistence_is_28_percent(panel) -> None:
    """Members present all 3 years (same identity), ranked within that panel each year."""
    share, n_top = panel_persistence_top(panel["cost"], panel["member_id"])
    se = math.sqrt(PERSIST * (1 - PERSIST) / n_top)
    print(f"top10_stay_2yr = {share:.4f} (binomial SE {se:.4f}, n_top {n_top})")
    assert abs(share - PERSIST) <= 0.04
    # the fit (200k members, another seed) and this panel each carry sampling error ~se
    assert abs(share - PERSIST) <= 4 * math.sqrt(2) * se


def test_zero_share_among_full_year_stayers(panel) -> None:
    """Members enrolled all of year 1 who neither died nor left: zero cost with prob 0.15."""
    co = standard_cohort("aged_non_dual", 1)
    full = panel["status"][:, 0] == STAYED
    n = int(full.sum())
    z = co.cost.zero_share
    got = float(np.mean(panel["cost"][full, 0] == 0.0))
    assert abs(got - z) <= 3 * math.sqrt(z * (1 - z) / n)


def test_panel_statuses_and_identities(panel) -> None:
    st, mid, mm = panel["status"], panel["member_id"], panel["member_months"]
    assert np.all(st[:, 0] != ABSENT) and np.all(panel["new"][:, 0])
    assert np.all(mm[st == STAYED] == 12.0)
    assert np.all((mm[(st == DIED) | (st == LEFT)] > 0) & (mm[(st == DIED) | (st == LEFT)] < 12))
    # replacement 1: every exit is refilled next year by a new member with a new identity
    exits = (st[:, :-1] == DIED) | (st[:, :-1] == LEFT)
    np.testing.assert_array_equal(exits, panel["new"][:, 1:])
    np.testing.assert_array_equal(exits, mid[:, 1:] != mid[:, :-1])
    ids = mid[st != ABSENT]
    assert np.unique(ids).size == np.unique(mid[:, 0]).size + int(exits.sum())


@pytest.mark.parametrize("replacement", [1.0, 0.5])
def test_panel_totals_equal_simulate(replacement: float) -> None:
    pop = Population([
        standard_cohort("aged_dual", 3_000, replacement=replacement),
        Cohort("claims", 2_000, CompoundPoisson(rate=2.0, severity=Lognormal(mean=4e3, cv=1.5)),
               replacement=replacement),
    ])
    ds = vbsim.simulate(pop, n_scenarios=2, years=3, seed=5, scenario_start=3)
    for s in (3, 4):
        for ci, co in enumerate(pop):
            p = member_panel(co, n_members=co.members, years=3, seed=5, scenario=s,
                             cohort_index=ci)
            sel = dict(scenario=s, cohort=co.name)
            np.testing.assert_allclose(p["cost"].sum(0), ds.cost.sel(**sel).values, rtol=1e-9)
            np.testing.assert_allclose(p["member_months"].sum(0),
                                       ds.member_months.sel(**sel).values, rtol=1e-9)
            np.testing.assert_array_equal((p["status"] == DIED).sum(0),
                                          ds.deaths.sel(**sel).values)


def test_persistence_statistic_matches_stats_definition() -> None:
    """Vectorised persistence = vbsim.calibrate.stats.panel_persistence on member-id dicts."""
    co = standard_cohort("esrd", 1, replacement=0.7)
    p = member_panel(co, n_members=4_000, years=3, seed=2, trend=np.ones(3))
    by_year = {t: {int(m): float(c) for m, c, s in
                   zip(p["member_id"][:, t], p["cost"][:, t], p["status"][:, t], strict=True)
                   if s != ABSENT} for t in range(3)}
    want, k, _ = panel_persistence(by_year, p=0.10, years=2)
    got, k2 = panel_persistence_top(p["cost"], p["member_id"])
    assert (got, k2) == (want, k)


def test_member_panel_input_errors() -> None:
    co = standard_cohort("aged_non_dual", 10)
    with pytest.raises(VbsimInputError, match="trend"):
        member_panel(co, n_members=10, years=2, seed=1, trend=[1.0])
    with pytest.raises(VbsimInputError, match="cohort"):
        member_panel("aged", n_members=10, years=2, seed=1)
    with pytest.raises(VbsimInputError, match="n_members"):
        member_panel(co, n_members=0, years=2, seed=1)


def test_fit_aged_default_reaches_targets_and_population_uses_it() -> None:
    """A smaller refit lands on the targets and near the constants in vbsim.population."""
    params, report = fit_aged_default(n_members=60_000, seed=3)
    for p, t in WALLIS.items():
        assert abs(report[f"top{100 * p:g}_share"].achieved - t) <= 0.02
    assert abs(report["top10_stay_2yr"].achieved - PERSIST) <= 0.01
    co = standard_cohort("aged_non_dual", 1)
    assert abs(params["persistence"] - co.persistence) <= 0.03
    assert abs(params["cv"] - co.cost.cv) <= 0.15
