"""Reality check at the ACO level: simulated vs real spread of the savings rate by ACO size.

Issue 4 asks that, for ACOs of a given size, the simulated spread of the savings rate
``r = (benchmark - expenditure) / benchmark`` not contradict the spread across real ACOs of that
size in the MSSP performance-year 2018 public-use file (``shared/data/mssp_puf_py2018.csv``,
548 ACOs). The real spread also holds benchmark error (risk-adjustment and regional-update error
for one ACO) and real efficiency differences between ACOs, which the model does not simulate, so
the real spread is an **upper bound** for the simulated one.

- :func:`real_spread` : per size bin, n ACOs, mean, sd (with a chi-square interval and a
  4th-moment SE), 5th/95th percentiles and a robust sd (IQR / 1.349) of the real savings rate.
- :func:`simulated_spread` : the same statistics for one simulated ACO of a given size and cohort
  mix, and the variance decomposition the model implies: (a) member-level randomness (drivers'
  noise off), (b) scenario-level basis risk (trend error vs benchmark-update error: drivers on
  minus off, same seed, so both runs share every member draw).
- :func:`compare` : both side by side per bin, with (c) the share of the real variance the model
  does not hold (real minus simulated variance, when positive).
- :func:`figure` : real savings rates by size against simulated 5-95% bands over sizes.

``python -m vbsim.reality`` regenerates ``docs/figures/reality_check.png`` and prints the table
quoted in ``docs/reality_check.md``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from vbsim import metrics
from vbsim._validate import VbsimInputError, check_int, check_real
from vbsim.drivers import Drivers
from vbsim.population import Cohort, Population, standard_cohort
from vbsim.simulate import simulate

__all__ = [
    "DEFAULT_MIX",
    "SIZE_BINS",
    "SimulatedSpread",
    "compare",
    "contradictions",
    "data_path",
    "figure",
    "load_puf",
    "markdown_table",
    "mix_population",
    "puf_mix",
    "real_size_fit",
    "real_spread",
    "simulated_spread",
    "truncation_points",
]

PUF_FILE = "mssp_puf_py2018.csv"
# Size bins (assigned beneficiaries, lower edge included): MSSP requires 5,000 assigned
# beneficiaries (42 CFR 425.110 [R]: not in DOMAIN.md, whose s2 MSR table starts at 5,000; the
# 16 PY2018 ACOs below it are left out); edges: assumption.
SIZE_BINS: tuple[tuple[int, int | None], ...] = (
    (5_000, 10_000), (10_000, 20_000), (20_000, 50_000), (50_000, None))
# Person-year shares by enrolment type over the 548 PY2018 ACOs (N_AB_Year_*_PY columns of
# shared/data/mssp_puf_py2018.csv, also the mix of scenarios/default.toml); tests recompute them.
DEFAULT_MIX: dict[str, float] = {
    "aged_non_dual": 0.8130, "disabled": 0.1155, "aged_dual": 0.0639, "esrd": 0.0075}
_PY_COLUMNS = {"aged_non_dual": "N_AB_Year_AGED_NonDual_PY", "disabled": "N_AB_Year_DIS_PY",
               "aged_dual": "N_AB_Year_AGED_Dual_PY", "esrd": "N_AB_Year_ESRD_PY"}
SD_CONFIDENCE = 0.99  # two-sided level of the chi-square interval for a real sd (assumption)
TRUNCATION_QUANTILE = 0.99  # MSSP truncates member expenditure at the national 99th pct [C, s1]
ROBUST_SD_FACTOR = 1.349  # IQR of a normal distribution in sd units
FIGURE_PATH = Path(__file__).resolve().parents[1] / "docs" / "figures" / "reality_check.png"


# --------------------------------------------------------------------------------------------
# Real ACOs
# --------------------------------------------------------------------------------------------
def data_path(path: str | Path | None = None) -> Path:
    """Path of the PY2018 MSSP PUF: ``path`` or ``<repo>/../shared/data/mssp_puf_py2018.csv``.

    >>> data_path("x.csv").name
    'x.csv'
    """
    if path is not None:
        return Path(path)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / PUF_FILE


def load_puf(path: str | Path | None = None) -> pd.DataFrame:
    """Read the PY2018 MSSP PUF and check the savings-rate definition.

    ``Sav_rate`` is a **fraction** (not percent) equal to ``BnchmkMinExp / ABtotBnchmk``, with
    ``BnchmkMinExp = ABtotBnchmk - ABtotExp`` (checked to 1e-6 / $2). Returns the columns
    ``N_AB``, ``Sav_rate``, ``ABtotBnchmk``, ``ABtotExp``, ``BnchmkMinExp`` and the person-year
    columns ``N_AB_Year_*_PY``.

    Raises
    ------
    FileNotFoundError
        When the file is absent (tests skip on it).
    VbsimInputError
        When a column is missing or the definition does not hold.

    Examples
    --------
    A two-ACO file in a temporary folder (the real PUF lives in ``shared/data``):

    >>> import os, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "puf.csv")
    >>> pd.DataFrame({"N_AB": [8000, 12000], "ABtotBnchmk": [100e6, 150e6],
    ...               "ABtotExp": [97e6, 153e6], "BnchmkMinExp": [3e6, -3e6],
    ...               "Sav_rate": [0.03, -0.02], "N_AB_Year_AGED_NonDual_PY": [6000, 9000],
    ...               "N_AB_Year_DIS_PY": [1000, 1500], "N_AB_Year_AGED_Dual_PY": [900, 1400],
    ...               "N_AB_Year_ESRD_PY": [100, 100]}).to_csv(f, index=False)
    >>> load_puf(f)["Sav_rate"].tolist()
    [0.03, -0.02]
    """
    p = data_path(path)
    if not p.is_file():
        raise FileNotFoundError(f"MSSP PUF not found at {p} (see shared/data/README.md)")
    cols = ["N_AB", "Sav_rate", "ABtotBnchmk", "ABtotExp", "BnchmkMinExp",
            *_PY_COLUMNS.values()]
    df = pd.read_csv(p)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise VbsimInputError(f"{p.name} lacks columns {missing}")
    df = df[cols].astype(float)
    gap = (df.ABtotBnchmk - df.ABtotExp - df.BnchmkMinExp).abs().max()
    rate_gap = (df.BnchmkMinExp / df.ABtotBnchmk - df.Sav_rate).abs().max()
    if gap > 2.0 or rate_gap > 1e-6:
        raise VbsimInputError(
            f"{p.name}: Sav_rate is not BnchmkMinExp / ABtotBnchmk as a fraction "
            f"(largest gaps ${gap:.2f}, {rate_gap:.2g})")
    return df


def puf_mix(path: str | Path | None = None) -> dict[str, float]:
    """Person-year shares by enrolment type summed over all ACOs of the PUF.

    Examples
    --------
    >>> import os, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "puf.csv")
    >>> pd.DataFrame({"N_AB": [8000], "ABtotBnchmk": [100e6], "ABtotExp": [97e6],
    ...               "BnchmkMinExp": [3e6], "Sav_rate": [0.03],
    ...               "N_AB_Year_AGED_NonDual_PY": [6000], "N_AB_Year_DIS_PY": [1000],
    ...               "N_AB_Year_AGED_Dual_PY": [900], "N_AB_Year_ESRD_PY": [100]}).to_csv(f)
    >>> puf_mix(f)
    {'aged_non_dual': 0.75, 'disabled': 0.125, 'aged_dual': 0.1125, 'esrd': 0.0125}
    """
    df = load_puf(path)
    tot = {k: float(df[c].sum()) for k, c in _PY_COLUMNS.items()}
    s = sum(tot.values())
    return {k: v / s for k, v in tot.items()}


def _bin_label(lo: int, hi: int | None) -> str:
    def k(x: int) -> str:
        return f"{x / 1000:g}k"
    return f"{k(lo)}+" if hi is None else f"{k(lo)}-{k(hi)}"


def _check_bins(size_bins: Sequence[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    out = []
    for i, b in enumerate(size_bins):
        if not isinstance(b, Sequence) or len(b) != 2:
            raise VbsimInputError(f"size_bins[{i}] must be a (low, high) pair; got {b!r}")
        lo = check_int(f"size_bins[{i}][0]", b[0], 1)
        hi = None if b[1] is None else check_int(f"size_bins[{i}][1]", b[1], lo + 1)
        out.append((lo, hi))
    if not out:
        raise VbsimInputError("size_bins must hold at least one (low, high) pair")
    return out


def _sd_interval(sd: float, n: int, level: float = SD_CONFIDENCE) -> tuple[float, float]:
    """Chi-square interval for a normal sd from ``n`` observations."""
    if n < 2:
        return math.nan, math.nan
    a = (1 - level) / 2
    lo = sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - a, n - 1))
    hi = sd * math.sqrt((n - 1) / stats.chi2.ppf(a, n - 1))
    return lo, hi


def _row(x: np.ndarray) -> dict[str, float]:
    """n, mean, sd (+ 4th-moment SE), 5/25/50/75/95th percentiles and IQR/1.349 of ``x``."""
    n = x.size
    if n < 2:
        return {"n": n, "mean": float(np.mean(x)) if n else math.nan, "sd": math.nan,
                "sd_se": math.nan, "p05": math.nan, "p95": math.nan, "robust_sd": math.nan}
    s = metrics.sd(x)
    q05, q25, q50, q75, q95 = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {"n": n, "mean": float(x.mean()), "sd": float(s.value), "sd_se": float(s.se),
            "p05": float(q05), "p25": float(q25), "median": float(q50), "p75": float(q75),
            "p95": float(q95), "robust_sd": float((q75 - q25) / ROBUST_SD_FACTOR)}


def real_spread(size_bins: Sequence[tuple[int, int | None]] = SIZE_BINS, *,
                path: str | Path | None = None) -> pd.DataFrame:
    """Spread of the real PY2018 savings rate (a fraction) per ACO size bin.

    Parameters
    ----------
    size_bins : sequence of (low, high)
        Assigned-beneficiary (``N_AB``) bins, ``low <= N_AB < high``; ``high`` None: open.
    path : path, optional
        The PUF CSV; default :func:`data_path`.

    Returns
    -------
    pandas.DataFrame
        One row per bin (index: label such as ``"5k-10k"``): ``lo``, ``hi``, ``n``,
        ``size_hmean`` (harmonic mean of N_AB: the size whose member-level variance, which goes
        like 1/size, equals the bin's average), ``size_median``, ``mean``, ``sd``, ``sd_se``
        (delta method, 4th moment), ``sd_lo``/``sd_hi`` (chi-square interval, level
        ``SD_CONFIDENCE``), ``p05``, ``p25``, ``median``, ``p75``, ``p95``, ``robust_sd``.

    Examples
    --------
    >>> df = real_spread()  # doctest: +SKIP
    >>> df.loc["5k-10k", "n"]  # doctest: +SKIP
    200
    """
    bins = _check_bins(size_bins)
    df = load_puf(path)
    rows = {}
    for lo, hi in bins:
        sel = (df.N_AB >= lo) & ((df.N_AB < hi) if hi is not None else True)
        x = df.Sav_rate[sel].to_numpy()
        sizes = df.N_AB[sel].to_numpy()
        r = {"lo": lo, "hi": hi}
        r.update(_row(x))
        r["size_hmean"] = float(x.size / np.sum(1.0 / sizes)) if x.size else math.nan
        r["size_median"] = float(np.median(sizes)) if x.size else math.nan
        r["sd_lo"], r["sd_hi"] = _sd_interval(r["sd"], x.size)
        rows[_bin_label(lo, hi)] = r
    order = ["lo", "hi", "n", "size_hmean", "size_median", "mean", "sd", "sd_se", "sd_lo",
             "sd_hi", "p05", "p25", "median", "p75", "p95", "robust_sd"]
    return pd.DataFrame.from_dict(rows, orient="index")[order]


def real_size_fit(min_size: int = SIZE_BINS[0][0], *, path: str | Path | None = None
                  ) -> dict[str, float]:
    """Fit ``E[(r_i - mean)^2] = A / N_i + B`` across real ACOs of at least ``min_size``.

    ``A`` (``member_coef``) is the part of the real variance that falls like 1/size, the real
    data's upper bound for the model's member-level coefficient ``sd_member^2 x members`` (the
    slope also holds any efficiency heterogeneity that falls with size); ``B`` (``floor_var``) is
    the part that does not diversify: basis risk, benchmark error and efficiency differences.
    Ordinary least squares of the squared deviations on ``1 / N_AB``, with
    heteroskedasticity-robust (HC0) standard errors.

    >>> fit = real_size_fit()  # doctest: +SKIP
    >>> sorted(fit)  # doctest: +SKIP
    ['floor_var', 'floor_var_se', 'member_coef', 'member_coef_se', 'n']
    """
    min_size = check_int("min_size", min_size, 1)
    df = load_puf(path)
    df = df[df.N_AB >= min_size]
    x, n = df.Sav_rate.to_numpy(), df.N_AB.to_numpy()
    if x.size < 3:
        raise VbsimInputError(f"min_size={min_size} leaves {x.size} ACOs; need at least 3")
    d2 = (x - x.mean()) ** 2 * x.size / (x.size - 1)
    X = np.column_stack([1.0 / n, np.ones_like(n)])
    beta = np.linalg.lstsq(X, d2, rcond=None)[0]
    e = d2 - X @ beta
    inv = np.linalg.inv(X.T @ X)
    se = np.sqrt(np.diag(inv @ (X.T * e**2) @ X @ inv))
    return {"n": int(x.size), "member_coef": float(beta[0]), "member_coef_se": float(se[0]),
            "floor_var": float(beta[1]), "floor_var_se": float(se[1])}


# --------------------------------------------------------------------------------------------
# Simulated ACO
# --------------------------------------------------------------------------------------------
def _split(members: int, shares: Sequence[float]) -> list[int]:
    """Largest-remainder split of ``members`` by ``shares`` (each positive share gets >= 1)."""
    w = np.asarray(shares, dtype=float)
    raw = members * w / w.sum()
    n = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - n))[: members - int(n.sum())]:
        n[i] += 1
    return [max(int(k), 1) if s > 0 else 0 for k, s in zip(n, w, strict=True)]


def mix_population(members: int, mix: Mapping[str, float] | Population | None = None
                   ) -> Population:
    """A population of ``members`` with the given enrolment mix.

    ``mix`` is a mapping of :func:`~vbsim.population.standard_cohort` kinds to shares (default
    :data:`DEFAULT_MIX`, the PY2018 PUF person-year shares), or a :class:`Population` whose cohort
    sizes give the shares (its cohorts are kept, with their member counts rescaled).

    >>> pop = mix_population(10_000)
    >>> pop.members, pop.names
    (10000, ('aged_non_dual', 'disabled', 'aged_dual', 'esrd'))
    """
    members = check_int("members", members, 1, 10**8)
    if mix is None:
        mix = DEFAULT_MIX
    if isinstance(mix, Population):
        cohorts: list[Cohort] = list(mix.cohorts)
        shares = [c.members for c in cohorts]
    elif isinstance(mix, Mapping):
        if not mix:
            raise VbsimInputError("mix must name at least one enrolment type")
        shares = [check_real(f"mix[{k!r}]", v, 0, lo_open=True) for k, v in mix.items()]
        cohorts = [standard_cohort(k, 1) for k in mix]
    else:
        raise VbsimInputError(f"mix must be a mapping of kind -> share or a Population; "
                              f"got {mix!r}")
    sizes = _split(members, shares)
    return Population([dataclasses.replace(c, members=n)
                       for c, n in zip(cohorts, sizes, strict=True) if n > 0])


def truncation_points(population: Population, q: float = TRUNCATION_QUANTILE,
                      trend: float = 0.0) -> np.ndarray:
    """Per-cohort q-quantile of a member's annual cost (the model's own "national" quantile).

    Solves ``sum_w [(1 - m) (1 - F(t / (g r))) + m (1 - F((t - g e) / (g u r)))] = 1 - q``
    over the cohort's lognormal risk scores ``r`` (Gauss-Hermite), with death probability
    ``m = min(mortality r, 1 - churn)``, death-year uplift ``u``, end-of-life amount ``e``
    (``eol_cost``; every death costs more than ``g e``) and ``g = 1 + trend``; leavers are
    counted as full-year members (a slight over-statement of the quantile).

    >>> from vbsim.costs import Lognormal
    >>> pop = Population([Cohort("a", 10, Lognormal(mean=1.0, cv=1.0), risk_sd=0.0,
    ...                          mortality=0.0)])
    >>> t = truncation_points(pop, 0.99)[0]
    >>> round(float(pop[0].cost.cdf(t)), 6)
    0.99
    """
    q = check_real("q", q, 0, 1, lo_open=True, hi_open=True)
    g = 1.0 + check_real("trend", trend, -0.5, 1.0)
    out = []
    for c in population.cohorts:
        r, w = c._risk_nodes()
        m = np.minimum(c.mortality * r, 1.0 - c.churn)

        def tail(t: float, c: Cohort = c, r: np.ndarray = r, w: np.ndarray = w,
                 m: np.ndarray = m) -> float:
            s = (1 - m) * (1 - c.cost.cdf(t / (g * r)))
            td = (t - g * c.eol_cost) / (g * max(c.eol_uplift, 1e-12) * r)
            s = s + m * np.where(td > 0, 1 - c.cost.cdf(np.maximum(td, 0.0)), 1.0)
            return float(np.dot(w, s)) - (1 - q)

        hi = c.cost.mean
        while tail(hi) > 0:
            hi *= 2.0
        out.append(optimize.brentq(tail, 0.0, hi, xtol=1e-6 * c.cost.mean))
    return np.array(out)


@dataclass(frozen=True)
class SimulatedSpread:
    """Savings-rate spread of one simulated ACO and the model's variance decomposition.

    ``rates``: savings rate per scenario with the drivers as given; ``member_rates``: the same
    scenarios (same seed, same member draws) with the drivers' noise off. ``var_member`` is the
    variance with the noise off (member-level randomness), ``var_basis`` the increase when it is
    on (trend vs benchmark-update error), with a paired standard error ``var_basis_se``; the
    shares are of the simulated variance. ``sd_basis_limit`` is the sd of
    ``1 - trend_index / benchmark_index`` from the drivers alone (an infinitely large ACO).

    Examples
    --------
    >>> s = simulated_spread(200, n_scenarios=20, seed=2)
    >>> type(s).__name__, s.members, s.member_rates.shape
    ('SimulatedSpread', 200, (20,))
    >>> bool(abs(s.share_member + s.share_basis - 1) < 1e-9)
    True
    """

    members: int
    n_scenarios: int
    seed: int
    truncated: bool
    rates: np.ndarray
    member_rates: np.ndarray
    mean: float
    sd: float
    sd_se: float
    p05: float
    p95: float
    robust_sd: float
    sd_member: float
    sd_member_se: float
    var_member: float
    var_basis: float
    var_basis_se: float
    share_member: float
    share_basis: float
    sd_basis_limit: float

    def to_dict(self) -> dict[str, Any]:
        """The scalar fields (no arrays)."""
        return {k: v for k, v in dataclasses.asdict(self).items()
                if not isinstance(v, np.ndarray)}


def _quiet(d: Drivers) -> Drivers:
    return dataclasses.replace(d, trend_sd=0.0, benchmark_sd=0.0, shock_prob=0.0)


def _rates(pop: Population, drivers: Drivers, n_scenarios: int, seed: int,
           thr: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(benchmark, expenditure, trend_index, benchmark_index) of year 1 per scenario."""
    p = simulate(pop, drivers, n_scenarios=n_scenarios, years=1, seed=seed,
                 thresholds=() if thr is None else thr, progress=False).isel(year=0)
    b = p.benchmark.sum("cohort").values
    if thr is None:
        c = p.cost.sum("cohort").values
    else:  # each cohort capped at its own point: pick the diagonal (cohort k, threshold k)
        k = np.searchsorted(p.threshold.values, thr)
        cap = p.cost_capped.values  # (scenario, cohort, threshold)
        c = cap[:, np.arange(thr.size), k].sum(axis=1)
        # the benchmark is on the truncated scale too: rescale it by the truncated share
        b = b * c.sum() / p.cost.sum("cohort").values.sum()
    return b, c, p.trend_index.values, p.benchmark_index.values


