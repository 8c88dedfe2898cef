"""Cohort transitions: members move between cohorts keeping their latent rank and risk score.

Exact checks (moving members between identical cohorts changes no total; a destination with
twice the cost scale receives exactly twice what the members cost at home; head counts are
conserved) and binomial checks of the move and death rates, plus the numpy twin, block-size
invariance and input errors.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vbsim._validate import VbsimInputError
from vbsim.costs import CompoundPoisson, Lognormal, Spliced
from vbsim.drivers import Drivers
from vbsim.population import Cohort, Population
from vbsim.simulate import simulate

FLAT = Drivers(trend_mean=0.0, trend_sd=0.0, shock_prob=0.0)
COST = Lognormal(mean=10_000, cv=1.5)
TOTALS = ("cost", "member_months", "deaths", "leavers", "members_start")


def _sim(pop, drivers=FLAT, **kw):
    base = dict(n_scenarios=8, years=5, seed=17, thresholds=[60_000.0])
    return simulate(pop, drivers, **{**base, **kw})


def _mixed() -> Population:
    return Population([
        Cohort("a", 700, Lognormal(mean=11_000, cv=2.0), growth=0.05, risk_ageing=0.03,
               mortality_ageing=0.09, eol_cost=20_000, replacement=0.8,
               transitions={"b": 0.1, "c": 0.05}),
        Cohort("b", 300, Spliced(mean=20_000), persistence=0.5, mortality=0.1,
               transitions={"a": 0.2}),
        Cohort("c", 200, CompoundPoisson(rate=2.0, severity=Lognormal(mean=3_000, cv=1.5)),
               transitions={"b": 0.3}),
    ])


def test_numba_kernel_matches_the_numpy_specification():
    pop = _mixed()
    a = _sim(pop, Drivers(), backend="numba")
    b = _sim(pop, Drivers(), backend="numpy")
    for v in ("deaths", "leavers", "members_start", "new_members"):
        assert np.array_equal(a[v].values, b[v].values), v
    for v in ("cost", "member_months", "risk_score", "excess"):
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-9, err_msg=v)


def test_same_numbers_whatever_the_blocks_and_scenario_chunks():
    pop = _mixed()
    a = _sim(pop, block_size=1024)
    b = _sim(pop, block_size=64)
    c0 = _sim(pop, n_scenarios=3)
    c1 = _sim(pop, n_scenarios=5, scenario_start=3)
    for v in ("cost", "excess", "member_months", "risk_score", "new_members"):
        assert np.array_equal(a[v].values, b[v].values), v
        assert np.array_equal(a[v].values, np.concatenate([c0[v].values, c1[v].values])), v


def _pair(trans_a, trans_b=(), cost_b=COST, **kw) -> Population:
    dyn = dict(persistence=0.6, mortality=0.04, churn=0.08, eol_uplift=3.0, risk_ageing=0.02,
               mortality_ageing=0.05, eol_cost=0.0, **kw)
    return Population([Cohort("a", 900, COST, transitions=trans_a, **dyn),
                       Cohort("b", 400, cost_b, transitions=trans_b, **dyn)])


def test_moves_between_identical_cohorts_change_no_total():
    """Each member keeps its rank, risk score, words and exits: only the labels change."""
    still = _sim(_pair({}))
    moving = _sim(_pair({"b": 0.2}, {"a": 0.1}))
    for v in TOTALS:
        np.testing.assert_allclose(moving[v].sum("cohort").values,
                                   still[v].sum("cohort").values, rtol=1e-12, err_msg=v)
    # ... and the members really moved
    assert (moving["members_start"].sel(cohort="b").values[:, 1:]
            > still["members_start"].sel(cohort="b").values[:, 1:]).all()


def test_movers_keep_their_rank_and_take_the_new_cost_model():
    """b prices a member at exactly twice a's cost: b gains twice what a loses."""
    double = Lognormal(mean=2 * COST.mean, cv=COST.cv)
    still = _sim(_pair({}, cost_b=double))
    moving = _sim(_pair({"b": 0.3}, cost_b=double))
    lost = still["cost"].sel(cohort="a").values - moving["cost"].sel(cohort="a").values
    gained = moving["cost"].sel(cohort="b").values - still["cost"].sel(cohort="b").values
    assert (lost[:, 1:] > 0).all()
    np.testing.assert_allclose(gained, 2.0 * lost, rtol=1e-9, atol=1e-6)


