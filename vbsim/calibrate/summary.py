"""Fit a :class:`vbsim.costs.Spliced` cost model and an AR(1) persistence to summary statistics.

The shape statistics (cv, percentiles relative to the mean, top and bottom spending shares) do
not depend on the cost level, so the fit searches the three shape parameters of the spliced
model (lognormal body spread ``sigma``, ``tail_share``, ``tail_shape``; ``zero_share`` is fixed
at its target) by least squares, and the mean is then matched exactly. Every statistic of a
candidate is computed semi-analytically from the model's ``ppf`` and ``lev`` (no simulation):
see :mod:`vbsim.calibrate.stats`. Persistence targets fix the AR(1) latent correlation ``rho``
by root finding on a normal orthant probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import optimize, special, stats

from .._validate import VbsimInputError, check_real
from .mixture import RiskMixed
from .report import Calibration, FitReport
from .stats import model_top_share, parse_persistence_key

__all__ = ["AGED_NON_DUAL", "from_summary"]

#: Default targets for aged non-dual Medicare FFS beneficiaries.
#: top_shares and bottom 50%: DOMAIN.md section 5, Wallis et al., EClinicalMedicine 2021
#: (aged FFS, 2007-2018). persistence: DOMAIN.md section 5, Commonwealth Fund 2019 (28% of the
#: top 10% stay top-10% in each of the next two years). mean: DOMAIN.md section 5, MSSP PY2023
#: median per-capita spend for aged non-dual, ~$11k PBPY. zero_share 0: assumption (the
#: Wallis shares are for users and non-users together and give no zero share).
AGED_NON_DUAL: dict = {
    "mean": 11_000.0,
    "top_shares": {0.01: 0.149, 0.05: 0.415, 0.10: 0.600, 0.20: 0.791},
    "bottom_shares": {0.50: 0.043},
    "persistence": {"top10_stay_2yr": 0.28},
}

_SIGMA_BOUNDS = (0.05, 3.4)  # inside Spliced's own solver range (0.02, 3.5)
_TAIL_SHARE_BOUNDS = (0.002, 0.5)  # Spliced allows [0, 0.5]
_TAIL_SHAPE_BOUNDS = (0.0, 0.45)  # Spliced allows [0, 0.5); 0.45 keeps the variance modest


def _cv_of(sigma: float, zero_share: float, tail_share: float, tail_shape: float) -> float:
    """cv (zeros included) of the spliced model with body spread ``sigma``, at mu = 0.

    Same splice as :class:`vbsim.costs.Spliced` (threshold = lognormal quantile at
    ``1 - tail_share``, continuous density): positive part Y has
    ``E[Y] = e^{s^2/2} Phi(z_q - s) + q (t + beta/(1-xi))`` and
    ``E[Y^2] = e^{2 s^2} Phi(z_q - 2 s) + q (t^2 + 2 t beta/(1-xi) + 2 beta^2/((1-xi)(1-2 xi)))``.
    """
    s, q, xi = sigma, tail_share, tail_shape
    zq = float(special.ndtri(1.0 - q))
    t = math.exp(s * zq)
    beta = q * s * t / float(stats.norm.pdf(zq))
    m1 = math.exp(0.5 * s * s) * float(special.ndtr(zq - s)) + q * (t + beta / (1 - xi))
    m2 = math.exp(2 * s * s) * float(special.ndtr(zq - 2 * s)) + q * (
        t * t + 2 * t * beta / (1 - xi) + 2 * beta * beta / ((1 - xi) * (1 - 2 * xi))
    )
    return math.sqrt(m2 / ((1.0 - zero_share) * m1 * m1) - 1.0)


def _spliced(mean: float, zero_share: float, x: np.ndarray):
    from ..costs import Spliced

    sigma, q, xi = (float(v) for v in x)
    return Spliced(mean=mean, cv=_cv_of(sigma, zero_share, q, xi), zero_share=zero_share,
                   tail_share=q, tail_shape=xi)


def _check_fractions(field: str, d: Mapping | None, zero_share: float) -> dict[float, float]:
    if d is None:
        return {}
    if not isinstance(d, Mapping):
        raise VbsimInputError(f"{field} must be a mapping {{fraction: share}}; got {d!r}")
    out = {}
    for k, v in d.items():
        p = check_real(f"{field} key", k, 0, 1, lo_open=True, hi_open=True)
        out[p] = check_real(f"{field}[{p:g}]", v, 0, 1)
    return dict(sorted(out.items()))


def _stats_of(model, cv_t, pct, tops, bottoms, risk_sd) -> dict[str, float]:
    if risk_sd > 0:
        model = RiskMixed(model, risk_sd)
    got: dict[str, float] = {}
    if cv_t is not None:
        got["cv"] = model.sd / model.mean
    for u in pct:
        got[f"p{100 * u:g}"] = float(model.ppf(u))
    for p in tops:
        got[f"top{100 * p:g}_share"] = model_top_share(model, p)
    for p in bottoms:
        got[f"bottom{100 * p:g}_share"] = 1.0 - model_top_share(model, 1.0 - p)
    return got


def from_summary(
    *,
    mean: float,
    cv: float | None = None,
    percentiles: Mapping[float, float] | None = None,
    zero_share: float = 0.0,
    top_shares: Mapping[float, float] | None = None,
    bottom_shares: Mapping[float, float] | None = None,
    persistence: Mapping[str, float] | None = None,
    persistence_exits: float = 0.0,
    risk_sd: float = 0.0,
    weights: Mapping[str, float] | None = None,
) -> Calibration:
    """Fit a spliced cost model (and AR(1) persistence) to published summary statistics.

    Parameters
    ----------
    mean : float
        Mean annual cost per member, zeros included (matched exactly).
    cv : float, optional
        Coefficient of variation target (relative error enters the fit).
    percentiles : mapping, optional
        ``{u: dollars}``, e.g. ``{0.5: 1330, 0.9: 11298}`` (log-ratio errors, offset 1% of mean).
    zero_share : float
        Share of members with zero cost, in [0, 0.9] (matched exactly). Default 0: assumption.
    top_shares, bottom_shares : mapping, optional
        ``{p: share}``: share of total spending held by the top (bottom) fraction ``p``.
    persistence : mapping, optional
        ``{"top10_stay_2yr": 0.28}``: fixes the AR(1) latent correlation ``rho``. Only one key
        can be matched exactly (one parameter); with several, ``rho`` minimises the squared error.
    persistence_exits : float
        Share of the year-1 top group who die or leave before the last year, if the target
        counts them as not staying; the target is divided by ``1 - persistence_exits`` to get
        persistence among survivors, which is what the latent AR(1) governs. Default 0
        (target read as among survivors).
    risk_sd : float
        Log-sd of the cohort's lognormal risk scores (mean 1) that the engine multiplies the
        cost by (:class:`vbsim.population.Cohort` ``risk_sd``), in [0, 2]. The targets are then
        matched by the member cost ``R X`` (risk score times cost model), not by ``X`` alone:
        see :mod:`vbsim.calibrate.mixture`. Default 0: all spread in the cost model; use
        :meth:`Calibration.cohort` to build a cohort with the matching settings.
    weights : mapping, optional
        Weight per statistic name (e.g. ``{"top1_share": 2.0}``); default 1 each.

    Returns
    -------
    Calibration
        ``cost`` (a :class:`vbsim.costs.Spliced`), ``rho`` and the fit ``report``.

    Examples
    --------
    >>> cal = from_summary(mean=11_000, top_shares={0.01: 0.149, 0.10: 0.600},
    ...                    persistence={"top10_stay_2yr": 0.28})
    >>> cal.report.max_abs_error < 0.01, round(cal.rho, 2)
    (True, 0.74)
    """
    mean = check_real("mean", mean, 0, lo_open=True)
    zero_share = check_real("zero_share", zero_share, 0, 0.9)
    exits = check_real("persistence_exits", persistence_exits, 0, 1, hi_open=True)
    risk_sd = check_real("risk_sd", risk_sd, 0, 2)
    cv_t = None if cv is None else check_real("cv", cv, 0, 20, lo_open=True)
    tops = _check_fractions("top_shares", top_shares, zero_share)
    bottoms = _check_fractions("bottom_shares", bottom_shares, zero_share)
    pct: dict[float, float] = {}
    for u, v in (percentiles or {}).items():
        uu = check_real("percentiles key", u, 0, 1, lo_open=True, hi_open=True)
        pct[uu] = check_real(f"percentiles[{uu:g}]", v, 0)
    pct = dict(sorted(pct.items()))
    for u, v in pct.items():
        if u <= zero_share and v > 0:
            raise VbsimInputError(
                f"percentiles[{u:g}] must be 0 when zero_share={zero_share:g} >= {u:g}; got {v:g}"
            )
    for p in tops:
        if p >= 1 - zero_share:
            raise VbsimInputError(
                f"top_shares key must be < 1 - zero_share = {1 - zero_share:g}; got {p:g}"
            )
    n_targets = (cv_t is not None) + len(pct) + len(tops) + len(bottoms)
    if n_targets == 0:
        raise VbsimInputError(
            "from_summary needs at least one shape target: cv, percentiles, top_shares or "
            "bottom_shares"
        )
    w = dict(weights or {})
    parsed = _parse_persistence(persistence, exits) if persistence is not None else None

    target: dict[str, float] = {}
    if cv_t is not None:
        target["cv"] = cv_t
    target.update({f"p{100 * u:g}": v for u, v in pct.items()})
    target.update({f"top{100 * p:g}_share": v for p, v in tops.items()})
    target.update({f"bottom{100 * p:g}_share": v for p, v in bottoms.items()})
    for k in w:
        if k not in target:
            raise VbsimInputError(f"weights key {k!r} is not a target; targets: {list(target)}")

    def residuals(x: np.ndarray) -> np.ndarray:
        try:
            got = _stats_of(_spliced(mean, zero_share, x), cv_t, pct, tops, bottoms, risk_sd)
        except (VbsimInputError, ValueError, ZeroDivisionError, OverflowError):
            return np.full(len(target), 10.0)
        r = []
        for k, t in target.items():
            g = got[k]
            if k == "cv":
                e = (g - t) / t
            elif k.startswith("p"):
                c = 0.01 * mean
                e = math.log((g + c) / (t + c))
            else:
                e = g - t
            r.append(w.get(k, 1.0) * e)
        return np.asarray(r) if np.all(np.isfinite(r)) else np.full(len(target), 10.0)

    lo = np.array([_SIGMA_BOUNDS[0], _TAIL_SHARE_BOUNDS[0], _TAIL_SHAPE_BOUNDS[0]])
    hi = np.array([_SIGMA_BOUNDS[1], _TAIL_SHARE_BOUNDS[1], _TAIL_SHAPE_BOUNDS[1]])
    # Multi-start: starts ordered by their initial loss; stop once two runs agree on the
    # minimum (they did for every target set tried), else try all four.
    starts = [np.array(x) for x in
              ((1.0, 0.05, 0.2), (1.6, 0.1, 0.3), (0.6, 0.2, 0.1), (2.2, 0.02, 0.35))]
    starts.sort(key=lambda x: float(np.sum(residuals(x) ** 2)))
    best = None
    for x0 in starts:
        sol = optimize.least_squares(residuals, x0, bounds=(lo, hi), x_scale="jac",
                                     xtol=1e-10, ftol=1e-12, gtol=1e-10, max_nfev=400)
        agree = best is not None and abs(sol.cost - best.cost) <= 1e-6 * best.cost + 1e-14
        if best is None or sol.cost < best.cost:
            best = sol
        if agree:
            break
    model = _spliced(mean, zero_share, best.x)
    got = _stats_of(model, cv_t, pct, tops, bottoms, risk_sd)

    rows: list[tuple] = [("mean", mean, float(model.mean)), ("zero_share", zero_share,
                                                              float(model.cdf(0.0)))]
    rows += [(k, t, got[k]) for k, t in target.items()]
    notes = [
        "shape fitted by least squares over (sigma, tail_share, tail_shape) of vbsim.costs."
        "Spliced; shares and percentiles computed semi-analytically from ppf and lev",
    ]
    if risk_sd > 0:
        notes.append(f"statistics are of the member cost R x X, R lognormal with mean 1 and "
                     f"log-sd risk_sd = {risk_sd:g} (Gauss-Hermite over R)")
    rho = None
    if parsed:
        rho, prow, pnote = _fit_rho(parsed, exits, RiskMixed(model, risk_sd))
        rows += prow
        notes += pnote
    title = "from_summary: Spliced" + ("" if rho is None else " + AR(1) persistence")
    return Calibration(cost=model, rho=rho, report=FitReport.build(rows, title, notes),
                       risk_sd=risk_sd)


def _parse_persistence(persistence: Mapping[str, float], exits: float) -> list[tuple]:
    """Check keys and values before any fitting: ``[(key, p, h, target, survivor target)]``."""
    if not isinstance(persistence, Mapping) or not persistence:
        raise VbsimInputError(
            f"persistence must be a mapping like {{'top10_stay_2yr': 0.28}}; got {persistence!r}"
        )
    parsed = []
    for key, v in persistence.items():
        p, h = parse_persistence_key(key)
        t = check_real(f"persistence[{key!r}]", v, 0, 1)
        ts = t / (1.0 - exits)
        if len(persistence) == 1 and not p**h <= ts <= 1.0:
            raise VbsimInputError(
                f"persistence target must be in [{p**h:.4g}, 1] for {key} (independence to "
                f"always staying); got {ts:.4g}"
            )
        parsed.append((key, p, h, t, ts))
    return parsed


def _fit_rho(parsed: list[tuple], exits: float, member: RiskMixed):
    if len(parsed) == 1:
        key, p, h, _, ts = parsed[0]
        lo, hi = member.persistence(0.0, p, h), member.persistence(0.999, p, h)
        if not lo <= ts <= hi:
            raise VbsimInputError(
                f"persistence target must be in [{lo:.4g}, {hi:.4g}] for {key} (rho in "
                f"[0, 0.999], risk_sd {member.risk_sd:g}); got {ts:.4g}"
            )
        rho = float(optimize.brentq(lambda r: member.persistence(r, p, h) - ts, 0.0, 0.999,
                                    xtol=1e-6))
    else:
        def loss(r: float) -> float:
            return sum((member.persistence(r, p, h) - ts) ** 2 for _, p, h, _, ts in parsed)

        rho = float(optimize.minimize_scalar(loss, bounds=(0.0, 0.999), method="bounded",
                                             options={"xatol": 1e-6}).x)
    rows = [(k, ts, member.persistence(rho, p, h)) for k, p, h, _, ts in parsed]
    notes = [
        "persistence: Gaussian AR(1) latent rank (cost = ppf(Phi(z))), P(top p in each of the "
        "next h years | top p now) among members alive and enrolled in all years (trivariate "
        "normal orthant for h = 2, correlations rho, rho, rho^2)"
    ]
    if exits > 0:
        notes.append(
            f"persistence targets divided by 1 - persistence_exits = {1 - exits:g} (exits "
            "counted as leavers in the source, removed here)"
        )
    return rho, rows, notes
