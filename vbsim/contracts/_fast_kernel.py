"""The numba kernel behind :mod:`vbsim.contracts._fast`: the Contract pipeline for one cell.

Every operation mirrors ``Contract._pipeline`` (base.py) and its terms, in the same order, so
that results agree bit for bit with the numpy path. Parameter slots (``P_*``) and input slots
(``INPUTS``) are filled by :func:`vbsim.contracts._fast.compile_contract`.

>>> N_PARAMS, INPUTS[0]
(48, 'quality_score')
"""

from __future__ import annotations

import numba
import numpy as np

from ._term import GATE_EPS

# Context arrays the kernel reads, in the order of its ``inputs`` argument.
INPUTS = ("quality_score", "member_months", "revenue", "relief", "risk_score", "covered_spend",
          "covered_share", "msr_table", "payer_benchmark")
_IQ, _IMM, _IREV, _IREL, _IRISK, _ICOVSP, _ICOVSH, _IMSR, _IPB = range(len(INPUTS))

# Parameter slots of one compiled contract (a float64 row).
(P_DISCOUNT, P_SEQ,
 P_WH_KIND, P_WH_RATE, P_WH_FLOOR,
 P_SL, P_SL_COINS, P_SL_PREM_KIND, P_SL_PREM, P_SL_TRUNC,
 P_SH_KIND, P_RATE, P_SBQ, P_MSR, P_MSR_TAB, P_HAS_CAP, P_CAP,
 P_MLR, P_MLR_TAB, P_LR_KIND, P_LR, P_LR_SLOPE, P_LR_FLOOR, P_LR_CEIL,
 P_HAS_LLB, P_LLB, P_HAS_LLR, P_LLR,
 P_HAS_SCAP, P_SCAP, P_HAS_LL, P_LL,
 P_HAS_SG, P_SG, P_HAS_SLB, P_SLB, P_QADJ,
 P_GATE, P_GATE_REQ, P_GATE_MIN,
 P_P4P, P_P4P_PMPM, P_P4P_N,
 P_CAPIT, P_PMPM, P_RISK_ADJ, P_CAPWH, P_COVSH,
 N_PARAMS) = range(49)
