"""The fused settlement kernel (vbsim.contracts._fast) against the numpy pipeline.

Every preset (and hand-built contracts using every term the kernel supports) is settled on
random (scenario, year) contexts both ways: by ``evaluate._settle_all`` (the kernel) and by
``Contract.settle`` on the whole grid (the numpy pipeline, the executable specification). The
kernel performs the same floating-point operations in the same order, so every component must
agree exactly (bit for bit, up to the sign of zero).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import xarray as xr

from vbsim._validate import VbsimInputError
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
    _fast,
)
from vbsim.presets import bpci_advanced, lead, mssp, mssp_2018, reach

ev = importlib.import_module("vbsim.evaluate")  # the module (vbsim.evaluate is the function)

T1, T2 = 100_000.0, 250_000.0
INF = float("inf")

PRESETS = {
    **{f"mssp {lv}": mssp(lv) for lv in ("A", "B", "C", "D", "E", "ENHANCED")},
    **{f"mssp {lv} msr {m}": mssp(lv, msr=m) for lv in ("C", "E", "ENHANCED")
       for m in (0.0, 0.005, 0.02)},
    "mssp E truncated": mssp("E", msr=0.0, truncation=T2),
    "mssp A truncated": mssp("A", truncation=T1),
    "mssp B fixed size": mssp("B", assigned_beneficiaries=12_000),
    "mssp E no sequestration": mssp("E", msr=0.01, sequestration=0.0),
    **{f"mssp 2018 {t} {m}": mssp_2018(t, msr=m) for t in ("1", "1+", "2", "3")
       for m in (0.02, "table")},
    **{f"reach {o} {y}": reach(o, year=y) for o in ("global", "professional")
       for y in (2023, 2024, 2025, 2026)},
    "reach sl pmpm": reach("global", year=2025, stop_loss=IndividualStopLoss(
        T2, coinsurance=0.2, premium_pmpm=10.0)),
    "reach sl loaded": reach("professional", stop_loss=IndividualStopLoss(
        T1, coinsurance=0.1, premium_load=0.15)),
    "reach sl plain": reach("global", stop_loss=IndividualStopLoss(T1)),
    "reach tcc": reach("global", capitation=Capitation(pmpm=900.0, withhold=0.02)),
    "reach pcc": reach("professional", capitation=Capitation(
        pmpm=60.0, scope="partial", covered_share=0.12)),
    "lead global": lead("global"),
    "lead professional": lead("professional"),
    "lead global sl": lead("global", discount=0.03, withhold=0.05,
                           stop_loss=IndividualStopLoss(T2, coinsurance=0.5)),
    "bpci": bpci_advanced(),
    "bpci no limits": bpci_advanced(stop=0.0, quality_adjustment=0.0, discount=0.0),
}
TERMS = {
    "capitation only": Contract("cap", capitation=Capitation(
        pmpm=950.0, risk_adjusted=True, withhold=0.05)),
    "global capitation + sl": Contract("gcap", capitation=Capitation(pmpm=900.0),
        stop_loss=IndividualStopLoss(T1, coinsurance=0.3, premium_pmpm=4.0)),
    "partial capitation": Contract("pcap", capitation=Capitation(
        pmpm=80.0, scope="partial", covered_share=0.2)),
    "payment withhold + p4p": Contract(
        "p4p", sharing=SharedSavings(rate=0.5, msr=0.01, cap=None),
        quality=QualityWithhold(rate=0.03, applies_to="payment", floor=0.4),
        p4p=PayForPerformance(thresholds=(0.3, 0.6, 0.9), amounts=(-0.01, 0.0, 0.005, 0.01))),
    "p4p pmpm + gate": Contract(
        "p4p pmpm", sharing=TwoSidedRisk(rate=0.6, loss_rate=0.4, msr=0.0, mlr=0.01,
                                         loss_limit_revenue=0.05),
        quality_gate=QualityGate(min_score=0.4, require_standard=False),
        p4p=PayForPerformance(thresholds=(0.5,), amounts=(-2.0, 3.0), basis="pmpm")),
    "quality loss rate + relief": Contract(
        "qlr", discount=0.01, sharing=TwoSidedRisk(
            rate=0.7, loss_rate=QualityLossRate(0.6, 0.3, 0.7), msr="table", mlr=0.0,
            cap=0.15, loss_limit_benchmark=0.1, loss_limit_revenue=0.2, scale_by_quality=True),
        quality_gate=QualityGate(min_score=0.2)),
    "corridors with caps": Contract(
        "corr", sharing=Corridors(((0, 0.03, 0.8), (0.03, 0.2, 0.4)),
                                  ((0, 0.05, 0.6), (0.05, INF, 0.2)),
                                  savings_cap=0.05, loss_limit=0.04),
        quality=QualityWithhold(rate=0.02, floor=0.5)),
    "bundle one-sided limit": Contract(
        "bundle", discount=0.02, sharing=Bundle(stop_gain=None, stop_loss=0.1,
                                                quality_adjustment=0.2)),
    "two-sided no limits": Contract("2s", sharing=TwoSidedRisk(rate=0.5, loss_rate=0.5)),
}
ALL = {**PRESETS, **TERMS}


def _context(n: int = 257, years: int = 3, seed: int = 0, **extra) -> dict:
    """A random (scenario, year) settlement context, roughly +/- 15% around the benchmark."""
    rng = np.random.default_rng(seed)
    shape = (n, years)
    mm = rng.uniform(70_000, 150_000, shape)
    bench = mm / 12 * rng.uniform(9_000, 14_000, shape)
    exp = bench * rng.normal(1.0, 0.08, shape).clip(0.6, 1.5)
    near = rng.random(shape) < 0.05
    exp[near] = bench[near] * 0.98  # exactly at a 2% MSR
    ctx = {
        "benchmark": bench, "expenditure": exp, "member_months": mm,
        "assigned_beneficiaries": mm / 12, "quality_score": rng.uniform(0, 1, shape),
        "quality_standard_met": rng.random(shape) < 0.9, "revenue": 0.3 * exp,
        "risk_score": rng.uniform(0.8, 1.2, shape),
    }
    ctx["quality_score"][rng.random(shape) < 0.1] = 0.5  # exactly on a P4P threshold
    excess = {t: exp * rng.uniform(0.0, 0.06 if t == T1 else 0.02, shape) for t in (T1, T2)}
    ctx["excess"] = excess
    ctx["expected_excess"] = {t: np.broadcast_to(v.mean(axis=0, keepdims=True), shape)
                              for t, v in excess.items()}
    ctx.update(extra)
    return ctx


def _reference(contracts: dict, ctx: dict, variables=None) -> dict:
    """Each contract's numpy settle() on the whole grid (the executable specification)."""
    out = {}
    for name, c in contracts.items():
        rec = c.settle(**ev.context_for(c, ctx)).to_dict()
        out[name] = {k: np.asarray(v) for k, v in rec.items()
                     if variables is None or k in variables}
    return out


