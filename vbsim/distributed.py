"""Scenario blocks on a Dask cluster, checkpointed runs that resume, and assumption sweeps.

Random numbers are keyed by (seed, scenario index, year, member), so a block of scenarios
``[a, b)`` simulated anywhere (another thread, process or machine) is bit-for-bit the slice
``[a, b)`` of the whole run. Workers return only their block's ``CostPaths`` (small: scenarios x
years x cohorts x thresholds); contracts are settled once on the concatenated paths, so results
do not depend on the number of workers or blocks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._validate import VbsimInputError, check_int

__all__ = ["simulate_blocks", "simulate_paths", "scenario_blocks", "cluster_client"]


def scenario_blocks(n_scenarios: int, block: int) -> list[tuple[int, int]]:
    """Split ``range(n_scenarios)`` into ``(start, count)`` blocks of at most ``block``.

    >>> scenario_blocks(10, 4)
    [(0, 4), (4, 4), (8, 2)]
    """
    check_int("n_scenarios", n_scenarios, 1)
    check_int("block_scenarios", block, 1)
    return [(a, min(block, n_scenarios - a)) for a in range(0, n_scenarios, block)]


@contextlib.contextmanager
def cluster_client(cluster: Any) -> Iterator[Any]:
    """A ``dask.distributed.Client`` for ``cluster``.

    ``cluster`` is ``"local"`` (a LocalCluster of 2 single-threaded worker processes on this
    machine, closed afterwards), a scheduler address such as ``"tcp://10.0.0.5:8786"``, a Dask
    cluster object, or an existing ``Client`` (used as is, not closed).

    Examples
    --------
    A ``Client`` that already exists is passed through (and left open):

    >>> from dask.distributed import Client
    >>> with Client(processes=False, n_workers=1, dashboard_address=None) as c:
    ...     with cluster_client(c) as client:
    ...         client is c, client.submit(sum, [1, 2]).result()
    (True, 3)
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a test/extra dependency
        raise VbsimInputError(
            "cluster= needs dask.distributed: pip install 'vbsim[dask]'") from exc
    if isinstance(cluster, Client):
        yield cluster
        return
    own: list[Any] = []
    if cluster == "local":
        lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None)
        own.append(lc)
        client = Client(lc)
    elif isinstance(cluster, str):
        client = Client(cluster)
    else:
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        for c in own:
            c.close()


def _block_task(population: Any, drivers: Any, start: int, count: int, years: int, seed: int,
                thresholds: Sequence[float]) -> xr.Dataset:
    from .simulate import simulate

    if isinstance(population, str):  # sent to a worker as JSON (plain data, no pickled objects)
        population, drivers = _from_json(population, drivers)
    return simulate(population, drivers, n_scenarios=count, years=years, seed=seed,
                    thresholds=thresholds, scenario_start=start, progress=False)


def _from_json(population: str, drivers: str) -> tuple[Any, Any]:
    from .drivers import Drivers
    from .population import Population

    d = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(drivers).items()}
    return Population.from_dict(json.loads(population)), Drivers(**d)


