"""Optional GPU path: the engine's sampling loop as ``numba.cuda`` kernels.

A drop-in twin of :func:`vbsim.engine.kernel.simulate_chunk` for machines with an NVIDIA GPU
(CI has none; nothing here runs or even imports ``numba.cuda`` until a function is called).

Layout: one CUDA thread per (scenario, member); a block of ``threads_per_block`` threads holds
consecutive members of one cohort of one scenario (a *tile*), the grid is (tiles, scenarios).
Each thread loops over the years itself, so the member's latent rank ``z``, risk score ``r``,
death probability and occupancy stay in registers. Random numbers are the counter-based streams
of :mod:`vbsim.engine.rng` (splitmix64 of (seed, scenario, year, cohort, stream, member)), with
the per-(scenario, year, cohort, stream) keys computed once on the host by
:func:`vbsim.engine.rng.keys_np`, so every member draws exactly the numbers it draws on the CPU
and the results agree with the CPU kernel to floating-point rounding of the sums (~1e-15
relative), not merely in distribution.

Reductions are two-stage and deterministic (no atomics): per year, each block sums its members'
contributions (member-months, cost, risk x months, deaths, starts, entrants, leavers and the
excess over each threshold) with a fixed shared-memory tree and writes one partial per tile;
a second kernel adds the tiles of each (scenario, year, cohort, quantity) in tile order. The
same input therefore gives the same bytes on every run, though not the same last bits as the
CPU (the order of the additions differs). Scenarios are processed in chunks so that the
partials stay under ``max_partial_bytes``.

The scalar random-number functions are duplicated here as CUDA device functions (same
operations as the ``*_nb`` functions of :mod:`vbsim.engine.rng`; the inverse-normal table is
taken from that module and passed to the kernel as a global-memory array). ``tests/engine/
test_cuda.py`` checks the port against the CPU kernel, on the GPU and in numba's CUDA simulator.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError
from vbsim.engine import rng
from vbsim.engine.kernel import (  # the per-cohort column layout, shared with the CPU kernel
    C_CHURN,
    C_EOL,
    C_MORT,
    C_MORT_AGE,
    C_REPL,
    C_RHO,
    C_RISK_AGE,
    C_RISK_SD,
    C_STAT,
    C_TBETA,
    C_TCONST,
    C_TRANS,
    C_TRISK,
    C_UPLIFT,
    N_STATS,
    TENURE_MAX,
)

__all__ = ["cuda_available", "simulate_chunk_cuda", "N_STATS"]

_STREAMS = (rng.LATENT, rng.RISK, rng.CLAIM, rng.REPLACE, rng.TRANSIT)  # key columns 0..4
_QB = 16  # quantities reduced together in one shared-memory pass (16 x threads doubles)
DEFAULT_THREADS = 128  # threads (members) per block: assumption, tuned on an H100 (docs/gpu.md)
DEFAULT_PARTIAL_BYTES = 1 << 29  # 512 MiB of per-tile partial sums per scenario chunk

# 64-bit constants as numpy scalars so the device code stays in uint64 arithmetic
_G = np.uint64(rng.G)
_M1 = np.uint64(rng.M1)
_M2 = np.uint64(rng.M2)
_ONE = np.uint64(1)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO53 = rng.TWO53
_HALF53 = rng.HALF53
_P_LOW = rng.P_LOW
_P_HIGH = rng.P_HIGH
_NTAB = float(rng.NTAB)  # the 53-bit inverse normal's cubic Hermite table (rng.TABLE)
_TWO32 = rng.TWO32
_ZIG_R = rng.ZIG_R
_ZIG_IR = 1.0 / rng.ZIG_R
_ZIG_MASK = rng.ZIG_N - 1
_ZIG_SIGN = rng.ZIG_BITS
_ZIG_UP = rng.ZIG_BITS + 1
_ZIG_F0 = 2 * rng.ZIG_N  # where F_i starts in _ZIG
#: the ziggurat's tables in one device array: K_i, W_i interleaved (2 N), then F_i (N)
_ZIG = np.ascontiguousarray(np.concatenate([rng.ZIG_KW, rng.ZIG_F]))
_LO32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
cuda: Any = None  # numba.cuda, imported on first use (see _kernels)


def cuda_available() -> bool:
    """True when numba can see a CUDA GPU (or runs its CUDA simulator).

    Never raises: a missing driver, toolkit or ``numba.cuda`` gives False.

    >>> isinstance(cuda_available(), bool)
    True
    """
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001 - any failure to load CUDA means "no GPU"
        return False


@lru_cache(maxsize=8)
def _kernels(nt: int) -> tuple[Any, Any]:
    """Compile-on-first-use kernels for ``nt`` threads per block (power of two)."""
    global cuda  # a module global: numba's CUDA simulator swaps it for its fake module
    if not hasattr(np, "row_stack"):
        # numba-cuda 0.2x registers np.row_stack (an alias of np.vstack removed in numpy 2.5)
        # while loading its typing registries; without the alias every compile fails there.
        setattr(np, "row_stack", np.vstack)  # noqa: B010
    from numba import cuda as _numba_cuda

    cuda = _numba_cuda

    dev = cuda.jit(device=True)

    @dev
    def mix(x):
        x = (x ^ (x >> _S30)) * _M1
        x = (x ^ (x >> _S27)) * _M2
        return x ^ (x >> _S31)

    @dev
    def word(key, counter):
        return mix(key + (np.uint64(counter) + _ONE) * _G)

    @dev
    def unit(w):
        return float(w >> _S11) * _TWO53 + _HALF53

    @dev
    def ninv_central(p, tab):
        v = p * _NTAB
        k = int(v)
        f = v - k
        t0 = tab[2 * k]
        d0 = tab[2 * k + 1]
        t1 = tab[2 * k + 2]
        d1 = tab[2 * k + 3]
        f2 = f * f
        f3 = f2 * f
        return ((2.0 * f3 - 3.0 * f2 + 1.0) * t0 + (f3 - 2.0 * f2 + f) * d0
                + (3.0 * f2 - 2.0 * f3) * t1 + (f3 - f2) * d1)

    @dev
    def ninv_tail(p):
        src = p if p < _P_LOW else 1.0 - p
        sign = 1.0 if p < _P_LOW else -1.0
        q = math.sqrt(-2.0 * math.log(src))
        return sign * ((((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q
                           - 2.400758277161838e00) * q - 2.549732539343734e00) * q
                         + 4.374664141464968e00) * q + 2.938163982698783e00)
                       / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q
                            + 2.445134137142996e00) * q + 3.754408661907416e00) * q + 1.0))

    @dev
    def ninv(p, tab):
        if p < _P_LOW or p > _P_HIGH:
            return ninv_tail(p)
        return ninv_central(p, tab)

    @dev
    def zig_core(h, zig):
        """Twin of :func:`vbsim.engine.rng.zig_core_nb`."""
        i = h & _ZIG_MASK
        u = float(h >> _ZIG_UP)
        x = u * zig[2 * i + 1]
        return (-x if (h >> _ZIG_SIGN) & 1 else x), u >= zig[2 * i]

    @dev
    def znorm32(w, zig):
        """Twin of :func:`vbsim.engine.rng.znorm32_nb`: the normal of the word ``w``."""
        h = np.int64(w >> _S32)
        x, rej = zig_core(h, zig)
        k = np.uint64(0)
        while rej:
            k += _ONE
            d = mix(w + k * _G)
            i = h & _ZIG_MASK
            neg = (h >> _ZIG_SIGN) & 1
            if i == 0:  # the tail beyond R
                xt = -math.log((float(np.int64(d >> _S32)) + 0.5) * _TWO32) * _ZIG_IR
                y = -math.log((float(np.int64(d & _LO32)) + 0.5) * _TWO32)
                if y + y >= xt * xt:
                    x = -(_ZIG_R + xt) if neg else _ZIG_R + xt
                    rej = False
            else:
                x0 = float(h >> _ZIG_UP) * zig[2 * i + 1]
                u = (float(np.int64(d & _LO32)) + 0.5) * _TWO32
                fi, fp = zig[_ZIG_F0 + i], zig[_ZIG_F0 + i - 1]
                if fi + u * (fp - fi) < math.exp(-0.5 * x0 * x0):
                    x = -x0 if neg else x0
                    rej = False
                else:
                    h = np.int64(d >> _S32)
                    x, rej = zig_core(h, zig)
        return x

    @dev
    def spliced_cost(params, c, z, ztab, tab):
        """Tabulated Spliced map (:mod:`vbsim.engine.ztable`), exact outside the table."""
        if z < params[c, 7]:
            return 0.0
        if ztab[c, 2] > 0.0 and z >= ztab[c, 0] and z < ztab[c, 3]:
            v = min(max((z - ztab[c, 0]) * ztab[c, 1], 0.0), ztab[c, 2] - 1e-9)
            k = int(v)
            f = v - k
            i4 = 4 + 4 * k
            return ztab[c, i4] + f * (ztab[c, i4 + 1] + f * (ztab[c, i4 + 2]
                                                             + f * ztab[c, i4 + 3]))
        return member_cost(1, params, c, z, np.uint64(0), 0, tab)

    @dev
    def member_cost(fam, params, c, z, kc, i, tab):
        """Twin of :func:`vbsim.engine.kernel.member_cost` (risk-1 cost at rank ``z``)."""
        if fam == 0:  # Lognormal
            return math.exp(params[c, 0] + params[c, 1] * z)
        if fam == 1:  # Spliced: zero mass, lognormal body, GPD tail
            if z < params[c, 7]:
                return 0.0
            sp = 0.5 * math.erfc(z * 0.7071067811865476) / (1.0 - params[c, 0])
            if sp < params[c, 3]:
                w = sp / params[c, 3]
                if params[c, 6] == 0.0:
                    return params[c, 4] - params[c, 5] * math.log(w)
                return params[c, 4] + params[c, 5] / params[c, 6] * (
                    math.pow(w, -params[c, 6]) - 1.0)
            if params[c, 0] == 0.0:
                return math.exp(params[c, 1] + params[c, 2] * z)
            return math.exp(params[c, 1] - params[c, 2] * ninv(sp, tab))
        # CompoundPoisson: count = Poisson quantile of Phi(z), lognormal claims
        lam = params[c, 0]
        u = 0.5 * math.erfc(-z * 0.7071067811865476)
        pk = math.exp(-lam)
        cum = pk
        n = 0
        while u > cum and pk > 0.0:
            n += 1
            pk *= lam / n
            cum += pk
        tot = 0.0
        if n > 0:
            h = word(kc, i)
            for k in range(n):
                w = mix(h + np.uint64(k + 1) * _G)
                tot += math.exp(params[c, 1] + params[c, 2] * ninv(unit(w), tab))
        return tot

    @dev
    def cohort_params(family, coh, k):
        """Cohort k's family and member dynamics (the parameters a member in k follows)."""
        rc = coh[k, C_RHO]
        cc = coh[k, C_CHURN]
        return (family[k], rc, math.sqrt(1.0 - rc * rc), coh[k, C_UPLIFT], cc,
                coh[k, C_RISK_AGE], coh[k, C_MORT_AGE], coh[k, C_EOL], 1.0 - cc)

    @cuda.jit
    def tiles_kernel(keys, slots, family, params, coh, ztab, trend, thresholds, tile_coh,
                     tile_first, tab, zig, partials):
        """partials[tile, sl, t, q] = sum over the tile's members of quantity q in year t.

        With cohort transitions, ``q = d * (N_STATS + thresholds) + quantity``: a member counts
        in the cohort ``d`` it is in that year (the slot's own cohort ``c`` unless it moved).
        """
        sh = cuda.shared.array((_QB, nt), dtype=np.float64)
        tid = cuda.threadIdx.x
        tile = cuda.blockIdx.x
        sl = cuda.blockIdx.y
        c = tile_coh[tile]
        i = tile_first[tile] + tid
        years = trend.shape[1]
        n_thr = thresholds.size
        nq = N_STATS + n_thr
        n_coh = slots.shape[0]
        nqt = partials.shape[3]  # nq, or n_coh * nq with transitions
        moves = nqt > nq and coh[c, C_TRANS + n_coh - 1] > 0.0
        sr = coh[c, C_RISK_SD]
        mc = coh[c, C_MORT]
        rep = coh[c, C_REPL]
        seasoned = coh[c, C_STAT] > 0.0 and (coh[c, C_RISK_AGE] != 1.0
                                             or coh[c, C_MORT_AGE] != 1.0)
        k = c  # the cohort the member is in (its slot's cohort c unless it moved)
        fam, rc, ac, uc, cc, ra, ma, eol, cap = cohort_params(family, coh, k)
        occ = 3  # 0 empty, 1 occupied, 2 to be filled, 3 not yet open
        z = 0.0
        r = 1.0
        mraw = 0.0
        for t in range(years):
            xf = 0.0
            mm = 0.0
            start = 0.0
            new = 0.0
            dead = 0.0
            left = 0.0
            if occ == 3 and i < slots[c, t]:
                occ = 2
            moved = False
            kp = k
            if moves and t > 0 and occ == 1:  # cohort transition (twin of kernel.draw_moves)
                u = (float(np.int64(word(keys[sl, t, c, 4], i) >> _S32)) + 0.5) * _TWO32
                tb = coh[k, C_TBETA]
                ta = coh[k, C_TRISK]
                g = 1.0  # who moves: exp(beta z + a log r + k) (kernel.move_tilt)
                if tb != 0.0 or ta != 0.0:
                    y = tb * z + coh[k, C_TCONST] + (ta * math.log(r) if ta != 0.0 else 0.0)
                    g = math.exp(min(max(y, -700.0), 700.0))
                d = k
                for dd in range(n_coh):
                    if u < g * coh[k, C_TRANS + dd]:
                        d = dd
                        break
                if d != k:
                    mk = coh[k, C_MORT]
                    md = coh[d, C_MORT]
                    mraw = mraw * (md / mk) if mk > 0.0 else md * r
                    moved = d != c
                    k = d
            if occ == 2 and k != c:  # a refilled slot holds a new member of cohort c
                k = c
            if k != kp:
                fam, rc, ac, uc, cc, ra, ma, eol, cap = cohort_params(family, coh, k)
            if occ == 1 or occ == 2:
                w = word(keys[sl, t, c, 0], i)
                e = znorm32(w, zig)
                if occ == 2:
                    kr = keys[sl, t, c, 1]
                    r = math.exp(sr * znorm32(word(kr, i), zig) - 0.5 * sr * sr)
                    mraw = mc * r
                    if t == 0 and seasoned and i < slots[c, 0]:  # stationary prior tenure
                        q = min(mraw, cap) + cc
                        if q > 0.0 and q < 1.0:
                            ua = (float(np.int64(word(kr, i) & _LO32)) + 0.5) * _TWO32
                            a = math.log(ua) / math.log1p(-q)  # capped before floor
                            a = TENURE_MAX if a >= TENURE_MAX else float(math.floor(a))
                            r = r * ra**a
                            mraw = mraw * ma**a
                    z = e
                    if t > 0:
                        new = 1.0
                else:
                    if moved:
                        new = 1.0
                    z = rc * z + ac * e
                    if t > 0:
                        r = r * ra
                        mraw = mraw * ma
                mort = min(mraw, cap)
                start = 1.0
                if fam == 1:
                    xj = spliced_cost(params, k, z, ztab, tab) * (r * trend[sl, t])
                else:
                    xj = member_cost(fam, params, k, z, keys[sl, t, c, 2], i, tab) * (
                        r * trend[sl, t])
                ue = (float(np.int64(w & _LO32)) + 0.5) * _TWO32
                gone = True
                f = 1.0
                if ue < mort:  # death at time f: full-year cost x uplift + end-of-life amount
                    f = ue / mort
                    xj = xj * uc + eol * trend[sl, t]
                    dead = 1.0
                elif ue < mort + cc:  # leaves at time f, cost pro-rated
                    f = (ue - mort) / cc
                    xj = xj * f
                    left = 1.0
                else:
                    gone = False
                if gone:
                    hp = np.int64(word(keys[sl, t, c, 3], i) >> _S32)
                    if rep >= 1.0 or (float(hp) + 0.5) * _TWO32 < rep:
                        occ = 2
                    else:
                        occ = 0
                else:
                    occ = 1
                xf = xj
                mm = 12.0 * f
            ks = k * nq if nqt > nq else 0  # where this member's quantities go
            for q0 in range(0, nqt, _QB):
                nqb = min(_QB, nqt - q0)
                for qq in range(nqb):
                    q = q0 + qq - ks
                    if q < 0 or q >= nq:
                        v = 0.0
                    elif q == 0:
                        v = mm
                    elif q == 1:
                        v = xf
                    elif q == 2:
                        v = r * mm
                    elif q == 3:
                        v = dead
                    elif q == 4:
                        v = start
                    elif q == 5:
                        v = new
                    elif q == 6:
                        v = left
                    else:
                        v = max(xf - thresholds[q - N_STATS], 0.0) if start > 0.0 else 0.0
                    sh[qq, tid] = v
                cuda.syncthreads()
                stride = nt // 2
                while stride > 0:
                    if tid < stride:
                        for qq in range(nqb):
                            sh[qq, tid] += sh[qq, tid + stride]
                    cuda.syncthreads()
                    stride //= 2
                if tid < nqb:
                    partials[tile, sl, t, q0 + tid] = sh[tid, 0]
                cuda.syncthreads()

    @cuda.jit
    def reduce_kernel(partials, tile_start, out):
        """out[sl, t, c, q] = sum over the cohort's tiles, in tile order (with transitions:
        over every tile, of the quantities counted in cohort c)."""
        k = cuda.grid(1)
        n_scen, years, n_coh, nq = out.shape
        if k >= n_scen * years * n_coh * nq:
            return
        q = k % nq
        c = (k // nq) % n_coh
        t = (k // (nq * n_coh)) % years
        sl = k // (nq * n_coh * years)
        acc = 0.0
        if partials.shape[3] == nq:
            for tile in range(tile_start[c], tile_start[c + 1]):
                acc += partials[tile, sl, t, q]
        else:
            for tile in range(partials.shape[0]):
                acc += partials[tile, sl, t, c * nq + q]
        out[sl, t, c, q] = acc

    return tiles_kernel, reduce_kernel


def _tiles(members: np.ndarray, nt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    per = -(-members.astype(np.int64) // nt)
    start = np.concatenate([[0], np.cumsum(per)]).astype(np.int64)
    coh = np.repeat(np.arange(members.size, dtype=np.int64), per)
    first = (np.arange(start[-1], dtype=np.int64) - start[coh]) * nt
    return coh, first, start


def _keys(seed: int, first: int, n_scen: int, years: int, n_coh: int) -> np.ndarray:
    scen = np.arange(first, first + n_scen, dtype=np.int64)
    keys = np.empty((n_scen, years, n_coh, len(_STREAMS)), dtype=np.uint64)
    for t in range(years):
        for c in range(n_coh):
            for k, stream in enumerate(_STREAMS):
                keys[:, t, c, k] = rng.keys_np(seed, scen, t + 1, c, stream)
    return keys


def simulate_chunk_cuda(seed, first, n_scen, years, slots, family, params, coh, ztab,
                        trend_index, thresholds, block_size, stats, excess, *,
                        threads_per_block: int = DEFAULT_THREADS,
                        max_partial_bytes: int = DEFAULT_PARTIAL_BYTES) -> None:
    """GPU twin of :func:`vbsim.engine.kernel.simulate_chunk` (same arguments, same outputs).

    Adds this chunk's statistics into ``stats[sl, t, c, :]`` (columns
    :data:`vbsim.engine.STATS`) and ``excess[sl, t, c, k]`` for scenarios
    ``first .. first + n_scen - 1`` (row ``sl`` = scenario - first).

    Parameters
    ----------
    seed, first, n_scen, years, slots, family, params, coh, ztab, trend_index, thresholds, \
stats, excess
        As for the CPU kernel (packed by :func:`vbsim.simulate.simulate`).
    block_size : int
        Accepted for signature compatibility and ignored (the GPU tiles members by
        ``threads_per_block``).
    threads_per_block : int
        Members per CUDA block, a power of two in [32, 1024] (default 128).
    max_partial_bytes : int
        Device memory for per-tile partial sums; scenarios run in chunks that fit it.

    Examples
    --------
    >>> cuda_available() or print("no GPU: simulate_chunk_cuda needs one")  # doctest: +SKIP
    True
    """
    del block_size
    nt = int(threads_per_block)
    if nt < 32 or nt > 1024 or nt & (nt - 1):
        raise VbsimInputError(
            f"threads_per_block must be a power of two in [32, 1024]; got {threads_per_block}")
    if not cuda_available():
        raise VbsimInputError("backend 'cuda' needs an NVIDIA GPU visible to numba.cuda; "
                              "none found (use backend='numba')")
    from numba import cuda

    tiles_kernel, reduce_kernel = _kernels(nt)
    slots = np.ascontiguousarray(slots, dtype=np.int64)
    members = slots[:, years - 1].copy()  # every slot ever open gets a thread
    n_coh = members.size
    thr = np.ascontiguousarray(thresholds, dtype=np.float64)
    nq = N_STATS + thr.size
    tile_coh, tile_first, tile_start = _tiles(members, nt)
    n_tiles = int(tile_start[-1])
    if n_tiles == 0 or n_scen == 0:
        return
    coh = np.asarray(coh, dtype=np.float64)
    # with cohort transitions a tile's members can count in any cohort
    nqt = nq * n_coh if coh.shape[1] > C_TRANS and coh[:, C_TRANS:].any() else nq
    per_scen = n_tiles * years * nqt * 8
    chunk = int(max(1, min(65_535, n_scen, max_partial_bytes // per_scen)))
    tab = rng.TABLE
    d = {name: cuda.to_device(np.ascontiguousarray(a)) for name, a in (
        ("slots", slots), ("family", np.asarray(family, dtype=np.int64)),
        ("params", np.asarray(params, dtype=np.float64)),
        ("coh", np.asarray(coh, dtype=np.float64)),
        ("ztab", np.asarray(ztab, dtype=np.float64)),
        ("thr", thr), ("tile_coh", tile_coh), ("tile_first", tile_first),
        ("tile_start", tile_start), ("tab", np.asarray(tab, dtype=np.float64)),
        ("zig", _ZIG))}
    partials = cuda.device_array((n_tiles, chunk, years, nqt))
    for s0 in range(0, n_scen, chunk):
        n = min(chunk, n_scen - s0)
        keys = cuda.to_device(_keys(seed, first + s0, n, years, n_coh))
        trend = cuda.to_device(np.ascontiguousarray(trend_index[s0:s0 + n], dtype=np.float64))
        tiles_kernel[(n_tiles, n), nt](
            keys, d["slots"], d["family"], d["params"], d["coh"], d["ztab"], trend, d["thr"],
            d["tile_coh"], d["tile_first"], d["tab"], d["zig"], partials)
        out = cuda.device_array((n, years, n_coh, nq))
        total = out.size
        reduce_kernel[(total + 255) // 256, 256](partials, d["tile_start"], out)
        res = out.copy_to_host()
        stats[s0:s0 + n] += res[..., :N_STATS]
        excess[s0:s0 + n] += res[..., N_STATS:]
