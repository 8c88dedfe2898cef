"""DOMAIN.md section 6 worked settlements 1-7, reproduced to the dollar."""

from __future__ import annotations

import pytest

from vbsim.contracts import Bundle, Contract
from vbsim.presets import bpci_advanced, mssp, reach


def dollars(x: float) -> int:
    return round(x)


# --- 1. MSSP ENHANCED, 20,000 x $12,000 = $240M, spending $11,400 PBPY = $228M, MSR 2% ---------
def test_example_1_enhanced_savings():
    s = mssp("ENHANCED", msr=0.02).settle(benchmark=240e6, expenditure=228e6)
    # r = 12M / 240M = 5% >= 2%; 75% x 12M x 0.98 = 8.82M; cap 20% x 240M = 48M not binding
    assert s.gate_met and not s.cap_hit
    assert dollars(s.gross_savings) == 12_000_000
    assert dollars(s.payment) == 8_820_000
    assert dollars(s.sequestration) == 180_000  # 2% of 9.0M


# --- 2. same ACO, spending $12,600 PBPY = $252M, quality score 0.80 ---------------------------
def test_example_2_enhanced_losses():
    c = mssp("ENHANCED", msr=0.02)
    s = c.settle(benchmark=240e6, expenditure=252e6, quality_score=0.80)
    # r = -5%; loss rate clip(1 - 0.75 x 0.8, 0.40, 0.75) = 0.40; -12M x 0.4 = -4.8M
    assert dollars(s.payment) == -4_800_000
    assert not s.cap_hit  # limit 15% x 240M = 36M
    # with $1.0M relief: -3.8M
    s = c.settle(benchmark=240e6, expenditure=252e6, quality_score=0.80, relief=1e6)
    assert dollars(s.payment) == -3_800_000
    assert dollars(s.relief) == 1_000_000
    # standard failed: rate 0.75 -> -9.0M
    s = c.settle(benchmark=240e6, expenditure=252e6, quality_score=0.80,
                 quality_standard_met=False)
    assert dollars(s.payment) == -9_000_000


# --- 3. MSSP BASIC A, 12,000 beneficiaries x $11,000 = $132M ----------------------------------
def test_example_3_basic_a_size_table():
    c = mssp("A")
    # MSR 2.9% - (2,000 / 4,999) x 0.2% = 2.82%; 4% under: 40% x 5.28M x 0.98 = 2,069,760
    s = c.settle(benchmark=132e6, expenditure=132e6 * 0.96, assigned_beneficiaries=12_000)
    assert dollars(s.payment) == 2_069_760
    # 2% under: below the 2.82% gate -> 0
    s = c.settle(benchmark=132e6, expenditure=132e6 * 0.98, assigned_beneficiaries=12_000)
    assert s.payment == 0.0 and not s.gate_met
    # the same MSR fixed at construction
    fixed = mssp("A", assigned_beneficiaries=12_000)
    assert fixed.sharing.msr == pytest.approx(0.029 - 2_000 / 4_999 * 0.002)


# --- 4. MSSP BASIC E, benchmark $180M, revenue $30M, MLR 0%, spending 6% over ----------------
def test_example_4_basic_e_revenue_limit():
    s = mssp("E", msr=0.0).settle(benchmark=180e6, expenditure=180e6 * 1.06, revenue=30e6)
    # loss 10.8M x 30% = 3.24M; limit min(8% x 30M, 4% x 180M) = min(2.4M, 7.2M) = 2.4M
    assert dollars(s.shared_before_cap) == -3_240_000
    assert dollars(s.payment) == -2_400_000
    assert s.cap_hit


# --- 5. REACH Global, final benchmark $126.74M -----------------------------------------------
def test_example_5_reach_global():
    c = reach("global", year=2023)  # 3% discount: pre-discount benchmark = 126.74M / 0.97
    s = c.settle(benchmark=126.74e6 / 0.97, expenditure=110.0e6, quality_score=1.0)
    assert s.final_benchmark == pytest.approx(126.74e6, abs=1e-4)
    # r = 16.74 / 126.74 = 13.2% (< 25%: 100% band); 16.74M x 0.98 = 16,405,200
    assert s.savings_rate == pytest.approx(0.13208, abs=1e-5)
    assert dollars(s.payment) == 16_405_200
    # at 30% savings: 25% x 100% + 5% x 50% = 27.5% of the benchmark, x 0.98
    s = c.settle(benchmark=126.74e6 / 0.97, expenditure=126.74e6 * 0.70, quality_score=1.0)
    assert s.shared_before_cap == pytest.approx(0.275 * 126.74e6, abs=1e-3)
    assert dollars(s.payment) == dollars(0.275 * 126.74e6 * 0.98)  # 34,158,641


# --- 6. REACH Professional, final benchmark $126.74M ------------------------------------------
def test_example_6_reach_professional():
    c = reach("professional", year=2023)  # no discount
    s = c.settle(benchmark=126.74e6, expenditure=126.74e6 * 0.88, quality_score=1.0)
    # 5% x 50% + 5% x 35% + 2% x 15% = 4.55% -> 5,766,670 x 0.98 = 5,651,336.6
    assert dollars(s.shared_before_cap) == 5_766_670
    assert dollars(s.payment) == 5_651_337
    s = c.settle(benchmark=126.74e6, expenditure=126.74e6 * 1.07, quality_score=1.0)
    # 5% x 50% + 2% x 35% = 3.2% -> -4,055,680 (no sequestration on losses)
    assert dollars(s.payment) == -4_055_680


# --- 7. Bundle: 200 episodes x $25,000 = $5.0M ------------------------------------------------
@pytest.mark.parametrize("contract", [
    Contract("bundle", sharing=Bundle(target_price=25_000), sequestration=0.0),
    bpci_advanced(25_000, discount=0.0, quality_adjustment=0.0),
])
def test_example_7_bundle(contract):
    s = contract.settle(expenditure=4.6e6, episodes=200)
    assert dollars(s.payment) == 400_000 and not s.cap_hit  # stop-gain 20% = 1.0M
    s = contract.settle(expenditure=6.4e6, episodes=200)
    assert dollars(s.gross_savings) == -1_400_000
    assert dollars(s.payment) == -1_000_000 and s.cap_hit  # limited to 20% of 5.0M
    # same with the target amount passed as the benchmark
    assert contract.settle(benchmark=5e6, expenditure=6.4e6).payment == s.payment
