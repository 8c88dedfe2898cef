"""Re-settle contracts on cached cost paths, fast, including at thresholds never simulated.

:class:`Resettler` builds the settlement context of a ``CostPaths`` Dataset once (the same
context :func:`vbsim.evaluate` uses) and then settles any contract on it in milliseconds. This is
what break-even solving, frontiers and notebook sliders call hundreds of times.

Thresholds. An individual stop-loss needs ``excess[t]`` = sum over members of (cost - t)+ for its
attachment t, and the engine computes it only at the thresholds it was asked for. A contract
whose attachment lies between two simulated thresholds t1 < t < t2 gets ``excess[t]`` by linear
interpolation in t, scenario by scenario. Per scenario, excess(t) is convex and piecewise linear
in t (its slope is minus the number of members above t), so the chord lies above it and the
interpolation error is between 0 and (t2 - t1) / 4 x (number of members with cost in (t1, t2]):
simulate with a fine grid (:func:`threshold_grid`) where attachments will be solved for. Outside
the simulated range there is no interpolation: an error says which thresholds to simulate.

A per-cohort attachment (``IndividualStopLoss(attachment={cohort: dollars})``) reads the sum over
cohorts of each cohort's excess at its own attachment, each interpolated the same way (per cohort
the excess is convex and piecewise linear in t too), as :func:`vbsim.evaluate.cohort_excess`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError, check_int, check_real


def threshold_grid(lo: float, hi: float, n: int = 41) -> tuple[float, ...]:
    """``n`` geometrically spaced thresholds from ``lo`` to ``hi`` (for ``simulate(thresholds=)``).

    >>> threshold_grid(50_000, 200_000, 3)
    (50000.0, 100000.0, 200000.0)
    """
    lo = check_real("lo", lo, 0.0, math.inf, lo_open=True)
    hi = check_real("hi", hi, lo, math.inf, lo_open=True)
    n = check_int("n", n, 2, 10_000)
    return tuple(float(round(t, 6)) for t in np.geomspace(lo, hi, n))


class Resettler:
    """Settle contracts on cached paths; the context is built once.

    Parameters
    ----------
    paths:
        ``CostPaths`` Dataset (dims scenario, year, cohort[, threshold]).
    **settlement:
        Settlement inputs of the scenario (``revenue_share``, ``quality_standard_met``,
        ``relief``), as in :func:`vbsim.evaluate`.

    Examples
    --------
    >>> from vbsim import costs, presets
    >>> from vbsim.population import Cohort
    >>> from vbsim.simulate import simulate
    >>> rs = Resettler(simulate(Cohort("all", 500, costs.Lognormal(mean=1e4, cv=2)),
    ...                         n_scenarios=50, seed=1))
    >>> rs.totals(presets.mssp("E", msr=0.02)).shape
    (50,)
    """

    def __init__(self, paths: xr.Dataset, **settlement: Any) -> None:
        from vbsim.evaluate import settlement_context

        self.paths = paths
        self.settlement = dict(settlement)
        self.ctx = settlement_context(paths, **settlement)
        self.n_scenarios = int(paths.sizes["scenario"])
        self.n_years = int(paths.sizes["year"])
        grid = self.ctx.pop("excess", {})
        self.ctx.pop("expected_excess", None)  # rebuilt per threshold in context_for
        self.grid = np.array(sorted(grid), dtype=float)
        self._grid_excess = np.stack([grid[t] for t in self.grid], -1) if grid else None
        self.cohorts = [str(c) for c in paths["cohort"].values]
        self._cohort_excess = None  # (scenario, year, cohort, threshold), on first use

    @classmethod
    def from_result(cls, result: Any) -> Resettler:
        """The resettler of a :class:`vbsim.run.Result` (its paths and settlement inputs)."""
        sc = getattr(result, "scenario", None)
        return cls(result.paths, **(dict(getattr(sc, "settlement", {}) or {})))

    def excess(self, t: float) -> np.ndarray:
        """excess[t] (scenario, year): simulated, or interpolated between simulated thresholds."""
        return self._at(self._grid_excess, float(t))

    def cohort_excess(self, attachment: Any) -> np.ndarray:
        """Sum over cohorts of each cohort's excess at its own attachment (scenario, year),
        each simulated or interpolated; ``attachment`` maps every cohort to dollars.

        An attachment equal for every cohort gives :meth:`excess` at it, bit for bit.
        """
        from vbsim.contracts.stoploss import cohort_values

        att = cohort_values("attachment", attachment)
        pairs = dict(att) if isinstance(att, tuple) else {c: att for c in self.cohorts}
        missing = [c for c in self.cohorts if c not in pairs]
        unknown = [k for k in pairs if k not in self.cohorts]
        if missing or unknown:
            raise VbsimInputError(
                f"attachment: a per-cohort attachment must name every cohort of the population "
                f"and only those; missing {missing}, not cohorts {unknown}; "
                f"cohorts: {self.cohorts}")
        if len(set(pairs.values())) == 1:
            return self.excess(next(iter(pairs.values())))
        if self._cohort_excess is None and self.grid.size:
            da = self.paths["excess"].transpose("scenario", "year", "cohort", "threshold")
            order = np.argsort(self.paths["threshold"].values.astype(float), kind="stable")
            self._cohort_excess = da.values[..., order]
        tot = np.zeros((self.n_scenarios, self.n_years))
        for j, c in enumerate(self.cohorts):
            grid = None if self._cohort_excess is None else self._cohort_excess[:, :, j, :]
            tot += self._at(grid, pairs[c])
        return tot

    def _at(self, values: np.ndarray | None, t: float) -> np.ndarray:
        """values[..., threshold] at t: simulated, or interpolated between the grid's points."""
        g = self.grid
        if g.size:
            k = int(np.argmin(np.abs(g - t)))
            if math.isclose(g[k], t, rel_tol=1e-12):
                return values[..., k]
        if g.size < 2 or t < g[0] or t > g[-1]:
            have = ", ".join(f"{x:g}" for x in g) or "none"
            raise VbsimInputError(
                f"threshold {t:g} is outside the simulated thresholds ({have}); simulate with "
                "thresholds covering it, e.g. vbsim.negotiate.threshold_grid(lo, hi)"
            )
        j = int(np.searchsorted(g, t))  # g[j-1] < t < g[j]
        w = (t - g[j - 1]) / (g[j] - g[j - 1])
        return (1 - w) * values[..., j - 1] + w * values[..., j]

    def context_for(self, contract: Any) -> dict[str, Any]:
        """The settle() keyword arguments for ``contract``.

        The excess at the contract's thresholds (interpolated where needed) is added, then
        :mod:`vbsim.evaluate`'s own per-contract adjustment (threshold selection, a benchmark
        truncated like the costs, ...) is applied, so a re-settlement equals ``evaluate``'s.
        """
        import importlib

        ev = importlib.import_module("vbsim.evaluate")  # the module (vbsim.evaluate is also
        ctx = dict(self.ctx)                            # the name of the exported function)
        need = ev._excess_keys(contract)  # floats, or per-cohort attachment tuples
        if need:
            exc = {t: (self.cohort_excess(t) if isinstance(t, tuple) else self.excess(float(t)))
                   for t in need}
            ctx["excess"] = exc
            # as vbsim.evaluate: expected recoveries for loaded premiums = mean over scenarios
            ctx["expected_excess"] = {t: np.broadcast_to(v.mean(axis=0, keepdims=True), v.shape)
                                      for t, v in exc.items()}
        hook = getattr(ev, "context_for", None) or getattr(ev, "_ctx_for", None)
        return hook(contract, ctx) if hook is not None else ctx

    def settle(self, contract: Any) -> Any:
        """The contract's Settlement record on every (scenario, year): numpy arrays."""
        return contract.settle(**self.context_for(contract))

    def arrays(self, contract: Any, variables: Any = None) -> dict[str, np.ndarray]:
        """Settlement variables (scenario, year), settled in cache-sized chunks (fast)."""
        from vbsim.evaluate import settle_arrays

        return settle_arrays(contract, self.context_for(contract),
                             (self.n_scenarios, self.n_years), variables)

    def totals(self, contract: Any, var: str = "provider_net") -> np.ndarray:
        """``var`` summed over years: one value per scenario."""
        return self.arrays(contract, [var])[var].astype(float).sum(axis=1)

    def dataset(self, contracts: dict[str, Any]) -> xr.Dataset:
        """A settlement Dataset (contract, scenario, year) like :func:`vbsim.evaluate` returns."""
        per = {name: self.arrays(c) for name, c in contracts.items()}
        keys = [k for k in next(iter(per.values())) if all(k in p for p in per.values())]
        return xr.Dataset(
            {k: (("contract", "scenario", "year"), np.stack([p[k] for p in per.values()]))
             for k in keys},
            coords={"contract": list(contracts), "scenario": self.paths["scenario"].values,
                    "year": self.paths["year"].values})


def as_resettler(obj: Any) -> Resettler:
    """A Resettler from a Resettler, a Result or a CostPaths Dataset.

    >>> from vbsim import costs
    >>> from vbsim.population import Cohort
    >>> from vbsim.simulate import simulate
    >>> paths = simulate(Cohort("all", 100, costs.Lognormal(mean=1e4, cv=2)),
    ...                  n_scenarios=10, seed=1)
    >>> rs = as_resettler(paths)
    >>> type(rs).__name__, as_resettler(rs) is rs
    ('Resettler', True)
    """
    if isinstance(obj, Resettler):
        return obj
    if hasattr(obj, "paths"):
        return Resettler.from_result(obj)
    if isinstance(obj, xr.Dataset) and "cost" in obj:
        return Resettler(obj)
    raise VbsimInputError(
        f"expected a vbsim Result, a CostPaths Dataset or a Resettler; got {type(obj).__name__}"
    )
