"""Settle every contract on the same simulated paths.

:func:`evaluate` reduces a :class:`~vbsim.simulate` ``CostPaths`` Dataset over cohorts, builds the
settlement context (benchmark, expenditure, beneficiaries, quality, stop-loss statistics) and
settles every contract on the whole (scenario, year) grid: contracts built from the library's
terms (every preset) in one fused, threaded numba pass (:mod:`vbsim.contracts._fast`) that writes
only the requested variables, any other contract with its own vectorised ``settle``. Both give
the same numbers, bit for bit. The result is one xarray Dataset with a ``contract`` dimension,
so every comparison between contracts uses common random numbers.

Per-cohort stop-loss attachments (``IndividualStopLoss(attachment={cohort: dollars})``, e.g.
MSSP's truncation at the 99th percentile of each enrolment type) read the sum over cohorts of
each cohort's excess at its own attachment (:func:`cohort_excess`), which
:func:`settlement_context` adds under the stop-loss's attachment key; such contracts settle on
the numpy path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ._threads import num_threads
from ._validate import VbsimInputError, check_cohort_names, check_list, check_real
from .contracts.settlement import FLAGS as _FLAGS
from .contracts.stoploss import cohort_values, stop_loss_thresholds


def _as_named(contracts: Any) -> dict[str, Any]:
    if isinstance(contracts, Mapping):
        named = dict(contracts)
    elif hasattr(contracts, "settle"):
        named = {getattr(contracts, "name", "") or "contract": contracts}
    elif isinstance(contracts, Iterable):
        named = {}
        for i, c in enumerate(contracts):
            key = getattr(c, "name", "") or f"contract_{i}"
            if key in named:
                key = f"{key}_{i}"
            named[key] = c
    else:
        raise VbsimInputError(f"contracts must be a contract, a list or a dict; got {contracts!r}")
    if not named:
        raise VbsimInputError("contracts must name at least one contract")
    for key, c in named.items():
        if not hasattr(c, "settle"):
            raise VbsimInputError(f"contracts[{key!r}] is not a contract (no settle method)")
    return named


def needed_thresholds(contracts: Any) -> tuple[float, ...]:
    """All per-member thresholds (stop-loss attachments, truncation points) the contracts need.

    >>> needed_thresholds([])
    ()
    """
    if isinstance(contracts, Mapping):
        contracts = list(contracts.values())
    elif hasattr(contracts, "settle"):
        contracts = [contracts]
    out: set[float] = set()
    for c in contracts:
        out.update(stop_loss_thresholds(c))
    return tuple(sorted(out))


def _as_list(contracts: Any) -> list[Any]:
    if contracts is None:
        return []
    if isinstance(contracts, Mapping):
        return list(contracts.values())
    if hasattr(contracts, "settle"):
        return [contracts]
    return list(contracts)


def _cohort_keys(contracts: Any) -> list[tuple[tuple[str, float], ...]]:
    """The per-cohort attachments (stored tuples) of the contracts' individual stop-losses."""
    keys: list[tuple[tuple[str, float], ...]] = []
    for c in _as_list(contracts):
        for sl in _stop_losses(c):
            a = getattr(sl, "attachment", None)
            if isinstance(a, tuple) and a not in keys:
                keys.append(a)
    return keys


