"""Hypothesis property tests for every preset: monotone in expenditure, caps and limits never
exceeded, corridor payments continuous, upside-only contracts never negative."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vbsim.contracts import (
    AggregateStopLoss,
    Capitation,
    Contract,
    Corridors,
    IndividualStopLoss,
    SharedSavings,
    TwoSidedRisk,
)
from vbsim.presets import bpci_advanced, lead, mssp, mssp_2018, reach

PRESETS = {
    **{f"mssp_{lv}": mssp(lv) for lv in ("A", "B", "C", "D", "E", "ENHANCED")},
    "mssp_E_msr0": mssp("E", msr=0.0),
    "mssp_ENH_2pct": mssp("ENHANCED", msr=0.02),
    **{f"mssp2018_{t}": mssp_2018(t) for t in ("1", "1+", "2", "3")},
    **{f"reach_{o}_{y}": reach(o, year=y) for o in ("global", "professional")
       for y in (2023, 2024, 2025, 2026)},
    "lead_global": lead("global"),
    "lead_professional": lead("professional"),
    "bpci": bpci_advanced(),
}
UPSIDE_ONLY = ["mssp_A", "mssp_B", "mssp2018_1"]
CORRIDORS = [k for k, c in PRESETS.items() if isinstance(c.sharing, Corridors)]
FAST = settings(max_examples=15, deadline=None)  # vectorised: each example settles 2-12 points

context = st.fixed_dictionaries({
    "benchmark": st.floats(1e6, 1e9),
    "quality_score": st.floats(0.0, 1.0),
    "quality_standard_met": st.booleans(),
    "assigned_beneficiaries": st.integers(5_000, 100_000).map(float),
    "revenue_share": st.floats(0.0, 2.0),
    "relief_share": st.floats(0.0, 0.05),
})
ratios = st.lists(st.floats(0.2, 1.8), min_size=2, max_size=12)


def settle(c, ctx, ratios):
    b = ctx["benchmark"]
    e = b * np.asarray(ratios, dtype=float)
    return c.settle(benchmark=b, expenditure=e, quality_score=ctx["quality_score"],
                    quality_standard_met=ctx["quality_standard_met"],
                    assigned_beneficiaries=ctx["assigned_beneficiaries"],
                    revenue=ctx["revenue_share"] * b, relief=ctx["relief_share"] * b), e


@pytest.mark.parametrize("name", list(PRESETS))
@FAST
@given(ctx=context, r=ratios)
def test_payment_non_increasing_in_expenditure(name, ctx, r):
    s, e = settle(PRESETS[name], ctx, sorted(r))
    assert np.all(np.diff(s.payment) <= 1e-9 * ctx["benchmark"])
    assert np.all(np.diff(s.provider_net) <= 1e-9 * ctx["benchmark"])


@pytest.mark.parametrize("name", list(PRESETS))
@FAST
@given(ctx=context, r=ratios)
def test_caps_and_limits_never_exceeded(name, ctx, r):
    c = PRESETS[name]
    s, e = settle(c, ctx, r)
    B = s.final_benchmark
    tol = 1e-9 * ctx["benchmark"]
    sh = c.sharing
    if isinstance(sh, (SharedSavings, TwoSidedRisk)):
        assert np.all(s.shared_after_cap <= sh.cap * B + tol)
    if isinstance(sh, TwoSidedRisk):
        limit = np.inf if sh.loss_limit_benchmark is None else sh.loss_limit_benchmark * B
        if sh.loss_limit_revenue is not None:
            limit = np.minimum(limit, sh.loss_limit_revenue * ctx["revenue_share"] * ctx[
                "benchmark"])
        assert np.all(s.shared_after_cap >= -limit - tol)
        # the loss never exceeds the ceiling rate x the loss
        assert np.all(s.shared_after_cap >= np.minimum(s.gross_savings, 0) - tol)
    if isinstance(sh, Corridors):  # retained share <= the largest band share x |G|
        assert np.all(np.abs(s.shared_after_cap) <= np.abs(s.gross_savings) + tol)
    if name == "bpci":
        assert np.all(np.abs(s.payment) <= 0.2 * B + tol)


@pytest.mark.parametrize("name", UPSIDE_ONLY)
@FAST
@given(ctx=context, r=ratios)
def test_upside_only_never_negative(name, ctx, r):
    s, _ = settle(PRESETS[name], ctx, r)
    assert np.all(s.payment >= 0)


@pytest.mark.parametrize("name", CORRIDORS)
@FAST
@given(ctx=context, r=st.floats(0.2, 1.8), step=st.floats(1e-9, 1e-4))
def test_corridor_payment_continuous(name, ctx, r, step):
    # p(E) is piecewise linear with slope <= 1 in E (every band share <= 1, sequestration < 1):
    # a small change in expenditure moves the payment by at most as much.
    s, e = settle(PRESETS[name], ctx, [r, r + step])
    assert abs(s.payment[1] - s.payment[0]) <= (e[1] - e[0]) * (1 + 1e-6) + 1e-6


COMPOSED = {
    "reach_sl_tcc": reach("global", year=2025, stop_loss=IndividualStopLoss(
        250_000, coinsurance=0.1, premium_pmpm=8.0), capitation=Capitation(900.0)),
    "two_sided_aggregate": Contract("agg", sharing=TwoSidedRisk(
        rate=0.5, loss_rate=0.5, msr=0.01, cap=0.1, loss_limit_benchmark=0.05),
        stop_loss=AggregateStopLoss(1.05, limit=1.2, basis="benchmark", premium_rate=0.01)),
    "mssp_E_truncated": mssp("E", msr=0.0).replace(
        stop_loss=IndividualStopLoss.truncation(250_000)),
}


@pytest.mark.parametrize("name", list(COMPOSED))
@FAST
@given(ctx=context, r=ratios, excess_share=st.floats(0.0, 0.1))
def test_composed_contracts_monotone(name, ctx, r, excess_share):
    # fixed stop-loss statistics, rising expenditure: the payment never rises
    b = ctx["benchmark"]
    e = b * np.sort(np.asarray(r, dtype=float))
    s = COMPOSED[name].settle(benchmark=b, expenditure=e, quality_score=ctx["quality_score"],
                              excess={250_000.0: excess_share * b}, member_months=b / 1_000.0)
    assert np.all(np.diff(s.payment) <= 1e-9 * b)
    assert np.all(s.stop_loss_recoveries >= 0) and np.all(s.stop_loss_premium >= 0)
