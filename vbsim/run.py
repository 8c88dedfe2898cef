"""One call from a scenario to the distribution of every contract's outcome.

:func:`run` simulates the scenario's population once (with every threshold the contracts need,
in the same pass), settles all contracts on those paths and returns a :class:`Result`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import xarray as xr

from ._validate import VbsimInputError, check_int
from .evaluate import evaluate, needed_thresholds
from .scenario import _SIM_KEYS, Scenario, load


@dataclasses.dataclass(frozen=True)
class Result:
    """Simulated cost paths and the settlement of every contract on them.

    >>> res = run("scenarios/default.toml", n_scenarios=20, progress=False)
    >>> res.paths["cost"].dims, res.settlement["payment"].dims
    (('scenario', 'year', 'cohort'), ('contract', 'scenario', 'year'))
    >>> res.settlement["contract"].values.tolist()
    ['mssp_basic_e', 'mssp_enhanced', 'reach_global']
    """

    scenario: Scenario
    paths: xr.Dataset
    settlement: xr.Dataset

    def summary(
        self, *, var: str = "provider_net", levels: tuple[float, ...] = (0.95, 0.99),
        by_year: bool = False,
    ) -> xr.Dataset:
        """Risk measures with Monte Carlo standard errors, one row per contract.

        Multi-year runs are summed over years unless ``by_year`` is true.
        """
        from . import metrics

        return metrics.summarize(self.settlement, var=var, levels=levels,
                                 years="each" if by_year else "total")

    def table(self, **kwargs: Any) -> str:
        """The comparison table as plain text (what ``vbsim run`` prints)."""
        from . import metrics

        return metrics.format_table(self.summary(**kwargs))

    def to_netcdf(self, path: str | Path) -> None:
        """Save the cost paths and the settlement as two groups of one NetCDF file, ``paths``
        and ``settlement``; read them with ``xarray.open_dataset(path, group="paths")`` (the
        root group only says so). The paths' attributes hold the population, drivers, seed and
        sizes; the settlement's the contracts, the scenario and the settlement context."""
        path = Path(path)
        xr.Dataset(attrs={
            "vbsim_result": "groups 'paths' and 'settlement': "
                            "xarray.open_dataset(path, group='paths') or group='settlement'"},
        ).to_netcdf(path, mode="w")
        self.paths.to_netcdf(path, mode="a", group="paths")
        st = self.settlement.copy()
        for k, v in st.data_vars.items():
            if v.dtype.kind == "b":
                st[k] = v.astype("i1")
        st.attrs["scenario"] = json.dumps(
            {"name": self.scenario.name, "source": self.scenario.source,
             "n_scenarios": self.scenario.n_scenarios, "years": self.scenario.years,
             "seed": self.scenario.seed})
        st.to_netcdf(path, mode="a", group="settlement")

    def _repr_html_(self) -> str:
        """In Jupyter: the same table as ``vbsim run`` prints ($M, value ± Monte Carlo error)."""
        import html

        return (f"<h4>{html.escape(self.scenario.name)}</h4><pre>{html.escape(self.table())}"
                "</pre>")

    def __repr__(self) -> str:
        return f"Result({self.scenario.name!r})\n" + self.table()


def run(
    scenario: Scenario | str | Path,
    *,
    n_scenarios: int | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    cluster: Any = None,
    checkpoint: str | Path | None = None,
    block_scenarios: int = 1000,
) -> Result:
    """Simulate a scenario and settle every contract on the same paths.

    Parameters
    ----------
    scenario:
        A :class:`Scenario` or the path of a scenario TOML file.
    n_scenarios, seed:
        Override the scenario's simulation size and seed.
    progress:
        Show a progress bar (None: only for runs expected to take more than a few seconds).
    cluster:
        Run scenario blocks on Dask: ``"local"`` (a LocalCluster), a scheduler address, a
        cluster or a ``Client`` (see :mod:`vbsim.distributed`). Results are identical to a
        local run with the same seed.
    checkpoint:
        A directory where finished scenario blocks are saved; a rerun resumes from them.
    block_scenarios:
        Scenarios per block when ``cluster`` or ``checkpoint`` is given.

    Examples
    --------
    >>> res = run("scenarios/default.toml", n_scenarios=200, progress=False)
    >>> res.settlement.sizes["scenario"]
    200
    """
    from .distributed import simulate_paths

    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    if not isinstance(sc, Scenario):
        raise VbsimInputError(
            f"scenario must be a Scenario or a scenario file path; got {type(sc).__name__} (for "
            "a Population or Cohort use vbsim.simulate, then vbsim.evaluate)")
    if n_scenarios is not None:
        lo, hi = _SIM_KEYS["n_scenarios"]
        sc = sc.replace(n_scenarios=check_int("n_scenarios", n_scenarios, lo, hi))
    if seed is not None:
        sc = sc.replace(seed=seed)
    paths = simulate_paths(
        sc.population, sc.drivers, n_scenarios=sc.n_scenarios, years=sc.years, seed=sc.seed,
        thresholds=needed_thresholds(sc.contracts), progress=progress, block_size=sc.block_size,
        cluster=cluster, checkpoint=checkpoint, block_scenarios=block_scenarios)
    settlement = evaluate(paths, sc.contracts, **sc.settlement)
    return Result(scenario=sc, paths=paths, settlement=settlement)
