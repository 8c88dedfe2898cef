"""Figures for multi-year results: percentile fan charts by year and the NPV distribution.

:func:`fan_chart` overlays several strategies on one Axes, each in its own colour (the
package-wide :func:`vbsim.plot.fan_chart` draws one series).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError

__all__ = ["fan_chart", "npv_distribution", "percentile_bands"]

BANDS = ((0.05, 0.95), (0.25, 0.75))  # 90% and 50% bands, median line


def percentile_bands(
    da: xr.DataArray, *, dim: str = "year", qs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)
) -> xr.DataArray:
    """Percentiles over scenarios for each ``dim`` value: DataArray (quantile, dim[, ...]).

    The lower empirical quantile ``x_(ceil(n q))``, as in every table (:mod:`vbsim.metrics`), so a
    fan chart's median is the table's median.

    >>> import xarray as xr, numpy as np
    >>> da = xr.DataArray(np.arange(10.0)[:, None] * [1, 2], dims=("scenario", "year"))
    >>> percentile_bands(da, qs=(0.5,)).values.tolist()
    [[4.0, 8.0]]
    """
    if "scenario" not in da.dims or dim not in da.dims:
        raise VbsimInputError(f"fan chart data need dims 'scenario' and {dim!r}; got {da.dims}")
    return da.quantile(list(qs), dim="scenario", method="inverted_cdf")


def fan_chart(
    da: xr.DataArray, *, dim: str = "year", ax: Any = None, label: str | None = None,
    color: str | None = None, scale: float = 1.0, ylabel: str = "",
) -> Any:
    """Median line with 50% and 90% bands of ``da`` (dims scenario, ``dim``) by ``dim``.

    Returns the matplotlib Axes. ``scale`` divides the values (e.g. 1e6 for $M).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from vbsim.multiyear import demo_paths
    >>> ax = fan_chart(demo_paths(years=4, noise=0.1, n_scenarios=30)["cost"].sum("cohort"))
    >>> len(ax.collections)  # the 90% and 50% bands
    2
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    q = percentile_bands(da, dim=dim, qs=(0.05, 0.25, 0.5, 0.75, 0.95)) / scale
    x = da[dim].values
    (line,) = ax.plot(x, q.sel(quantile=0.5).values, label=label, color=color, lw=2)
    c = line.get_color()
    for (lo, hi), alpha in zip(BANDS, (0.15, 0.3), strict=True):
        ax.fill_between(x, q.sel(quantile=lo).values, q.sel(quantile=hi).values, color=c,
                        alpha=alpha, lw=0)
    ax.set_xlabel(dim.replace("_", " "))
    if ylabel:
        ax.set_ylabel(ylabel)
    lo, hi = float(q.min()), float(q.max())
    if lo < 0 < hi:
        ax.axhline(0.0, color="grey", lw=0.5)
    return ax


def npv_distribution(
    comparison: xr.Dataset, *, ax: Any = None, scale: float = 1e6, bins: int = 60
) -> Any:
    """Histograms of each strategy's NPV (``compare`` output), in units of ``scale``.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from vbsim.multiyear import compare, demo_paths, standard_strategies
    >>> cmp = compare(demo_paths(years=5, noise=0.05, n_scenarios=30), standard_strategies())
    >>> len(npv_distribution(cmp).patches) > 0
    True
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    npv = comparison["npv"] / scale
    edges = np.histogram_bin_edges(npv.values.ravel(), bins=bins)
    for name in comparison["contract"].values:
        ax.hist(npv.sel(contract=name).values, bins=edges, histtype="stepfilled", alpha=0.35,
                label=str(name))
    ax.set_xlabel(f"NPV of provider net cash ({'$M' if scale == 1e6 else f'x {scale:g}'})")
    ax.set_ylabel("scenarios")
    ax.axvline(0.0, color="grey", lw=0.5)
    ax.legend()
    return ax
