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
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from vbsim.engine.rng import (
    CLAIM,
    LATENT,
    REPLACE,
    RISK,
    TRANSIT,
    fexp_nb,
    key_nb,
    mix_nb,
    ninv_nb,
    phi_nb,
    sf_nb,
    unit32_nb,
    unit_nb,
    word_nb,
    znorm32_fill_nb,
)

_G = np.uint64(0x9E3779B97F4A7C15)

# statistics columns (vbsim.engine.STATS)
MM, COST, RISK_MM, DEATHS, START, NEW, LEAVERS = range(7)
N_STATS = 7
# columns of the per-cohort member-dynamics matrix ``coh`` (built by vbsim.simulate._packed)
C_RISK_SD, C_RHO, C_MORT, C_UPLIFT, C_CHURN, C_REPL, C_RISK_AGE, C_MORT_AGE, C_EOL, C_STAT = (
    range(10))
#: Columns of ``coh[c]`` for moves out of cohort ``c``: each member's transition probabilities
#: are scaled by ``exp(beta z + a log r + k)`` (:func:`move_tilt`; ``z`` its rank last year,
#: ``r`` its risk score): ``C_TBETA`` holds ``beta`` (``Cohort.transition_rank_effect``),
#: ``C_TRISK`` ``a = gamma / risk_sd`` (``gamma``: ``Cohort.transition_risk_effect``) and
#: ``C_TCONST`` ``k = gamma risk_sd / 2 - (beta^2 + gamma^2) / 2``; columns ``C_TRANS + d``:
#: cumulative probability that a member of cohort ``c`` moves to one of the cohorts ``0..d`` at
#: the start of a year (``Cohort.transitions``).
C_TBETA = 10
C_TRISK = 11
C_TCONST = 12
C_TRANS = 13
#: Longest prior tenure given to a starting member (stationary start), years. Assumption: a
#: Medicare beneficiary is rarely aligned to one ACO for longer; the cap also keeps
#: ``(1 + risk_ageing)^A`` finite when exits are rare.
TENURE_MAX = 40.0
_LO32 = np.uint64(0xFFFFFFFF)
#: 2^63 - 1: ``j & _NONNEG`` is ``j`` for a valid index and lets LLVM prove it non-negative,
#: which drops numba's negative-index wraparound (a select per load) from loops whose index
#: is not the loop counter itself
_NONNEG = np.int64(0x7FFFFFFFFFFFFFFF)
_S32 = np.uint64(32)
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
        return math.exp(p[1] - p[2] * ninv_nb(sp))  # = Phi^-1(1 - sp), accurate as sp -> 0
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


def _c_vector(ty: types.Type, dtype: types.Type) -> bool:
    return isinstance(ty, types.Array) and ty.ndim == 1 and ty.layout == "C" and ty.dtype == dtype


