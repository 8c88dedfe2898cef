"""Tests of vbsim.metrics: estimators against closed forms, and each standard error against the
empirical spread of the estimator over many independent seeded samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from vbsim import metrics as M
from vbsim._validate import VbsimInputError

LEVELS = (0.95, 0.99)


# Payment samplers (gain positive) and the exact statistics of each. L = -payment.
def _normal_exact():
    mu, s = 1.0, 2.0  # payment ~ N(1, 2^2), so L ~ N(-1, 2^2)
    out = {"mean": mu, "sd": s, "q50": mu, "p_loss": stats.norm.cdf(0, mu, s)}
    for p in LEVELS:
        z = stats.norm.ppf(p)
        out[f"VaR_{p}"] = -mu + s * z
        out[f"TVaR_{p}"] = -mu + s * stats.norm.pdf(z) / (1 - p)
    return (lambda rng, size: rng.normal(mu, s, size)), out


def _lognormal_exact():
    sig = 0.5  # L ~ lognormal(0, 0.5), payment = -L
    m = math.exp(sig**2 / 2)
    out = {"mean": -m, "sd": m * math.sqrt(math.exp(sig**2) - 1), "q50": -1.0, "p_loss": 1.0}
    for p in LEVELS:
        z = stats.norm.ppf(p)
        out[f"VaR_{p}"] = math.exp(sig * z)
        out[f"TVaR_{p}"] = m * stats.norm.cdf(sig - z) / (1 - p)
    return (lambda rng, size: -rng.lognormal(0, sig, size)), out


def _exponential_exact():
    out = {"mean": -1.0, "sd": 1.0, "q50": -math.log(2), "p_loss": 1.0}
    for p in LEVELS:
        out[f"VaR_{p}"] = -math.log(1 - p)
        out[f"TVaR_{p}"] = -math.log(1 - p) + 1.0
    return (lambda rng, size: -rng.exponential(1.0, size)), out


def _atoms_exact():
    # L in {0, 10, 100} with probabilities 0.9, 0.08, 0.02. ES_0.95 = (0.03*10 + 0.02*100)/0.05
    # = 46, while the naive E[L | L >= VaR] = 28: the Acerbi-Tasche form must give 46.
    vals, probs = np.array([0.0, 10.0, 100.0]), np.array([0.9, 0.08, 0.02])
    m = float(probs @ vals)
    out = {
        "mean": -m,
        "sd": math.sqrt(float(probs @ vals**2) - m * m),
        "q50": 0.0,
        "p_loss": 0.1,
        "VaR_0.95": 10.0,
        "TVaR_0.95": 46.0,
        "VaR_0.99": 100.0,
        "TVaR_0.99": 100.0,
    }
    return (lambda rng, size: -rng.choice(vals, p=probs, size=size)), out


CASES = {
    "normal": _normal_exact,
    "lognormal": _lognormal_exact,
    "exponential": _exponential_exact,
    "atoms": _atoms_exact,
}

ESTIMATORS = {
    "mean": M.mean,
    "sd": M.sd,
    "q50": lambda x: M.quantile(x, 0.5),
    "p_loss": M.prob_loss,
    **{f"VaR_{p}": (lambda x, p=p: M.var(x, p)) for p in LEVELS},
    **{f"TVaR_{p}": (lambda x, p=p: M.tvar(x, p)) for p in LEVELS},
}


@pytest.mark.parametrize("case", list(CASES))
def test_estimates_match_closed_forms(case):
    sampler, exact = CASES[case]()
    x = sampler(np.random.default_rng(123), 200_000)
    for name, f in ESTIMATORS.items():
        e = f(x)
        assert isinstance(e, M.Estimate)
        tol = 4 * e.se + 1e-12
        assert abs(e.value - exact[name]) <= tol, (case, name, e, exact[name])


@pytest.mark.parametrize("case", list(CASES))
def test_standard_errors_match_replication_spread(case):
    """R independent samples of size n (columns of one array, so the vectorised path is used):
    the mean reported SE must match the empirical sd of the R estimates. The tolerance is 4 times
    the relative standard error of that comparison, from the replications themselves: the
    empirical sd has relative SE sqrt((kurtosis - 1) / (4 R)); the mean SE has sd(se)/sqrt(R)."""
    R, n = 600, 4000
    sampler, _ = CASES[case]()
    x = sampler(np.random.default_rng(7), (n, R))
    checked = 0
    for name, f in ESTIMATORS.items():
        e = f(x)
        v, s = np.asarray(e.value), np.asarray(e.se)
        assert v.shape == (R,) and s.shape == (R,)
        emp = v.std(ddof=1)
        if emp == 0:
            # An estimator stuck on an atom: its SE must say so too, except rarely, when the
            # order-statistic window reaches the next atom (a conservative answer).
            assert np.mean(s > 0) < 0.05, (case, name)
            continue
        kurt = float(((v - v.mean()) ** 4).mean() / v.var() ** 2)
        rel = math.sqrt((kurt - 1) / (4 * R) + (s.std() / math.sqrt(R) / s.mean()) ** 2)
        assert abs(s.mean() / emp - 1) < 4 * rel, (case, name, s.mean(), emp, rel)
        checked += 1
    assert checked >= 4  # the atom case has 4 non-degenerate estimators


def test_tvar_on_atoms_is_not_the_naive_conditional_mean():
    _, exact = _atoms_exact()
    x = -np.repeat([0.0, 10.0, 100.0], [900, 80, 20])  # exactly the distribution, n = 1000
    assert float(M.var(x, 0.95)) == 10.0
    assert float(M.tvar(x, 0.95)) == pytest.approx(exact["TVaR_0.95"])


def test_quantile_is_lower_empirical_quantile():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1001)
    for q in (0.01, 0.3, 0.5, 0.9, 0.999):
        assert float(M.quantile(x, q)) == np.quantile(x, q, method="inverted_cdf")
        assert float(M.var(x, q)) == np.quantile(-x, q, method="inverted_cdf")


def _settlement(rng, n=20_000):
    z = rng.normal(0, 1, (n, 3))
    base = 1e6 * z[:, :1]  # common cost noise shared by the contracts (common random numbers)
    prov = np.concatenate([base + 2e5, 0.5 * base + 1e5, np.minimum(base, 1.5e6)], axis=1)
    prov = np.stack([prov, prov * 1.1], axis=1)  # two years
    return xr.Dataset(
        {
            "provider_net": (("scenario", "year", "contract"), prov),
            "payer_net": (("scenario", "year", "contract"), -prov),
            "cap_hit": (("scenario", "year", "contract"), prov >= 1.5e6),
            "scale": (("year",), [1.0, 1.1]),
        },
        coords={"contract": ["full", "half", "capped"], "year": [1, 2]},
    )


def test_summarize_matches_single_estimators_and_detects_flags():
    ds = _settlement(np.random.default_rng(3))
    s = M.summarize(ds)
    assert s["value"].dims == ("year", "contract", "stat")
    assert "p_cap_hit" in s["stat"].values
    x = ds["provider_net"].sel(year=2, contract="half").values
    one = s.sel(year=2, contract="half")
    for stat, e in {
        "mean": M.mean(x),
        "sd": M.sd(x),
        "p_loss": M.prob_loss(x),
        "q5": M.quantile(x, 0.05),
        "VaR_99": M.var(x, 0.99),
        "TVaR_95": M.tvar(x, 0.95),
    }.items():
        assert float(one["value"].sel(stat=stat)) == pytest.approx(e.value, rel=1e-12)
        assert float(one["se"].sel(stat=stat)) == pytest.approx(e.se, rel=1e-9)
    flag = ds["cap_hit"].sel(year=1, contract="capped").values
    assert float(s["value"].sel(year=1, contract="capped", stat="p_cap_hit")) == flag.mean()
    # the payer's view is the mirror image of the provider's here
    sp = M.summarize(ds, var="payer_net")
    assert np.allclose(sp["value"].sel(stat="mean"), -s["value"].sel(stat="mean"))


def test_summarize_dataarray_functions_and_total_over_years():
    ds = _settlement(np.random.default_rng(4))
    e = M.tvar(ds["provider_net"], 0.99)
    assert isinstance(e, xr.Dataset) and e["value"].dims == ("year", "contract")
    tot = M.summarize(ds, years="total")
    assert "year" not in tot.dims
    x = ds["provider_net"].sum("year").sel(contract="full").values
    assert float(tot["value"].sel(contract="full", stat="TVaR_99")) == pytest.approx(
        float(M.tvar(x, 0.99))
    )
    hit_any = ds["cap_hit"].any("year").sel(contract="capped").values.mean()
    assert float(tot["value"].sel(contract="capped", stat="p_cap_hit")) == pytest.approx(hit_any)
    # only what is summarised is totalled, with the same answer as totalling everything
    assert tot.identical(M.summarize(M.total_over_years(ds), years="each"))
    kept = M.total_over_years(ds, ["provider_net", "cap_hit"])
    assert list(kept.data_vars) == ["provider_net", "cap_hit"] and "year" not in kept.dims


def test_difference_uses_common_random_numbers():
    ds = _settlement(np.random.default_rng(5))
    d = M.difference(ds, "full", "half")
    x = ds["provider_net"]
    exact_diff = (x.sel(contract="full") - x.sel(contract="half")).mean("scenario")
    assert np.allclose(d["value"].sel(stat="mean"), exact_diff)
    # the paired SE is far smaller than the independent-runs SE (strong positive correlation)
    assert np.all(d["se"].sel(stat="mean") < 0.6 * d["se_independent"].sel(stat="mean"))
    tv = M.summarize(ds)["value"]
    assert np.allclose(
        d["value"].sel(stat="TVaR_95"),
        tv.sel(contract="full", stat="TVaR_95") - tv.sel(contract="half", stat="TVaR_95"),
    )
    assert bool(d["significant"].sel(year=1, stat="mean"))  # 1e5 apart, se ~ 4e3


def test_difference_se_matches_replication_spread():
    R, n = 400, 3000
    rng = np.random.default_rng(11)
    z = rng.normal(size=(n, R))
    a, b = z + 0.05 * rng.normal(size=(n, R)), z
    ds = xr.Dataset(  # the replications as one more dim: one vectorised call
        {"provider_net": (("scenario", "rep", "contract"), np.stack([a, b], axis=-1))},
        coords={"contract": ["a", "b"]},
    )
    d = M.difference(ds, "a", "b", levels=(0.95,))
    assert d["value"].dims == ("rep", "stat")
    vals, ses = d["value"].values, d["se"].values
    for j, stat in enumerate(d["stat"].values):
        v, se = vals[:, j], ses[:, j]
        emp = v.std(ddof=1)
        kurt = float(((v - v.mean()) ** 4).mean() / v.var() ** 2)
        rel = math.sqrt((kurt - 1) / (4 * R) + (se.std() / math.sqrt(R) / se.mean()) ** 2)
        assert abs(se.mean() / emp - 1) < 4 * rel, (stat, se.mean(), emp)


def test_format_table_and_frame():
    ds = _settlement(np.random.default_rng(6))
    s = M.summarize(ds, years="total")
    text = M.format_table(s)
    lines = text.splitlines()
    assert len(lines) == 4 and "($M)" in lines[0] and "P(loss) (%)" in lines[0]
    assert all("±" in ln for ln in lines[1:])
    assert len({len(ln) for ln in lines}) == 1  # aligned
    frame = M.summary_to_frame(s)
    assert list(frame.index) == ["full", "half", "capped"]
    assert frame[("mean", "value")]["half"] == pytest.approx(
        float(s["value"].sel(contract="half", stat="mean"))
    )


def test_estimate_formatting():
    assert str(M.Estimate(1234567.0, 8900.0)) == "1,234,567 ± 8,900"
    assert str(M.Estimate(0.1234, 0.0045)) == "0.1234 ± 0.0045"
    assert float(M.Estimate(2.5, 0.1)) == 2.5


def test_discrete_summary_matches_sample_statistics():
    vals, probs = np.array([-100.0, -10.0, 0.0, 50.0]), np.array([0.02, 0.08, 0.5, 0.4])
    s = M.discrete_summary(vals, probs)
    x = np.repeat(vals, (probs * 1000).astype(int))
    for stat, e in {
        "mean": M.mean(x),
        "p_loss": M.prob_loss(x),
        "q50": M.quantile(x, 0.5),
        "VaR_95": M.var(x, 0.95),
        "TVaR_95": M.tvar(x, 0.95),
        "TVaR_99": M.tvar(x, 0.99),
    }.items():
        assert float(s["value"].sel(stat=stat)) == pytest.approx(e.value), stat
    assert float(s["se"].sum()) == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: M.mean(np.array([1.0, np.nan, 2.0])),
        lambda: M.mean(np.array([1.0])),
        lambda: M.var(np.arange(10.0), 1.0),
        lambda: M.prob(np.array([0.0, 1.0])),
        lambda: M.mean(xr.DataArray(np.arange(3.0), dims="draw")),
        lambda: M.summarize(_settlement(np.random.default_rng(0), 10), var="nope"),
        lambda: M.difference(_settlement(np.random.default_rng(0), 10), "full", "nope"),
        lambda: M.summarize(_settlement(np.random.default_rng(0), 10), years="some"),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(VbsimInputError):
        call()


def test_thin_tails_report_no_standard_error_rather_than_a_false_one():
    """A 99% level on 60 scenarios leaves one scenario in the tail: its TVaR's influence
    function has zero spread there, so the SE used to read 0 (intervals never covered the
    truth). The order-statistic window does not fit either: both SEs are NaN, printed n/a."""
    from vbsim.metrics import format_pm, quantile, tvar, var

    x = np.random.default_rng(3).normal(size=60)
    for est in (tvar(x, 0.99), var(x, 0.99), quantile(x, 0.02)):
        assert np.isfinite(est.value) and np.isnan(est.se)
    assert str(tvar(x, 0.99)).endswith("± n/a")
    big = np.random.default_rng(3).normal(size=2_000)
    for est in (tvar(big, 0.99), var(big, 0.99), quantile(big, 0.02)):
        assert 0 < est.se < 0.2
    assert format_pm(2.325, 0.0) == "2.325 ± 0"