def _assert_same(contracts: dict, ctx: dict, variables=None, threads=None) -> dict:
    shape = ctx["benchmark"].shape
    got = ev._settle_all(list(contracts.values()), ctx, shape, variables)
    ref = _reference(contracts, ctx, variables)
    for i, (name, r) in enumerate(ref.items()):
        assert set(r) == set(got), name
        for k, v in r.items():
            np.testing.assert_array_equal(got[k][i], v, err_msg=f"{name}: {k}")
    return got


@pytest.mark.parametrize("name", list(ALL))
def test_every_supported_contract_matches_numpy(name: str) -> None:
    c = ALL[name]
    ctx = _context(seed=hash(name) % 1000)
    assert _fast.compile_contract(c, ctx) is not None, "expected the kernel to support it"
    _assert_same({name: c}, ctx)


def test_all_presets_at_once_and_a_subset_of_variables() -> None:
    ctx = _context(n=1_031, years=4, seed=5)
    _assert_same(ALL, ctx)
    got = _assert_same(ALL, ctx, variables=["payer_net", "payment", "cap_hit", "relief"])
    assert list(got) == ["relief", "payment", "payer_net", "cap_hit"]  # record order


@pytest.mark.parametrize("extra", [
    {"relief": 1e6},
    {"relief": 0.0, "quality_standard_met": False},
    {"revenue": None, "covered_share": 0.5},
    {"covered_spend": 2e7},
])
def test_context_variants(extra: dict) -> None:
    ctx = _context(seed=11, **extra)
    ctx = {k: v for k, v in ctx.items() if v is not None}
    _assert_same(ALL, ctx)


