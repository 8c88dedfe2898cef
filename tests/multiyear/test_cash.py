"""Cash flows, NPV and guarantee breaches, checked against hand arithmetic and an independent
event-by-event computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vbsim._validate import VbsimInputError
from vbsim.contracts import Contract, TwoSidedRisk
from vbsim.multiyear import (
    CashTerms,
    FixedBenchmark,
    MultiYearContract,
    cash_flows,
    compare,
    demo_paths,
    first_breach_distribution,
    standard_strategies,
    summarize,
    with_savings,
)

FULL = Contract("full risk", sharing=TwoSidedRisk(rate=1.0, loss_rate=1.0), sequestration=0.0)


def _settled(noise=0.05, n=200, years=13, seed=7):
    p = demo_paths(years=years, noise=noise, n_scenarios=n, seed=seed)
    return MultiYearContract(FixedBenchmark(), FULL).settle_paths(p)


@pytest.mark.parametrize("terms", [CashTerms(), CashTerms(capitation_share=1.0),
                                   CashTerms(capitation_share=0.1, reconciliation_lag_months=20)])
def test_cash_adds_up_to_the_settlements(terms):
    st = _settled()
    cf = cash_flows(st, terms)
    np.testing.assert_allclose(cf["net_cash"].sum("cash_year"), st["provider_net"].sum("year"),
                               rtol=1e-9, atol=1e-3)
    npv0 = cash_flows(st, terms.replace(discount_rate=0.0))["npv"]
    np.testing.assert_allclose(npv0, st["provider_net"].sum("year"), rtol=1e-9, atol=1e-3)


def test_tcc_advance_is_benchmark_less_spend_and_reconciliation_the_rest():
    st = _settled(n=5)
    cf = cash_flows(st, CashTerms(capitation_share=1.0, reconciliation_lag_months=9))
    adv = (st["final_benchmark"] - st["expenditure"]).values
    np.testing.assert_allclose(cf["in_year"].values[:, :10], adv, rtol=1e-12)
    # full risk: provider_net == G, so the reconciliation only settles the withhold (none here)
    np.testing.assert_allclose(cf["reconciliation"].values, 0.0, atol=1e-3)


def test_npv_of_a_single_loss_paid_after_the_lag():
    p = with_savings(demo_paths(years=4, trend=0.0, n_scenarios=1), -0.05, first_year=4)
    st = MultiYearContract(FixedBenchmark(), FULL).settle_paths(p)
    loss = -0.05 * 150e6
    for lag in (0.0, 8.5, 9.0, 14.0):
        cf = cash_flows(st, CashTerms(reconciliation_lag_months=lag, discount_rate=0.06))
        assert float(cf["npv"][0]) == pytest.approx(loss / 1.06 ** ((12 + lag) / 12), rel=1e-12)
        k = math.ceil((12 + lag) / 12)  # cash year of the payment
        assert cf.sizes["cash_year"] == max(1, k)
        assert float(cf["reconciliation"][0, k - 1]) == pytest.approx(loss)
    # capitation: 1/12 of the in-year flow at each month end
    cf = cash_flows(st, CashTerms(capitation_share=1.0, discount_rate=0.06))
    v = 1 / 1.06
    expect = loss * np.mean(v ** (np.arange(1, 13) / 12))
    assert float(cf["npv"][0]) == pytest.approx(expect, rel=1e-12)


def _first_breach_by_events(st, terms):
    """Independent: list dated payments, then walk the year ends."""
    net = st["provider_net"].values
    cap = terms.capitation_share or 0.0
    adv = cap * (st["final_benchmark"].values - st["expenditure"].values)
    base = st["base_expenditure"].values
    spend = st["expenditure"].values
    out = []
    for s in range(net.shape[0]):
        events = []
        for t in range(net.shape[1]):
            events += [(12 * t + m, adv[s, t] / 12) for m in range(1, 13)]
            events.append((12 * (t + 1) + terms.reconciliation_lag_months, net[s, t] - adv[s, t]))
        first = 0
        horizon = max(e[0] for e in events)
        for year in range(1, int(math.ceil(horizon / 12)) + 1):
            cum = sum(a for m, a in events if m <= 12 * year + 1e-9)
            if terms.guarantee_basis == "base":
                prior = base[s]
            else:  # spend of the performance year before this cash year
                prior = base[s] if year == 1 else spend[s, min(year - 1, spend.shape[1]) - 1]
            if cum < -terms.guarantee_share * prior:
                first = year
                break
        out.append(first)
    return np.array(out)


@pytest.mark.parametrize("terms", [CashTerms(guarantee_share=0.02),
                                   CashTerms(capitation_share=1.0, guarantee_share=0.04,
                                             reconciliation_lag_months=8.5),
                                   CashTerms(guarantee_share=0.02, guarantee_basis="prior_year",
                                             reconciliation_lag_months=15)])
def test_first_breach_year_matches_event_walk(terms):
    st = _settled(noise=0.03, n=150)
    cf = cash_flows(st, terms)
    expect = _first_breach_by_events(st, terms)
    np.testing.assert_array_equal(cf["first_breach_year"].values, expect)
    assert 0 < (expect > 0).mean() < 1  # the test exercises both outcomes
    dist = first_breach_distribution(cf)
    assert float(dist["share"].sum()) == pytest.approx(1.0)
    assert float(dist["share"].sel(first_breach_year=0)) == pytest.approx((expect == 0).mean())


def test_reserve_override_and_validation():
    st = _settled(n=3)
    cf = cash_flows(st, CashTerms(reserve=1e15))
    assert not cf["ever_breached"].any()
    with pytest.raises(VbsimInputError, match="capitation_share"):
        CashTerms(capitation_share=1.5)
    with pytest.raises(VbsimInputError, match="reconciliation_lag_months"):
        CashTerms(reconciliation_lag_months=-1)
    with pytest.raises(VbsimInputError, match="provider_net"):
        cash_flows(st.drop_vars("provider_net"))


def test_compare_uses_the_same_paths_and_matches_separate_runs():
    p = demo_paths(years=13, noise=0.04, n_scenarios=60, seed=11)
    strat = standard_strategies()
    cash = {"LEAD Global": CashTerms(capitation_share=1.0)}
    cmp = compare(p, strat, cash=cash)
    assert cmp["contract"].values.tolist() == list(strat)
    for name, s in strat.items():
        st = s.settle_paths(p, quality_standard_met=True)
        cf = cash_flows(st, cash.get(name, CashTerms()))
        np.testing.assert_allclose(cmp["npv"].sel(contract=name), cf["npv"], rtol=1e-12)
        np.testing.assert_allclose(cmp["payment"].sel(contract=name), st["payment"], rtol=1e-12)
    tab = summarize(cmp)
    npv = cmp["npv"].sel(contract="LEAD Global").values
    assert tab.loc["LEAD Global", "npv_mean"] == pytest.approx(npv.mean())
    assert tab.loc["LEAD Global", "npv_mean_se"] == pytest.approx(npv.std(ddof=1) / np.sqrt(60))
    q05 = np.sort(npv)[int(np.ceil(0.05 * 60)) - 1]  # lower empirical quantile x_(ceil(n q))
    assert tab.loc["LEAD Global", "npv_q05"] == pytest.approx(q05)
    # the comparison reports the capitation the cash flows assume (TCC: the final benchmark)
    lg = cmp.sel(contract="LEAD Global")
    np.testing.assert_allclose(lg["capitation"], lg["final_benchmark"], rtol=1e-12)
    np.testing.assert_allclose(lg["covered_spend"], lg["expenditure"], rtol=1e-12)
    assert not cmp["capitation"].sel(contract="MSSP ENHANCED").values.any()
    # 60 scenarios leave 3 below the 5% quantile: too few for its error, reported as NaN
    assert np.isnan(tab.loc["LEAD Global", "npv_q05_se"])
    pb = cmp["ever_breached"].sel(contract="MSSP ENHANCED").values.mean()
    assert tab.loc["MSSP ENHANCED", "p_breach"] == pytest.approx(pb)
