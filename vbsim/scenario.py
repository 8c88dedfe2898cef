"""Scenario files: a population, its drivers, the simulation size and the contracts to compare.

A scenario is a TOML file (read with the standard library's ``tomllib``; never evaluated)::

    name = "Default ACO"
    [simulation]
    n_scenarios = 4000
    years = 1
    seed = 2026
    [[population.cohorts]]
    name = "aged_non_dual"
    members = 16000
    cost = { model = "spliced", mean = 11000.0 }
    [drivers]
    trend_mean = 0.04          # or trend_file = "trend.csv" (columns year,trend[,benchmark_trend])
    [settlement]
    revenue_share = 0.30
    [contracts.mssp_e]
    preset = "mssp"
    level = "E"
    truncation = "p99"         # or 250000.0, or { aged_non_dual = 95000.0, esrd = 420000.0 }

A stop-loss attachment or MSSP truncation point may be one number, a table cohort name ->
dollars (one per enrolment type; every cohort named), or ``"pNN"`` (e.g. ``"p99"``): each
cohort's model NN-th percentile of annual member cost, resolved here from the population with
:func:`vbsim.presets.cohort_truncation` at the drivers' first-year mean trend (MSSP truncates at
the national 99th percentile of each enrolment type [C, DOMAIN.md s.1-2]). ``"pNN"`` is accepted
for a preset's ``truncation``, an ``individual_stop_loss`` table's ``attachment`` and an override
whose path ends in ``attachment``.

Every error names the file, the field path and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._spec import build_dataclass
from ._validate import VbsimInputError, check_cohort_names, check_int, check_real
from .engine.kernel import GROUP

_TOP_KEYS = ("name", "description", "simulation", "population", "drivers", "settlement",
             "contracts", "multiyear")  # [multiyear] is read by vbsim.multiyear.scenario
# n_scenarios >= 2: the risk measures need a spread; block_size: the engine's own bounds
_SIM_KEYS = {"n_scenarios": (2, 10_000_000), "years": (1, 50), "seed": (0, 2**63 - 1),
             "block_size": (GROUP, 2**20)}
_SETTLE_KEYS = ("revenue_share", "quality_standard_met", "relief", "expected_savings_rate")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Everything one run needs: population, drivers, simulation size and named contracts.

    Examples
    --------
    >>> import vbsim
    >>> s = load("scenarios/default.toml")
    >>> sorted(s.contracts)[:1]
    ['mssp_basic_e']
    """

    name: str
    population: Any
    drivers: Any
    contracts: dict[str, Any]
    n_scenarios: int = 2000
    years: int = 1
    seed: int = 0
    block_size: int | None = None
    settlement: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    source: str = ""

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some fields changed (e.g. ``n_scenarios=500`` for a quick look)."""
        return dataclasses.replace(self, **changes)


def _cost_model(spec: Any, where: str) -> Any:
    from . import costs

    registry = {
        "lognormal": "Lognormal",
        "spliced": "Spliced",
        "compound_poisson": "CompoundPoisson",
    }
    if not isinstance(spec, Mapping) or "model" not in spec:
        raise VbsimInputError(
            f"{where}: expected a table with 'model' = one of {', '.join(registry)}"
        )
    model = spec["model"]
    if model not in registry or not hasattr(costs, registry[model]):
        raise VbsimInputError(
            f"{where}.model must be one of {', '.join(repr(k) for k in registry)}; got {model!r}"
        )
    args = {}
    for k, v in spec.items():
        if k == "model":
            continue
        args[k] = _cost_model(v, f"{where}.{k}") if isinstance(v, Mapping) else v
    return build_dataclass(getattr(costs, registry[model]), args, where)


def _standard(c: Mapping[str, Any], where: str) -> Any:
    """A cohort of a standard enrolment type (``standard = "esrd"``) with optional overrides."""
    from .population import STANDARD_KINDS, Cohort, standard_cohort

    rest = dict(c)
    kind = rest.pop("standard")
    if not isinstance(kind, str) or kind not in STANDARD_KINDS:
        raise VbsimInputError(f"{where}.standard must be one of "
                              f"{', '.join(map(repr, STANDARD_KINDS))}; got {kind!r}")
    if "members" not in rest:
        raise VbsimInputError(f"{where}.members: missing (an integer >= 1)")
    members = rest.pop("members")
    allowed = {f.name for f in dataclasses.fields(Cohort)} - {"members"}
    for key in rest:
        if key not in allowed:
            raise VbsimInputError(
                f"{where}.{key}: unknown field; allowed: standard, members, "
                + ", ".join(sorted(allowed)))
    if "cost" in rest:
        rest["cost"] = _cost_model(rest["cost"], f"{where}.cost")
    name = rest.pop("name", None)
    try:
        cohort = standard_cohort(kind, members, **rest)
    except VbsimInputError as exc:
        raise VbsimInputError(f"{where}: {exc}") from None
    return dataclasses.replace(cohort, name=name) if name else cohort


def _population(spec: Any, where: str) -> Any:
    from .population import Cohort, Population

    if not isinstance(spec, Mapping) or "cohorts" not in spec:
        raise VbsimInputError(f"{where}: expected [[population.cohorts]] entries")
    extra = set(spec) - {"cohorts"}
    if extra:
        raise VbsimInputError(f"{where}.{sorted(extra)[0]}: unknown field; allowed: cohorts")
    if not isinstance(spec["cohorts"], list) or not spec["cohorts"]:
        raise VbsimInputError(
            f"{where}.cohorts: expected one or more [[population.cohorts]] tables; "
            f"got {spec['cohorts']!r}")
    cohorts = []
    for i, c in enumerate(spec["cohorts"]):
        w = f"{where}.cohorts[{i}]"
        if isinstance(c, Mapping) and "standard" in c:
            cohorts.append(_standard(c, w))
            continue
        if not isinstance(c, Mapping) or "cost" not in c:
            raise VbsimInputError(
                f"{w}: each cohort needs name, members and a cost table (or standard = KIND)")
        rest = {k: v for k, v in c.items() if k != "cost"}
        cohorts.append(build_dataclass(Cohort, rest, w, cost=_cost_model(c["cost"], f"{w}.cost")))
    try:
        return Population(cohorts)
    except VbsimInputError as exc:
        raise VbsimInputError(f"{where}: {exc}") from None


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    """Section ``key`` of ``data`` (empty if absent) as a dict; an error if it is no table.

    >>> _table({"simulation": 5}, "simulation", "x.toml")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: x.toml: simulation: expected a table ([simulation] with \
key = value lines); got 5
    """
    v = data.get(key, {})
    if not isinstance(v, Mapping):
        raise VbsimInputError(
            f"{where}: {key}: expected a table ([{key}] with key = value lines); got {v!r}")
    return dict(v)


def from_dict(data: Mapping[str, Any], *, where: str = "scenario",
              base_dir: Path | None = None) -> Scenario:
    """Build a :class:`Scenario` from plain data (a parsed TOML document).

    >>> from_dict({"population": {}}, where="x.toml")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: x.toml: population: expected [[population.cohorts]] entries
    """
    from .contracts import from_spec
    from .drivers import Drivers

    for key in data:
        if key not in _TOP_KEYS:
            raise VbsimInputError(
                f"{where}: {key}: unknown section; allowed: {', '.join(_TOP_KEYS)}"
            )
    sim = _table(data, "simulation", where)
    kw: dict[str, Any] = {}
    for key, val in sim.items():
        if key not in _SIM_KEYS:
            raise VbsimInputError(
                f"{where}: simulation.{key}: unknown field; allowed: {', '.join(_SIM_KEYS)}"
            )
        lo, hi = _SIM_KEYS[key]
        try:
            kw[key] = check_int(f"simulation.{key}", val, lo, hi)
        except VbsimInputError as exc:
            raise VbsimInputError(f"{where}: {exc}") from None
        if key == "block_size" and kw[key] % GROUP:
            raise VbsimInputError(f"{where}: simulation.block_size must be a multiple of {GROUP}; "
                                  f"got {kw[key]}")
    if "population" not in data:
        raise VbsimInputError(f"{where}: population: missing section [[population.cohorts]]")
    try:
        population = _population(data["population"], "population")
        dspec = _table(data, "drivers", where)
        if "trend_file" in dspec:  # a user-supplied expected trend path, relative to the file
            from .drivers import read_trend_file

            tf = Path(str(dspec.pop("trend_file")))
            if not tf.is_absolute() and base_dir is not None:
                tf = base_dir / tf
            for key, val in read_trend_file(tf).items():
                if key in dspec:
                    raise VbsimInputError(
                        f"drivers.{key}: given both inline and by trend_file; keep one")
                dspec[key] = val
        drivers = build_dataclass(Drivers, dspec, "drivers")
    except VbsimInputError as exc:
        raise VbsimInputError(f"{where}: {exc}") from None
    settle = _table(data, "settlement", where)
    for key, val in settle.items():
        if key not in _SETTLE_KEYS:
            raise VbsimInputError(
                f"{where}: settlement.{key}: unknown field; allowed: {', '.join(_SETTLE_KEYS)}"
            )
        if key == "quality_standard_met" and not isinstance(val, bool):
            raise VbsimInputError(f"{where}: settlement.{key} must be true or false; got {val!r}")
        ranges = {"revenue_share": (0.0, 10.0), "relief": (0.0, 1e15),
                  "expected_savings_rate": (-0.5, 0.5)}
        if key in ranges:
            try:
                check_real(f"settlement.{key}", val, *ranges[key])
            except VbsimInputError as exc:
                raise VbsimInputError(f"{where}: {exc}") from None
    contracts_spec = data.get("contracts", {})
    if not isinstance(contracts_spec, Mapping) or not contracts_spec:
        raise VbsimInputError(f"{where}: contracts: name at least one [contracts.NAME] table")
    contracts = {}
    for name, cspec in contracts_spec.items():
        try:
            cspec = _resolve_quantiles(cspec, population, drivers, f"contracts.{name}")
            contracts[name] = from_spec(cspec, where=f"contracts.{name}")
            _check_cohorts(contracts[name], population, f"contracts.{name}")
        except VbsimInputError as exc:
            raise VbsimInputError(f"{where}: {exc}") from None
    return Scenario(
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        population=population,
        drivers=drivers,
        contracts=contracts,
        settlement=settle,
        **kw,
    )


_QUANTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def _quantile_points(value: Any, population: Any, drivers: Any, field: str) -> Any:
    """``"pNN"`` -> ``{cohort: model NN-th percentile}``; anything else unchanged."""
    if not isinstance(value, str):
        return value
    m = _QUANTILE.match(value.strip())
    if not m or not 0 < float(m.group(1)) < 100:
        raise VbsimInputError(
            f"{field} must be a number, a table cohort -> dollars or a percentile such as "
            f"\"p99\"; got {value!r}")
    from .presets import cohort_truncation

    tm = drivers.trend_mean
    trend = float(tm[0] if isinstance(tm, (tuple, list)) else tm)
    return cohort_truncation(population, float(m.group(1)) / 100.0, trend)


def _resolve_quantiles(spec: Any, population: Any, drivers: Any, where: str) -> Any:
    """A contract spec with every ``"pNN"`` truncation / attachment replaced by its per-cohort
    points (see the module docstring)."""
    if not isinstance(spec, Mapping):
        return spec
    out = dict(spec)
    if "preset" in out and "truncation" in out:
        out["truncation"] = _quantile_points(out["truncation"], population, drivers,
                                             f"{where}.truncation")
    if out.get("type") == "individual_stop_loss" and "attachment" in out:
        out["attachment"] = _quantile_points(out["attachment"], population, drivers,
                                             f"{where}.attachment")
    if isinstance(out.get("overrides"), Mapping):
        ov = dict(out["overrides"])
        for k, v in ov.items():
            w = f"{where}.overrides.{k}"
            if k.endswith("attachment"):
                ov[k] = _quantile_points(v, population, drivers, w)
            elif isinstance(v, (Mapping, list, tuple)):
                ov[k] = _resolve_terms(v, population, drivers, w)
        out["overrides"] = ov
    for slot in ("stop_loss",):
        if slot in out:
            out[slot] = _resolve_terms(out[slot], population, drivers, f"{where}.{slot}")
    return out


def _check_cohorts(contract: Any, population: Any, where: str) -> None:
    """Per-cohort attachments must name every cohort of the population, and only those."""
    names = [c.name for c in population.cohorts]
    sls = getattr(contract, "stop_loss", None) or ()
    for i, sl in enumerate(sls if isinstance(sls, tuple) else (sls,)):
        att = getattr(sl, "attachment", None)
        if not isinstance(att, tuple):
            continue
        what = "truncation" if getattr(sl, "truncates_benchmark", False) else "attachment"
        check_cohort_names(f"{where}: stop_loss[{i}] per-cohort {what}", [k for k, _ in att],
                           names)


def _resolve_terms(v: Any, population: Any, drivers: Any, where: str) -> Any:
    if isinstance(v, (list, tuple)):
        return [_resolve_quantiles(x, population, drivers, f"{where}[{i}]")
                for i, x in enumerate(v)]
    return _resolve_quantiles(v, population, drivers, where)


def has_multiyear(path: str | Path) -> bool:
    """Whether the scenario file at ``path`` has a ``[multiyear]`` section (False when it cannot
    be read: the loader then reports the problem with the file name).

    >>> has_multiyear("scenarios/lead_10yr.toml"), has_multiyear("scenarios/default.toml")
    (True, False)
    """
    try:
        return "multiyear" in tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a scenario file as plain data (``tomllib``), with errors that name the file.

    >>> read_toml("no/such/file.toml")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: no/such/file.toml: no such scenario file
    """
    p = Path(path)
    if not p.is_file():
        raise VbsimInputError(f"{path}: no such scenario file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise VbsimInputError(f"{path}: not valid TOML: {exc}") from None


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    >>> load("no/such/file.toml")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: no/such/file.toml: no such scenario file
    """
    p = Path(path)
    sc = from_dict(read_toml(p), where=str(path), base_dir=p.parent)
    return dataclasses.replace(sc, source=str(path), name=sc.name or p.stem)