@intrinsic
def spliced_cubic4(typingctx, zt, cell, frac, z, j, z0, z_lo, z_hi):  # noqa: ARG001
    """Four members' Spliced costs from the table, in vector registers.

    ``frac[j + l] = c0 + f (c1 + f (c2 + f c3))`` for lanes ``l = 0..3``, with ``f = frac[j + l]``
    and the coefficients at ``zt[cell[j + l]:][:4]``: the same operations in the same order as
    the scalar loop, so the same bits. LLVM keeps that loop scalar (per-lane table loads look
    too dear to its cost model on this CPU); here each lane's row is read as two pairs and
    transposed with shuffles. Returns a 4-bit mask of the lanes outside the table
    (``z0 <= z < z_lo`` or ``z >= z_hi``), whose ``frac`` the caller replaces by the exact map.
    """
    f64, i64 = types.float64, types.int64
    if not (_c_vector(zt, f64) and _c_vector(cell, i64) and _c_vector(frac, f64)
            and _c_vector(z, f64) and isinstance(j, types.Integer)
            and all(b == f64 for b in (z0, z_lo, z_hi))):
        return None
    sig = types.int64(zt, cell, frac, z, j, z0, z_lo, z_hi)

    def codegen(context, builder, signature, args):
        a_zt, a_cell, a_frac, a_z, a_j, a_z0, a_lo, a_hi = args
        t_f64, t_i64, t_i32 = ir.DoubleType(), ir.IntType(64), ir.IntType(32)
        v2, v4 = ir.VectorType(t_f64, 2), ir.VectorType(t_f64, 4)
        ptr = [context.make_array(signature.args[k])(context, builder, args[k]).data
               for k in range(4)]
        pzt, pcell, pfrac, pz = ptr
        jj = builder.sext(a_j, t_i64) if a_j.type.width < 64 else a_j

        def pair(p):  # two consecutive float64 as one <2 x double> load
            return builder.load(builder.bitcast(p, v2.as_pointer()), align=8)

        def shuf(x, y, idx):
            return builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(t_i32, 4), idx))

        def splat(x):
            v = ir.Constant(v4, ir.Undefined)
            for lane in range(4):
                v = builder.insert_element(v, x, ir.Constant(t_i32, lane))
            return v

        lo, hi = [], []
        for lane in range(4):
            k = builder.load(builder.gep(pcell, [builder.add(jj, ir.Constant(t_i64, lane))]))
            row = builder.gep(pzt, [k])
            lo.append(pair(row))
            hi.append(pair(builder.gep(row, [ir.Constant(t_i64, 2)])))
        l01, l23 = shuf(lo[0], lo[1], [0, 1, 2, 3]), shuf(lo[2], lo[3], [0, 1, 2, 3])
        h01, h23 = shuf(hi[0], hi[1], [0, 1, 2, 3]), shuf(hi[2], hi[3], [0, 1, 2, 3])
        c0, c1 = shuf(l01, l23, [0, 2, 4, 6]), shuf(l01, l23, [1, 3, 5, 7])
        c2, c3 = shuf(h01, h23, [0, 2, 4, 6]), shuf(h01, h23, [1, 3, 5, 7])
        pf = builder.bitcast(builder.gep(pfrac, [jj]), v4.as_pointer())
        f = builder.load(pf, align=8)
        t = builder.fadd(c2, builder.fmul(f, c3))
        t = builder.fadd(c1, builder.fmul(f, t))
        builder.store(builder.fadd(c0, builder.fmul(f, t)), pf, align=8)
        zv = builder.load(builder.bitcast(builder.gep(pz, [jj]), v4.as_pointer()), align=8)
        out = builder.or_(builder.and_(builder.fcmp_ordered(">=", zv, splat(a_z0)),
                                       builder.fcmp_ordered("<", zv, splat(a_lo))),
                          builder.fcmp_ordered(">=", zv, splat(a_hi)))
        return builder.zext(builder.bitcast(out, ir.IntType(4)), t_i64)

    return sig, codegen


@njit(cache=True, nogil=True)
def spliced_exact(p: np.ndarray, z: float) -> float:
    """:func:`member_cost` of a Spliced cohort, as a call (kept out of the hot loop's code)."""
    return member_cost(1, p, z, np.uint64(0), 0)


@njit(cache=True, inline="always", nogil=True)
def prior_tenure(u: float, q: float) -> float:
    """Years already aligned, ``floor(log u / log(1 - q))`` capped at TENURE_MAX: the
    stationary tenure of a slot whose members leave with probability ``q`` a year (0 when
    ``q`` is 0 or 1)."""
    if q <= 0.0 or q >= 1.0:
        return 0.0
    a = math.log(u) / math.log1p(-q)
    # cap before flooring: math.floor returns an int64 in numba, which overflows when q is tiny
    return TENURE_MAX if a >= TENURE_MAX else float(math.floor(a))


@njit(cache=True, inline="always", nogil=True)
def spliced_or_exact(fam: int, p: np.ndarray, zt: np.ndarray, z: float, kc: np.uint64,
                     i: int) -> float:
    """Scalar :func:`member_cost` that uses a Spliced cohort's table where the vector pass
    does (so a member costs the same whichever pass prices it)."""
    if fam == 1 and zt[2] > 0.0 and z >= p[7] and z >= zt[0] and z < zt[3]:
        v = min(max((z - zt[0]) * zt[1], 0.0), zt[2] - 1e-9)
        k = np.int32(v)
        f = v - float(k)
        i4 = 4 + 4 * k
        return zt[i4] + f * (zt[i4 + 1] + f * (zt[i4 + 2] + f * zt[i4 + 3]))
    return member_cost(fam, p, z, kc, i)


