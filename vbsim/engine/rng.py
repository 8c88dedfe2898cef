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
visit members cannot change any number. The members' normals (latent innovation, risk score)
come from the upper 32 bits of their word by the ziggurat method (:func:`znorm32_nb`, below);
other normals (drivers, claims) from :func:`ninv_nb` / :func:`ninv_np`: a cubic Hermite table
of the exact quantile for P_LOW <= u <= P_HIGH (error < 1e-10) and Acklam's rational
approximation in the two tails (relative error < 1.2e-9). Each function exists twice: numba
(``*_nb``, scalar, used in kernels) and numpy (vectorised, used by the reference and the
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
_LO32 = np.uint64(0xFFFFFFFF)
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
    """Stream key for one (scenario, year, cohort, stream).

    >>> key_int(1, 0, 1, 0, 0) == int(keys_np(1, np.array([0]), 1, 0, 0)[0])
    True
    >>> key_int(1, 0, 1, 0, 0) != key_int(1, 0, 1, 0, 1)  # another stream, another key
    True
    """
    h = mix_int(seed ^ SALT)
    h = mix_int(h + (scenario + 1) * G)
    return mix_int(h ^ ((year << 32) | (cohort << 8) | stream))


# ----------------------------------------------------------------------------- numpy
def mix_np(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wraps modulo 2^64).

    >>> x = np.array([0, 1, 2**64 - 1], dtype=np.uint64)
    >>> [int(v) for v in mix_np(x)] == [mix_int(int(v)) for v in x]
    True
    """
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def keys_np(seed: int, scenarios: np.ndarray, year: int, cohort: int, stream: int) -> np.ndarray:
    """Stream keys for many scenarios (uint64 array).

    >>> k = keys_np(7, np.arange(3), 2, 1, 0)
    >>> k.dtype.name, [int(v) for v in k] == [key_int(7, s, 2, 1, 0) for s in range(3)]
    ('uint64', True)
    """
    s = np.asarray(scenarios, dtype=np.uint64)
    h0 = np.uint64(mix_int(seed ^ SALT))
    h = mix_np(h0 + (s + _ONE) * _G)
    return mix_np(h ^ np.uint64((year << 32) | (cohort << 8) | stream))


def words_np(key: int | np.ndarray, counters: np.ndarray) -> np.ndarray:
    """64-bit words ``mix(key + (counter + 1) G)``.

    >>> w = words_np(key_int(1, 0, 1, 0, 0), np.arange(4))
    >>> int(w[2]) == mix_int(key_int(1, 0, 1, 0, 0) + 3 * G)
    True
    """
    c = np.asarray(counters, dtype=np.uint64)
    return mix_np(np.asarray(key, dtype=np.uint64) + (c + _ONE) * _G)


def to_unit_np(w: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1) from 64-bit words.

    >>> to_unit_np(np.array([0, 2**64 - 1], dtype=np.uint64)).tolist() == [2**-54, 1 - 2**-54]
    True
    """
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
    """Table part of :func:`ninv_np` (valid for P_LOW <= p <= P_HIGH).

    >>> from scipy.special import ndtri
    >>> p = np.linspace(P_LOW, P_HIGH, 1001)
    >>> float(np.abs(ninv_central_np(p) - ndtri(p)).max()) < 1e-10
    True
    """
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
    """Standard normal cdf, 0.5 erfc(-z / sqrt 2).

    >>> phi_np(np.array([0.0, 1.959963984540054])).round(12).tolist()
    [0.5, 0.975]
    """
    return 0.5 * special.erfc(-np.asarray(z) / math.sqrt(2.0))


def sf_np(z: np.ndarray) -> np.ndarray:
    """Standard normal survival function, 0.5 erfc(z / sqrt 2).

    >>> v = float(sf_np(np.array([10.0]))[0])  # accurate in the far tail; 1 - phi gives 0
    >>> abs(v / 7.61985302416047e-24 - 1) < 1e-13, float(1 - phi_np(np.array([10.0]))[0])
    (True, 0.0)
    """
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
# The member draws of the engine (latent innovation, risk score) take a normal from the upper 32
# bits ``h`` of the member's 64-bit word ``W``, so one word serves two draws (the lower 32 bits give
# the exit uniform). The normal is drawn by the ziggurat method (Marsaglia & Tsang, "The ziggurat
# method for generating random variables", J. Stat. Software 5(8), 2000) with 2^ZIG_BITS = 1,024
# layers and separate bits for each part of the draw: layer ``i = h & 1023``, sign ``(h >> 10) &
# 1``, magnitude ``u = h >> 11`` (21 bits). ``x = u W_i`` is accepted when ``u < K_i`` (the point
# lies under the curve for sure): 99.57% of draws (measured), one table row and one multiply,
# branch-free, so the engine's loops vectorise. The rest (the wedges and the tail beyond ``R``)
# follow Marsaglia & Tsang's exact fix-up, drawing what they need from the words ``mix(W + k G)``,
# ``k = 1, 2, ...`` (``hi``/``lo``: their upper/lower 32 bits): in a layer ``i >= 1``, accept ``x``
# if ``F_i + U (F_(i-1) - F_i) < exp(-x^2 / 2)`` with ``U`` from ``lo``, else start again from ``h =
# hi``; in the base layer past ``R``, Marsaglia's tail method (``x = -log U1 / R``, ``y = -log U2``,
# accept when ``2 y >= x^2``; ``U1, U2`` from ``hi, lo``) gives ``R + x``. The result is an exact
# standard normal up to the 21-bit magnitude grid (no truncation: the tail is sampled to its end).
# It replaced a tabulated inverse cdf (four table loads per draw, 2.8x slower on the team's CPU;
# benchmarks/README.md): no caller needs the normal to be a monotone function of ``h``. 1,024 layers
# rather than Marsaglia & Tsang's 256: the fix-up, a scalar pass with mispredicted branches, runs
# for 0.43% of draws instead of 1.5% (1-3% faster end to end, A/B in benchmarks/README.md); the
# table (16 KiB) still sits in the L1 cache.
ZIG_BITS = 10  # 2^10 layers
ZIG_N = 1 << ZIG_BITS
# R (the top layer's right edge) and V (each layer's area, the base layer's with the tail beyond
# R): R solved so that the recursion x_i = f^-1(V / x_(i+1) + f(x_(i+1))) from x_(N-1) = R gives
# the top layer [0, x_1] x [f(x_1), 1] the area V too, V = R f(R) + int_R^inf f. The same solve
# gives Marsaglia & Tsang's published 128- and 256-layer constants (3.442619855899,
# 3.6541528853610088); tests/engine/test_fastmath.py checks every layer's area.
ZIG_R = 4.038849846109506
ZIG_V = 0.0012263246463530809
_ZIG_MB = 31 - ZIG_BITS  # magnitude bits (32 - layer bits - 1 sign bit)
_ZIG_M = float(1 << _ZIG_MB)  # magnitude scale: u in [0, 2^21)
_ZIG_MASK = ZIG_N - 1
_ZIG_SIGN = ZIG_BITS  # bit of the sign
_ZIG_UP = ZIG_BITS + 1  # first bit of the magnitude
TWO32 = 2.0**-32


def _zig_tables() -> tuple[np.ndarray, np.ndarray]:
    """``(KW, F)``: ``KW`` interleaves per layer the acceptance bound ``K_i`` (an integer, as
    a float) and the width ``W_i = x_i / 2^21``; ``F_i = exp(-x_i^2 / 2)``. ``x_(N-1) = R``,
    ``x_i`` from ``ZIG_V = x_(i+1) (f(x_i) - f(x_(i+1)))``; the base layer has the virtual
    width ``q = V / f(R)``; ``K_1 = 0`` (the top layer is all wedge); ``u`` and ``K_i`` count
    steps of ``x_i / 2^21``."""
    f = lambda x: math.exp(-0.5 * x * x)  # noqa: E731
    n = ZIG_N
    k, w, fv = np.zeros(n), np.zeros(n), np.zeros(n)
    q = ZIG_V / f(ZIG_R)
    k[0], w[0], fv[0] = math.floor(ZIG_R / q * _ZIG_M), q / _ZIG_M, 1.0
    w[n - 1], fv[n - 1] = ZIG_R / _ZIG_M, f(ZIG_R)
    dn = tn = ZIG_R
    for i in range(n - 2, 0, -1):
        dn = math.sqrt(-2.0 * math.log(ZIG_V / dn + f(dn)))
        k[i + 1] = math.floor(dn / tn * _ZIG_M)
        tn = dn
        w[i], fv[i] = dn / _ZIG_M, f(dn)
    kw = np.empty(2 * n)
    kw[0::2], kw[1::2] = k, w
    return kw, fv


ZIG_KW, ZIG_F = _zig_tables()
_ZIG_MAGIC = np.int64(0x4330000000000000)  # 2^52 as bits: (n | magic) - 2^52 = n, exactly
_TWO52 = 4503599627370496.0


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
def zig_core_nb(h: np.int64) -> tuple[float, bool]:
    """The ziggurat's fast path for a 32-bit ``h``: ``(x, rejected)``; ``x`` is the normal
    when ``rejected`` is False (branch-free: vectorises)."""
    i = h & _ZIG_MASK
    u = bits_f64((h >> _ZIG_UP) | _ZIG_MAGIC) - _TWO52  # exact float of the magnitude
    x = u * ZIG_KW[2 * i + 1]
    return (-x if (h >> _ZIG_SIGN) & 1 else x), u >= ZIG_KW[2 * i]


@njit(cache=True)
def znorm32_nb(h: np.int64, w: np.uint64) -> float:
    """Standard normal from ``h`` (the upper 32 bits of the word ``w``), the ziggurat's
    fix-up included (scalar; the engine calls it for the ~0.43% of draws the fast path
    rejects)."""
    x, rej = zig_core_nb(h)
    k = np.uint64(0)
    while rej:
        k += _ONE
        d = mix_nb(w + k * _G)
        i = h & _ZIG_MASK
        neg = (h >> _ZIG_SIGN) & 1
        if i == 0:  # the tail beyond R
            xt = -math.log(unit32_nb(np.int64(d >> _S32))) * (1.0 / ZIG_R)
            y = -math.log(unit32_nb(np.int64(d & _LO32)))
            if y + y >= xt * xt:
                x, rej = (-(ZIG_R + xt) if neg else ZIG_R + xt), False
        else:
            x0 = (float(h >> _ZIG_UP)) * ZIG_KW[2 * i + 1]
            u = unit32_nb(np.int64(d & _LO32))
            if ZIG_F[i] + u * (ZIG_F[i - 1] - ZIG_F[i]) < math.exp(-0.5 * x0 * x0):
                x, rej = (-x0 if neg else x0), False
            else:
                h = np.int64(d >> _S32)
                x, rej = zig_core_nb(h)
    return x


@njit(cache=True, nogil=True)
def znorm32_fill_nb(words: np.ndarray, n: int, out: np.ndarray, flag: np.ndarray) -> None:
    """``out[k]`` = the standard normal of ``words[k]`` (:func:`znorm32_nb` of its upper 32
    bits), ``k < n``: the fast path over all (vector loop), then the fix-up of the rejected
    draws (``flag``: scratch, ``n`` long)."""
    n_rej = 0
    for k in range(n):
        x, rej = zig_core_nb(np.int64(words[k] >> _S32))
        out[k] = x
        flag[k] = rej
        n_rej += rej
    if n_rej > 0:
        for k in range(n):
            if flag[k]:
                out[k] = znorm32_nb(np.int64(words[k] >> _S32), words[k])


@njit(cache=True, inline="always")
def unit32_nb(u: np.int64) -> float:
    """Uniform ``(u + 1/2) 2^-32`` in (0, 1) from an integer ``u`` in [0, 2^32).

    Converted through a signed int32 (``u - 2^31``), which AVX2 converts in vector registers
    (int64 to float64 has no vector instruction there); every step is exact, so the value is
    that of ``(u + 0.5) 2^-32``.
    """
    return (float(np.int32(u - 2147483648)) + 2147483648.5) * TWO32


def _zig_core_np(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised twin of :func:`zig_core_nb`: ``(x, rejected)`` for int64 ``h``."""
    i = h & _ZIG_MASK
    u = (h >> _ZIG_UP).astype(np.float64)
    x = u * ZIG_KW[2 * i + 1]
    return np.where((h >> _ZIG_SIGN) & 1 == 1, -x, x), u >= ZIG_KW[2 * i]


def znorm32_np(w: np.ndarray) -> np.ndarray:
    """Vectorised twin of :func:`znorm32_nb`: the standard normals of 64-bit words ``w``.

    >>> z = znorm32_np(words_np(key_int(1, 0, 1, 0, 1), np.arange(200_000)))
    >>> bool(abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01)
    True
    """
    w = np.asarray(w, dtype=np.uint64)
    h = hi32_np(w)
    x, rej = _zig_core_np(h)
    todo = np.nonzero(rej)[0]
    hh, k = h[todo], 0
    while todo.size:  # the fix-up, one word mix(W + k G) per round for every draw still open
        k += 1
        d = mix_np(w[todo] + np.uint64((k * G) & MASK))
        i = hh & _ZIG_MASK
        neg = (hh >> _ZIG_SIGN) & 1 == 1
        done = np.zeros(todo.size, dtype=bool)
        xv = np.zeros(todo.size)
        tail = i == 0
        if tail.any():
            with np.errstate(divide="ignore"):
                xt = -np.log(unit32_np(hi32_np(d[tail]))) * (1.0 / ZIG_R)
                y = -np.log(unit32_np(lo32_np(d[tail])))
            done[tail] = y + y >= xt * xt
            xv[tail] = np.where(neg[tail], -(ZIG_R + xt), ZIG_R + xt)
        wedge = ~tail
        if wedge.any():
            iw = i[wedge]
            x0 = (hh[wedge] >> _ZIG_UP).astype(np.float64) * ZIG_KW[2 * iw + 1]
            uw = unit32_np(lo32_np(d[wedge]))
            ok = ZIG_F[iw] + uw * (ZIG_F[iw - 1] - ZIG_F[iw]) < np.exp(-0.5 * x0 * x0)
            # rejected: start again from the upper half of d (its fast path first)
            hn = hi32_np(d[wedge])
            xn, rn = _zig_core_np(hn)
            done[wedge] = ok | ~rn
            xv[wedge] = np.where(ok, np.where(neg[wedge], -x0, x0), xn)
            hh[wedge] = hn  # (the draws done leave the loop)
        x[todo[done]] = xv[done]
        todo, hh = todo[~done], hh[~done]
    return x


def unit32_np(u: np.ndarray) -> np.ndarray:
    """Vectorised twin of :func:`unit32_nb`.

    >>> unit32_np(np.array([0, 2**32 - 1])).tolist() == [0.5 * 2**-32, 1 - 0.5 * 2**-32]
    True
    """
    return (np.asarray(u).astype(np.float64) + 0.5) * TWO32


def hi32_np(w: np.ndarray) -> np.ndarray:
    """Upper 32 bits of 64-bit words (as int64).

    >>> hi32_np(np.array([(5 << 32) | 7], dtype=np.uint64)).tolist()
    [5]
    """
    return (np.asarray(w, dtype=np.uint64) >> _S32).astype(np.int64)


def lo32_np(w: np.ndarray) -> np.ndarray:
    """Lower 32 bits of 64-bit words (as int64).

    >>> lo32_np(np.array([(5 << 32) | 7], dtype=np.uint64)).tolist()
    [7]
    """
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