def test_head_counts_are_conserved_and_moves_happen_at_the_stated_rate():
    pi, n_a, n_b, years, n_scen = 0.15, 2_000, 500, 4, 40
    dyn = dict(mortality=0.0, churn=0.0, risk_sd=0.0)
    pop = Population([Cohort("a", n_a, COST, transitions={"b": pi}, **dyn),
                      Cohort("b", n_b, COST, **dyn)])
    p = _sim(pop, n_scenarios=n_scen, years=years)
    start_a = p["members_start"].sel(cohort="a").values
    start_b = p["members_start"].sel(cohort="b").values
    assert (start_a + start_b == n_a + n_b).all()
    # the members who move in are b's new members
    np.testing.assert_array_equal(p["new_members"].sel(cohort="b").values[:, 1:],
                                  start_a[:, :-1] - start_a[:, 1:])
    for t in range(1, years):
        q = (1.0 - pi) ** t  # staying t years
        se = math.sqrt(n_a * q * (1 - q) / n_scen)
        assert abs(start_a[:, t].mean() - n_a * q) < 4 * se, t


@pytest.mark.parametrize("m_a", [0.0, 0.05])
def test_movers_die_at_the_new_cohorts_rate(m_a):
    m_b, n_a, n_b, n_scen = 0.2, 3_000, 1_000, 30
    pop = Population([
        Cohort("a", n_a, COST, mortality=m_a, churn=0.0, risk_sd=0.0, replacement=0.0,
               transitions={"b": 1.0}),
        Cohort("b", n_b, COST, mortality=m_b, churn=0.0, risk_sd=0.0, replacement=0.0)])
    p = _sim(pop, n_scenarios=n_scen, years=2)
    assert (p["members_start"].sel(cohort="a", year=2).values == 0).all()  # all moved
    alive = p["members_start"].sel(year=1).sum("cohort").values - p["deaths"].sel(
        year=1).sum("cohort").values
    assert (p["members_start"].sel(cohort="b", year=2).values == alive).all()
    d = p["deaths"].sel(cohort="b", year=2).values
    expected = alive * m_b
    se = math.sqrt((alive * m_b * (1 - m_b)).sum()) / n_scen
    assert abs(d.mean() - expected.mean()) < 4 * se


def test_input_errors_name_the_field():
    with pytest.raises(VbsimInputError, match=r"transitions\['b'\].*\[0, 1\]"):
        Cohort("a", 10, COST, transitions={"b": 1.5})
    with pytest.raises(VbsimInputError, match="sum to at most 1"):
        Cohort("a", 10, COST, transitions={"b": 0.6, "c": 0.6})
    with pytest.raises(VbsimInputError, match="cannot move to itself"):
        Cohort("a", 10, COST, transitions={"a": 0.1})
    with pytest.raises(VbsimInputError, match="unknown cohorts"):
        Population([Cohort("a", 10, COST, transitions={"zz": 0.1})])
    with pytest.raises(VbsimInputError, match="must map cohort names"):
        Cohort("a", 10, COST, transitions=0.1)
    with pytest.raises(VbsimInputError, match=r"transition_risk_effect must be in \[-3, 3\]"):
        Cohort("a", 10, COST, transition_risk_effect=4.0)
    with pytest.raises(VbsimInputError, match="transition_risk_effect needs Cohort.risk_sd > 0"):
        Cohort("a", 10, COST, risk_sd=0.0, transition_risk_effect=1.0)
    from vbsim.engine.panel import member_panel

    with pytest.raises(VbsimInputError, match="does not follow members"):
        member_panel(_pair({"b": 0.1})["a"], n_members=10, years=2, seed=1)


def test_transitions_round_trip_and_scenario_files(tmp_path):
    pop = _pair({"b": 0.1})
    assert Population.from_dict(pop.to_dict()) == pop
    from vbsim.scenario import load

    f = tmp_path / "t.toml"
    f.write_text(
        "[simulation]\nn_scenarios = 10\nseed = 1\n"
        "[[population.cohorts]]\nname = \"a\"\nmembers = 100\n"
        "transitions = { b = 0.05 }\ncost = { model = \"lognormal\", mean = 10000, cv = 1.0 }\n"
        "[[population.cohorts]]\nname = \"b\"\nmembers = 50\n"
        "cost = { model = \"lognormal\", mean = 20000, cv = 1.0 }\n"
        "[contracts.plain]\npreset = \"mssp\"\nlevel = \"E\"\n")
    sc = load(f)
    assert sc.population["a"].transitions == (("b", 0.05),)


