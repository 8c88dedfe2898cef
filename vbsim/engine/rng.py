"""Counter-based random numbers: one seed, identical draws whatever the threads or blocks.

Every uniform is a pure function of ``(seed, scenario, year, cohort, stream, member)``:

1. ``key = mix(mix(mix(seed ^ SALT) + (scenario + 1) * G) ^ (year << 32 | cohort << 8 | stream))``
   is computed once per (scenario, year, cohort, stream);
2. the member's 64-bit word is ``mix(key + (member + 1) * G)`` (the splitmix64 output function
   applied to a Weyl sequence with increment ``G``), and a claim's word inside a member is
   ``mix(word + (claim + 1) * G)``;
3. a uniform in (0, 1) is ``(word >> 11) * 2^-53 + 2^-54`` (never 0 or 1).

``mix`` is the splitmix64 finaliser (Steele, Lea & Flood 2014; constants from Vigna's
``splitmix64.c``). No state is carried between draws, so the order in which threads or blocks
visit members cannot change any number. Normals come from :func:`ninv_nb` / :func:`ninv_np`: a
cubic Hermite table of the exact quantile for P_LOW <= u <= P_HIGH (error < 1e-10) and Acklam's
rational approximation in the two tails (relative error < 1.2e-9). Each function exists twice:
numba (``*_nb``, scalar, used in kernels) and numpy (vectorised, used by the reference and the
drivers); they agree to the last bit on the integer part and to ~1 ulp on the floating part.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
from scipy import special

MASK = (1 << 64) - 1
SALT = 0x5EED_0F_7B5E_5A1D  # arbitrary constant so seed 0 is not the all-zero state
G = 0x9E3779B97F4A7C15  # golden-ratio Weyl increment (splitmix64)
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB

# Stream ids (< 256). Member streams:
LATENT, EXIT, RISK, CLAIM, REPLACE, TRANSIT = 1, 2, 3, 4, 5, 6
# Scenario-driver streams (cohort slot DRIVER_COHORT):
TREND, SHOCK, BENCH, QUALITY = 11, 12, 13, 14
DRIVER_COHORT = 0xFFFFFF

_G = np.uint64(G)
_M1 = np.uint64(M1)
_M2 = np.uint64(M2)
_SALT = np.uint64(SALT)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_S8 = np.uint64(8)
_ONE = np.uint64(1)
TWO53 = 2.0**-53
HALF53 = 2.0**-54


# ----------------------------------------------------------------------------- python ints
def mix_int(x: int) -> int:
    """splitmix64 finaliser on a Python int (exact 64-bit wrap).

    >>> hex(mix_int(0))
    '0x0'
    >>> mix_int(1) == int(mix_np(np.array([1], dtype=np.uint64))[0])
    True
    """
    x &= MASK
    x = ((x ^ (x >> 30)) * M1) & MASK
    x = ((x ^ (x >> 27)) * M2) & MASK
    return x ^ (x >> 31)


def key_int(seed: int, scenario: int, year: int, cohort: int, stream: int) -> int:
    """Stream key for one (scenario, year, cohort, stream)."""
    h = mix_int(seed ^ SALT)
    h = mix_int(h + (scenario + 1) * G)
    return mix_int(h ^ ((year << 32) | (cohort << 8) | stream))


# ----------------------------------------------------------------------------- numpy
def mix_np(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wraps modulo 2^64)."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def keys_np(seed: int, scenarios: np.ndarray, year: int, cohort: int, stream: int) -> np.ndarray:
    """Stream keys for many scenarios (uint64 array)."""
    s = np.asarray(scenarios, dtype=np.uint64)
    h0 = np.uint64(mix_int(seed ^ SALT))
    h = mix_np(h0 + (s + _ONE) * _G)
    return mix_np(h ^ np.uint64((year << 32) | (cohort << 8) | stream))


def words_np(key: int | np.ndarray, counters: np.ndarray) -> np.ndarray:
    """64-bit words ``mix(key + (counter + 1) G)``."""
    c = np.asarray(counters, dtype=np.uint64)
    return mix_np(np.asarray(key, dtype=np.uint64) + (c + _ONE) * _G)


def to_unit_np(w: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1) from 64-bit words."""
    return (w >> _S11).astype(np.float64) * TWO53 + HALF53


_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)
P_LOW = 0.02425
P_HIGH = 1.0 - P_LOW


# Central region P_LOW <= p <= P_HIGH: cubic Hermite interpolation of the exact quantile on a
# grid of NTAB cells in p (values and h-scaled derivatives, interleaved); max error 6e-11 in z.
NTAB = 4096


