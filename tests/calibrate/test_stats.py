"""Statistics used by calibration: checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from vbsim._validate import VbsimInputError
from vbsim.calibrate.stats import (
    empirical_summary,
    model_top_share,
    panel_persistence,
    parse_persistence_key,
    persistence_ar1,
    rho_for_persistence,
    top_share_sample,
)
from vbsim.costs import Lognormal, Spliced


def test_top_share_lognormal_closed_form():
    # Lognormal: share above the (1-p) quantile = Phi(sigma - z_{1-p}) (textbook result).
    m = Lognormal(mean=10_000, cv=2.0)
    for p in (0.01, 0.05, 0.1, 0.2):
        exact = stats.norm.cdf(m.sigma - stats.norm.ppf(1 - p))
        assert model_top_share(m, p) == pytest.approx(exact, abs=1e-10)


def test_top_share_spliced_by_quantile_integration():
    # Independent route: share of the top p = int_{1-p}^1 ppf(u) du / mean.
    m = Spliced(mean=12_000, cv=2.5, zero_share=0.15, tail_share=0.05, tail_shape=0.3)
    for p in (0.01, 0.1, 0.2, 0.5):
        val, _ = integrate.quad(lambda u: float(m.ppf(u)), 1 - p, 1, limit=500,
                                points=[1 - 0.05 * 0.85], epsabs=1e-9)
        assert model_top_share(m, p) == pytest.approx(val / m.mean, abs=2e-5)


def test_top_share_with_atom_at_quantile():
    # 90% zeros: the top 50% holds everything.
    m = Spliced(mean=100.0, cv=4.0, zero_share=0.9, tail_share=0.05, tail_shape=0.2)
    assert model_top_share(m, 0.5) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("rho", [0.2, 0.5, 0.742, 0.95])
@pytest.mark.parametrize("years", [1, 2, 3])
def test_persistence_matches_scipy_mvn(rho, years):
    n = years + 1
    idx = np.arange(n)
    cov = rho ** np.abs(idx[:, None] - idx[None, :])
    z = stats.norm.isf(0.1)
    ref = stats.multivariate_normal(np.zeros(n), cov, seed=1).cdf(np.full(n, -z)) / 0.1
    assert persistence_ar1(rho, 0.1, years) == pytest.approx(ref, abs=2e-4)


def test_persistence_monte_carlo():
    # Simulated AR(1) ranks, independent of the orthant formula; tolerance 4 SE.
    rho, n = 0.742, 400_000
    rng = np.random.default_rng(7)
    z1 = rng.standard_normal(n)
    z2 = rho * z1 + math.sqrt(1 - rho**2) * rng.standard_normal(n)
    z3 = rho * z2 + math.sqrt(1 - rho**2) * rng.standard_normal(n)
    c = stats.norm.isf(0.1)
    top = z1 > c
    est = np.mean((z2[top] > c) & (z3[top] > c))
    se = math.sqrt(est * (1 - est) / top.sum())
    assert abs(est - persistence_ar1(rho, 0.1, 2)) < 4 * se


def test_rho_inversion_and_limits():
    rho = rho_for_persistence(0.28, 0.10, 2)
    assert persistence_ar1(rho, 0.10, 2) == pytest.approx(0.28, abs=1e-5)
    assert persistence_ar1(0.0, 0.1, 2) == pytest.approx(0.01)
    with pytest.raises(VbsimInputError, match="persistence target"):
        rho_for_persistence(0.001, 0.10, 2)  # below independence


def test_parse_key_errors():
    assert parse_persistence_key("top5_stay_1yr") == (0.05, 1)
    for bad in ("top10_stay", "top0_stay_2yr", "top10_stay_9yr", "bottom10_stay_2yr"):
        with pytest.raises(VbsimInputError, match="persistence key"):
            parse_persistence_key(bad)


def test_empirical_summary_hand_values():
    s = empirical_summary([0, 0, 0, 0, 0, 10, 10, 20, 20, 40])
    assert s["share_zero"] == 0.5
    assert s["mean"] == 10.0
    assert s["top10_share"] == pytest.approx(0.4)  # floor(0.1 x 10) = 1 member: 40 of 100
    assert s["top20_share"] == pytest.approx(0.6)
    assert s["bottom50_share"] == 0.0
    assert top_share_sample([1, 1, 1], 0.2) == 0.0  # floor(0.6) = 0 members


def test_panel_persistence_counts_only_stayers_in_all_years():
    ids = [f"m{i}" for i in range(10)]
    y1 = {m: float(10 - i) for i, m in enumerate(ids)}  # m0 top
    y2 = dict(y1)
    y3 = {m: float(i) for i, m in enumerate(ids)}  # m9 top in year 3
    share, n_top, n_win = panel_persistence({1: y1, 2: y2, 3: y3}, 0.1, 2)
    assert (share, n_top, n_win) == (0.0, 1, 1)
    share1, n_top1, n_win1 = panel_persistence({1: y1, 2: y2, 3: y3}, 0.1, 1)
    assert (share1, n_top1, n_win1) == (0.5, 2, 2)
    # a member missing in year 2 leaves the panel
    y2b = {m: v for m, v in y2.items() if m != "m0"}
    share, n_top, _ = panel_persistence({1: y1, 2: y2b}, 0.2, 1)
    assert n_top == 1 and share == 1.0  # panel of 9: top 1 is m1 both years
