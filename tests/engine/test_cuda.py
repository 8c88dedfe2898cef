"""The optional GPU path (vbsim.engine.cuda) against the CPU kernel.

CI has no GPU: the GPU tests skip there, and one test runs the CUDA kernels in numba's CUDA
simulator (a subprocess with NUMBA_ENABLE_CUDASIM=1) on a tiny problem, so the port is checked
against the CPU kernel on every run. The random streams are counter-based and shared, so the GPU
must agree with the CPU to rounding (1e-9 relative), not only in distribution.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vbsim.costs import CompoundPoisson, Lognormal, Spliced
from vbsim.drivers import Drivers, driver_paths
from vbsim.engine.cuda import cuda_available, simulate_chunk_cuda
from vbsim.engine.kernel import N_STATS, simulate_block
from vbsim.population import Cohort, Population
from vbsim.simulate import _packed

MIXED = Population([
    Cohort("ln", 150, Lognormal(mean=10_000, cv=2.0)),
    Cohort("sp", 120, Spliced(mean=11_000), replacement=0.6, mortality=0.1, churn=0.2,
           growth=0.1, risk_ageing=0.03, mortality_ageing=0.09, eol_cost=20_000.0),
    Cohort("cp", 60, CompoundPoisson(rate=2.0, severity=Lognormal(mean=3_000, cv=1.5))),
    Cohort("tail", 40, Spliced(mean=9_000, cv=2.5, zero_share=0.0, tail_shape=0.0)),
])
THR = np.array([5_000.0, 40_000.0])


def _run(kernel, pop, n_scen, years, seed, thr, first=0, drivers=None, **kw):
    """stats, excess from one kernel call on packed inputs (as vbsim.simulate does)."""
    pk = _packed(pop, years)
    dp = driver_paths(drivers or Drivers(), n_scen, years, seed, first_scenario=first)
    stats = np.zeros((n_scen, years, len(pop), N_STATS))
    excess = np.zeros((n_scen, years, len(pop), thr.size))
    kernel(seed, first, n_scen, years, pk["slots"], pk["family"], pk["params"], pk["coh"],
           pk["ztab"], np.ascontiguousarray(dp.trend_index), thr, 1024, stats, excess, **kw)
    return stats, excess


def _assert_close(a, b):
    for name, x, y in (("stats", a[0], b[0]), ("excess", a[1], b[1])):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-6, err_msg=name)
    # counts (deaths, starts, entrants, leavers) are sums of 0/1: exact
    np.testing.assert_array_equal(a[0][..., 3:], b[0][..., 3:])


def test_cuda_available_is_a_bool_and_missing_gpu_is_a_clear_error():
    assert isinstance(cuda_available(), bool)
    if cuda_available():
        pytest.skip("a GPU is present: the no-GPU error path cannot be exercised")
    with pytest.raises(Exception, match="needs an NVIDIA GPU"):
        _run(simulate_chunk_cuda, MIXED, 1, 1, 0, THR)


def test_bad_threads_per_block_is_rejected():
    with pytest.raises(Exception, match="threads_per_block"):
        _run(simulate_chunk_cuda, MIXED, 1, 1, 0, THR, threads_per_block=48)


SIM_SCRIPT = textwrap.dedent("""
    import warnings
    warnings.simplefilter("ignore")  # numpy scalars warn when uint64 products wrap (intended)
    import numpy as np
    from tests.engine.test_cuda import MIXED, THR, _assert_close, _run
    from vbsim.costs import Lognormal, Spliced, CompoundPoisson
    from vbsim.engine.cuda import simulate_chunk_cuda
    from vbsim.engine.kernel import simulate_block
    from vbsim.population import Cohort, Population
    pop = Population([
        Cohort("ln", 64, Lognormal(mean=10_000, cv=2.0)),
        Cohort("sp", 40, Spliced(mean=11_000), replacement=0.5, mortality=0.2, churn=0.3,
               growth=0.2, risk_ageing=0.03, mortality_ageing=0.09, eol_cost=20_000.0),
        Cohort("cp", 24, CompoundPoisson(rate=2.0, severity=Lognormal(mean=3_000, cv=1.5))),
    ])
    args = (pop, 2, 2, 7, THR)
    cpu = _run(simulate_block, *args, first=3)
    gpu = _run(simulate_chunk_cuda, *args, first=3, threads_per_block=32)
    _assert_close(gpu, cpu)
    # a different chunking of scenarios (max_partial_bytes) gives the same bytes
    gpu1 = _run(simulate_chunk_cuda, *args, first=3, threads_per_block=32,
                max_partial_bytes=1)
    assert np.array_equal(gpu[0], gpu1[0]) and np.array_equal(gpu[1], gpu1[1])
    assert cpu[0][..., 1].min() > 0
    # cohort transitions: members move between cohorts (and back) with rank and risk kept
    moving = Population([
        Cohort("ln", 32, Lognormal(mean=10_000, cv=2.0), mortality=0.1,
               transitions={"sp": 0.3, "cp": 0.1}, transition_rank_effect=1.0),
        Cohort("sp", 16, Spliced(mean=11_000), replacement=0.5, churn=0.3, risk_ageing=0.03,
               transitions={"ln": 0.4}, transition_risk_effect=1.5),
        Cohort("cp", 8, CompoundPoisson(rate=2.0, severity=Lognormal(mean=3_000, cv=1.5))),
    ])
    cpu = _run(simulate_block, moving, 2, 3, 7, THR)
    gpu = _run(simulate_chunk_cuda, moving, 2, 3, 7, THR, threads_per_block=32)
    _assert_close(gpu, cpu)
    assert cpu[0][:, 1:, 1, 5].sum() > 0  # moves happened
    print("SIM-OK")
