"""Plain-numpy implementation of the engine's model: the executable specification.

Same random streams (:mod:`vbsim.engine.rng`), same formulas and the same statistics as the numba
kernel (:func:`vbsim.engine.kernel.simulate_chunk`), vectorised over the members of a cohort
(in chunks of ``block`` members) for one scenario-year at a time. The numba kernel must agree
with it to rounding (the test suite checks ~1e-9 relative); it is also the speed baseline.

Per member slot ``i`` of cohort ``c`` in scenario ``s`` and year ``t`` (docs/engine.md), with
``W = word(LATENT)`` (one 64-bit word per member-year), ``N_latent = znorm32(W)`` (a normal
from the upper 32 bits of ``W`` by the ziggurat method, :mod:`vbsim.engine.rng`) and
``U = (W mod 2^32 + 1/2) 2^-32``:

- slot ``i`` opens in the first year ``t`` with ``i < slots[c, t]`` (year 1: the starting
  members; later: joiners from net growth);
- an entrant (an opening slot, or a refilled exit) draws ``z = N_latent`` and
  ``r = exp(risk_sd N_risk - risk_sd^2 / 2)`` (``N_risk = znorm32(word(RISK))``), death
  probability ``mraw = mortality r``; a staying member moves
  ``z <- rho z + sqrt(1 - rho^2) N_latent`` and ages: ``r <- r (1 + risk_ageing)``,
  ``mraw <- mraw (1 + mortality_ageing)``;
- cost ``x = Q(z) r trend_index[s, t]`` with ``Q`` the cost model's quantile map;
- with ``m = min(mraw, 1 - churn)``: death if ``U < m`` (time ``f = U / m``, cost
  ``x eol_uplift + eol_cost trend_index[s, t]``); leaving if ``m <= U < m + churn`` (time
  ``f = (U - m) / churn``, cost ``x f``); otherwise ``f = 1``; member-months ``12 f``;
- with ageing on and ``stationary_start``, a starting member (year 1) first ages by a prior
  tenure ``A = min(floor(log U_A / log(1 - q)), 40)``, ``q = m + churn`` at entry, ``U_A`` from
  the lower half of ``word(RISK)``: ``r <- r (1 + risk_ageing)^A``, likewise ``mraw``;
- an exit is refilled at the start of the next year with probability ``replacement`` (the
  upper half of ``word(REPLACE)`` as a uniform); otherwise the slot stays empty;
- cohort transitions (year 2 on): a continuing member now in cohort ``k`` moves to the first
  ``d`` with ``U_T < cum[k, d]`` (``U_T`` from the upper half of ``word(TRANSIT)``, ``cum`` the
  cumulative transition probabilities, times ``exp(beta_k z - beta_k^2 / 2)`` for the rank
  effect ``beta_k``, ``z`` last year's rank); ``mraw <- mraw m_d / m_k`` (``m_d r`` if
  ``m_k = 0``).
  A member moved out of its slot's cohort keeps ``z`` and ``r``, moves
  ``z <- rho_d z + sqrt(1 - rho_d^2) N_latent``, ages by ``d``'s factors and is priced,
  exited and counted with ``d``'s parameters (same words); its slot is refilled by the slot's
  own cohort.
"""

from __future__ import annotations

import math

import numpy as np

from vbsim.engine import rng, ztable
from vbsim.engine.kernel import (
    C_CHURN,
    C_EOL,
    C_MORT,
    C_MORT_AGE,
    C_RHO,
    C_RISK_AGE,
    C_TBETA,
    C_TCONST,
    C_TRANS,
    C_TRISK,
    C_UPLIFT,
    COST,
    DEATHS,
    LEAVERS,
    MM,
    NEW,
    RISK_MM,
    START,
    TENURE_MAX,
)


