"""Multi-year benchmark rules checked against exact arithmetic on hand-made paths."""

from __future__ import annotations

import numpy as np
import pytest

from vbsim._validate import VbsimInputError
from vbsim.contracts import Contract, SharedSavings, TwoSidedRisk
from vbsim.multiyear import (
    FixedBenchmark,
    MultiYearContract,
    RebasedBenchmark,
    demo_paths,
    reweight_cohorts,
    with_savings,
)

TWO_SIDED = Contract("two-sided", sharing=TwoSidedRisk(rate=0.5, loss_rate=0.5),
                     sequestration=0.0)


@pytest.mark.parametrize("rule", [FixedBenchmark(), RebasedBenchmark(),
                                  RebasedBenchmark(agreement_years=2, regional_blend=0.3)])
@pytest.mark.parametrize("trend", [0.0, 0.045])
def test_zero_savings_when_cost_grows_with_the_update(rule, trend):
    paths = demo_paths(years=13, trend=trend)
    st = MultiYearContract(rule, TWO_SIDED).settle_paths(paths)
    assert st.sizes["year"] == 10
    np.testing.assert_allclose(st["gross_savings"].values, 0.0, atol=1e-6 * 1e8)
    np.testing.assert_allclose(st["payment"].values, 0.0, atol=1e-6 * 1e8)
    np.testing.assert_allclose(st["benchmark"].values, st["expenditure"].values, rtol=1e-12)


def test_rebasing_claws_back_savings_and_lead_does_not():
    x = 0.05
    base = demo_paths(years=13, trend=0.03)
    saved = with_savings(base, x, first_year=4)  # saves x from performance year 1 on
    lead = FixedBenchmark().benchmark(saved)
    lead0 = FixedBenchmark().benchmark(base)
    mssp = RebasedBenchmark(agreement_years=5).benchmark(saved)
    np.testing.assert_allclose(lead, lead0, rtol=1e-12)  # no rebasing: benchmark unchanged
    np.testing.assert_allclose(mssp[:, :5], lead0[:, :5], rtol=1e-12)  # first agreement
    np.testing.assert_allclose(mssp[:, 5:], (1 - x) * lead0[:, 5:], rtol=1e-12)  # rebased


def test_savings_in_one_year_enter_the_rebased_base_with_its_weight():
    x = 0.08
    base = demo_paths(years=9, trend=0.02)
    saved = with_savings(base, [x], first_year=4)  # only performance year 1
    w = (0.1, 0.3, 0.6)
    b0 = RebasedBenchmark(agreement_years=3, rebase_weights=w).benchmark(base)
    b1 = RebasedBenchmark(agreement_years=3, rebase_weights=w).benchmark(saved)
    np.testing.assert_allclose(b1[:, :3], b0[:, :3], rtol=1e-12)
    np.testing.assert_allclose(b1[:, 3:], (1 - w[0] * x) * b0[:, 3:], rtol=1e-12)


def test_prior_savings_adjustment_adds_back_a_share_of_savings():
    x, psa = 0.05, 0.5
    saved = with_savings(demo_paths(years=13, trend=0.0), x, first_year=4)
    b = RebasedBenchmark(prior_savings_share=psa).benchmark(saved)
    b_plain = RebasedBenchmark().benchmark(saved)
    first = FixedBenchmark().benchmark(saved)
    # savings per capita in PY3-5 = x * first-agreement benchmark (trend 0)
    np.testing.assert_allclose(b[:, 5:], b_plain[:, 5:] + psa * x * first[:, 5:], rtol=1e-12)


def test_base_years_weighted_and_trended():
    p = demo_paths(years=4, trend=0.0, n_scenarios=1)
    cost = p["cost"].values.copy()
    cost[0, :3, 0] *= np.array([1.1, 0.9, 1.2])  # base-year shocks, cohort "aged"
    p["cost"] = (p["cost"].dims, cost)
    b = FixedBenchmark().benchmark_by_cohort(p)
    expect = 12_000 * (0.1 * 1.1 + 0.3 * 0.9 + 0.6 * 1.2) * 10_000
    assert b[0, 0, 0] == pytest.approx(expect, rel=1e-12)
    assert b[0, 0, 1] == pytest.approx(60_000 * 500, rel=1e-12)  # high needs untouched


