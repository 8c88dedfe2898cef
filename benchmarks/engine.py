"""Engine speed: ns per member-year, numba kernel vs the numpy reference, side by side.

Usage::

    .venv/bin/python benchmarks/engine.py              # default sizes (about a minute)
    .venv/bin/python benchmarks/engine.py --prange     # also time numba's prange variant
    .venv/bin/python benchmarks/engine.py --full --no-numpy   # 100k members x 10k scen x 10 y

The model is a lognormal (or spliced) member with AR(1) rank persistence, lognormal risk
scores, deaths, churn and replacement (the defaults of :class:`vbsim.population.Cohort`), the
default drivers and one stop-loss threshold. Wall-clock time of :func:`vbsim.simulate` over
members x scenarios x years; the best of ``--repeat`` runs. Record results in
benchmarks/README.md with the machine description and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numba
import numpy as np

from vbsim.costs import Lognormal, Spliced
from vbsim.population import Cohort, Population
from vbsim.simulate import _packed, simulate


def _population(members: int, model: str) -> Population:
    cost = Lognormal(mean=11_000, cv=2.0) if model == "lognormal" else Spliced(mean=11_000)
    return Population([Cohort("members", members, cost)])


def _time_simulate(pop: Population, scenarios: int, years: int, backend: str,
                   repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        simulate(pop, n_scenarios=scenarios, years=years, seed=1, thresholds=[100_000.0],
                 backend=backend, progress=False)
        best = min(best, time.perf_counter() - t0)
    return best / (pop.members * scenarios * years) * 1e9


def _time_prange(pop: Population, scenarios: int, years: int, repeat: int) -> float:
    from vbsim.engine.kernel import simulate_chunk

    pk = _packed(pop, years)
    thr = np.array([100_000.0])
    best = np.inf
    for _ in range(repeat + 1):  # first call compiles / loads the cache
        st = np.zeros((scenarios, years, 1, 7))
        ex = np.zeros((scenarios, years, 1, 1))
        t0 = time.perf_counter()
        simulate_chunk(1, 0, scenarios, years, pk["slots"], pk["family"], pk["params"],
                       pk["coh"], np.ones((scenarios, years)), thr, 1024, st, ex)
        best = min(best, time.perf_counter() - t0)
    return best / (pop.members * scenarios * years) * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=20_000)
    ap.add_argument("--scenarios", type=int, default=1_000)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--numpy-scenarios", type=int, default=10)
    ap.add_argument("--model", choices=["lognormal", "spliced"], default="lognormal")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-numpy", action="store_true")
    ap.add_argument("--prange", action="store_true", help="also time the numba prange variant")
    ap.add_argument("--full", action="store_true",
                    help="100,000 members x 10,000 scenarios x 10 years, one run")
    a = ap.parse_args()
    if a.full:
        a.members, a.scenarios, a.years, a.repeat = 100_000, 10_000, 10, 1
    pop = _population(a.members, a.model)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f}; numba {numba.__version__}, "
          f"numpy {np.__version__}; model {a.model}")
    print(f"size: {a.members:,} members x {a.scenarios:,} scenarios x {a.years} years")
    simulate(pop, n_scenarios=2, years=a.years, seed=0, progress=False)  # compile / load cache
    res = {}
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(threads)
        ns = _time_simulate(pop, a.scenarios, a.years, "numba", a.repeat)
        res[f"numba {threads}t"] = ns
        print(f"numba, thread pool, {threads} thread(s): {ns:7.2f} ns per member-year",
              flush=True)
        if a.prange:
            ns = _time_prange(pop, a.scenarios, a.years, a.repeat)
            print(f"numba, prange,      {threads} thread(s): {ns:7.2f} ns per member-year",
                  flush=True)
    if not a.no_numpy:
        ns = _time_simulate(pop, a.numpy_scenarios, a.years, "numpy", a.repeat)
        print(f"numpy reference (1 thread):       {ns:7.2f} ns per member-year", flush=True)
        best = min(res.values())
        print(f"speed-up, best numba vs numpy: {ns / best:.1f}x")


if __name__ == "__main__":
    main()