@njit(cache=True, inline="always", nogil=True)
def move_tilt(coh: np.ndarray, k: int, z: float, r: float) -> float:
    """Factor on the transition probabilities out of cohort ``k`` of a member at rank ``z``
    with risk score ``r``: ``exp(beta z + a log r + k)``, the exponent clamped to
    ``[-700, 700]`` (a probability factor beyond ``e^700`` moves the member anyway)."""
    y = coh[k, C_TBETA] * z + coh[k, C_TCONST]
    a = coh[k, C_TRISK]
    if a != 0.0:
        y += a * math.log(r)
    return fexp_nb(min(max(y, -700.0), 700.0))


@njit(cache=True, nogil=True)
def draw_moves(kt, b0, nb, c, coh, occ, cur, r, mraw, mort, imort, mv, fresh, z, gz):
    """Start-of-year cohort transitions of a block's continuing members.

    A member now in cohort ``k`` (``c`` itself while ``occ == 1``, ``cur[j]`` while
    ``occ == 4``: moved out of ``c``) moves to the first ``d`` with ``U < coh[k, C_TRANS + d]``
    (``U`` the upper half of its ``TRANSIT`` word), each ``coh[k, C_TRANS + d]`` scaled by
    ``g =`` :func:`move_tilt` (``gz[j]`` holds it for the members still in ``c``; 1 when cohort
    ``k`` has neither effect). It keeps its latent rank and risk score; its
    death probability changes by the ratio of the cohorts' base rates (ageing so far is kept).
    Lists the block's moved-out members in ``mv`` (``fresh``: moved this year); returns their
    number.
    """
    n_coh = coh.shape[0]
    cap_c = 1.0 - coh[c, C_CHURN]
    # U < (total move probability of c) exactly when the integer h < t_c (U = (h + 1/2) 2^-32)
    tot_c = coh[c, C_TRANS + n_coh - 1]
    t_c = np.int64(math.ceil(tot_c * 4294967296.0 - 0.5))
    flat_c = coh[c, C_TBETA] == 0.0 and coh[c, C_TRISK] == 0.0
    n_mv = 0
    for j in range(nb):
        o = occ[j]
        if o == 1 or o == 4:
            h = np.int64(word_nb(kt, b0 + j) >> _S32)
            if o == 1 and flat_c and h >= t_c:  # stays in c (most members: one comparison)
                continue
            u = unit32_nb(h)
            if o == 1 and not flat_c and u >= gz[j] * tot_c:  # stays (rank effect)
                continue
            k = c if o == 1 else cur[j]
            g = 1.0
            if coh[k, C_TBETA] != 0.0 or coh[k, C_TRISK] != 0.0:
                g = gz[j] if o == 1 else move_tilt(coh, k, z[j], r[j])
            d = k
            for e in range(n_coh):
                if u < g * coh[k, C_TRANS + e]:
                    d = e
                    break
            moved = d != k
            if moved:
                mk, md = coh[k, C_MORT], coh[d, C_MORT]
                mr = mraw[j] * (md / mk) if mk > 0.0 else md * r[j]
                mraw[j] = mr
                cur[j] = d
                if d == c:  # back in its own cohort: the vector passes take it again
                    occ[j] = 1
                    mj = min(mr, cap_c)
                    mort[j] = mj
                    imort[j] = 1.0 / mj if mj > 0.0 else 0.0
                else:
                    occ[j] = 4
            if occ[j] == 4:
                mv[n_mv] = j
                fresh[n_mv] = moved
                n_mv += 1
    return n_mv


