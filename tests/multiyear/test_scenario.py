"""Multi-year scenario files: the bundled one loads; the [multiyear] section is read and
validated with errors naming the field; dynamics are applied from performance year 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vbsim._validate import VbsimInputError
from vbsim.multiyear import demo_paths
from vbsim.multiyear.scenario import load

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
[simulation]
n_scenarios = 30
years = 6
seed = 4
[[population.cohorts]]
name = "aged"
members = 300
cost = { model = "lognormal", mean = 12000.0, cv = 2.0 }
[[population.cohorts]]
name = "high_needs"
members = 30
cost = { model = "lognormal", mean = 60000.0, cv = 1.5 }
[settlement]
quality_standard_met = true
[contracts.lead_global]
preset = "lead"
track = "global"
[contracts.mssp_enhanced]
preset = "mssp"
level = "ENHANCED"
msr = 0.02
"""

MY = """
[multiyear]
savings_by_year = [0.01, 0.02]
[multiyear.cohort_growth]
high_needs = 0.10
[multiyear.risk_drift]
aged = 0.01
[multiyear.coding_drift]
high_needs = 0.02
[multiyear.cash]
discount_rate = 0.04
[multiyear.strategies.mssp_enhanced]
rule = "rebased"
agreement_years = 2
prospective_trend = 0.045
guardrail = 0.02
cohort_trend = { high_needs = 0.01 }
reconciliation_lag_months = 6.0
"""


def _write(tmp_path, text):
    p = tmp_path / "my.toml"
    p.write_text(text)
    return p


def test_bundled_lead_10yr_loads():
    s = load(ROOT / "scenarios" / "lead_10yr.toml")
    assert s.performance_years == 10 and s.base_years == 3
    assert s.strategies["lead_global"].rule.agreement_years is None
    assert s.strategies["mssp_enhanced"].rule.agreement_years == 5
    assert s.cash["lead_global"].capitation_share == 1.0
    assert s.strategies["lead_global"].contract_for_year(10).discount == pytest.approx(0.03)


def test_multiyear_section_is_read(tmp_path):
    s = load(_write(tmp_path, SMALL + MY))
    r = s.strategies["mssp_enhanced"].rule
    assert (r.agreement_years, r.prospective_trend, r.guardrail) == (2, 0.045, 0.02)
    assert r.cohort_trend == (("high_needs", 0.01),)
    assert s.cash["mssp_enhanced"].reconciliation_lag_months == 6.0
    assert s.cash["mssp_enhanced"].discount_rate == 0.04 == s.cash["lead_global"].discount_rate
    assert s.savings_by_year == (0.01, 0.02)


def test_dynamics_start_in_performance_year_one(tmp_path):
    s = load(_write(tmp_path, SMALL + MY))
    p = demo_paths(years=6, trend=0.0, cohorts=("aged", "high_needs"), n_scenarios=1)
    q = s.apply_dynamics(p)
    g = (q["member_months"] / p["member_months"]).sel(cohort="high_needs").values[0]
    np.testing.assert_allclose(g, [1, 1, 1, 1.1, 1.21, 1.331])
    f = (q["cost"] / p["cost"]).sel(cohort="aged").values[0]
    # savings (last repeats) times ageing drift
    np.testing.assert_allclose(f, [1, 1, 1, 0.99 * 1.01, 0.98 * 1.01**2, 0.98 * 1.01**3])
    r = (q["risk_score"] / p["risk_score"]).values[0]
    np.testing.assert_allclose(r[:, 0], [1, 1, 1, 1.01, 1.01**2, 1.01**3])
    np.testing.assert_allclose(r[:, 1], [1, 1, 1, 1.02, 1.02**2, 1.02**3])
    hn = (q["cost"] / p["cost"]).sel(cohort="high_needs").values[0]
    np.testing.assert_allclose(hn, g * [1, 1, 1, 0.99, 0.98, 0.98])  # coding: cost unchanged


def test_cohort_growth_is_simulated_member_by_member(tmp_path):
    s = load(_write(tmp_path, SMALL + MY))
    nb = s.base_years
    assert s.population()["high_needs"].growth_start == nb + 1
    paths = s.simulate(n_scenarios=3)
    start = paths["members_start"].sel(cohort="high_needs").values[0]
    # slots: 30 through the base years, then +10% a year from PY1 (replacement 1: all filled)
    np.testing.assert_array_equal(start, np.rint(30 * 1.1 ** np.maximum(0, np.arange(6) - 2)))
    # not reweighted again on top of the engine's growth
    mm = paths["member_months"].sel(cohort="high_needs").values[0] / 12
    assert mm[-1] < 1.2 * start[-1]


def test_run_small(tmp_path):
    s = load(_write(tmp_path, SMALL + MY))
    paths, cmp = s.run(progress=False)
    assert cmp.sizes["year"] == 3 and cmp.sizes["scenario"] == 30
    assert list(cmp["contract"].values) == ["lead_global", "mssp_enhanced"]
    assert np.all(np.isfinite(cmp["npv"].values))


