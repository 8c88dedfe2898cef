"""Influence functions of the risk measures, for standard errors of paired differences.

Every statistic T of a sample x_1..x_n (one value per scenario) is written as its value plus a
per-scenario influence value IF_i, so that SE(T) ~ sd(IF) / sqrt(n). Two offers settled on the
same scenarios (common random numbers) then give SE(T_A - T_B) = sd(IF_A - IF_B) / sqrt(n), which
uses the correlation between the offers. Conventions follow :mod:`vbsim.metrics`: x is a payment
(gain positive), the loss is L = -x, VaR_p is the lower p-quantile of L and
TVaR_p = VaR_p + E[(L - VaR_p)+] / (1 - p).
"""

from __future__ import annotations

import math

import numpy as np

from vbsim.metrics import TVAR_SE_MIN_TAIL, _window


def level_label(p: float) -> str:
    """``0.995 -> '99.5'`` (the labels of :func:`vbsim.metrics.stat_names`).

    >>> level_label(0.995), level_label(0.99)
    ('99.5', '99')
    """
    return f"{100 * p:.10g}"


def lower_quantile(a: np.ndarray, q: float) -> tuple[float, float]:
    """Lower empirical q-quantile x_(ceil(nq)) and 1/f at it (difference of order statistics).

    >>> lower_quantile(np.arange(1.0, 1001.0), 0.05)
    (50.0, 1000.0)
    >>> lower_quantile(np.arange(1.0, 101.0), 0.01)  # one point beyond it: 1/f unknown
    (1.0, nan)
    """
    lo, k, hi, ok = _window(a.size, q)
    part = np.partition(a, sorted({lo, k, hi}))
    inv_f = (part[hi] - part[lo]) * a.size / (hi - lo) if ok else math.nan
    return float(part[k]), float(inv_f)


def ce_value(x: np.ndarray, a: float) -> float:
    """Certainty equivalent -(1/a) log E[exp(-a x)], by log-sum-exp (no overflow).

    >>> round(ce_value(np.array([0.0, 2.0]), 1.0), 4)  # below the mean 1.0: risk averse
    0.5662
    """
    z = -a * x
    m = float(z.max())
    return -(m + math.log(float(np.mean(np.exp(z - m))))) / a


def influence(x: np.ndarray, stat: str, flag: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Value of ``stat`` on the sample ``x`` and its influence values (mean zero).

    ``stat`` is one of ``mean``, ``sd``, ``p_loss``, ``VaR_<pct>``, ``TVaR_<pct>``,
    ``CE_<a>`` (exponential-utility certainty equivalent with risk aversion ``a`` per dollar)
    or ``p_<flag>`` (then ``flag`` is the boolean sample).

    >>> v, inf = influence(np.array([1.0, 2.0, 3.0]), "mean")
    >>> v, inf.tolist()
    (2.0, [-1.0, 0.0, 1.0])
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    if stat == "mean":
        m = float(x.mean())
        return m, x - m
    if stat == "sd":
        m = float(x.mean())
        c2 = (x - m) ** 2
        s2 = float(c2.sum() / (n - 1))
        s = math.sqrt(s2)
        return s, (c2 - s2) / (2 * s) if s > 0 else np.zeros(n)
    if stat == "p_loss":
        b = (x < 0).astype(float)
        return float(b.mean()), b - b.mean()
    if stat.startswith("VaR_"):
        p = float(stat[4:]) / 100.0
        v, inv_f = lower_quantile(-x, p)
        ind = (-x <= v).astype(float)
        # scaled so that its variance is p (1 - p) inv_f^2, the same error as vbsim.metrics
        # gives (the empirical share at or below v exceeds p, most at an atom)
        k = ind.mean()
        scale = math.sqrt(p * (1.0 - p) / (k * (1.0 - k))) if 0.0 < k < 1.0 else 1.0
        return v, (k - ind) * inv_f * scale
    if stat.startswith("TVaR_"):
        p = float(stat[5:]) / 100.0
        v, inv_f = lower_quantile(-x, p)
        h = v + np.maximum(-x - v, 0.0) / (1.0 - p)
        t = float(h.mean())
        if math.isnan(inv_f) or n * (1.0 - p) < TVAR_SE_MIN_TAIL:  # a tail of a few
            return t, np.full(n, np.nan)                          # scenarios: no usable error
        return t, h - t
    if stat.startswith("CE_"):
        a = float(stat[3:])
        z = -a * x
        w = np.exp(z - z.max())
        w = w / w.mean()
        return ce_value(x, a), -(w - 1.0) / a
    if stat.startswith("p_"):
        if flag is None:
            raise ValueError(f"{stat} needs its flag sample")
        b = np.asarray(flag, dtype=float)
        return float(b.mean()), b - b.mean()
    raise ValueError(f"unknown statistic {stat!r}")


def smoothed_p_loss(x: np.ndarray, h: float) -> tuple[float, np.ndarray]:
    """P(x < 0) smoothed with a normal kernel of bandwidth ``h``: mean Phi(-x / h).

    Continuous in the contract parameters, so root finders work; its bias is O(h^2).

    >>> v, infl = smoothed_p_loss(np.array([-1.0, 0.0, 1.0]), 0.5)
    >>> round(v, 6), infl.shape
    (0.5, (3,))
    """
    from scipy.special import ndtr

    s = ndtr(-np.asarray(x, float) / h)
    v = float(s.mean())
    return v, s - v


def se_of(infl: np.ndarray) -> float:
    """sd(IF) / sqrt(n).

    >>> round(se_of(np.array([-1.0, 0.0, 1.0])), 4)  # 1 / sqrt(3)
    0.5774
    """
    return float(np.std(infl, ddof=1) / math.sqrt(infl.size))


def measure_stat(measure: str, risk_aversion: float | None) -> str:
    """Statistic name of a measure: "mean", "tvar99" (any level), "p_loss" or "ce".

    >>> measure_stat("tvar99.5", None), measure_stat("TVaR_99", None)
    ('TVaR_99.5', 'TVaR_99')
    """
    from vbsim._validate import VbsimInputError

    m = str(measure).strip()
    low = m.lower().replace("_", "")
    if low == "mean":
        return "mean"
    if low in ("ploss", "p(loss)"):
        return "p_loss"
    if low == "ce":
        if risk_aversion is None:
            raise VbsimInputError("measure='ce' needs risk_aversion=a (per dollar, > 0)")
        return f"CE_{float(risk_aversion)!r}"
    if low.startswith("tvar"):
        pct = low[4:] or "99"
        try:
            p = float(pct) / 100.0
        except ValueError:
            p = -1.0
        if not 0.0 < p < 1.0:
            raise VbsimInputError(
                f"measure {measure!r}: TVaR level must be in (0, 100), e.g. tvar99")
        return f"TVaR_{100 * p:.10g}"
    raise VbsimInputError(
        f"measure must be 'mean', 'tvar99' (any level), 'p_loss' or 'ce'; got {measure!r}"
    )
