"""Break-even solving on cached paths: precision, uncertainty, thresholds, failure modes."""

from __future__ import annotations

import numpy as np
import pytest

from vbsim import presets
from vbsim._validate import VbsimInputError
from vbsim.contracts import IndividualStopLoss
from vbsim.evaluate import evaluate
from vbsim.negotiate import Resettler, breakeven, corridor_width

from .conftest import synthetic_paths


def test_resettler_equals_evaluate(paths):
    c = {"E": presets.mssp("E", msr=0.02), "ENH": presets.mssp("ENHANCED", msr=0.02),
         "trunc": presets.mssp("E", msr=0.02, truncation=100_000.0)}
    ref = evaluate(paths, c, revenue_share=0.3)
    got = Resettler(paths, revenue_share=0.3).dataset(c)
    np.testing.assert_array_equal(got["provider_net"].values, ref["provider_net"].values)


def test_acceptance_preset_pair_sharing_rate(paths):
    a, b = presets.mssp("E", msr=0.02), presets.mssp("ENHANCED", msr=0.02)
    rs = Resettler(paths, revenue_share=0.3)
    be = breakeven(rs, b, a, "sharing.rate", bracket=(0.05, 1.0))
    # found to 1e-4 in the parameter: the difference changes sign across root -/+ 1e-4
    lo = rs.totals(b.replace(**{"sharing.rate": be.value - 1e-4})).mean()
    hi = rs.totals(b.replace(**{"sharing.rate": be.value + 1e-4})).mean()
    ref = rs.totals(a).mean()
    assert (lo - ref) * (hi - ref) < 0
    # the payment difference at the root is within 2 standard errors of zero
    assert abs(be.difference) <= 2 * be.difference_se
    assert 0 < be.se < 0.5 and be.ci[0] < be.value < be.ci[1]
    assert be.contract.params()["sharing.rate"] == pytest.approx(be.value)
    assert "sharing.rate" in str(be)


def test_delta_se_agrees_with_bootstrap_and_with_spread_over_seeds():
    a, b = presets.mssp("E", msr=0.02), presets.mssp("ENHANCED", msr=0.02)
    roots, ses = [], []
    for seed in range(12):
        p = synthetic_paths(n_scenarios=600, seed=100 + seed)
        be = breakeven(p, b, a, "sharing.rate", bracket=(0.05, 1.0))
        roots.append(be.value)
        ses.append(be.se)
    boot = breakeven(synthetic_paths(600, 100), b, a, "sharing.rate", bracket=(0.05, 1.0),
                     uncertainty="bootstrap", n_boot=60)
    spread = np.std(roots, ddof=1)
    # 12 runs: the sd over runs is known to about +-25%; allow a factor 1.8 either way
    assert spread / 1.8 < np.mean(ses) < spread * 1.8
    assert ses[0] / 2 < boot.se < ses[0] * 2


def test_tvar_and_p_loss_measures(paths):
    a, b = presets.mssp("E", msr=0.02), presets.mssp("ENHANCED", msr=0.02)
    rs = Resettler(paths, revenue_share=0.3)
    t = breakeven(rs, b, a, "sharing.loss_limit_benchmark", bracket=(0.001, 0.15),
                  measure="tvar99")
    assert abs(t.difference) <= 2 * t.difference_se + 1e-6
    a1 = presets.mssp("E", msr=0.01)
    p = breakeven(rs, b, a1, "discount", bracket=(0.0, 0.05), measure="p_loss")
    assert "step function" in p.note
    # both losses are thresholds on the same savings rate: the root is deterministic,
    # (1 - d) x 1.02 = 1.01, up to the gap between neighbouring scenarios
    assert p.value == pytest.approx(1 - 1.01 / 1.02, abs=2e-4) and p.se < 1e-3
    x_a = rs.totals(a1)
    x_b = rs.totals(p.contract)
    se = np.sqrt(np.var((x_a < 0).astype(float) - (x_b < 0)) / x_a.size)
    assert abs((x_b < 0).mean() - (x_a < 0).mean()) <= 3 * se + 1.0 / x_a.size


