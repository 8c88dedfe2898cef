"""Kinds of input (float, numpy, DataArray), bad input errors, replace/params, from_spec."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vbsim._validate import VbsimInputError
from vbsim.contracts import (
    Contract,
    Corridors,
    IndividualStopLoss,
    Settlement,
    SharedSavings,
    TwoSidedRisk,
    from_spec,
)
from vbsim.presets import lead, mssp, reach

xr = pytest.importorskip("xarray")


def test_float_array_dataarray_kinds_agree():
    c = mssp("E", msr=0.0)
    b = np.array([100.0, 100.0, 100.0])
    e = np.array([90.0, 100.0, 120.0])
    arr = c.settle(benchmark=b, expenditure=e)
    assert isinstance(arr.payment, np.ndarray) and arr.payment.shape == (3,)
    for i in range(3):
        f = c.settle(benchmark=float(b[i]), expenditure=float(e[i]))
        assert isinstance(f.payment, float) and isinstance(f.cap_hit, bool)
        assert f.payment == pytest.approx(arr.payment[i])
    da_e = xr.DataArray(e, dims="scenario", coords={"scenario": [10, 11, 12]})
    da = c.settle(benchmark=100.0, expenditure=da_e)
    assert isinstance(da.payment, xr.DataArray) and da.payment.dims == ("scenario",)
    assert list(da.payment["scenario"].values) == [10, 11, 12]
    np.testing.assert_allclose(da.payment.values, arr.payment)
    ds = da.to_dataset()
    assert set(ds.data_vars) >= {"payment", "provider_net", "payer_net", "cap_hit"}
    assert "payment" in repr(da) and "<table>" in da._repr_html_()


def test_dataarray_broadcast_two_dims():
    c = reach("professional")
    e = xr.DataArray(np.linspace(80, 120, 6).reshape(3, 2), dims=("scenario", "year"))
    q = xr.DataArray([0.9, 1.0], dims="year")
    s = c.settle(benchmark=100.0, expenditure=e, quality_score=q)
    assert s.payment.dims == ("scenario", "year") and s.payment.shape == (3, 2)
    assert s.gate_met.dtype == bool


def test_excess_as_threshold_dataarray():
    c = Contract("t", sharing=SharedSavings(rate=0.5), stop_loss=IndividualStopLoss(1e5))
    exc = xr.DataArray([[1.0e6, 2.0e5]], dims=("scenario", "threshold"),
                       coords={"threshold": [1e5, 2e5]})
    s = c.settle(benchmark=100e6, expenditure=xr.DataArray([100e6], dims="scenario"), excess=exc)
    assert s.stop_loss_recoveries.values[0] == pytest.approx(1e6)


@pytest.mark.parametrize("call, words", [
    (lambda: mssp("F"), ["level", "'ENHANCED'", "'F'"]),
    (lambda: mssp("A", msr=0.01), ["msr", "table"]),
    (lambda: mssp("E", msr=0.03), ["msr", "0.02"]),
    (lambda: reach("global", year=2022), ["year", "2026"]),
    (lambda: lead("silver"), ["track", "'global'"]),
    (lambda: SharedSavings(rate=1.2), ["SharedSavings.rate", "[0, 1]", "1.2"]),
    (lambda: SharedSavings(rate=math.nan), ["SharedSavings.rate", "NaN"]),
    (lambda: SharedSavings(rate=0.5, msr="big"), ["SharedSavings.msr", "'table'"]),
    (lambda: TwoSidedRisk(rate=0.5, loss_rate=1.5), ["TwoSidedRisk.loss_rate", "[0, 1]"]),
    (lambda: Corridors(((0, 0.1, 0.5), (0.05, 0.2, 0.3))), ["overlap", "bands_savings"]),
    (lambda: Corridors(((0, 0.1, 0.5), (0.15, 0.2, 0.3))), ["gap", "bands_savings"]),
    (lambda: Corridors(((0, 0.1, 0.5), (0.1, 0.05, 0.3))), ["upper must be > lower"]),
    (lambda: Contract("x", sharing="mssp"), ["Contract.sharing", "Corridors"]),
    (lambda: Contract("x", discount=1.0), ["Contract.discount", "[0, 1)"]),
])
def test_bad_terms_name_field_and_allowed(call, words):
    with pytest.raises(VbsimInputError) as e:
        call()
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("kw, words", [
    (dict(benchmark=-1.0, expenditure=1.0), ["benchmark", "[0, inf]"]),
    (dict(benchmark=1.0, expenditure=math.nan), ["expenditure", "finite"]),
    (dict(benchmark=1.0, expenditure=1.0, quality_score=1.5), ["quality_score", "[0, 1]"]),
    (dict(benchmark=1.0, expenditure=1.0, bogus=1.0), ["bogus", "quality_score"]),
    (dict(benchmark=np.ones(2), expenditure=np.ones(3)), ["broadcast"]),
])
def test_bad_settle_inputs(kw, words):
    with pytest.raises(VbsimInputError) as e:
        mssp("E", msr=0.0).settle(**kw)
    for w in words:
        assert w in str(e.value)


def test_missing_context_named():
    with pytest.raises(VbsimInputError, match="assigned_beneficiaries"):
        mssp("A").settle(benchmark=100.0, expenditure=90.0)
    with pytest.raises(VbsimInputError, match=">= 5000"):
        mssp("A").settle(benchmark=100.0, expenditure=90.0, assigned_beneficiaries=4_000)
    with pytest.raises(VbsimInputError, match="quality_score"):
        reach("global").settle(benchmark=100.0, expenditure=90.0)
    with pytest.raises(VbsimInputError, match="excess"):
        Contract("s", stop_loss=IndividualStopLoss(1e5)).settle(expenditure=1.0)


def test_replace_and_params():
    c = reach("global", year=2025)
    p = c.params()
    assert p["discount"] == 0.035 and p["quality.rate"] == 0.02
    assert p["sharing.bands_savings"][0] == (0.0, 0.25, 1.0)
    c2 = c.replace(**{"discount": 0.03, "quality.rate": 0.05})
    assert (c2.discount, c2.quality.rate, c.discount) == (0.03, 0.05, 0.035)
    m = mssp("E", msr=0.0).replace(**{"sharing.rate": 0.6})
    assert m.sharing.rate == 0.6 and isinstance(m, Contract)
    with pytest.raises(VbsimInputError, match=r"sharing\.rate must be in \[0, 1\]"):
        m.replace(**{"sharing.rate": 1.6})
    with pytest.raises(VbsimInputError, match="sharing.bogus is not a parameter"):
        m.replace(**{"sharing.bogus": 1})
    sl = Contract("s", stop_loss=(IndividualStopLoss(1e5), IndividualStopLoss(2e5)))
    assert sl.replace(**{"stop_loss.1.attachment": 3e5}).thresholds == (1e5, 3e5)
    assert c == reach("global", year=2025) and hash(c) == hash(reach("global", year=2025))


def test_from_spec_presets_and_terms():
    c = from_spec({"preset": "reach", "option": "global", "year": 2025,
                   "overrides": {"sharing.bands_savings": [[0, 0.1, 1.0], [0.1, math.inf, 0.5]]}})
    assert c.sharing.bands_savings == ((0.0, 0.1, 1.0), (0.1, math.inf, 0.5))
    e = from_spec({"preset": "mssp", "level": "E", "msr": 0.02, "name": "offer E"})
    assert e.name == "offer E" and e.sharing.msr == 0.02
    t = from_spec({"name": "custom", "discount": 0.02,
                   "sharing": {"type": "two_sided", "rate": 0.6, "msr": 0.01,
                               "loss_rate": {"slope": 0.6, "floor": 0.4, "ceiling": 0.6}},
                   "stop_loss": [{"type": "individual_stop_loss", "attachment": 2e5}],
                   "quality": {"rate": 0.02, "applies_to": "payment"}})
    assert t.sharing.loss_rate.ceiling == 0.6 and t.thresholds == (2e5,)
    # final benchmark 98 (2% discount; withhold fully earned), G = -2, r = -2.04% clears the
    # 1% MLR: loss rate clip(1 - 0.6 x 1, 0.4, 0.6) = 0.4 -> -0.8
    s = t.settle(benchmark=100.0, expenditure=100.0, excess={2e5: 0.0}, quality_score=1.0)
    assert s.payment == pytest.approx(-0.8)


@pytest.mark.parametrize("spec, msg", [
    ({"preset": "reach", "option": "global", "level": "E"}, "contracts.r.level is not an option"),
    ({"preset": "mssp", "level": "Z"}, "contracts.r.level must be one of"),
    ({"preset": "nope"}, "contracts.r.preset must be one of"),
    ({"preset": "mssp", "level": "E", "overrides": {"sharing.rate": 2}},
     "contracts.r.overrides.sharing.rate must be in [0, 1]"),
    ({"name": "x", "sharing": {"type": "corridors", "bands_savings": [[0, 0.2, 0.5],
                                                                       [0.1, 0.3, 0.2]]}},
     "contracts.r.sharing.bands_savings: bands overlap"),
    ({"name": "x", "sharing": {"type": "shared_savings", "rate": 0.5, "foo": 1}},
     "contracts.r.sharing.foo is not a parameter"),
    ({"name": "x", "sharing": {"type": "magic"}}, "contracts.r.sharing.type must be one of"),
    ({"name": "x", "colour": "red"}, "contracts.r.colour is not a contract field"),
    ({"name": "x", "discount": 2}, "contracts.r.discount must be in [0, 1)"),
])
def test_from_spec_errors_name_path(spec, msg):
    with pytest.raises(VbsimInputError) as e:
        from_spec(spec, where="contracts.r")
    assert msg in str(e.value)


def test_settlement_to_dict_order():
    s = mssp("E", msr=0.0).settle(benchmark=100.0, expenditure=90.0)
    assert isinstance(s, Settlement)
    d = s.to_dict()
    assert list(d)[0] == "benchmark" and d["payment"] == s.payment


def test_from_spec_overrides_build_terms():
    c = from_spec({"preset": "reach", "option": "global", "year": 2025, "overrides": {
        "stop_loss": [{"type": "individual_stop_loss", "attachment": 250000, "coinsurance": 0.1}],
        "capitation": {"type": "capitation", "pmpm": 900.0}}})
    assert c.thresholds == (250_000.0,) and c.capitation.pmpm == 900.0
    with pytest.raises(VbsimInputError, match=r"contracts.g.overrides.stop_loss\[0\].attachment"):
        from_spec({"preset": "reach", "option": "global", "overrides": {
            "stop_loss": [{"type": "individual_stop_loss", "attachment": -1}]}},
            where="contracts.g")


def test_enhanced_with_the_standard_failed_needs_no_score():
    # DOMAIN.md s.2 / s.6 example 2: failing the standard gives the 75% ceiling, whatever the score
    s = mssp("ENHANCED", msr=0.02).settle(benchmark=240e6, expenditure=252e6,
                                          quality_standard_met=False)
    assert s.payment == pytest.approx(-0.75 * 12e6)
    with pytest.raises(VbsimInputError, match="quality_score"):  # met: the score sets the rate
        mssp("ENHANCED", msr=0.02).settle(benchmark=240e6, expenditure=252e6)


def test_excess_above_expenditure_is_an_error():
    c = reach("global", stop_loss=IndividualStopLoss(1e5))
    ok = c.settle(benchmark=10e6, expenditure=5e6, excess={1e5: 5e6}, quality_score=1.0)
    assert ok.counted_expenditure == pytest.approx(0.0)
    with pytest.raises(VbsimInputError, match=r"excess\[100000.0\] must not exceed expenditure"):
        c.settle(benchmark=10e6, expenditure=5e6, excess={1e5: 20e6}, quality_score=1.0)
    with pytest.raises(VbsimInputError, match=r"excess"):  # element by element
        c.settle(benchmark=np.array([10e6, 10e6]), expenditure=np.array([5e6, 1e6]),
                 excess={1e5: np.array([1e6, 2e6])}, quality_score=1.0)


@pytest.mark.parametrize("bad", [True, "1e6", np.array(["1", "2"])])
def test_booleans_and_strings_are_not_amounts(bad):
    with pytest.raises(VbsimInputError, match="expenditure must be a number"):
        mssp("E", msr=0.0).settle(benchmark=1e6, expenditure=bad)


def test_corridor_bands_from_an_iterator():
    bands = [(0, 0.1, 1.0), (0.1, 0.2, 0.5), (0.2, math.inf, 0.1)]
    assert Corridors(iter(bands)).bands_savings == Corridors(bands).bands_savings
    with pytest.raises(VbsimInputError, match="unbounded"):  # a band after inf is not dropped
        Corridors(iter([(0, math.inf, 1.0), (math.inf, math.inf, 0.5)]))


def test_preset_errors_name_the_preset_argument():
    with pytest.raises(VbsimInputError, match=r"^withhold must be"):
        reach("global", withhold=-0.1)
    with pytest.raises(VbsimInputError, match=r"^withhold must be"):
        lead("global", withhold=2.0)
    with pytest.raises(VbsimInputError, match="LEAD Professional"):
        lead("professional", discount=0.01)


def test_stop_loss_on_a_partial_capitation_is_refused():
    """The engine's excess is of whole member costs; under a 10% partial capitation it could
    exceed the provider's covered spend (a review found recoveries of 300k on 120k covered)."""
    from vbsim.contracts import Capitation

    pcc = Capitation(pmpm=50.0, scope="partial", covered_share=0.1)
    with pytest.raises(VbsimInputError, match="partial capitation"):
        Contract("pcc", capitation=pcc, stop_loss=IndividualStopLoss(1e5))
    Contract("aco", sharing=SharedSavings(rate=0.5), capitation=pcc,
             stop_loss=IndividualStopLoss(1e5))  # an ACO reconciles total cost: allowed
    g = Contract("tcc", capitation=Capitation(pmpm=1_000.0), stop_loss=IndividualStopLoss(1e5))
    s = g.settle(expenditure=1.2e6, member_months=1_200, excess={1e5: 3e5})
    assert s.stop_loss_recoveries == 3e5 and s.provider_net == pytest.approx(1.2e6 + 3e5 - 1.2e6)


def test_mssp_beneficiaries_with_a_fixed_msr_is_an_error():
    assert 0.02 < mssp("E", assigned_beneficiaries=12_000).sharing.msr < 0.04  # from the table
    with pytest.raises(VbsimInputError, match="assigned_beneficiaries only sets the MSR"):
        mssp("E", msr=0.02, assigned_beneficiaries=12_000)