""")


@pytest.mark.slow
def test_cuda_kernel_in_simulator_matches_cpu_kernel():
    """The CUDA kernels, run by numba's CUDA simulator on CPU, reproduce the CPU kernel."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1",
           "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-c", SIM_SCRIPT], env=env, cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "SIM-OK" in res.stdout, res.stdout + res.stderr


# ----------------------------------------------------------------------------- on a GPU
needs_gpu = pytest.mark.skipif(
    not cuda_available() or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
    reason="no CUDA GPU visible to numba (CI never has one); the simulator test covers the port")


@needs_gpu
@pytest.mark.parametrize("tpb", [32, 128, 256])
def test_gpu_matches_cpu_kernel(tpb):
    args = (MIXED, 24, 3, 11, THR)
    cpu = _run(simulate_block, *args, first=5)
    gpu = _run(simulate_chunk_cuda, *args, first=5, threads_per_block=tpb)
    _assert_close(gpu, cpu)


@needs_gpu
def test_gpu_matches_cpu_with_cohort_transitions():
    moves = ({"sp": 0.2, "tail": 0.05}, {"ln": 0.3}, {"sp": 0.5}, {})
    pop = Population([dataclasses.replace(c, transitions=tr, transition_rank_effect=beta,
                                          transition_risk_effect=gamma)
                      for c, tr, beta, gamma in zip(MIXED.cohorts, moves, (1.0, 0.0, -0.5, 0.0),
                                                    (0.0, 1.0, 0.5, 0.0), strict=True)])
    args = (pop, 24, 4, 13, THR)
    cpu = _run(simulate_block, *args, first=2)
    for tpb in (32, 128):
        gpu = _run(simulate_chunk_cuda, *args, first=2, threads_per_block=tpb)
        _assert_close(gpu, cpu)
    again = _run(simulate_chunk_cuda, *args, first=2, max_partial_bytes=1 << 16)
    assert np.array_equal(gpu[0], again[0]) and np.array_equal(gpu[1], again[1])


@needs_gpu
def test_gpu_larger_run_matches_cpu_and_is_reproducible():
    pop = Population([Cohort("ln", 5_000, Lognormal(mean=11_000, cv=2.0)),
                      Cohort("sp", 3_000, Spliced(mean=11_000))])
    args = (pop, 64, 5, 3, np.array([100_000.0]))
    cpu = _run(simulate_block, *args)
    gpu = _run(simulate_chunk_cuda, *args)
    _assert_close(gpu, cpu)
    again = _run(simulate_chunk_cuda, *args, max_partial_bytes=1 << 20)
    assert np.array_equal(gpu[0], again[0]) and np.array_equal(gpu[1], again[1])


@needs_gpu
@pytest.mark.parametrize("cost", [Lognormal(mean=10_000, cv=1.5), Spliced(mean=11_000)],
                         ids=["lognormal", "spliced"])
def test_gpu_distribution_matches_closed_form(cost):
    """Mean cost and stop-loss excess per member-year vs the cost model's exact moments.

    No risk spread, deaths, churn or trend: every member-year's cost is a draw of ``cost``
    (the latent rank is stationary N(0, 1)), so the per-scenario means are iid with
    expectation ``cost.mean`` and ``cost.mean - cost.lev(t)``; tolerance 4 Monte Carlo SEs.
    """
    members, n_scen, years, t = 2_000, 4_000, 3, 50_000.0
    pop = Population([Cohort("c", members, cost, risk_sd=0.0, mortality=0.0, churn=0.0)])
    flat = Drivers(trend_mean=0.0, trend_sd=0.0, shock_prob=0.0)
    stats, excess = _run(simulate_chunk_cuda, pop, n_scen, years, 2024, np.array([t]),
                         drivers=flat)
    assert np.all(stats[..., 0] == 12.0 * members)
    per_cost = stats[..., 0, 1].mean(axis=1) / members  # per scenario: iid
    per_exc = excess[..., 0, 0].mean(axis=1) / members
    for got, exact in ((per_cost, cost.mean), (per_exc, cost.mean - float(cost.lev(t)))):
        se = got.std(ddof=1) / np.sqrt(n_scen)
        assert abs(got.mean() - exact) < 4 * se, (got.mean(), exact, se)


@needs_gpu
def test_simulate_backend_cuda_matches_numba():
    """The public path: simulate(backend="cuda") gives the CPU engine's Dataset to rounding."""
    import vbsim

    pop = vbsim.Population([vbsim.Cohort("a", 3000, Lognormal(mean=10_000, cv=1.5)),
                            vbsim.Cohort("b", 1000, Spliced(mean=30_000))])
    kw = dict(n_scenarios=64, years=3, seed=9, thresholds=(50_000.0,))
    cpu = vbsim.simulate(pop, backend="numba", **kw)
    gpu = vbsim.simulate(pop, backend="cuda", **kw)
    for name in ("cost", "excess", "member_months", "deaths", "benchmark"):
        np.testing.assert_allclose(gpu[name].values, cpu[name].values, rtol=1e-10, err_msg=name)