def test_expected_base_removes_base_period_noise():
    p = demo_paths(years=5, trend=0.04, noise=0.2, n_scenarios=50, seed=3)
    exact = demo_paths(years=5, trend=0.04, n_scenarios=50)
    b = FixedBenchmark(base_source="expected").benchmark(p)
    np.testing.assert_allclose(b, FixedBenchmark().benchmark(exact), rtol=1e-12)
    assert np.std(FixedBenchmark().benchmark(p)[:, 0]) > 0


def test_risk_growth_capped_at_three_percent_declines_flow_through():
    p = demo_paths(years=5, trend=0.0, n_scenarios=1)
    rs = p["risk_score"].values.copy()
    rs[0, 3, :] = 1.10  # PY1: +10% risk
    rs[0, 4, :] = 0.95  # PY2: -5% risk
    p["risk_score"] = (p["risk_score"].dims, rs)
    b = FixedBenchmark().benchmark(p)[0]
    total = 12_000 * 10_000 + 60_000 * 500
    np.testing.assert_allclose(b, [1.03 * total, 0.95 * total], rtol=1e-12)
    b_sym = FixedBenchmark(risk_cap_down=-0.03).benchmark(p)[0]
    np.testing.assert_allclose(b_sym, [1.03 * total, 0.97 * total], rtol=1e-12)


def test_prospective_trend_with_guardrail():
    realised, acpt, guard = 0.09, 0.045, 0.03  # 2024-25: ~9% against 4.3-5.1% [DOMAIN.md s.5]
    p = demo_paths(years=5, trend=realised, n_scenarios=1)
    rule = FixedBenchmark(prospective_trend=acpt, prospective_weight=1 / 3, guardrail=guard)
    g = 2 / 3 * realised + 1 / 3 * (realised - guard)  # ACPT clipped to realised - guardrail
    b = rule.benchmark(p)[0]
    b_retro = FixedBenchmark().benchmark(p)[0]
    np.testing.assert_allclose(b / b_retro, ((1 + g) / (1 + realised)) ** np.arange(1, 3),
                               rtol=1e-12)
    no_guard = FixedBenchmark(prospective_trend=acpt).benchmark(p)[0]
    g2 = 2 / 3 * realised + 1 / 3 * acpt
    np.testing.assert_allclose(no_guard / b_retro, ((1 + g2) / (1 + realised)) ** np.arange(1, 3),
                               rtol=1e-12)


def test_separate_high_needs_trend():
    p = demo_paths(years=6, trend=0.0, n_scenarios=1)
    b = FixedBenchmark(cohort_trend={"high_needs": 0.02}).benchmark_by_cohort(p)[0]
    np.testing.assert_allclose(b[:, 1], 60_000 * 500 * 1.02 ** np.arange(1, 4), rtol=1e-12)
    np.testing.assert_allclose(b[:, 0], 12_000 * 10_000, rtol=1e-12)
    with pytest.raises(VbsimInputError, match="cohort_trend"):
        FixedBenchmark(cohort_trend={"esrd": 0.01}).benchmark(p)


def test_regional_blend():
    p = demo_paths(years=4, trend=0.0, n_scenarios=1)
    p["cost"] = p["cost"] * 1.2  # ACO runs 20% above its market
    b = RebasedBenchmark(regional_blend=0.25).benchmark_by_cohort(p)[0, 0, 0]
    assert b == pytest.approx((0.75 * 1.2 + 0.25) * 12_000 * 10_000, rel=1e-12)


def test_cohort_weights_change_benchmark_with_person_years():
    p = demo_paths(years=5, trend=0.0, n_scenarios=1)
    q = reweight_cohorts(p, {"high_needs": [1, 1, 1, 1.5, 2.0], "aged": 0.9})
    b = FixedBenchmark().benchmark_by_cohort(q)[0]
    # per-capita benchmark unchanged (base per-capita cost unchanged), person-years scaled
    np.testing.assert_allclose(b[:, 1], 60_000 * 500 * np.array([1.5, 2.0]), rtol=1e-12)
    np.testing.assert_allclose(b[:, 0], 0.9 * 12_000 * 10_000, rtol=1e-12)
    st = MultiYearContract(FixedBenchmark(), TWO_SIDED).settle_paths(q)
    np.testing.assert_allclose(st["gross_savings"].values, 0.0, atol=1e-3)


