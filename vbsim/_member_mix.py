"""numba kernels for :class:`vbsim.exact.YearOneMember`: its node sums in one compiled pass.

A population member in exact mode is a mixture over ~24 risk nodes (x 41 prior tenures with
ageing: ~900 nodes) of a member who stays (cost ``a X``), dies (``b X + eol``, ``b = a
uplift``) or leaves (``a X U``). Its ``lev``, cdf and stop-loss premium are sums over the nodes
of interpolations in the cost model's log-spaced tables; built on 2^15 points, in numpy that
took ~100 million node-point evaluations of a dozen array passes each (4.5-11 s for a cohort
with ageing). This module does the same sums point by point in one compiled loop.

The formulas are those of the numpy helpers they replace, written once here:

- ``lev`` of ``X`` at ``v``: ``P(X > 0) v`` below the table, the table (linear in ``log v``),
  the mean above it; the leavers' ``E[min(b U X, d)] = (d^2/b) int_{d/b}^inf lev(s)/s^3 ds``;
- cdf of ``X``: ``1 - P(X > 0)`` below, the table, 1 above; the leavers'
  ``P(b U X <= y) = 1 - (y/b) int_{y/b}^inf S(s)/s^2 ds``;
- premium ``pi`` of ``X``: ``mean - P(X > 0) v`` below, ``exp`` of the table in log-log, and
  above the table ``exp`` of a second log-log table of the model's own premium (closed form),
  2^13 points up to 10^40 times the top, then the last slope (a power law); the leavers'
  ``E[(b U X - d)+] = (d^2/b) int_{d/b}^inf pi(s)/s^3 ds``, beyond the table
  ``pi(v) / ((2 + beta) v^2)`` with ``beta`` the premium's log-log slope at the table's end.
  The premiums beyond the table are added in a second pass over the points: inside the main
  loop, those branches (never taken for most node-points) made every node-point 1.7-3x slower.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

LEV, CDF, PI = 0, 1, 2


@njit(cache=True, inline="always")
def _interp(x: float, xp: np.ndarray, fp: np.ndarray, x0: float, inv_dx: float) -> float:
    """``np.interp(x, xp, fp)`` for a near-uniform grid ``xp`` (cell found by arithmetic,
    then corrected by at most a step or two; ends held)."""
    n = xp.size
    if x <= xp[0]:
        return fp[0]
    if x >= xp[n - 1]:
        return fp[n - 1]
    j = min(max(int((x - x0) * inv_dx), 0), n - 2)
    while j > 0 and xp[j] > x:
        j -= 1
    while j < n - 2 and xp[j + 1] <= x:
        j += 1
    return fp[j] + (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]) * (x - xp[j])


@njit(cache=True, inline="always")
def _far_log_pi(lv: float, lxf: np.ndarray, lpf: np.ndarray, f0: float, fi: float,
                slope: float) -> float:
    """``log`` of the model's premium beyond the cost table, from its log-log table ``(lxf,
    lpf)``; beyond that table, its last slope (a power law)."""
    if lv >= lxf[lxf.size - 1]:
        return lpf[lpf.size - 1] + slope * (lv - lxf[lxf.size - 1])
    return _interp(lv, lxf, lpf, f0, fi)


@njit(cache=True, inline="always")
def _levx(v, lv, lx, levt, x0, ix, lo, hi, mx, s0):
    """E[min(X, v)] (``lv = log v``)."""
    if v <= lo:
        return s0 * max(v, 0.0)
    return mx if v >= hi else _interp(lv, lx, levt, x0, ix)


@njit(cache=True, inline="always")
def _cdfx(v, lv, lx, sft, x0, ix, lo, hi, s0):
    """P(X <= v)."""
    if v < 0.0:
        return 0.0
    if v <= lo:
        return 1.0 - s0
    return 1.0 if v >= hi else 1.0 - _interp(lv, lx, sft, x0, ix)


@njit(cache=True, inline="always")
def _pix_near(v, lv, lx, lpit, x0, ix, lo, hi, mx, s0):
    """E[(X - v)+] up to the table's top (the table in log-log); 0 beyond it, where
    :func:`member_mix`'s second pass adds the far table's value."""
    if v <= lo:
        return mx - s0 * max(v, 0.0)
    if v >= hi:
        return 0.0
    return math.exp(_interp(lv, lx, lpit, x0, ix))


@njit(cache=True, nogil=True)
def member_mix(what: int, y: np.ndarray, a: np.ndarray, w: np.ndarray, m: np.ndarray,
               st: np.ndarray, churn: float, uplift: float, eol: float, tab: np.ndarray,
               lo: float, hi: float, mx: float, s0: float, far: np.ndarray,
               has_far: bool) -> np.ndarray:
    """Sum over the nodes ``(a, w, m, st)`` of the member's ``lev`` (``what = LEV``), cdf
    (``CDF``) or stop-loss premium (``PI``) at each ``y``.

    ``tab`` rows: log cost grid, ``lev``, survival function, ``log pi``, and the tails
    ``g = int lev/s^3``, ``h = int S/s^2``, ``k = int pi/s^3`` from each point, ``log k``;
    ``far`` rows: the log-log premium table beyond ``hi`` (used where ``has_far``).
    """
    lx, levt, sft, lpit, gt, ht, kt, lkt = (tab[0], tab[1], tab[2], tab[3], tab[4], tab[5],
                                             tab[6], tab[7])
    n = lx.size
    x0, ix = lx[0], (n - 1) / (lx[n - 1] - lx[0])
    lxf, lpf = far[0], far[1]
    f0, fi = lxf[0], (lxf.size - 1) / (lxf[lxf.size - 1] - lxf[0])
    slope_f = min((lpf[lpf.size - 1] - lpf[lpf.size - 2]) / (lxf[lxf.size - 1] - lxf[lxf.size - 2]),
                  0.0)
    beta = max(-(lpit[n - 1] - lpit[n - 2]) / (lx[n - 1] - lx[n - 2]), 0.0)
    la = np.log(a)
    lb = np.log(np.maximum(a * uplift, 1e-300))
    out = np.zeros(y.size)
    for i in range(y.size):
        d = y[i]
        pos = max(d, 0.0)
        ly = math.log(max(pos, 1e-300))
        ye = max(d - eol, 0.0)
        lye = math.log(max(ye, 1e-300))
        tot = 0.0
        for q in range(a.size):
            aq = a[q]
            v = pos / aq
            lv = ly - la[q]
            b = aq * uplift
            part = 0.0
            if what == LEV:
                part = st[q] * aq * _levx(v, lv, lx, levt, x0, ix, lo, hi, mx, s0)
                if m[q] > 0.0:
                    if b == 0.0:
                        part += m[q] * min(d, eol)
                    elif d > eol:
                        ld = _levx(ye / b, lye - lb[q], lx, levt, x0, ix, lo, hi, mx, s0)
                        part += m[q] * (eol + b * ld)
                    else:
                        part += m[q] * d
                if churn > 0.0:
                    if v >= hi:
                        lc = mx * aq / 2.0
                    elif d <= 0.0:
                        lc = 0.0
                    else:
                        g = (s0 * (1.0 / max(v, 1e-300) - 1.0 / lo) + gt[0] if v < lo
                             else _interp(lv, lx, gt, x0, ix))
                        lc = d * d / aq * g
                    part += churn * lc
            elif what == CDF:
                part = st[q] * _cdfx(v, lv, lx, sft, x0, ix, lo, hi, s0)
                if m[q] > 0.0:
                    if b == 0.0:
                        part += m[q] * (1.0 if d >= eol else 0.0)
                    elif d >= eol:
                        part += m[q] * _cdfx(ye / b, lye - lb[q], lx, sft, x0, ix, lo, hi, s0)
                if churn > 0.0:
                    if d < 0.0:
                        cc = 0.0
                    elif v >= hi:
                        cc = 1.0
                    else:
                        hv = (s0 * (1.0 / max(v, 1e-300) - 1.0 / lo) + ht[0] if v < lo
                              else _interp(lv, lx, ht, x0, ix))
                        cc = 1.0 - v * hv
                    part += churn * cc
            else:  # PI, up to the table's top (the far tail: second pass below)
                part = st[q] * aq * _pix_near(v, lv, lx, lpit, x0, ix, lo, hi, mx, s0)
                if m[q] > 0.0:
                    if b == 0.0:
                        part += m[q] * max(eol - d, 0.0)
                    elif d > eol:
                        pd = _pix_near(ye / b, lye - lb[q], lx, lpit, x0, ix, lo, hi, mx, s0)
                        part += m[q] * b * pd
                    else:
                        part += m[q] * (b * mx + eol - d)
                if churn > 0.0:
                    if d <= 0.0:
                        pc = mx * aq / 2.0 - d
                    elif v >= hi:
                        pc = 0.0
                    else:
                        if v < lo:
                            iv = 1.0 / max(v, 1e-300)
                            k = (0.5 * mx * (iv * iv - 1.0 / (lo * lo)) - s0 * (iv - 1.0 / lo)
                                 + kt[0])
                        else:
                            k = math.exp(_interp(lv, lx, lkt, x0, ix))
                        pc = d * d / aq * k
                    part += churn * pc
            tot += w[q] * part
        out[i] = tot
    if what == PI and has_far:
        # the premium beyond the table's top, from the model's own far table: a pass of its
        # own, because with these branches in the loop above every node-point paid for them
        # (100-200 against 55-80 ns a node-point, 1 thread; benchmarks/README.md)
        for i in range(y.size):
            d = y[i]
            if not d > 0.0:
                continue
            ly = math.log(d)
            ye = max(d - eol, 0.0)
            lye = math.log(max(ye, 1e-300))
            tot = 0.0
            for q in range(a.size):
                aq = a[q]
                b = aq * uplift
                part = 0.0
                v = d / aq  # (the same tests as the first pass: each part is added once)
                if v >= hi:  # stays and leavers beyond the table
                    pv = math.exp(_far_log_pi(ly - la[q], lxf, lpf, f0, fi, slope_f))
                    part = st[q] * aq * pv
                    if churn > 0.0:
                        k = pv / ((2.0 + beta) * v * v)
                        part += churn * (d * d / aq * k)
                if m[q] > 0.0 and b != 0.0 and d > eol and ye / b >= hi:  # deaths beyond it
                    pd = math.exp(_far_log_pi(lye - lb[q], lxf, lpf, f0, fi, slope_f))
                    part += m[q] * b * pd
                tot += w[q] * part
            out[i] += tot
    return out
