"""Risk-score mixture and the engine: a calibrated cohort reproduces its targets when simulated.

The engine returns per-scenario reductions only (no member-level costs), so concentration is
checked through its thresholded excess: for a threshold t, sum of member costs above t is
``excess(t) + t x #(Y > t)``, and the exceedance count is estimated from the same sample by
``(excess(t - d) - excess(t + d)) / (2 d)``. Persistence cannot be read from the reductions;
it is checked by an independent numpy simulation of the engine's member model (AR(1) latent
rank, fixed lognormal risk score) instead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from vbsim.calibrate import AGED_NON_DUAL, from_summary
from vbsim.calibrate.mixture import RiskMixed
from vbsim.calibrate.stats import model_top_share, top_share_sample
from vbsim.costs import Lognormal

RISK_SD = 0.5  # vbsim.population default (assumption there)


@pytest.fixture(scope="module")
def aged_risk():
    return from_summary(**AGED_NON_DUAL, risk_sd=RISK_SD)


def test_mixture_of_lognormals_is_lognormal():
    # R X with both lognormal is lognormal with log-variance the sum: exact top shares.
    x = Lognormal(mean=1000.0, cv=1.5)
    y = RiskMixed(x, 0.4)
    exact = Lognormal(mean=1000.0, cv=math.sqrt(math.exp(x.sigma**2 + 0.16) - 1))
    for p in (0.01, 0.1, 0.5):
        assert model_top_share(y, p) == pytest.approx(model_top_share(exact, p), abs=1e-6)
    assert y.ppf(0.9) == pytest.approx(float(exact.ppf(0.9)), rel=1e-6)


def test_fit_with_risk_scores_hits_targets(aged_risk):
    cal = aged_risk
    assert cal.risk_sd == RISK_SD
    for p, target in AGED_NON_DUAL["top_shares"].items():
        row = cal.report[f"top{100 * p:g}_share"]
        assert row.target == target and row.abs_error < 0.02
    assert cal.report["top10_stay_2yr"].abs_error < 1e-4
    # the same X without risk scores would be less concentrated: the mixture matters
    assert model_top_share(cal.cost, 0.01) < 0.149 - 0.01


def test_persistence_with_risk_scores_by_simulation(aged_risk):
    cal, n = aged_risk, 200_000
    rng = np.random.default_rng(11)
    r = np.exp(RISK_SD * rng.standard_normal(n) - RISK_SD**2 / 2)
    z = rng.standard_normal(n)
    tops = []
    for year in range(3):
        if year:
            z = cal.rho * z + math.sqrt(1 - cal.rho**2) * rng.standard_normal(n)
        y = r * cal.cost.ppf(ndtr(z))
        tops.append(y >= np.quantile(y, 0.9))
    est = np.mean(tops[1][tops[0]] & tops[2][tops[0]])
    se = math.sqrt(est * (1 - est) / tops[0].sum())
    assert abs(est - 0.28) < 4 * se
    # and the cross-sectional concentration of the same sample
    assert abs(top_share_sample(y, 0.10) - 0.60) < 0.02


def test_engine_reproduces_concentration(aged_risk):
    simulate_mod = pytest.importorskip("vbsim.simulate")
    drivers_mod = pytest.importorskip("vbsim.drivers")
    cal = aged_risk
    member = RiskMixed(cal.cost, RISK_SD)
    cohort = cal.cohort("aged", 10_000, mortality=0.0, churn=0.0)
    drivers = drivers_mod.Drivers(trend_mean=0.0, trend_sd=0.0, shock_prob=0.0)
    ps = (0.01, 0.05, 0.10, 0.20)
    qs = [member.ppf(1 - p) for p in ps]
    thr = sorted({t * f for t in qs for f in (0.99, 1.0, 1.01)})
    n_scen = 60
    paths = simulate_mod.simulate(cohort, drivers, n_scenarios=n_scen, years=1, seed=5,
                                  thresholds=thr)
    assert np.allclose(paths.trend_index.values, 1.0)
    ex = paths.excess.isel(year=0, cohort=0)  # (scenario, threshold)
    cost = paths.cost.isel(year=0, cohort=0).values
    for p, q in zip(ps, qs, strict=True):
        e = ex.sel(threshold=q, method="nearest").values
        lo = ex.sel(threshold=q * 0.99, method="nearest").values
        hi = ex.sel(threshold=q * 1.01, method="nearest").values
        count = (lo - hi) / (0.02 * q)  # members above q, from the same sample
        share_s = (e + q * count) / cost  # per scenario
        share = (e.sum() + q * count.sum()) / cost.sum()
        se = share_s.std(ddof=1) / math.sqrt(n_scen)
        analytic = model_top_share(member, p)
        # 1e-3: allowance for the +-1% finite difference in the count
        assert abs(share - analytic) < 4 * se + 1e-3, (p, share, analytic, se)
        assert abs(share - AGED_NON_DUAL["top_shares"][p]) < 0.02 + 4 * se
        assert abs(count.sum() / (n_scen * 10_000) - p) < 4 * math.sqrt(p / (n_scen * 10_000))
