"""Distributions on the lattice ``0, h, 2h, ...``: the two steps shared by the cost models'
numeric grids (:class:`vbsim.costs.CompoundPoisson`) and exact mode (:mod:`vbsim.exact`).

- :func:`rounding`: the method of rounding (local moment matching of order 1; Klugman, Panjer &
  Willmot, *Loss Models*), which keeps the mean: from values of the limited expected value
  ``lev`` on the lattice, or of ``-pi`` with ``pi(x) = E[(X - x)+]`` the stop-loss premium
  (the two differ by a constant, and only differences enter). Pass ``-pi`` where it is known
  in closed form: its second differences stay accurate in the far tail, where those of
  ``lev = mean - pi`` are rounding noise.
- :func:`lattice_lev`: ``lev`` of a lattice distribution, exact (piecewise linear between
  lattice points).
"""

from __future__ import annotations

import numpy as np

__all__ = ["lattice_lev", "rounding"]


def rounding(v: np.ndarray, h: float) -> np.ndarray:
    """Probabilities on ``0, h, ..., (n - 1) h`` from ``v`` = ``lev`` (or ``-pi``) at
    ``0, h, ..., n h`` (``n + 1`` values): ``f_0 = 1 - (v_1 - v_0) / h``,
    ``f_j = (2 v_j - v_{j-1} - v_{j+1}) / h``; the last point takes the rest.

    >>> grid = np.arange(2_001) * 0.5   # exponential, mean 10: pi(d) = 10 exp(-d / 10)
    >>> f = rounding(-10.0 * np.exp(-grid / 10.0), 0.5)
    >>> round(float(f @ (0.5 * np.arange(2_000))), 6), bool(f.min() >= 0)
    (10.0, True)
    >>> bool(rounding(10.0 - 10.0 * np.exp(-grid / 10.0), 0.5).min() < 0)  # lev: tail noise
    True
    """
    v = np.asarray(v, dtype=float)
    n = v.size - 1
    f = np.empty(n)
    f[0] = 1.0 - (v[1] - v[0]) / h
    f[1:] = (2.0 * v[1:n] - v[: n - 1] - v[2:]) / h
    f[-1] = 0.0
    f[-1] = 1.0 - f.sum()
    return f


def lattice_lev(pmf: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``(x, lev(x))`` of a distribution on ``0, h, 2h, ...``: ``lev(j h) = h sum_{i<j}
    P(X > i h)``; ``lev`` is linear between them and constant (the mean) beyond the last.

    >>> x, lv = lattice_lev(np.array([0.5, 0.5]), 2.0)   # X = 0 or 2
    >>> x.tolist(), lv.tolist()
    ([0.0, 2.0, 4.0], [0.0, 1.0, 1.0])
    """
    sf = 1.0 - np.cumsum(pmf)
    return h * np.arange(len(pmf) + 1), np.concatenate([[0.0], h * np.cumsum(sf)])
