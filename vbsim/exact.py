"""Exact mode: the one-year distribution of total cost by FFT, an instant answer without sampling.

For independent members the total cost ``S = sum over cohorts c, members i of Y_ci`` with
``Y = scale x X`` (``X`` the cohort's member cost model), optionally per-member truncated
(``min(Y, cap)``, what truncation or an individual stop-loss leaves to the ACO) or the excess
(``(Y - cap)+``, what the stop-loss reimburses). Method (``docs/metrics.md``):

1. Discretise each member layer on the lattice ``0, h, 2h, ...`` by the mean-preserving
   *method of rounding* written with limited expected values (Klugman, Panjer & Willmot,
   *Loss Models*, "method of rounding" / local moment matching of order 1):
   ``f_0 = 1 - lev(h)/h``, ``f_j = (2 lev(jh) - lev((j-1)h) - lev((j+1)h)) / h``.
   A cap only changes ``lev``: ``lev_capped(y) = lev(min(y, d))``, ``lev_excess(y) =
   lev(y + d) - lev(d)``, so the cap's mean is kept exactly even when ``d`` is off the lattice.
2. Transform with the FFT; ``n`` iid members: ``phi^n``; a Poisson(``n``) number of members:
   ``exp(n (phi - 1))``; cohorts multiply. A compound-Poisson member model (``rate``,
   ``severity``) is built the same way from its severity before its cap is applied.
3. Invert on a window ``[lo, lo + N h)`` around the mean (``mean +- k sd``, widened to hold a
   member's tail): the FFT returns ``S mod N h``, so a window that holds ``S`` with probability
   ~1 need not start at 0. Mass outside the window would alias; the ``validation`` string checks
   the numerical mean and variance against exact ones and says when the grid is too coarse or
   the window too narrow.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from vbsim import metrics
from vbsim._member_mix import CDF, LEV, PI, member_mix
from vbsim._threads import split_range
from vbsim._validate import VbsimInputError, check_choice, check_int, check_real
from vbsim.costs import CostModel, Lognormal, compound_poisson_pmf
from vbsim.lattice import lattice_lev, rounding

DEFAULT_N_GRID = 2**16  # assumption: 65,536 points, a few ms per FFT
MAX_N_GRID = 2**22  # assumption: ~0.5 s and 100 MB at most
# Lattice steps per member sd: rounding adds ~h^2/6 to each member's variance, so h = sd/20
# keeps the relative variance error near 4e-4 (measured; docs/metrics.md).
H_PER_SD = 20.0
DEFAULT_SPAN_SD = 12.0  # window = mean +- 12 sd of S (assumption; validation checks aliasing)
DEFAULT_MEAN_TOL = 1e-6  # relative mean error accepted (assumption; stop-loss tail criterion)
DEFAULT_VAR_TOL = 1e-3  # relative variance error accepted (assumption)


@dataclass(frozen=True)
class Cohort:
    """``n`` members with cost ``scale x R x X``, ``X`` from ``model``.

    ``model`` is a :mod:`vbsim.costs` model (``mean``, ``cdf``, ``lev``; a ``CompoundPoisson``
    is built from its severity) or a frozen ``scipy.stats`` distribution. ``count="poisson"``
    makes the number of members Poisson with mean ``n``. ``R`` is the member's risk score,
    lognormal with mean 1 and log-sd ``risk_sd`` (as in :class:`vbsim.population.Cohort`;
    default 0: every member has R = 1), independent across members.

    >>> from scipy import stats
    >>> Cohort(100, stats.expon(scale=10.0), scale=1.5).n
    100.0
    """

    n: float
    model: Any
    scale: float = 1.0
    count: str = "fixed"
    risk_sd: float = 0.0

    def __post_init__(self) -> None:
        f = object.__setattr__
        check_choice("Cohort.count", self.count, ["fixed", "poisson"])
        if self.count == "fixed":
            f(self, "n", float(check_int("Cohort.n", self.n, 0)))
        else:
            f(self, "n", check_real("Cohort.n", self.n, 0))
        f(self, "scale", check_real("Cohort.scale", self.scale, 0, lo_open=True))
        f(self, "risk_sd", check_real("Cohort.risk_sd", self.risk_sd, 0, 2))
        if not hasattr(self.model, "cdf"):
            raise VbsimInputError(
                f"Cohort.model must be a cost model or scipy.stats distribution; got {self.model!r}"
            )


def _attr(obj: Any, name: str) -> float:
    v = getattr(obj, name)
    return float(v() if callable(v) else v)


def _is_compound(model: Any) -> bool:
    return hasattr(model, "rate") and hasattr(model, "severity")


def _has_stop_loss(model: Any) -> bool:
    """True if ``model.stop_loss`` is its own (a closed form or a table of the premium), not
    ``mean - lev``: far in the tail only the former keeps its digits."""
    if isinstance(model, CostModel):
        return type(model).stop_loss is not CostModel.stop_loss
    return callable(getattr(model, "stop_loss", None))


def _lev_fn(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Vectorised E[min(X, d)] for d >= 0: the model's own, or integrated from its cdf."""
    if hasattr(model, "lev") and not _is_compound(model):
        return lambda d: np.asarray(model.lev(np.asarray(d, float)), float)
    # scipy.stats: lev(d) = int_0^d S(t) dt on a fine grid (2-point Gauss-Legendre per cell),
    # linear between nodes; the grid reaches far into the tail (sf < 1e-13).
    top = float(model.isf(1e-13)) if hasattr(model, "isf") else float(model.ppf(1 - 1e-13))
    m = 2**20
    edges = np.linspace(0.0, top, m + 1)
    c, r = 0.5 * (edges[1:] + edges[:-1]), 0.5 * (edges[1] - edges[0]) / math.sqrt(3)
    cell = (2 - model.cdf(c - r) - model.cdf(c + r)) * (edges[1] - edges[0]) / 2
    cum = np.concatenate([[0.0], np.cumsum(cell)])
    return lambda d: np.interp(np.asarray(d, float), edges, cum)


def _lattice_lev(pmf: np.ndarray, h: float) -> Callable[[np.ndarray], np.ndarray]:
    """lev of a distribution on 0, h, 2h, ...: piecewise linear between lattice points."""
    x, nodes = lattice_lev(pmf, h)
    return lambda d: np.interp(np.asarray(d, float), x, nodes)


def _discretise(lev: Callable, h: float, n: int) -> np.ndarray:
    """Method of rounding from lev on 0, h, ..., (n-1) h; the last point takes the rest."""
    return rounding(lev(h * np.arange(n + 1)), h)


