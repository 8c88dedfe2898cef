"""Tests of vbsim.exact: FFT aggregate distribution vs closed forms and seeded Monte Carlo."""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
import pytest
import xarray as xr
from scipy import integrate, stats

from vbsim import exact as E
from vbsim import metrics as M
from vbsim._validate import VbsimInputError
from vbsim.costs import CompoundPoisson, Lognormal, Spliced


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed self-check fails the test
        d = E.aggregate(*args, **kwargs)
    assert d.ok, d.validation
    return d


@pytest.mark.parametrize("n", [1, 7, 20_000])
def test_iid_lognormal_moments(n):
    m = Lognormal(mean=12_000, cv=2.0)
    d = _quiet([(n, m)])
    assert d.mean == pytest.approx(n * 12_000, rel=1e-6)
    assert d.var == pytest.approx(n * (2.0 * 12_000) ** 2, rel=1e-3)


def test_risk_score_mixture_moments():
    """Y = R X with R lognormal (mean 1, log-sd 0.6): E[Y] = E[X], E[Y^2] = e^{0.36} E[X^2]."""
    m = Lognormal(mean=10_000, cv=1.5)
    d = _quiet([E.Cohort(300, m, scale=1.2, risk_sd=0.6)])
    ey2 = 1.2**2 * math.exp(0.36) * (m.var + m.mean**2)
    assert d.mean == pytest.approx(300 * 1.2 * m.mean, rel=1e-6)
    assert d.var == pytest.approx(300 * (ey2 - (1.2 * m.mean) ** 2), rel=1e-3)
    # capped mean: E[min(R X, d)] by direct quadrature over the risk score
    cap = 40_000.0
    dc = _quiet([E.Cohort(300, m, risk_sd=0.6)], cap=cap)
    r = stats.lognorm(0.6, scale=math.exp(-0.18))
    lev = integrate.quad(lambda v: r.pdf(v) * v * float(m.lev(cap / v)), 0, np.inf)[0]
    assert dc.mean == pytest.approx(300 * lev, rel=1e-6)


def test_scipy_distribution_and_scale():
    dist = stats.lognorm(0.8, scale=4_000.0)  # any frozen scipy distribution works
    d = _quiet([(40, dist, 1.25)])
    assert d.mean == pytest.approx(40 * 1.25 * dist.mean(), rel=1e-6)
    assert d.var == pytest.approx(40 * 1.25**2 * dist.var(), rel=1e-3)


def test_compound_poisson_count_and_member():
    sev = Lognormal(mean=3_000, cv=1.5)
    ex2 = sev.var + sev.mean**2
    # Poisson number of members (lambda = 250): mean lambda E[X], var lambda E[X^2]
    d = _quiet([E.Cohort(250.0, sev, count="poisson")])
    assert d.mean == pytest.approx(250 * sev.mean, rel=1e-6)
    assert d.var == pytest.approx(250 * ex2, rel=1e-3)
    # compound-Poisson member model (rate 2 claims), 500 members
    cp = CompoundPoisson(rate=2.0, severity=sev)
    d = _quiet([(500, cp)])
    assert d.mean == pytest.approx(500 * 2.0 * sev.mean, rel=1e-6)
    assert d.var == pytest.approx(500 * 2.0 * ex2, rel=1e-3)
    assert float(d.cdf(0.0)) == pytest.approx(math.exp(-1000), abs=1e-12)


def test_gamma_total_cdf_quantile_stop_loss_tvar():
    """n iid exponential(theta) members: S ~ Gamma(n, theta) in closed form."""
    n, theta = 400, 250.0
    d = _quiet([(n, stats.expon(scale=theta))])
    g, g1 = stats.gamma(n, scale=theta), stats.gamma(n + 1, scale=theta)
    for p in (0.01, 0.5, 0.95, 0.999):
        assert abs(float(d.quantile(p)) - g.ppf(p)) <= 2 * d.h
    xs = g.ppf([0.05, 0.5, 0.9])
    assert np.allclose(d.cdf(xs), g.cdf(xs), atol=2e-4)  # a lattice step holds ~1e-4 of mass
    for a in g.ppf([0.1, 0.5, 0.9, 0.99]):
        exact_sl = n * theta * g1.sf(a) - a * g.sf(a)  # E[(S-a)+] for a gamma
        assert float(d.stop_loss(a)) == pytest.approx(exact_sl, rel=2e-4, abs=1e-6 * n * theta)
    for p in (0.95, 0.99):
        v = g.ppf(p)
        exact_tvar = n * theta * g1.sf(v) / (1 - p)
        assert d.tvar(p) == pytest.approx(exact_tvar, rel=1e-4)


