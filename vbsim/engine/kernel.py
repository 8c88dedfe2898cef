"""The numba kernel: parallel over scenarios, members streamed in cache-sized blocks.

For each scenario (one thread runs a whole scenario), each cohort and each block of
``block_size`` members, the kernel loops over years inside the block, keeping the members'
latent rank ``z``, risk score ``r`` and occupancy in three block-sized arrays. Reductions are
added member by member, in member order, straight into the scenario's accumulators, so the
floating-point sums (not only the draws) are identical whatever the block size or the number of
threads. Memory: the outputs (scenarios x years x cohorts x (statistics + thresholds)) plus three
``block_size`` arrays per running scenario; nothing scales with members x scenarios.

The model and the statistics are those of :mod:`vbsim.engine.reference` (the specification).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from vbsim.engine.rng import (
    CLAIM,
    EXIT,
    LATENT,
    P_HIGH,
    P_LOW,
    REPLACE,
    RISK,
    fexp_nb,
    key_nb,
    mix_nb,
    ninv_central_nb,
    ninv_nb,
    ninv_tail_nb,
    phi_nb,
    sf_nb,
    unit_nb,
    word_nb,
)

_G = np.uint64(0x9E3779B97F4A7C15)

# statistics columns (vbsim.engine.STATS)
MM, COST, RISK_MM, DEATHS, START, NEW, LEAVERS = range(7)
N_STATS = 7
#: Members per summation group; block sizes must be multiples of it.
GROUP = 64


@njit(cache=True, inline="always", nogil=True)
def member_cost(fam: int, p: np.ndarray, z: float, kc: np.uint64, i: int) -> float:
    """Annual cost of a risk-1 member with latent rank ``z`` (see docs/engine.md)."""
    if fam == 0:  # Lognormal: exp(mu + sigma z)
        return math.exp(p[0] + p[1] * z)
    if fam == 1:  # Spliced: zero mass, lognormal body, GPD tail
        if z < p[7]:
            return 0.0
        sp = sf_nb(z) / (1.0 - p[0])  # survival within the positive part
        if sp < p[3]:
            w = sp / p[3]
            if p[6] == 0.0:
                return p[4] - p[5] * math.log(w)
            return p[4] + p[5] / p[6] * (w ** (-p[6]) - 1.0)
        if p[0] == 0.0:
            return math.exp(p[1] + p[2] * z)
        return math.exp(p[1] + p[2] * ninv_nb(1.0 - sp))
    # CompoundPoisson: count = Poisson quantile of Phi(z), lognormal claims
    u = phi_nb(z)
    pk = math.exp(-p[0])
    cum = pk
    n = 0
    while u > cum and pk > 0.0:
        n += 1
        pk *= p[0] / n
        cum += pk
    tot = 0.0
    if n > 0:
        h = word_nb(kc, i)
        for k in range(n):
            w = mix_nb(h + np.uint64(k + 1) * _G)
            tot += math.exp(p[1] + p[2] * ninv_nb(unit_nb(w)))
    return tot


@njit(cache=True, nogil=True)
def simulate_block(seed, first, n_scen, years, members, family, params, risk_sd, rho,
                   mortality, uplift, churn, replacement, trend_index, thresholds, block_size,
                   stats, excess):
    """Fill ``stats[s, t, c, :]`` and ``excess[s, t, c, k]`` for scenarios first..first+n-1.

    ``stats`` and ``excess`` (zeroed) and ``trend_index`` have ``n_scen`` rows. Serial and
    ``nogil``: :func:`vbsim.simulate.simulate` runs blocks of scenarios on a thread pool.
    One thread runs a whole scenario, so the order of every sum is fixed whatever the
    number of threads.
    """
    for sl in range(n_scen):
        scenario_kernel(seed, first + sl, sl, years, members, family, params, risk_sd, rho,
                        mortality, uplift, churn, replacement, trend_index, thresholds,
                        block_size, stats, excess)


@njit(parallel=True, cache=True)
def simulate_chunk(seed, first, n_scen, years, members, family, params, risk_sd, rho,
                   mortality, uplift, churn, replacement, trend_index, thresholds, block_size,
                   stats, excess):
    """Same as :func:`simulate_block` with numba's ``prange`` over scenarios.

    Kept for comparison (``benchmarks/engine.py --prange``): on the machines measured, the
    same per-scenario code ran about 2x slower per thread inside a numba parallel region than
    when called from a thread pool, so :func:`vbsim.simulate.simulate` uses the pool.
    """
    for sl in prange(n_scen):
        scenario_kernel(seed, first + sl, sl, years, members, family, params, risk_sd, rho,
                        mortality, uplift, churn, replacement, trend_index, thresholds,
                        block_size, stats, excess)


@njit(cache=True, nogil=True)
def scenario_kernel(seed, s, sl, years, members, family, params, risk_sd, rho, mortality,
                    uplift, churn, replacement, trend_index, thresholds, block_size, stats,
                    excess):
    """One scenario ``s`` (row ``sl`` of the chunk's outputs).

    Serial, so LLVM optimises it fully (code inside a parfor body is not vectorised).
    Inside a block-year the work is split into passes so that LLVM vectorises the
    arithmetic ones (uniforms, central inverse normal, latent update, lognormal cost); the
    rare branches (normal tails, new members) and the in-order reductions are scalar passes.
    """
    n_coh = members.size
    n_thr = thresholds.size
    useed = np.uint64(seed)
    z = np.empty(block_size)
    r = np.empty(block_size)
    mort = np.empty(block_size)
    occ = np.empty(block_size, np.int8)  # 0 empty, 1 occupied, 2 to be filled
    ul = np.empty(block_size)
    ux = np.empty(block_size)
    e = np.empty(block_size)
    x = np.empty(block_size)
    xf = np.empty(block_size)
    imort = np.empty(block_size)
    mmv = np.empty(block_size)
    for c in range(n_coh):
        n = members[c]
        fam = family[c]
        p = params[c]
        sr = risk_sd[c]
        rc = rho[c]
        ac = math.sqrt(1.0 - rc * rc)
        mc, uc, cc, rep = mortality[c], uplift[c], churn[c], replacement[c]
        cap = 1.0 - cc
        icc = 1.0 / cc if cc > 0.0 else 0.0
        for b0 in range(0, n, block_size):
            nb = min(block_size, n - b0)
            for j in range(nb):
                occ[j] = 2
            for t in range(years):
                kl = key_nb(useed, s, t + 1, c, LATENT)
                ke = key_nb(useed, s, t + 1, c, EXIT)
                kr = key_nb(useed, s, t + 1, c, RISK)
                kc = key_nb(useed, s, t + 1, c, CLAIM)
                kp = key_nb(useed, s, t + 1, c, REPLACE)
                tr = trend_index[sl, t]
                # pass 1 (vector): uniforms for the latent innovation and the exit
                for j in range(nb):
                    ul[j] = unit_nb(word_nb(kl, b0 + j))
                    ux[j] = unit_nb(word_nb(ke, b0 + j))
                # pass 2 (vector): central inverse normal for every member
                for j in range(nb):
                    e[j] = ninv_central_nb(ul[j])
                # pass 3 (scalar, ~5% + entrants): normal tails; new members' risk score
                for j in range(nb):
                    u = ul[j]
                    if u < P_LOW or u > P_HIGH:
                        e[j] = ninv_tail_nb(u)
                    if occ[j] == 2:
                        rj = math.exp(sr * ninv_nb(unit_nb(word_nb(kr, b0 + j)))
                                      - 0.5 * sr * sr)
                        r[j] = rj
                        mj = min(mc * rj, cap)
                        mort[j] = mj
                        imort[j] = 1.0 / mj if mj > 0.0 else 0.0
                        z[j] = 0.0
                # pass 4 (vector): latent AR(1); a new member starts at its innovation
                for j in range(nb):
                    zj = rc * z[j] + ac * e[j]
                    z[j] = e[j] if occ[j] == 2 else zj
                # pass 5: cost of a full year (vector for the lognormal family)
                if fam == 0:
                    scale = math.exp(p[0]) * tr
                    s1 = p[1]
                    for j in range(nb):
                        x[j] = fexp_nb(s1 * z[j]) * (r[j] * scale)
                else:
                    for j in range(nb):
                        x[j] = member_cost(fam, p, z[j], kc, b0 + j) * (r[j] * tr)
                # pass 6 (branch-free): exits; final cost xf and member-months mmv per slot
                # (f = U / m and (U - m) / churn, computed with reciprocals)
                n_dead = 0
                n_left = 0
                n_start = 0
                n_new = 0
                for j in range(nb):
                    o = occ[j]
                    act = o != 0
                    ue = ux[j]
                    mj = mort[j]
                    dead = act & (ue < mj)
                    left = act & (ue >= mj) & (ue < mj + cc)
                    f = ue * imort[j] if dead else ((ue - mj) * icc if left else 1.0)
                    xj = x[j] * (uc if dead else f)
                    xf[j] = xj if act else 0.0
                    mmv[j] = 12.0 * f if act else 0.0
                    n_dead += dead
                    n_left += left
                    n_start += act
                    n_new += o == 2
                    occ[j] = (2 if (dead | left) else 1) if act else 0
                if rep < 1.0:  # an exit is refilled next year with probability rep
                    for j in range(nb):
                        if occ[j] == 2 and unit_nb(word_nb(kp, b0 + j)) >= rep:
                            occ[j] = 0
                a_dead = float(n_dead)
                a_left = float(n_left)
                a_start = float(n_start)
                a_new = float(n_new) if t > 0 else 0.0
                # pass 7: sums over members in fixed groups of GROUP (aligned on member
                # index, zero-padded), 4 interleaved lanes each: the order of additions
                # depends only on member indices, never on block size or threads
                ng = (nb + GROUP - 1) // GROUP * GROUP
                for j in range(nb, ng):
                    xf[j] = 0.0
                    mmv[j] = 0.0
                    r[j] = 0.0  # padding slots hold no member (np.empty may hold NaN)
                a_mm = stats[sl, t, c, MM]
                a_cost = stats[sl, t, c, COST]
                a_rmm = stats[sl, t, c, RISK_MM]
                for g0 in range(0, ng, GROUP):
                    c0 = c1 = c2 = c3 = 0.0
                    m0 = m1 = m2 = m3 = 0.0
                    q0 = q1 = q2 = q3 = 0.0
                    for j in range(g0, g0 + GROUP, 4):
                        c0 += xf[j]
                        c1 += xf[j + 1]
                        c2 += xf[j + 2]
                        c3 += xf[j + 3]
                        m0 += mmv[j]
                        m1 += mmv[j + 1]
                        m2 += mmv[j + 2]
                        m3 += mmv[j + 3]
                        q0 += r[j] * mmv[j]
                        q1 += r[j + 1] * mmv[j + 1]
                        q2 += r[j + 2] * mmv[j + 2]
                        q3 += r[j + 3] * mmv[j + 3]
                    a_cost += (c0 + c1) + (c2 + c3)
                    a_mm += (m0 + m1) + (m2 + m3)
                    a_rmm += (q0 + q1) + (q2 + q3)
                for k in range(n_thr):
                    tk = thresholds[k]
                    a_exc = excess[sl, t, c, k]
                    for g0 in range(0, ng, GROUP):
                        c0 = c1 = c2 = c3 = 0.0
                        for j in range(g0, g0 + GROUP, 4):
                            c0 += max(xf[j] - tk, 0.0)
                            c1 += max(xf[j + 1] - tk, 0.0)
                            c2 += max(xf[j + 2] - tk, 0.0)
                            c3 += max(xf[j + 3] - tk, 0.0)
                        a_exc += (c0 + c1) + (c2 + c3)
                    excess[sl, t, c, k] = a_exc
                a_dead += stats[sl, t, c, DEATHS]
                a_start += stats[sl, t, c, START]
                a_new += stats[sl, t, c, NEW]
                a_left += stats[sl, t, c, LEAVERS]
                stats[sl, t, c, MM] = a_mm
                stats[sl, t, c, COST] = a_cost
                stats[sl, t, c, RISK_MM] = a_rmm
                stats[sl, t, c, DEATHS] = a_dead
                stats[sl, t, c, START] = a_start
                stats[sl, t, c, NEW] = a_new
                stats[sl, t, c, LEAVERS] = a_left