RISK_NODES = 24  # Gauss-Hermite nodes over the lognormal risk score (smooth in z: converges fast)


def _risk_nodes(scale: float, risk_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers scale x R_k and weights for E over R ~ lognormal(mean 1, log-sd risk_sd)."""
    if risk_sd == 0:
        return np.array([scale]), np.array([1.0])
    z, w = np.polynomial.hermite_e.hermegauss(RISK_NODES)
    return scale * np.exp(risk_sd * z - 0.5 * risk_sd**2), w / w.sum()


def _gauss_legendre_geometric(f: Callable[[np.ndarray], np.ndarray], d: float,
                              panels: int = 2**15, nodes: int = 8) -> float:
    """``int_0^d f(t) dt`` for a vectorised ``f``: 8-point Gauss-Legendre on ``panels``
    geometrically spaced panels from ``1e-12 d`` to ``d`` (each 0.08% wider than the last, so
    every scale of a cost distribution gets the same resolution), plus ``[0, 1e-12 d]``.

    One call of ``f`` on 262,144 points replaced scipy's adaptive ``quad`` (one call per point):
    same values to 4e-10 on lognormal and Spliced layers with risk spreads, ~1e-7 on a
    population member (whose own table, linear in log cost, limits both), 0.01-0.3 s instead of
    0.04-5 s (a member with ageing: 800 nodes).

    >>> round(_gauss_legendre_geometric(lambda t: t * np.exp(-t), 50.0), 12)  # 1 - 51 e^-50
    1.0
    """
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.concatenate([[0.0], np.geomspace(1e-12 * d, d, panels)])
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    t = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    return float((np.asarray(f(t), float).reshape(-1, nodes) @ w) @ half)


class _Layer:
    """One cohort's member layer in dollars: lev, exact mean and second moment.

    Member cost Y = a X with a = scale x R; with a risk spread, Y is a mixture over Gauss-Hermite
    nodes a_k, and every lev, cdf and moment is the weighted sum over the nodes.
    """

    def __init__(self, c: Cohort, cap: float | None, layer: str):
        self.c, self.cap, self.layer = c, cap, layer
        model = c.model
        self.a, self.w = _risk_nodes(c.scale, c.risk_sd)
        ea2 = float(self.w @ self.a**2)  # E[(scale R)^2] = scale^2 exp(risk_sd^2)
        mx = _attr(model, "mean")
        vx = _attr(model, "var") if hasattr(model, "var") else math.nan
        self.base_mean = c.scale * mx
        self.base_var = ea2 * (vx + mx * mx) - self.base_mean**2
        self._lev_x = None if _is_compound(model) else _lev_fn(model)
        self._exact_lev_x = (lambda d: np.asarray(model.lev(d), float)) if (
            hasattr(model, "lev")) else self._lev_x
        # a closed-form stop-loss premium (vbsim.costs models that define their own): rounding
        # from -pi keeps the far tail, where lev's second differences are rounding noise
        own = _has_stop_loss(model)
        self._sl_x = (lambda d: np.asarray(model.stop_loss(np.asarray(d, float)), float)) if (
            own and self._lev_x is not None) else None

    def _mix(self, fn: Callable, y: np.ndarray) -> np.ndarray:
        """sum_k w_k a_k fn(y / a_k): E over the risk score of a lev-like function."""
        y = np.asarray(y, float)
        return sum(wk * ak * fn(y / ak) for ak, wk in zip(self.a, self.w, strict=True))

    def lev_y(self, y: np.ndarray, h: float, n: int) -> np.ndarray:
        """Uncapped member lev in dollars (lattice-exact for compound-Poisson models)."""
        if self._lev_x is None:  # compound Poisson: build on the lattice from the severity
            if getattr(self, "_cp_key", None) != (h, n):  # built for this lattice
                sev, rate = self.c.model.severity, self.c.model.rate
                if self.cap is not None and self.layer == "capped":
                    # min(S, d) needs S only up to the first lattice point K h >= d: claims
                    # lumped at K h leave P(S = j h), j < K, and P(S >= K h) unchanged, and the
                    # totals of at most kmax such claims fit the FFT (no aliasing of the
                    # uncapped tail into [0, d], which a window sized for the capped total has)
                    # (the FFT is capped at 2^24 points or 2N, assumption: 270 MB; beyond,
                    # lumped claim totals could wrap, which the self-check would report)
                    k_top = math.ceil(self.cap / h) + 1
                    kmax = float(stats.poisson.isf(1e-16, rate)) + 1.0
                    size = min(1 << math.ceil(math.log2(kmax * k_top + 2)), max(2 * n, 2**24))
                    m_sev, keep = min(k_top + 1, size), size
                else:
                    m_sev, size, keep = n, 2 * n, n
                # the mixture over risk nodes (in the Fourier domain: one inverse FFT); a C
                # for a scale factor a: lognormal with mean a E[C] and the same cv
                sevs = [Lognormal(mean=ak * sev.mean, cv=sev.cv) for ak in self.a]
                pmf = compound_poisson_pmf(sevs, self.w, rate, h, m_sev, size)[:keep]
                pmf[-1] += 1.0 - pmf.sum()
                self._cp, self._cp_key = _lattice_lev(pmf, h), (h, n)
            return self._cp(y)
        return self._mix(self._lev_x, y)

    def lev(self, y: np.ndarray, h: float, n: int) -> np.ndarray:
        d = self.cap
        if d is None:
            return self.lev_y(y, h, n)
        if self.layer == "capped":
            return self.lev_y(np.minimum(y, d), h, n)
        return self.lev_y(np.asarray(y) + d, h, n) - self.lev_y(np.array([d]), h, n)[0]

    def rounding_values(self, y: np.ndarray, h: float, n: int) -> np.ndarray:
        """What the method of rounding differences on the lattice ``y``: the layer's ``lev``,
        or ``-pi`` (its stop-loss premium; same differences) where the model has it in closed
        form and the layer reaches the far tail (uncapped and excess layers)."""
        if self._sl_x is None or (self.cap is not None and self.layer == "capped"):
            return self.lev(y, h, n)
        shift = 0.0 if self.cap is None else self.cap
        return -self._mix(self._sl_x, np.asarray(y, float) + shift)

    def _lev_exact(self, d: float) -> float:
        """E[min(Y, d)] from the model's own lev (quadrature of the survival function for scipy)."""
        if hasattr(self.c.model, "lev"):
            return float(self._mix(self._exact_lev_x, np.array([d]))[0])
        return _gauss_legendre_geometric(self._sf, d)

    def _sf(self, y: Any) -> Any:
        """P(Y > y), vectorised over y."""
        y = np.asarray(y, float)
        cdf = sum(wk * np.asarray(self.c.model.cdf(y / ak), float)
                  for ak, wk in zip(self.a, self.w, strict=True))
        return 1.0 - cdf

    def moments(self) -> tuple[float, float]:
        """Exact (mean, second moment) of the member layer; quadrature for capped layers."""
        d = self.cap
        if d is None:
            return self.base_mean, self.base_var + self.base_mean**2
        if hasattr(self.c.model, "capped_moments"):
            # on a grid fitted to the cap (the model's own grid is coarse for a cap far below
            # the claim sizes): E[min(aS, d)^k] = a^k E[min(S, d/a)^k] over the risk nodes
            mom = [self.c.model.capped_moments(d / a) for a in self.a]
            lev_d = float(sum(w * a * m1 for w, a, (m1, _) in zip(self.w, self.a, mom,
                                                                     strict=True)))
            m2c = float(sum(w * a * a * m2 for w, a, (_, m2) in zip(self.w, self.a, mom,
                                                                     strict=True)))
            if self.layer == "capped":
                return lev_d, m2c
            ex2 = self.base_var + self.base_mean**2
            return self.base_mean - lev_d, ex2 - m2c - 2 * d * (self.base_mean - lev_d)
        lev_d = self._lev_exact(d)

        def trapezoid(cells: int) -> float:  # one vectorised call of the survival function
            t = np.linspace(0.0, d, cells + 1)
            g = t * self._sf(t)
            return 2 * float(np.sum((g[1:] + g[:-1]) / 2) * (t[1] - t[0]))

        if getattr(self.c.model, "stepped", False):
            # a cdf with steps (compound Poisson on its grid): uniform cells, like its grid
            m2c = trapezoid(2**16)
        else:
            m2c = 2 * _gauss_legendre_geometric(lambda t: t * self._sf(t), d)
        if self.layer == "capped":
            return lev_d, m2c
        # (Y-d)+^2 = Y^2 - min(Y,d)^2 - 2 d (Y-d)+ : no quadrature over the far tail
        ex2 = self.base_var + self.base_mean**2
        ex1 = (float(self._mix(self._sl_x, np.array([d]))[0]) if self._sl_x is not None
               else self.base_mean - lev_d)
        return ex1, ex2 - m2c - 2 * d * ex1

    def top(self, rel_tol: float, layer_mean: float) -> float:
        """A cost above which the member's tail carries < rel_tol of the layer's mean."""
        if self.cap is not None and self.layer == "capped":
            return self.cap
        target, y = rel_tol * layer_mean, max(self.base_mean, self.cap or 0.0, 1e-300)
        if self._lev_x is None:
            # compound Poisson: a heavy total comes from one big claim (subexponential), so
            # find where rate x E[(a C - y)+] is small, then add the member's other claims
            sev = self.c.model.severity
            rate, msev = self.c.model.rate, _attr(sev, "mean")

            def tail(v: float) -> float:
                return rate * float(self._mix(lambda u: msev - np.asarray(sev.lev(u)), v))

            extra = self.base_mean + 12 * math.sqrt(self.base_var)
        elif self._sl_x is not None:  # the model's own premium: no cancellation, no lev table
            def tail(v: float) -> float:
                return float(self._mix(self._sl_x, np.array([v]))[0])

            extra = 0.0
        else:
            def tail(v: float) -> float:
                return self.base_mean - float(self._mix(self._exact_lev_x, np.array([v]))[0])

            extra = 0.0
        prev = math.nan
        for _ in range(200):
            tv = tail(y)
            # stop when small enough, or when it no longer falls: a tabulated model's lev is
            # constant beyond its table (its grid mean can sit ~1e-6 below the exact mean: the
            # self-check then reports that, instead of the window running off to 2^200)
            if tv <= target or tv == prev:
                break
            prev = tv
            y *= 2
        return y + extra


class ExactDistribution:
    """Distribution of total cost on the lattice ``lo + h * arange(N)`` with probabilities ``pmf``.

    The random variable is the total cost ``S`` (a loss to whoever bears it): ``quantile`` and
    ``tvar`` are of ``S``; :meth:`summary` reports the payment ``-S`` (or ``payment(S)``) with the
    statistics of :func:`vbsim.metrics.summarize`, se = 0.

    >>> d = ExactDistribution(0.0, 1.0, np.array([0.25, 0.5, 0.25]), exact_mean=1.0, exact_var=0.5)
    >>> d.mean, d.var, float(d.quantile(0.9)), float(d.stop_loss(1.0))
    (1.0, 0.5, 2.0, 0.25)
    """

    def __init__(self, lo: float, h: float, pmf: np.ndarray, exact_mean: float,
                 exact_var: float, var_tol: float = DEFAULT_VAR_TOL,
                 mean_tol: float = DEFAULT_MEAN_TOL, top_is_bound: bool = False,
                 lattice_moments: tuple[float, float, float] | None = None):
        self.lo, self.h = float(lo), float(h)
        #: ``(mean, variance, top)`` of S implied by the discretised members before the FFT
        #: (``top``: the highest lattice point a member reaches); the self-check uses them to
        #: tell a coarse step or a member tail beyond ``top`` from aliasing. None if unknown.
        self.lattice_moments = lattice_moments
        # Round-off (lev differences, FFT) leaves symmetric noise ~1e-12 on every lattice point.
        # It is kept in pmf: clipping it to 0 would bias the mean and variance (the noise sums to
        # ~1e-7 of mass spread over the whole window). The cdf is made monotone instead.
        self.pmf = np.asarray(pmf, float) / float(np.sum(pmf))
        self.x = self.lo + self.h * np.arange(len(pmf))
        self._cum = np.maximum.accumulate(np.clip(np.cumsum(self.pmf), 0.0, 1.0))
        self.exact_mean, self.exact_var = float(exact_mean), float(exact_var)
        self.ok, self.validation = self._validate(mean_tol, var_tol, top_is_bound)

    @property
    def mean(self) -> float:
        """Numerical mean of S."""
        return float(self.pmf @ self.x)

    @property
    def var(self) -> float:
        """Numerical variance of S."""
        return float(self.pmf @ (self.x - self.mean) ** 2)

    @property
    def sd(self) -> float:
        """Numerical standard deviation of S."""
        return math.sqrt(self.var)

    def cdf(self, x: Any) -> Any:
        """P(S <= x)."""
        k = np.floor((np.asarray(x, float) - self.lo) / self.h + 1e-9).astype(np.int64)
        return np.where(k < 0, 0.0, self._cum[np.clip(k, 0, len(self.pmf) - 1)])

    def quantile(self, p: Any) -> Any:
        """Lower quantile inf{x: P(S <= x) >= p}."""
        k = np.searchsorted(self._cum, np.asarray(p, float) - 1e-12)
        return self.lo + self.h * np.minimum(k, len(self.pmf) - 1)

    def stop_loss(self, a: Any) -> Any:
        """E[(S - a)+], exact for the lattice distribution (vectorised over a)."""
        a = np.asarray(a, float)
        t0 = np.concatenate([np.cumsum(self.pmf[::-1])[::-1], [0.0]])  # P(S >= x_j)
        t1 = np.concatenate([np.cumsum((self.pmf * self.x)[::-1])[::-1], [0.0]])
        j = np.searchsorted(self.x, a, side="right")  # first x_j > a
        return t1[j] - a * t0[j]

    def tvar(self, p: float) -> float:
        """TVaR_p(S) = VaR_p + E[(S - VaR_p)+] / (1 - p) (Acerbi-Tasche form)."""
        p = check_real("p", p, 0, 1, lo_open=True, hi_open=True)
        v = float(self.quantile(p))
        return v + float(self.stop_loss(v)) / (1 - p)

    def summary(self, payment: Callable[[np.ndarray], np.ndarray] | None = None,
                **kwargs: Any) -> xr.Dataset:
        """Statistics of the payment ``payment(S)`` (default ``-S``), same layout as
        :func:`vbsim.metrics.summarize` with ``se = 0``; kwargs: ``levels``, ``quantiles``."""
        pay = payment if payment is not None else (lambda s: -s)
        return metrics.discrete_summary(self.x, self.pmf, payment=pay, **kwargs)

    def _validate(self, mean_tol: float, var_tol: float, top_is_bound: bool) -> tuple[bool, str]:
        em, ev = self.exact_mean, self.exact_var

        def rel(v: float, e: float) -> float:
            return (v - e) / e if e > 0 else v - e

        dm = rel(self.mean, em)
        dv = rel(self.var, ev) if ev > 0 else math.nan
        span = self.h * len(self.pmf)
        # Mass in the outer 0.1% of the window, except at a hard bound (S >= 0, S <= n cap):
        # aliased mass lands there.
        k = max(1, len(self.pmf) // 1000)
        edge = (float(self.pmf[:k].sum()) if self.lo > 0 else 0.0) + (
            0.0 if top_is_bound else float(self.pmf[-k:].sum()))
        lines = [
            f"lattice: N={len(self.pmf)}, h={self.h:.6g}, window [{self.lo:.6g}, "
            f"{self.lo + span:.6g})",
            f"mean: numerical {self.mean:.10g}, exact {em:.10g}, rel. error {dm:.2e}",
            f"var:  numerical {self.var:.10g}, exact {ev:.10g}, rel. error {dv:.2e}",
            f"mass at the window edges: {edge:.2e}",
        ]
        # the same errors in the discretised members (before the FFT): an error already there
        # comes from the step or from member tails beyond the lattice, not from aliasing
        dml = dvl = math.nan
        top = math.inf
        if self.lattice_moments is not None:
            lm, lv, top = self.lattice_moments
            dml, dvl = rel(lm, em), (rel(lv, ev) if ev > 0 else math.nan)
            lines.append(f"members on the lattice (top {top:.6g}): mean rel. error {dml:.2e}, "
                         f"var rel. error {dvl:.2e}")
        ok = True
        if not abs(dm) <= mean_tol or edge > 1e-6:
            ok = False
            if abs(dml) > mean_tol and edge <= 1e-6:
                lines.append("WARNING: mean off in the members' own lattice distributions: the "
                             "step h is coarse next to a cap or a tabulated cost; raise n_grid")
            else:
                lines.append("WARNING: mean off or mass at the window edge: the window is too "
                             "narrow (aliasing) or a member tail is cut; raise n_grid or span_sd")
        if math.isfinite(dv) and abs(dv) > var_tol:
            ok = False
            # the members' own lattice distributions carry most of the error: name that cause
            # (what the FFT adds on top, round-off or aliasing, is reported beside it)
            mostly_members = abs(dvl) > var_tol / 2 and abs(dvl) >= abs(dv - dvl)
            if math.isnan(dvl):
                lines.append("WARNING: variance off: the grid is too coarse; raise n_grid")
            elif mostly_members and abs(dvl - dv) > var_tol / 2:
                cause = ("the step is coarse (rounding adds ~h^2/6 to each member's variance); "
                         "raise n_grid" if dvl > 0 else
                         f"member costs above {top:.6g} (the lattice's top) are moved down to it "
                         "(a heavy tail); widen the window at the same step: "
                         f"h={self.h:.6g}, n_grid={2 * len(self.pmf)}")
                lines.append(f"WARNING: variance off by {dv:.1e}, of which {dvl:.1e} is already "
                             f"in the discretised members: {cause}. The FFT adds {dv - dvl:.1e} "
                             "(aliasing or round-off; span_sd widens the window)")
            elif abs(dvl - dv) <= var_tol / 2 and dvl < 0:
                lines.append(
                    f"WARNING: variance short by {-dvl:.1e}: member costs above {top:.6g} (the "
                    "lattice's top) are moved down to it, and this tail carries that share of "
                    "the variance (a heavy tail, e.g. a tail_shape near 1/2 or a wide risk "
                    "spread). Quantiles, VaR/TVaR and stop-loss premiums below the top are not "
                    "affected; the sd is understated. To take in more of the tail, widen the "
                    f"window at the same step: h={self.h:.6g}, n_grid={2 * len(self.pmf)}")
            elif abs(dvl - dv) <= var_tol / 2:
                lines.append("WARNING: variance off: the grid is too coarse; raise n_grid")
            else:
                lines.append("WARNING: variance off: mass wraps around the window (aliasing); "
                             "raise span_sd or n_grid")
        lines.append("OK" if ok else "NOT OK")
        return ok, "\n".join(lines)

    def __repr__(self) -> str:
        return (f"ExactDistribution(mean={self.mean:,.6g}, sd={self.sd:,.6g}, "
                f"N={len(self.pmf)}, h={self.h:.4g}, ok={self.ok})")


MEMBER_GRID = 2**15  # log-spaced table points (assumption; linear interp. error ~1e-7 relative)


def _tenure_nodes(c: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year-1 risk scores, weights and uncapped death probabilities of a cohort's starting
    members (:func:`vbsim.population.start_nodes` on this module's risk nodes)."""
    from vbsim.population import start_nodes

    return start_nodes(c, *_risk_nodes(1.0, c.risk_sd))


class YearOneMember:
    """Year-1 cost of one member of a :class:`vbsim.population.Cohort`, as the engine draws it
    (docs/engine.md; drivers at their expected level, trend index 1): with ``R`` the risk score
    (Gauss-Hermite nodes), ``m = min(mortality R, 1 - churn)`` and ``X`` the cost model,

    - stays (probability ``1 - m - churn``): ``R X``;
    - dies (``m``): ``R X eol_uplift + eol_cost``;
    - leaves (``churn``): ``R X U``, ``U`` uniform on (0, 1) (the part of the year it stayed).

    A member model for :class:`Cohort` (``mean``, ``var``, ``lev``, ``cdf``); the moments are
    exact. ``lev`` and ``cdf`` of ``X`` are tabulated once on ``MEMBER_GRID`` log-spaced points
    (linear in ``log x``; relative error ~1e-7); the leavers' ``U`` is integrated out exactly
    on that table: ``E[min(b U X, d)] = (d^2 / b) int_{d/b}^inf lev(s) / s^3 ds`` and
    ``P(b U X <= y) = 1 - (y / b) int_{y/b}^inf S(s) / s^2 ds``. The member's own ``lev`` and
    ``cdf`` (sums over the nodes) are tabulated once more on ``MEMBER_GRID`` log-spaced points,
    so a call costs the same whatever the number of nodes.

    A stationary start with ageing (``risk_ageing`` or ``mortality_ageing`` non-zero) is a
    mixture over the member's prior tenure ``A`` as the engine draws it: given the risk score,
    ``P(A >= k) = (1 - q)^k`` with ``q = min(mortality R, 1 - churn) + churn`` its exit
    probability, capped at ``TENURE_MAX``; the member then has risk score ``R (1 + risk_ageing)^A``
    and death probability ``min(mortality R (1 + mortality_ageing)^A, 1 - churn)``.

    >>> from vbsim.costs import Lognormal
    >>> from vbsim.population import Cohort as Members
    >>> c = Members("a", 100, Lognormal(mean=1000.0, cv=1.0), risk_sd=0.0, mortality=0.1,
    ...             eol_uplift=2.0, eol_cost=500.0, churn=0.2)
    >>> m = YearOneMember(c)
    >>> round(m.mean, 6)  # 0.7 x 1000 + 0.1 x (2000 + 500) + 0.2 x 500
    1050.0
    >>> bool(abs(m.lev(1e12) - m.mean) < 1e-6 * m.mean)
    True
    """

    def __init__(self, cohort: Any):
        x = cohort.cost
        self.cohort = cohort
        #: True when the cost's cdf has steps (compound Poisson on its grid; :class:`_Layer`
        #: then integrates layer moments by trapezoid instead of adaptive quadrature).
        self.stepped = _is_compound(x)
        self.churn = cohort.churn
        self.a, self.w, mraw = _tenure_nodes(cohort)
        self.m = np.minimum(mraw, 1.0 - self.churn)
        self.stay = 1.0 - self.m - self.churn
        self.uplift, self.eol = cohort.eol_uplift, cohort.eol_cost
        mx, ex2 = float(x.mean), float(x.var) + float(x.mean) ** 2
        u, e, a, a2 = self.uplift, self.eol, self.a, self.a**2
        def mean_with(mx: float) -> float:
            return float(self.w @ (self.stay * a * mx + self.m * (a * u * mx + e)
                                   + self.churn * a * mx / 2))

        self.mean = mean_with(mx)
        m2 = self.w @ (self.stay * a2 * ex2 + self.m * (a2 * u * u * ex2 + 2 * a * u * mx * e
                                                         + e * e) + self.churn * a2 * ex2 / 3)
        self.var = float(m2) - self.mean**2
        # the table: lev and S of X on [lo, hi] (assumptions, checked by the validation):
        # lo = 1e-9 mean (below it lev(v) = P(X > 0) v to ~1e-9), hi where lev is within
        # 1e-13 of the mean (the tail beyond holds less than that)
        if _is_compound(x):  # its own FFT grid (costs.CompoundPoisson): lev is exact on it
            lev = lambda d: np.asarray(x.lev(d), float)  # noqa: E731
            mt = float(x.lev(np.array([np.inf]))[0])  # the grid's mean: rate E[(C - top)+] short
        else:
            lev, mt = _lev_fn(x), mx
        hi = mt
        while mt - float(lev(np.array([hi]))[0]) > 1e-13 * mt and hi < 1e300:
            hi *= 2.0
        self._mx, self._lo, self._hi = mt, 1e-9 * mt, hi
        self._lx = np.log(np.geomspace(self._lo, hi, MEMBER_GRID))
        xs = np.exp(self._lx)
        self._lev, self._sf = lev(xs), 1.0 - np.asarray(x.cdf(xs), float)
        self._s0 = 1.0 - float(np.asarray(x.cdf(np.array([0.0])), float)[0])  # P(X > 0)
        # tails of int lev(s)/s^3 ds and int S(s)/s^2 ds from each node (trapezoid in log s,
        # plus the part beyond hi: lev = mean there, S = 0)
        dl = self._lx[1] - self._lx[0]
        self._g = self._tail_integral(self._lev / xs**2, dl) + mx / (2 * hi * hi)
        self._h = self._tail_integral(self._sf / xs, dl)
        # the stop-loss premium pi of X on the same points, from the model's closed form where
        # it has one (far in the tail mt - lev is rounding noise), and int_s^inf pi(t)/t^3 dt
        # for the leavers (its part beyond hi: below)
        self._sl_native = x.stop_loss if _has_stop_loss(x) else None
        pi = (np.asarray(self._sl_native(xs), float) if self._sl_native is not None
              else mt - self._lev)
        self._lpi = np.log(np.maximum(pi, 1e-300))
        # beyond hi: pi as a power law with its last log-log slope -beta (as the node sums
        # take it there), int_hi^inf pi / s^3 ds = pi(hi) / ((2 + beta) hi^2); the bound
        # pi(hi) / (2 hi^2) was up to 1.75x that part (2e-4 of the premium at hi / 3, tested)
        beta = max(-(self._lpi[-1] - self._lpi[-2]) / dl, 0.0)
        self._k = self._tail_integral(pi / xs**2, dl) + pi[-1] / ((2 + beta) * hi * hi)
        self._ygrid: tuple[np.ndarray, float] | None = None
        self._ytab: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None
        self._ptab: tuple[np.ndarray, np.ndarray] | None = None
        self._mean_tab = mean_with(mt)  # E[Y] as the tables see it (compound: its grid's mean)
        # the tables as the compiled node sums read them (vbsim._member_mix), and the model's
        # own premium beyond hi in log-log, 2^13 points up to 10^40 hi (assumption: relative
        # error ~1e-5 of premiums below 1e-13 of the mean, as for _pi_table's extension)
        self._mix_tab = np.ascontiguousarray(np.stack(
            [self._lx, self._lev, self._sf, self._lpi, self._g, self._h, self._k,
             np.log(np.maximum(self._k, 1e-300))]))
        lxf = math.log(hi) + np.linspace(0.0, 40 * math.log(10), 2**13 + 1)
        pf = (np.asarray(self._sl_native(np.exp(lxf)), float) if self._sl_native is not None
              else np.zeros(lxf.size))
        self._far = np.ascontiguousarray(np.stack([lxf, np.log(np.maximum(pf, 1e-300))]))

    @staticmethod
    def _tail_integral(f: np.ndarray, dl: float) -> np.ndarray:
        seg = 0.5 * (f[1:] + f[:-1]) * dl
        return np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])

    def _grid(self) -> tuple[np.ndarray, float]:
        """The member's own table points, ``MEMBER_GRID`` log-spaced costs from 1e-9 of its mean
        to where its lev is within 1e-13 of the mean, and ``P(Y = 0)`` (built once)."""
        if self._ygrid is None:
            mt = self._mean_tab
            lo, hi = 1e-9 * mt, mt
            while mt - float(self._lev_mix(np.array([hi]))[0]) > 1e-13 * mt and hi < 1e300:
                hi *= 2.0
            f0 = float(self._cdf_mix(np.array([0.0]))[0])
            self._ygrid = (np.linspace(math.log(lo), math.log(hi), MEMBER_GRID), f0)
        return self._ygrid

    def _table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """lev and cdf of the member Y itself on the points of :meth:`_grid` (built once, and
        only when asked for: an uncapped or excess layer needs only :meth:`_pi_table`): the
        node sums cost (nodes x points), and the lattice of :func:`aggregate` can have 2^22
        points, the risk x tenure mixture ~800 nodes."""
        if self._ytab is None:
            ly, f0 = self._grid()
            y = np.exp(ly)
            self._ytab = (ly, self._lev_mix(y), self._cdf_mix(y), f0)
        return self._ytab

    def _pi_table(self) -> tuple[np.ndarray, np.ndarray]:
        """log E[(Y - y)+] on the points of :meth:`_table`, and 2^12 more up to 10^40 times its
        top (built once; a lattice for an excess layer reaches far beyond the point where lev
        is within 1e-13 of the mean, and the node sums there took seconds per call; there the
        premium is below 1e-13 of the mean, so a coarser step, relative error ~1e-5 of it, is
        an assumption that costs nothing measurable)."""
        if self._ptab is None:
            ly = self._grid()[0]
            ly = np.concatenate([ly, ly[-1] + np.linspace(0.0, 40 * math.log(10), 2**12 + 1)[1:]])
            self._ptab = (ly, np.log(np.maximum(self._pi_mix(np.exp(ly)), 1e-300)))
        return self._ptab

    def stop_loss(self, d: Any) -> Any:
        """E[(Y - d)+], vectorised over d: interpolated in log-log on its own table (relative
        error ~1e-7 of the premium itself, not of the mean as ``mean - lev`` would have).

        >>> from vbsim.costs import Spliced
        >>> from vbsim.population import Cohort as Members
        >>> c = Members("a", 100, Spliced(mean=9_000.0, cv=3.0, tail_shape=0.4), risk_sd=0.3,
        ...             mortality=0.05, churn=0.1)
        >>> m = YearOneMember(c)
        >>> bool(abs(m.stop_loss(2e4) / (m.mean - m.lev(2e4)) - 1) < 1e-5)
        True
        >>> 0.0 < float(m.stop_loss(1e12)) < 1e-9 * m.mean
        True
        """
        ly, lp = self._pi_table()
        d0 = np.asarray(d, float)
        d = np.atleast_1d(d0)
        ld = np.log(np.maximum(d, 1e-300))
        f0 = self._grid()[1]
        out = np.where(ld <= ly[0], self._mean_tab - (1.0 - f0) * np.maximum(d, 0.0),
                       np.exp(np.interp(ld, ly, lp)))
        far = ld >= ly[-1]
        if far.any():  # beyond 10^40 times the table: the last slope in log-log (a power law)
            slope = min((lp[-1] - lp[-2]) / (ly[-1] - ly[-2]), 0.0)
            out[far] = np.exp(lp[-1] + slope * (ld[far] - ly[-1]))
        return out.reshape(d0.shape)[()]

    def _mix(self, what: int, y: np.ndarray) -> np.ndarray:
        """Sum over the nodes of lev, cdf or premium at ``y`` (vbsim._member_mix)."""
        y = np.ascontiguousarray(np.asarray(y, float).ravel())
        out = np.empty(y.size)

        def fill(i0: int, i1: int) -> None:
            out[i0:i1] = member_mix(what, y[i0:i1], self.a, self.w, self.m, self.stay,
                                    float(self.churn), float(self.uplift), float(self.eol),
                                    self._mix_tab, self._lo, self._hi, self._mx, self._s0,
                                    self._far, self._sl_native is not None)

        # each point is summed alone, so splitting the points over threads (the kernel
        # releases the GIL) gives the same values; worth it from ~10^6 node-points a thread
        # (assumption: a thread pool costs ~0.1 ms, a node-point ~50-150 ns)
        split_range(fill, y.size, max(1024, 2**20 // self.a.size))
        return out

    def _pi_mix(self, d: np.ndarray) -> np.ndarray:
        """E[(Y - d)+] summed over the nodes (d > 0)."""
        return self._mix(PI, d)

    def lev(self, d: Any) -> Any:
        """E[min(Y, d)], vectorised over d >= 0 (linear in log d between the table's points;
        relative error ~1e-7)."""
        ly, lv, _, f0 = self._table()
        d = np.asarray(d, float)
        ld = np.log(np.maximum(d, 1e-300))
        inside = np.interp(ld, ly, lv)
        return np.where(ld <= ly[0], (1.0 - f0) * np.maximum(d, 0.0),
                        np.where(ld >= ly[-1], lv[-1], inside))

    def cdf(self, y: Any) -> Any:
        """P(Y <= y), vectorised (from the same table)."""
        ly, _, cf, f0 = self._table()
        y = np.asarray(y, float)
        lyy = np.log(np.maximum(y, 1e-300))
        inside = np.interp(lyy, ly, cf)
        return np.where(y < 0, 0.0, np.where(lyy <= ly[0], f0,
                                             np.where(lyy >= ly[-1], cf[-1], inside)))

    def _lev_mix(self, d: np.ndarray) -> np.ndarray:
        """E[min(Y, d)] summed over the nodes."""
        return self._mix(LEV, d)

    def _cdf_mix(self, y: np.ndarray) -> np.ndarray:
        """P(Y <= y) summed over the nodes."""
        return self._mix(CDF, y)


def _as_cohort(c: Any) -> Cohort:
    from vbsim.population import Cohort as Members

    if isinstance(c, Cohort):
        return c
    if isinstance(c, Members):  # a population's cohort: its year-1 members
        if c.mortality == 0.0 and c.churn == 0.0:
            return Cohort(c.members, c.cost, risk_sd=c.risk_sd)
        return Cohort(c.members, YearOneMember(c))
    if isinstance(c, tuple) and len(c) in (2, 3):
        return Cohort(*c)
    raise VbsimInputError(
        "cohorts must be a vbsim.Population, vbsim.Cohort objects, exact.Cohort objects or "
        f"(n, model[, scale]) tuples; got {c!r}")


#: Most lattice points one member's distribution may span (assumption: 2^24, 128 MB); beyond,
#: its mass is lumped at the last point and the self-check reports what that costs.
MAX_MEMBER_POINTS = 2**24


def _members_on_lattice(live: list, h: float, n: int, reach: float
                        ) -> tuple[list, tuple[float, float, float]]:
    """Each cohort's member layer discretised on ``0, h, ..., (n_m - 1) h`` and folded modulo
    ``n`` (the FFT returns S mod N h, so a member wider than the window, e.g. one member under
    a cap in a window around its mean, is exact folded); the mean and variance of S those
    lattice members imply (iid members; a Poisson number of them) and their last point
    ``(n_m - 1) h``. ``n_m`` reaches ``reach`` dollars: a member's mass beyond is lumped at its
    last point, so that point plus the other members' total must stay inside the window, or it
    would wrap around to the window's low end (aliasing)."""
    n_m = int(min(math.floor(reach / h) + 2, max(n, MAX_MEMBER_POINTS)))
    x = h * np.arange(n_m)
    fs, mean, var = [], 0.0, 0.0
    for c, ly in live:
        f = _discretise(lambda y, ly=ly: ly.rounding_values(y, h, n), h, n_m)
        m1, m2 = float(f @ x), float(f @ (x * x))
        mean += c.n * m1
        var += c.n * (m2 if c.count == "poisson" else m2 - m1 * m1)
        if n_m <= n:
            fs.append(np.concatenate([f, np.zeros(n - n_m)]))
        else:
            fs.append(np.bincount(np.arange(n_m) % n, weights=f, minlength=n))
    return fs, (mean, var, (n_m - 1) * h)


#: Mass of S allowed below the window (assumption: aliased there it would move the variance by
#: ~1e-13 of itself across a 24-sd window; the Chernoff bound below is conservative).
LOWER_TAIL_EPS = 1e-15


def _lower_edge(live: list, mom: list, eps: float = LOWER_TAIL_EPS) -> float:
    """A cost ``a`` with ``P(S <= a) <= eps``, from the Chernoff bound
    ``P(S <= a) <= exp(t a) E[exp(-t S)]`` maximised over ``t > 0`` on a log grid:
    ``a = max_t (log eps - K(-t)) / t`` with ``K(-t) = sum_c n_c log M_c(-t)`` (a Poisson
    number of members: ``n_c (M_c(-t) - 1)``), ``M_c`` the member layer's Laplace transform.

    ``M_c`` comes from the member discretised by rounding on 4,096 points up to its cap, or to
    its mean + 20 sd, the mass beyond lumped at the last point: both are mean-preserving spreads
    or moves to lower costs, which raise ``E[exp(-t Y)]`` (a convex, decreasing function), so
    the ``a`` found is lower than the exact one (a wider window, never a narrower one). The
    4,096 points, the 20 sd and the grid of ``t`` (400 points from ``1e-3 / sd(S)`` to 100 lattice
    steps^-1) are assumptions: other choices move ``a`` but keep it a bound.

    Members that nearly always reach a cap have a small sd but a left tail of several members
    at once far below the cap, which ``mean - 12 sd`` misses.
    """
    pts = 4096
    sds, mats = [], []
    for (c, ly), (m1, m2) in zip(live, mom, strict=True):
        sd = math.sqrt(max(m2 - m1 * m1, 0.0))
        ymax = ly.cap if (ly.cap is not None and ly.layer == "capped") else m1 + 20.0 * sd
        if not ymax > 0:
            continue
        h0 = ymax / (pts - 1)
        f = _discretise(lambda y, ly=ly, h0=h0: ly.rounding_values(y, h0, pts), h0, pts)
        pos = f > 0.0  # round-off below 0 dropped: it moves log M by < 1e-12
        sds.append(sd)
        mats.append((c, h0 * np.arange(pts)[pos], np.log(f[pos]), h0))
    if not mats:
        return 0.0
    # the scale of S, only to place the t grid (a Poisson count's variance is ignored here)
    sd_s = math.sqrt(sum(c.n * sd * sd for (c, *_), sd in zip(mats, sds, strict=True)))
    t = np.geomspace(1e-3 / max(sd_s, 1e-300), 100.0 / min(m[3] for m in mats), 400)
    k = np.zeros(t.size)
    for c, x, lf, _ in mats:
        e = lf[None, :] - t[:, None] * x[None, :]
        mx = e.max(axis=1)
        log_m = mx + np.log(np.exp(e - mx[:, None]).sum(axis=1))  # log E[exp(-t Y)]
        k += c.n * (np.expm1(log_m) if c.count == "poisson" else log_m)
    return float(np.max((math.log(eps) - k) / t))


def aggregate(
    cohorts: Sequence[Any],
    *,
    cap: float | None = None,
    layer: str = "capped",
    n_grid: int | None = None,
    h: float | None = None,
    span_sd: float = DEFAULT_SPAN_SD,
    mean_tol: float = DEFAULT_MEAN_TOL,
    var_tol: float = DEFAULT_VAR_TOL,
) -> ExactDistribution:
    """Distribution of one year's total cost of independent members, by FFT.

    Parameters
    ----------
    cohorts : a :class:`vbsim.Population` (its year-1 members, deaths with their end-of-life
        cost, churn and risk scores included: :class:`YearOneMember`), or a list of
        :class:`vbsim.Cohort`, ``exact.Cohort`` objects or ``(n, model[, scale])`` tuples.
    cap : per-member attachment point in dollars (after ``scale``); None for no cap.
    layer : ``"capped"`` -> each member contributes ``min(Y, cap)`` (truncation, or the cost an
        individual stop-loss leaves); ``"excess"`` -> ``(Y - cap)+`` (what it reimburses).
    n_grid : lattice size N (a power of two is fastest), at least 1,024. Default: 2^16, doubled
        (up to 2^22) until the step is at most 1/20 of the smallest member-layer sd.
    h : lattice step in dollars; default: the window ``mean +- span_sd sd`` (widened to hold a
        member's tail) over N.
    mean_tol, var_tol : relative errors accepted by the self-check (``.ok``, ``.validation``);
        a warning is raised when the check fails.

    Examples
    --------
    >>> from scipy import stats
    >>> d = aggregate([(1000, stats.expon(scale=100.0))])   # gamma(1000, 100)
    >>> round(d.mean), round(d.sd, 1), d.ok
    (100000, 3162.3, True)
    >>> round(float(d.quantile(0.5) / stats.gamma(1000, scale=100.0).ppf(0.5)), 4)
    1.0
    """
    from vbsim.population import Population

    if isinstance(cohorts, Population):
        cohorts = cohorts.cohorts
    elif not isinstance(cohorts, (list, tuple)):
        raise VbsimInputError(
            f"cohorts must be a vbsim.Population or a list of cohorts; got {cohorts!r}")
    cs = [_as_cohort(c) for c in cohorts]
    if not cs:
        raise VbsimInputError("cohorts must list at least one cohort")
    layer = check_choice("layer", layer, ["capped", "excess"])
    if cap is not None:
        cap = check_real("cap", cap, 0, lo_open=True)
    n = DEFAULT_N_GRID if n_grid is None else check_int("n_grid", n_grid, 1024, 2**24)
    span_sd = check_real("span_sd", span_sd, 1)
    mean_tol = check_real("mean_tol", mean_tol, 0, lo_open=True)
    var_tol = check_real("var_tol", var_tol, 0, lo_open=True)
    layers = [_Layer(c, cap, layer) for c in cs]
    mom = [ly.moments() if cap is not None else (ly.base_mean, ly.base_var + ly.base_mean**2)
           for ly in layers]
    mean_s = sum(c.n * m for c, (m, _) in zip(cs, mom, strict=True))
    var_s = sum(c.n * (m2 if c.count == "poisson" else m2 - m * m)
                for c, (m, m2) in zip(cs, mom, strict=True))
    sd_s = math.sqrt(max(var_s, 0.0))
    # one member at 0 while the rest are up to span_sd sd below their mean (a member under a
    # cap that it nearly always reaches has a small sd but can still cost nothing)
    lo = max(0.0, mean_s - span_sd * sd_s - max((m for c, (m, _) in zip(cs, mom, strict=True)
                                                 if c.n > 0), default=0.0))
    live = [(c, ly) for c, ly in zip(cs, layers, strict=True) if c.n > 0]
    # and below the Chernoff bound of P(S <= lo): several members far below their mean at once
    lo = max(0.0, min(lo, _lower_edge(live, [m for c, m in zip(cs, mom, strict=True)
                                              if c.n > 0])))
    top = max((ly.top(mean_tol / 10, m) for ly, (m, _) in zip(layers, mom, strict=True)
               if ly.c.n > 0), default=0.0)
    if cap is not None and layer == "excess":
        top = max(top - cap, 0.0)
    # one member at its top (its lattice's last point, where its mass beyond is lumped), the
    # rest up to span_sd sd above their mean: inside the window, so nothing wraps around
    hi = mean_s + span_sd * sd_s + top
    bound = all(c.count == "fixed" for c in cs) and cap is not None and layer == "capped"
    n_mem = sum(c.n for c in cs)
    # (and the slack below leaves at least 3/4 of the lattice to the window: assumption)
    if bound and n_mem * cap < hi and 4 * n_mem < n:
        hi = n_mem * cap  # S <= n cap
    else:
        bound = False
    # lattice steps kept free above hi: a member's atom at an off-lattice cap is rounded to the
    # two points around it, so n members can sum to n steps above n cap (one step below lo)
    slack = n_mem + 2 if bound else 2
    if h is None:
        if n_grid is None:  # grow N until h <= (smallest member-layer sd) / 20 (var error ~1e-3)
            sds = [math.sqrt(max(m2 - m * m, 0.0)) for c, (m, m2) in zip(cs, mom, strict=True)
                   if c.n > 0]
            target = min((v for v in sds if v > 0), default=math.inf) / H_PER_SD
            while n < MAX_N_GRID and (hi - lo) / (n - slack) > target:
                n *= 2
        h = max(hi - lo, 1e-300) / (n - slack)
    else:
        h = check_real("h", h, 0, lo_open=True)
    # members reach their top, or further when the caller's h and n_grid give a wider window
    reach = max(top, lo + (n - slack) * h - mean_s - span_sd * sd_s)
    members, lat = _members_on_lattice(live, h, n, reach)
    m0 = int(math.floor(lo / h))
    lo = m0 * h
    log_phi = np.zeros(n // 2 + 1, dtype=complex)
    total = np.ones(n // 2 + 1, dtype=complex)
    for (c, _), f in zip(live, members, strict=True):
        ph = np.fft.rfft(f)
        if c.count == "poisson":
            log_phi += c.n * (ph - 1.0)
        else:
            total *= ph ** int(c.n)
    pmf = np.fft.irfft(total * np.exp(log_phi), n)
    pmf = np.roll(pmf, -(m0 % n))  # index i now holds S = lo + i h
    out = ExactDistribution(lo, h, pmf, mean_s, var_s, var_tol=var_tol, mean_tol=mean_tol,
                            top_is_bound=bound, lattice_moments=lat)
    if not out.ok:
        warnings.warn("vbsim.exact.aggregate: self-check failed\n" + out.validation, stacklevel=2)
    return out