def test_glide_path_discount_and_withhold_by_year():
    one = Contract("A", sharing=SharedSavings(rate=0.4), sequestration=0.0)
    two = Contract("E", sharing=TwoSidedRisk(rate=0.5, loss_rate=0.3), sequestration=0.0)
    p = with_savings(demo_paths(years=6, trend=0.0, n_scenarios=1), -0.02, first_year=4)
    m = MultiYearContract(FixedBenchmark(), (one, two))
    pay = m.settle_paths(p)["payment"].values[0]
    B = 12_000 * 10_000 + 60_000 * 500
    np.testing.assert_allclose(pay, [0.0, -0.3 * 0.02 * B, -0.3 * 0.02 * B], rtol=1e-9)
    m2 = MultiYearContract(FixedBenchmark(), two, discount_by_year=(0.0, 0.01, 0.02),
                           withhold_by_year=(0.03,))
    st = m2.settle_paths(p)
    np.testing.assert_allclose(st["discount"].values[0], np.array([0, 0.01, 0.02]) * B)
    fb = B * (1 - np.array([0, 0.01, 0.02]))
    np.testing.assert_allclose(st["withhold"].values[0], 0.03 * fb)
    np.testing.assert_allclose(st["withhold_earned"].values[0], 0.03 * 0.9 * fb)


def test_validation_messages():
    with pytest.raises(VbsimInputError, match="weights must sum to 1"):
        FixedBenchmark(weights=(0.5, 0.6))
    with pytest.raises(VbsimInputError, match="agreement_years"):
        RebasedBenchmark(agreement_years=0)
    with pytest.raises(VbsimInputError, match="base years"):
        FixedBenchmark().benchmark(demo_paths(years=3))
    with pytest.raises(VbsimInputError, match="truncate_at"):
        FixedBenchmark(truncate_at=1e5).benchmark(demo_paths(years=4))
    with pytest.raises(VbsimInputError, match="rule"):
        MultiYearContract("lead", TWO_SIDED)
    with pytest.raises(VbsimInputError, match="discount_by_year"):
        MultiYearContract(FixedBenchmark(), TWO_SIDED, discount_by_year=(0.02, 1.5))


def test_ageing_beyond_the_risk_cap_costs_the_aco_and_coding_gains_up_to_it():
    from vbsim.multiyear import with_risk_drift

    d = 0.02
    p = demo_paths(years=8, trend=0.0, n_scenarios=1)
    aged = with_risk_drift(p, d, first_year=4)  # PY1 on: risk and cost +2% a year
    st = MultiYearContract(FixedBenchmark(), TWO_SIDED).settle_paths(aged)
    k = np.arange(1, 6)
    B0 = 12_000 * 10_000 + 60_000 * 500
    np.testing.assert_allclose(st["benchmark"].values[0], B0 * np.minimum(1.02**k, 1.03),
                               rtol=1e-12)
    np.testing.assert_allclose(st["expenditure"].values[0], B0 * 1.02**k, rtol=1e-12)
    coded = with_risk_drift(p, d, first_year=4, cost_follows=False)
    st2 = MultiYearContract(FixedBenchmark(), TWO_SIDED).settle_paths(coded)
    np.testing.assert_allclose(st2["gross_savings"].values[0],
                               B0 * (np.minimum(1.02**k, 1.03) - 1), rtol=1e-9)
    with pytest.raises(VbsimInputError, match="no such cohort"):
        with_risk_drift(p, {"esrd": 0.01})


def test_strategy_presets_terms_by_year():
    from vbsim.multiyear import lead_global, lead_professional, mssp_basic_glide, mssp_enhanced

    g = lead_global()
    assert [g.contract_for_year(y).discount for y in (1, 2, 3, 7, 10)] == pytest.approx(
        [0.0175, 0.0175, 0.02, 0.03, 0.03])  # DOMAIN.md s.4 range, path [A]
    assert g.contract_for_year(5).quality.rate == 0.03 and g.rule.agreement_years is None
    p = lead_professional()
    assert p.contract_for_year(10).discount == 0.0
    assert mssp_enhanced().rule.agreement_years == 5
    glide = mssp_basic_glide()
    names = [glide.contract_for_year(y).name for y in range(1, 8)]
    assert names == ["MSSP BASIC A", "MSSP BASIC B", "MSSP BASIC C", "MSSP BASIC D",
                     "MSSP BASIC E", "MSSP ENHANCED", "MSSP ENHANCED"]