def test_capped_members_match_exact_lev():
    m = Lognormal(mean=12_000, cv=2.0)
    cap = 100_000.0
    d1 = _quiet([(1, m)], cap=cap)
    assert d1.mean == pytest.approx(float(m.lev(cap)), rel=1e-9)
    # the mass beyond the cap sits at the cap (the lattice spreads it over the two points around
    # the cap, with the body's mass of the last cell or two)
    tail = 1 - float(d1.cdf(cap - 2 * d1.h))
    assert 1 - float(m.cdf(cap)) <= tail <= 1 - float(m.cdf(cap - 3 * d1.h))
    assert float(d1.quantile(1.0 - 1e-9)) == pytest.approx(cap, rel=1e-9)
    d = _quiet([(5_000, m, 1.1)], cap=cap)  # cap applies to the scaled cost 1.1 X
    assert d.mean == pytest.approx(5_000 * 1.1 * float(m.lev(cap / 1.1)), rel=1e-9)
    ex = _quiet([(5_000, m, 1.1)], cap=cap, layer="excess")
    assert ex.mean == pytest.approx(5_000 * 1.1 * float(m.stop_loss(cap / 1.1)), rel=1e-6)


def test_spliced_and_mixed_cohorts():
    cohorts = [
        (3_000, Spliced(mean=11_000, cv=2.0)),
        (150, Spliced(mean=89_000, cv=1.5, zero_share=0.0)),
        E.Cohort(40.0, Lognormal(mean=5_000, cv=1.0), count="poisson"),
    ]
    d = _quiet(cohorts)
    assert d.mean == pytest.approx(3_000 * 11_000 + 150 * 89_000 + 40 * 5_000, rel=1e-6)
    var = 3_000 * (2.0 * 11_000) ** 2 + 150 * (1.5 * 89_000) ** 2 + 40 * 2 * 5_000**2
    assert d.var == pytest.approx(var, rel=1e-3)


def _mc_totals(rng, n_members, n_scen, sigma, scale, cap=None):
    x = rng.lognormal(math.log(scale), sigma, size=(n_scen, n_members))
    if cap is not None:
        np.minimum(x, cap, out=x)
    return x.sum(axis=1)


@pytest.mark.parametrize("cap", [None, 30_000.0])
def test_stop_loss_and_summary_vs_seeded_monte_carlo(cap):
    """A seeded numpy Monte Carlo of the total (with its SE) agrees with the exact answer."""
    n, sigma, scale = 30, 1.2, 5_000.0
    dist = stats.lognorm(sigma, scale=scale)
    d = _quiet([(n, dist)], cap=cap)
    s = _mc_totals(np.random.default_rng(2024), n, 100_000, sigma, scale, cap)
    for p in (0.5, 0.9, 0.99):
        a = float(d.quantile(p))
        sl = np.maximum(s - a, 0.0)
        se = sl.std(ddof=1) / math.sqrt(len(sl))
        assert abs(float(d.stop_loss(a)) - sl.mean()) < 4 * se
    # the same statistics as metrics.summarize, on the payment -S
    ex = d.summary()
    mc = M.summarize(xr.Dataset({"provider_net": ("scenario", -s)}))
    assert list(ex["stat"].values) == [k for k in mc["stat"].values]
    assert float(ex["se"].sum()) == 0.0
    for stat in ex["stat"].values:
        diff = abs(float(ex["value"].sel(stat=stat)) - float(mc["value"].sel(stat=stat)))
        slack = 1e-9 if str(stat).startswith("p_") else 2 * d.h  # lattice step for money
        assert diff <= 4 * float(mc["se"].sel(stat=stat)) + slack, stat


