"""A contract over many performance years: a benchmark rule plus the terms of each year.

:class:`MultiYearContract` settles every performance year of a run of cost paths with the
benchmark its :class:`~vbsim.multiyear.BenchmarkRule` gives for that year and that year's
contract terms (a glide path of levels, a discount or quality withhold that changes by year).
All contracts settled on the same paths share common random numbers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError, check_real

from .benchmark import BenchmarkRule

__all__ = ["MultiYearContract", "by_year"]


def by_year(values: Sequence[Any], year: int) -> Any:
    """Entry for performance year ``year`` (1-based); the last entry repeats.

    >>> by_year([0.0175, 0.02, 0.03], 5)
    0.03
    """
    return values[min(year, len(values)) - 1]


def _rates(field: str, values: Any, hi: float) -> tuple[float, ...] | None:
    if values is None:
        return None
    if isinstance(values, (int, float)):
        values = (values,)
    vals = tuple(check_real(f"{field}[{i}]", v, 0.0, hi, hi_open=True)
                 for i, v in enumerate(values))
    if not vals:
        raise VbsimInputError(f"{field} must have at least one value (one per year)")
    return vals


@dataclasses.dataclass(frozen=True)
class MultiYearContract:
    """Benchmark rule + per-year contract terms, settled on multi-year cost paths.

    Parameters
    ----------
    rule:
        How the benchmark is set and updated (:func:`FixedBenchmark`, :func:`RebasedBenchmark`).
    contract:
        One contract for every year, or a sequence with one per performance year (a glide path;
        the last repeats).
    discount_by_year:
        Benchmark discount by performance year (last repeats); ``None`` keeps the contract's.
    withhold_by_year:
        Quality-withhold rate by performance year (last repeats); ``None`` keeps the contract's.
        A contract with no withhold gets a benchmark withhold earned back by quality score.
    name:
        Label used in comparisons.

    Examples
    --------
    >>> from vbsim.contracts import Contract, TwoSidedRisk
    >>> from vbsim.multiyear import FixedBenchmark, demo_paths
    >>> c = Contract("risk", sharing=TwoSidedRisk(rate=0.5, loss_rate=0.5))
    >>> m = MultiYearContract(FixedBenchmark(), c, discount_by_year=(0.0, 0.01))
    >>> st = m.settle_paths(demo_paths(years=5))
    >>> st["payment"].dims, st.sizes["year"]
    (('scenario', 'year'), 2)
    >>> float(st["discount"].isel(scenario=0, year=1)) > 0
    True
    """

    rule: BenchmarkRule
    contract: Any
    discount_by_year: tuple[float, ...] | None = None
    withhold_by_year: tuple[float, ...] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.rule, BenchmarkRule):
            raise VbsimInputError(
                f"MultiYearContract.rule must be a BenchmarkRule; got {self.rule!r}")
        cs = self.contract
        if isinstance(cs, (list, tuple)):
            cs = tuple(cs)
            if not cs:
                raise VbsimInputError("MultiYearContract.contract: give at least one contract")
        for i, c in enumerate(cs if isinstance(cs, tuple) else (cs,)):
            if not hasattr(c, "settle"):
                raise VbsimInputError(
                    f"MultiYearContract.contract[{i}] is not a contract (no settle method)")
        object.__setattr__(self, "contract", cs)
        object.__setattr__(self, "discount_by_year",
                           _rates("MultiYearContract.discount_by_year", self.discount_by_year, 1))
        object.__setattr__(self, "withhold_by_year",
                           _rates("MultiYearContract.withhold_by_year", self.withhold_by_year, 1))
        if not isinstance(self.name, str):
            raise VbsimInputError(f"MultiYearContract.name must be a string; got {self.name!r}")

    @property
    def thresholds(self) -> tuple[float, ...]:
        """Per-member thresholds the engine must compute (rule truncation and stop-loss)."""
        from vbsim.contracts.stoploss import stop_loss_thresholds

        out = set(self.rule.thresholds)
        for c in self.contract if isinstance(self.contract, tuple) else (self.contract,):
            out.update(stop_loss_thresholds(c))
        return tuple(sorted(out))

    def replace(self, **changes: Any) -> MultiYearContract:
        """A re-validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def contract_for_year(self, year: int) -> Any:
        """The contract that settles performance year ``year`` (1-based), overrides applied.

        >>> from vbsim.contracts import Contract, SharedSavings
        >>> from vbsim.multiyear import FixedBenchmark
        >>> c = Contract("a", sharing=SharedSavings(rate=0.4))
        >>> m = MultiYearContract(FixedBenchmark(), c, withhold_by_year=(0.03,))
        >>> m.contract_for_year(2).quality.rate
        0.03
        """
        c = by_year(self.contract, year) if isinstance(self.contract, tuple) else self.contract
        if self.discount_by_year is not None:
            c = c.replace(discount=by_year(self.discount_by_year, year))
        if self.withhold_by_year is not None:
            w = by_year(self.withhold_by_year, year)
            if getattr(c, "quality", None) is not None:
                c = c.replace(**{"quality.rate": w})
            else:
                from vbsim.contracts import QualityWithhold

                c = c.replace(quality=QualityWithhold(rate=w))
        return c

    def settle_paths(
        self, paths: xr.Dataset, *, revenue_share: float | None = None, **context: Any
    ) -> xr.Dataset:
        """Settle every performance year; returns a Dataset with dims (scenario, year).

        ``year`` is the performance year (1..Y); coordinate ``sim_year`` gives the simulated
        year. Variables: the Settlement components (``benchmark``, ``final_benchmark``,
        ``expenditure``, ``payment``, ``provider_net``, ``capitation``, ``covered_spend`` ...)
        plus ``member_months`` and ``mean_risk_score`` (scenario, year) and ``base_expenditure``
        (scenario), the last base year's expenditure, which sizes the LEAD financial guarantee.
        Extra ``context`` values are numbers or arrays (scenario, performance year).
        """
        ctx = year_context(self.rule, paths, revenue_share=revenue_share)
        nb = self.rule.base_years
        ny = ctx["benchmark"].shape[1]
        S = ctx["benchmark"].shape[0]
        for k, v in context.items():
            a = np.asarray(v)
            if a.ndim == 2 and a.shape != (S, ny):
                raise VbsimInputError(f"context {k!r} must be a number or an array (scenario, "
                                      f"performance year) of shape {(S, ny)}; got {a.shape}")
        _add_cohort_excess(ctx, paths, [self.contract_for_year(y + 1) for y in range(ny)], nb,
                           self.rule)
        parts: dict[str, list[np.ndarray]] = {}
        for y in range(ny):
            kw = {k: (v[y] if k == "excess" else v[:, y]) for k, v in ctx.items()
                  if k != "base_expenditure"}
            for k, v in context.items():
                a = np.asarray(v)
                kw[k] = a[:, y] if a.ndim == 2 else v
            rec = self.contract_for_year(y + 1).settle(**kw).to_dict()
            for key, val in rec.items():
                parts.setdefault(key, []).append(np.broadcast_to(np.asarray(val), (S,)))
        data = {k: (("scenario", "year"), np.stack(v, axis=1)) for k, v in parts.items()}
        data["base_expenditure"] = (("scenario",), ctx["base_expenditure"])
        data["member_months"] = (("scenario", "year"), ctx["member_months"])
        data["mean_risk_score"] = (("scenario", "year"), ctx["risk_score"])
        years = paths["year"].values
        ds = xr.Dataset(data, coords={"scenario": paths["scenario"].values,
                                      "year": np.arange(1, ny + 1),
                                      "sim_year": ("year", years[nb:])})
        ds.attrs["multiyear_contract"] = repr(self)
        ds.attrs["contracts_by_year"] = json.dumps(
            [repr(self.contract_for_year(y + 1)) for y in range(ny)])
        return ds