def member_cost_np(fam: int, p: np.ndarray, z: np.ndarray, kc: int, idx: np.ndarray,
                   row: np.ndarray | None = None) -> np.ndarray:
    """Vectorised twin of :func:`vbsim.engine.kernel.member_cost`.

    With a Spliced table ``row`` (:mod:`vbsim.engine.ztable`), the tabulated map inside the
    table's range and the exact one outside it, as the kernel does.

    >>> mu, sigma = np.log(100.0), 0.5                  # lognormal (family 0): exp(mu + sigma z)
    >>> member_cost_np(0, np.array([mu, sigma]), np.array([0.0, 2.0]), 0, np.arange(2)).round(4)
    array([100.    , 271.8282])
    """
    if fam == 0:
        return np.exp(p[0] + p[1] * z)
    if fam == 1 and row is not None and row[2] > 0:
        z = np.asarray(z, dtype=float)
        x = ztable.table_cost_np(row, z)
        out = member_cost_np(fam, p, z, kc, idx)
        inside = (z >= row[0]) & (z < row[3])
        return np.where(z < p[7], 0.0, np.where(inside, x, out))
    if fam == 1:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            sp = rng.sf_np(z) / (1.0 - p[0])
            w = sp / p[3] if p[3] > 0 else np.ones_like(sp)
            if p[6] == 0.0:
                tail = p[4] - p[5] * np.log(w)
            else:
                tail = p[4] + p[5] / p[6] * (w ** (-p[6]) - 1.0)
            if p[0] == 0.0:
                body = np.exp(p[1] + p[2] * z)
            else:
                body = np.exp(p[1] - p[2] * rng.ninv_np(np.clip(sp, 1e-300, 1.0)))
        return np.where(z < p[7], 0.0, np.where(sp < p[3], tail, body))
    # CompoundPoisson
    u = rng.phi_np(z)
    pk = math.exp(-p[0])
    cum = [pk]
    n = 0
    while pk > 0.0 and cum[-1] < 1.0:
        n += 1
        pk *= p[0] / n
        cum.append(cum[-1] + pk)
    counts = np.searchsorted(np.asarray(cum), u, side="left")
    tot = np.zeros(z.shape)
    if counts.size and counts.max() > 0:
        h = rng.words_np(kc, idx)
        for k in range(int(counts.max())):
            has = counts > k
            w = rng.mix_np(h[has] + np.uint64(((k + 1) * rng.G) & rng.MASK))
            tot[has] += np.exp(p[1] + p[2] * rng.ninv_np(rng.to_unit_np(w)))
    return tot


