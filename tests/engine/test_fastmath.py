"""The engine's fast special functions: the ziggurat's 32-bit normals and exp."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit
from scipy import special, stats

from vbsim.engine import rng


@njit(cache=True)
def _znorm_all(w, out):
    for j in range(w.size):
        out[j] = rng.znorm32_nb(np.int64(w[j] >> np.uint64(32)), w[j])


@njit(cache=True)
def _znorm_hist(key, n, lo, hi, counts, tail):
    """Histogram of n engine normals from the words of ``key`` (bins of equal width on
    [lo, hi); the outer bins also take everything beyond); ``tail``: the number of draws with
    ``|z| > R``, the sum of ``|z| - R`` over them and of its square."""
    nb = counts.size
    for j in range(n):
        w = rng.word_nb(key, j)
        z = rng.znorm32_nb(np.int64(w >> np.uint64(32)), w)
        b = min(max(int(math.floor((z - lo) / (hi - lo) * nb)), 0), nb - 1)
        counts[b] += 1
        e = abs(z) - rng.ZIG_R
        if e > 0.0:
            tail[0] += 1.0
            tail[1] += e
            tail[2] += e * e


@njit(cache=True)
def _fexp_all(y, out):
    for j in range(y.size):
        out[j] = rng.fexp_nb(y[j])


def test_ziggurat_tables_cover_the_normal_density():
    """Each of the N layers has area V (the base layer with the tail beyond R), the top one
    included, so the recursion from R closes at x = 0; they cover exp(-x^2/2) on [0, inf)
    (area sqrt(pi / 2)) with the wedges' rejected part to spare: 0.19% for 1,024 layers."""
    n, m = rng.ZIG_N, 2.0 ** (31 - rng.ZIG_BITS)
    k, w, f = rng.ZIG_KW[0::2], rng.ZIG_KW[1::2], rng.ZIG_F
    assert k.size == n and f.size == n
    x = w * m  # right edges x_i; x_0 is the base layer's virtual width V / f(R)
    areas = x[1:] * (np.concatenate([[1.0], f[1:-1]]) - f[1:])
    assert np.allclose(areas, rng.ZIG_V, rtol=1e-9, atol=0)
    tail = math.sqrt(2 * math.pi) * special.ndtr(-rng.ZIG_R)
    assert abs(rng.ZIG_R * f[n - 1] + tail - rng.ZIG_V) < 1e-9 * rng.ZIG_V
    assert 0.998 < math.sqrt(math.pi / 2) / (n * rng.ZIG_V) < 1.0
    # the fast path accepts u < K_i exactly when u W_i < x_(i-1) (to the magnitude grid)
    assert np.all(np.abs(k[2:] / m - x[1:-1] / x[2:]) <= 1 / m)
    assert k[1] == 0 and abs(k[0] / m - rng.ZIG_R / x[0]) <= 1 / m


def _crafted_words() -> np.ndarray:
    """Words whose upper halves hit every layer at magnitudes around its bound K_i (so every
    wedge and the tail take the fix-up), both signs, plus random words."""
    h, b, top = [], rng.ZIG_BITS, 2 ** (31 - rng.ZIG_BITS) - 1
    for i in range(rng.ZIG_N):
        kb = int(rng.ZIG_KW[2 * i])
        for u in {0, max(kb - 1, 0), kb, min(kb + 1, top), top}:
            for sign in (0, 1):
                h.append((u << (b + 1)) | (sign << b) | i)
    h = np.array(h, dtype=np.uint64)
    lo = np.random.default_rng(7).integers(0, 2**32, h.size, dtype=np.uint64)
    rand = rng.words_np(rng.key_int(5, 0, 1, 0, rng.LATENT), np.arange(300_000))
    return np.concatenate([(h << np.uint64(32)) | lo, rand])


def test_znorm32_twins_agree_bit_for_bit():
    w = _crafted_words()
    a = np.empty(w.size)
    _znorm_all(w, a)
    b = np.empty(w.size)
    flag = np.empty(w.size, dtype=np.int64)
    rng.znorm32_fill_nb(w, w.size, b, flag)
    assert np.array_equal(a, b) and np.array_equal(a, rng.znorm32_np(w))
    assert np.isfinite(a).all()
    # the crafted words reach the fix-up in every layer, the tail included
    n = 10 * rng.ZIG_N
    assert flag[:n].sum() > 4 * rng.ZIG_N and np.abs(a[:n]).max() > rng.ZIG_R


@pytest.mark.slow
def test_znorm32_is_standard_normal():
    """50 million engine normals against the exact normal: binned chi-square (240 bins of
    0.05 on [-6, 6]); the tail beyond R, which only the fix-up produces: its probability and
    its mean excess E[|Z| - R | |Z| > R] = phi(R) / Phi(-R) - R, each within 4 SE (an
    exponential tail without the acceptance test would be ~7 SE off)."""
    n, lo, hi, nb = 50_000_000, -6.0, 6.0, 240
    counts, tail = np.zeros(nb), np.zeros(3)
    _znorm_hist(np.uint64(rng.key_int(20261123, 0, 1, 0, rng.LATENT)), n, lo, hi, counts, tail)
    edges = np.linspace(lo, hi, nb + 1)
    cdf = special.ndtr(edges)
    cdf[0], cdf[-1] = 0.0, 1.0
    e = np.diff(cdf) * n
    chi2 = float(((counts - e) ** 2 / e).sum())
    assert stats.chi2.sf(chi2, nb - 1) > 1e-4, chi2
    # P(|z| > 3.65), from the bins beyond +-3.65 (edges at multiples of 0.05)
    out = (edges[1:] <= -3.65) | (edges[:-1] >= 3.65)
    p = 2 * special.ndtr(-3.65)
    assert abs(counts[out].sum() / n - p) < 4 * math.sqrt(p * (1 - p) / n)
    r = rng.ZIG_R
    assert abs(tail[0] / n - 2 * special.ndtr(-r)) < 4 * math.sqrt(2 * special.ndtr(-r) / n)
    me = tail[1] / tail[0]
    se = math.sqrt((tail[2] / tail[0] - me * me) / tail[0])
    exact = stats.norm.pdf(r) / special.ndtr(-r) - r
    assert abs(me - exact) < 4 * se, (me, exact, se)


def test_engine_words_are_uniform():
    """The normals' words: their lower halves (the exit draws) are uniform (KS), and the
    normals of 400,000 of them have mean 0 and variance 1 within 4 SE."""
    w = rng.words_np(rng.key_int(1, 0, 1, 0, rng.LATENT), np.arange(400_000))
    z = rng.znorm32_np(w)
    se = 1 / np.sqrt(z.size)
    assert abs(z.mean()) < 4 * se and abs(z.var() - 1) < 4 * np.sqrt(2) * se
    assert stats.kstest(rng.unit32_np(rng.lo32_np(w)), "uniform").pvalue > 1e-3


def test_fexp_relative_error():
    y = np.concatenate([np.linspace(-700, 700, 200_001),
                        np.random.default_rng(3).normal(0, 3, 100_000)])
    out = np.empty_like(y)
    _fexp_all(y, out)
    assert np.max(np.abs(out / np.exp(y) - 1)) < 2e-13
