"""The engine's branch-free special functions: 32-bit inverse normal and exp."""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import special

from vbsim.engine import rng


@njit(cache=True)
def _ninv32_all(u, out):
    for j in range(u.size):
        out[j] = rng.ninv32_nb(u[j])


@njit(cache=True)
def _fexp_all(y, out):
    for j in range(y.size):
        out[j] = rng.fexp_nb(y[j])


def _inputs() -> np.ndarray:
    g = np.random.default_rng(20261123)
    edges = []
    for e in range(32):  # both sides of every octave boundary of p = (q + 1/2) 2^-32
        b = (1 << e) if e else 0
        edges += [max(b - 2, 0), max(b - 1, 0), b, b + 1]
    edges = np.array(edges, dtype=np.int64)
    lo = np.concatenate([np.arange(0, 4096), edges, g.integers(0, 2**31, 200_000)])
    return np.unique(np.concatenate([lo, 4294967295 - lo]))


def test_ninv32_matches_ndtri_everywhere():
    u = _inputs()
    out = np.empty(u.size)
    _ninv32_all(u, out)
    exact = special.ndtri((u + 0.5) * 2.0**-32)
    assert np.max(np.abs(out - exact)) < 5e-11
    assert np.array_equal(out, rng.ninv32_np(u))  # the numpy twin: same values, bit for bit
    # exact symmetry and the range of a 32-bit draw
    assert np.array_equal(out[: u.size // 2], -out[::-1][: u.size // 2])
    assert out.min() == -out.max() and 6.3 < out.max() < 6.35


def test_ninv32_of_uniform_words_is_standard_normal():
    w = rng.words_np(rng.key_int(1, 0, 1, 0, rng.LATENT), np.arange(400_000))
    z = rng.ninv32_np(rng.hi32_np(w))
    se = 1 / np.sqrt(z.size)
    assert abs(z.mean()) < 4 * se and abs(z.var() - 1) < 4 * np.sqrt(2) * se
    # and the lower halves are uniform (exit draws): Kolmogorov-Smirnov
    from scipy import stats

    assert stats.kstest(rng.unit32_np(rng.lo32_np(w)), "uniform").pvalue > 1e-3


def test_fexp_relative_error():
    y = np.concatenate([np.linspace(-700, 700, 200_001),
                        np.random.default_rng(3).normal(0, 3, 100_000)])
    out = np.empty_like(y)
    _fexp_all(y, out)
    assert np.max(np.abs(out / np.exp(y) - 1)) < 2e-13