def _make_table() -> np.ndarray:
    k = np.arange(NTAB + 1)
    with np.errstate(divide="ignore", over="ignore"):
        t = special.ndtri(k / NTAB)
        d = math.sqrt(2.0 * math.pi) * np.exp(0.5 * t * t) / NTAB
    t[0], t[-1], d[0], d[-1] = 0.0, 0.0, 0.0, 0.0  # never used (outside the central region)
    out = np.empty(2 * (NTAB + 1))
    out[0::2], out[1::2] = t, d
    return out


TABLE = _make_table()


def ninv_central_np(p: np.ndarray) -> np.ndarray:
    """Table part of :func:`ninv_np` (valid for P_LOW <= p <= P_HIGH)."""
    v = p * float(NTAB)
    k = v.astype(np.int64)
    f = v - k
    t0, d0, t1, d1 = TABLE[2 * k], TABLE[2 * k + 1], TABLE[2 * k + 2], TABLE[2 * k + 3]
    f2 = f * f
    f3 = f2 * f
    return ((2.0 * f3 - 3.0 * f2 + 1.0) * t0 + (f3 - 2.0 * f2 + f) * d0
            + (3.0 * f2 - 2.0 * f3) * t1 + (f3 - f2) * d1)


def ninv_np(p: np.ndarray) -> np.ndarray:
    """Inverse normal, vectorised: table in the centre, Acklam's rational in the tails.

    Same operations as :func:`ninv_nb`.

    >>> float(abs(ninv_np(np.array([0.975]))[0] - 1.959963984540054)) < 1e-10
    True
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.empty_like(p)
    lo = p < P_LOW
    hi = p > P_HIGH
    mid = ~(lo | hi)
    out[mid] = ninv_central_np(p[mid])
    c, d = _C, _D
    for mask, sign, src in ((lo, 1.0, p[lo]), (hi, -1.0, 1.0 - p[hi])):
        q = np.sqrt(-2.0 * np.log(src))
        out[mask] = sign * ((((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0))
    return out


def phi_np(z: np.ndarray) -> np.ndarray:
    """Standard normal cdf, 0.5 erfc(-z / sqrt 2)."""
    return 0.5 * special.erfc(-np.asarray(z) / math.sqrt(2.0))


def sf_np(z: np.ndarray) -> np.ndarray:
    """Standard normal survival function, 0.5 erfc(z / sqrt 2)."""
    return 0.5 * special.erfc(np.asarray(z) / math.sqrt(2.0))


# ----------------------------------------------------------------------------- numba
@njit(cache=True, inline="always")
def mix_nb(x: np.uint64) -> np.uint64:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@njit(cache=True)
def key_nb(seed: np.uint64, scenario: np.int64, year: np.int64, cohort: np.int64,
           stream: np.int64) -> np.uint64:
    h = mix_nb(seed ^ _SALT)
    h = mix_nb(h + (np.uint64(scenario) + _ONE) * _G)
    lane = (np.uint64(year) << _S32) | (np.uint64(cohort) << _S8) | np.uint64(stream)
    return mix_nb(h ^ lane)


@njit(cache=True, inline="always")
def word_nb(key: np.uint64, counter: np.int64) -> np.uint64:
    return mix_nb(key + (np.uint64(counter) + _ONE) * _G)


@njit(cache=True, inline="always")
def unit_nb(w: np.uint64) -> float:
    return float(w >> _S11) * TWO53 + HALF53


@njit(cache=True, inline="always")
def ninv_central_nb(p: float) -> float:
    """Cubic Hermite table of the inverse normal (P_LOW <= p <= P_HIGH); no branch, no
    division; safe (but inaccurate) for any p in (0, 1)."""
    v = p * float(NTAB)
    k = int(v)
    f = v - k
    t0 = TABLE[2 * k]
    d0 = TABLE[2 * k + 1]
    t1 = TABLE[2 * k + 2]
    d1 = TABLE[2 * k + 3]
    f2 = f * f
    f3 = f2 * f
    return ((2.0 * f3 - 3.0 * f2 + 1.0) * t0 + (f3 - 2.0 * f2 + f) * d0
            + (3.0 * f2 - 2.0 * f3) * t1 + (f3 - f2) * d1)


@njit(cache=True, inline="always")
def ninv_tail_nb(p: float) -> float:
    """Acklam's tail branch (p < P_LOW or p > P_HIGH)."""
    src = p if p < P_LOW else 1.0 - p
    sign = 1.0 if p < P_LOW else -1.0
    q = math.sqrt(-2.0 * math.log(src))
    return sign * ((((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q
                       - 2.400758277161838e00) * q - 2.549732539343734e00) * q
                     + 4.374664141464968e00) * q + 2.938163982698783e00)
                   / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q
                        + 2.445134137142996e00) * q + 3.754408661907416e00) * q + 1.0))


