"""Scenario-level drivers: medical trend, shock years, benchmark updates and quality.

For scenario ``s`` and year ``t = 1..Y`` (all standard normals from the counter-based streams of
:mod:`vbsim.engine.rng`, so a scenario's drivers depend only on the seed and its index):

- trend error, a stationary AR(1): ``e_1 = sd N_1``, ``e_t = rho e_{t-1} + sqrt(1-rho^2) sd N_t``;
- shock year ``I_t ~ Bernoulli(shock_prob)``;
- cost growth ``g_t = trend_mean_t + e_t + shock_size I_t``; ``trend_index_t = prod_{k<=t}(1+g_k)``;
- benchmark update error ``eta_t = bsd (c e_t / sd + sqrt(1-c^2) M_t)`` with ``c`` =
  ``benchmark_corr``; factor ``b_t = 1 + benchmark_trend_mean_t + eta_t
  + shock_pass_through shock_size I_t``; ``benchmark_index_t = prod_{k<=t} b_k``.
  The gap between ``g_t`` and ``b_t - 1`` is the basis risk that decides most contracts;
- quality ``q_t = F^-1_Beta(Phi(k (-e_t / sd) + sqrt(1-k^2) Q_t))`` with Beta mean/sd given and
  ``k`` = ``quality_cost_corr`` (positive: quality is better in years of low cost growth).

Defaults carry their sources (DOMAIN.md section 5, shared/data) or say "assumption".
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

from vbsim._validate import VbsimInputError, check_real
from vbsim.engine import rng

__all__ = ["Drivers", "DriverPaths", "driver_paths", "read_trend_file"]

# assumption: between DOMAIN.md s5's realised assignable trend (-0.2..3.8%, 2012-18) and its
# 2024-25 prospective 4.3-5.1%; neither figure is 4%
TREND_MEAN = 0.04
TREND_SD = 0.02  # assumption: "forecast errors of several points occur" (DOMAIN.md s5)
TREND_CORR = 0.5  # assumption: year-to-year correlation of the trend error
SHOCK_PROB = 0.05  # assumption: about one shock year in twenty
SHOCK_SIZE = 0.045  # DOMAIN.md s5: 2024-25 ran ~9% against a prospective 4.3-5.1% (9 - 4.3..5.1
                    # = 3.9..4.7 points)
BENCHMARK_SD = 0.015  # assumption: benchmark update error sd
BENCHMARK_CORR = 0.7  # assumption: national/regional update tracks the population's own trend
SHOCK_PASS_THROUGH = 0.5  # assumption: half of a shock reaches the benchmark update
QUALITY_MEAN = 0.93  # MSSP PUF PY2018 quality score, mean over 548 ACOs (shared/data)
QUALITY_SD = 0.07  # same source, sd over ACOs (0.069)
QUALITY_COST_CORR = 0.0  # assumption: independent of cost performance


def _by_year(field: str, value: Any, lo: float, hi: float) -> float | tuple[float, ...]:
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            raise VbsimInputError(f"{field} must be a number or a non-empty list of numbers")
        return tuple(check_real(f"{field}[{i}]", v, lo, hi) for i, v in enumerate(value))
    return check_real(field, value, lo, hi)


@dataclass(frozen=True)
class Drivers:
    """Scenario-level economic and program drivers.

    Parameters
    ----------
    trend_mean : float or sequence of float
        Expected cost growth per year (a list gives one value per year and must cover all
        simulated years), each in [-0.2, 0.5]. Default 0.04 (assumption between the realised
        2012-18 range and the 2024-25 prospective rates of DOMAIN.md s5).
    trend_sd : float
        Sd of the trend error, in [0, 0.1]. Default 0.02 (assumption).
    trend_corr : float
        AR(1) correlation of the trend error across years, in [-0.99, 0.99]. Default 0.5
        (assumption).
    shock_prob, shock_size : float
        Probability of a shock year in [0, 1] and its extra growth in [-0.5, 1]. Defaults 0.05
        (assumption) and 0.045 (DOMAIN.md s5: 2024-25 ~9% vs 4.3-5.1% prospective).
    benchmark_trend_mean : float, sequence or None
        Assumed (prospective) benchmark update per year; None: equal to ``trend_mean``.
    benchmark_sd : float
        Sd of the benchmark update error, in [0, 0.1]. Default 0.015 (assumption).
    benchmark_corr : float
        Correlation of the benchmark error with the trend error, in [-1, 1]. Default 0.7
        (assumption).
    shock_pass_through : float
        Share of a shock reflected in the benchmark update, in [0, 1]. Default 0.5 (assumption).
    quality_mean, quality_sd : float
        Beta mean in (0, 1) and sd (>= 0, below sqrt(mean (1-mean))). Defaults 0.93 / 0.07
        (MSSP PUF PY2018 quality scores).
    quality_cost_corr : float
        Gaussian-copula correlation of quality with low cost growth, in [-1, 1]. Default 0.

    Examples
    --------
    >>> d = Drivers(trend_mean=[0.03, 0.05], trend_sd=0.0, shock_prob=0.0)
    >>> p = driver_paths(d, n_scenarios=2, years=2, seed=1)
    >>> p.trend_index[0].round(4).tolist()
    [1.03, 1.0815]
    """

    trend_mean: float | tuple[float, ...] = TREND_MEAN
    trend_sd: float = TREND_SD
    trend_corr: float = TREND_CORR
    shock_prob: float = SHOCK_PROB
    shock_size: float = SHOCK_SIZE
    benchmark_trend_mean: float | tuple[float, ...] | None = None
    benchmark_sd: float = BENCHMARK_SD
    benchmark_corr: float = BENCHMARK_CORR
    shock_pass_through: float = SHOCK_PASS_THROUGH
    quality_mean: float = QUALITY_MEAN
    quality_sd: float = QUALITY_SD
    quality_cost_corr: float = QUALITY_COST_CORR

    def __post_init__(self) -> None:
        f = object.__setattr__
        f(self, "trend_mean", _by_year("Drivers.trend_mean", self.trend_mean, -0.2, 0.5))
        if self.benchmark_trend_mean is not None:
            f(self, "benchmark_trend_mean", _by_year("Drivers.benchmark_trend_mean",
                                                     self.benchmark_trend_mean, -0.2, 0.5))
        f(self, "trend_sd", check_real("Drivers.trend_sd", self.trend_sd, 0, 0.1))
        f(self, "trend_corr", check_real("Drivers.trend_corr", self.trend_corr, -0.99, 0.99))
        f(self, "shock_prob", check_real("Drivers.shock_prob", self.shock_prob, 0, 1))
        f(self, "shock_size", check_real("Drivers.shock_size", self.shock_size, -0.5, 1))
        f(self, "benchmark_sd", check_real("Drivers.benchmark_sd", self.benchmark_sd, 0, 0.1))
        f(self, "benchmark_corr",
          check_real("Drivers.benchmark_corr", self.benchmark_corr, -1, 1))
        f(self, "shock_pass_through",
          check_real("Drivers.shock_pass_through", self.shock_pass_through, 0, 1))
        f(self, "quality_mean",
          check_real("Drivers.quality_mean", self.quality_mean, 0, 1, lo_open=True, hi_open=True))
        top = math.sqrt(self.quality_mean * (1 - self.quality_mean))
        # a beta distribution needs sd < sqrt(m (1 - m)): the bound moves with quality_mean
        f(self, "quality_sd", check_real(
            f"Drivers.quality_sd (with quality_mean={self.quality_mean:g})", self.quality_sd, 0,
            top, hi_open=True))
        f(self, "quality_cost_corr",
          check_real("Drivers.quality_cost_corr", self.quality_cost_corr, -1, 1))

    def _per_year(self, value: float | tuple[float, ...], years: int, field: str) -> np.ndarray:
        if isinstance(value, tuple):
            if len(value) < years:
                raise VbsimInputError(
                    f"Drivers.{field} lists {len(value)} years but {years} are simulated")
            return np.asarray(value[:years], dtype=float)
        return np.full(years, float(value))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        d = dict(self.__dict__)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    def to_json(self) -> str:
        """JSON string (stored in ``CostPaths.attrs['drivers']``)."""
        return json.dumps(self.to_dict())


@dataclass(frozen=True)
class DriverPaths:
    """Simulated drivers, arrays of shape (n_scenarios, years).

    >>> p = driver_paths(Drivers(), n_scenarios=3, years=2, seed=1)
    >>> p.growth.shape, p.benchmark_index.shape
    ((3, 2), (3, 2))
    """

    growth: np.ndarray
    trend_index: np.ndarray
    benchmark_factor: np.ndarray
    benchmark_index: np.ndarray
    shock: np.ndarray
    quality: np.ndarray


def _normals(seed: int, scen: np.ndarray, year: int, stream: int) -> np.ndarray:
    keys = rng.keys_np(seed, scen, year, rng.DRIVER_COHORT, stream)
    return rng.ninv_np(rng.to_unit_np(rng.words_np(keys, np.zeros_like(keys))))


def _uniforms(seed: int, scen: np.ndarray, year: int, stream: int) -> np.ndarray:
    keys = rng.keys_np(seed, scen, year, rng.DRIVER_COHORT, stream)
    return rng.to_unit_np(rng.words_np(keys, np.zeros_like(keys)))


def driver_paths(drivers: Drivers, n_scenarios: int, years: int, seed: int,
                 first_scenario: int = 0) -> DriverPaths:
    """Simulate the drivers of scenarios ``first_scenario .. first_scenario + n_scenarios - 1``.

    Each scenario's drivers depend only on ``seed`` and its index (counter-based streams).

    >>> a = driver_paths(Drivers(), n_scenarios=4, years=2, seed=7)
    >>> b = driver_paths(Drivers(), n_scenarios=2, years=2, seed=7, first_scenario=2)
    >>> bool(np.array_equal(a.growth[2:], b.growth))  # scenario 2 is the same in both runs
    True
    """
    d = drivers
    scen = np.arange(first_scenario, first_scenario + n_scenarios, dtype=np.int64)
    tm = d._per_year(d.trend_mean, years, "trend_mean")
    bm = tm if d.benchmark_trend_mean is None else d._per_year(
        d.benchmark_trend_mean, years, "benchmark_trend_mean")
    shape = (n_scenarios, years)
    e_std = np.empty(shape)  # standardised trend error e_t / sd
    growth, bfac, shock, quality = (np.empty(shape) for _ in range(4))
    c, k = d.benchmark_corr, d.quality_cost_corr
    a = math.sqrt(1 - d.trend_corr**2)
    if d.quality_sd > 0:
        nu = d.quality_mean * (1 - d.quality_mean) / d.quality_sd**2 - 1
        qa, qb = d.quality_mean * nu, (1 - d.quality_mean) * nu
    for t in range(years):
        n = _normals(seed, scen, t + 1, rng.TREND)
        e_std[:, t] = n if t == 0 else d.trend_corr * e_std[:, t - 1] + a * n
        shock[:, t] = _uniforms(seed, scen, t + 1, rng.SHOCK) < d.shock_prob
        growth[:, t] = tm[t] + d.trend_sd * e_std[:, t] + d.shock_size * shock[:, t]
        m = _normals(seed, scen, t + 1, rng.BENCH)
        eta = d.benchmark_sd * (c * e_std[:, t] + math.sqrt(max(1 - c * c, 0.0)) * m)
        bfac[:, t] = 1 + bm[t] + eta + d.shock_pass_through * d.shock_size * shock[:, t]
        if d.quality_sd > 0:
            qn = _normals(seed, scen, t + 1, rng.QUALITY)
            zq = -k * e_std[:, t] + math.sqrt(max(1 - k * k, 0.0)) * qn
            quality[:, t] = special.betaincinv(qa, qb, rng.phi_np(zq))  # = stats.beta ppf
        else:
            quality[:, t] = d.quality_mean
    return DriverPaths(growth=growth, trend_index=np.cumprod(1 + growth, axis=1),
                       benchmark_factor=bfac, benchmark_index=np.cumprod(bfac, axis=1),
                       shock=shock.astype(bool), quality=quality)


def read_trend_file(path: str | Path) -> dict[str, tuple[float, ...]]:
    r"""Read a user-supplied trend path: a CSV with columns ``year,trend[,benchmark_trend]``.

    Years must run 1, 2, ... without gaps; rates are annual growth (0.04 = 4%) in [-0.2, 0.5].
    Returns ``Drivers`` keyword arguments (``trend_mean`` and, if present,
    ``benchmark_trend_mean``), one value per year: a deterministic expected path around which the
    stochastic trend error, shocks and benchmark error still apply (set ``trend_sd=0`` etc. for a
    fully deterministic path). The file is read as plain data.

    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(f, "w").write("year,trend,benchmark_trend\n1,0.05,0.043\n2,0.09,0.051\n")
    >>> read_trend_file(f)
    {'trend_mean': (0.05, 0.09), 'benchmark_trend_mean': (0.043, 0.051)}
    """
    import csv

    p = Path(path)
    if not p.is_file():
        raise VbsimInputError(f"{path}: no such trend file")
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise VbsimInputError(f"{path}: cannot read as UTF-8 CSV: {exc}") from None
    if any(None in r for r in rows):
        raise VbsimInputError(f"{path}: a row has more cells than the header has columns")
    if not rows:
        raise VbsimInputError(f"{path}: no rows; expected columns year,trend[,benchmark_trend]")
    cols = set(rows[0])
    allowed = {"year", "trend", "benchmark_trend"}
    if not {"year", "trend"} <= cols or not cols <= allowed:
        raise VbsimInputError(
            f"{path}: columns must be year,trend and optionally benchmark_trend; got "
            f"{','.join(rows[0])}")
    out: dict[str, list[float]] = {"trend_mean": []}
    if "benchmark_trend" in cols:
        out["benchmark_trend_mean"] = []
    for i, row in enumerate(rows):
        where = f"{path}: row {i + 2}"
        try:
            year = int(row["year"])
        except (TypeError, ValueError):
            msg = f"{where}: year must be an integer; got {row['year']!r}"
            raise VbsimInputError(msg) from None
        if year != i + 1:
            raise VbsimInputError(f"{where}: years must run 1, 2, 3, ... in order; got {year}")
        for col, key in (("trend", "trend_mean"), ("benchmark_trend", "benchmark_trend_mean")):
            if key not in out:
                continue
            try:
                val = float(row[col])
            except (TypeError, ValueError):
                msg = f"{where}: {col} must be a number; got {row[col]!r}"
                raise VbsimInputError(msg) from None
            out[key].append(check_real(f"{where}: {col}", val, -0.2, 0.5))
    return {k: tuple(v) for k, v in out.items()}