def simulated_spread(members: int, *, n_scenarios: int, seed: int,
                     mix: Mapping[str, float] | Population | None = None,
                     drivers: Drivers | None = None, truncate: bool = False
                     ) -> SimulatedSpread:
    """Spread of the savings rate ``(benchmark - expenditure) / benchmark`` of a simulated ACO.

    The ACO has ``members`` beneficiaries with the enrolment ``mix`` (:func:`mix_population`),
    simulated for one year twice with the same seed: with ``drivers`` (default
    :class:`~vbsim.drivers.Drivers()`) and with their noise off (``trend_sd = benchmark_sd =
    shock_prob = 0``), which splits the variance into member-level randomness and basis risk.

    Parameters
    ----------
    members : int
        Assigned beneficiaries (member slots), >= 1.
    n_scenarios : int
        Scenarios per run, >= 10.
    seed : int
        Seed of both runs.
    mix : mapping or Population, optional
        Enrolment mix; default :data:`DEFAULT_MIX`.
    drivers : Drivers, optional
        Scenario drivers; default ``Drivers()``.
    truncate : bool
        Cap each member's annual cost at the model's 99th percentile for the cohort
        (:func:`truncation_points`), as MSSP does with the national 99th percentile, and put the
        benchmark on the same scale. Default False (the engine's raw expenditure).

    Returns
    -------
    SimulatedSpread

    Examples
    --------
    >>> s = simulated_spread(500, n_scenarios=40, seed=1)
    >>> s.rates.shape, bool(s.var_member > 0)
    ((40,), True)
    """
    members = check_int("members", members, 1, 10**8)
    n_scenarios = check_int("n_scenarios", n_scenarios, 10, 10**8)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    drivers = Drivers() if drivers is None else drivers
    if not isinstance(drivers, Drivers):
        raise VbsimInputError(f"drivers must be a vbsim.drivers.Drivers; got {drivers!r}")
    pop = mix_population(members, mix)
    thr = None
    if truncate:
        tm = drivers.trend_mean
        thr = truncation_points(pop, trend=tm[0] if isinstance(tm, tuple) else tm)
    b, c, ti, bi = _rates(pop, drivers, n_scenarios, seed, thr)
    x = (b - c) / b
    b0, c0, _, _ = _rates(pop, _quiet(drivers), n_scenarios, seed, thr)
    y = (b0 - c0) / b0
    st, sm = _row(x), metrics.sd(y)
    d = (x - x.mean()) ** 2 - (y - y.mean()) ** 2
    v_on, v_off = st["sd"] ** 2, float(sm.value) ** 2
    v_b = v_on - v_off
    limit = 1.0 - ti / bi
    return SimulatedSpread(
        members=members, n_scenarios=n_scenarios, seed=seed, truncated=bool(truncate),
        rates=x, member_rates=y, mean=st["mean"], sd=st["sd"], sd_se=st["sd_se"],
        p05=st["p05"], p95=st["p95"], robust_sd=st["robust_sd"], sd_member=float(sm.value),
        sd_member_se=float(sm.se), var_member=v_off, var_basis=v_b,
        var_basis_se=float(d.std(ddof=1) / math.sqrt(d.size)),
        share_member=v_off / v_on if v_on > 0 else math.nan,
        share_basis=v_b / v_on if v_on > 0 else math.nan,
        sd_basis_limit=float(limit.std(ddof=1)))


