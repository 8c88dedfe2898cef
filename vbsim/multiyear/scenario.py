"""Multi-year scenario files: a plain vbsim scenario plus an optional ``[multiyear]`` section.

The population, drivers, simulation size and contracts are read by :func:`vbsim.scenario.from_dict`
(the simulated years include the base years). Each ``[contracts.NAME]`` becomes a strategy with a
benchmark rule chosen from its preset (``lead``, ``reach``: fixed benchmark; ``mssp``: rebased
every 5 years) unless ``[multiyear.strategies.NAME]`` says otherwise::

    [multiyear]
    savings_by_year = [0.0, 0.01, 0.02]   # the ACO's cost reduction by performance year
    [multiyear.cohort_growth]
    high_needs = 0.05                      # annual growth of a cohort's alignment from PY1
                                           # (>= 0: simulated member by member in the engine;
                                           # < 0: cohort totals reweighted, docs/multiyear.md)
    [multiyear.risk_drift]
    aged_non_dual = 0.01                   # ageing: risk score and cost +1% a year from PY1
    [multiyear.coding_drift]
    aged_non_dual = 0.005                  # coding intensity: risk score only
    [multiyear.cohort_transitions]
    aged_non_dual = { high_needs = 0.01 }  # members moving between cohorts, keeping their cost
                                           # rank and risk score (Cohort.transitions)
    [multiyear.cash]
    reconciliation_lag_months = 9.0
    discount_rate = 0.05
    guarantee_share = 0.03
    [multiyear.strategies.lead_global]
    rule = "fixed"                         # or "rebased"
    capitation_share = 1.0                 # TCC; cash terms per strategy
    discount_by_year = [0.0175, 0.02, 0.025, 0.03]

Every error names the file and field path. Nothing in the file is evaluated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from vbsim._validate import VbsimInputError, check_array, check_cohort_names, check_real

from .benchmark import BenchmarkRule
from .cash import CashTerms
from .compare import LEAD_GLOBAL_DISCOUNTS, LEAD_WITHHOLD, PCC_SHARE, compare
from .contract import MultiYearContract
from .dynamics import growth_weights, reweight_cohorts, with_risk_drift, with_savings

__all__ = ["MultiYearScenario", "from_dict", "load"]

_MY_KEYS = ("savings_by_year", "cohort_growth", "risk_drift", "coding_drift",
            "cohort_transitions", "cash", "strategies")
_STRATEGY_KEYS = {f.name for f in dataclasses.fields(BenchmarkRule)} | {
    "rule", "discount_by_year", "withhold_by_year"} | {
    f.name for f in dataclasses.fields(CashTerms)}
_CASH_KEYS = {f.name for f in dataclasses.fields(CashTerms)}


@dataclasses.dataclass(frozen=True)
class MultiYearScenario:
    """A scenario (population, drivers, size) with multi-year strategies and cash terms.

    Examples
    --------
    >>> s = load("scenarios/lead_10yr.toml")
    >>> list(s.strategies)
    ['lead_global', 'lead_professional', 'mssp_enhanced']
    >>> s.performance_years
    10
    """

    scenario: Any
    strategies: dict[str, MultiYearContract]
    cash: dict[str, CashTerms]
    savings_by_year: tuple[float, ...] = ()
    cohort_growth: dict[str, float] = dataclasses.field(default_factory=dict)
    risk_drift: dict[str, float] = dataclasses.field(default_factory=dict)
    coding_drift: dict[str, float] = dataclasses.field(default_factory=dict)
    cohort_transitions: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    @property
    def base_years(self) -> int:
        """Simulated years before performance year 1."""
        return next(iter(self.strategies.values())).rule.base_years

    @property
    def performance_years(self) -> int:
        """Performance years (simulated years less base years)."""
        return self.scenario.years - self.base_years

    def replace(self, **changes: Any) -> MultiYearScenario:
        """A copy with fields changed (``scenario=s.scenario.replace(n_scenarios=500)``)."""
        return dataclasses.replace(self, **changes)

    def population(self) -> Any:
        """The scenario's population with the non-negative ``cohort_growth`` rates set as the
        engine's member-level alignment growth from PY1 (``Cohort.growth``, ``growth_start``)
        and ``cohort_transitions`` as the cohorts' ``transitions`` (replacing any given in the
        population; the engine moves members from simulated year 2, base years included).

        >>> s = load("scenarios/lead_10yr.toml")
        >>> hn = s.population()["high_needs"]
        >>> hn.growth, hn.growth_start
        (0.05, 4)
        >>> t = s.replace(cohort_transitions={"aged_non_dual": {"high_needs": 0.01}})
        >>> t.population()["aged_non_dual"].transitions
        (('high_needs', 0.01),)
        """
        from vbsim.population import Population

        grow = {c: g for c, g in self.cohort_growth.items() if g >= 0}
        out = []
        for c in self.scenario.population:
            if c.name in grow:
                c = dataclasses.replace(c, growth=grow[c.name],
                                        growth_start=self.base_years + 1)
            if c.name in self.cohort_transitions:
                c = dataclasses.replace(c, transitions=self.cohort_transitions[c.name])
            out.append(c)
        return Population(out)

    def simulate(self, *, n_scenarios: int | None = None, seed: int | None = None,
                 progress: bool | None = None, cluster: Any = None,
                 checkpoint: str | Path | None = None, block_scenarios: int = 1000
                 ) -> xr.Dataset:
        """Simulate the cost paths (cohort growth in the engine, :meth:`population`) and apply
        the savings path, drifts and any negative cohort growth.

        ``cluster`` and ``checkpoint`` run the engine in blocks of ``block_scenarios``
        scenarios, on a Dask cluster and/or saved to a directory that a rerun resumes from
        (:func:`vbsim.distributed.simulate_blocks`); the paths are the same as in one run.
        """
        from vbsim._validate import check_int
        from vbsim.distributed import simulate_paths
        from vbsim.scenario import _SIM_KEYS

        sc = self.scenario
        n = (sc.n_scenarios if n_scenarios is None
             else check_int("n_scenarios", n_scenarios, *_SIM_KEYS["n_scenarios"]))
        thr: set[float] = set()
        for s in self.strategies.values():
            thr.update(s.thresholds)
        paths = simulate_paths(self.population(), sc.drivers, n_scenarios=n, years=sc.years,
                               seed=sc.seed if seed is None else seed, thresholds=sorted(thr),
                               progress=progress, block_size=sc.block_size, cluster=cluster,
                               checkpoint=checkpoint, block_scenarios=block_scenarios)
        return self.apply_dynamics(paths)

    def apply_dynamics(self, paths: xr.Dataset) -> xr.Dataset:
        """Apply ``savings_by_year``, ``risk_drift``, ``coding_drift`` and ``cohort_growth``
        (all from PY1) to simulated paths.

        A cohort whose paths already grew in the engine (``Cohort.growth > 0`` in
        ``paths.attrs["population"]``, as :meth:`simulate` does) is not reweighted again;
        other cohorts named in ``cohort_growth`` are, at the cohort level (the approximation of
        :func:`vbsim.multiyear.reweight_cohorts`)."""
        nb = self.base_years
        if self.risk_drift:
            paths = with_risk_drift(paths, self.risk_drift, first_year=nb + 1)
        if self.coding_drift:
            paths = with_risk_drift(paths, self.coding_drift, first_year=nb + 1,
                                    cost_follows=False)
        ny = paths.sizes["year"] - nb
        if self.savings_by_year:
            s = [self.savings_by_year[min(k, len(self.savings_by_year) - 1)] for k in range(ny)]
            paths = with_savings(paths, s, first_year=nb + 1)
        grown = _engine_grown(paths)
        weights = {c: g for c, g in self.cohort_growth.items() if c not in grown}
        if weights:
            T = paths.sizes["year"]
            paths = reweight_cohorts(paths, {c: growth_weights(T, g, start=nb)
                                             for c, g in weights.items()})
        return paths

    def compare(self, paths: xr.Dataset) -> xr.Dataset:
        """Settle every strategy on ``paths`` with its cash terms (:func:`compare`)."""
        settle = dict(self.scenario.settlement)
        settle.pop("expected_savings_rate", None)  # single-year notion; see savings_by_year
        return compare(paths, self.strategies, cash=self.cash, **settle)

    def run(self, *, n_scenarios: int | None = None, seed: int | None = None,
            progress: bool | None = None, cluster: Any = None,
            checkpoint: str | Path | None = None, block_scenarios: int = 1000
            ) -> tuple[xr.Dataset, xr.Dataset]:
        """Simulate and compare: returns ``(paths, comparison)`` (arguments: :meth:`simulate`)."""
        paths = self.simulate(n_scenarios=n_scenarios, seed=seed, progress=progress,
                              cluster=cluster, checkpoint=checkpoint,
                              block_scenarios=block_scenarios)
        return paths, self.compare(paths)


def _default_strategy(preset: str | None, contract: Any) -> dict[str, Any]:
    if preset == "mssp":
        return {"rule": "rebased"}
    out: dict[str, Any] = {"rule": "fixed"}
    if preset == "lead":
        out["withhold_by_year"] = [LEAD_WITHHOLD]
        if contract.discount > 0:  # the Global track: rising discount [A, see compare.py]
            out["discount_by_year"] = list(LEAD_GLOBAL_DISCOUNTS)
            out["capitation_share"] = 1.0  # assumption: Global takes TCC [C: an option, s.4]
        else:
            out["capitation_share"] = PCC_SHARE  # assumption: Professional takes PCC
    return out


def _strategy(name: str, contract: Any, spec: Mapping[str, Any], where: str
              ) -> tuple[MultiYearContract, CashTerms]:
    spec = dict(spec)
    for k in spec:
        if k not in _STRATEGY_KEYS:
            raise VbsimInputError(
                f"{where}.{k}: unknown field; allowed: {', '.join(sorted(_STRATEGY_KEYS))}")
    kind = spec.pop("rule", "fixed")
    if kind not in ("fixed", "rebased"):
        raise VbsimInputError(f"{where}.rule must be 'fixed' or 'rebased'; got {kind!r}")
    cash = {k: spec.pop(k) for k in list(spec) if k in _CASH_KEYS}
    my = {k: spec.pop(k) for k in ("discount_by_year", "withhold_by_year") if k in spec}
    if kind == "rebased":
        spec.setdefault("agreement_years", 5)  # MSSP 5-year agreements [C, DOMAIN.md s.2]
    elif spec.get("agreement_years") is not None:
        raise VbsimInputError(f"{where}.agreement_years: a fixed rule never rebases; use "
                              "rule = 'rebased'")
    if "cohort_trend" in spec and isinstance(spec["cohort_trend"], Mapping):
        spec["cohort_trend"] = tuple(spec["cohort_trend"].items())
    try:
        rule = BenchmarkRule(**spec)
        strat = MultiYearContract(rule, contract, name=name, **my)
        terms = CashTerms(**cash)
    except (VbsimInputError, TypeError) as exc:
        raise VbsimInputError(f"{where}: {exc}") from None
    return strat, terms


def from_dict(data: Mapping[str, Any], *, where: str = "scenario",
              base_dir: Path | None = None) -> MultiYearScenario:
    """Build a :class:`MultiYearScenario` from a parsed TOML document.

    >>> from_dict({"multiyear": {"savings": 1}}, where="x.toml")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: x.toml: multiyear.savings: unknown field; allowed: \
