"""Cohort transition rates from a member-year table (vbsim.calibrate.transition_rates)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import vbsim
from vbsim._validate import VbsimInputError
from vbsim.calibrate import transition_rates
from vbsim.costs import Lognormal


def _panel(n: int, p_move: float, p_exit: float, years: int, seed: int) -> pd.DataFrame:
    """Members start 'aged'; each year a continuing aged member becomes 'dual' w.p. p_move."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(n):
        coh = "aged"
        for y in range(years):
            rows.append((m, 2020 + y, coh))
            if rng.random() < p_exit:
                break
            if coh == "aged" and rng.random() < p_move:
                coh = "dual"
    return pd.DataFrame(rows, columns=["member_id", "year", "cohort"])


def test_counts_are_exact_on_a_small_table():
    t = pd.DataFrame({"id": ["a", "a", "a", "b", "b", "c", "c", "d"],
                      "yr": [1, 2, 3, 1, 2, 1, 3, 1],
                      "type": ["x", "y", "x", "x", "x", "x", "y", "x"]})
    tr = transition_rates(t, columns={"member_id": "id", "year": "yr", "cohort": "type"})
    # x in year 1 present in year 2: a (moves to y), b (stays); c skips year 2 (no pair)
    # y in year 2 present in year 3: a (moves back to x)
    assert [r[:5] for r in tr.rows] == [("x", "y", 1, 2, 0.5), ("y", "x", 1, 1, 1.0)]
    assert [r[5] for r in tr.rows] == pytest.approx([math.sqrt(0.25 / 2), 0.0])
    assert dict(tr.at_risk) == {"x": 2, "y": 1}
    assert "0.5000" in str(tr)


def test_rate_recovered_within_the_binomial_error():
    p = 0.04
    tr = transition_rates(_panel(20_000, p, 0.1, 4, seed=5))
    (frm, to, moved, n, rate, se), = tr.rows
    assert (frm, to) == ("aged", "dual")
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert se == pytest.approx(math.sqrt(rate * (1 - rate) / n))


def test_apply_sets_the_population_transitions():
    tr = transition_rates(_panel(2_000, 0.05, 0.1, 3, seed=1))
    cost = Lognormal(mean=1e4, cv=1.0)
    pop = vbsim.Population([vbsim.Cohort("aged", 100, cost), vbsim.Cohort("dual", 10, cost)])
    out = tr.apply(pop)
    assert out["aged"].transitions == (("dual", tr.rows[0][4]),)
    assert out["dual"].transitions == ()
    with pytest.raises(VbsimInputError, match=r"\['dual'\] that are not in the population"):
        tr.apply(vbsim.Population([vbsim.Cohort("aged", 100, cost)]))


def test_bad_tables_are_named():
    with pytest.raises(VbsimInputError, match="missing \\['cohort'\\]"):
        transition_rates(pd.DataFrame({"member_id": [1], "year": [2020]}))
    with pytest.raises(VbsimInputError, match="two cohorts in the same year"):
        transition_rates(pd.DataFrame({"member_id": [1, 1], "year": [2020, 2020],
                                       "cohort": ["a", "b"]}))
    with pytest.raises(VbsimInputError, match="no member is present in two consecutive"):
        transition_rates(pd.DataFrame({"member_id": [1, 2], "year": [2020, 2020],
                                       "cohort": ["a", "b"]}))
    with pytest.raises(VbsimInputError, match="no such file"):
        transition_rates("/nonexistent/claims.csv")