def test_threads_and_blocks_do_not_change_results() -> None:
    ctx = _context(n=3_001, years=5, seed=2)
    cs = [_fast.compile_contract(c, ctx) for c in ALL.values()]
    shape = ctx["benchmark"].shape
    outs = []
    for threads, block in ((1, None), (2, 512), (3, 1_536)):
        out = {k: np.zeros((len(cs),) + shape, dtype=bool if k in _fast.FLAG_VARIABLES else float)
               for k in _fast.VARIABLES}
        _fast.settle_into(cs, ctx, shape, out, threads, block_cells=block)
        outs.append(out)
    for out in outs[1:]:
        for k in _fast.VARIABLES:
            np.testing.assert_array_equal(out[k], outs[0][k])


def test_unsupported_terms_fall_back_to_numpy() -> None:
    ctx = _context(seed=3)
    ctx["expected_cost"] = ctx["benchmark"] * 0.97
    ctx["cases"] = {"low": np.full(ctx["benchmark"].shape, 40.0)}
    odd = {
        "aggregate": Contract("agg", sharing=SharedSavings(rate=0.5),
                              stop_loss=AggregateStopLoss(1.1, limit=1.3)),
        "two stop-losses": Contract("2sl", sharing=SharedSavings(rate=0.5), stop_loss=(
            IndividualStopLoss(T1, coinsurance=0.5), IndividualStopLoss(T2))),
        "case rate": Contract("case", capitation=CaseRate({"low": 1e5})),
    }
    for c in odd.values():
        assert _fast.compile_contract(c, ctx) is None
    _assert_same({**odd, "mssp": mssp("E", msr=0.0)}, ctx)


def test_missing_context_falls_back_and_raises_like_numpy() -> None:
    ctx = _context(seed=4)
    del ctx["quality_score"]
    c = reach("global")
    assert _fast.compile_contract(c, ctx) is None
    with pytest.raises(VbsimInputError, match="context 'quality_score' is required"):
        ev._settle_all([mssp("E", msr=0.0), c], ctx, ctx["benchmark"].shape, None)
    # ENHANCED needs the score only when a loss is shared: both paths agree without it
    enh = {"enh": mssp("ENHANCED", msr=0.02), "e": mssp("E", msr=0.0)}
    with pytest.raises(VbsimInputError, match="quality-dependent"):
        ev._settle_all(list(enh.values()), ctx, ctx["benchmark"].shape, None)
    _assert_same(enh, {**ctx, "expenditure": 0.95 * ctx["benchmark"]})


@pytest.mark.parametrize(("change", "message"), [
    ({"quality_score": 1.5}, "quality_score must be in"),
    ({"member_months": -1.0}, "member_months must be in"),
    ({"revenue": np.nan}, "revenue must be finite"),
    ({"assigned_beneficiaries": 4_000.0}, "assigned_beneficiaries must be >= 5000"),
    ({"quality_standard_met": 1.0}, "quality_standard_met must be true/false"),
    ({"bogus": 1.0}, "unknown context name"),
])
def test_bad_context_raises_the_numpy_error(change: dict, message: str) -> None:
    ctx = _context(seed=6)
    ctx.update(change)
    cs = [mssp("A"), reach("global")]
    with pytest.raises(VbsimInputError, match=message):
        cs[0].settle(**ev.context_for(cs[0], ctx))
    with pytest.raises(VbsimInputError, match=message):
        ev.settle_arrays(cs[0], ev.context_for(cs[0], ctx), ctx["benchmark"].shape)
    with pytest.raises(VbsimInputError, match=message):
        ev._settle_all(cs, ctx, ctx["benchmark"].shape, None)


@pytest.mark.parametrize("name", ["mssp E truncated", "reach sl loaded", "reach pcc", "bpci",
                                  "payment withhold + p4p"])
