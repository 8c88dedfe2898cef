"""Figure of a calibration: concentration curve and persistence, fitted against target.

Left panel: share of total spending held by the top fraction ``p`` of members (a Lorenz curve
read from the top), for the fitted member cost (semi-analytic), the data when given (per-year
curves averaged over years) and the target points of the fit report. Right panel: persistence of
the top group over 1-3 later years under the fitted model, with the target and data points.
"""

from __future__ import annotations

import math
import os
import re
from typing import TYPE_CHECKING

import numpy as np

from .mixture import RiskMixed
from .report import Calibration
from .stats import model_top_share, parse_persistence_key, top_share_sample

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["plot_fit"]

_SHARE_RE = re.compile(r"^(top|bottom)(\d+(?:\.\d+)?)_share$")
_STAY_RE = re.compile(r"^top\d+(?:\.\d+)?_stay_\d+yr$")


def _data_curve(table, ps: np.ndarray) -> np.ndarray:
    curves = [[top_share_sample(g["cost"].to_numpy(), p) for p in ps]
              for _, g in table.groupby("year")]
    return np.mean(np.asarray(curves), axis=0)


def plot_fit(calibration: Calibration, table: pd.DataFrame | None = None,
             path: str | os.PathLike[str] | None = None) -> Figure:
    """Draw the concentration curve and persistence of ``calibration``; save to ``path``.

    Parameters
    ----------
    calibration : Calibration
        From :func:`vbsim.calibrate.from_summary` or :func:`vbsim.calibrate.from_claims`.
    table : pandas.DataFrame, optional
        Cleaned member-year table (:func:`vbsim.calibrate.clean_claims`) to draw the data curve.
    path : str or path, optional
        Save as PNG there (no display needed: the figure is built without pyplot).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from vbsim.calibrate import from_summary
    >>> cal = from_summary(mean=1.0, top_shares={0.1: 0.6}, persistence={"top10_stay_2yr": 0.28})
    >>> fig = plot_fit(cal)
    >>> len(fig.axes)
    2
    """
    from matplotlib.figure import Figure  # no pyplot: works headless, saves through Agg

    member = RiskMixed(calibration.cost, calibration.risk_sd)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax, bx = fig.subplots(1, 2)

    ps = np.geomspace(0.001, 0.999, 60)
    ax.plot(ps, [model_top_share(member, p) for p in ps], label="fitted model", color="C0")
    if table is not None:
        ax.plot(ps, _data_curve(table, ps), label="data (mean over years)", color="C1", ls="--")
    for row in calibration.report.rows:
        m = _SHARE_RE.match(row.statistic)
        if not m or math.isnan(row.target):
            continue
        p = float(m.group(2)) / 100
        top_p, top_t = (p, row.target) if m.group(1) == "top" else (1 - p, 1 - row.target)
        ax.plot(top_p, top_t, "o", color="k", ms=5,
                label="target" if "target" not in ax.get_legend_handles_labels()[1] else None)
    ax.plot(ps, ps, color="0.7", lw=0.8, label="equal spending")
    ax.set_xscale("log")
    ax.set_xlabel("top fraction of members p")
    ax.set_ylabel("share of total spending")
    ax.set_title("concentration")
    ax.legend(loc="upper left", fontsize=8)

    rows = [r for r in calibration.report.rows if _STAY_RE.match(r.statistic)]
    if rows and calibration.rho is not None:
        hs = np.arange(1, 4)
        for i, frac in enumerate(sorted({parse_persistence_key(r.statistic)[0] for r in rows})):
            fitted = [member.persistence(calibration.rho, frac, int(h)) for h in hs]
            bx.plot(hs, fitted, "-", color=f"C{i}", label=f"fitted, top {100 * frac:g}%")
        for r in rows:
            frac, h = parse_persistence_key(r.statistic)
            bx.plot(h, r.target, "o" if r.fitted else "s", color="k", mfc="k" if r.fitted else "w",
                    label="target (fitted)" if r.fitted else "data (not fitted)")
        handles, labels = bx.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        bx.legend(uniq.values(), uniq.keys(), fontsize=8)
        bx.set_xticks(hs)
        bx.set_xlabel("later years h")
        bx.set_ylabel("share of the top group staying in it h more years")
        bx.set_ylim(bottom=0)
        bx.set_title(f"persistence (AR(1) rho = {calibration.rho:.3f})")
    else:
        bx.text(0.5, 0.5, "no persistence fitted", ha="center", va="center")
        bx.set_axis_off()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

