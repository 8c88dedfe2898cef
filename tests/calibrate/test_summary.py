"""from_summary: the default aged non-dual targets are reproduced; bad input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from vbsim._validate import VbsimInputError
from vbsim.calibrate import AGED_NON_DUAL, FitReport, from_summary
from vbsim.calibrate.stats import persistence_ar1, top_share_sample
from vbsim.costs import Spliced

WALLIS = AGED_NON_DUAL["top_shares"]


@pytest.fixture(scope="module")
def aged():
    return from_summary(**AGED_NON_DUAL)


def _share_by_integration(m, p):
    val, _ = integrate.quad(lambda u: float(m.ppf(u)), 1 - p, 1, limit=500, epsabs=1e-9)
    return val / m.mean


def test_wallis_top_shares_within_two_points_semi_analytic(aged):
    cost, rho, report = aged
    assert isinstance(cost, Spliced)
    assert cost.mean == pytest.approx(11_000)
    for p, target in WALLIS.items():
        # quantile-function integral: an independent route from the lev formula used in the fit
        assert abs(_share_by_integration(cost, p) - target) < 0.02
        assert report[f"top{100 * p:g}_share"].abs_error < 0.02


def test_wallis_top_shares_within_two_points_sampled(aged):
    # Large sample drawn by inverse transform (numpy, not the fit's formulas). The sample top
    # share's sd at n = 400k is at most 0.13 points here (20 repeated draws); the tolerance is
    # the 2-point requirement plus 4 x 0.15 points of sampling noise.
    cost = aged.cost
    rng = np.random.default_rng(20261123)
    x = cost.ppf(rng.random(400_000))
    for p, target in WALLIS.items():
        assert abs(top_share_sample(x, p) - target) < 0.02 + 4 * 0.0015


def test_persistence_28_percent(aged):
    rho = aged.rho
    assert 0.5 < rho < 0.95
    assert abs(persistence_ar1(rho, 0.10, 2) - 0.28) < 0.04
    assert aged.report["top10_stay_2yr"].abs_error < 1e-4


def test_persistence_by_simulated_ranks(aged):
    # Simulate the latent AR(1) and the cost ppf(Phi(z)); count top-decile stayers by cost rank.
    rho, n = aged.rho, 200_000
    rng = np.random.default_rng(3)
    z = [rng.standard_normal(n)]
    for _ in range(2):
        z.append(rho * z[-1] + math.sqrt(1 - rho**2) * rng.standard_normal(n))
    from scipy.special import ndtr

    tops = []
    for zz in z:
        c = aged.cost.ppf(ndtr(zz))
        tops.append(c >= np.quantile(c, 0.9))
    est = np.mean(tops[1][tops[0]] & tops[2][tops[0]])
    se = math.sqrt(est * (1 - est) / tops[0].sum())
    assert abs(est - 0.28) < 4 * se


def test_cv_and_percentile_targets():
    cal = from_summary(mean=4_000, cv=2.2, zero_share=0.2,
                       percentiles={0.5: 1_000, 0.9: 10_000}, top_shares={0.01: 0.16})
    m = cal.cost
    assert float(m.cdf(0.0)) == pytest.approx(0.2)
    assert m.sd / m.mean == pytest.approx(cal.report["cv"].achieved)
    assert cal.report["cv"].abs_error < 0.1
    assert cal.rho is None


def test_persistence_exits_raise_survivor_target():
    a = from_summary(mean=1.0, top_shares={0.1: 0.6}, persistence={"top10_stay_2yr": 0.28})
    b = from_summary(mean=1.0, top_shares={0.1: 0.6}, persistence={"top10_stay_2yr": 0.28},
                     persistence_exits=0.2)
    assert persistence_ar1(b.rho, 0.1, 2) == pytest.approx(0.35, abs=1e-4)
    assert b.rho > a.rho


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mean=-1.0, top_shares={0.1: 0.6}), "mean"),
        (dict(mean=1.0), "at least one shape target"),
        (dict(mean=1.0, top_shares={1.5: 0.6}), "top_shares key"),
        (dict(mean=1.0, top_shares={0.1: 1.6}), r"top_shares\[0.1\]"),
        (dict(mean=1.0, top_shares={0.1: 0.6}, zero_share=0.95), "zero_share"),
        (dict(mean=1.0, top_shares={0.5: 0.9}, zero_share=0.6), "1 - zero_share"),
        (dict(mean=1.0, percentiles={0.1: 5.0}, zero_share=0.2), "must be 0"),
        (dict(mean=1.0, top_shares={0.1: 0.6}, persistence={"top10": 0.3}), "persistence key"),
        (dict(mean=1.0, top_shares={0.1: 0.6}, persistence={"top10_stay_2yr": 0.001}),
         "persistence target"),
        (dict(mean=1.0, top_shares={0.1: 0.6}, weights={"cv": 2.0}), "weights key"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(VbsimInputError, match=match):
        from_summary(**kwargs)


def test_report_object(aged):
    r = aged.report
    assert isinstance(r, FitReport)
    df = r.to_frame()
    assert list(df.index) == list(r.statistics)
    assert np.allclose(df["abs_error"], (df["achieved"] - df["target"]).abs())
    assert "top1_share" in repr(r) and "<table>" in r._repr_html_()
    with pytest.raises(KeyError):
        r["nope"]
    with pytest.raises(AttributeError):
        r.title = "x"  # frozen


def test_several_persistence_targets_recover_rho():
    from vbsim.calibrate.stats import persistence_ar1 as pa

    rho = 0.6
    targets = {"top10_stay_1yr": pa(rho, 0.1, 1), "top10_stay_2yr": pa(rho, 0.1, 2),
               "top5_stay_1yr": pa(rho, 0.05, 1)}
    cal = from_summary(mean=1.0, top_shares={0.1: 0.6}, persistence=targets)
    assert cal.rho == pytest.approx(rho, abs=1e-3)
    for k in targets:
        assert cal.report[k].abs_error < 1e-4


def test_calibration_object(aged):
    cost, rho, report = aged  # unpacks
    assert "rho = 0.74" in repr(aged) and "<table>" in aged._repr_html_()
    pop = pytest.importorskip("vbsim.population")
    c = aged.cohort("aged", 100, churn=0.0)
    assert isinstance(c, pop.Cohort)
    assert (c.cost, c.persistence, c.risk_sd, c.churn) == (cost, rho, 0.0, 0.0)