savings_by_year, cohort_growth, risk_drift, coding_drift, cohort_transitions, cash, strategies
    """
    from vbsim import scenario as base

    data = dict(data)
    my = data.pop("multiyear", {}) or {}
    if not isinstance(my, Mapping):
        raise VbsimInputError(f"{where}: multiyear must be a table")
    for k in my:
        if k not in _MY_KEYS:
            raise VbsimInputError(
                f"{where}: multiyear.{k}: unknown field; allowed: {', '.join(_MY_KEYS)}")
    sc = base.from_dict(data, where=where, base_dir=base_dir)
    for key in ("cash", "strategies"):
        if not isinstance(my.get(key, {}), Mapping):
            raise VbsimInputError(f"{where}: multiyear.{key}: expected a table; "
                                  f"got {my[key]!r}")
    raw_contracts = data.get("contracts", {})
    specs = my.get("strategies", {}) or {}
    for k in specs:
        if k not in sc.contracts:
            raise VbsimInputError(f"{where}: multiyear.strategies.{k}: no [contracts.{k}] to "
                                  f"go with it; contracts: {', '.join(sc.contracts)}")
    common = {k: v for k, v in (my.get("cash", {}) or {}).items()}
    for k in common:
        if k not in _CASH_KEYS:
            raise VbsimInputError(f"{where}: multiyear.cash.{k}: unknown field; allowed: "
                                  f"{', '.join(sorted(_CASH_KEYS))}")
    strategies, cash = {}, {}
    for name, contract in sc.contracts.items():
        spec = _default_strategy(raw_contracts.get(name, {}).get("preset"), contract)
        spec.update(common)
        spec.update(specs.get(name, {}))
        strategies[name], cash[name] = _strategy(
            name, contract, spec, f"{where}: multiyear.strategies.{name}")
    nbs = {s.rule.base_years for s in strategies.values()}
    if len(nbs) != 1:
        raise VbsimInputError(f"{where}: every strategy must use the same number of base years "
                              f"(weights); got {sorted(nbs)}")
    nb = nbs.pop()
    if sc.years <= nb:
        raise VbsimInputError(f"{where}: simulation.years = {sc.years} must exceed the {nb} base "
                              "years (simulated years = base years + performance years)")
    sav: tuple[float, ...] = ()
    if "savings_by_year" in my:
        try:
            sav = tuple(check_array("multiyear.savings_by_year", my["savings_by_year"], -0.5,
                                    0.5).ravel().tolist())
        except VbsimInputError as exc:
            raise VbsimInputError(f"{where}: {exc}") from None
    cohorts = list(sc.population.names)
    for name, strat in strategies.items():  # cohort names in the rules, checked before the run
        w = f"{where}: multiyear.strategies.{name}"
        for c, _ in strat.rule.cohort_trend or ():
            if c not in cohorts:
                raise VbsimInputError(f"{w}.cohort_trend.{c}: no such cohort; cohorts: "
                                      f"{', '.join(cohorts)}")
        if isinstance(strat.rule.truncate_at, tuple):
            check_cohort_names(f"{w}.truncate_at", [c for c, _ in strat.rule.truncate_at],
                               cohorts)
    rates: dict[str, dict[str, float]] = {}
    for key in ("cohort_growth", "risk_drift", "coding_drift"):
        rates[key] = {}
        table = my.get(key, {}) or {}
        if not isinstance(table, Mapping):
            raise VbsimInputError(f"{where}: multiyear.{key} must be a table cohort = rate")
        for c, g in table.items():
            if c not in cohorts:
                raise VbsimInputError(f"{where}: multiyear.{key}.{c}: no such cohort; "
                                      f"cohorts: {', '.join(cohorts)}")
            try:
                rates[key][c] = check_real(f"multiyear.{key}.{c}", g, -0.5, 1.0)
            except VbsimInputError as exc:
                raise VbsimInputError(f"{where}: {exc}") from None
    moves = my.get("cohort_transitions", {}) or {}
    if not isinstance(moves, Mapping):
        raise VbsimInputError(f"{where}: multiyear.cohort_transitions must be a table "
                              "cohort = { destination = probability }")
    for c in moves:
        if c not in cohorts:
            raise VbsimInputError(f"{where}: multiyear.cohort_transitions.{c}: no such cohort; "
                                  f"cohorts: {', '.join(cohorts)}")
    out = MultiYearScenario(scenario=sc, strategies=strategies, cash=cash,
                            savings_by_year=sav, cohort_transitions=dict(moves), **rates)
    try:
        out.population()  # validates destinations and probabilities
    except VbsimInputError as exc:
        raise VbsimInputError(f"{where}: multiyear.cohort_transitions: {exc}") from None
    return out


def _engine_grown(paths: xr.Dataset) -> set[str]:
    """Names of the cohorts that the engine grew (``growth > 0`` in the paths' attrs)."""
    import json

    raw = paths.attrs.get("population")
    if not raw:
        return set()
    return {c["name"] for c in json.loads(raw).get("cohorts", []) if c.get("growth", 0.0) > 0}


def load(path: str | Path) -> MultiYearScenario:
    """Read a multi-year scenario TOML file.

    >>> load("no/such.toml")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: no/such.toml: no such scenario file
    """
    from vbsim.scenario import read_toml

    p = Path(path)
    s = from_dict(read_toml(p), where=str(path), base_dir=p.parent)
    sc = dataclasses.replace(s.scenario, source=str(p), name=s.scenario.name or p.stem)
    return dataclasses.replace(s, scenario=sc)