def _same_key(a: Any, b: Any) -> bool:
    """Whether two ``excess`` keys name the same entry (floats: within 1e-9; tuples: equal)."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return a == b
    return math.isclose(float(a), float(b))


def cohort_threshold_columns(paths: xr.Dataset, attachment: Any, field: str) -> list[int]:
    """For each cohort of ``paths``, the index of its own threshold in ``paths["threshold"]``.

    ``attachment`` is a number (every cohort) or the stored per-cohort form (a tuple of
    ``(cohort, value)`` pairs, :func:`vbsim.contracts.stoploss.cohort_values`); it must name
    every cohort and only those, and each value must be a simulated threshold. Errors name
    ``field``.

    >>> import vbsim
    >>> pop = vbsim.Population([vbsim.Cohort("a", 10, vbsim.costs.Lognormal(mean=1e4, cv=1)),
    ...                         vbsim.Cohort("b", 10, vbsim.costs.Lognormal(mean=1e4, cv=1))])
    >>> paths = vbsim.simulate(pop, n_scenarios=2, seed=1, thresholds=[5e4, 1e5])
    >>> cohort_threshold_columns(paths, (("a", 1e5), ("b", 5e4)), "attachment")
    [1, 0]
    """
    cohorts = [str(c) for c in paths["cohort"].values]
    pairs = dict(attachment) if isinstance(attachment, tuple) else {c: attachment
                                                                    for c in cohorts}
    check_cohort_names(f"{field}: a per-cohort attachment", pairs, cohorts)
    thr = (paths["threshold"].values.astype(float) if "threshold" in paths.dims
           else np.zeros(0))
    idx = []
    for c in cohorts:
        hit = np.flatnonzero(np.isclose(thr, pairs[c]))
        if not hit.size:
            need = sorted(set(pairs.values()))
            raise VbsimInputError(
                f"{field}[{c!r}] = {pairs[c]:g} is not a simulated threshold; simulate with "
                f"thresholds={tuple(need)} (vbsim.run does this for you)")
        idx.append(int(hit[0]))
    return idx


def cohort_excess(paths: xr.Dataset, attachment: Any, *, field: str = "attachment",
                  excess: np.ndarray | None = None) -> np.ndarray:
    """Sum over cohorts of each cohort's excess at its own attachment, array (scenario, year).

    ``excess`` (scenario, year, cohort, threshold) replaces the paths' own, e.g. the excess of
    truncated costs (:meth:`vbsim.multiyear.BenchmarkRule.excess_by_cohort`).

    ``attachment`` maps every cohort of the paths to a threshold the paths were simulated with
    (a number applies to every cohort). A cohort left out, or a name that is not a cohort of
    the paths, is an error naming them: a per-cohort attachment is per enrolment type, and a
    silently unattached cohort would overstate the ACO's risk.

    >>> import vbsim
    >>> pop = vbsim.Population([
    ...     vbsim.Cohort("aged", 300, vbsim.costs.Lognormal(mean=1e4, cv=2)),
    ...     vbsim.Cohort("esrd", 20, vbsim.costs.Lognormal(mean=8e4, cv=1.5))])
    >>> paths = vbsim.simulate(pop, n_scenarios=5, seed=1, thresholds=[50_000, 200_000])
    >>> exc = cohort_excess(paths, {"aged": 50_000, "esrd": 200_000})
    >>> by_hand = (paths["excess"].sel(cohort="aged", threshold=50_000)
    ...            + paths["excess"].sel(cohort="esrd", threshold=200_000))
    >>> bool(np.allclose(exc, by_hand.transpose("scenario", "year").values))
    True
    """
    idx = cohort_threshold_columns(paths, cohort_values(field, attachment), field)
    if excess is None and len(set(idx)) == 1:  # one attachment for all: the summed excess
        exc = paths["excess"].sum("cohort").transpose("scenario", "year", "threshold").values
        return exc[..., idx[0]]
    e = (paths["excess"].transpose("scenario", "year", "cohort", "threshold").values
         if excess is None else excess)
    tot = np.zeros(e.shape[:2])
    for j, k in enumerate(idx):
        tot += e[:, :, j, k]
    return tot


def settlement_context(
    paths: xr.Dataset,
    *,
    contracts: Any = None,
    revenue_share: float | None = None,
    expected_savings_rate: float = 0.0,
    **context: Any,
) -> dict[str, Any]:
    """The settle() context for a CostPaths Dataset, summed over cohorts, as numpy arrays.

    Arrays have shape (scenario, year). ``revenue_share`` (provider fee-for-service revenue as a
    share of the population's expenditure, used by revenue-based loss limits) is an input of the
    scenario; when omitted, no ``revenue`` enters the context. ``expected_savings_rate`` s sets the
    benchmark to the engine's benchmark / (1 - s): the provider's expected cost sits a share s
    below its benchmark (historical efficiency; 0 puts the benchmark at expected cost).
    ``contracts`` (optional) adds the ``excess`` / ``expected_excess`` entries their per-cohort
    stop-loss attachments read (keyed by the stop-loss's ``attachment`` tuple; see
    :func:`cohort_excess`).

    >>> import vbsim
    >>> pop = vbsim.Population([vbsim.Cohort("all", 200, vbsim.costs.Lognormal(mean=1e4, cv=2))])
    >>> paths = vbsim.simulate(pop, n_scenarios=20, years=2, seed=1)
    >>> ctx = settlement_context(paths, revenue_share=0.4)
    >>> sorted(ctx)  # doctest: +NORMALIZE_WHITESPACE
    ['assigned_beneficiaries', 'benchmark', 'expenditure', 'member_months', 'quality_score',
     'revenue']
    >>> ctx["benchmark"].shape, bool(np.allclose(ctx["revenue"], 0.4 * ctx["expenditure"]))
    ((20, 2), True)
    """
    check_real("expected_savings_rate", expected_savings_rate, -0.5, 0.5)
    tot = paths[["cost", "benchmark", "member_months"]].sum("cohort")
    bench = tot["benchmark"].transpose("scenario", "year").values / (1.0 - expected_savings_rate)
    ctx: dict[str, Any] = {
        "benchmark": bench,
        "expenditure": tot["cost"].transpose("scenario", "year").values,
        "member_months": tot["member_months"].transpose("scenario", "year").values,
    }
    ctx["assigned_beneficiaries"] = assigned_beneficiaries(paths)
    if "quality" in paths:
        ctx["quality_score"] = paths["quality"].transpose("scenario", "year").values
    if "threshold" in paths.dims and paths.sizes["threshold"] > 0:
        exc = paths["excess"].sum("cohort").transpose("scenario", "year", "threshold").values
        ctx["excess"] = {
            float(t): exc[..., k] for k, t in enumerate(paths["threshold"].values)
        }
        for key in _cohort_keys(contracts):
            ctx["excess"][key] = cohort_excess(paths, key, field=_field(key))
        # Expected recoveries for loaded stop-loss premiums: the mean over scenarios, per year.
        ctx["expected_excess"] = {
            t: np.broadcast_to(v.mean(axis=0, keepdims=True), v.shape)
            for t, v in ctx["excess"].items()
        }
    elif _cohort_keys(contracts):
        cohort_excess(paths, _cohort_keys(contracts)[0],
                      field=_field(_cohort_keys(contracts)[0]))  # raises: no thresholds
    if revenue_share is not None:
        check_real("revenue_share", revenue_share, 0.0, 10.0)
        ctx["revenue"] = revenue_share * ctx["expenditure"]
    ctx.update(context)
    return ctx


def _field(key: tuple[tuple[str, float], ...]) -> str:
    inner = ", ".join(f"{k!r}: {v:g}" for k, v in key)
    return f"IndividualStopLoss.attachment {{{inner}}}"


def evaluate(
    paths: xr.Dataset,
    contracts: Any,
    *,
    revenue_share: float | None = None,
    expected_savings_rate: float = 0.0,
    variables: Iterable[str] | None = None,
    **context: Any,
) -> xr.Dataset:
    """Settle each contract on every simulated (scenario, year).

    Parameters
    ----------
    paths:
        ``CostPaths`` Dataset from :func:`vbsim.simulate`.
    contracts:
        A contract, a list of contracts, or a dict ``name -> contract``.
    revenue_share:
        Provider revenue as a share of expenditure, for revenue-based loss limits.
    expected_savings_rate:
        How far below its benchmark the provider's expected cost sits (see
        :func:`settlement_context`).
    variables:
        Keep only these settlement variables (e.g. ``["payment", "provider_net",
        "payer_net", "cap_hit"]``); default all. Saves memory and time on large runs.
    **context:
        Extra settle() context, e.g. ``quality_standard_met=True``, ``relief=0.0``.

    Returns
    -------
    xarray.Dataset
        dims (contract, scenario, year); one variable per settlement component
        (``payment``, ``provider_net``, ``payer_net``, ``gross_savings``, flags ...).

    Examples
    --------
    >>> import vbsim
    >>> from vbsim import presets
    >>> pop = vbsim.Population([vbsim.Cohort("all", 500, vbsim.costs.Lognormal(mean=1e4, cv=2))])
    >>> paths = vbsim.simulate(pop, n_scenarios=50, seed=1)
    >>> st = evaluate(paths, {"E": presets.mssp("E", msr=0.02)})
    >>> st["payment"].dims
    ('contract', 'scenario', 'year')
    """
    if not isinstance(paths, xr.Dataset) or any(
            k not in paths.variables for k in ("cost", "benchmark", "member_months", "year")):
        hint = (" (for a vbsim.run Result pass result.paths, or use its settlement)"
                if hasattr(paths, "paths") else "")
        raise VbsimInputError(
            "paths must be a CostPaths Dataset from vbsim.simulate (variables cost, benchmark, "
            f"member_months; dims scenario, year, cohort); got {type(paths).__name__}{hint}")
    named = _as_named(contracts)
    variables = None if variables is None else check_list("variables", variables,
                                                          "variable names")
    missing = [t for t in needed_thresholds(named) if "threshold" not in paths.dims
               or not np.any(np.isclose(paths["threshold"].values, t))]
    if missing:
        raise VbsimInputError(
            f"the cost paths lack thresholds {missing} that the contracts need; simulate with "
            f"thresholds={needed_thresholds(named)} (vbsim.run does this for you)"
        )
    ctx = settlement_context(paths, contracts=named, revenue_share=revenue_share,
                             expected_savings_rate=expected_savings_rate, **context)
    scen, years = paths["scenario"].values, paths["year"].values
    shape = (len(scen), len(years))
    cs = list(named.values())
    out = _settle_all(cs, ctx, shape, variables)
    data = {k: (("contract", "scenario", "year"), v) for k, v in out.items()}
    ds = xr.Dataset(data, coords={"contract": list(named), "scenario": scen, "year": years})
    ds.attrs["contracts"] = json.dumps({n: repr(c) for n, c in named.items()})
    if revenue_share is not None:
        ds.attrs["revenue_share"] = revenue_share
    ds.attrs["expected_savings_rate"] = expected_savings_rate
    plain = {k: (bool(v) if isinstance(v, (bool, np.bool_)) else float(v))
             for k, v in context.items() if np.ndim(v) == 0 and not isinstance(v, str)}
    if plain:  # the rest of the settlement context, so the file says how it was settled
        ds.attrs["context"] = json.dumps(plain)
    return ds


def _settle_all(cs: list[Any], ctx: dict[str, Any], shape: tuple[int, int],
                variables: list[str] | None) -> dict[str, np.ndarray]:
    """Every contract settled on ``ctx``: ``variable -> array (contract, scenario, year)``.

    Contracts the fused kernel supports (every preset; see :mod:`vbsim.contracts._fast`) are
    settled together in one threaded pass that writes only the requested variables; the others
    with their own numpy ``settle``, in cache-sized chunks, contracts in parallel on threads.
    Outputs start zeroed (fresh zero pages: components that are zero by construction for a
    contract are never written, so they cost no memory traffic). Results are the numpy
    pipeline's, bit for bit.
    """
    from .contracts import _fast
    from .contracts.settlement import prepare

    names = _variable_names(variables)
    # The kernel reads single-threshold excess only: per-cohort entries (tuple keys) stay out.
    fctx = {k: ({t: a for t, a in v.items() if not isinstance(t, tuple)}
                if k in ("excess", "expected_excess") and isinstance(v, dict) else v)
            for k, v in ctx.items()}
    compiled = ([_fast.compile_contract(c, fctx) for c in cs]
                if _fast.plain_context(fctx, shape) else [None] * len(cs))
    fast = [i for i, c in enumerate(compiled) if c is not None]
    slow = [i for i, c in enumerate(compiled) if c is None]
    if fast:
        # The numpy path validates its context in every chunk of every contract; the same
        # checks (ranges, finiteness, unknown names) once here, on the entries they would see.
        need = {t for i in fast for t in stop_loss_thresholds(cs[i])}
        check = _ctx_for(_Needs(need), fctx)
        prepare(check.pop("benchmark"), check.pop("expenditure"), check)
    out = {k: np.zeros((len(cs),) + shape, dtype=bool if k in _FLAGS else float)
           for k in names}
    threads = num_threads()
    if fast:
        _fast.settle_into([compiled[i] for i in fast], fctx, shape, out, threads, rows=fast)

    def one(i: int) -> None:
        settle_arrays(cs[i], _ctx_for(cs[i], ctx), shape, names,
                      out={k: v[i] for k, v in out.items()})

    workers = min(len(slow), threads)
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        # numpy releases the GIL inside each (cache-sized) operation, so contracts settle in
        # parallel on threads; each writes only its own slice of the outputs.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, slow))
    else:
        for i in slow:
            one(i)
    return out


def _variable_names(variables: Iterable[str] | None) -> list[str]:
    """The requested settlement variables in record order (all when None), checked."""
    from .contracts._fast import VARIABLES

    keep = None if variables is None else check_list("variables", variables, "variable names")
    if keep is not None and set(keep) - set(VARIABLES):
        raise VbsimInputError(f"variables: unknown settlement variables "
                              f"{sorted(set(keep) - set(VARIABLES))}; "
                              f"allowed: {', '.join(VARIABLES)}")
    return [k for k in VARIABLES if keep is None or k in keep]


class _Needs:
    """A stand-in contract that asks for given thresholds (to filter a context like one)."""

    def __init__(self, thresholds: set[float]) -> None:
        self.thresholds = tuple(sorted(thresholds))


_CHUNK_ELEMENTS = 65_536  # scenario-years per settlement chunk (measured best at 2^15 to 2^17)


def settle_arrays(
    contract: Any,
    ctx: dict[str, Any],
    shape: tuple[int, int],
    variables: Iterable[str] | None = None,
    *,
    out: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Settle one contract on (scenario, year) context arrays (``contract.settle(**ctx)``).

    A contract the fused kernel supports (:mod:`vbsim.contracts._fast`; every preset) is
    settled there, on threads; any other with its numpy ``settle`` in cache-sized scenario
    chunks (the dozens of temporaries of a settlement then stay in cache: about 3x faster than
    whole-array numpy on 10^6 scenario-years). Both give the same numbers. ``ctx["benchmark"]``
    is taken as the contract's own (already truncated where it truncates costs: see
    :func:`context_for`). Returns ``variable -> array of shape``; with ``out``, writes into
    those arrays instead (no copies).

    >>> from vbsim import presets
    >>> b = np.full((3, 2), 100.0)
    >>> r = settle_arrays(presets.mssp("E", msr=0.0), {"benchmark": b, "expenditure": b - 4},
    ...                   (3, 2), ["payment"])
    >>> r["payment"].tolist()[0]  # 50% x 4 x 0.98 each year
    [1.96, 1.96]
    """
    fast = _settle_one_fast(contract, ctx, shape, variables, out)
    if fast is not None:
        return fast
    n = shape[0]
    step = max(1, _CHUNK_ELEMENTS // max(1, shape[1]))
    keep = None if variables is None else check_list("variables", variables, "variable names")
    for a in range(0, n, step):
        rec = contract.settle(**_chunk(ctx, a, a + step, n)).to_dict()
        if out is None:
            if keep is not None and set(keep) - set(rec):
                raise VbsimInputError(
                    f"variables: unknown settlement variables {sorted(set(keep) - set(rec))}; "
                    f"allowed: {', '.join(rec)}")
            names = list(rec) if keep is None else [k for k in rec if k in keep]
            out = {k: np.empty(shape, dtype=np.asarray(rec[k]).dtype) for k in names}
        for k, arr in out.items():
            arr[a:a + step] = rec[k]
    return out if out is not None else {}


def _settle_one_fast(contract: Any, ctx: dict[str, Any], shape: tuple[int, int],
                     variables: Iterable[str] | None,
                     out: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
    """settle_arrays through the fused kernel, or None where the numpy path must run."""
    from .contracts import _fast
    from .contracts.settlement import prepare

    if (ctx.get("benchmark") is None or ctx.get("expenditure") is None
            or not _fast.plain_context(ctx, shape)):
        return None
    comp = _fast.compile_contract(contract, ctx)
    if comp is None:
        return None
    comp.truncates = False  # settle() takes the benchmark it is given as already truncated
    if out is not None:
        if any(k not in _fast.VARIABLES or v.shape != tuple(shape) or not v.flags.c_contiguous
               for k, v in out.items()):
            return None
        names = list(out)
    else:
        names = _variable_names(variables)
    check = dict(ctx)
    prepare(check.pop("benchmark"), check.pop("expenditure"), check)  # numpy's checks, once
    if out is None:
        full = {k: np.zeros((1,) + tuple(shape), dtype=bool if k in _FLAGS else float)
                for k in names}
    else:
        full = {k: v[None] for k, v in out.items()}
        for k, v in out.items():
            if comp.zero[k]:
                v[...] = 0  # the kernel leaves components that are zero by construction alone
    _fast.settle_into([comp], ctx, shape, full, num_threads())
    return {k: v[0] for k, v in full.items()}


def _chunk(ctx: dict[str, Any], a: int, b: int, n: int) -> dict[str, Any]:
    """Rows a:b of every (scenario, year) array in a settle() context (dicts of arrays too)."""
    if a == 0 and b >= n:
        return ctx

    def cut(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: cut(x) for k, x in v.items()}
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n:
            return v[a:b]
        return v

    return {k: cut(v) for k, v in ctx.items()}


def _truncated_benchmark(contract: Any, ctx: dict[str, Any]) -> np.ndarray:
    """The engine's benchmark, truncated as the contract's truncating stop-loss demands.

    The engine's benchmark is untruncated expected cost; a program that truncates member costs
    at t builds its benchmark on truncated costs too. Each year's benchmark is scaled by
    1 - E[excess above t] / E[cost], expectations taken over scenarios. With per-cohort
    attachments the excess is the sum over cohorts of each cohort's excess at its own
    attachment (the same entry the stop-loss settles on).
    """
    bench = ctx["benchmark"]
    for sl in _stop_losses(contract):
        if getattr(sl, "truncates_benchmark", False):
            key = sl.attachment
            exc = next((v for k, v in (ctx.get("excess") or {}).items() if _same_key(k, key)),
                       None)
            if exc is None:
                what = _field(key) if isinstance(key, tuple) else f"threshold {key:g}"
                raise VbsimInputError(
                    f"the context has no excess at {what}, which truncates the benchmark; "
                    "build it with settlement_context(paths, contracts=[...]) from paths "
                    "simulated with the contract's thresholds")
            share = exc.mean(axis=0, keepdims=True) / ctx["expenditure"].mean(axis=0,
                                                                              keepdims=True)
            bench = bench * (1.0 - share)
    return bench


def _stop_losses(contract: Any) -> tuple[Any, ...]:
    sl = getattr(contract, "stop_loss", None)
    if sl is None:
        return ()
    return tuple(sl) if isinstance(sl, (tuple, list)) else (sl,)


def _excess_keys(contract: Any) -> list[Any]:
    """The ``excess`` keys a contract reads: its individual stop-losses' attachments (floats
    or per-cohort tuples), or for any other object its ``thresholds``."""
    if hasattr(contract, "stop_loss") and hasattr(contract, "sharing"):
        return [sl.attachment for sl in _stop_losses(contract) if hasattr(sl, "thresholds")]
    return [float(t) for t in getattr(contract, "thresholds", ())]


def assigned_beneficiaries(paths: xr.Dataset) -> np.ndarray:
    """Beneficiaries assigned in each (scenario, year): a headcount, array (scenario, year).

    Every member present at some point in the year counts once (``members_start`` summed over
    cohorts), including those who die or leave during it, as in MSSP assignment; the MSR size
    table is keyed on this count [C, DOMAIN.md s.2]. Person-years (``member_months / 12``) run
    below it by about half the exit rate (~7% with the default deaths and churn); they are
    the fallback for paths without ``members_start``.

    >>> import vbsim
    >>> pop = vbsim.Population([vbsim.Cohort("a", 1000, vbsim.costs.Lognormal(mean=1e4, cv=1))])
    >>> paths = vbsim.simulate(pop, n_scenarios=2, years=2, seed=1, progress=False)
    >>> assigned_beneficiaries(paths).tolist()
    [[1000.0, 1000.0], [1000.0, 1000.0]]
    """
    if "members_start" in paths:
        return paths["members_start"].sum("cohort").transpose("scenario", "year").values
    return paths["member_months"].sum("cohort").transpose("scenario", "year").values / 12.0


def context_for(contract: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """The settle() context for one contract, from :func:`settlement_context`'s arrays.

    Keeps only the excess thresholds the contract asked for, and truncates the benchmark where
    the contract truncates member costs (see :func:`_truncated_benchmark`).

    >>> context_for(object(), {"benchmark": 1.0})
    {'benchmark': 1.0}
    """
    return _ctx_for(contract, ctx)


def _ctx_for(contract: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """Pass only the excess thresholds this contract asked for (keeps the records small)."""
    out = dict(ctx)
    if any(getattr(s, "truncates_benchmark", False) for s in _stop_losses(contract)):
        out["benchmark"] = _truncated_benchmark(contract, ctx)
        out["payer_benchmark"] = ctx["benchmark"]  # the payer still pays every claim
    need = _excess_keys(contract)
    for key in ("excess", "expected_excess"):
        if key in ctx:
            out[key] = {t: v for t, v in ctx[key].items()
                        if any(_same_key(t, n) for n in need)}
            if not out[key]:
                del out[key]
    return out