def test_attachment_breakeven_interpolates_thresholds(paths):
    rs = Resettler(paths)
    base = presets.mssp("E", msr=0.02)
    a = base.replace(stop_loss=IndividualStopLoss(attachment=50_000.0, premium_pmpm=20.0))
    b = base.replace(stop_loss=IndividualStopLoss(attachment=100_000.0, premium_pmpm=8.0))
    be = breakeven(rs, b, a, "stop_loss.0.attachment", bracket=(25_000.0, 200_000.0))
    assert 25_000 < be.value < 200_000 and abs(be.difference) <= 2 * be.difference_se
    # interpolated excess is the chord: between the grid values, above the convex truth
    g = rs.grid
    mid = np.sqrt(g[1] * g[2])
    e = rs.excess(mid)
    assert np.all(e <= rs.excess(g[1])) and np.all(e >= rs.excess(g[2]))
    with pytest.raises(VbsimInputError, match="outside the simulated thresholds"):
        rs.excess(1e6)


def test_corridor_width_setter_and_no_root(paths):
    rs = Resettler(paths)
    g = presets.reach("global")
    narrow = corridor_width(0)(g, 0.10)
    assert narrow.params()["sharing.bands_savings"][0][1] == 0.10
    assert narrow.params()["sharing.bands_savings"][1][0] == 0.10
    with pytest.raises(VbsimInputError, match="no break-even"):
        breakeven(rs, g, g.replace(discount=0.5), "discount", bracket=(0.0, 0.1))
    with pytest.raises(VbsimInputError, match="measure"):
        breakeven(rs, g, g, "discount", measure="median")
    enh = presets.mssp("ENHANCED", msr=0.02)  # the loss tail ignores the savings sharing rate
    with pytest.raises(VbsimInputError, match="does not depend"):
        breakeven(rs, enh, enh.replace(**{"sharing.rate": 0.6}), "sharing.rate", measure="tvar99")


def test_interpolated_excess_against_exact_resimulation():
    from vbsim import costs
    from vbsim.negotiate import threshold_grid
    from vbsim.population import Cohort
    from vbsim.simulate import simulate

    cohort = Cohort("all", 1500, costs.Lognormal(mean=12_000.0, cv=3.0))
    grid = threshold_grid(25_000, 500_000, 41)
    mids = [float(np.sqrt(grid[k] * grid[k + 1])) for k in (5, 20, 35)]
    rs = Resettler(simulate(cohort, n_scenarios=200, seed=11, thresholds=grid))
    exact = simulate(cohort, n_scenarios=200, seed=11, thresholds=mids)
    for t in mids:
        e = exact["excess"].sel(threshold=t).sum("cohort").transpose("scenario", "year").values
        gap = rs.excess(t) - e
        assert np.all(gap >= -1e-6 * (1 + e))  # the chord lies above the convex truth
        assert gap.sum() <= 0.01 * e.sum() + 1e-9  # under 1% on a 41-point grid


def test_acceptance_on_simulated_preset_pair():
    from vbsim.negotiate.sensitivity import scale_members
    from vbsim.run import run
    from vbsim.scenario import load

    sc = scale_members(load("scenarios/default.toml"), 0.15).replace(n_scenarios=500)
    res = run(sc, progress=False)
    be = breakeven(res, "reach_global", "mssp_enhanced", "discount", bracket=(0.0, 0.1))
    rs = Resettler.from_result(res)
    ref = rs.totals(res.scenario.contracts["mssp_enhanced"]).mean()
    c = res.scenario.contracts["reach_global"]
    d_lo = rs.totals(c.replace(discount=be.value - 1e-4)).mean() - ref
    d_hi = rs.totals(c.replace(discount=be.value + 1e-4)).mean() - ref
    assert d_lo * d_hi < 0  # located to 1e-4
    assert abs(be.difference) <= 2 * be.difference_se


@pytest.mark.parametrize(("param", "true", "measure", "view"), [
    ("sharing.rate", 0.6, "mean", "provider"),
    ("sharing.rate", 0.6, "mean", "payer"),
    ("sharing.loss_limit_benchmark", 0.02, "tvar99", "provider"),
    ("sharing.loss_limit_benchmark", 0.02, "tvar95", "payer"),
])
def test_recovers_a_known_parameter(paths, param, true, measure, view):
    # B(theta) is A exactly at theta = true: the root must be there
    b = presets.mssp("ENHANCED", msr=0.02)
    a = b.replace(**{param: true})
    be = breakeven(Resettler(paths), b, a, param, bracket=(0.005, 1.0), measure=measure,
                   view=view)
    assert be.value == pytest.approx(true, abs=1e-6)
    assert be.difference == pytest.approx(0.0, abs=1e-6 * abs(be.reference_value) + 1e-6)