_FAMILIES = (Lognormal(mean=9_000, cv=1.8), Spliced(mean=12_000),
             CompoundPoisson(rate=1.5, severity=Lognormal(mean=4_000, cv=1.2)))


@st.composite
def _moving_population(draw) -> Population:
    """2-3 cohorts of mixed families, dynamics and growth with random transition probabilities."""
    n = draw(st.integers(2, 3))
    names = [f"k{i}" for i in range(n)]
    cohorts = []
    for name in names:
        others = [m for m in names if m != name]
        probs = draw(st.lists(st.floats(0.0, 0.45), min_size=len(others), max_size=len(others)))
        cohorts.append(Cohort(
            name, draw(st.integers(1, 90)), _FAMILIES[draw(st.integers(0, 2))],
            persistence=draw(st.floats(0.0, 0.95)), mortality=draw(st.floats(0.0, 0.3)),
            churn=draw(st.floats(0.0, 0.3)), replacement=draw(st.floats(0.0, 1.0)),
            risk_ageing=draw(st.sampled_from([0.0, 0.04])),
            mortality_ageing=draw(st.sampled_from([0.0, 0.1])),
            eol_cost=draw(st.sampled_from([0.0, 15_000.0])),
            risk_sd=draw(st.sampled_from([0.0, 0.5, 2.0])),
            growth=draw(st.sampled_from([0.0, 0.3])), growth_start=draw(st.integers(2, 3)),
            stationary_start=draw(st.booleans()),
            transition_rank_effect=draw(st.sampled_from([0.0, 0.0, 1.5, -1.0])),
            transitions=dict(zip(others, probs, strict=True))))
        if cohorts[-1].risk_sd > 0:
            cohorts[-1] = dataclasses.replace(
                cohorts[-1], transition_risk_effect=draw(st.sampled_from([0.0, 1.0, -2.0])))
    return Population(cohorts)


@settings(max_examples=25, deadline=None)
@given(pop=_moving_population(), seed=st.integers(0, 2**32), years=st.integers(2, 4))
def test_any_moving_population_matches_the_specification(pop, seed, years):
    """Kernel == numpy reference and head counts add up, for random transition matrices."""
    kw = dict(n_scenarios=2, years=years, seed=seed, thresholds=[30_000.0])
    a = simulate(pop, Drivers(), **kw, backend="numba")
    b = simulate(pop, Drivers(), **kw, backend="numpy")
    for v in ("deaths", "leavers", "members_start", "new_members"):
        assert np.array_equal(a[v].values, b[v].values), v
    for v in ("cost", "member_months", "excess"):
        np.testing.assert_allclose(a[v].values, b[v].values, rtol=1e-9, atol=1e-6, err_msg=v)
    # every slot holds at most one member, wherever that member is counted
    slots = sum(c.slots(years) for c in pop.cohorts)
    assert (a["members_start"].sum("cohort").values <= slots).all()


def _moves_into_b(effect: dict, dyn: dict, cost_b, pi: float, n_a: int, n_scen: int,
                  seed: int):
    """Cohort a (n_a members) moves into a one-member cohort b w.p. pi, tilted by ``effect``:
    year 2 of b with the moves, year 2 of b without them (b's own member draws the same
    numbers, so the difference is exactly the movers'), and the number of movers."""
    pop = Population([
        Cohort("a", n_a, COST, transitions={"b": pi}, **effect, **dyn),
        Cohort("b", 1, cost_b, **dyn)])
    b2 = _sim(pop, n_scenarios=n_scen, years=2, seed=seed).sel(cohort="b", year=2)
    still = Population([dataclasses.replace(pop["a"], transitions={}), pop["b"]])
    own = _sim(still, n_scenarios=n_scen, years=2, seed=seed).sel(cohort="b", year=2)
    return b2, own, b2["new_members"].values


