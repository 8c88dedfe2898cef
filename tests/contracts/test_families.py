"""Hand-worked settlements for every contract family, with the edges (arithmetic in comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vbsim.contracts import (
    AggregateStopLoss,
    Bundle,
    Capitation,
    CaseRate,
    Contract,
    Corridors,
    IndividualStopLoss,
    PayForPerformance,
    QualityGate,
    QualityLossRate,
    QualityWithhold,
    SharedSavings,
    TwoSidedRisk,
)
from vbsim.presets import mssp, reach

INF = math.inf


def upside(**kw):
    return Contract("u", sharing=SharedSavings(**kw))


# --- 1. upside-only shared savings -----------------------------------------------------------
def test_exactly_at_msr_meets_gate():
    c = upside(rate=0.5, msr=0.02)
    s = c.settle(benchmark=100.0, expenditure=98.0)  # r = 2 / 100 = 2% == MSR -> gate met
    assert s.gate_met and s.payment == pytest.approx(2 * 0.5 * 0.98)  # 0.98
    s = c.settle(benchmark=100.0, expenditure=98.001)  # r = 1.999% < 2%: nothing (a gate)
    assert not s.gate_met and s.payment == 0.0


def test_gate_not_deductible():
    # r = 5% clears a 2% MSR: sharing starts at the first dollar: 50% x 5 x 0.98 = 2.45
    assert upside(rate=0.5, msr=0.02).settle(benchmark=100.0, expenditure=95.0).payment == \
        pytest.approx(2.45)


def test_savings_cap_binding_and_sequestration_before_cap():
    c = upside(rate=0.5, cap=0.10)
    s = c.settle(benchmark=100.0, expenditure=70.0)  # 30 x 50% x 0.98 = 14.7 > cap 10
    assert s.cap_hit and s.payment == pytest.approx(10.0)
    assert s.shared_before_cap == pytest.approx(15.0) and s.sequestration == pytest.approx(0.3)
    # sequestration before the cap: G = 10.1, rate 1: 10.1 x 0.98 = 9.898 < 10, not capped
    # (after the cap it would be min(10.1, 10) x 0.98 = 9.8)
    s = upside(rate=1.0, cap=0.10).settle(benchmark=100.0, expenditure=89.9)
    assert not s.cap_hit and s.payment == pytest.approx(9.898)


def test_rate_scaled_by_quality_and_upside_never_negative():
    c = upside(rate=0.5, scale_by_quality=True)
    s = c.settle(benchmark=100.0, expenditure=90.0, quality_score=0.8)  # 10 x 0.4 x 0.98
    assert s.payment == pytest.approx(3.92)
    assert c.settle(benchmark=100.0, expenditure=130.0, quality_score=0.8).payment == 0.0


def test_msr_table_interpolation_and_top():
    c = upside(rate=0.4, msr="table")
    # 60,000+: MSR 2%; r = 2% exactly meets it
    assert c.settle(benchmark=100.0, expenditure=98.0, assigned_beneficiaries=70_000).gate_met
    # 5,000: 3.9%; r = 3.8% fails
    assert not c.settle(benchmark=100.0, expenditure=96.2, assigned_beneficiaries=5_000).gate_met


# --- 2. two-sided risk -----------------------------------------------------------------------
def two_sided(**kw):
    base = dict(rate=0.5, loss_rate=0.3, msr=0.01, cap=0.1, loss_limit_benchmark=0.04,
                loss_limit_revenue=0.08)
    base.update(kw)
    return Contract("ts", sharing=TwoSidedRisk(**base))


def test_mlr_gate_and_limits():
    c = two_sided()
    # r = -1% == MLR: gate met, -1 x 30% = -0.3
    assert c.settle(benchmark=100.0, expenditure=101.0).payment == pytest.approx(-0.3)
    assert c.settle(benchmark=100.0, expenditure=100.99).payment == 0.0
    # r = -20%: -20 x 30% = -6; limits: 4% x 100 = 4 and 8% x 100 revenue = 8 -> 4 binds
    s = c.settle(benchmark=100.0, expenditure=120.0, revenue=100.0)
    assert s.cap_hit and s.payment == pytest.approx(-4.0)
    # revenue 25: 8% x 25 = 2 < 4 binds
    assert c.settle(benchmark=100.0, expenditure=120.0, revenue=25.0).payment == \
        pytest.approx(-2.0)
    # no revenue given: only the benchmark limit (4)
    assert c.settle(benchmark=100.0, expenditure=120.0).payment == pytest.approx(-4.0)


def test_relief_reduces_loss_not_below_zero():
    c = two_sided(msr=0.0)
    s = c.settle(benchmark=100.0, expenditure=105.0, relief=1.0)  # -1.5 + 1 = -0.5
    assert s.payment == pytest.approx(-0.5) and s.relief == pytest.approx(1.0)
    s = c.settle(benchmark=100.0, expenditure=105.0, relief=9.0)  # relief capped at the loss
    assert s.payment == 0.0 and s.relief == pytest.approx(1.5)
    # relief never touches savings: 5 x 50% x 0.98 = 2.45
    assert c.settle(benchmark=100.0, expenditure=95.0, relief=9.0).payment == pytest.approx(2.45)


def test_quality_loss_rate_bounds_and_failed_standard():
    c = two_sided(loss_rate=QualityLossRate(0.75, 0.40, 0.75), loss_limit_benchmark=None,
                  loss_limit_revenue=None, msr=0.0)
    kw = dict(benchmark=100.0, expenditure=110.0)
    assert c.settle(**kw, quality_score=1.0).payment == pytest.approx(-4.0)  # floor 0.40
    assert c.settle(**kw, quality_score=0.2).payment == pytest.approx(-7.5)  # 1 - .15 -> .75
    assert c.settle(**kw, quality_score=0.5).payment == pytest.approx(-6.25)  # 1 - .375
    assert c.settle(**kw, quality_score=1.0, quality_standard_met=False).payment == \
        pytest.approx(-7.5)


def test_quality_gate_voids_savings_but_not_losses():
    c = mssp("E", msr=0.0)
    s = c.settle(benchmark=100.0, expenditure=90.0, quality_standard_met=False)
    assert s.payment == 0.0 and not s.quality_gate_met and s.shared_before_cap > 0
    s = c.settle(benchmark=100.0, expenditure=101.0, quality_standard_met=False)
    assert s.payment == pytest.approx(-0.3)
    g = Contract("g", sharing=SharedSavings(rate=0.5), quality_gate=QualityGate(min_score=0.4))
    assert g.settle(benchmark=100.0, expenditure=90.0, quality_score=0.39).payment == 0.0
    assert g.settle(benchmark=100.0, expenditure=90.0, quality_score=0.40).payment > 0


# --- 3. corridors ----------------------------------------------------------------------------
def test_corridor_separate_loss_bands_and_caps():
    c = Contract("c", sequestration=0.0, sharing=Corridors(
        bands_savings=((0, 0.1, 0.5), (0.1, INF, 0.2)),
        bands_losses=((0, 0.05, 1.0), (0.05, INF, 0.0)),
        savings_cap=0.06, loss_limit=0.03))
    assert c.settle(benchmark=100.0, expenditure=85.0).payment == pytest.approx(6.0)  # 5 + 1
    s = c.settle(benchmark=100.0, expenditure=80.0)  # 5 + 2 = 7 > cap 6
    assert s.cap_hit and s.payment == pytest.approx(6.0)
    assert c.settle(benchmark=100.0, expenditure=102.0).payment == pytest.approx(-2.0)
    s = c.settle(benchmark=100.0, expenditure=110.0)  # 5 x 100% = 5 > limit 3
    assert s.cap_hit and s.payment == pytest.approx(-3.0)


def test_saving_becomes_loss_after_discount():
    c = reach("global", year=2023)  # 3% discount
    s = c.settle(benchmark=100e6, expenditure=98e6, quality_score=1.0)
    # saving of 2M before the discount; final benchmark 97M -> G = -1M (r = -1.03%), 100% band
    assert s.final_benchmark == pytest.approx(97e6)
    assert s.payment == pytest.approx(-1e6)
    # payer: (100 - 98) - (-1) = 3M
    assert s.payer_net == pytest.approx(3e6)


def test_reach_withhold_passes_through_benchmark():
    c = reach("professional", year=2023)  # 2% withhold, no discount
    s = c.settle(benchmark=100.0, expenditure=100.0, quality_score=0.5)
    # withheld 2, earned back 1 -> final benchmark 99, G = -1, r = -1.0101%: 50% band -> -0.5
    assert s.withhold == pytest.approx(2.0) and s.withhold_earned == pytest.approx(1.0)
    assert s.final_benchmark == pytest.approx(99.0)
    assert s.payment == pytest.approx(-0.5)
    assert reach("global", year=2026).quality.rate == 0.05


# --- 4. individual stop-loss -----------------------------------------------------------------
def test_individual_stop_loss_recoveries_and_premium():
    sl = IndividualStopLoss(attachment=100_000, coinsurance=0.2, premium_pmpm=5.0)
    c = Contract("sl", sharing=SharedSavings(rate=1.0), stop_loss=sl, sequestration=0.0)
    assert c.thresholds == (100_000.0,)
    s = c.settle(benchmark=10e6, expenditure=10e6, excess={100_000: 500_000.0},
                 member_months=12_000)
    # recoveries 80% x 500k = 400k; premium 5 x 12,000 = 60k; counted 10M - 400k + 60k
    assert s.stop_loss_recoveries == pytest.approx(400_000)
    assert s.stop_loss_premium == pytest.approx(60_000)
    assert s.counted_expenditure == pytest.approx(9_660_000)
    assert s.payment == pytest.approx(340_000) and s.stop_loss_hit


def test_truncation_and_loaded_premium():
    c = Contract("t", sharing=SharedSavings(rate=0.5), sequestration=0.0,
                 stop_loss=IndividualStopLoss.truncation(250_000))
    s = c.settle(benchmark=100e6, expenditure=101e6, excess={250_000: 3e6})
    # counted 98M: savings 2M x 50% = 1M
    assert s.payment == pytest.approx(1e6)
    sl = IndividualStopLoss(attachment=250_000, premium_load=0.25)
    c2 = Contract("p", sharing=SharedSavings(rate=0.5), stop_loss=sl, sequestration=0.0)
    s = c2.settle(benchmark=100e6, expenditure=101e6, excess={250_000: 3e6},
                  expected_excess={250_000: 2e6})
    # premium 2M x 1.25 = 2.5M; counted 101 - 3 + 2.5 = 100.5M: no savings
    assert s.stop_loss_premium == pytest.approx(2.5e6) and s.payment == 0.0


def test_loaded_premium_from_scenario_mean():
    xr = pytest.importorskip("xarray")
    exc = xr.DataArray([1e6, 3e6], dims="scenario")
    sl = IndividualStopLoss(attachment=250_000, premium_load=0.5)
    c = Contract("p", sharing=SharedSavings(rate=0.5), stop_loss=sl)
    s = c.settle(benchmark=100e6, expenditure=xr.DataArray([99e6, 99e6], dims="scenario"),
                 excess={250_000: exc})
    np.testing.assert_allclose(s.stop_loss_premium.values, [3e6, 3e6])  # mean 2M x 1.5


def test_aggregate_stop_loss():
    agg = AggregateStopLoss(attachment=1.10, limit=1.25, basis="expected", premium_rate=0.01)
    c = Contract("a", sharing=SharedSavings(rate=1.0), stop_loss=agg, sequestration=0.0)
    s = c.settle(benchmark=100.0, expenditure=130.0, expected_cost=100.0)
    # layer 110-125 fully used: recoveries 15; premium 1% x 100 = 1; counted 130 - 15 + 1 = 116
    assert s.stop_loss_recoveries == pytest.approx(15.0)
    assert s.counted_expenditure == pytest.approx(116.0)
    s = c.settle(benchmark=100.0, expenditure=105.0, expected_cost=100.0)
    assert s.stop_loss_recoveries == 0.0 and not s.stop_loss_hit


# --- 6. capitation and case rates ------------------------------------------------------------
def test_global_capitation_standalone():
    c = Contract("tcc", capitation=Capitation(pmpm=1_000.0, risk_adjusted=True, withhold=0.1))
    s = c.settle(expenditure=11e6, member_months=12_000, risk_score=1.0, quality_score=0.5)
    # gross 12M; withheld 1.2M, half earned back: received 11.4M; covered all 11M: net +0.4M
    assert s.capitation == pytest.approx(11.4e6)
    assert s.provider_net == pytest.approx(0.4e6)
    # payer against FFS (benchmark defaults to expenditure): 0 - 0.4M
    assert s.payer_net == pytest.approx(-0.4e6)


def test_capitation_inside_aco_is_cash_flow_only():
    cap = Capitation(pmpm=100.0, scope="partial", covered_share=0.2)
    plain = reach("global", year=2025)
    with_cap = reach("global", year=2025, capitation=cap)
    kw = dict(benchmark=100e6, expenditure=90e6, quality_score=1.0, member_months=80_000)
    a, b = plain.settle(**kw), with_cap.settle(**kw)
    assert b.capitation == pytest.approx(8e6) and b.covered_spend == pytest.approx(18e6)
    assert a.provider_net == b.provider_net


def test_case_rates():
    c = Contract("cr", capitation=CaseRate({"low": 1_000.0, "mid": 2_000.0, "high": 5_000.0}))
    s = c.settle(expenditure=100_000.0, cases={"low": 10, "high": 20})  # 10k + 0 + 100k
    assert s.capitation == pytest.approx(110_000.0) and s.provider_net == pytest.approx(10_000.0)


# --- 7. bundles and 8. quality ---------------------------------------------------------------
def test_bundle_quality_adjustment_and_discount():
    c = Contract("b", discount=0.03, sequestration=0.0,
                 sharing=Bundle(target_price=10_000, quality_adjustment=0.1))
    s = c.settle(expenditure=900_000.0, episodes=100, quality_score=0.5)
    # target 1.0M x 0.97 = 970k; +70k; quality cut 10% x (1 - 0.5) = 5%: 66,500
    assert s.payment == pytest.approx(66_500.0)
    s = c.settle(expenditure=1_000_000.0, episodes=100, quality_score=0.5)
    # -30k; repayment reduced by 10% x 0.5 = 5%: -28,500
    assert s.payment == pytest.approx(-28_500.0)


def test_withhold_as_payment_and_p4p():
    c = Contract("q", sharing=SharedSavings(rate=0.5), sequestration=0.0,
                 quality=QualityWithhold(rate=0.02, applies_to="payment"),
                 p4p=PayForPerformance(thresholds=(0.5, 0.8), amounts=(-0.01, 0.0, 0.01)))
    s = c.settle(benchmark=100.0, expenditure=100.0, quality_score=0.9)
    # withheld 2, earned 1.8 -> -0.2; P4P top band +1% x 100 = 1: payment 0.8
    assert s.payment == pytest.approx(0.8) and s.p4p == pytest.approx(1.0)
    s = c.settle(benchmark=100.0, expenditure=100.0, quality_score=0.3)
    assert s.payment == pytest.approx(-2.0 + 0.6 - 1.0)


def test_payer_net_identity():
    c = mssp("ENHANCED", msr=0.0)
    s = c.settle(benchmark=240e6, expenditure=228e6)
    assert s.payer_net == pytest.approx(12e6 - s.provider_net)


@pytest.mark.parametrize("year, discount, withhold", [
    (2023, 0.03, 0.02), (2024, 0.03, 0.02), (2025, 0.035, 0.02), (2026, 0.035, 0.05)])
def test_reach_year_parameters(year, discount, withhold):
    g, p = reach("global", year=year), reach("professional", year=year)
    assert (g.discount, g.quality.rate, p.discount, p.quality.rate) == \
        (discount, withhold, 0.0, withhold)
    # PY2026 narrows the Global 100% band to 10% [C]
    assert g.sharing.bands_savings[0][1] == (0.10 if year == 2026 else 0.25)