@njit(cache=True, inline="always")
def ninv_nb(p: float) -> float:
    """Acklam's inverse normal (scalar twin of :func:`ninv_np`)."""
    if p < P_LOW or p > P_HIGH:
        return ninv_tail_nb(p)
    return ninv_central_nb(p)


@njit(cache=True, inline="always")
def phi_nb(z: float) -> float:
    return 0.5 * math.erfc(-z * 0.7071067811865476)


@njit(cache=True, inline="always")
def sf_nb(z: float) -> float:
    return 0.5 * math.erfc(z * 0.7071067811865476)


# ----------------------------------------------------------------------------- 32-bit normals
# The member draws of the engine (latent innovation, risk score) take a normal from 32 bits of
# a 64-bit word, so one word serves two draws (the other 32 bits give the exit uniform).
# ``u = (U + 1/2) 2^-32`` for ``U`` in [0, 2^32); ``z = Phi^-1(u)`` is computed without
# branches, logs or divisions: with ``q = min(U, 2^32 - 1 - U)`` (exact symmetry) and
# ``p = (q + 1/2) 2^-32`` in [2^-33, 1/2), the float64 exponent and the top LOG_CELLS mantissa
# bits of ``p`` index a table of cubic polynomials (NCELLS cells per octave of p, 32 octaves),
# evaluated at the remaining mantissa bits. Max error 2.5e-11 in z over all 2^32 inputs
# (tests/engine/test_rng.py checks a dense sample against scipy.special.ndtri); |z| <= 6.34.
LOG_CELLS = 7
NCELLS = 1 << LOG_CELLS
_EMIN = -33  # smallest octave: p = 2^-33
_NOCT = 32  # octaves [2^e, 2^(e+1)) for e = -33 .. -2
_KEYMIN = (1023 + _EMIN) << LOG_CELLS
_SHIFT = 52 - LOG_CELLS
_MANT = (1 << 52) - 1
_ONE_BITS = 0x3FF0000000000000
TWO32 = 2.0**-32


def _make_table32() -> np.ndarray:
    n = _NOCT * NCELLS
    k = np.arange(n + 1)
    p = np.ldexp(1.0 + (k % NCELLS) / NCELLS, _EMIN + k // NCELLS)
    t = special.ndtri(p)
    dens = math.sqrt(2.0 * math.pi) * np.exp(0.5 * t * t)  # dz/dp
    h = np.ldexp(1.0 / NCELLS, _EMIN + np.arange(n) // NCELLS)  # cell width in p
    t0, t1, d0, d1 = t[:-1], t[1:], dens[:-1] * h, dens[1:] * h
    coef = np.stack([t0, d0, 3.0 * (t1 - t0) - 2.0 * d0 - d1, 2.0 * (t0 - t1) + d0 + d1], 1)
    return np.ascontiguousarray(coef.ravel())


#: Cubic Hermite coefficients (c0, c1, c2, c3) per cell, cells in order of p's bit pattern.
TABLE32 = _make_table32()


@intrinsic
def f64_bits(typingctx, x):  # noqa: ARG001 - numba intrinsic signature
    """Bit pattern of a float64 as an int64 (LLVM bitcast; vectorises)."""
    if isinstance(x, types.Float) and x.bitwidth == 64:
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))
        return types.int64(types.float64), codegen
    return None


@intrinsic
def bits_f64(typingctx, x):  # noqa: ARG001 - numba intrinsic signature
    """float64 with the given int64 bit pattern (LLVM bitcast; vectorises)."""
    if isinstance(x, types.Integer) and x.bitwidth == 64:
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())
        return types.float64(types.int64), codegen
    return None


@njit(cache=True, inline="always")
def ninv32_nb(u: np.int64) -> float:
    """Inverse normal of ``(u + 1/2) 2^-32`` for an integer ``u`` in [0, 2^32)."""
    neg = u < 2147483648
    q = u if neg else 4294967295 - u
    p = (float(np.int32(q)) + 0.5) * TWO32
    b = f64_bits(p)
    key = (b >> _SHIFT) - _KEYMIN
    f = (bits_f64((b & _MANT) | _ONE_BITS) - 1.0) * NCELLS - float(key & (NCELLS - 1))
    i4 = 4 * key
    t = TABLE32[i4] + f * (TABLE32[i4 + 1] + f * (TABLE32[i4 + 2] + f * TABLE32[i4 + 3]))
    return t if neg else -t


