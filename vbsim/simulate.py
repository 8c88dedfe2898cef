"""``simulate``: a population and its drivers in, ``CostPaths`` (an xarray Dataset) out.

The engine streams over members and keeps only per-(scenario, year, cohort[, threshold])
reductions, so memory is O(scenarios x years x cohorts x thresholds) whatever the number of
members. Scenarios run in blocks on a thread pool of ``numba.get_num_threads()`` threads (the
numba kernel releases the GIL); a progress bar updates as blocks finish. Random numbers are
counter-based, so one seed gives identical results whatever the thread count, chunking or block
size (docs/engine.md).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np
import xarray as xr

from vbsim import __version__
from vbsim._threads import num_threads
from vbsim._validate import (
    VbsimInputError,
    check_array,
    check_choice,
    check_flag,
    check_int,
    check_list,
)
from vbsim.costs import SPLICED
from vbsim.drivers import Drivers, driver_paths
from vbsim.engine import ENGINE_VERSION
from vbsim.engine.kernel import (
    COST,
    DEATHS,
    GROUP,
    LEAVERS,
    MM,
    N_STATS,
    NEW,
    RISK_MM,
    START,
    simulate_block,
)
from vbsim.engine.ztable import pack_tables, spliced_table
from vbsim.population import Cohort, Population

__all__ = ["simulate", "CostPaths", "DEFAULT_BLOCK_SIZE"]

#: ``CostPaths`` is a plain :class:`xarray.Dataset` (dims scenario, year, cohort, threshold).
CostPaths = xr.Dataset

DEFAULT_BLOCK_SIZE = 1024  # members per block: ~17 arrays of 8 KiB stay in L2 (docs/engine.md)
_NS_PER_MEMBER_YEAR = 10.0  # rough speed used only to decide on a progress bar and chunking
# Work per thread-pool task (at _NS_PER_MEMBER_YEAR; ~0.2 s of real work on the team's EPYC).
# The run ends when the last task does, so the other thread idles for ~half a task: 0.5 s
# tasks cost LEAD's 1,000-scenario run 0.3 s of its 6.3 (5%), 0.1 s tasks nothing measurable
# (0.1 and 0.2 s read the same; the results do not depend on it). The GPU keeps long calls.
_CHUNK_SECONDS = 0.1
_CHUNK_SECONDS_CUDA = 0.5  # the earlier value for every backend, kept for the GPU (assumption)


def _packed(pop: Population, years: int) -> dict[str, np.ndarray]:
    """Kernel arguments: slots per cohort and year, cost families/parameters, dynamics."""
    specs = [c.cost.kernel_spec() for c in pop.cohorts]
    coh = np.array([[c.risk_sd, c.persistence, c.mortality, c.eol_uplift, c.churn,
                     c.replacement, 1.0 + c.risk_ageing, 1.0 + c.mortality_ageing, c.eol_cost,
                     float(c.stationary_start)]
                    for c in pop.cohorts], dtype=np.float64)
    tabs = [spliced_table(p) if f == SPLICED else None for f, p in specs]
    # cohort transitions: cumulative probabilities by destination (kernel column C_TRANS + d)
    idx = {n: i for i, n in enumerate(pop.names)}
    trans = np.zeros((len(pop), len(pop)))
    for i, c in enumerate(pop.cohorts):
        for name, prob in c.transitions:
            trans[i, idx[name]] = prob
    # who moves: exp(beta z + a log r + k), a = gamma / risk_sd, k = gamma risk_sd / 2
    # - (beta^2 + gamma^2) / 2 (Cohort.transition_rank_effect, transition_risk_effect)
    tilt = np.array([[b, g / s if g else 0.0, (0.5 * g * s if g else 0.0) - (b * b + g * g) / 2]
                     for b, g, s in ((c.transition_rank_effect, c.transition_risk_effect,
                                      c.risk_sd) for c in pop.cohorts)], dtype=np.float64)
    # columns C_TBETA, C_TRISK, C_TCONST, C_TRANS + d
    coh = np.hstack([coh, tilt, np.cumsum(trans, axis=1)])
    return {
        "slots": np.ascontiguousarray(np.stack([c.slots(years) for c in pop.cohorts])),
        "family": np.array([f for f, _ in specs], dtype=np.int64),
        "params": np.ascontiguousarray(np.stack([p for _, p in specs]), dtype=np.float64),
        "coh": np.ascontiguousarray(coh),
        "ztab": pack_tables(tabs),
    }


def _as_population(population: Any) -> Population:
    if isinstance(population, Population):
        return population
    if isinstance(population, Cohort):
        return Population([population])
    if isinstance(population, Iterable) and not isinstance(population, (str, bytes)):
        return Population(population)
    raise VbsimInputError(f"population must be a Population or Cohorts; got {population!r}")


def simulate(
    population: Population | Cohort | Sequence[Cohort],
    drivers: Drivers | None = None,
    *,
    n_scenarios: int,
    years: int = 1,
    seed: int,
    thresholds: Iterable[float] = (),
    block_size: int | None = None,
    progress: bool | None = None,
    backend: str = "numba",
    scenario_start: int = 0,
) -> xr.Dataset:
    """Simulate member costs and return per-(scenario, year, cohort) statistics.

    Parameters
    ----------
    population : Population, Cohort or list of Cohort
        Who is simulated (:mod:`vbsim.population`).
    drivers : Drivers, optional
        Trend, shocks, benchmark updates and quality; default :class:`vbsim.drivers.Drivers()`.
    n_scenarios : int
        Number of scenarios, >= 1.
    years : int
        Number of performance years, in [1, 50].
    seed : int
        Seed in [0, 2^63 - 1]; the same seed gives the same numbers on any thread count.
    thresholds : iterable of float
        Per-member attachment points (dollars per member-year, >= 0) for ``cost_capped`` and
        ``excess``; sorted and de-duplicated.
    block_size : int, optional
        Members per cache block, a multiple of 64 (results do not depend on it). Default 1024.
    progress : bool or None
        Show a tqdm bar; None shows one when the run is expected to take over ~3 seconds.
    backend : {"numba", "numpy", "cuda"}
        "numpy" runs the plain-numpy reference (slow; for checks and benchmarks); "cuda" runs
        the optional GPU kernels of :mod:`vbsim.engine.cuda` (same draws, sums agree with the
        CPU to ~1e-14 relative; docs/gpu.md), an error when no GPU is visible.
    scenario_start : int
        Index of the first scenario: scenarios ``scenario_start .. scenario_start +
        n_scenarios - 1`` are simulated, each exactly as in a run that starts at 0 (the random
        streams are keyed by the scenario index). Used to run blocks on several workers
        (:mod:`vbsim.distributed`).

    Returns
    -------
    xarray.Dataset
        ``CostPaths``: dims ``scenario``, ``year`` (1..years), ``cohort``, ``threshold``;
        variables ``member_months``, ``cost``, ``cost_capped``, ``excess``, ``risk_score``,
        ``deaths``, ``benchmark``, ``trend_index``, ``benchmark_index``, ``quality`` and extras
        (``members_start``, ``new_members``, ``leavers``, ``benchmark_factor``, ``growth``,
        ``shock``); ``attrs`` hold the inputs as JSON strings.

    Examples
    --------
    >>> from vbsim.costs import Lognormal
    >>> pop = Population([Cohort("all", 200, Lognormal(mean=10_000, cv=1.5))])
    >>> paths = simulate(pop, n_scenarios=4, years=2, seed=1, thresholds=[50_000])
    >>> dict(paths.sizes)
    {'scenario': 4, 'year': 2, 'cohort': 1, 'threshold': 1}
    >>> bool(abs(paths.cost_capped + paths.excess - paths.cost).max() < 1e-6)
    True
    """
    pop = _as_population(population)
    drivers = Drivers() if drivers is None else drivers
    if not isinstance(drivers, Drivers):
        raise VbsimInputError(f"drivers must be a vbsim.drivers.Drivers; got {drivers!r}")
    n_scenarios = check_int("n_scenarios", n_scenarios, 1, 10**9)
    years = check_int("years", years, 1, 50)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    scenario_start = check_int("scenario_start", scenario_start, 0, 2**40)
    thr = np.unique(check_array("thresholds", check_list("thresholds", thresholds, "dollars"),
                                0.0, 1e15))
    block = DEFAULT_BLOCK_SIZE if block_size is None else check_int(
        "block_size", block_size, GROUP, 2**20)
    if block % GROUP:
        raise VbsimInputError(f"block_size must be a multiple of {GROUP}; got {block}")
    check_choice("backend", backend, ["numba", "numpy", "cuda"])

    dp = driver_paths(drivers, n_scenarios, years, seed, first_scenario=scenario_start)
    pk = _packed(pop, years)
    stats = np.zeros((n_scenarios, years, len(pop), N_STATS))
    excess = np.zeros((n_scenarios, years, len(pop), thr.size))

    work = float(pk["slots"].sum())  # member-slot-years per scenario
    threads = num_threads() if backend == "numba" else 1
    # scenarios per task: about _CHUNK_SECONDS of work, and at least 4 tasks per thread
    ns_per = _NS_PER_MEMBER_YEAR if backend != "cuda" else 0.1  # docs/gpu.md: ~0.07-0.1 ns
    chunk_s = _CHUNK_SECONDS if backend != "cuda" else _CHUNK_SECONDS_CUDA
    per_chunk = max(1, min(int(chunk_s / (work * ns_per * 1e-9)),
                           -(-n_scenarios // (4 * threads))))
    expected_s = work * n_scenarios * ns_per * 1e-9 / threads
    show = expected_s > 3.0 if progress is None else check_flag("progress", progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_scenarios, unit="scen", desc="vbsim simulate")
    if backend == "numba":
        kernel = simulate_block
    elif backend == "cuda":
        from vbsim.engine.cuda import simulate_chunk_cuda as kernel
    else:
        from vbsim.engine.reference import simulate_reference as kernel
    trend = dp.trend_index

    def task(first: int) -> int:
        n = min(per_chunk, n_scenarios - first)
        sl = slice(first, first + n)
        args = (seed, scenario_start + first, n, years, pk["slots"], pk["family"], pk["params"],
                pk["coh"], pk["ztab"], np.ascontiguousarray(trend[sl]), thr)
        if backend in ("numba", "cuda"):
            kernel(*args, block, stats[sl], excess[sl])
        else:
            kernel(*args, stats[sl], excess[sl])
        return n

    t0 = time.perf_counter()
    starts = range(0, n_scenarios, per_chunk)
    try:
        if threads == 1 or len(starts) == 1:
            for first in starts:
                done = task(first)
                if bar is not None:
                    bar.update(done)
        else:
            # each task writes its own rows; the kernel releases the GIL
            with ThreadPoolExecutor(max_workers=threads) as pool:
                for fut in as_completed([pool.submit(task, f) for f in starts]):
                    done = fut.result()
                    if bar is not None:
                        bar.update(done)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0
    return _to_dataset(pop, drivers, dp, stats, excess, thr,
                       dict(seed=seed, n_scenarios=n_scenarios, years=years, block_size=block,
                            backend=backend, elapsed_s=elapsed, scenario_start=scenario_start))


def _to_dataset(pop: Population, drivers: Drivers, dp: Any, stats: np.ndarray,
                excess: np.ndarray, thr: np.ndarray, info: dict[str, Any]) -> xr.Dataset:
    sy, syc, sytc = ("scenario", "year"), ("scenario", "year", "cohort"), (
        "scenario", "year", "cohort", "threshold")
    mm, cost, rmm = stats[..., MM], stats[..., COST], stats[..., RISK_MM]
    pbpy = np.array([c.pbpy for c in pop.cohorts])
    with np.errstate(invalid="ignore", divide="ignore"):
        risk = np.where(mm > 0, rmm / np.where(mm > 0, mm, 1.0), math.nan)
    # benchmark = member-years x PBPY x benchmark_index x mean risk score
    #           = PBPY x benchmark_index x sum(r x member-months) / 12
    bench = pbpy[None, None, :] * dp.benchmark_index[:, :, None] * rmm / 12.0
    ds = xr.Dataset(
        {
            "member_months": (syc, mm),
            "cost": (syc, cost),
            "cost_capped": (sytc, cost[..., None] - excess),
            "excess": (sytc, excess),
            "risk_score": (syc, risk),
            "deaths": (syc, stats[..., DEATHS]),
            "benchmark": (syc, bench),
            "members_start": (syc, stats[..., START]),
            "new_members": (syc, stats[..., NEW]),
            "leavers": (syc, stats[..., LEAVERS]),
            "trend_index": (sy, dp.trend_index),
            "benchmark_index": (sy, dp.benchmark_index),
            "benchmark_factor": (sy, dp.benchmark_factor),
            "growth": (sy, dp.growth),
            "shock": (sy, dp.shock),
            "quality": (sy, dp.quality),
        },
        coords={
            "scenario": info.get("scenario_start", 0) + np.arange(stats.shape[0]),
            "year": np.arange(1, stats.shape[1] + 1),
            "cohort": list(pop.names),
            "threshold": thr,
        },
    )
    ds["benchmark_pbpy"] = ("cohort", pbpy)
    ds.attrs.update({
        "population": pop.to_json(),
        "drivers": drivers.to_json(),
        "seed": info["seed"],
        "n_scenarios": info["n_scenarios"],
        "scenario_start": info["scenario_start"],
        "years": info["years"],
        "thresholds": json.dumps(thr.tolist()),
        "block_size": info["block_size"],
        "backend": info["backend"],
        "engine_version": ENGINE_VERSION,
        "vbsim_version": __version__,
        "elapsed_s": info["elapsed_s"],
    })
    return ds