def _tilted_moves(pi: float, b: float, n_a: int, n_scen: int, movers: np.ndarray):
    """For moves w.p. min(1, pi exp(b x - b^2/2)) with x ~ N(0, 1): check the number of
    movers within 4 binomial SE and return ``w(f)``, the integral of phi p f, and P(move)."""
    from scipy import integrate, stats

    def prob(x):
        return min(1.0, pi * math.exp(b * x - 0.5 * b * b))

    def w(f):
        return integrate.quad(lambda x: stats.norm.pdf(x) * prob(x) * f(x), -12, 12,
                              points=[0.5 * b + math.log(1 / pi) / b], limit=200)[0]

    p_move = w(lambda x: 1.0)
    se_n = math.sqrt(n_a * w(lambda x: 1.0 - prob(x))) / math.sqrt(n_scen)
    assert abs(movers.mean() - n_a * p_move) < 4 * se_n
    return w, p_move


@pytest.mark.slow
def test_rank_effect_selects_the_expensive_movers_at_the_stated_average_rate():
    """beta > 0: a member at last year's rank z moves w.p. min(1, pi exp(beta z - beta^2/2)).

    Year-1 ranks are N(0, 1), so the expected number of movers into b in year 2 is
    N integral phi(z) p(z) dz, and a mover's year-2 cost in b (lognormal, persistence rho,
    risk 1) is b's mean times exp(sigma rho z - sigma^2 rho^2 / 2) given z: both integrated
    here with scipy and compared within 4 Monte Carlo standard errors.
    """
    pi, beta, rho, n_a, n_scen = 0.05, 1.0, 0.9, 20_000, 30
    cost_b = Lognormal(mean=20_000, cv=1.0)
    sigma = math.sqrt(math.log(1 + cost_b.cv**2))
    dyn = dict(mortality=0.0, churn=0.0, risk_sd=0.0, persistence=rho)
    b2, own, movers = _moves_into_b({"transition_rank_effect": beta}, dyn, cost_b, pi, n_a,
                                    n_scen, seed=8)
    w, p_move = _tilted_moves(pi, beta, n_a, n_scen, movers)
    ratio = w(lambda z: math.exp(sigma * rho * z - 0.5 * (sigma * rho) ** 2)) / p_move
    assert ratio > 1.8  # movers cost about twice b's mean: the selection is strong
    got = (b2["cost"] - own["cost"]).values / movers / cost_b.mean
    assert abs(got.mean() - ratio) < 4 * got.std(ddof=1) / math.sqrt(n_scen)


@pytest.mark.slow
def test_risk_effect_selects_movers_by_risk_score_at_the_stated_average_rate():
    """gamma > 0: a member with risk score r = exp(s zeta - s^2/2) moves w.p.
    min(1, pi exp(gamma zeta - gamma^2/2)).

    New members' zeta are N(0, 1), so the expected number of movers into b in year 2 is
    N integral phi(zeta) p(zeta) dzeta, and the movers' mean risk score (kept when they move)
    is integral phi p exp(s zeta - s^2/2) / integral phi p, about exp(s gamma) = 1.65 here: both
    integrated with scipy and compared within 4 Monte Carlo standard errors. The rank does not
    select: movers' latent ranks stay N(0, 1), so they cost b's mean times their risk score.
    """
    pi, gamma, s, n_a, n_scen = 0.05, 1.0, 0.5, 20_000, 30
    cost_b = Lognormal(mean=20_000, cv=1.0)
    dyn = dict(mortality=0.0, churn=0.0, risk_sd=s, persistence=0.9)
    b2, own, movers = _moves_into_b({"transition_risk_effect": gamma}, dyn, cost_b, pi, n_a,
                                    n_scen, seed=9)
    w, p_move = _tilted_moves(pi, gamma, n_a, n_scen, movers)
    ratio = w(lambda x: math.exp(s * x - 0.5 * s * s)) / p_move
    assert 1.5 < ratio < 1.8  # about exp(s gamma): the selection is by risk score
    rmm = (b2["risk_score"] * b2["member_months"] - own["risk_score"] * own["member_months"])
    got = rmm.values / (12.0 * movers)  # no exits: 12 months each
    assert abs(got.mean() - ratio) < 4 * got.std(ddof=1) / math.sqrt(n_scen)
    # their cost in b: b's mean times their risk score (the rank is not selected)
    cost = (b2["cost"] - own["cost"]).values / movers / cost_b.mean
    assert abs(cost.mean() - ratio) < 4 * cost.std(ddof=1) / math.sqrt(n_scen)