@njit(cache=True, inline="always")
def unit32_nb(u: np.int64) -> float:
    """Uniform ``(u + 1/2) 2^-32`` in (0, 1) from an integer ``u`` in [0, 2^32).

    Converted through a signed int32 (``u - 2^31``), which AVX2 converts in vector registers
    (int64 to float64 has no vector instruction there); every step is exact, so the value is
    that of ``(u + 0.5) 2^-32``.
    """
    return (float(np.int32(u - 2147483648)) + 2147483648.5) * TWO32


def ninv32_np(u: np.ndarray) -> np.ndarray:
    """Vectorised twin of :func:`ninv32_nb` (``frexp`` instead of bit patterns; same values).

    >>> z = ninv32_np(np.array([0, 2**31, 2**32 - 1], dtype=np.uint64))
    >>> bool(z[0] == -z[2] and 0.0 < z[1] < 1e-9)
    True
    """
    u = np.asarray(u).astype(np.int64)
    neg = u < 2147483648
    q = np.where(neg, u, 4294967295 - u)
    p = (q.astype(np.float64) + 0.5) * TWO32
    m, e = np.frexp(p)  # p = m 2^e, m in [1/2, 1): float64 exponent e - 1, mantissa 2m
    cell = ((2.0 * m - 1.0) * NCELLS).astype(np.int64)
    key = ((e.astype(np.int64) - 1 + 1023) << LOG_CELLS) + cell - _KEYMIN
    f = (2.0 * m - 1.0) * NCELLS - cell
    i4 = 4 * key
    t = TABLE32[i4] + f * (TABLE32[i4 + 1] + f * (TABLE32[i4 + 2] + f * TABLE32[i4 + 3]))
    return np.where(neg, t, -t)


def unit32_np(u: np.ndarray) -> np.ndarray:
    """Vectorised twin of :func:`unit32_nb`."""
    return (np.asarray(u).astype(np.float64) + 0.5) * TWO32


def hi32_np(w: np.ndarray) -> np.ndarray:
    """Upper 32 bits of 64-bit words (as int64)."""
    return (np.asarray(w, dtype=np.uint64) >> _S32).astype(np.int64)


def lo32_np(w: np.ndarray) -> np.ndarray:
    """Lower 32 bits of 64-bit words (as int64)."""
    return (np.asarray(w, dtype=np.uint64) & np.uint64(0xFFFFFFFF)).astype(np.int64)


# ----------------------------------------------------------------------------- exp
#: 2^(j/64), j = 0..63 (the table of :func:`fexp_nb`).
EXP_TABLE = np.exp2(np.arange(64) / 64.0)
_EXP_MAGIC = 6755399441055744.0  # 1.5 x 2^52: adding it rounds to an integer (in the low bits)
_EXP_MAGIC_BITS = 0x4338000000000000
_EXP_K = 64.0 / math.log(2.0)
_LN2_64_HI = float(np.float32(math.log(2.0) / 64.0))  # short mantissa: k x hi is exact
_LN2_64_LO = math.log(2.0) / 64.0 - _LN2_64_HI


@njit(cache=True, inline="always")
def fexp_nb(y: float) -> float:
    """exp(y) for |y| < 700, branch-free so loops vectorise (numba has no SVML here).

    ``y = (64 k + j) ln2 / 64 + r`` with ``|r| <= ln2 / 128``: ``exp(y) = 2^k 2^(j/64) P(r)``,
    ``P`` the degree-4 Taylor polynomial (Estrin form: short dependency chains, which matter
    more than operation counts on the team's CPU), ``2^(j/64)`` from :data:`EXP_TABLE` and
    ``2^k`` built from its bit pattern. Relative error < 2e-13 (tests/engine/test_rng.py).
    """
    kf = y * _EXP_K + _EXP_MAGIC
    k = f64_bits(kf) - _EXP_MAGIC_BITS
    kd = kf - _EXP_MAGIC
    r = (y - kd * _LN2_64_HI) - kd * _LN2_64_LO
    r2 = r * r
    p = (1.0 + r) + r2 * ((0.5 + r * (1.0 / 6.0)) + r2 * (1.0 / 24.0))
    return p * EXP_TABLE[k & 63] * bits_f64(((k >> 6) + 1023) << 52)