def _add_cohort_excess(ctx: dict[str, Any], paths: xr.Dataset, contracts: list[Any],
                       nb: int, rule: BenchmarkRule) -> None:
    """Add each year's excess at the contracts' per-cohort stop-loss attachments (the sum over
    cohorts of each cohort's excess, of the costs ``rule`` counts, at its own attachment) to
    ``ctx["excess"]``."""
    from vbsim.evaluate import _cohort_keys, _field, cohort_excess

    keys = _cohort_keys(contracts)
    if not keys:
        return
    ny = ctx["benchmark"].shape[1]
    ctx.setdefault("excess", [{} for _ in range(ny)])
    e = rule.excess_by_cohort(paths)
    for key in keys:
        exc = cohort_excess(paths, key, field=_field(key), excess=e)
        for y in range(ny):
            ctx["excess"][y][key] = exc[:, nb + y]


def year_context(
    rule: BenchmarkRule, paths: xr.Dataset, *, revenue_share: float | None = None
) -> dict[str, Any]:
    """Settle() inputs for every performance year, arrays (scenario, performance year).

    ``excess`` (when the paths have thresholds) is a list by year of ``{threshold: array}``.

    >>> from vbsim.multiyear import FixedBenchmark, demo_paths
    >>> ctx = year_context(FixedBenchmark(), demo_paths(years=4))
    >>> sorted(ctx)[:3], ctx["benchmark"].shape
    (['assigned_beneficiaries', 'base_expenditure', 'benchmark'], (2, 1))
    """
    from vbsim.evaluate import assigned_beneficiaries

    nb = rule.base_years
    bench = rule.benchmark(paths)
    exp_all = rule.expenditure_by_cohort(paths).sum(axis=2)
    mm3 = paths["member_months"].transpose("scenario", "year", "cohort").values
    mm = mm3.sum(axis=2)
    ctx: dict[str, Any] = {
        "benchmark": bench,
        "expenditure": exp_all[:, nb:],
        "member_months": mm[:, nb:],
        "assigned_beneficiaries": assigned_beneficiaries(paths)[:, nb:],
        "base_expenditure": exp_all[:, nb - 1],
    }
    rs = paths["risk_score"].transpose("scenario", "year", "cohort").values
    rs = np.where(mm3 > 0, np.nan_to_num(rs), 0.0)  # an empty cohort has no risk score (NaN)
    ctx["risk_score"] = np.divide((rs * mm3).sum(axis=2), mm, out=np.ones_like(mm),
                                  where=mm > 0)[:, nb:]
    if "quality" in paths:
        ctx["quality_score"] = paths["quality"].transpose("scenario", "year").values[:, nb:]
    if "threshold" in paths.dims and paths.sizes["threshold"] > 0 and "excess" in paths:
        exc = rule.excess_by_cohort(paths).sum(axis=2)  # of the costs the rule counts
        ths = [float(t) for t in paths["threshold"].values]
        ctx["excess"] = [{t: exc[:, nb + y, k] for k, t in enumerate(ths)}
                         for y in range(bench.shape[1])]
    if revenue_share is not None:
        check_real("revenue_share", revenue_share, 0.0, 10.0)
        ctx["revenue"] = revenue_share * ctx["expenditure"]
    return ctx
