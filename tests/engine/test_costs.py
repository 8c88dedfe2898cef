"""Cost models: moments, cdf/ppf, lev and stop-loss against numerical integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from vbsim._validate import VbsimInputError
from vbsim.costs import (
    COMPOUND_POISSON,
    LOGNORMAL,
    SPLICED,
    CompoundPoisson,
    Lognormal,
    Spliced,
    cost_model_from_dict,
)

MODELS = [
    Lognormal(mean=12_000, cv=2.0),
    Spliced(mean=11_000, cv=2.0),
    Spliced(mean=11_000, cv=1.5, zero_share=0.0, tail_share=0.1, tail_shape=0.0),
    Spliced(mean=5_000, cv=3.0, zero_share=0.3, tail_share=0.0),
]


@pytest.mark.parametrize("m", MODELS, ids=repr)
def test_moments_and_lev_by_quadrature(m):
    # mean and second moment from the quantile function: E[X^k] = int_0^1 ppf(u)^k du
    u = (np.arange(2_000_000) + 0.5) / 2_000_000
    x = m.ppf(u)
    assert x.mean() == pytest.approx(m.mean, rel=2e-3)
    # lev(d) = int_0^d (1 - F(x)) dx, integrated numerically
    for d in (1_000.0, 20_000.0, 150_000.0):
        num, _ = integrate.quad(lambda y: 1.0 - float(m.cdf(y)), 0.0, d, limit=200,
                                points=[getattr(m, "threshold", d) if
                                        getattr(m, "threshold", math.inf) < d else d / 2])
        assert float(m.lev(d)) == pytest.approx(num, rel=1e-6)
        assert float(m.stop_loss(d)) == pytest.approx(m.mean - num, rel=1e-6)


@pytest.mark.parametrize("m", MODELS, ids=repr)
def test_cdf_ppf_roundtrip_and_variance(m):
    p0 = float(m.cdf(0.0))
    u = np.linspace(p0 + 1e-6, 1 - 1e-9, 101)
    assert np.allclose(m.cdf(m.ppf(u)), u, rtol=1e-9, atol=1e-12)
    # variance by quadrature over the quantile function (tail integrable: xi < 0.5)
    ex2, _ = integrate.quad(lambda v: float(m.ppf(v)) ** 2, 0, 1, limit=400)
    assert ex2 - m.mean**2 == pytest.approx(m.var, rel=2e-3)


def test_compound_poisson_numeric_against_moments():
    m = CompoundPoisson(rate=1.5, severity=Lognormal(mean=4_000, cv=1.2))
    assert m.mean == 6_000
    assert float(m.cdf(0.0)) == pytest.approx(math.exp(-1.5), rel=1e-6)
    assert float(m.lev(1e12)) == pytest.approx(m.mean, rel=1e-3)
    assert float(m.stop_loss(0.0)) == pytest.approx(m.mean, rel=1e-3)
    # lev on the grid against the definition sum_i pmf_i min(x_i, d), point by point
    h, pmf = m._grid
    x = h * np.arange(pmf.size)
    d = np.array([-5.0, 0.0, 0.3 * h, 1_000.0, 6_000.0, 37_123.4, x[-1], 1e12, np.inf])
    want = [min(v, 0.0) if v <= 0 else float(pmf @ np.minimum(x, v)) for v in d]
    np.testing.assert_allclose(m.lev(d), want, rtol=1e-9, atol=1e-9)
    assert m.lev(np.array([[1_000.0]])).shape == (1, 1) and isinstance(m.lev(5.0), float)


@pytest.mark.parametrize("cv", [0.5, 1.5, 3.0])
def test_compound_poisson_grid_keeps_the_mean(cv):
    """The numeric grid behind cdf/ppf/lev keeps the closed-form mean up to the claims beyond
    its top, also for a heavy severity whose body sits in the first few grid cells (rounding
    cell probabilities to the nearest point was off by 8e-4 at cv = 3); the variance within
    what the method of rounding and the top can change."""
    m = CompoundPoisson(rate=5.5, severity=Lognormal(mean=250.0, cv=cv))
    h, pmf = m._grid
    x = h * np.arange(pmf.size)
    assert pmf.min() >= 0.0 and pmf.sum() == pytest.approx(1.0, abs=1e-12)
    # a claim above the grid's top t is moved to t: the mean loses rate E[(C - t)+], the second
    # moment at most rate E[C^2; C > t] (lognormal closed forms, scipy.stats); spreading a claim
    # between two grid neighbours keeps its mean and adds at most h^2 / 4 to its second moment
    sev = m.severity
    top = h * (pmf.size // 2 - 1)  # the claims' grid (the totals' grid is twice as long)
    b = (math.log(top) - sev.mu) / sev.sigma
    lost1 = sev.mean * stats.norm.sf(b - sev.sigma) - top * stats.norm.sf(b)
    lost2 = (sev.var + sev.mean**2) * stats.norm.sf(b - 2 * sev.sigma)
    mean = float(pmf @ x)
    assert mean == pytest.approx(m.mean - m.rate * lost1, rel=1e-9)
    var = float(pmf @ x**2) - mean**2
    assert -m.rate * lost2 - 1e-9 * m.var <= var - m.var <= m.rate * h * h / 4
    assert float(m.lev(np.inf)) == pytest.approx(mean, rel=1e-10)  # cumsum of 2^17 terms


def test_kernel_spec_codes():
    assert Lognormal(1.0, 1.0).kernel_spec()[0] == LOGNORMAL
    assert Spliced(1.0).kernel_spec()[0] == SPLICED
    fam, p = CompoundPoisson(1.0, Lognormal(1.0, 1.0)).kernel_spec()
    assert fam == COMPOUND_POISSON and p.dtype == np.float64 and p[0] == 1.0


def test_validation_messages_name_the_field():
    with pytest.raises(VbsimInputError, match="Lognormal.cv"):
        Lognormal(mean=1.0, cv=-1.0)
    with pytest.raises(VbsimInputError, match="Spliced.tail_shape"):
        Spliced(mean=1.0, cv=2.0, tail_shape=0.6)
    with pytest.raises(VbsimInputError, match="Spliced.cv must be in"):
        Spliced(mean=1.0, cv=0.05, zero_share=0.5)
    with pytest.raises(VbsimInputError, match="severity"):
        CompoundPoisson(rate=1.0, severity=Spliced(1.0))


def test_dict_round_trip():
    for m in MODELS + [CompoundPoisson(2.0, Lognormal(100.0, 1.0))]:
        assert cost_model_from_dict(m.to_dict()) == m


def test_compound_poisson_capped_moments_against_monte_carlo():
    """E[min(S, d)] and E[min(S, d)^2] on the grid fitted to d, for caps far below, near and
    above the claim sizes, against 2,000,000 seeded draws of S within 4 Monte Carlo SE."""
    m = CompoundPoisson(rate=3.4, severity=Lognormal(mean=32_000.0, cv=2.1))
    g = np.random.default_rng(20261123)
    n = 2_000_000
    counts = g.poisson(m.rate, n)
    claims = g.lognormal(m.severity.mu, m.severity.sigma, counts.sum())
    total = np.bincount(np.repeat(np.arange(n), counts), weights=claims, minlength=n)
    for d in (500.0, 1_800.0, 30_000.0, 300_000.0):
        m1, m2 = m.capped_moments(d)
        y = np.minimum(total, d)
        for got, sample in ((m1, y), (m2, y * y)):
            assert abs(got - sample.mean()) <= 4 * sample.std() / math.sqrt(n), (d, got)
        assert 0 < m1 <= min(d, m.mean) and m1 * m1 <= m2 <= d * m1


@pytest.mark.parametrize("model", [
    Lognormal(mean=8_600.0, cv=4.0),
    Spliced(mean=4_568.0, cv=2.86, zero_share=0.26, tail_share=0.0515, tail_shape=0.44),
    Spliced(mean=12_000.0, cv=1.5, tail_shape=0.0),
])
def test_stop_loss_closed_form_holds_far_in_the_tail(model):
    """E[(X - d)+] = int_d^inf S(t) dt (quadrature in log t, S from scipy.stats' own survival
    functions: 1 - cdf has no digits left that far out) to 1e-8 relative, from the body to where
    the premium is ~1e-10 of the mean or less and mean - lev(d) is rounding noise."""

    def sf(x: float) -> float:
        if isinstance(model, Lognormal):
            return float(stats.lognorm.sf(x, model.sigma, scale=math.exp(model.mu)))
        p = 1.0 - model.zero_share
        if x <= model.threshold:
            return p * float(stats.norm.sf((math.log(x) - model.mu) / model.sigma))
        return p * model.tail_share * float(stats.genpareto.sf(
            x - model.threshold, model.tail_shape, scale=model.tail_scale))

    def by_quadrature(d: float) -> float:
        f = lambda u: sf(math.exp(u)) * math.exp(u)  # noqa: E731
        lo = math.log(d)
        cuts = lo + np.array([0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0])
        return sum(integrate.quad(f, a, b, limit=400, epsrel=1e-12, epsabs=0.0)[0]
                   for a, b in zip(cuts[:-1], cuts[1:], strict=True))

    ds = [0.5 * model.mean, 3 * model.mean, 50 * model.mean, 1e5 * model.mean]  # last: far
    for d in ds:
        assert float(model.stop_loss(d)) == pytest.approx(by_quadrature(d), rel=1e-8), d
    assert float(model.stop_loss(ds[0])) == pytest.approx(model.mean - float(model.lev(ds[0])),
                                                         rel=1e-12)
    assert float(model.stop_loss(0.0)) == pytest.approx(model.mean, rel=1e-12)


def test_compound_poisson_pmf_refuses_claims_wider_than_its_transform():
    from vbsim.costs import compound_poisson_pmf

    with pytest.raises(VbsimInputError, match=r"m must be in \[1, size=1024\]; got 2048"):
        compound_poisson_pmf([Lognormal(mean=1.0, cv=1.0)], [1.0], 1.0, 0.1, 2048, 1024)


def test_compound_poisson_cdf_against_an_independent_simulation():
    """The cdf was a step function on the grid, read at a point holding the mass of the whole
    cell around it: P(S <= x) ran ~1e-3 high at small x (0.20178 against 0.19995 at ppf(0.2)).
    Checked against numpy's own Poisson and lognormal draws (2e6 totals), within 4 SE."""
    from vbsim.costs import CompoundPoisson, Lognormal

    m = CompoundPoisson(rate=2.0, severity=Lognormal(mean=5_000.0, cv=1.5))
    rng = np.random.default_rng(11)
    n = 2_000_000
    counts = rng.poisson(2.0, n)
    sev = m.severity
    claims = rng.lognormal(sev.mu, sev.sigma, counts.sum())
    totals = np.bincount(np.repeat(np.arange(n), counts), weights=claims, minlength=n)
    for x in (0.0, 500.0, 1_217.0, 2_000.0, 10_000.0, 40_000.0):
        f = float(np.mean(totals <= x))
        assert abs(float(m.cdf(x)) - f) < 4 * np.sqrt(f * (1 - f) / n) + 1e-12, x
    u = np.array([0.2, 0.5, 0.9, 0.99])
    np.testing.assert_allclose(m.cdf(m.ppf(u)), u, atol=1e-9)
