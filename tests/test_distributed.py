"""Blocks, checkpoints and a Dask LocalCluster give the same numbers as one local run."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import vbsim
from vbsim._validate import VbsimInputError
from vbsim.distributed import set_path, simulate_blocks, sweep

POP = vbsim.Population([
    vbsim.Cohort("a", 400, vbsim.costs.Lognormal(mean=10_000.0, cv=2.0)),
    vbsim.Cohort("b", 100, vbsim.costs.Spliced(mean=30_000.0)),
])


def _assert_same(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in ("cost", "excess", "member_months", "deaths", "benchmark", "quality"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    np.testing.assert_array_equal(a["scenario"].values, b["scenario"].values)


@pytest.fixture(scope="module")
def whole() -> xr.Dataset:
    return vbsim.simulate(POP, n_scenarios=30, years=2, seed=11, thresholds=(50_000.0,))


def test_blocks_equal_whole(whole) -> None:
    parts = simulate_blocks(POP, None, n_scenarios=30, years=2, seed=11,
                            thresholds=(50_000.0,), block_scenarios=7)
    _assert_same(whole, parts)


def test_checkpoint_resumes(whole, tmp_path) -> None:
    ck = tmp_path / "ck"
    seen: list[int] = []
    simulate_blocks(POP, None, n_scenarios=30, years=2, seed=11, thresholds=(50_000.0,),
                    block_scenarios=10, checkpoint=ck)
    files = sorted(ck.glob("block_*.nc"))
    assert len(files) == 3
    files[1].unlink()  # as if the run had stopped before the second block
    again = simulate_blocks(POP, None, n_scenarios=30, years=2, seed=11,
                            thresholds=(50_000.0,), block_scenarios=10, checkpoint=ck,
                            progress=seen.append)
    _assert_same(whole, again)
    assert seen == [10, 10, 10] and len(list(ck.glob("block_*.nc"))) == 3
    with pytest.raises(VbsimInputError, match="different run"):
        simulate_blocks(POP, None, n_scenarios=30, years=2, seed=12, block_scenarios=10,
                        thresholds=(50_000.0,), checkpoint=ck)


@pytest.mark.slow
def test_dask_local_cluster_identical(whole) -> None:
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as lc, Client(lc) as client:
        on_dask = simulate_blocks(POP, None, n_scenarios=30, years=2, seed=11,
                                  thresholds=(50_000.0,), block_scenarios=8, cluster=client)
        assert len(client.scheduler_info()["workers"]) == 2
    _assert_same(whole, on_dask)


def test_run_with_checkpoint_matches_plain_run(tmp_path) -> None:
    plain = vbsim.run("scenarios/default.toml", n_scenarios=40, progress=False)
    blocks = vbsim.run("scenarios/default.toml", n_scenarios=40, progress=False,
                       checkpoint=tmp_path / "ck", block_scenarios=15)
    np.testing.assert_array_equal(plain.settlement["payment"].values,
                                  blocks.settlement["payment"].values)


def test_sweep_and_set_path() -> None:
    sc = vbsim.load("scenarios/default.toml").replace(n_scenarios=60)
    s2 = set_path(sc, "drivers.trend_mean", 0.06)
    assert s2.drivers.trend_mean == 0.06 and sc.drivers.trend_mean != 0.06
    s3 = set_path(sc, "population.cohorts[0].persistence", 0.3)
    assert s3.population.cohorts[0].persistence == 0.3
    with pytest.raises(VbsimInputError, match="unknown assumption path"):
        set_path(sc, "nonsense.x", 1)
    # Cost trend moves while the benchmark update stays at 4%: the provider's expected payment
    # must fall as its own trend rises (common random numbers make the ordering sharp).
    sc = set_path(sc, "drivers.benchmark_trend_mean", 0.04)
    out = sweep(sc, {"drivers.trend_mean": [0.03, 0.05]})
    assert out.sizes["sweep"] == 2
    m = out["value"].sel(stat="mean", contract="mssp_enhanced").values
    assert m[1] < m[0]


def test_population_json_round_trip_reproduces_paths(whole) -> None:
    from vbsim.distributed import _from_json

    pop, drv = _from_json(POP.to_json(), vbsim.Drivers().to_json())
    again = vbsim.simulate(pop, drv, n_scenarios=30, years=2, seed=11, thresholds=(50_000.0,))
    _assert_same(whole, again)
