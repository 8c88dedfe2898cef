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