def test_settle_arrays_uses_the_kernel_and_matches_numpy(name: str) -> None:
    c, ctx = ALL[name], _context(seed=8)
    cctx, shape = ev.context_for(c, ctx), ctx["benchmark"].shape
    ref = _reference({name: c}, ctx)[name]
    got = ev.settle_arrays(c, cctx, shape)
    assert list(got) == list(ref)
    for k, v in ref.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
    # into given (dirty) arrays: components zero by construction are zeroed too
    out = {k: np.full(shape, np.nan) for k in ("payment", "p4p", "discount", "payer_net")}
    out["cap_hit"] = np.ones(shape, bool)
    ev.settle_arrays(c, cctx, shape, out=out)
    for k, v in out.items():
        np.testing.assert_array_equal(v, ref[k], err_msg=k)
    with pytest.raises(VbsimInputError, match="unknown settlement variables"):
        ev.settle_arrays(c, cctx, shape, ["payment", "bogus"])


def test_unknown_variable_names_the_allowed_ones() -> None:
    ctx = _context(seed=7)
    with pytest.raises(VbsimInputError, match="unknown settlement variables.*allowed: benchmark"):
        ev._settle_all([mssp("A")], ctx, ctx["benchmark"].shape, ["payment", "bogus"])


def _paths(n: int = 400, years: int = 3, seed: int = 9) -> xr.Dataset:
    """A small hand-made CostPaths Dataset (two cohorts, two thresholds), no engine needed."""
    rng = np.random.default_rng(seed)
    cohorts, th = ["a", "b"], [T1, T2]
    mm = rng.uniform(30_000, 60_000, (n, years, 2))
    cost = mm / 12 * rng.lognormal(np.log(11_000), 0.1, (n, years, 2))
    excess = cost[..., None] * rng.uniform(0, 0.04, (n, years, 2, 2)) * np.array([1.0, 0.3])
    dims = ("scenario", "year", "cohort")
    return xr.Dataset(
        {"cost": (dims, cost), "benchmark": (dims, mm / 12 * 11_000.0),
         "member_months": (dims, mm), "excess": (dims + ("threshold",), excess),
         "quality": (("scenario", "year"), rng.uniform(0.5, 1.0, (n, years)))},
        coords={"scenario": np.arange(n), "year": np.arange(1, years + 1), "cohort": cohorts,
                "threshold": th})


def test_evaluate_uses_the_kernel_and_matches_numpy() -> None:
    paths = _paths()
    contracts = {k: ALL[k] for k in ("mssp A", "mssp E truncated", "reach sl loaded",
                                     "reach tcc", "bpci", "mssp 2018 3 table")}
    st = ev.evaluate(paths, contracts, revenue_share=0.35, expected_savings_rate=0.02)
    ctx = ev.settlement_context(paths, revenue_share=0.35, expected_savings_rate=0.02)
    ref = _reference(contracts, ctx)
    assert st["payment"].dims == ("contract", "scenario", "year")
    assert len(st.data_vars) == 26
    for name, r in ref.items():
        for k, v in r.items():
            np.testing.assert_array_equal(st[k].sel(contract=name).values, v,
                                          err_msg=f"{name}: {k}")
    slim = ev.evaluate(paths, contracts, revenue_share=0.35, expected_savings_rate=0.02,
                       variables=["payment", "cap_hit"])
    assert list(slim.data_vars) == ["payment", "cap_hit"]
    xr.testing.assert_identical(slim["payment"], st["payment"])


def test_dataarray_context_and_subclasses_take_the_numpy_path() -> None:
    paths = _paths(n=120)
    c = {"e": mssp("E", msr=0.0), "reach": reach("global")}
    met = np.random.default_rng(1).random((120, 3)) < 0.8
    as_array = ev.evaluate(paths, c, quality_standard_met=met)
    da = xr.DataArray(met, dims=("scenario", "year"))
    ctx = ev.settlement_context(paths, quality_standard_met=da)
    assert not _fast.plain_context(ctx, (120, 3))
    as_da = ev.evaluate(paths, c, quality_standard_met=da)
    xr.testing.assert_identical(as_da, as_array)

    class Custom(Contract):
        pass

    sub = Custom("sub", sharing=SharedSavings(rate=0.5))
    assert _fast.compile_contract(sub, ctx) is None
    got = ev.evaluate(paths, {"sub": sub, "e": c["e"]}, quality_standard_met=met)
    np.testing.assert_array_equal(got["payment"].sel(contract="sub"),
                                  ev.evaluate(paths, Contract("sub", sharing=SharedSavings(
                                      rate=0.5)))["payment"].sel(contract="sub"))
