"""Strategies over ten years compared on the same cost paths: LEAD Global, LEAD Professional,
MSSP ENHANCED with rebasing (and an MSSP BASIC glide path), with cash flows, NPV and guarantee
breaches.

Every strategy is a :class:`~vbsim.multiyear.MultiYearContract`; :func:`compare` settles them all
on one set of paths (common random numbers), so differences between strategies carry far less
Monte Carlo noise than either strategy alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError

from .benchmark import BenchmarkRule, FixedBenchmark, RebasedBenchmark
from .cash import CashTerms, _advance, cash_flows
from .contract import MultiYearContract

__all__ = [
    "LEAD_GLOBAL_DISCOUNTS",
    "PCC_SHARE",
    "compare",
    "lead_global",
    "lead_professional",
    "mssp_basic_glide",
    "mssp_enhanced",
    "standard_strategies",
    "summarize",
]

# LEAD Global discount ~1.75-3%, rising over time for high-cost ACOs [C, DOMAIN.md s.4]; the path
# (1.75% in PY1-2, +0.25 point a year to 3% from PY7) is an assumption inside that range.
LEAD_GLOBAL_DISCOUNTS = (0.0175, 0.0175, 0.02, 0.0225, 0.025, 0.0275, 0.03)
LEAD_WITHHOLD = 0.03  # LEAD quality withhold 3% [C, DOMAIN.md s.4]
PCC_SHARE = 0.10  # assumption: primary care ~10% of total cost of care (PCC covers that share)


def lead_global(
    *, rule: BenchmarkRule | None = None, discounts: tuple[float, ...] = LEAD_GLOBAL_DISCOUNTS,
    withhold: float = LEAD_WITHHOLD, **preset: Any,
) -> MultiYearContract:
    """LEAD Global over 10 years: fixed benchmark, rising discount, 3% withhold (DOMAIN.md s.4).

    >>> lead_global().contract_for_year(10).discount
    0.03
    """
    from vbsim import presets

    return MultiYearContract(rule or FixedBenchmark(), presets.lead("global", **preset),
                             discount_by_year=discounts, withhold_by_year=(withhold,),
                             name="LEAD Global")


def lead_professional(
    *, rule: BenchmarkRule | None = None, withhold: float = LEAD_WITHHOLD, **preset: Any
) -> MultiYearContract:
    """LEAD Professional over 10 years: fixed benchmark, 50% corridors, no discount [C, s.4].

    >>> lead_professional().contract_for_year(3).discount
    0.0
    """
    from vbsim import presets

    return MultiYearContract(rule or FixedBenchmark(), presets.lead("professional", **preset),
                             withhold_by_year=(withhold,), name="LEAD Professional")


def mssp_enhanced(
    *, rule: BenchmarkRule | None = None, agreement_years: int = 5, msr: float | str = 0.02,
    **preset: Any,
) -> MultiYearContract:
    """MSSP ENHANCED, rebased every 5 years on the last 3 years [C, DOMAIN.md s.2].

    ``msr``: the symmetric MSR/MLR the ACO elects (0-2% or "table" [C]); default 2% [A].

    >>> mssp_enhanced().rule.agreement_years
    5
    """
    from vbsim import presets

    return MultiYearContract(rule or RebasedBenchmark(agreement_years=agreement_years),
                             presets.mssp("ENHANCED", msr=msr, **preset), name="MSSP ENHANCED")


def mssp_basic_glide(
    *, levels: tuple[str, ...] = ("A", "B", "C", "D", "E"), then: str = "ENHANCED",
    rule: BenchmarkRule | None = None, **preset: Any,
) -> MultiYearContract:
    """MSSP BASIC glide path A to E over the first agreement, then ``then`` (assumption:
    ENHANCED in the renewed agreement; one-sided levels use the MSR size table).

    >>> [c.name for c in mssp_basic_glide().contract[:2]]
    ['MSSP BASIC A', 'MSSP BASIC B']
    """
    from vbsim import presets

    def one(level: str) -> Any:
        kw = dict(preset)
        if level in ("A", "B"):
            kw.pop("msr", None)
        return presets.mssp(level, **kw)

    cs = tuple(one(lv) for lv in levels) + (one(then),)
    return MultiYearContract(rule or RebasedBenchmark(agreement_years=len(levels)), cs,
                             name="MSSP BASIC glide")


def standard_strategies(**rule_changes: Any) -> dict[str, MultiYearContract]:
    """The three options of the issue, keyed by name: LEAD Global, LEAD Professional, MSSP
    ENHANCED (rebased). ``rule_changes`` apply to every benchmark rule (e.g. a prospective trend).

    >>> list(standard_strategies())
    ['LEAD Global', 'LEAD Professional', 'MSSP ENHANCED']
    """
    out = {}
    for s in (lead_global(), lead_professional(), mssp_enhanced()):
        out[s.name] = s.replace(rule=s.rule.replace(**rule_changes)) if rule_changes else s
    return out


def _cash_for(cash: Any, name: str) -> CashTerms:
    if cash is None:
        return CashTerms()
    if isinstance(cash, CashTerms):
        return cash
    if isinstance(cash, Mapping):
        c = cash.get(name, CashTerms())
        if not isinstance(c, CashTerms):
            raise VbsimInputError(f"cash[{name!r}] must be a CashTerms; got {c!r}")
        return c
    raise VbsimInputError(f"cash must be a CashTerms or a dict name -> CashTerms; got {cash!r}")


def compare(
    paths: xr.Dataset,
    strategies: Mapping[str, MultiYearContract],
    *,
    cash: CashTerms | Mapping[str, CashTerms] | None = None,
    revenue_share: float | None = None,
    **context: Any,
) -> xr.Dataset:
    """Settle each strategy on the same paths and add its cash flows.

    Parameters
    ----------
    paths:
        CostPaths with the rules' base years plus the performance years.
    strategies:
        ``name -> MultiYearContract``.
    cash:
        One :class:`CashTerms` for all, or one per strategy name (default: no capitation).
    revenue_share, **context:
        Passed to every settlement (``quality_standard_met`` defaults to True, an assumption).

    Returns
    -------
    xarray.Dataset
        dim ``contract`` first: settlement variables and flags such as ``cap_hit``
        (contract, scenario, year), cash variables
        (contract, scenario, cash_year), ``npv``, ``total``, ``first_breach_year``,
        ``ever_breached`` (contract, scenario).

    Examples
    --------
    >>> from vbsim.multiyear import demo_paths
    >>> cmp = compare(demo_paths(years=6, noise=0.05, n_scenarios=20), standard_strategies())
    >>> cmp["npv"].dims, cmp["contract"].values.tolist()[2]
    (('contract', 'scenario'), 'MSSP ENHANCED')
    """
    if not isinstance(strategies, Mapping) or not strategies:
        raise VbsimInputError("strategies must be a non-empty dict name -> MultiYearContract")
    context.setdefault("quality_standard_met", True)
    rows = []
    for name, s in strategies.items():
        if not isinstance(s, MultiYearContract):
            raise VbsimInputError(f"strategies[{name!r}] must be a MultiYearContract; got {s!r}")
        st = s.settle_paths(paths, revenue_share=revenue_share, **context)
        terms = _cash_for(cash, name)
        cf = cash_flows(st, terms)
        if terms.capitation_share is not None:
            # report the capitation the cash flows assume, not the contract's (absent) term
            cap, covered = _advance(st, terms)
            st = st.assign(capitation=(("scenario", "year"), cap),
                           covered_spend=(("scenario", "year"), covered))
        rows.append(xr.merge([st, cf], combine_attrs="drop"))
    n_cash = max(r.sizes["cash_year"] for r in rows)
    padded = []
    for r in rows:  # a strategy with a shorter lag has no flows in the last cash years
        last = r["reserve"].isel(cash_year=-1, drop=True)
        r = r.reindex(cash_year=np.arange(1, n_cash + 1))
        for k in ("in_year", "reconciliation", "net_cash"):
            r[k] = r[k].fillna(0.0)
        r["reserve"] = r["reserve"].fillna(last)
        r["cumulative"] = r["net_cash"].cumsum("cash_year")
        r["breach"] = r["cumulative"] < -r["reserve"]
        padded.append(r)
    rows = padded
    out = xr.concat(rows, dim="contract", combine_attrs="drop")
    out = out.assign_coords(contract=list(strategies))
    out.attrs["strategies"] = repr({n: repr(s) for n, s in strategies.items()})
    return out


def summarize(
    comparison: xr.Dataset, *, levels: tuple[float, ...] = (0.05, 0.5, 0.95),
    tvar_level: float = 0.95,
) -> Any:
    """One row per strategy: NPV mean, quantiles, TVaR of the NPV loss (expected shortfall,
    :func:`vbsim.metrics.tvar`, a positive number is a loss), P(NPV < 0), P(breach), mean first
    breach year, total undiscounted net; each estimate with its Monte Carlo standard error
    (columns ``*_se``); a pandas DataFrame.

    >>> from vbsim.multiyear import demo_paths
    >>> cmp = compare(demo_paths(years=6, noise=0.05, n_scenarios=40), standard_strategies())
    >>> list(summarize(cmp).columns)[:3]
    ['npv_mean', 'npv_mean_se', 'npv_q05']
    """
    import pandas as pd

    from vbsim import metrics

    rows = {}
    for name in comparison["contract"].values:
        c = comparison.sel(contract=name)
        npv = np.asarray(c["npv"].values, float)
        n = npv.size
        row: dict[str, float] = {
            "npv_mean": npv.mean(), "npv_mean_se": npv.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0}
        for q in levels:
            e = metrics.quantile(npv, q)
            row[f"npv_q{round(q * 100):02d}"] = float(e.value)
            row[f"npv_q{round(q * 100):02d}_se"] = float(e.se)
        e = metrics.tvar(npv, tvar_level)
        row[f"npv_tvar{round(tvar_level * 100):02d}"] = float(e.value)
        row[f"npv_tvar{round(tvar_level * 100):02d}_se"] = float(e.se)
        for label, flag in (("p_npv_negative", npv < 0),
                            ("p_breach", np.asarray(c["ever_breached"].values, bool))):
            p = flag.mean()
            row[label] = p
            row[label + "_se"] = np.sqrt(p * (1 - p) / max(n - 1, 1))
        fb = np.asarray(c["first_breach_year"].values)
        row["mean_first_breach_year"] = float(fb[fb > 0].mean()) if np.any(fb > 0) else np.nan
        tot = np.asarray(c["total"].values, float)
        row["total_mean"] = tot.mean()
        row["total_mean_se"] = tot.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0
        rows[str(name)] = row
    return pd.DataFrame.from_dict(rows, orient="index")