def test_summary_payment_mapping():
    d = _quiet([(100, stats.expon(scale=1_000.0))])
    bench = 105_000.0
    s = d.summary(payment=lambda x: bench - x, levels=(0.9,), quantiles=())
    assert float(s["value"].sel(stat="mean")) == pytest.approx(bench - d.mean)
    assert float(s["value"].sel(stat="p_loss")) == pytest.approx(1 - float(d.cdf(bench)))
    assert float(s["value"].sel(stat="VaR_90")) == pytest.approx(float(d.quantile(0.9)) - bench)


def test_self_check_flags_a_coarse_grid():
    with pytest.warns(UserWarning, match="self-check failed"):
        d = E.aggregate([(200_000, Lognormal(mean=12_000, cv=2.0))], n_grid=1024)
    assert not d.ok and "grid is too coarse" in d.validation


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cohorts": [(10, Lognormal(mean=1.0, cv=1.0))], "layer": "middle"},
        {"cohorts": [(10, Lognormal(mean=1.0, cv=1.0))], "cap": -5.0},
        {"cohorts": [(10, Lognormal(mean=1.0, cv=1.0))], "n_grid": 100},
        {"cohorts": [(-1, Lognormal(mean=1.0, cv=1.0))]},
        {"cohorts": [(2.5, Lognormal(mean=1.0, cv=1.0))]},
        {"cohorts": [(10, "lognormal")]},
        {"cohorts": []},
    ],
)
def test_bad_input_raises(kwargs):
    with pytest.raises(VbsimInputError):
        E.aggregate(**kwargs)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        Spliced(mean=12_000, cv=2.5),
        CompoundPoisson(rate=2.0, severity=Lognormal(mean=6_000, cv=1.5)),
    ],
    ids=["spliced", "compound_poisson"],
)
def test_engine_one_year_matches_exact(model):
    """The engine's one-year totals (lognormal risk scores; no deaths, churn or trend) agree with
    the exact distribution, statistic by statistic, within 4 Monte Carlo SE (+ 2 lattice steps
    for money)."""
    from vbsim.drivers import Drivers
    from vbsim.population import Cohort
    from vbsim.simulate import simulate

    cohort = Cohort("a", 200, model, risk_sd=0.5, mortality=0.0, churn=0.0)
    drivers = Drivers(trend_mean=0.0, trend_sd=0.0, shock_prob=0.0)
    cap = 50_000.0
    paths = simulate(cohort, drivers, n_scenarios=20_000, years=1, seed=5, thresholds=[cap],
                     progress=False)
    cost = paths["cost"].isel(year=0, cohort=0, drop=True)
    capped = paths["cost_capped"].isel(year=0, cohort=0, threshold=0, drop=True)
    for x, kw in ((cost, {}), (capped, {"cap": cap})):
        d = _quiet([E.Cohort(200, model, risk_sd=0.5)], **kw)
        ex = d.summary()
        mc = M.summarize(xr.Dataset({"provider_net": -x}))
        diff = np.abs(ex["value"] - mc["value"])
        slack = xr.where(ex["stat"].str.startswith("p_"), 1e-9, 2 * d.h)
        assert np.all(diff <= 4 * mc["se"] + slack), (kw, diff.values, mc["se"].values)