SH_NONE, SH_SHARED, SH_TWO_SIDED, SH_CORRIDORS, SH_BUNDLE = range(5)
MAX_BANDS = 8  # corridor bands per side (REACH has 4); more: numpy path
MAX_P4P = 8  # pay-for-performance thresholds; more: numpy path
N_COMPONENTS = 26  # Settlement fields: 22 amounts, then 4 flags


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _marginal(x: float, bands: np.ndarray, c: int, side: int) -> float:
    """``_term.marginal`` for one value: sum of share x clip(x - lower, 0, upper - lower), on
    the bands ``bands[c, side]`` (unused slots have a NaN lower bound)."""
    total = 0.0
    for k in range(bands.shape[2]):
        lo = bands[c, side, k, 0]
        if np.isnan(lo):
            break
        part = min(max(x - lo, 0.0), bands[c, side, k, 1] - lo)
        total = total + bands[c, side, k, 2] * part
    return total


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _kernel(a, b, blk, n_cells, bench, bidx, expd, qmet, inputs, has, exc, eexc, tidx, params,
            bands, p4p, rows, write, outs, flags):  # pragma: no cover - compiled code
    """Settle flat cells a:b (scenario-major) of every contract, one fused pass per cell.

    Cells go in blocks of ``blk`` (the block's inputs stay in cache while every contract reads
    them). Component k of contract c goes to ``outs[k]`` (amounts, k < 22) or ``flags[k - 22]``
    at ``rows[c] * n_cells + cell`` where ``write[c, k]``. Benchmark of contract c:
    ``bench[bidx[c] * n_cells + cell]``; stop-loss excess: ``exc[tidx[c] * n_cells + cell]``.
    """
    (in_q, in_mm, in_rev, in_rel, in_risk, in_covsp, in_covsh, in_msr, in_pb) = inputs
    (o_b0, o_disc, o_wh, o_whe, o_fb, o_e, o_rec, o_prem, o_cnt, o_g, o_r, o_sbc, o_seq, o_rel,
     o_sac, o_qa, o_pp, o_capit, o_cov, o_pay, o_pn, o_payer) = outs
    f_gate, f_hit, f_slhit, f_ok = flags
    has_q, has_rel, has_sp, has_sh = has[_IQ], has[_IREL], has[_ICOVSP], has[_ICOVSH]
    has_pb = has[_IPB]
    nc = params.shape[0]
    inf = np.inf
    for i0 in range(a, b, blk):
        i1 = min(i0 + blk, b)
        for c in range(nc):
            p = params[c]
            w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12 = write[c, :13]
            w13, w14, w15, w16, w17, w18, w19, w20, w21, w22, w23, w24, w25 = write[c, 13:]
            off = rows[c] * n_cells
            boff = bidx[c] * n_cells
            toff = tidx[c] * n_cells
            d = p[P_DISCOUNT]
            wk = int(p[P_WH_KIND])
            wrate, wfloor = p[P_WH_RATE], p[P_WH_FLOOR]
            sl, keep, trunc = p[P_SL] > 0, 1.0 - p[P_SL_COINS], p[P_SL_TRUNC] > 0
            pk, slp = int(p[P_SL_PREM_KIND]), p[P_SL_PREM]
            kind = int(p[P_SH_KIND])
            msr_tab, msr, mlr_tab, mlr = p[P_MSR_TAB] > 0, p[P_MSR], p[P_MLR_TAB] > 0, p[P_MLR]
            rate, sbq, sq = p[P_RATE], p[P_SBQ] > 0, p[P_SEQ]
            has_cap, cap = p[P_HAS_CAP] > 0, p[P_CAP]
            lrk, lr0 = p[P_LR_KIND] > 0, p[P_LR]
            slope, lfl, lce = p[P_LR_SLOPE], p[P_LR_FLOOR], p[P_LR_CEIL]
            llb, llr, vllb, vllr = p[P_HAS_LLB] > 0, p[P_HAS_LLR] > 0, p[P_LLB], p[P_LLR]
            scap, ll, vscap, vll = p[P_HAS_SCAP] > 0, p[P_HAS_LL] > 0, p[P_SCAP], p[P_LL]
            sg, slb, vsg, vslb = p[P_HAS_SG] > 0, p[P_HAS_SLB] > 0, p[P_SG], p[P_SLB]
            qadj = p[P_QADJ]
            gt_on, req, gmin = p[P_GATE] > 0, p[P_GATE_REQ] > 0, p[P_GATE_MIN]
            p4p_on, nt, pmpm_basis = p[P_P4P] > 0, int(p[P_P4P_N]), p[P_P4P_PMPM] > 0
            capit_on, pmpm, radj = p[P_CAPIT] > 0, p[P_PMPM], p[P_RISK_ADJ] > 0
            cw, csh = p[P_CAPWH], p[P_COVSH]
            for i in range(i0, i1):
                o = off + i
                B0 = bench[boff + i]
                E = expd[i]
                if w0:
                    o_b0[o] = B0
                if w5:
                    o_e[o] = E
                q = in_q[i] if has_q else 1.0
                met = qmet[i]
                # 1. discount, benchmark-type withhold
                disc = B0 * d
                B = B0 - disc
                if w1:
                    o_disc[o] = disc
                wh = 0.0
                whe = 0.0
                if wk > 0:
                    wh = wrate * B
                    whe = wh * (q if q >= wfloor else 0.0)
                    if wk == 1:
                        B = B - wh + whe
                    if w2:
                        o_wh[o] = wh
                    if w3:
                        o_whe[o] = whe
                # 2. stop-loss (recoveries, premiums: 0 + amount, as the numpy sums)
                rec = 0.0
                prem = 0.0
                cnt = E
                if sl:
                    rr = keep * exc[toff + i]
                    cnt = cnt - rr
                    rec = 0.0 + rr
                    if pk == 1:
                        prem = 0.0 + keep * eexc[toff + i] * (1.0 + slp)
                    elif pk == 2:
                        prem = 0.0 + slp * in_mm[i]
                    if w6:
                        o_rec[o] = rec
                    if w7:
                        o_prem[o] = prem
                    if w24:
                        f_slhit[o] = rec > 0
                cnt = cnt + prem
                if w4:
                    o_fb[o] = B
                if w8:
                    o_cnt[o] = cnt
                # 3. gross savings
                G = B - cnt
                r = G / B if B > 0 else 0.0
                if w9:
                    o_g[o] = G
                if w10:
                    o_r[o] = r
                # 4. sharing rule
                gate = False
                hit = False
                sbc = 0.0
                seq = 0.0
                rel = 0.0
                sac = 0.0
                qa = 0.0
                if kind == SH_SHARED or kind == SH_TWO_SIDED:
                    mj = in_msr[i] if msr_tab else msr
                    gate = (G > 0) & (r >= mj - GATE_EPS)
                    rt = rate * q if sbq else rate
                    sbc = G * rt if gate else 0.0
                    seq = sbc * sq
                    sac = sbc - seq
                    if has_cap:
                        ca = cap * B
                        hit = sac > ca
                        sac = min(sac, ca)
                    if kind == SH_TWO_SIDED:
                        mj = in_msr[i] if mlr_tab else mlr
                        lg = (G < 0) & (-r >= mj - GATE_EPS)
                        if lrk:
                            lr = min(max(1.0 - slope * q, lfl), lce)
                            lr = lr if met else lce
                        else:
                            lr = lr0
                        loss = G * lr if lg else 0.0
                        if has_rel:
                            rel = min(in_rel[i], -loss)
                        loss = loss + rel
                        lim = inf
                        if llb:
                            lim = min(lim, vllb * B)
                        if llr:
                            lim = min(lim, vllr * in_rev[i])
                        gate = gate if G >= 0 else lg
                        sbc = sbc + (G * lr if lg else 0.0)
                        sac = sac + max(loss, -lim)
                        hit = hit | (loss < -lim)
                elif kind == SH_CORRIDORS:
                    if r >= 0:
                        ret = _marginal(max(r, 0.0), bands, c, 0)
                    else:
                        ret = -_marginal(max(-r, 0.0), bands, c, 1)
                    sbc = ret * B
                    seq = max(sbc, 0.0) * sq
                    sac = sbc - seq
                    if scap:
                        hit = hit | (sac > vscap * B)
                        sac = min(sac, vscap * B)
                    if ll:
                        hit = hit | (sac < -vll * B)
                        sac = max(sac, -vll * B)
                    gate = True
                elif kind == SH_BUNDLE:
                    seq = max(G, 0.0) * sq
                    net = G - seq
                    hi = vsg * B if sg else inf
                    lo = -vslb * B if slb else -inf
                    lim = min(max(net, lo), hi)
                    hit = (net > hi) | (net < lo)
                    if qadj != 0:
                        f = 1.0 - qadj * (1.0 - q) if lim > 0 else 1.0 - qadj * q
                        qa = lim * f - lim
                    sbc = G
                    sac = lim + qa
                    gate = True
                if w11:
                    o_sbc[o] = sbc
                if w12:
                    o_seq[o] = seq
                if w13:
                    o_rel[o] = rel
                if w15:
                    o_qa[o] = qa
                if w22:
                    f_gate[o] = gate
                if w23:
                    f_hit[o] = hit
                # 5. quality gate, payment withhold, P4P
                ok = True
                if gt_on:
                    if req:
                        ok = met
                    if gmin > 0:
                        ok = ok & (q >= gmin)
                    sac = sac if ok else min(sac, 0.0)
                if w14:
                    o_sac[o] = sac
                if w25:
                    f_ok[o] = ok
                pay = sac
                if wk == 2:
                    pay = pay - wh + whe
                pp = 0.0
                if p4p_on:
                    k = 0
                    while k < nt and p4p[c, 0, k] <= q:
                        k += 1
                    per = p4p[c, 1, k]
                    pp = per * in_mm[i] if pmpm_basis else per * B
                    pay = pay + pp
                    if w16:
                        o_pp[o] = pp
                # 6. capitation
                capit = 0.0
                cov = 0.0
                if capit_on:
                    gross = pmpm * in_mm[i]
                    if radj:
                        gross = gross * in_risk[i]
                    capit = gross * (1.0 - cw) + gross * cw * q if cw != 0 else gross
                    if has_sp:
                        cov = in_covsp[i]
                    elif has_sh:
                        cov = in_covsh[i] * E
                    else:
                        cov = csh * E
                    if w17:
                        o_capit[o] = capit
                    if w18:
                        o_cov[o] = cov
                # 7. nets
                if kind == SH_NONE:
                    pay = pay + capit + rec - prem
                    pn = pay - cov
                else:
                    pn = pay
                if w19:
                    o_pay[o] = pay
                if w20:
                    o_pn[o] = pn
                if w21:
                    # the payer pays every claim: against the untruncated benchmark (as
                    # Contract.settle: given, row 0 when truncated here, or B0 + cost cut off)
                    if has_pb:
                        pb = in_pb[i]
                    elif boff > 0:
                        pb = bench[i]
                    else:
                        pb = B0 + (rec if trunc else 0.0)
                    o_payer[o] = (pb - E) - pn
