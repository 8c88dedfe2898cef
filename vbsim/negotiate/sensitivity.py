"""Tornado: how each offer's expected payment and tail risk move with the scenario assumptions.

Each assumption is moved down and up, one at a time, and the scenario re-simulated with the
**same seed** (common random numbers: the same scenario index draws the same trend errors,
shocks and member uniforms), so the change from the base run is measured scenario by scenario
and its standard error is the paired one.

Default assumptions and ranges (assumptions, see docs/negotiation.md):

- ``trend``: expected cost growth ± 2 points (one trend sd, Drivers.trend_sd default), with the
  benchmark's prospective update held at its base value (so only actual costs move);
- ``benchmark update``: the benchmark's prospective update ± 1 point;
- ``high-cost persistence``: every cohort's persistence ± 0.2 (within [0, 0.999]);
- ``panel size``: aligned members x 0.5 and x 1.5;
- ``attrition``: every cohort's churn ± 0.05 (within [0, 0.5]).
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_choice

from ._stats import influence, measure_stat, se_of

VIEWS = {"provider": "provider_net", "payer": "payer_net"}
TREND_STEP = 0.02  # one Drivers.trend_sd (assumption: "forecast errors of several points")
BENCHMARK_STEP = 0.01  # assumption
PERSISTENCE_STEP = 0.2  # assumption
PANEL_FACTORS = (0.5, 1.5)  # assumption
CHURN_STEP = 0.05  # assumption


@dataclasses.dataclass(frozen=True)
class Assumption:
    """One assumption of a scenario, moved to ``low`` and ``high`` by ``apply(scenario, value)``.

    ``label`` says what the values mean (e.g. "+/- points of trend").

    >>> from vbsim.scenario import load
    >>> a = Assumption("panel size", 0.5, 2.0, scale_members, "members, multiplied by")
    >>> sc = load("scenarios/default.toml")
    >>> a, a.apply(sc, a.low).population.cohorts[0].members
    (Assumption(name='panel size', low=0.5, high=2.0, label='members, multiplied by'), 8131)
    """

    name: str
    low: float
    high: float
    apply: Callable[[Any, float], Any] = dataclasses.field(repr=False)
    label: str = ""


def _mean_trend(d: Any) -> float:
    t = d.trend_mean
    return float(np.mean(t)) if isinstance(t, tuple) else float(t)


def _shift(value: Any, delta: float) -> Any:
    if isinstance(value, tuple):
        return tuple(v + delta for v in value)
    return value + delta


def _trend(sc: Any, delta: float) -> Any:
    d = sc.drivers
    bench = d.trend_mean if d.benchmark_trend_mean is None else d.benchmark_trend_mean
    return sc.replace(drivers=dataclasses.replace(
        d, trend_mean=_shift(d.trend_mean, delta), benchmark_trend_mean=bench))


def _benchmark(sc: Any, delta: float) -> Any:
    d = sc.drivers
    bench = d.trend_mean if d.benchmark_trend_mean is None else d.benchmark_trend_mean
    return sc.replace(drivers=dataclasses.replace(d, benchmark_trend_mean=_shift(bench, delta)))


def _cohorts(sc: Any, fn: Callable[[Any], dict[str, Any]]) -> Any:
    from vbsim.population import Population

    return sc.replace(population=Population(
        [dataclasses.replace(c, **fn(c)) for c in sc.population]))


def scale_members(sc: Any, factor: float) -> Any:
    """The scenario with every cohort's members multiplied by ``factor`` (at least 1 each).

    >>> from vbsim.scenario import load
    >>> sc = load("scenarios/default.toml")
    >>> [c.members for c in sc.population], [c.members for c in scale_members(sc, 0.5).population]
    ([16262, 2310, 1278, 150], [8131, 1155, 639, 75])
    """
    return _cohorts(sc, lambda c: {"members": max(1, int(round(c.members * factor)))})


def standard_assumptions(scenario: Any) -> list[Assumption]:
    """The five assumptions of the issue, with ranges kept inside each field's valid range.

    >>> from vbsim.scenario import load
    >>> [(a.name, a.low, a.high) for a in standard_assumptions(load("scenarios/default.toml"))][:2]
    [('trend', -0.02, 0.02), ('benchmark update', -0.01, 0.01)]
    """
    pers = [c.persistence for c in scenario.population]
    churn = [c.churn for c in scenario.population]
    p_lo, p_hi = -min(PERSISTENCE_STEP, min(pers)), min(PERSISTENCE_STEP, 0.999 - max(pers))
    c_lo, c_hi = -min(CHURN_STEP, min(churn)), min(CHURN_STEP, 0.5 - max(churn))
    return [
        Assumption("trend", -TREND_STEP, TREND_STEP, _trend, "cost growth, points added"),
        Assumption("benchmark update", -BENCHMARK_STEP, BENCHMARK_STEP, _benchmark,
                   "benchmark update, points added"),
        Assumption("high-cost persistence", p_lo, p_hi,
                   lambda sc, d: _cohorts(sc, lambda c: {"persistence": c.persistence + d}),
                   "persistence, added"),
        Assumption("panel size", PANEL_FACTORS[0], PANEL_FACTORS[1], scale_members,
                   "members, multiplied by"),
        Assumption("attrition", c_lo, c_hi,
                   lambda sc, d: _cohorts(sc, lambda c: {"churn": c.churn + d}),
                   "churn, added"),
    ]


def _change(x: np.ndarray | None, stat: str, i_base: np.ndarray) -> tuple[float, float]:
    """Value of ``stat`` on ``x`` and the paired SE of its change from the base (NaN if None)."""
    if x is None:
        return math.nan, math.nan
    v, i = influence(x, stat)
    return v, se_of(i - i_base)


class Tornado:
    """Result of :func:`tornado`: ``frame`` has one row per (contract, measure, assumption).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"contract": ["E"], "measure": ["mean"], "assumption": ["trend"],
    ...                       "base": [1e5], "low": [2e5], "high": [0.0],
    ...                       "low_se": [1e3], "high_se": [1e3]})
    >>> t = Tornado(frame, {("E", "mean"): 1e5}, 100, "provider")
    >>> str(t).splitlines()[-1].split()
    ['E', 'mean', 'trend', '1e+05', '2e+05', '0', '1,000', '1,000']
    """

    def __init__(self, frame: Any, base: dict[tuple[str, str], float], n_scenarios: int,
                 view: str) -> None:
        self.frame, self.base, self.n_scenarios, self.view = frame, base, n_scenarios, view

    def __str__(self) -> str:
        f = self.frame.copy()
        for k in ("base", "low", "high", "low_se", "high_se"):
            f[k] = f[k].map(lambda v: f"{v:,.4g}")
        return (f"tornado ({self.view} view, {self.n_scenarios:,} scenarios, same seed; "
                "low/high = measure with the assumption moved down/up; *_se = paired SE of the "
                "change)\n" + f.to_string(index=False))

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (f"<p>{html.escape(str(self).splitlines()[0])}</p>"
                + self.frame.to_html(index=False, float_format=lambda v: f"{v:,.4g}"))

    def plot(self, contract: str | None = None, measure: str | None = None, ax: Any = None) -> Any:
        """Bars of the low/high change from the base (see :func:`vbsim.plot.tornado`)."""
        from vbsim import plot

        return plot.tornado(self, contract=contract, measure=measure, ax=ax)



def scenario_for(scenario: Any, *, n_scenarios: int | None = None, seed: int | None = None,
                 contracts: Sequence[str] | None = None) -> tuple[Any, list[str]]:
    """Load ``scenario`` (a Scenario or a path), apply size/seed overrides, check contract names.

    >>> sc, names = scenario_for("scenarios/default.toml", n_scenarios=10)
    >>> sc.n_scenarios, names[0]
    (10, 'mssp_basic_e')
    """
    from vbsim.scenario import load

    sc = load(scenario) if isinstance(scenario, (str, Path)) else scenario
    if n_scenarios is not None:
        sc = sc.replace(n_scenarios=n_scenarios)
    if seed is not None:
        sc = sc.replace(seed=seed)
    names = list(sc.contracts) if contracts is None else list(contracts)
    for n in names:
        check_choice("contracts", n, list(sc.contracts))
    return sc, names


def tornado(
    scenario: Any,
    contracts: Sequence[str] | None = None,
    *,
    assumptions: Sequence[Assumption] | None = None,
    measures: Sequence[str] = ("mean", "tvar99"),
    view: str = "provider",
    n_scenarios: int | None = None,
    seed: int | None = None,
) -> Tornado:
    """Re-simulate with each assumption moved down and up (same seed) and tabulate the change.

    Parameters
    ----------
    scenario:
        A :class:`vbsim.scenario.Scenario` or a scenario TOML path.
    contracts:
        Names of the scenario's contracts to report (default: all).
    assumptions:
        Default :func:`standard_assumptions` (trend, benchmark update, high-cost persistence,
        panel size, attrition).
    measures:
        ``"mean"``, ``"tvar99"`` (any level), ``"p_loss"``.
    n_scenarios, seed:
        Override the scenario's size and seed.

    Returns
    -------
    Tornado
        ``.frame`` (DataFrame), prints as a table, ``.plot()``.

    Examples
    --------
    >>> from vbsim.scenario import load
    >>> sc = load("scenarios/default.toml")
    >>> t = tornado(sc, ["mssp_basic_e"], n_scenarios=100,
    ...             assumptions=standard_assumptions(sc)[:1])
    >>> t.frame[["assumption", "measure"]].values.tolist()
    [['trend', 'mean'], ['trend', 'TVaR_99']]
    """
    import pandas as pd

    from vbsim.run import run

    check_choice("view", view, list(VIEWS))
    var = VIEWS[view]
    sc, names = scenario_for(scenario, n_scenarios=n_scenarios, seed=seed, contracts=contracts)
    sc = sc.replace(contracts={n: sc.contracts[n] for n in names})
    stats = [measure_stat(m, None) for m in measures]
    assumptions = standard_assumptions(sc) if assumptions is None else list(assumptions)
    if not assumptions:
        raise VbsimInputError("assumptions must name at least one Assumption")

    failures: dict[tuple[str, str], str] = {}

    def totals(s: Any, label: str) -> dict[str, np.ndarray | None]:
        try:
            st = run(s, progress=False).settlement
            return {n: st[var].sel(contract=n).sum("year").values for n in names}
        except VbsimInputError:  # some offer is undefined here: settle them one by one (CRN)
            out: dict[str, np.ndarray | None] = {}
            for n in names:
                try:
                    st = run(s.replace(contracts={n: s.contracts[n]}), progress=False).settlement
                    out[n] = st[var].sel(contract=n).sum("year").values
                except VbsimInputError as exc:
                    out[n] = None
                    failures[(n, label)] = str(exc)
            return out

    base = totals(sc, "base")
    bad = [n for n in names if base[n] is None]
    if bad:
        raise VbsimInputError(f"tornado: {bad[0]} cannot be settled on the base scenario: "
                              f"{failures[(bad[0], 'base')]}")
    rows, base_vals = [], {}
    moved = {a.name: (totals(a.apply(sc, a.low), f"{a.name} low"),
                      totals(a.apply(sc, a.high), f"{a.name} high")) for a in assumptions}
    for n in names:
        for stat in stats:
            vb, ib = influence(base[n], stat)
            base_vals[(n, stat)] = vb
            for a in assumptions:
                lo_x, hi_x = moved[a.name][0][n], moved[a.name][1][n]
                vl, sl = _change(lo_x, stat, ib)
                vh, sh = _change(hi_x, stat, ib)
                note = "; ".join(failures[(n, f"{a.name} {k}")] for k in ("low", "high")
                                 if (n, f"{a.name} {k}") in failures)
                rows.append({"contract": n, "measure": stat, "assumption": a.name,
                             "setting": a.label, "low_setting": a.low, "high_setting": a.high,
                             "base": vb, "low": vl, "high": vh, "low_se": sl, "high_se": sh,
                             "swing": abs(np.nan_to_num(vh, nan=vb) - np.nan_to_num(vl, nan=vb)),
                             "note": note})
    frame = pd.DataFrame(rows)
    frame["_c"] = frame["contract"].map(names.index)
    frame["_m"] = frame["measure"].map(stats.index)
    frame = frame.sort_values(["_c", "_m", "swing"], ascending=[True, True, False],
                              kind="stable").drop(columns=["_c", "_m"]).reset_index(drop=True)
    return Tornado(frame, base_vals, int(sc.n_scenarios), view)
