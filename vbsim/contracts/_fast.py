"""Fused settlement kernel: the :class:`~vbsim.contracts.Contract` pipeline for many contracts in
one pass over the (scenario, year) grid.

:meth:`Contract.settle` (numpy, ``base.py``) is the executable specification; this module is its
fast twin for :func:`vbsim.evaluate`. Each supported contract is compiled to a row of parameters
(:func:`compile_contract`); one numba kernel (``nogil``, run on a thread pool over blocks of
scenarios) walks cache-sized blocks of scenarios and, inside each block, every contract, and
writes only the requested settlement components. Components that are zero by construction for a
contract (no discount, no withhold, no stop-loss, ...) are not written at all: the outputs are
allocated zeroed (``np.zeros`` maps fresh zero pages), so they cost neither bandwidth nor page
faults. Every operation is the numpy pipeline's, in the same order, so results agree bit for bit
(tests/contracts/test_fast.py compares both on random inputs).

Supported: the discount; a quality withhold (benchmark or payment); at most one individual
stop-loss (coinsurance, per-member-month or loaded premium, truncation of the benchmark); shared
savings, two-sided risk (fixed or quality-dependent loss rate, MSR/MLR fixed or from the size
table, loss limits, relief), corridors and bundles; a quality gate; pay-for-performance;
PMPM capitation. Anything else (aggregate stop-loss, several stop-losses, a per-cohort
attachment, case rates, subclasses, DataArray context, a context entry a term needs but that is
missing) returns ``None`` from :func:`compile_contract`, and :func:`vbsim.evaluate` settles that
contract with numpy instead, which raises the usual errors.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from . import _fast_kernel as K
from .base import Contract
from .capitation import Capitation
from .corridors import Corridors
from .episodes import Bundle
from .quality import PayForPerformance, QualityGate, QualityWithhold
from .settlement import FLAGS, Settlement
from .shared_savings import QualityLossRate, SharedSavings, TwoSidedRisk
from .stoploss import IndividualStopLoss

#: Settlement components in record order; the kernel's outputs, floats then flags.
VARIABLES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Settlement))
FLOAT_VARIABLES: tuple[str, ...] = tuple(v for v in VARIABLES if v not in FLAGS)
FLAG_VARIABLES: tuple[str, ...] = tuple(v for v in VARIABLES if v in FLAGS)


@dataclasses.dataclass
class Compiled:
    """One contract as kernel parameters (see :func:`compile_contract`).

    >>> from vbsim.presets import mssp
    >>> c = compile_contract(mssp("E", msr=0.02), {"benchmark": 1.0, "expenditure": 1.0})
    >>> int(c.params[K.P_SH_KIND]) == K.SH_TWO_SIDED, c.threshold, c.zero["discount"]
    (True, None, True)
    """

    params: np.ndarray
    bands: np.ndarray  # (2, K.MAX_BANDS, 3): savings, losses bands (lower, upper, share)
    p4p: np.ndarray  # (2, K.MAX_P4P + 1): thresholds, amounts
    threshold: Any  # key of ctx["excess"] the stop-loss reads, or None
    truncates: bool  # the benchmark is truncated at the stop-loss attachment
    zero: dict[str, bool]  # components that are zero (or False) by construction


def _present(ctx: dict[str, Any], name: str) -> bool:
    return ctx.get(name) is not None


def _lookup(mapping: Any, key: float) -> Any:
    """The key of ``mapping`` that Context.lookup would pick for ``key``, or None."""
    if not isinstance(mapping, dict):
        return None
    for k in mapping:
        if k == key or (isinstance(k, (int, float)) and math.isclose(float(k), float(key),
                                                                     rel_tol=1e-12)):
            return k
    return None


def compile_contract(contract: Any, ctx: dict[str, Any]) -> Compiled | None:
    """Kernel parameters for ``contract`` settled on context ``ctx``, or None (numpy path).

    None whenever the contract uses a term the kernel lacks, or needs a context entry ``ctx``
    does not hold (the numpy path then raises the usual error).

    >>> from vbsim.contracts import Contract, AggregateStopLoss
    >>> compile_contract(Contract("x", stop_loss=AggregateStopLoss(1.1)), {}) is None
    True
    """
    if type(contract) is not Contract:
        return None
    p = np.zeros(K.N_PARAMS)
    bands = np.zeros((2, K.MAX_BANDS, 3))
    p4p = np.zeros((2, K.MAX_P4P + 1))
    has_q = _present(ctx, "quality_score")
    has_mm = _present(ctx, "member_months")
    zero = {v: False for v in VARIABLES}
    p[K.P_DISCOUNT], p[K.P_SEQ] = contract.discount, contract.sequestration
    zero["discount"] = contract.discount == 0.0
    # quality withhold
    w = contract.quality
    if w is None:
        zero["withhold"] = zero["withhold_earned"] = True
    elif type(w) is QualityWithhold and has_q:
        p[K.P_WH_KIND] = 1.0 if w.applies_to == "benchmark" else 2.0
        p[K.P_WH_RATE], p[K.P_WH_FLOOR] = w.rate, w.floor
    else:
        return None
    # stop-loss: none or one individual stop-loss
    sls = contract.stop_loss or ()
    threshold, truncates = None, False
    zero["stop_loss_premium"] = True
    if not sls:
        zero["stop_loss_recoveries"] = zero["stop_loss_hit"] = True
    elif (len(sls) == 1 and type(sls[0]) is IndividualStopLoss
          and not isinstance(sls[0].attachment, tuple)):  # per-cohort attachments: numpy path
        sl = sls[0]
        threshold = _lookup(ctx.get("excess"), sl.attachment)
        if threshold is None:
            return None
        truncates = sl.truncates_benchmark
        p[K.P_SL], p[K.P_SL_COINS], p[K.P_SL_TRUNC] = 1.0, sl.coinsurance, float(truncates)
        if sl.premium_load is not None:
            if _lookup(ctx.get("expected_excess"), sl.attachment) is None:
                return None
            p[K.P_SL_PREM_KIND], p[K.P_SL_PREM] = 1.0, sl.premium_load
            zero["stop_loss_premium"] = False
        elif sl.premium_pmpm:
            if not has_mm:
                return None
            p[K.P_SL_PREM_KIND], p[K.P_SL_PREM] = 2.0, sl.premium_pmpm
            zero["stop_loss_premium"] = False
    else:
        return None
    # sharing rule
    sh = contract.sharing
    zero["relief"] = zero["quality_adjustment"] = True
    if sh is None:
        p[K.P_SH_KIND] = K.SH_NONE
        for v in ("gate_met", "shared_before_cap", "sequestration", "shared_after_cap",
                  "cap_hit"):
            zero[v] = True
    elif type(sh) in (SharedSavings, TwoSidedRisk):
        two = type(sh) is TwoSidedRisk
        p[K.P_SH_KIND] = K.SH_TWO_SIDED if two else K.SH_SHARED
        if sh.scale_by_quality and not has_q:
            return None
        p[K.P_RATE], p[K.P_SBQ] = sh.rate, float(sh.scale_by_quality)
        if not _rate_slot(p, K.P_MSR, K.P_MSR_TAB, sh.msr, ctx):
            return None
        p[K.P_HAS_CAP] = float(sh.cap is not None)
        p[K.P_CAP] = 0.0 if sh.cap is None else sh.cap
        zero["cap_hit"] = sh.cap is None and not two
        if two:
            mlr = sh.msr if sh.mlr is None else sh.mlr
            if not _rate_slot(p, K.P_MLR, K.P_MLR_TAB, mlr, ctx):
                return None
            lr = sh.loss_rate
            if isinstance(lr, QualityLossRate):
                if type(lr) is not QualityLossRate or not has_q:
                    return None
                p[K.P_LR_KIND], p[K.P_LR_SLOPE] = 1.0, lr.slope
                p[K.P_LR_FLOOR], p[K.P_LR_CEIL] = lr.floor, lr.ceiling
            else:
                p[K.P_LR] = lr
            zero["relief"] = not _present(ctx, "relief")
            for has, val, limit in ((K.P_HAS_LLB, K.P_LLB, sh.loss_limit_benchmark),
                                    (K.P_HAS_LLR, K.P_LLR, sh.loss_limit_revenue)):
                p[has] = float(limit is not None)
                p[val] = 0.0 if limit is None else limit
            if not _present(ctx, "revenue"):
                p[K.P_HAS_LLR] = 0.0  # without revenue only the benchmark limit applies
    elif type(sh) is Corridors:
        p[K.P_SH_KIND] = K.SH_CORRIDORS
        losses = sh.bands_savings if sh.bands_losses is None else sh.bands_losses
        if max(len(sh.bands_savings), len(losses)) > K.MAX_BANDS:
            return None
        for side, bs in enumerate((sh.bands_savings, losses)):
            bands[side, :, 0] = np.nan  # marks unused slots
            bands[side, :len(bs)] = bs
        p[K.P_HAS_SCAP], p[K.P_SCAP] = float(sh.savings_cap is not None), sh.savings_cap or 0.0
        p[K.P_HAS_LL], p[K.P_LL] = float(sh.loss_limit is not None), sh.loss_limit or 0.0
        zero["cap_hit"] = sh.savings_cap is None and sh.loss_limit is None
    elif type(sh) is Bundle:
        p[K.P_SH_KIND] = K.SH_BUNDLE
        if sh.quality_adjustment and not has_q:
            return None
        p[K.P_HAS_SG], p[K.P_SG] = float(sh.stop_gain is not None), sh.stop_gain or 0.0
        p[K.P_HAS_SLB], p[K.P_SLB] = float(sh.stop_loss is not None), sh.stop_loss or 0.0
        p[K.P_QADJ] = sh.quality_adjustment
        zero["quality_adjustment"] = not sh.quality_adjustment
    else:
        return None
    # quality gate
    g = contract.quality_gate
    if g is not None:
        if type(g) is not QualityGate or (g.min_score > 0 and not has_q):
            return None
        p[K.P_GATE], p[K.P_GATE_REQ], p[K.P_GATE_MIN] = 1.0, float(g.require_standard), g.min_score
    # pay for performance
    f = contract.p4p
    zero["p4p"] = f is None
    if f is not None:
        if (type(f) is not PayForPerformance or not has_q or len(f.thresholds) > K.MAX_P4P
                or (f.basis == "pmpm" and not has_mm)):
            return None
        p[K.P_P4P], p[K.P_P4P_PMPM], p[K.P_P4P_N] = 1.0, float(f.basis == "pmpm"), len(f.thresholds)
        p4p[0, :len(f.thresholds)] = f.thresholds
        p4p[1, :len(f.amounts)] = f.amounts
    # capitation
    cap = contract.capitation
    zero["capitation"] = zero["covered_spend"] = cap is None
    if cap is not None:
        if (type(cap) is not Capitation or not has_mm
                or (cap.risk_adjusted and not _present(ctx, "risk_score"))
                or (cap.withhold and not has_q)):
            return None
        p[K.P_CAPIT], p[K.P_PMPM], p[K.P_RISK_ADJ] = 1.0, cap.pmpm, float(cap.risk_adjusted)
        p[K.P_CAPWH], p[K.P_COVSH] = cap.withhold, cap.covered_share
    return Compiled(p, bands, p4p, threshold, truncates, zero)


def _rate_slot(p: np.ndarray, val: int, tab: int, rate: Any, ctx: dict[str, Any]) -> bool:
    if isinstance(rate, str):  # "table": the size table, from assigned_beneficiaries
        p[tab] = 1.0
        return _present(ctx, "assigned_beneficiaries")
    p[val] = rate
    return True


def plain_context(ctx: dict[str, Any], shape: tuple[int, int]) -> bool:
    """Whether every context entry is a number, a bool or an array broadcasting to ``shape``
    (no DataArrays, no odd objects): the kernel's precondition.

    >>> plain_context({"benchmark": np.ones((2, 3)), "relief": 0.0}, (2, 3))
    True
    """
    def ok(v: Any) -> bool:
        if v is None or isinstance(v, (bool, int, float, np.number, np.bool_)):
            return True
        if isinstance(v, dict):
            return all(ok(x) for x in v.values())
        if type(v) is not np.ndarray:
            return False
        try:
            np.broadcast_shapes(v.shape, shape)
        except ValueError:
            return False
        return np.broadcast_shapes(v.shape, shape) == shape

    return all(ok(v) for v in ctx.values())


def _read_only(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


def settle_into(
    compiled: list[Compiled],
    ctx: dict[str, Any],
    shape: tuple[int, int],
    out: dict[str, np.ndarray],
    threads: int = 1,
    rows: Any = None,
    block_cells: int | None = None,
) -> None:
    """Settle the compiled contracts on context ``ctx`` into ``out[variable][rows[k]]``.

    ``out`` maps requested variables to zero-filled C-contiguous arrays of shape
    (contracts,) + shape; ``rows[k]`` (default k) is where compiled contract k goes.
    Components zero by construction for a contract are left untouched. The kernel runs on
    ``threads`` threads over blocks of cells.

    >>> from vbsim.presets import mssp
    >>> ctx = {"benchmark": np.full((3, 2), 100.0), "expenditure": np.full((3, 2), 96.0)}
    >>> cc = [compile_contract(mssp("E", msr=0.0), ctx)]
    >>> out = {"payment": np.zeros((1, 3, 2))}
    >>> settle_into(cc, ctx, (3, 2), out)
    >>> out["payment"][0].tolist()[0]  # 50% x 4 x 0.98 each year
    [1.96, 1.96]
    """
    nc, cells = len(compiled), shape[0] * shape[1]
    if nc == 0 or cells == 0:
        return
    for v, a in out.items():
        if a.shape[1:] != tuple(shape) or not a.flags.c_contiguous:
            raise ValueError(f"out[{v!r}] must be a C-contiguous array of shape (contracts,) "
                             f"+ {tuple(shape)}; got shape {a.shape}")

    def flat(v: Any, dtype: Any = float) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=dtype), shape)).ravel()

    dummy = np.zeros(1)
    inputs = []
    for name in K.INPUTS:
        if name == "msr_table":
            if any(c.params[K.P_MSR_TAB] or c.params[K.P_MLR_TAB] for c in compiled):
                from .shared_savings import msr_from_table

                inputs.append(flat(msr_from_table(ctx["assigned_beneficiaries"])))
            else:
                inputs.append(dummy)
        else:
            inputs.append(flat(ctx[name]) if _present(ctx, name) else dummy)
    has = np.array([_present(ctx, name) for name in K.INPUTS], dtype=np.bool_)
    qmet = (flat(ctx["quality_standard_met"], np.bool_)
            if _present(ctx, "quality_standard_met") else np.ones(cells, np.bool_))
    # Benchmarks: the context's, and for each truncating stop-loss the truncated one, computed
    # as evaluate._truncated_benchmark does (1 - E[excess above t] / E[cost], per year).
    benches = [flat(ctx["benchmark"])]
    bidx = np.zeros(nc, np.int64)
    keys: list[Any] = []
    for c in compiled:
        if c.threshold is not None and c.threshold not in keys:
            keys.append(c.threshold)
    tidx = np.array([0 if c.threshold is None else keys.index(c.threshold)
                     for c in compiled], dtype=np.int64)
    for i, c in enumerate(compiled):
        if c.truncates:
            t = float(c.threshold)
            exc = next(v for k, v in ctx["excess"].items() if math.isclose(k, t))
            share = exc.mean(axis=0, keepdims=True) / ctx["expenditure"].mean(axis=0,
                                                                              keepdims=True)
            bidx[i] = len(benches)
            benches.append(flat(ctx["benchmark"] * (1.0 - share)))
    bench = np.concatenate(benches)
    # Stop-loss excess (and expected excess) per threshold the contracts read, end to end.
    if keys:
        ee = ctx.get("expected_excess") or {}
        exc = np.concatenate([flat(ctx["excess"][k]) for k in keys])
        eexc = np.concatenate([flat(ee[_lookup(ee, k)]) if _lookup(ee, k) is not None
                               else np.zeros(cells) for k in keys])
    else:
        exc = eexc = dummy
    rows = np.arange(nc) if rows is None else np.asarray(rows, dtype=np.int64)
    params = np.stack([c.params for c in compiled])
    bands = np.stack([c.bands for c in compiled])
    p4p = np.stack([c.p4p for c in compiled])
    write = np.array([[v in out and not c.zero[v] for v in VARIABLES] for c in compiled],
                     dtype=np.bool_).reshape(nc, len(VARIABLES))
    outs_f = tuple(out[v].reshape(-1) if v in out else dummy for v in FLOAT_VARIABLES)
    outs_b = tuple(out[v].reshape(-1) if v in out else np.zeros(1, np.bool_)
                   for v in FLAG_VARIABLES)
    blk = 512  # cells per block: the block's inputs stay in L1/L2 while every contract reads them
    if block_cells is None:
        block_cells = max(blk, -(-cells // max(1, 4 * threads) // blk) * blk)
    starts = list(range(0, cells, block_cells))
    expd = flat(ctx["expenditure"])
    inputs_t = tuple(inputs)

    # Inputs as read-only views: one kernel signature whatever the callers' arrays (numba
    # compiles, and caches, one specialisation per combination of writeable flags).
    ro = [_read_only(x) for x in (bench, bidx, expd, qmet, has, exc, eexc, tidx, params, bands,
                                  p4p, rows, write)]
    bench, bidx, expd, qmet, has, exc, eexc, tidx, params, bands, p4p, rows, write = ro
    inputs_t = tuple(_read_only(x) for x in inputs_t)

    def run(a: int) -> None:
        K._kernel(a, min(cells, a + block_cells), blk, cells, bench, bidx, expd, qmet,
                  inputs_t, has, exc, eexc, tidx, params, bands, p4p, rows, write, outs_f,
                  outs_b)

    if threads > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(run, starts))
    else:
        for a in starts:
            run(a)