def _selected_panel(n: int, pi: float, beta: float, gamma: float, s: float, seed: int,
                    zero_share: float = 0.0) -> pd.DataFrame:
    """Two years of 'aged' members with risk scores r = exp(s zeta - s^2/2) and costs
    r x exp(z) (z, zeta ~ N(0, 1)); a member moves to 'dual' in year 2 w.p.
    min(1, pi exp(beta z + gamma zeta - (beta^2 + gamma^2)/2)), the engine's model
    (docs/engine.md). ``zero_share``: that share of the lowest-ranked members cost 0."""
    rng = np.random.default_rng(seed)
    z, zeta = rng.standard_normal(n), rng.standard_normal(n)
    r = np.exp(s * zeta - 0.5 * s * s)
    cost = np.where(z < np.quantile(z, zero_share), 0.0, r * np.exp(z)) if zero_share else (
        r * np.exp(z))
    p = np.minimum(1.0, pi * np.exp(beta * z + gamma * zeta - 0.5 * (beta**2 + gamma**2)))
    moved = rng.random(n) < p
    ids = np.arange(n)
    y1 = pd.DataFrame({"member_id": ids, "year": 2021, "cohort": "aged", "cost": cost,
                       "risk_score": r})
    y2 = pd.DataFrame({"member_id": ids, "year": 2022, "cohort": np.where(moved, "dual", "aged"),
                       "cost": 1.0, "risk_score": r})
    return pd.concat([y1, y2], ignore_index=True)


@pytest.mark.parametrize("beta,gamma", [(1.0, 0.5), (0.0, -0.7), (0.6, 0.0)])
def test_effects_recovered_within_their_standard_errors(beta, gamma):
    """Maximum likelihood on the engine's model recovers beta, gamma (within 4 SE) and pi."""
    pi = 0.05
    tr = transition_rates(_selected_panel(60_000, pi, beta, gamma, 0.6, seed=3),
                          effects=["rank", "risk"])
    got = {e: (b, se) for _, e, b, se in tr.effects}
    for name, true in (("rank", beta), ("risk", gamma)):
        b, se = got[name]
        assert 0.0 < se < 0.05
        assert abs(b - true) < 4 * se, (name, b, se)
    # pi: the base probability; its sampling error is about pi / sqrt(movers)
    base = tr.transitions("aged")["dual"]
    moved = tr.rows[0][2]
    assert abs(base - pi) < 4 * pi / math.sqrt(moved)
    out = tr.apply(vbsim.Population([
        vbsim.Cohort("aged", 10, Lognormal(mean=1e4, cv=1.0)),
        vbsim.Cohort("dual", 10, Lognormal(mean=1e4, cv=1.0))]))
    assert out["aged"].transition_rank_effect == pytest.approx(got["rank"][0])
    assert out["aged"].transition_risk_effect == pytest.approx(got["risk"][0])
    assert "gamma (risk score)" in str(tr)


def test_rank_effect_alone_with_zero_costs_and_no_risk_column():
    """Ties at zero cost share a mid-rank; without risk_score the rank is on raw cost."""
    t = _selected_panel(60_000, 0.05, 1.0, 0.0, 0.0001, seed=4, zero_share=0.15)
    tr = transition_rates(t.drop(columns="risk_score"), effects=["rank"])
    (_, name, b, se), = tr.effects
    assert name == "rank"
    # the zero-cost members' ranks collapse onto one mid-rank score: a bias well inside 4 SE
    assert abs(b - 1.0) < 4 * se
    assert tr.effect("aged", "risk") == 0.0


def test_effect_inputs_are_checked():
    t = _selected_panel(200, 0.1, 0.0, 0.0, 0.5, seed=1)
    with pytest.raises(VbsimInputError, match="effects must be a list of 'rank', 'risk'"):
        transition_rates(t, effects="rank")
    with pytest.raises(VbsimInputError, match=r"missing \['risk_score'\]"):
        transition_rates(t.drop(columns="risk_score"), effects=["risk"])
    bad = t.assign(risk_score=t["risk_score"].where(t.index != 3, 0.0))
    with pytest.raises(VbsimInputError, match="risk_score must be a number > 0"):
        transition_rates(bad, effects=["risk"])
    with pytest.raises(VbsimInputError, match="risk scores that vary"):
        transition_rates(t.assign(risk_score=1.0), effects=["risk"])
    neg = t.assign(cost=t["cost"].where(t.index != 2, -5.0))
    with pytest.raises(VbsimInputError, match="cost must be a number >= 0"):
        transition_rates(neg, effects=["rank"])