# --------------------------------------------------------------------------------------------
# Side by side, figure
# --------------------------------------------------------------------------------------------
MIN_ACOS = 20  # bins with fewer real ACOs are not compared (assumption: too few for an sd)


def compare(size_bins: Sequence[tuple[int, int | None]] = SIZE_BINS, *, n_scenarios: int = 600,
            seed: int = 20261123, mix: Mapping[str, float] | Population | None = None,
            drivers: Drivers | None = None, truncate: bool = True,
            path: str | Path | None = None) -> pd.DataFrame:
    """Real vs simulated savings-rate spread per size bin, with the variance decomposition.

    Each bin with at least ``MIN_ACOS`` real ACOs is simulated (:func:`simulated_spread`, seed
    ``seed + i`` for the i-th bin) at the harmonic mean of its ACO sizes, the size whose
    member-level variance (which goes like 1/size) equals the bin's average. The decomposition of
    the **real** variance: ``share_member`` (a, member-level randomness), ``share_basis`` (b,
    trend vs benchmark-update error), ``share_not_modelled`` (c, real minus simulated variance,
    when positive: benchmark error and efficiency differences across ACOs, which the model does
    not hold). ``truncate`` defaults to True, as the real ``Sav_rate`` is computed on
    expenditure truncated at the national 99th percentile (DOMAIN.md s1).

    Returns
    -------
    pandas.DataFrame
        Per bin: ``n``, ``size`` (simulated members), real ``real_mean``, ``real_sd``,
        ``real_sd_lo``, ``real_sd_hi``, ``real_p05``, ``real_p95``, ``real_robust_sd``; simulated
        ``sim_mean``, ``sim_sd``, ``sim_sd_se``, ``sim_p05``, ``sim_p95``, ``sim_robust_sd``,
        ``sim_sd_member``, ``sim_sd_member_se``, ``sim_share_member``, ``sim_share_basis``,
        ``sim_var_basis``, ``sim_var_basis_se``, ``sim_sd_basis_limit``;
        shares of the real variance ``share_member``, ``share_basis``, ``share_not_modelled``.

    Examples
    --------
    >>> compare(n_scenarios=600)  # doctest: +SKIP
    """
    real = real_spread(size_bins, path=path)
    rows = {}
    for i, (label, r) in enumerate(real.iterrows()):
        if r["n"] < MIN_ACOS:
            continue
        size = int(round(r["size_hmean"]))
        s = simulated_spread(size, n_scenarios=n_scenarios, seed=seed + i, mix=mix,
                             drivers=drivers, truncate=truncate)
        v_real = r["sd"] ** 2
        rows[label] = {
            "n": int(r["n"]), "size": size,
            "real_mean": r["mean"], "real_sd": r["sd"], "real_sd_lo": r["sd_lo"],
            "real_sd_hi": r["sd_hi"], "real_p05": r["p05"], "real_p95": r["p95"],
            "real_robust_sd": r["robust_sd"],
            "sim_mean": s.mean, "sim_sd": s.sd, "sim_sd_se": s.sd_se, "sim_p05": s.p05,
            "sim_p95": s.p95, "sim_robust_sd": s.robust_sd, "sim_sd_member": s.sd_member,
            "sim_sd_member_se": s.sd_member_se, "sim_share_member": s.share_member,
            "sim_share_basis": s.share_basis, "sim_var_basis": s.var_basis,
            "sim_var_basis_se": s.var_basis_se, "sim_sd_basis_limit": s.sd_basis_limit,
            "share_member": s.var_member / v_real,
            "share_basis": max(s.var_basis, 0.0) / v_real,
            "share_not_modelled": max(v_real - s.sd**2, 0.0) / v_real,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def contradictions(table: pd.DataFrame, k: float = 3.0) -> list[str]:
    """Bins where the simulated sd exceeds the real sd beyond sampling error.

    A bin contradicts the data when ``sim_sd - k sim_sd_se`` exceeds the upper end of the real
    sd's chi-square interval (``real_sd_hi``): the simulated spread is then larger than any real
    spread consistent with the sample, although the real spread also holds benchmark error and
    efficiency differences (an upper bound).

    >>> t = pd.DataFrame({"sim_sd": [0.02, 0.05], "sim_sd_se": [0.001, 0.001],
    ...                   "real_sd_hi": [0.03, 0.04]}, index=["a", "b"])
    >>> contradictions(t)
    ['b']
    """
    k = check_real("k", k, 0)
    bad = table["sim_sd"] - k * table["sim_sd_se"] > table["real_sd_hi"]
    return [str(i) for i in table.index[bad.to_numpy()]]


def markdown_table(table: pd.DataFrame) -> str:
    """The :func:`compare` table as Markdown (percent units), as quoted in the docs.

    >>> t = pd.DataFrame({"n": [200], "size": [7273], "real_sd": [0.05], "real_sd_lo": [0.04],
    ...     "real_sd_hi": [0.06], "real_p05": [-0.05], "real_p95": [0.1], "sim_sd": [0.03],
    ...     "sim_sd_se": [0.001], "sim_p05": [-0.05], "sim_p95": [0.05], "sim_sd_member": [0.028],
    ...     "share_member": [0.3], "share_basis": [0.1], "share_not_modelled": [0.6]},
    ...     index=["5k-10k"])
    >>> print(markdown_table(t).splitlines()[2])
    | 5k-10k | 200 | 7,273 | 5.00 (4.00-6.00) | -5.0 / 10.0 | 3.00 ± 0.10 | -5.0 / 5.0 | 2.80 | 30% | 10% | 60% |
    """  # noqa: E501
    head = ("| ACO size | ACOs | simulated size | real sd % (99% CI) | real p5 / p95 % | "
            "simulated sd % ± MC SE | simulated p5 / p95 % | member-only sd % | "
            "(a) member | (b) basis | (c) not modelled |")
    lines = [head, "|" + "---|" * 11]
    for label, r in table.iterrows():
        lines.append(
            f"| {label} | {int(r['n'])} | {int(r['size']):,} | {100 * r['real_sd']:.2f} "
            f"({100 * r['real_sd_lo']:.2f}-{100 * r['real_sd_hi']:.2f}) | "
            f"{100 * r['real_p05']:.1f} / {100 * r['real_p95']:.1f} | "
            f"{100 * r['sim_sd']:.2f} ± {100 * r['sim_sd_se']:.2f} | "
            f"{100 * r['sim_p05']:.1f} / {100 * r['sim_p95']:.1f} | "
            f"{100 * r['sim_sd_member']:.2f} | {r['share_member']:.0%} | "
            f"{r['share_basis']:.0%} | {r['share_not_modelled']:.0%} |")
    return "\n".join(lines)


def figure(path: str | Path | None = FIGURE_PATH, *,
           sizes: Sequence[int] = (5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 50_000,
                                   100_000),
           n_scenarios: int = 600, seed: int = 20261123, truncate: bool = True,
           table: pd.DataFrame | None = None, data: str | Path | None = None,
           show_untruncated: bool = True) -> Any:
    """Real PY2018 savings rates by ACO size against the simulated 5-95% bands.

    Left: every real ACO (dots) and per-bin boxes (5/25/50/75/95th percentiles); the simulated
    ACO's 5-95% band over ``sizes`` with the drivers on (member-level randomness + basis risk)
    and off (member-level only), centred on the real mean savings rate (the model's mean is an
    input: the check is about spread). Right: the share of each bin's real variance the model
    attributes to (a) member-level randomness, (b) basis risk and (c) what it does not hold.

    Parameters
    ----------
    path : path or None
        PNG to write (folders created); default ``<repo>/docs/figures/reality_check.png``;
        None: only return the figure.
    sizes : sequence of int
        ACO sizes of the simulated curve.
    n_scenarios, seed, truncate
        As in :func:`compare`.
    table : DataFrame, optional
        A :func:`compare` result to annotate with (computed when None).
    data : path, optional
        The PUF CSV (default :func:`data_path`).
    show_untruncated : bool
        With ``truncate``, also draw the 5-95% band of the untruncated expenditure (dashed).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = figure(None, sizes=[5_000], n_scenarios=10)  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = load_puf(data)
    if table is None:
        table = compare(n_scenarios=n_scenarios, seed=seed, truncate=truncate, path=data)
    real_mean = float(df.Sav_rate[df.N_AB >= SIZE_BINS[0][0]].mean())
    on, off, raw = [], [], []
    for i, n in enumerate(sizes):
        s = simulated_spread(int(n), n_scenarios=n_scenarios, seed=seed + 100 + i,
                             truncate=truncate)
        shift = real_mean - s.mean
        on.append(np.quantile(s.rates + shift, [0.05, 0.95]))
        off.append(np.quantile(s.member_rates + shift, [0.05, 0.95]))
        if truncate and show_untruncated:
            u = simulated_spread(int(n), n_scenarios=n_scenarios, seed=seed + 100 + i,
                                 truncate=False)
            raw.append(np.quantile(u.rates + real_mean - u.mean, [0.05, 0.95]))
    on_a, off_a, xs = np.array(on), np.array(off), np.asarray(sizes, dtype=float)

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.6), width_ratios=[2.1, 1])
    ax.scatter(df.N_AB, 100 * df.Sav_rate, s=5, color="0.55", alpha=0.5, lw=0,
               label=f"real ACOs, PY2018 (n={len(df)})")
    real = real_spread(path=data)
    pos = real["size_hmean"].to_numpy()
    groups = []
    for lo, hi in SIZE_BINS:
        sel = (df.N_AB >= lo) & ((df.N_AB < hi) if hi is not None else True)
        groups.append(100 * df.Sav_rate[sel].to_numpy())
    ax.boxplot(groups, positions=pos, widths=0.22 * pos, whis=(5, 95), showfliers=False,
               manage_ticks=False, medianprops={"color": "k"},
               boxprops={"color": "k"}, whiskerprops={"color": "k"})
    ax.fill_between(xs, 100 * on_a[:, 0], 100 * on_a[:, 1], color="tab:blue", alpha=0.25,
                    label="simulated 5-95%: member + basis risk")
    ax.plot(xs, 100 * off_a[:, 0], color="tab:orange", lw=1.5,
            label="simulated 5-95%: member-level only")
    ax.plot(xs, 100 * off_a[:, 1], color="tab:orange", lw=1.5)
    if raw:
        raw_a = np.array(raw)
        ax.plot(xs, 100 * raw_a[:, 0], color="tab:blue", lw=1, ls="--",
                label="simulated 5-95%, untruncated expenditure")
        ax.plot(xs, 100 * raw_a[:, 1], color="tab:blue", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_xlim(4_000, 1.5e5)
    ax.set_ylim(-15, 20)
    ax.axhline(100 * real_mean, color="0.3", lw=0.7, ls=":")
    ax.set_xlabel("assigned beneficiaries (log scale)")
    ax.set_ylabel("savings rate, % of benchmark")
    trunc = "truncated at the 99th pct" if truncate else "untruncated"
    ax.set_title(f"Savings rate by ACO size: real boxes (5/25/50/75/95) vs simulated bands\n"
                 f"(1 year, {n_scenarios} scenarios per size, expenditure {trunc}, "
                 f"bands centred on the real mean)", fontsize=9)
    ax.legend(loc="upper right", fontsize=7.5, framealpha=0.9)

    labels = list(table.index)
    y = np.arange(len(labels))
    left = np.zeros(len(labels))
    parts = [("share_member", "(a) member-level", "tab:orange"),
             ("share_basis", "(b) basis risk", "tab:blue"),
             ("share_not_modelled", "(c) not modelled", "0.75")]
    for col, lab, colr in parts:
        v = 100 * table[col].to_numpy()
        bx.barh(y, v, left=left, color=colr, label=lab)
        for yi, (lf, vi) in enumerate(zip(left, v, strict=True)):
            if vi >= 7:
                bx.text(lf + vi / 2, yi, f"{vi:.0f}%", ha="center", va="center", fontsize=8)
        left += v
    over = 100 * (table["sim_sd"] ** 2 / table["real_sd"] ** 2).to_numpy()
    for yi, o in enumerate(over):
        if o > 100:
            bx.text(101, yi, f"sim/real var {o:.0f}%", va="center", fontsize=7, color="r")
    bx.set_yticks(y, [f"{lab}\n(n={int(n)})" for lab, n in zip(labels, table["n"],
                                                                 strict=True)])
    bx.invert_yaxis()
    bx.set_xlim(0, 100)
    bx.set_xlabel("% of the real variance of the savings rate")
    bx.set_title("What the model attributes the real spread to", fontsize=9)
    bx.legend(loc="upper center", bbox_to_anchor=(0.45, -0.14), ncol=3, fontsize=7,
              handlelength=1.2, columnspacing=0.8)
    fig.tight_layout()
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=110)
    return fig


def main() -> None:  # pragma: no cover - regenerates docs/figures/reality_check.png
    """Regenerate the figure and print the tables quoted in docs/reality_check.md.

    It re-simulates every size bin (slow) and needs the PUF, so it is shown, not run:

    >>> main()  # doctest: +SKIP
    Expenditure truncated at the model's 99th percentile per enrolment type:
    ...
    """
    import matplotlib.pyplot as plt

    pop = mix_population(10_000)
    tm = Drivers().trend_mean
    points = truncation_points(pop, trend=tm[0] if isinstance(tm, tuple) else tm)
    print("Truncation points (the model's 99th percentiles, year-1 trend): " + ", ".join(
        f"{c.name} ${t:,.0f}" for c, t in zip(pop.cohorts, points, strict=True)))
    table = compare()
    print("Expenditure truncated at the model's 99th percentile per enrolment type:")
    print(markdown_table(table))
    fit = real_size_fit()
    coef = table["sim_sd_member"] ** 2 * table["size"]
    print(f"\nReal var = A/N + B over {fit['n']} ACOs: A = {fit['member_coef']:.2f} "
          f"+/- {fit['member_coef_se']:.2f}, B = {fit['floor_var']:.2e} +/- "
          f"{fit['floor_var_se']:.2e}; model member coefficient by bin: "
          f"{', '.join(f'{c:.2f}' for c in coef)}; model basis var by bin: "
          f"{', '.join(f'{v:.2e}' for v in table['sim_var_basis'])}")
    print("\nUntruncated (the engine's raw expenditure):")
    print(markdown_table(compare(truncate=False)))
    plt.close(figure(table=table))
    print(f"\nwrote {FIGURE_PATH}")


if __name__ == "__main__":  # pragma: no cover
    main()
