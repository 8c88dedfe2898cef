"""Multi-year benchmark rules: base years, annual update, risk-score cap, rebasing.

A rule turns simulated cost paths (``CostPaths``, dims scenario, year, cohort) into the payer's
benchmark for every performance year. The first ``base_years`` simulated years are the base
period (they are simulated like any other year, so a lucky or unlucky base period carries into the
benchmark exactly as it would in the program); performance year 1 is simulated year
``base_years + 1``. Rules follow DOMAIN.md sections 2 (MSSP) and 4 (LEAD); see docs/multiyear.md.

For each cohort (enrolment type: aged/disabled, ESRD, high-needs each get their own benchmark, as
LEAD's separate benchmarks do) and each agreement starting at simulated year ``t0``:

* historical per-capita cost, in the dollars and risk of the last base year ``t0 - 1``:
  ``H = sum_j w_j * a[b_j] * (R[t0-1] / R[b_j]) * (r[t0-1] / r[b_j])``, where ``a`` is cost per
  person-year, ``R`` the realised update index (the engine's ``benchmark_index``) and ``r`` the
  mean risk score;
* regional blend: ``H <- (1 - regional_blend) * H + regional_blend * g[t0-1]``, ``g`` the
  engine's per-person-year ``benchmark`` (the market's expected cost of the cohort);
* performance year ``t``: ``H * U[t] / U[t0-1] * clip(r[t] / r[t0-1], 1 + risk_cap_down,
  1 + risk_cap_up)``, ``U`` the update index (realised growth blended with a prospective trend
  limited by a guardrail, plus an optional extra trend per cohort);
* the total benchmark is that per-capita amount times the year's person-years.

Rebasing (MSSP's 5-year agreements) restarts this every ``agreement_years`` with the last
``len(rebase_weights)`` years of actual cost as the new base, so the ACO's own savings lower its
next benchmark; ``agreement_years=None`` (LEAD) fixes the base once for the whole run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError, check_choice, check_int, check_real
from vbsim.contracts.stoploss import cohort_values

__all__ = ["BenchmarkRule", "FixedBenchmark", "RebasedBenchmark", "update_index"]

MSSP_WEIGHTS = (0.1, 0.3, 0.6)  # base-year weights, first agreement [C, DOMAIN.md s.2]
# Rebased agreements weight their base years equally [R: the MSSP 2016 rule for renewing ACOs;
# not in DOMAIN.md, whose 10/30/60 is for a first agreement; whether today's rules keep it is
# not confirmed here, so treat it as an assumption to check against the current CMS spec]
EQUAL_WEIGHTS = (1 / 3, 1 / 3, 1 / 3)
RISK_CAP_UP = 0.03  # risk-score growth cap over an agreement [C, DOMAIN.md s.2]
ACPT_WEIGHT = 1 / 3  # MSSP update = 1/3 prospective trend + 2/3 realised [C, DOMAIN.md s.2]


def _weights(field: str, w: Any) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in w)
    except TypeError:
        raise VbsimInputError(f"{field} must be a list of weights; got {w!r}") from None
    if not vals:
        raise VbsimInputError(f"{field} must have at least one weight")
    for i, x in enumerate(vals):
        check_real(f"{field}[{i}]", x, 0.0, 1.0)
    if not math.isclose(sum(vals), 1.0, abs_tol=1e-9):
        raise VbsimInputError(f"{field} must sum to 1; got {sum(vals):g}")
    return vals


@dataclasses.dataclass(frozen=True)
class BenchmarkRule:
    """How the benchmark is set from base years and updated over the performance years.

    Parameters
    ----------
    weights:
        Base-year weights, oldest first; their number is the number of base years
        (10/30/60 [C, DOMAIN.md s.2]).
    agreement_years:
        Rebase every this many performance years (MSSP: 5 [C]); ``None``: never (LEAD [C, s.4]).
    rebase_weights:
        Base-year weights of rebased agreements (default 1/3 each [R, MSSP 2016 rule]).
    regional_blend:
        Weight of the regional (market) per-capita cost in the agreement's base (assumption: 0).
    prospective_trend:
        Annual prospective growth rate (MSSP's ACPT); ``None``: the update is realised growth.
    prospective_weight:
        Weight of the prospective trend in the update (MSSP: 1/3 [C, DOMAIN.md s.2]).
    guardrail:
        Largest gap allowed between the prospective and realised growth in one year (the
        prospective rate is clipped to realised +/- guardrail); ``None``: no guardrail [A].
    risk_cap_up, risk_cap_down:
        Risk-score change allowed over an agreement, relative to the last base year (+3% [C];
        declines uncapped by default [A]; give e.g. -0.03 for a symmetric cap).
    cohort_trend:
        Extra annual update by cohort name, e.g. ``{"high_needs": 0.01}`` for a separate
        high-needs trend (assumption: none).
    prior_savings_share:
        Share of the average per-capita savings of the rebased base years added back to a rebased
        benchmark (MSSP's prior-savings adjustment; assumption: 0).
    base_source:
        ``"actual"``: base years use simulated cost; ``"expected"``: the engine's expected cost
        (its ``benchmark`` variable), which removes base-period noise from the first agreement.
    truncate_at:
        Per-member annual cost cap for base and performance expenditure (MSSP's 99th-percentile
        truncation [C]); needs ``cost_capped`` at that threshold in the paths. A mapping cohort
        name -> dollars caps each cohort at its own point (MSSP: the 99th percentile of each
        enrolment type [C, DOMAIN.md s.1-2]; every cohort of the paths must be named, and only
        those), stored as a sorted tuple of pairs. ``None``: no cap.

    Examples
    --------
    >>> from vbsim.multiyear import demo_paths
    >>> rule = FixedBenchmark()
    >>> b = rule.benchmark(demo_paths(years=5))  # 3 base years + 2 performance years
    >>> b.shape  # (scenario, performance year)
    (2, 2)
    """

    weights: tuple[float, ...] = MSSP_WEIGHTS
    agreement_years: int | None = None
    rebase_weights: tuple[float, ...] | None = EQUAL_WEIGHTS
    regional_blend: float = 0.0
    prospective_trend: float | None = None
    prospective_weight: float = ACPT_WEIGHT
    guardrail: float | None = None
    risk_cap_up: float | None = RISK_CAP_UP
    risk_cap_down: float | None = None
    cohort_trend: tuple[tuple[str, float], ...] = ()
    prior_savings_share: float = 0.0
    base_source: str = "actual"
    truncate_at: float | tuple[tuple[str, float], ...] | None = None

    def __post_init__(self) -> None:
        n = type(self).__name__
        object.__setattr__(self, "weights", _weights(f"{n}.weights", self.weights))
        if self.rebase_weights is not None:
            object.__setattr__(self, "rebase_weights",
                               _weights(f"{n}.rebase_weights", self.rebase_weights))
        if self.agreement_years is not None:
            check_int(f"{n}.agreement_years", self.agreement_years, 1, 50)
        check_real(f"{n}.regional_blend", self.regional_blend, 0.0, 1.0)
        if self.prospective_trend is not None:
            check_real(f"{n}.prospective_trend", self.prospective_trend, -0.5, 1.0)
        check_real(f"{n}.prospective_weight", self.prospective_weight, 0.0, 1.0)
        if self.guardrail is not None:
            check_real(f"{n}.guardrail", self.guardrail, 0.0, 1.0)
        if self.risk_cap_up is not None:
            check_real(f"{n}.risk_cap_up", self.risk_cap_up, 0.0, 10.0)
        if self.risk_cap_down is not None:
            check_real(f"{n}.risk_cap_down", self.risk_cap_down, -1.0, 0.0, lo_open=True)
        ct = self.cohort_trend
        if isinstance(ct, Mapping):
            ct = tuple(ct.items())
        ct = tuple((str(k), check_real(f"{n}.cohort_trend[{k!r}]", v, -0.5, 1.0))
                   for k, v in ct)
        object.__setattr__(self, "cohort_trend", ct)
        check_real(f"{n}.prior_savings_share", self.prior_savings_share, 0.0, 1.0)
        check_choice(f"{n}.base_source", self.base_source, ["actual", "expected"])
        if self.truncate_at is not None:
            t = cohort_values(f"{n}.truncate_at", self.truncate_at)
            if isinstance(t, tuple):
                object.__setattr__(self, "truncate_at", t)

    # ------------------------------------------------------------------ derived properties
    @property
    def base_years(self) -> int:
        """Number of simulated years before performance year 1."""
        return len(self.weights)

    @property
    def thresholds(self) -> tuple[float, ...]:
        """Per-member thresholds the engine must compute for this rule."""
        t = self.truncate_at
        if isinstance(t, tuple):
            return tuple(sorted({v for _, v in t}))
        return () if t is None else (float(t),)

    def replace(self, **changes: Any) -> BenchmarkRule:
        """A re-validated copy with some fields changed.

        >>> RebasedBenchmark().replace(agreement_years=3).agreement_years
        3
        """
        return dataclasses.replace(self, **changes)

    def performance_years(self, paths: xr.Dataset) -> int:
        """Number of performance years in ``paths`` (simulated years less base years)."""
        n = paths.sizes["year"] - self.base_years
        if n < 1:
            raise VbsimInputError(
                f"paths have {paths.sizes['year']} years; {type(self).__name__} needs "
                f"{self.base_years} base years plus at least one performance year: simulate "
                f"years = {self.base_years} + performance years"
            )
        return n

    # ------------------------------------------------------------------ the computation
    def expenditure_by_cohort(self, paths: xr.Dataset) -> np.ndarray:
        """Cost (truncated when ``truncate_at`` is set), array (scenario, year, cohort)."""
        if self.truncate_at is None:
            return _sc(paths["cost"])
        if isinstance(self.truncate_at, tuple):
            return self._capped_by_cohort(paths)
        if "threshold" not in paths.dims or not np.any(
                np.isclose(paths["threshold"].values, self.truncate_at)):
            raise VbsimInputError(
                f"truncate_at={self.truncate_at:g} needs cost_capped at that threshold; simulate "
                f"with thresholds=({self.truncate_at:g},)"
            )
        k = int(np.argmin(np.abs(paths["threshold"].values - self.truncate_at)))
        return _sc(paths["cost_capped"].isel(threshold=k))

    def excess_by_cohort(self, paths: xr.Dataset) -> np.ndarray:
        """Excess of the counted (truncated) costs over each simulated threshold, array
        (scenario, year, cohort, threshold).

        Without ``truncate_at`` this is the engine's ``excess``. With it, a member counts
        ``min(cost, T)``, so its cost above an attachment ``A`` is ``(cost - A)+ - (cost - T)+``
        for ``A < T`` and nothing for ``A >= T``: a stop-loss on truncated expenditure recovers
        only what the truncation left in.

        >>> import vbsim
        >>> pop = vbsim.Population([vbsim.Cohort("a", 500, vbsim.costs.Lognormal(mean=1e4, cv=3))])
        >>> p = vbsim.simulate(pop, n_scenarios=4, years=4, seed=1, thresholds=[5e4, 2e5])
        >>> e = p["excess"].transpose("scenario", "year", "cohort", "threshold").values
        >>> from vbsim.multiyear import FixedBenchmark
        >>> t = FixedBenchmark(truncate_at=2e5).excess_by_cohort(p)
        >>> bool(np.allclose(t[..., 0], e[..., 0] - e[..., 1])), float(np.abs(t[..., 1]).max())
        (True, 0.0)
        """
        e = np.asarray(paths["excess"].transpose("scenario", "year", "cohort", "threshold")
                       .values, dtype=float)
        if self.truncate_at is None:
            return e
        thr = paths["threshold"].values
        if isinstance(self.truncate_at, tuple):
            from vbsim.evaluate import cohort_threshold_columns

            cols = cohort_threshold_columns(paths, self.truncate_at,
                                            f"{type(self).__name__}.truncate_at")
        else:
            self.expenditure_by_cohort(paths)  # the error when T was not simulated
            cols = [int(np.argmin(np.abs(thr - self.truncate_at)))] * e.shape[2]
        out = np.zeros_like(e)
        for c, k in enumerate(cols):
            below = thr < thr[k]
            out[:, :, c, below] = e[:, :, c, below] - e[:, :, c, k:k + 1]
        return out

    def _capped_by_cohort(self, paths: xr.Dataset) -> np.ndarray:
        """cost_capped with each cohort at its own ``truncate_at``, (scenario, year, cohort)."""
        from vbsim.evaluate import cohort_threshold_columns

        idx = cohort_threshold_columns(paths, self.truncate_at,
                                       f"{type(self).__name__}.truncate_at")
        capped = paths["cost_capped"].transpose("scenario", "year", "cohort", "threshold")
        cols = [np.asarray(capped.values[:, :, j, k], dtype=float) for j, k in enumerate(idx)]
        return np.stack(cols, axis=2)

    def benchmark_by_cohort(self, paths: xr.Dataset) -> np.ndarray:
        """Benchmark totals for the performance years, array (scenario, perf. year, cohort)."""
        nb = self.base_years
        ny = self.performance_years(paths)
        py = _sc(paths["member_months"]) / 12.0
        cost = self.expenditure_by_cohort(paths)
        a = _per_capita(cost, py)
        g = _per_capita(_sc(paths["benchmark"]), py)
        r = np.nan_to_num(_sc(paths["risk_score"]))  # NaN (empty cohort-year) -> ratio 1
        realised = _realised_index(paths)  # (S, T)
        upd = self.update_index(paths)  # (S, T, C)
        T = nb + ny
        out_pc = np.zeros_like(a)
        starts = [nb] if self.agreement_years is None else list(
            range(nb, T, self.agreement_years))
        for m, t0 in enumerate(starts):
            w = np.asarray(self.weights if m == 0 or self.rebase_weights is None
                           else self.rebase_weights)
            nbase = len(w)
            if t0 - nbase < 0:
                raise VbsimInputError(f"rebase_weights need {nbase} base years before year {t0}")
            base_idx = np.arange(t0 - nbase, t0)
            level = g if (m == 0 and self.base_source == "expected") else a
            last = t0 - 1
            H = np.zeros_like(a[:, 0, :])
            for wj, b in zip(w, base_idx, strict=True):
                H += wj * level[:, b, :] * (realised[:, last] / realised[:, b])[:, None] * \
                    _ratio(r[:, last, :], r[:, b, :])
            if self.regional_blend:
                H = (1 - self.regional_blend) * H + self.regional_blend * g[:, last, :]
            if m > 0 and self.prior_savings_share:
                perf = base_idx[base_idx >= nb]  # base years that had a benchmark
                sav = np.mean(out_pc[:, perf, :] - a[:, perf, :], axis=1)
                H = H + self.prior_savings_share * np.maximum(sav, 0.0)
            end = T if m + 1 == len(starts) else starts[m + 1]
            for t in range(t0, end):
                ra = _ratio(r[:, t, :], r[:, last, :])
                lo = -np.inf if self.risk_cap_down is None else 1 + self.risk_cap_down
                hi = np.inf if self.risk_cap_up is None else 1 + self.risk_cap_up
                out_pc[:, t, :] = H * upd[:, t, :] / upd[:, last, :] * np.clip(ra, lo, hi)
        return (out_pc * py)[:, nb:, :]

    def benchmark(self, paths: xr.Dataset) -> np.ndarray:
        """Benchmark totals summed over cohorts, array (scenario, performance year)."""
        return self.benchmark_by_cohort(paths).sum(axis=2)

    def update_index(self, paths: xr.Dataset) -> np.ndarray:
        """Update index by simulated year, array (scenario, year, cohort), 1 in year 1.

        Growth in year t is ``(1 - p) * realised + p * clip(prospective, realised - guardrail,
        realised + guardrail)`` (``p = prospective_weight``, used only with a prospective trend),
        times ``1 + cohort_trend`` for the cohort.
        """
        realised = _realised_index(paths)
        grow = realised[:, 1:] / realised[:, :-1] - 1.0
        if self.prospective_trend is not None:
            pt = np.full_like(grow, self.prospective_trend)
            if self.guardrail is not None:
                pt = np.clip(pt, grow - self.guardrail, grow + self.guardrail)
            p = self.prospective_weight
            grow = (1 - p) * grow + p * pt
        idx = np.concatenate([np.ones_like(realised[:, :1]), np.cumprod(1 + grow, axis=1)], 1)
        cohorts = [str(c) for c in paths["cohort"].values]
        extra = dict(self.cohort_trend)
        unknown = sorted(set(extra) - set(cohorts))
        if unknown:
            raise VbsimInputError(
                f"cohort_trend names cohorts {unknown} not in the paths; cohorts: {cohorts}")
        T = idx.shape[1]
        adj = np.stack([(1 + extra.get(c, 0.0)) ** np.arange(T) for c in cohorts], axis=1)
        return idx[:, :, None] * adj[None, :, :]


def update_index(paths: xr.Dataset, **rule: Any) -> np.ndarray:
    """Shortcut: ``BenchmarkRule(**rule).update_index(paths)``.

    >>> from vbsim.multiyear import demo_paths
    >>> update_index(demo_paths(years=3, trend=0.05))[0, :, 0].round(4).tolist()
    [1.0, 1.05, 1.1025]
    """
    return BenchmarkRule(**rule).update_index(paths)


def FixedBenchmark(**kw: Any) -> BenchmarkRule:
    """LEAD-style rule: benchmark set once from the base years, trended, never rebased.

    Defaults: base weights 10/30/60 (DOMAIN.md s.2, assumed for LEAD's three base years, s.4),
    risk growth capped at +3% (assumption for LEAD, borrowed from MSSP).

    >>> FixedBenchmark().agreement_years is None
    True
    """
    kw.setdefault("agreement_years", None)
    if kw["agreement_years"] is not None:
        raise VbsimInputError("FixedBenchmark.agreement_years must be None (no rebasing)")
    return BenchmarkRule(**kw)


def RebasedBenchmark(agreement_years: int = 5, **kw: Any) -> BenchmarkRule:
    """MSSP-style rule: 5-year agreements [C, DOMAIN.md s.2], rebased on the last 3 years.

    >>> RebasedBenchmark().agreement_years
    5
    """
    return BenchmarkRule(agreement_years=agreement_years, **kw)


# ---------------------------------------------------------------------- helpers
def _sc(da: xr.DataArray) -> np.ndarray:
    return np.asarray(da.transpose("scenario", "year", "cohort").values, dtype=float)


def _per_capita(total: np.ndarray, py: np.ndarray) -> np.ndarray:
    return np.divide(total, py, out=np.zeros_like(total), where=py > 0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 1 where either is not positive (an empty cohort has no risk score)."""
    ok = (num > 0) & (den > 0)
    return np.divide(num, den, out=np.ones_like(num), where=ok)


def _realised_index(paths: xr.Dataset) -> np.ndarray:
    """The engine's benchmark update index, array (scenario, year); ones if absent."""
    if "benchmark_index" not in paths:
        return np.ones((paths.sizes["scenario"], paths.sizes["year"]))
    v = np.asarray(paths["benchmark_index"].transpose("scenario", "year").values, dtype=float)
    if np.any(v <= 0):
        raise VbsimInputError("paths.benchmark_index must be positive")
    return v