@pytest.mark.slow
def test_engine_one_year_with_deaths_churn_and_eol_matches_exact():
    """A population with deaths (rate proportional to the risk score, end-of-life uplift and
    amount), churn (a leaver costs the part of the year it stayed), lognormal risk scores and,
    in one cohort, a stationary start with ageing (prior tenure), in another compound-Poisson
    costs: the engine's year-1 totals,
    capped and uncapped, agree with the exact distribution of YearOneMember statistic by
    statistic within 4 Monte Carlo SE (+ 2 lattice steps)."""
    from vbsim.drivers import Drivers
    from vbsim.population import Cohort, Population
    from vbsim.simulate import simulate

    pop = Population([
        Cohort("ln", 150, Lognormal(mean=10_000, cv=2.0), risk_sd=0.5, mortality=0.08,
               eol_uplift=3.0, eol_cost=30_000.0, churn=0.15),
        Cohort("sp", 60, Spliced(mean=25_000, cv=2.0, tail_shape=0.0), risk_sd=0.7,
               mortality=0.2, eol_uplift=0.0, eol_cost=60_000.0, churn=0.3),
        # a stationary start with ageing: a mixture over the members' prior tenure
        Cohort("aged", 80, Lognormal(mean=8_000, cv=1.5), risk_sd=0.4, mortality=0.05,
               eol_uplift=2.0, eol_cost=20_000.0, churn=0.1, risk_ageing=0.05,
               mortality_ageing=0.1),
        Cohort("cp", 100, CompoundPoisson(rate=2.0, severity=Lognormal(mean=4_000, cv=1.5)),
               risk_sd=0.3, mortality=0.06, eol_uplift=2.5, eol_cost=15_000.0, churn=0.2),
    ])
    drivers = Drivers(trend_mean=0.0, trend_sd=0.0, shock_prob=0.0)
    cap = 80_000.0
    paths = simulate(pop, drivers, n_scenarios=20_000, years=1, seed=11, thresholds=[cap],
                     progress=False)
    cost = paths["cost"].isel(year=0, drop=True).sum("cohort")
    capped = paths["cost_capped"].isel(year=0, threshold=0, drop=True).sum("cohort")
    for x, kw in ((cost, {}), (capped, {"cap": cap})):
        d = _quiet(pop, **kw)
        assert d.ok, d.validation
        ex = d.summary()
        mc = M.summarize(xr.Dataset({"provider_net": -x}))
        diff = np.abs(ex["value"] - mc["value"])
        slack = xr.where(ex["stat"].str.startswith("p_"), 1e-9, 2 * d.h)
        assert np.all(diff <= 4 * mc["se"] + slack), (kw, diff.values, mc["se"].values)
    # the exact member model's mean is the closed form the engine's docs give
    m = E.YearOneMember(pop["ln"])
    r, w = E._risk_nodes(1.0, 0.5)  # the same Gauss-Hermite nodes
    q = np.minimum(0.08 * r, 0.85)
    want = w @ ((0.85 - q) * r * 10_000 + q * (3 * r * 10_000 + 30_000) + 0.15 * r * 5_000)
    assert m.mean == pytest.approx(want, rel=1e-10)


def test_exact_mode_refuses_what_is_not_a_population():
    with pytest.raises(VbsimInputError, match="a vbsim.Population or a list of cohorts"):
        E.aggregate(5)


def test_heavy_compound_member_with_exits_keeps_a_sane_window():
    """A compound-Poisson member with deaths and churn whose grid mean sits a little below the
    exact mean: the search for the member's tail stops where its table ends (it used to double
    200 times, giving a lattice step of 1e56), and the result passes its own self-check."""
    from vbsim.population import Cohort

    c = Cohort("cp", 950, CompoundPoisson(rate=5.5, severity=Lognormal(mean=254.0, cv=4.0)),
               risk_sd=0.0, mortality=0.11, eol_uplift=2.8, eol_cost=5_351.0, churn=0.27)
    d = _quiet([c])
    assert d.h < 1e3 and d.lo + d.h * d.pmf.size < 100 * d.mean
    assert d.mean == pytest.approx(E.YearOneMember(c).mean * 950, rel=1e-6)


def test_compound_member_under_a_narrow_cap_is_exact():
    """A compound-Poisson member capped at 1.6% of its claims' mean, a few hundred lattice steps
    wide: its lattice used a window sized for the capped total, so the uncapped tail wrapped
    into [0, cap] (mean 6e-6 off); claims lumped at the cap leave nothing to wrap."""
    cp = CompoundPoisson(rate=3.42, severity=Lognormal(mean=32_000.0, cv=2.1))
    cap = 1_795.86
    d = E.aggregate([(512, Lognormal(mean=3_495.0, cv=0.55)), (1_251, cp)], cap=cap)
    assert d.ok, d.validation
    assert cap / d.h < 1_000  # the lattice is coarse next to the cap
    exact = 512 * Lognormal(mean=3_495.0, cv=0.55).lev(cap) + 1_251 * cp.capped_moments(cap)[0]
    assert d.mean == pytest.approx(exact, rel=1e-7)
    assert d.exact_mean == pytest.approx(exact, rel=1e-12)


