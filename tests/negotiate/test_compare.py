"""compare(): values against vbsim.metrics, paired SEs against repeated independent runs, CE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from vbsim import metrics
from vbsim._validate import VbsimInputError
from vbsim.negotiate import compare
from vbsim.negotiate._stats import ce_value, influence


def _ds(xs: dict[str, np.ndarray], flags: dict[str, np.ndarray] | None = None) -> xr.Dataset:
    data = {"provider_net": (("contract", "scenario"), np.stack(list(xs.values())))}
    if flags:
        data["cap_hit"] = (("contract", "scenario"), np.stack(list(flags.values())))
    return xr.Dataset(data, coords={"contract": list(xs)})


def test_values_match_metrics_summarize():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1e6, 4000)
    ds = _ds({"a": z, "b": 0.5 * z + 2e4}, {"a": z > 1e6, "b": z > 2e6})
    c = compare(ds, levels=(0.95, 0.99))
    ref = metrics.summarize(ds, levels=(0.95, 0.99))
    for stat in ("mean", "sd", "p_loss", "VaR_95", "TVaR_99", "p_cap_hit"):
        got = c.stats["value"].sel(stat=stat).values
        np.testing.assert_allclose(got, ref["value"].sel(stat=stat).values, rtol=1e-12)
        np.testing.assert_allclose(c.stats["se"].sel(stat=stat).values,
                                   ref["se"].sel(stat=stat).values, rtol=0.05)


def test_paired_difference_se_matches_spread_over_seeds():
    # true difference of means 0.05; the paired SE should match the sd of the estimate over runs
    def one(seed):
        rng = np.random.default_rng(seed)
        z = rng.normal(0, 1, 1000)
        b = z + 0.05 + rng.normal(0, 0.1, 1000)
        return compare(_ds({"a": z, "b": b}), risk_aversion=0.5).difference("b", "a")

    est = np.array([one(s) for s in range(100)])
    sd_over_runs = est[:, 0].std(ddof=1)
    assert abs(est[:, 1].mean() / sd_over_runs - 1) < 0.2
    assert abs(est[:, 0].mean() - 0.05) < 4 * sd_over_runs / math.sqrt(100)


def test_certainty_equivalent_normal_closed_form_and_stability():
    # X ~ N(mu, s^2): CE = mu - a s^2 / 2 exactly
    rng = np.random.default_rng(2)
    mu, s, a = 1e6, 2e6, 2e-7
    x = rng.normal(mu, s, 20_000)
    v, infl = influence(x, f"CE_{a!r}")
    se = infl.std(ddof=1) / math.sqrt(x.size)
    assert abs(v - (mu - a * s * s / 2)) < 4 * se
    # enormous exponents do not overflow: log-sum-exp
    assert math.isfinite(ce_value(np.array([-1e9, 0.0, 1e9]), 1e-5))
    expected = -1e9 - math.log(1 / 3) / 1e-5
    assert ce_value(np.array([-1e9, 0.0, 1e9]), 1e-5) == pytest.approx(expected)


def test_ranking_note_when_not_significant_and_none_when_significant():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1, 500)
    noisy = compare(_ds({"a": z, "b": z + rng.normal(0, 1, 500) * 0.5 + 0.001}), risk_aversion=1)
    assert any("not significant" in n and "expected payment" in n for n in noisy.notes)
    clear = compare(_ds({"a": z, "b": z + 1.0}), risk_aversion=1.0)
    assert not any("expected payment" in n for n in clear.notes)
    assert bool(clear.differences["significant"].sel(contract="b", stat="mean"))


def test_displays_and_frame():
    rng = np.random.default_rng(4)
    z = rng.normal(0, 1e6, 800)
    c = compare(_ds({"a": z, "b": z * 0.7}), baseline="b", view="provider")
    text = str(c)
    assert "E[payment]" in text and "difference from baseline 'b'" in text
    page = c._repr_html_()
    assert page.count("<table") == 2 and "TVaR99.5" in page
    frame = c.to_frame()
    assert frame.shape == (2, 2 * len(c.stat_list))
    assert c.to_frame("differences").loc["b", ("mean", "value")] == 0.0
    assert "a" in c.pairwise().columns


def test_payer_view_and_bad_input():
    rng = np.random.default_rng(5)
    z = rng.normal(0, 1, 100)
    ds = _ds({"a": z, "b": -z})
    ds["payer_net"] = -ds["provider_net"]
    c = compare(ds, view="payer", risk_aversion=1.0)
    assert c.stats["value"].sel(contract="a", stat="mean") == pytest.approx(-z.mean())
    assert "E[payer net]" in str(c) and "E[payment]" not in str(c)  # not the provider's label
    with pytest.raises(VbsimInputError, match="view"):
        compare(ds, view="both")
    with pytest.raises(VbsimInputError, match="baseline"):
        compare(ds, baseline="zzz")


def test_var_se_at_an_atom_matches_metrics():
    """An MSSP-like payment: an atom at 0 then a gap. compare's VaR SE used the empirical share
    at or below VaR (0.992 x 0.008 here) where metrics uses p (1 - p): 0.33 against 0.37."""
    rng = np.random.default_rng(2)
    x = np.zeros(1000)
    x[:8] = -rng.uniform(1.9e6, 4e6, 8)  # 8 losses: VaR99 is the atom, 0.992 at or below it
    ds = _ds({"a": x, "b": 0.9 * x})
    c = compare(ds, levels=(0.99,))
    ref = metrics.summarize(ds, levels=(0.99,))
    np.testing.assert_allclose(c.stats["se"].sel(stat="VaR_99").values,
                               ref["se"].sel(stat="VaR_99").values, rtol=0.01)
