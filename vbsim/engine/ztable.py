"""Tabulated quantile map of the :class:`~vbsim.costs.Spliced` cost model, in latent space.

The exact map from a member's latent rank ``z`` to its risk-1 cost,
``Q(z) = F^-1(Phi(z))`` (zero below ``z0``, lognormal body, GPD tail), needs ``erfc`` and an
inverse normal per member-year: about half of the engine's time with the standard cohorts.
This module tabulates the cost ``Q(z)`` itself once per cohort as cubic polynomials on cells of
width ``H`` in ``z``, one node sitting exactly on the splice point (where ``Q``'s derivative
jumps), so the kernel needs one table lookup and three multiply-adds, all vectorisable, and no
``exp``. (Tabulating ``log Q`` and taking ``exp`` costs ~2.5 ns more per member-year on the
team's CPU, and is less accurate: a cubic on a cell of width 1/64 follows the exponential's
curvature better than ``exp`` amplifies the log's rounding; benchmarks/README.md.)

Accuracy (tests/engine/test_ztable.py, against scipy on dense grids): relative error of the
cost below 2e-8 from ``z0 + DELTA + 0.3`` up; closer to ``z0`` the cost falls steeply to zero
(it has an infinite slope at ``z0``), the relative error grows but those costs are near zero
(absolute error below 1e-5 of the mean cost everywhere). Outside ``[z_lo, z_hi)`` (the first
``DELTA`` above ``z0``: about 0.2-0.4% of members; and ``z >= Z_HI``) the engine evaluates the
exact map. :mod:`vbsim.engine.kernel`, :mod:`vbsim.engine.reference` and the CUDA port evaluate
the same cubic in the same order, so they agree to rounding; ``tests/engine/test_ztable.py``
also checks the engine's simulated moments against the exact model.

Table row layout (float64): ``[z_lo, 1/H, n_cells, z_hi, c0, c1, c2, c3, c0, ...]``; a row
with ``n_cells = 0`` means "no table" (other cost families).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = ["H", "DELTA", "Z_HI", "HEAD", "spliced_table", "pack_tables", "table_cost_np",
           "exact_cost_np"]

H = 1.0 / 64.0  # cell width in z (accuracy above; 1/32 gives ~4e-7)
DELTA = 0.02  # exact map on [z0, z0 + DELTA): Q has an infinite slope at z0
Z_HI = 8.5  # exact map from here up (a stationary N(0, 1) rank exceeds it with prob. 1e-17)
HEAD = 4
TOP_GAP = 1e-9  # cell coordinates are clamped to [0, n_cells - TOP_GAP]
# cubic through f = 0, 1/3, 2/3, 1 in power form: coefficients = values @ _FIT.T
_FIT = np.linalg.inv(np.vander(np.array([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]), 4, increasing=True))


def exact_cost_np(p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Exact risk-1 cost of a Spliced member at latent ``z`` (kernel parameters ``p``).

    >>> from vbsim.costs import Spliced
    >>> _, p = Spliced(mean=11_000, zero_share=0.0, tail_share=0.0).kernel_spec()
    >>> bool(np.isclose(exact_cost_np(p, np.array([0.0]))[0], np.exp(p[1])))
    True
    """
    p0, mu, sg, p3, t, beta, xi, z0 = (float(v) for v in p[:8])
    z = np.asarray(z, dtype=float)
    sp = special.ndtr(-z) / (1.0 - p0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w = sp / p3 if p3 > 0 else np.ones_like(sp)
        tail = t - beta * np.log(w) if xi == 0.0 else t + beta / xi * (w ** (-xi) - 1.0)
        # Phi^-1(1 - sp) = -Phi^-1(sp): accurate where 1 - sp rounds to 1
        body = np.exp(mu - sg * special.ndtri(sp)) if p0 > 0 else np.exp(mu + sg * z)
    return np.where(z < z0, 0.0, np.where(sp < p3, tail, body))


def spliced_table(p: np.ndarray) -> np.ndarray:
    """Table row (layout in the module docstring) for Spliced kernel parameters ``p``.

    >>> from vbsim.costs import Spliced
    >>> _, p = Spliced(mean=11_000).kernel_spec()
    >>> row = spliced_table(p)
    >>> int(row[2]) == (row.size - HEAD) // 4, bool(row[1] == 1 / H)
    (True, True)
    """
    p0, p3, z0 = float(p[0]), float(p[3]), float(p[7])
    start = z0 + DELTA if p0 > 0 else -Z_HI
    # a node on the splice point z_s (sf(z_s) = p3 (1 - p0)), when the tail is in range
    zs = float(special.ndtri(1.0 - p3 * (1.0 - p0))) if 0 < p3 < 1 else 0.0
    zs = min(max(zs, start), Z_HI)
    z_lo = zs - math.floor((zs - start) / H) * H
    n = int(math.ceil((Z_HI - z_lo) / H))
    pts = z_lo + H * (np.arange(n)[:, None] + np.array([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]))
    coef = exact_cost_np(p, pts) @ _FIT.T
    return np.concatenate([[z_lo, 1.0 / H, float(n), z_lo + n * H], coef.ravel()])


def pack_tables(rows: list[np.ndarray | None]) -> np.ndarray:
    """One 2-D array (cohorts x longest row), zero rows (``n_cells = 0``) for ``None``.

    >>> pack_tables([None]).shape
    (1, 4)
    """
    width = max([HEAD] + [r.size for r in rows if r is not None])
    out = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        if r is not None:
            out[i, :r.size] = r
    return out


def table_cost_np(row: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Vectorised twin of the kernel's table lookup: tabulated ``Q(z)`` (clamped cells).

    >>> from vbsim.costs import Spliced
    >>> _, p = Spliced(mean=11_000).kernel_spec()
    >>> row = spliced_table(p)
    >>> z = np.array([0.0, 1.0, 3.0])
    >>> bool(np.allclose(table_cost_np(row, z), exact_cost_np(p, z), rtol=1e-8))
    True
    """
    n = int(row[2])
    v = np.minimum(np.maximum((np.asarray(z, dtype=float) - row[0]) * row[1], 0.0), n - TOP_GAP)
    k = v.astype(np.int64)
    f = v - k
    i4 = HEAD + 4 * k
    return row[i4] + f * (row[i4 + 1] + f * (row[i4 + 2] + f * row[i4 + 3]))