def prior_tenure_np(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Vectorised twin of :func:`vbsim.engine.kernel.prior_tenure`.

    Geometric years already enrolled, ``floor(log u / log(1 - q))`` (0 when ``q`` is 0 or 1):

    >>> prior_tenure_np(np.array([0.5, 0.5, 0.5]), np.array([0.5, 0.0, 0.1])).tolist()
    [1.0, 0.0, 6.0]
    """
    q = np.asarray(q, dtype=float)
    ok = (q > 0.0) & (q < 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # q -> 0: inf, capped
        a = np.minimum(np.floor(np.log(u) / np.log1p(-np.where(ok, q, 0.5))), TENURE_MAX)
    return np.where(ok, a, 0.0)


def simulate_reference(seed, first, n_scen, years, slots, family, params, coh, ztab,
                       trend_index, thresholds, stats, excess, block=1 << 16):
    """Fill ``stats`` and ``excess`` exactly as the numba kernel does (same arguments)."""
    thr = np.asarray(thresholds, dtype=float)
    n_coh = slots.shape[0]
    cum = coh[:, C_TRANS:C_TRANS + n_coh] if coh.shape[1] > C_TRANS else np.zeros((n_coh, 1))
    for sl in range(n_scen):
        s = first + sl
        for c in range(slots.shape[0]):
            fam, p = int(family[c]), params[c]
            sr, rc, mc, uc, cc, rep, ra, ma, eol, stat = (float(v) for v in coh[c, :C_TBETA])
            moves = cum[c, -1] > 0.0
            seasoned = stat > 0 and (ra != 1.0 or ma != 1.0)
            ac = math.sqrt(1.0 - rc * rc)
            cap_n = int(slots[c, years - 1])
            for b0 in range(0, cap_n, block):
                idx = np.arange(b0, min(cap_n, b0 + block), dtype=np.uint64)
                occ = np.full(idx.size, 3, dtype=np.int8)
                z = np.zeros(idx.size)
                r = np.zeros(idx.size)
                mraw = np.zeros(idx.size)
                cur = np.full(idx.size, c)
                for t in range(years):
                    def words(stream: int, key=(seed, s, t + 1, c), idx=idx) -> np.ndarray:
                        return rng.words_np(rng.key_int(*key, stream), idx)

                    occ[(occ == 3) & (idx < slots[c, t])] = 2
                    fresh = np.zeros(idx.size, dtype=bool)
                    if moves and t > 0:
                        occ, cur, mraw, fresh = _moves(occ, cur, mraw, r, z, c, cum, coh,
                                                       words(rng.TRANSIT))
                    moved = occ == 4
                    act = (occ == 1) | (occ == 2)
                    new = occ == 2
                    stay = occ == 1
                    w = words(rng.LATENT)
                    e = rng.znorm32_np(w)
                    rn = np.exp(sr * rng.znorm32_np(words(rng.RISK)) - 0.5 * sr * sr)
                    if t > 0:
                        r = np.where(stay, r * ra, r)
                        mraw = np.where(stay, mraw * ma, mraw)
                    rd = coh[cur, C_RHO]
                    z = np.where(new, e, np.where(moved, rd * z + np.sqrt(1.0 - rd * rd) * e,
                                                  rc * z + ac * e))
                    r = np.where(new, rn, r)
                    mraw = np.where(new, mc * rn, mraw)
                    if t == 0 and seasoned:  # stationary prior tenure of starting members
                        a = prior_tenure_np(rng.unit32_np(rng.lo32_np(words(rng.RISK))),
                                            np.minimum(mraw, 1.0 - cc) + cc)
                        start = new & (idx < slots[c, 0])
                        r = np.where(start, r * ra**a, r)
                        mraw = np.where(start, mraw * ma**a, mraw)
                    mort = np.minimum(mraw, 1.0 - cc)
                    kc = rng.key_int(seed, s, t + 1, c, rng.CLAIM)
                    x = member_cost_np(fam, p, z, kc, idx, ztab[c]) * r * trend_index[sl, t]
                    ue = rng.unit32_np(rng.lo32_np(w))
                    dead = act & (ue < mort)
                    left = act & ~dead & (ue < mort + cc)
                    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                        f = np.where(dead, ue / mort, np.where(left, (ue - mort) / cc, 1.0))
                    x = np.where(dead, x * uc + eol * trend_index[sl, t],
                                 np.where(left, x * f, x))
                    mm = 12.0 * f
                    out = stats[sl, t, c]
                    out[MM] += mm[act].sum()
                    out[COST] += x[act].sum()
                    out[RISK_MM] += (r * mm)[act].sum()
                    out[DEATHS] += dead.sum()
                    out[LEAVERS] += left.sum()
                    out[START] += act.sum()
                    if t > 0:
                        out[NEW] += new.sum()
                    xa = x[act]
                    for k in range(thr.size):
                        excess[sl, t, c, k] += np.maximum(xa - thr[k], 0.0).sum()
                    gone = dead | left
                    if moved.any():
                        r, mraw, gone_m = _moved_year(
                            moved, cur, r, mraw, z, ue, fresh, kc, idx, sl, t, family, params,
                            coh, ztab, trend_index[sl, t], thr, stats, excess)
                        gone = gone | gone_m
                    if rep >= 1.0:
                        refill = gone
                    else:
                        refill = gone & (rng.unit32_np(rng.hi32_np(words(rng.REPLACE))) < rep)
                    live = (act | moved) & ~gone
                    occ = np.where(live, np.where(moved, 4, 1),
                                   np.where(refill, 2, np.where(act | moved, 0, occ)))
                    occ = occ.astype(np.int8)


def _moves(occ, cur, mraw, r, z, c, cum, coh, w):
    """Start-of-year transitions of a block's continuing members (see the module notes)."""
    cont = (occ == 1) | (occ == 4)
    k = np.where(occ == 1, c, cur)
    u = rng.unit32_np(rng.hi32_np(w))
    tb, ta, tk = coh[k, C_TBETA], coh[k, C_TRISK], coh[k, C_TCONST]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        y = tb * z + tk + np.where(ta != 0.0, ta * np.log(np.where(cont, r, 1.0)), 0.0)
        g = np.where((tb == 0.0) & (ta == 0.0), 1.0, np.exp(np.clip(y, -700.0, 700.0)))
    below = u[:, None] < g[:, None] * cum[k]
    d = np.where(below.any(axis=1), np.argmax(below, axis=1), k)
    mv = cont & (d != k)
    mk, md = coh[k, C_MORT], coh[d, C_MORT]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mraw = np.where(mv, np.where(mk > 0.0, mraw * (md / mk), md * r), mraw)
    occ = np.where(mv, np.where(d == c, 1, 4), occ).astype(np.int8)
    cur = np.where(mv, d, cur)
    return occ, cur, mraw, mv & (d != c)


def _moved_year(moved, cur, r, mraw, z, ue, fresh, kc, idx, sl, t, family, params, coh, ztab,
                tr, thr, stats, excess):
    """Members moved out of their slot's cohort, priced and counted in their new cohorts."""
    r = np.where(moved, r * coh[cur, C_RISK_AGE], r)
    mraw = np.where(moved, mraw * coh[cur, C_MORT_AGE], mraw)
    gone = np.zeros(moved.size, dtype=bool)
    for d in np.unique(cur[moved]):
        m = moved & (cur == d)
        cc = coh[d, C_CHURN]
        mort = np.minimum(mraw[m], 1.0 - cc)
        x = member_cost_np(int(family[d]), params[d], z[m], kc, idx[m], ztab[d]) * r[m] * tr
        u = ue[m]
        dead = u < mort
        left = ~dead & (u < mort + cc)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            f = np.where(dead, u / mort, np.where(left, (u - mort) / cc, 1.0))
        x = np.where(dead, x * coh[d, C_UPLIFT] + coh[d, C_EOL] * tr, np.where(left, x * f, x))
        mm = 12.0 * f
        out = stats[sl, t, d]
        out[MM] += mm.sum()
        out[COST] += x.sum()
        out[RISK_MM] += (r[m] * mm).sum()
        out[DEATHS] += dead.sum()
        out[LEAVERS] += left.sum()
        out[START] += m.sum()
        out[NEW] += fresh[m].sum()
        for q in range(thr.size):
            excess[sl, t, d, q] += np.maximum(x - thr[q], 0.0).sum()
        gone[m] = dead | left
    return r, mraw, gone