def test_heavy_tail_variance_shortfall_is_named_and_shrinks_with_a_wider_window():
    """GPD tail_shape 0.39: the variance beyond any practical window is a visible share of the
    total. The self-check says so (not "grid too coarse", not aliasing: S's variance is the
    lattice members' own), and the advice it gives (same h, twice N) takes in more of the tail:
    the shortfall falls like top^(2 - 1/xi), by 2^-0.56 = 0.68 per doubling."""
    sp = Spliced(mean=49_163.0, cv=3.215, zero_share=0.113, tail_share=0.060, tail_shape=0.393)
    with pytest.warns(UserWarning, match="variance short"):
        d = E.aggregate([(2_737, sp)])
    lm, lv, top = d.lattice_moments
    assert not d.ok and "variance short" in d.validation and f"{top:.6g}" in d.validation
    assert d.var == pytest.approx(lv, rel=1e-5)  # nothing wraps around the window
    short = 1 - lv / d.exact_var
    assert 1e-3 < short < 2e-2
    with pytest.warns(UserWarning, match="variance short"):
        wider = E.aggregate([(2_737, sp)], h=d.h, n_grid=2 * d.pmf.size)
    assert wider.lattice_moments[2] > 1.9 * top
    ratio = (1 - wider.lattice_moments[1] / wider.exact_var) / short
    assert 0.6 < ratio < 0.76
    # below the lattice's top the distribution is unchanged by the wider window
    q = [0.5, 0.99, 0.999]
    assert np.allclose(wider.quantile(q), d.quantile(q), rtol=0, atol=1.01 * d.h)


