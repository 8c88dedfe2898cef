"""GPU engine speed: ns per member-year of the numba.cuda path next to the CPU engine.

Usage (on a machine with an NVIDIA GPU; see docs/gpu.md)::

    PYTHONPATH=$PWD python3 benchmarks/gpu.py                 # defaults, about a minute
    PYTHONPATH=$PWD python3 benchmarks/gpu.py --scenarios 1000 10000 --cpu-scenarios 320

Model: one cohort of ``--members`` members with the default dynamics of
:class:`vbsim.population.Cohort` (AR(1) rank, lognormal risk, deaths, churn, replacement), a
lognormal (or spliced) cost, the default drivers and one stop-loss threshold (100,000), as in
``benchmarks/engine.py``. GPU: wall-clock time of :func:`vbsim.engine.cuda.simulate_chunk_cuda`
(keys on the host, transfers, both kernels, copy back), after a warm-up call that compiles.
CPU: :func:`vbsim.simulate.simulate` with the numba backend on all cores, after a warm-up. Each
GPU size is also checked against the CPU kernel on its first scenarios (max relative
difference printed). With ``--json PATH`` the numbers are also written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numba
import numpy as np

from vbsim.costs import Lognormal, Spliced
from vbsim.drivers import Drivers, driver_paths
from vbsim.engine.cuda import simulate_chunk_cuda
from vbsim.engine.kernel import N_STATS, simulate_block
from vbsim.population import Cohort, Population
from vbsim.simulate import _packed, simulate

THR = np.array([100_000.0])


def _population(members: int, model: str, transitions: float = 0.0) -> Population:
    """One cohort; with ``transitions`` > 0, two halves whose members move between them
    (``transitions`` a year from the first to the second, half that back)."""
    cost = Lognormal(mean=11_000, cv=2.0) if model == "lognormal" else Spliced(mean=11_000)
    if transitions <= 0.0:
        return Population([Cohort("members", members, cost)])
    half = members // 2
    return Population([
        Cohort("a", half, cost, transitions={"b": transitions}),
        Cohort("b", members - half, cost, mortality=0.09, transitions={"a": transitions / 2})])


def _call(kernel, pop: Population, scen: int, years: int, first: int = 0, **kw):
    pk = _packed(pop, years)
    dp = driver_paths(Drivers(), scen, years, 1, first_scenario=first)
    st = np.zeros((scen, years, len(pop), N_STATS))
    ex = np.zeros((scen, years, len(pop), THR.size))
    t0 = time.perf_counter()
    kernel(1, first, scen, years, pk["slots"], pk["family"], pk["params"], pk["coh"],
           pk["ztab"], np.ascontiguousarray(dp.trend_index), THR, 1024, st, ex, **kw)
    return time.perf_counter() - t0, st, ex


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--scenarios", type=int, nargs="+", default=[1_000, 10_000])
    ap.add_argument("--threads", type=int, nargs="+", default=[64, 128, 256],
                    help="threads per block to compare on the first size")
    ap.add_argument("--cpu-scenarios", type=int, default=320)
    ap.add_argument("--check-scenarios", type=int, default=4,
                    help="scenarios compared with the CPU kernel (0: skip)")
    ap.add_argument("--model", choices=["lognormal", "spliced"], nargs="+",
                    default=["lognormal", "spliced"])
    ap.add_argument("--transitions", type=float, default=0.0,
                    help="annual cohort-transition rate (0: one cohort, no moves)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from numba import cuda

    try:
        dev = cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        name += f", {dev.MULTIPROCESSOR_COUNT} SMs, compute capability {dev.compute_capability}"
    except AttributeError:  # numba's CUDA simulator
        name = "CUDA simulator"
    print(f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus; "
          f"numba {numba.__version__}, numpy {np.__version__}; GPU: {name}")
    rows = []
    for model in a.model:
        pop = _population(a.members, model, a.transitions)
        for tpb in a.threads:  # warm-up (compile) each block size
            _call(simulate_chunk_cuda, pop, 2, a.years, threads_per_block=tpb)
        for k, scen in enumerate(a.scenarios):
            for tpb in a.threads if k == 0 else [a.threads[len(a.threads) // 2]]:
                sec, st, ex = _call(simulate_chunk_cuda, pop, scen, a.years,
                                    threads_per_block=tpb)
                ns = sec / (a.members * scen * a.years) * 1e9
                row = dict(engine="gpu", model=model, members=a.members, scenarios=scen,
                           years=a.years, threads_per_block=tpb, seconds=sec,
                           ns_per_member_year=ns)
                if a.check_scenarios and tpb == a.threads[len(a.threads) // 2]:
                    n = min(a.check_scenarios, scen)
                    _, cst, cex = _call(simulate_block, pop, n, a.years)
                    row["max_rel_diff_vs_cpu"] = max(_rel(st[:n], cst), _rel(ex[:n], cex))
                rows.append(row)
                print(f"GPU  {model:9s} {a.members:>7,} members x {scen:>6,} scen x "
                      f"{a.years} y, {tpb:4d} thr/block: {sec:8.3f} s  {ns:7.4f} ns/member-year"
                      + (f"  (max rel diff vs CPU {row['max_rel_diff_vs_cpu']:.1e})"
                         if "max_rel_diff_vs_cpu" in row else ""))
        # CPU engine, all cores, same model (smaller size)
        kw = dict(n_scenarios=a.cpu_scenarios, years=a.years, seed=1, thresholds=THR,
                  progress=False)
        simulate(_population(1_000, model, a.transitions), **{**kw, "n_scenarios": 16})
        t0 = time.perf_counter()
        simulate(pop, **kw)
        sec = time.perf_counter() - t0
        ns = sec / (a.members * a.cpu_scenarios * a.years) * 1e9
        rows.append(dict(engine="cpu", model=model, members=a.members,
                         scenarios=a.cpu_scenarios, years=a.years,
                         threads=numba.get_num_threads(), seconds=sec, ns_per_member_year=ns))
        print(f"CPU  {model:9s} {a.members:>7,} members x {a.cpu_scenarios:>6,} scen x "
              f"{a.years} y, {numba.get_num_threads():3d} threads:    {sec:8.3f} s  "
              f"{ns:7.4f} ns/member-year")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(dict(device=name, rows=rows), fh, indent=1)


if __name__ == "__main__":
    main()