@pytest.mark.parametrize("extra, fragment", [
    ("[multiyear]\nsavings = 1\n", "multiyear.savings: unknown field"),
    ("[multiyear.strategies.nope]\nrule = 'fixed'\n", "multiyear.strategies.nope: no [contracts"),
    ("[multiyear.strategies.lead_global]\nrule = 'sliding'\n", "lead_global.rule must be"),
    ("[multiyear.strategies.lead_global]\nagreement_years = 5\n", "fixed rule never rebases"),
    ("[multiyear.strategies.lead_global]\nweights = [0.5, 0.6]\n", "weights must sum to 1"),
    ("[multiyear.cohort_growth]\nesrd = 0.1\n", "cohort_growth.esrd: no such cohort"),
    ("[multiyear.risk_drift]\naged = 2.0\n", "multiyear.risk_drift.aged must be in"),
    ("[multiyear.cash]\nlag = 3\n", "multiyear.cash.lag: unknown field"),
    ("[multiyear.cohort_transitions]\nesrd = { aged = 0.1 }\n",
     "cohort_transitions.esrd: no such cohort"),
    ("[multiyear.cohort_transitions]\naged = { esrd = 0.1 }\n",
     "multiyear.cohort_transitions: .*unknown cohorts ['esrd']"),
    ("[multiyear.cohort_transitions]\naged = { high_needs = 1.5 }\n",
     "transitions['high_needs'] must be in"),
    ("[multiyear.strategies.lead_global]\ncohort_trend = { highneeds = 0.01 }\n",
     "lead_global.cohort_trend.highneeds: no such cohort"),
    ("[multiyear.strategies.lead_global]\ntruncate_at = { aged = 1e5 }\n",
     "lead_global.truncate_at must name every cohort.*missing ['high_needs']"),
])
def test_errors_name_the_field(tmp_path, extra, fragment):
    with pytest.raises(VbsimInputError, match=fragment.replace("[", r"\[")):
        load(_write(tmp_path, SMALL + extra))


def test_years_must_exceed_base_years(tmp_path):
    with pytest.raises(VbsimInputError, match="must exceed the 3 base years"):
        load(_write(tmp_path, SMALL.replace("years = 6", "years = 3")))


def test_command_line(tmp_path, capsys):
    from vbsim.multiyear.__main__ import main

    assert main([str(_write(tmp_path, SMALL + MY)), "--n-scenarios", "20", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "lead_global" in out and "P(breach)" in out and "first breach" in out
    assert main([str(tmp_path / "missing.toml")]) == 2


def test_cohort_transitions_move_members_into_the_destination(tmp_path):
    text = SMALL + "[multiyear.cohort_transitions]\naged = { high_needs = 0.1 }\n"
    s = load(_write(tmp_path, text))
    assert s.population()["aged"].transitions == (("high_needs", 0.1),)
    still = load(_write(tmp_path, SMALL)).simulate(progress=False)
    moving = s.simulate(progress=False)
    hn = moving["new_members"].sel(cohort="high_needs").values[:, 1:]
    hn0 = still["new_members"].sel(cohort="high_needs").values[:, 1:]
    assert (hn > hn0).all()  # movers are the destination's new members
    # nobody is lost: the same slots, wherever their members are counted
    np.testing.assert_array_equal(moving["members_start"].sum("cohort").values,
                                  still["members_start"].sum("cohort").values)


def test_checkpoint_resume_equals_one_run(tmp_path):
    """--checkpoint works for multi-year scenarios too: blocks on disk, the same comparison."""
    s = load(_write(tmp_path, SMALL + MY))
    _, one = s.run(progress=False)
    ck = tmp_path / "ck"
    _, blocks = s.run(progress=False, checkpoint=ck, block_scenarios=12)
    assert len(list(ck.glob("*.nc"))) == 3  # 12 + 12 + 6 scenarios
    _, again = s.run(progress=False, checkpoint=ck, block_scenarios=12)  # resumed from disk
    for cmp in (blocks, again):
        np.testing.assert_array_equal(cmp["npv"].values, one["npv"].values)


def test_command_line_passes_checkpoint_and_rejects_zero_scenarios(tmp_path, capsys):
    from vbsim.cli import main as vbsim_main

    f = str(_write(tmp_path, SMALL + MY))
    ck = tmp_path / "ck"
    assert vbsim_main(["run", f, "--n-scenarios", "20", "--no-progress", "--checkpoint",
                       str(ck), "--block-scenarios", "10"]) == 0
    assert len(list(ck.glob("*.nc"))) == 2
    assert vbsim_main(["run", f, "--n-scenarios", "0", "--no-progress"]) == 2
    assert "n_scenarios must be an integer in [2," in capsys.readouterr().err
