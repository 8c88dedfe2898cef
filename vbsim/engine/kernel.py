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
    REPLACE,
    RISK,
    key_nb,
    mix_nb,
    ninv_nb,
    phi_nb,
    sf_nb,
    unit_nb,
    word_nb,
)

_G = np.uint64(0x9E3779B97F4A7C15)

# statistics columns (vbsim.engine.STATS)
MM, COST, RISK_MM, DEATHS, START, NEW, LEAVERS = range(7)
N_STATS = 7


@njit(cache=True, inline="always")
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


@njit(parallel=True, cache=True)
def simulate_chunk(seed, first, n_scen, years, members, family, params, risk_sd, rho,
                   mortality, uplift, churn, replacement, trend_index, thresholds, block_size,
                   stats, excess):
    """Fill ``stats[s, t, c, :]`` and ``excess[s, t, c, k]`` for scenarios first..first+n-1.

    ``stats`` and ``excess`` must be zeroed; ``trend_index`` has shape (n_scen, years).
    """
    n_coh = members.size
    n_thr = thresholds.size
    useed = np.uint64(seed)
    for sl in prange(n_scen):
        s = first + sl
        z = np.empty(block_size)
        r = np.empty(block_size)
        mort = np.empty(block_size)
        occ = np.empty(block_size, np.int8)  # 0 empty, 1 occupied, 2 to be filled
        exc = np.empty(n_thr)
        for c in range(n_coh):
            n = members[c]
            fam = family[c]
            p = params[c]
            sr = risk_sd[c]
            rc = rho[c]
            ac = math.sqrt(1.0 - rc * rc)
            mc, uc, cc, rep = mortality[c], uplift[c], churn[c], replacement[c]
            cap = 1.0 - cc
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
                    a_mm = stats[sl, t, c, MM]
                    a_cost = stats[sl, t, c, COST]
                    a_rmm = stats[sl, t, c, RISK_MM]
                    a_dead = stats[sl, t, c, DEATHS]
                    a_start = stats[sl, t, c, START]
                    a_new = stats[sl, t, c, NEW]
                    a_left = stats[sl, t, c, LEAVERS]
                    for k in range(n_thr):
                        exc[k] = excess[sl, t, c, k]
                    for j in range(nb):
                        o = occ[j]
                        if o == 0:
                            continue
                        i = b0 + j
                        e = ninv_nb(unit_nb(word_nb(kl, i)))
                        if o == 2:
                            z[j] = e
                            rj = math.exp(sr * ninv_nb(unit_nb(word_nb(kr, i))) - 0.5 * sr * sr)
                            r[j] = rj
                            mort[j] = min(mc * rj, cap)
                            if t > 0:
                                a_new += 1.0
                        else:
                            z[j] = rc * z[j] + ac * e
                        a_start += 1.0
                        rj = r[j]
                        x = member_cost(fam, p, z[j], kc, i) * rj * tr
                        ue = unit_nb(word_nb(ke, i))
                        mj = mort[j]
                        if ue < mj:  # death at time f, full-year cost x uplift
                            f = ue / mj
                            x = x * uc
                            a_dead += 1.0
                            gone = True
                        elif ue < mj + cc:  # leaves at time f, cost pro-rated
                            f = (ue - mj) / cc
                            x = x * f
                            a_left += 1.0
                            gone = True
                        else:
                            f = 1.0
                            gone = False
                        if gone:
                            if rep >= 1.0 or unit_nb(word_nb(kp, i)) < rep:
                                occ[j] = 2
                            else:
                                occ[j] = 0
                        else:
                            occ[j] = 1
                        mm = 12.0 * f
                        a_mm += mm
                        a_cost += x
                        a_rmm += rj * mm
                        for k in range(n_thr):
                            d = x - thresholds[k]
                            if d > 0.0:
                                exc[k] += d
                    stats[sl, t, c, MM] = a_mm
                    stats[sl, t, c, COST] = a_cost
                    stats[sl, t, c, RISK_MM] = a_rmm
                    stats[sl, t, c, DEATHS] = a_dead
                    stats[sl, t, c, START] = a_start
                    stats[sl, t, c, NEW] = a_new
                    stats[sl, t, c, LEAVERS] = a_left
                    for k in range(n_thr):
                        excess[sl, t, c, k] = exc[k]