@njit(cache=True, nogil=True)
def moved_year(sl, t, c, b0, n_mv, mv, fresh, cur, family, params, coh, ztab, tr, kc, kp,
               thresholds, w, z, r, mraw, occ, stats, excess):
    """One year of the members moved out of cohort ``c``, priced and counted in their new
    cohorts (scalar, in member order: the sums do not depend on block size or threads)."""
    rep = coh[c, C_REPL]
    for k in range(n_mv):
        j = mv[k]
        d = cur[j]
        ra, ma, cc = coh[d, C_RISK_AGE], coh[d, C_MORT_AGE], coh[d, C_CHURN]
        r[j] = r[j] * ra
        mr = mraw[j] * ma
        mraw[j] = mr
        mj = min(mr, 1.0 - cc)
        x = spliced_or_exact(family[d], params[d], ztab[d], z[j], kc, b0 + j) * (r[j] * tr)
        ue = unit32_nb(np.int64(w[j] & _LO32))
        dead = ue < mj
        left = (not dead) and ue < mj + cc
        if dead:
            f = ue * (1.0 / mj)
            x = x * coh[d, C_UPLIFT] + coh[d, C_EOL] * tr
        elif left:
            f = (ue - mj) * (1.0 / cc)
            x = x * f
        else:
            f = 1.0
        mm = 12.0 * f
        stats[sl, t, d, MM] += mm
        stats[sl, t, d, COST] += x
        stats[sl, t, d, RISK_MM] += r[j] * mm
        stats[sl, t, d, DEATHS] += dead
        stats[sl, t, d, LEAVERS] += left
        stats[sl, t, d, START] += 1.0
        stats[sl, t, d, NEW] += fresh[k]
        for q in range(thresholds.size):
            excess[sl, t, d, q] += max(x - thresholds[q], 0.0)
        if dead or left:  # the slot is refilled like any exit of cohort c
            occ[j] = 2
            if rep < 1.0:
                if unit32_nb(np.int64(word_nb(kp, b0 + j) >> _S32)) >= rep:
                    occ[j] = 0


@njit(cache=True, nogil=True)
def simulate_block(seed, first, n_scen, years, slots, family, params, coh, ztab, trend_index,
                   thresholds, block_size, stats, excess):
    """Fill ``stats[s, t, c, :]`` and ``excess[s, t, c, k]`` for scenarios first..first+n-1.

    ``stats`` and ``excess`` (zeroed) and ``trend_index`` have ``n_scen`` rows; ``slots[c, t]``
    is the number of member slots of cohort ``c`` open in year ``t`` (``slots[c, 0]`` is the
    starting membership; later columns add joiners); ``coh[c]`` holds the member dynamics
    (columns ``C_*``); ``ztab[c]`` is the Spliced cohorts' tabulated quantile map
    (:mod:`vbsim.engine.ztable`; ``n_cells = 0`` for other families). Serial and ``nogil``:
    :func:`vbsim.simulate.simulate` runs blocks of
    scenarios on a thread pool. One thread runs a whole scenario, so the order of every sum
    is fixed whatever the number of threads.
    """
    for sl in range(n_scen):
        scenario_kernel(seed, first + sl, sl, years, slots, family, params, coh, ztab,
                        trend_index, thresholds, block_size, stats, excess)


@njit(parallel=True, cache=True)
def simulate_chunk(seed, first, n_scen, years, slots, family, params, coh, ztab, trend_index,
                   thresholds, block_size, stats, excess):
    """Same as :func:`simulate_block` with numba's ``prange`` over scenarios.

    Kept for comparison (``benchmarks/engine.py --prange``): on the machines measured, the
    same per-scenario code ran about 2x slower per thread inside a numba parallel region than
    when called from a thread pool, so :func:`vbsim.simulate.simulate` uses the pool.
    """
    for sl in prange(n_scen):
        scenario_kernel(seed, first + sl, sl, years, slots, family, params, coh, ztab,
                        trend_index, thresholds, block_size, stats, excess)