def _fingerprint(population: Any, drivers: Any, years: int, seed: int,
                 thresholds: Sequence[float]) -> str:
    from .engine import ENGINE_VERSION  # blocks from another engine version never mix

    text = json.dumps([population.to_json(), drivers.to_json(), years, seed,
                       [float(t) for t in thresholds], ENGINE_VERSION], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def simulate_blocks(
    population: Any,
    drivers: Any,
    *,
    n_scenarios: int,
    years: int,
    seed: int,
    thresholds: Sequence[float] = (),
    block_scenarios: int = 1000,
    cluster: Any = None,
    checkpoint: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> xr.Dataset:
    """Simulate in scenario blocks, locally or on a Dask cluster, optionally checkpointed.

    Parameters
    ----------
    cluster:
        None (run blocks here, one after another), or anything :func:`cluster_client` accepts.
    checkpoint:
        A directory. Each finished block is written there as NetCDF; a later call with the same
        inputs skips the blocks already on disk (a long run resumes where it stopped). A
        directory holding blocks of other inputs is refused.
    progress:
        Called with the number of scenarios each time a block finishes.

    Returns the same Dataset as one :func:`vbsim.simulate` call with the same seed.

    Examples
    --------
    >>> import vbsim
    >>> pop = vbsim.Population([vbsim.Cohort("a", 50, vbsim.costs.Lognormal(mean=1e4, cv=1))])
    >>> whole = vbsim.simulate(pop, n_scenarios=6, seed=3)
    >>> parts = simulate_blocks(pop, vbsim.Drivers(), n_scenarios=6, years=1, seed=3,
    ...                         block_scenarios=4)
    >>> bool((whole.cost == parts.cost).all())
    True
    """
    from .drivers import Drivers

    drivers = Drivers() if drivers is None else drivers
    blocks = scenario_blocks(n_scenarios, block_scenarios)
    thresholds = tuple(sorted({float(t) for t in thresholds}))
    done: dict[int, xr.Dataset] = {}
    ckdir = None
    if checkpoint is not None:
        ckdir = Path(checkpoint)
        ckdir.mkdir(parents=True, exist_ok=True)
        fp = _fingerprint(population, drivers, years, seed, thresholds)
        stamp = ckdir / "inputs.sha256"
        if stamp.exists() and stamp.read_text().strip() != fp:
            raise VbsimInputError(
                f"checkpoint {ckdir} holds blocks of a different run (other population, "
                "drivers, years, seed or thresholds); use an empty directory")
        stamp.write_text(fp)
        for start, count in blocks:
            f = ckdir / f"block_{start:09d}_{count:07d}.nc"
            if f.exists():
                done[start] = xr.load_dataset(f)
                if progress:
                    progress(count)
    todo = [(a, n) for a, n in blocks if a not in done]

    def _store(start: int, count: int, ds: xr.Dataset) -> None:
        done[start] = ds
        if ckdir is not None:
            tmp = ckdir / f".tmp_{start}.nc"
            ds.to_netcdf(tmp)
            tmp.replace(ckdir / f"block_{start:09d}_{count:07d}.nc")
        if progress:
            progress(count)

    if cluster is None:
        for a, n in todo:
            _store(a, n, _block_task(population, drivers, a, n, years, seed, thresholds))
    else:
        from dask.distributed import as_completed

        with cluster_client(cluster) as client:
            spec = (population.to_json(), drivers.to_json())
            futs = {client.submit(_block_task, *spec, a, n, years, seed, thresholds,
                                  pure=False): (a, n) for a, n in todo}
            for fut in as_completed(futs):
                a, n = futs[fut]
                _store(a, n, fut.result())
    parts = [done[a] for a, _ in blocks]
    out = xr.concat(parts, dim="scenario", data_vars="minimal", coords="minimal",
                    compat="override", combine_attrs="override") if len(parts) > 1 else parts[0]
    for name in ("benchmark_pbpy",):
        if name in parts[0] and "scenario" in out[name].dims:
            out[name] = parts[0][name]
    out.attrs["n_scenarios"] = n_scenarios
    out.attrs["blocks"] = json.dumps(blocks)
    out.attrs["elapsed_s"] = float(np.sum([p.attrs.get("elapsed_s", 0.0) for p in parts]))
    return out


def simulate_paths(
    population: Any,
    drivers: Any,
    *,
    n_scenarios: int,
    years: int,
    seed: int,
    thresholds: Sequence[float] = (),
    progress: bool | None = None,
    block_size: int | None = None,
    cluster: Any = None,
    checkpoint: str | Path | None = None,
    block_scenarios: int = 1000,
) -> xr.Dataset:
    """One :func:`vbsim.simulate` call, or :func:`simulate_blocks` when ``cluster`` or
    ``checkpoint`` is given (the same paths either way): what ``vbsim.run`` and the multi-year
    scenarios run.

    >>> import vbsim
    >>> pop = vbsim.Population([vbsim.Cohort("a", 50, vbsim.costs.Lognormal(mean=1e4, cv=1))])
    >>> a = simulate_paths(pop, vbsim.Drivers(), n_scenarios=6, years=1, seed=3, progress=False)
    >>> b = simulate_blocks(pop, vbsim.Drivers(), n_scenarios=6, years=1, seed=3,
    ...                     block_scenarios=4)
    >>> bool((a["cost"] == b["cost"]).all())
    True
    """
    from .simulate import simulate

    if cluster is None and checkpoint is None:
        kw = {} if block_size is None else {"block_size": block_size}
        return simulate(population, drivers, n_scenarios=n_scenarios, years=years, seed=seed,
                        thresholds=thresholds, progress=progress, **kw)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_scenarios, unit="scen", desc="vbsim blocks")
    try:
        return simulate_blocks(population, drivers, n_scenarios=n_scenarios, years=years,
                               seed=seed, thresholds=thresholds, block_scenarios=block_scenarios,
                               cluster=cluster, checkpoint=checkpoint,
                               progress=None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()


def sweep(
    scenario: Any,
    assumptions: Mapping[str, Sequence[Any]],
    *,
    cluster: Any = None,
    **run_kwargs: Any,
) -> xr.Dataset:
    """Run one scenario under many assumption sets, with common random numbers.

    ``assumptions`` maps a dotted path (``"drivers.trend_mean"``, ``"settlement.revenue_share"``,
    ``"population.cohorts[0].persistence"``) to the values to try; each value is run with the
    scenario's seed, so differences between assumption sets are not Monte Carlo noise. Returns
    the stacked summaries with a ``sweep`` dimension labelled by the changed value.

    Examples
    --------
    >>> s = sweep("scenarios/default.toml", {"drivers.trend_sd": [0.0, 0.02]}, n_scenarios=20)
    >>> s["value"].dims, s["sweep"].values.tolist(), s.attrs["sweep_path"]
    (('sweep', 'contract', 'stat'), ['0.0', '0.02'], 'drivers.trend_sd')
    """
    from .run import run
    from .scenario import Scenario, load

    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    if not isinstance(sc, Scenario):
        raise VbsimInputError(f"scenario must be a Scenario or a path; got {scenario!r}")
    if len(assumptions) != 1:
        raise VbsimInputError("assumptions: give exactly one dotted path with its values")
    (path, values), = assumptions.items()
    summaries = []
    for v in values:
        res = run(set_path(sc, path, v), cluster=cluster, progress=False, **run_kwargs)
        summaries.append(res.summary())
    out = xr.concat(summaries, dim="sweep")
    return out.assign_coords(sweep=[str(v) for v in values]).assign_attrs(sweep_path=path)


def set_path(scenario: Any, path: str, value: Any) -> Any:
    """A copy of ``scenario`` with the dotted ``path`` set to ``value``.

    Paths: ``drivers.FIELD``, ``settlement.KEY``, ``population.cohorts[i].FIELD``,
    ``contracts.NAME.PARAM`` (contract dotted parameter, e.g. ``contracts.e.sharing.msr``),
    ``n_scenarios``/``years``/``seed``.

    Examples
    --------
    >>> from vbsim.scenario import load
    >>> sc = load("scenarios/default.toml")
    >>> set_path(sc, "drivers.trend_sd", 0.0).drivers.trend_sd
    0.0
    >>> set_path(sc, "population.cohorts[0].members", 200).population.cohorts[0].members
    200
    >>> new = set_path(sc, "contracts.mssp_basic_e.sharing.msr", 0.01)
    >>> new.contracts["mssp_basic_e"].sharing.msr
    0.01
    """
    import dataclasses
    import re

    head, _, rest = path.partition(".")
    if head == "drivers" and rest:
        return scenario.replace(drivers=dataclasses.replace(scenario.drivers, **{rest: value}))
    if head == "settlement" and rest:
        return scenario.replace(settlement={**scenario.settlement, rest: value})
    if head == "contracts" and rest:
        name, _, param = rest.partition(".")
        if name not in scenario.contracts:
            raise VbsimInputError(f"{path}: no contract {name!r}; have {list(scenario.contracts)}")
        new = dict(scenario.contracts)
        new[name] = new[name].replace(**{param: value})
        return scenario.replace(contracts=new)
    m = re.fullmatch(r"population\.cohorts\[(\d+)\]\.(\w+)", path)
    if m:
        i, field = int(m.group(1)), m.group(2)
        cohorts = list(scenario.population.cohorts)
        if i >= len(cohorts):
            raise VbsimInputError(f"{path}: there are {len(cohorts)} cohorts")
        cohorts[i] = dataclasses.replace(cohorts[i], **{field: value})
        return scenario.replace(population=type(scenario.population)(cohorts))
    if path in ("n_scenarios", "years", "seed"):
        return scenario.replace(**{path: value})
    raise VbsimInputError(
        f"{path}: unknown assumption path; use drivers.FIELD, settlement.KEY, "
        "population.cohorts[i].FIELD, contracts.NAME.PARAM, n_scenarios, years or seed")