def test_recovers_a_known_corridor_width(paths):
    g = presets.reach("global")
    a = corridor_width(0)(g, 0.10)  # PY2026 narrows the 100% band to 10% (DOMAIN.md s.3)
    be = breakeven(Resettler(paths), g, a, corridor_width(0), bracket=(0.05, 0.25))
    assert be.value == pytest.approx(0.10, abs=1e-6)
    assert be.parameter == "sharing.bands[0].width"


def test_attachment_with_loaded_premium_on_a_simulated_grid():
    from vbsim import costs
    from vbsim.negotiate import threshold_grid
    from vbsim.population import Cohort
    from vbsim.simulate import simulate

    grid = threshold_grid(50_000, 400_000, 25)
    paths = simulate(Cohort("all", 2000, costs.Lognormal(mean=12_000.0, cv=3.0)),
                     n_scenarios=300, seed=5, thresholds=grid)
    rs = Resettler(paths)
    sl = IndividualStopLoss(attachment=125_000.0, coinsurance=0.1, premium_load=0.25)
    a = presets.reach("global").replace(stop_loss=sl)
    assert not np.any(np.isclose(grid, 125_000.0))  # the reference itself is interpolated
    be = breakeven(rs, a.replace(**{"stop_loss.0.attachment": 60_000.0}), a,
                   "stop_loss.0.attachment", bracket=(55_000.0, 390_000.0))
    assert be.value == pytest.approx(125_000.0, rel=1e-6)


@pytest.fixture(scope="module")
def default_result():
    import vbsim

    return vbsim.run("scenarios/default.toml", n_scenarios=1000, progress=False)


def test_a_jump_is_no_break_even(default_result):
    """An aggregate stop-loss attachment moves a scenario's loss across the layer at once: the
    TVaR99 difference jumps from -0.77M to +1.17M with no zero in between. This used to be
    reported as a break-even '1.01 ± 8e-06'; now: no break-even, no error bar, and why."""
    from vbsim.contracts import AggregateStopLoss

    agg = presets.mssp("ENHANCED", msr=0.02).replace(stop_loss=AggregateStopLoss(
        attachment=1.05, limit=1.3, basis="benchmark", premium_rate=0.01))
    ref = presets.mssp("ENHANCED", msr=0.02).replace(**{"sharing.loss_limit_benchmark": 0.004})
    be = breakeven(default_result, agg, ref, "stop_loss.0.attachment", measure="tvar99",
                   bracket=(0.9, 1.2))
    assert np.isnan(be.se) and abs(be.difference) > 2 * be.difference_se
    assert be.note.startswith("no break-even: the difference jumps")
    assert str(be).startswith("MSSP ENHANCED: no stop_loss.0.attachment makes its TVaR_99")


def test_staircase_tail_measure_gets_a_realistic_error(default_result):
    """TVaR99 against the MSR is a staircase (scenarios cross the MLR one by one): a central
    difference on one step gave ± 5e-06 where resampling gives ~1e-3. The delta method's secant
    now spans 4 standard errors of the difference; compare with the bootstrap."""
    ref = presets.mssp("ENHANCED", msr=0.02).replace(**{"sharing.loss_limit_benchmark": 0.004})
    kw = dict(measure="tvar99", bracket=(0.015, 0.03))
    delta = breakeven(default_result, "mssp_basic_e", ref, "sharing.msr", **kw)
    boot = breakeven(default_result, "mssp_basic_e", ref, "sharing.msr", uncertainty="bootstrap",
                     n_boot=100, **kw)
    assert np.isfinite(delta.se) and 0.5 * boot.se < delta.se < 4 * boot.se


def test_msr_default_bracket_stays_valid():
    """The MSR's default bracket was (0, 1); the slope's widening window then set msr = 1.0,
    which a contract refuses ('must be in [0, 1)'). It is (0, 0.2) now (DOMAIN.md s.2's table
    tops out at 12.2%)."""
    import vbsim

    res = vbsim.run("scenarios/small_practice.toml", n_scenarios=20, progress=False)
    be = breakeven(res, "basic_e", "enhanced", "sharing.msr", measure="p_loss")
    assert be.bracket == (0.0, 0.2) and 0.0 <= be.value <= 0.2