@njit(cache=True, nogil=True)
def scenario_kernel(seed, s, sl, years, slots, family, params, coh, ztab, trend_index,
                    thresholds, block_size, stats, excess):
    """One scenario ``s`` (row ``sl`` of the chunk's outputs).

    Serial, so LLVM optimises it fully (code inside a parfor body is not vectorised).
    Inside a block-year the work is split into passes: a scalar pass hashes one 64-bit word
    per member (upper 32 bits: latent innovation, lower 32: exit uniform; scalar 64-bit
    multiplies beat AVX2's emulated ones) and lists the entrants; a scalar pass over the
    entrants only draws their risk scores; vector passes do the inverse normal, the AR(1)
    latent update and the lognormal cost, then the exits (branch-free); the reductions run
    in fixed member groups so the sums do not depend on block size or threads.
    """
    n_coh = slots.shape[0]
    n_thr = thresholds.size
    useed = np.uint64(seed)
    w = np.empty(block_size, np.uint64)
    z = np.empty(block_size)
    r = np.empty(block_size)
    mraw = np.empty(block_size)
    mort = np.empty(block_size)
    imort = np.empty(block_size)
    # 0 empty, 1 occupied, 2 entering, 3 not yet open; int64 like the float64 lanes it is
    # compared with (int8 cost ~1.4 ns per member-year in widening shuffles)
    occ = np.empty(block_size, np.int64)
    newi = np.empty(block_size, np.int64)
    zr = np.empty(block_size, np.int64)  # the ziggurat's rejected draws (znorm32_fill_nb)
    cell = np.empty(block_size, np.int64)  # a Spliced member's table row
    wr = np.empty(block_size, np.uint64)
    rr = np.empty(block_size)
    ee = np.empty(block_size)
    x = np.empty(block_size)
    xf = np.empty(block_size)
    mmv = np.empty(block_size)
    cur = np.empty(block_size, np.int64)  # cohort of a moved-out member (occ == 4)
    mv = np.empty(block_size, np.int64)
    fresh = np.empty(block_size, np.int64)
    zn = np.empty(block_size)
    gz = np.empty(block_size)
    pra = np.empty(int(TENURE_MAX) + 1)
    pma = np.empty(int(TENURE_MAX) + 1)
    for c in range(n_coh):
        cap_n = slots[c, years - 1]
        fam = family[c]
        p = params[c]
        sr = coh[c, C_RISK_SD]
        hsr2 = 0.5 * sr * sr
        rc = coh[c, C_RHO]
        ac = math.sqrt(1.0 - rc * rc)
        mc, uc, cc, rep = coh[c, C_MORT], coh[c, C_UPLIFT], coh[c, C_CHURN], coh[c, C_REPL]
        ra, ma, eol = coh[c, C_RISK_AGE], coh[c, C_MORT_AGE], coh[c, C_EOL]
        seasoned = coh[c, C_STAT] > 0.0 and (ra != 1.0 or ma != 1.0)
        if seasoned:  # (1 + ageing)^k for the integer prior tenures k = 0..TENURE_MAX
            for k in range(pra.size):
                pra[k] = ra ** float(k)
                pma[k] = ma ** float(k)
        cap = 1.0 - cc
        icc = 1.0 / cc if cc > 0.0 else 0.0
        moves = coh.shape[1] > C_TRANS and coh[c, C_TRANS + n_coh - 1] > 0.0
        for b0 in range(0, cap_n, block_size):
            nb = min(block_size, cap_n - b0)
            for j in range(nb):
                occ[j] = 3
                r[j] = 0.0
                z[j] = 0.0
                mort[j] = 0.0
                imort[j] = 0.0
            for t in range(years):
                # slots opening this year (the starting members in year 1, joiners later)
                n_open = min(nb, slots[c, t] - b0)
                if n_open <= 0:  # none of the block's slots is open yet (a growing cohort)
                    continue
                if t == 0 or slots[c, t] > slots[c, t - 1]:
                    for j in range(n_open):
                        occ[j] = 2 if occ[j] == 3 else occ[j]
                # slots open in index order and never close, so the year's members are the
                # block's first nt slots; the rest (not yet open) would only add zeros
                nt = n_open
                kl = key_nb(useed, s, t + 1, c, LATENT)
                kr = key_nb(useed, s, t + 1, c, RISK)
                kc = key_nb(useed, s, t + 1, c, CLAIM)
                kp = key_nb(useed, s, t + 1, c, REPLACE)
                tr = trend_index[sl, t]
                # cohort transitions (only where the cohort has any): members moved out of c
                # (occ 4) skip the vector passes and are handled by moved_year
                n_mv = 0
                if moves and t > 0:
                    kt = key_nb(useed, s, t + 1, c, TRANSIT)
                    tb, ta, tk = coh[c, C_TBETA], coh[c, C_TRISK], coh[c, C_TCONST]
                    # who moves: exp(beta z + a log r + k) (move_tilt), z last year's rank
                    if ta != 0.0:
                        for j in range(nt):  # empty slots (r = 0) give 0, never read
                            gz[j] = move_tilt(coh, c, z[j], r[j])
                    elif tb != 0.0:  # rank effect only: no log (vector loop)
                        for j in range(nt):
                            gz[j] = fexp_nb(min(max(tb * z[j] + tk, -700.0), 700.0))
                    n_mv = draw_moves(kt, b0, nt, c, coh, occ, cur, r, mraw, mort, imort, mv,
                                      fresh, z, gz)
                # pass 1 (scalar): one word per member-year; list the entrants
                # (the packed store keeps this loop scalar: AVX2 has no 64-bit multiply)
                all_new = t == 0 and n_open == nb
                n_in = 0
                for j in range(nt):
                    w[j] = word_nb(kl, b0 + j)
                    if all_new:
                        wr[j] = word_nb(kr, b0 + j)
                    newi[n_in] = j
                    n_in += occ[j] == 2
                # pass 2 (entrants only): risk score and death probability; words (scalar),
                # then normal and exp on the packed list (vector), then scattered back
                if all_new:  # everyone enters (year 1 of a full block): no packing
                    znorm32_fill_nb(wr, nt, ee, zr)  # split loops: faster on one-year runs
                    for j in range(nt):
                        r[j] = fexp_nb(sr * ee[j] - hsr2)
                    for j in range(nt):
                        rj = r[j]
                        mraw[j] = mc * rj
                        mj = min(mc * rj, cap)
                        mort[j] = mj
                        imort[j] = 1.0 / mj if mj > 0.0 else 0.0
                elif n_in > 0:
                    for k in range(n_in):
                        wr[k] = word_nb(kr, b0 + newi[k])
                    znorm32_fill_nb(wr, n_in, rr, zr)
                    for k in range(n_in):
                        rr[k] = fexp_nb(sr * rr[k] - hsr2)
                    for k in range(n_in):
                        j = newi[k]
                        rj = rr[k]
                        r[j] = rj
                        mraw[j] = mc * rj
                        mj = min(mc * rj, cap)
                        mort[j] = mj
                        imort[j] = 1.0 / mj if mj > 0.0 else 0.0
                # stationary start (ageing cohorts): a starting member has been aligned for a
                # prior tenure A ~ geometric(its exit probability), capped at TENURE_MAX; its
                # ageing over A years is applied now (uniform: lower half of the risk word)
                if t == 0 and seasoned:
                    for j in range(min(nb, slots[c, 0] - b0)):
                        wj = wr[j] if all_new else word_nb(kr, b0 + j)  # pass 1's risk word
                        ua = unit32_nb(np.int64(wj & _LO32))
                        a = prior_tenure(ua, mort[j] + cc)
                        if a > 0.0:
                            ia = np.int64(a)
                            r[j] = r[j] * pra[ia]  # = ra**a, tabulated
                            mr = mraw[j] * pma[ia]
                            mj = min(mr, cap)
                            mraw[j] = mr
                            mort[j] = mj
                            imort[j] = 1.0 / mj if mj > 0.0 else 0.0
                # ageing of continuing members (vector; skipped when off)
                if t > 0 and ra != 1.0:
                    for j in range(nt):
                        r[j] = r[j] * ra if occ[j] == 1 else r[j]
                if t > 0 and ma != 1.0:
                    for j in range(nt):
                        if occ[j] == 1:
                            mr = mraw[j] * ma
                            mj = min(mr, cap)
                            mraw[j] = mr
                            mort[j] = mj
                            imort[j] = 1.0 / mj if mj > 0.0 else 0.0
                # pass 3 (vector): innovation, latent AR(1) (an entrant starts at its
                # innovation), cost. Three small loops run faster than one fused loop here
                # (shorter dependency chains, fewer live registers; benchmarks/README.md).
                znorm32_fill_nb(w, nt, ee, zr)
                for k in range(n_mv):  # a moved member's rank moves with its new persistence
                    j = mv[k]
                    rd = coh[cur[j], C_RHO]
                    zn[k] = rd * z[j] + math.sqrt(1.0 - rd * rd) * ee[j]
                for j in range(nt):
                    zj = rc * z[j] + ac * ee[j]
                    z[j] = ee[j] if occ[j] == 2 else zj
                for k in range(n_mv):
                    z[mv[k]] = zn[k]
                if fam == 0:
                    scale = math.exp(p[0]) * tr
                    s1 = p[1]
                    for j in range(nt):
                        x[j] = fexp_nb(s1 * z[j]) * (r[j] * scale)
                elif fam == 1 and ztab[c, 2] > 0.0:
                    # Spliced: tabulated cost (vector), exact map outside the table
                    zt = ztab[c]
                    z_lo, ih, top, z_hi, z0 = zt[0], zt[1], zt[2] - 1e-9, zt[3], p[7]
                    # cost from the table, in two loops: the cell and its fraction (vector),
                    # then the cubic, four members at a time in vector registers
                    # (spliced_cubic4: LLVM alone keeps that loop scalar). One fused scalar loop
                    # took 4.3-4.5 ns a member, split 3.0-3.2, hand-vectorised ~0.6 less. The
                    # same loop takes the exact map for the few members outside the table (a
                    # rare branch costs less than flagging them and scanning the flags)
                    for j in range(nt):
                        v = min(max((z[j] - z_lo) * ih, 0.0), top)
                        k = np.int32(v)
                        ee[j] = v - float(k)
                        cell[j] = 4 + 4 * k
                    for q in range(nt // 4):  # four members at a time (spliced_cubic4)
                        j = q * 4
                        m = spliced_cubic4(zt, cell, ee, z, j, z0, z_lo, z_hi)
                        if m != 0:
                            for lane in range(4):
                                if (m >> lane) & 1:
                                    ee[j + lane] = spliced_exact(p, z[j + lane])
                    for j in range(nt - nt % 4, nt):  # the last nt % 4: the scalar map
                        ee[j] = spliced_or_exact(fam, p, zt, z[j], kc, b0 + j)
                    for j in range(nt):
                        # a select, not a branch (mispredicted on the ~15% zero-cost members)
                        xj = ee[j] * (r[j] * tr)
                        x[j] = 0.0 if z[j] < z0 else xj
                else:
                    for j in range(nt):
                        o = occ[j]
                        x[j] = (member_cost(fam, p, z[j], kc, b0 + j) * (r[j] * tr)
                                if (o == 1) | (o == 2) else 0.0)
                # pass 4 (vector, branch-free): exits; final cost xf and member-months mmv
                # (f = U / m and (U - m) / churn, computed with reciprocals)
                n_dead = 0
                n_left = 0
                n_start = 0
                n_new = 0
                eol_t = eol * tr
                for j in range(nt):
                    o = occ[j]
                    act = (o == 1) | (o == 2)
                    ue = unit32_nb(np.int64(w[j] & _LO32))
                    mj = mort[j]
                    dead = act & (ue < mj)
                    left = act & (ue >= mj) & (ue < mj + cc)
                    f = ue * imort[j] if dead else ((ue - mj) * icc if left else 1.0)
                    xj = x[j] * uc + eol_t if dead else x[j] * f
                    xf[j] = xj if act else 0.0
                    mmv[j] = 12.0 * f if act else 0.0
                    n_dead += dead
                    n_left += left
                    n_start += act
                    n_new += o == 2
                    occ[j] = (2 if (dead | left) else 1) if act else o
                if rep < 1.0:  # an exit is refilled next year with probability rep
                    for j in range(nt):
                        if occ[j] == 2:
                            hp = np.int64(word_nb(kp, b0 + j) >> _S32)
                            if unit32_nb(hp) >= rep:
                                occ[j] = 0
                if n_mv > 0:
                    moved_year(sl, t, c, b0, n_mv, mv, fresh, cur, family, params, coh, ztab,
                               tr, kc, kp, thresholds, w, z, r, mraw, occ, stats, excess)
                a_dead = float(n_dead)
                a_left = float(n_left)
                a_start = float(n_start)
                a_new = float(n_new) if t > 0 else 0.0
                # pass 5: sums over members in fixed groups of GROUP (aligned on member
                # index, zero-padded), 4 interleaved lanes each: the order of additions
                # depends only on member indices, never on block size or threads
                ng = (nt + GROUP - 1) // GROUP * GROUP
                for j in range(nt, ng):
                    xf[j] = 0.0
                    mmv[j] = 0.0
                    r[j] = 0.0  # padding slots hold no member (np.empty may hold NaN)
                a_mm = stats[sl, t, c, MM]
                a_cost = stats[sl, t, c, COST]
                a_rmm = stats[sl, t, c, RISK_MM]
                # (indices masked non-negative: otherwise numba's negative-index wraparound
                # puts a select on every load, which made this pass twice as slow)
                for g in range(ng // GROUP):
                    c0 = c1 = c2 = c3 = 0.0
                    m0 = m1 = m2 = m3 = 0.0
                    q0 = q1 = q2 = q3 = 0.0
                    for i in range(GROUP // 4):
                        j = (g * GROUP + 4 * i) & _NONNEG
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
                    for g in range(ng // GROUP):
                        c0 = c1 = c2 = c3 = 0.0
                        for i in range(GROUP // 4):
                            j = (g * GROUP + 4 * i) & _NONNEG
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