def test_far_tail_is_rounded_from_the_stop_loss_premium():
    """An excess layer far above the mean: rounding from lev gives probabilities that are
    rounding noise of either sign in the far tail (second differences of numbers near the
    mean); the closed-form stop-loss premium keeps them non-negative and tiny."""
    cost = Lognormal(mean=8_600.0, cv=4.0)
    ly = E._Layer(E.Cohort(2_000, cost), 400_000.0, "excess")
    h, n = 2_000.0, 2**16
    f = E._discretise(lambda y: ly.rounding_values(y, h, n), h, n)
    f_lev = E._discretise(lambda y: ly.lev(y, h, n), h, n)
    assert f[1:].min() >= -1e-30 and f_lev[1:].min() < -1e-20
    far = slice(n // 2, n - 1)
    assert np.abs(f[far]).max() < 1e-12 < np.abs(f_lev[far]).max()
    # the method of rounding keeps the mean of min((Y - d)+, top), top the last point
    m = float(cost.stop_loss(400_000.0) - cost.stop_loss(400_000.0 + (n - 1) * h))
    assert float(f @ (h * np.arange(n))) == pytest.approx(m, rel=1e-9)


def test_year_one_member_stop_loss_matches_quadrature_far_in_the_tail():
    """A member with churn (the leavers' cost is U X): E[(Y - d)+] = 0.9 pi(d) +
    0.1 int_0^1 u pi(d / u) du by quadrature against the member's own table of the premium, to
    2e-7 relative out to d = 2e8; mean - lev(d) is 5% off there (the premium is 1e-4 of the
    mean)."""
    from vbsim.population import Cohort as Members

    x = Spliced(mean=9_000.0, cv=3.0, tail_shape=0.4)
    m = E.YearOneMember(Members("a", 100, x, risk_sd=0.0, mortality=0.0, churn=0.1))
    for d in (100.0, 2e4, 2e6, 2e8):
        def g(lu, d=d):  # u pi(d / u) du = u^2 pi(d / u) dlog u
            return math.exp(2 * lu) * float(x.stop_loss(d / math.exp(lu)))

        leave = sum(integrate.quad(g, a, b, epsrel=1e-12, limit=400)[0]
                    for a, b in ((-60, -20), (-20, -5), (-5, -1), (-1, 0)))
        ref = 0.9 * float(x.stop_loss(d)) + 0.1 * leave
        assert float(m.stop_loss(d)) == pytest.approx(ref, rel=2e-7, abs=0.0), d
    assert abs((m.mean - float(m.lev(2e8))) / ref - 1) > 0.01
    # beyond the member's lev table (top ~2e9 here) its premium table goes on in log steps of
    # 40 ln(10) / 2^12 = 0.0225; linear in log-log, the error is at most step^2 / 8 = 6e-5 times
    # the curvature of log pi (below 1 for these tails); 1e15 is also beyond X's own table
    assert math.exp(m._table()[0][-1]) < 1e11
    for d in (1e11, 1e15):
        def g(lu, d=d):
            return math.exp(2 * lu) * float(x.stop_loss(d / math.exp(lu)))

        leave = sum(integrate.quad(g, a, b, epsrel=1e-12, limit=400)[0]
                    for a, b in ((-80, -20), (-20, -5), (-5, -1), (-1, 0)))
        ref = 0.9 * float(x.stop_loss(d)) + 0.1 * leave
        assert float(m.stop_loss(d)) == pytest.approx(ref, rel=1e-4, abs=0.0), d


def test_year_one_member_premium_beyond_its_tables_with_deaths():
    """Stays (cost R X), deaths (R b X + eol) and leavers (R U X) at and beyond the top of the
    member's tables, where for some risk nodes the node sums read the model's far premium table
    (in a pass of their own) and for others its main table: E[(Y - d)+] summed over the same
    Gauss-Hermite nodes from the model's closed-form premium, the leavers' by quadrature, to
    1e-4 relative (the far table's log-log steps; no absolute slack, the premiums are tiny)."""
    from vbsim.population import Cohort as Members

    x = Spliced(mean=9_000.0, cv=3.0, tail_shape=0.4)
    mort, churn, b, eol, sd = 0.1, 0.1, 2.0, 5_000.0, 0.5
    m = E.YearOneMember(Members("a", 100, x, risk_sd=sd, mortality=mort, churn=churn,
                                eol_uplift=b, eol_cost=eol))
    r, w = E._risk_nodes(1.0, sd)
    q = np.minimum(mort * r, 1 - churn)
    for d in (m._hi / 3, m._hi, 3 * m._hi, 1e17):
        def leave(rk, d=d):  # E[(r U X - d)+] = r int u^2 pi(d / (r u)) dlog u
            def g(lu):
                return math.exp(2 * lu) * float(x.stop_loss(d / (rk * math.exp(lu))))

            return rk * sum(integrate.quad(g, lo, hi, epsrel=1e-12, limit=400)[0]
                            for lo, hi in ((-80, -20), (-20, -5), (-5, -1), (-1, 0)))

        ref = sum(wk * ((1 - qk - churn) * rk * float(x.stop_loss(d / rk))
                        + qk * b * rk * float(x.stop_loss((d - eol) / (b * rk)))
                        + churn * leave(rk))
                  for rk, wk, qk in zip(r, w, q, strict=True))
        assert float(m.stop_loss(d)) == pytest.approx(ref, rel=1e-4, abs=0.0), d


@pytest.mark.parametrize("n", [1, 20, 500])
def test_members_that_nearly_always_reach_the_cap(n):
    """Compound-Poisson members (10 claims a year of 30,000 on average) capped at 5,000: almost
    every member costs the cap, so S has a small sd but a long left tail. One member's
    distribution is wider than a window around the mean: its lattice is folded modulo N, the
    window reaches down below the Chernoff bound of the left tail (20 members: two at 0 at once
    have probability ~5e-7, below mean - 12 sd; the variance was 2.8e-3 short, aliased), and n
    members' rounded atoms (the cap is off the lattice) have steps to spare above n x cap.
    Before, one member was cut at the window's width (mean 6% off) and the atoms of 20 wrapped
    round."""
    cp = CompoundPoisson(rate=10.0, severity=Lognormal(mean=30_000.0, cv=2.0))
    d = _quiet([(n, cp)], cap=5_000.0)
    m1, m2 = cp.capped_moments(5_000.0)
    assert d.mean == pytest.approx(n * m1, rel=1e-7)
    assert d.var == pytest.approx(n * (m2 - m1 * m1), rel=1e-3)


@pytest.mark.parametrize("n", [20, 200, 2000])
def test_lower_edge_bounds_the_left_tail(n):
    """Members costing 1,000 except with probability 1e-4 (then 0): S = 1,000 (n - K),
    K ~ binomial(n, 1e-4). The window's lower edge a has P(S <= a) <= 1e-15 exactly, and is
    not far below what that needs: two more members at 0 than a allows have probability
    above 1e-15 x 1e-3."""
    two = stats.rv_discrete(values=([0, 1], [1e-4, 1 - 1e-4]))
    c = E.Cohort(n, two, scale=1000.0)
    ly = E._Layer(c, None, "capped")
    a = E._lower_edge([(c, ly)], [(ly.base_mean, ly.base_var + ly.base_mean**2)])
    k_min = n - math.floor(a / 1000.0)  # S <= a exactly when K >= k_min
    assert stats.binom.sf(k_min - 1, n, 1e-4) <= E.LOWER_TAIL_EPS
    assert stats.binom.sf(k_min - 3, n, 1e-4) > 1e-3 * E.LOWER_TAIL_EPS


def test_self_check_names_the_main_cause_of_a_variance_error():
    """The members' own lattice carries most of the variance error and the FFT adds a little:
    the warning names the members' cause (a coarse step when too high, a heavy tail when too
    low) with both parts, not aliasing; an error the members do not carry is aliasing."""
    x = np.arange(5.0)
    pmf = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    m = float(pmf @ x)
    v = float(pmf @ (x - m) ** 2)

    def check(exact_var, lattice_var):
        d = E.ExactDistribution(0.0, 1.0, pmf, exact_mean=m, exact_var=exact_var,
                                top_is_bound=True, lattice_moments=(m, lattice_var, 4.0))
        assert not d.ok
        return d.validation.splitlines()[-2]

    ev = v / 1.0223  # numerical variance 2.23% high
    assert "step is coarse" in check(ev, ev * 1.0248) and "adds -2.5e-03" in check(ev, ev * 1.0248)
    assert "aliasing" in check(ev, ev * 1.0001)
    ev = v / 0.98  # 2% low, 1.5% of it in the members
    assert "heavy tail" in check(ev, ev * 0.985)


def _on_one_and_two_threads(f):
    """``f()`` run with 1 and with 2 numba threads."""
    before = numba.get_num_threads()
    try:
        out = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out.append(f())
    finally:
        numba.set_num_threads(before)
    return out


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_member_node_sums_split_over_threads_give_the_same_bits():
    """YearOneMember's node sums run on numba's threads when large (each point summed alone):
    the values equal those of one thread, bit for bit, for lev, cdf and premium."""
    from vbsim.population import Cohort as Members

    c = Members("aged", 100, Lognormal(mean=8_000, cv=1.5), risk_sd=0.4, mortality=0.05,
                eol_uplift=2.0, eol_cost=20_000.0, churn=0.1, risk_ageing=0.05,
                mortality_ageing=0.1)
    m = E.YearOneMember(c)
    y = np.geomspace(1.0, 1e7, 3_001)
    assert y.size >= 2 * max(1024, 2**20 // m.a.size)  # large enough to be split in two
    one, two = _on_one_and_two_threads(lambda: [m._mix(w, y) for w in (E.LEV, E.CDF, E.PI)])
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_compound_poisson_passes_split_over_threads_give_the_same_bits():
    """The claims' premium grid and the Poisson transform run on numba's threads when large:
    the same bits as one thread."""
    from vbsim.costs import _MIN_PART, compound_poisson_pmf

    n = 4 * _MIN_PART  # split in two
    sevs = [Lognormal(mean=3_000.0 * a, cv=1.5) for a in (0.5, 1.0, 2.0)]
    one, two = _on_one_and_two_threads(
        lambda: compound_poisson_pmf(sevs, [0.25, 0.5, 0.25], 2.0, 50.0, n // 2, n))
    np.testing.assert_array_equal(one, two)
    assert abs(one @ (50.0 * np.arange(n)) / 6_750.0 - 1.0) < 1e-9  # 2 x 3,000 x 1.125
