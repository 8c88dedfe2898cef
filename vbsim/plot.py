"""Figures for negotiating a contract: exceedance curves, histograms, settlement waterfall,
tornado, frontier, panel-size curves and fan charts.

Every function draws on a matplotlib ``Axes`` it is given, or on a new ``Figure`` made without
pyplot (so it works with any backend, headless included), and returns the ``Axes``; save with
``ax.figure.savefig(...)``. Payments follow :mod:`vbsim.metrics`: gain positive, loss L = -x.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError, check_choice

VIEWS = {"provider": "provider_net", "payer": "payer_net"}


def _axes(ax: Any, figsize: tuple[float, float] = (6.4, 4.0)) -> Any:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _money(ax: Any, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _pos: Any) -> str:
        a = abs(v)
        for s, u in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if a >= s:
                return f"{v / s:,.3g}{u}"
        return f"{v:,.3g}"

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(FuncFormatter(fmt))


def samples(obj: Any, view: str = "provider") -> dict[str, np.ndarray]:
    """``{offer: per-scenario total over years}`` from a Result, a settlement Dataset, a
    Comparison or a mapping of arrays.

    >>> samples({"a": [1.0, -2.0]})
    {'a': array([ 1., -2.])}
    """
    check_choice("view", view, list(VIEWS))
    if isinstance(obj, Mapping):
        return {str(k): np.asarray(v, dtype=float) for k, v in obj.items()}
    if hasattr(obj, "_x") and hasattr(obj, "stats"):  # a Comparison
        return dict(obj._x)
    st = getattr(obj, "settlement", obj)
    if not isinstance(st, xr.Dataset) or "contract" not in st.dims:
        raise VbsimInputError(
            f"expected a Result, a settlement Dataset or a mapping of arrays; got {type(obj)}"
        )
    x = st[VIEWS[view]]
    if "year" in x.dims:
        x = x.sum("year")
    return {str(c): x.sel(contract=c).values.astype(float) for c in st["contract"].values}


def exceedance(obj: Any, *, view: str = "provider", ax: Any = None) -> Any:
    """P(loss > l) against l for each offer (log probability axis): the tail at a glance.

    >>> ax = exceedance({"a": np.random.default_rng(0).normal(0, 1e6, 1000)})
    >>> ax.get_ylabel()
    'P(loss > l)'
    """
    ax = _axes(ax)
    for name, x in samples(obj, view).items():
        loss = np.sort(-x)
        n = loss.size
        p = 1.0 - np.arange(1, n + 1) / n
        keep = p > 0
        ax.step(loss[keep], p[keep], where="post", label=name)
    ax.set_yscale("log")
    ax.set_xlabel(f"loss l ({view}, $)")
    ax.set_ylabel("P(loss > l)")
    ax.axvline(0.0, color="0.6", lw=0.8)
    _money(ax)
    ax.legend(fontsize="small")
    ax.set_title("Exceedance of the loss")
    return ax


def histogram(obj: Any, *, view: str = "provider", bins: int = 60, ax: Any = None) -> Any:
    """Overlaid histograms of the net payment of each offer, with the means marked.

    >>> ax = histogram({"a": np.arange(100.0)}, bins=10)
    >>> len(ax.patches) > 0
    True
    """
    ax = _axes(ax)
    data = samples(obj, view)
    allx = np.concatenate(list(data.values()))
    edges = np.histogram_bin_edges(allx, bins=bins)
    for i, (name, x) in enumerate(data.items()):
        color = f"C{i}"
        ax.hist(x, bins=edges, alpha=0.45, label=name, color=color)
        ax.axvline(float(x.mean()), color=color, lw=1.2, ls="--")
    ax.set_xlabel(f"net payment ({view}, $)")
    ax.set_ylabel("scenarios")
    _money(ax)
    ax.legend(fontsize="small")
    ax.set_title("Distribution of the net payment (dashed: mean)")
    return ax


def waterfall_steps(settlement: Any, contract: str | None = None) -> list[tuple[str, float]]:
    """Mean settlement bridge from raw savings (benchmark - expenditure) to the provider's net.

    Each step is a mean over scenarios (summed over years); the steps add up exactly, the last
    entry is the total. Steps that are zero for this contract are dropped.

    >>> from vbsim.presets import mssp
    >>> rec = mssp("E", msr=0.02).settle(benchmark=100e6, expenditure=97e6)
    >>> for step, amount in waterfall_steps(rec):
    ...     print(f"{step}: {amount:,.0f}")
    benchmark - expenditure: 3,000,000
    payer's share: -1,500,000
    sequestration: -30,000
    provider net: 1,470,000
    """
    st = getattr(settlement, "settlement", settlement)
    if isinstance(st, xr.Dataset):
        if "contract" in st.dims:
            names = [str(c) for c in st["contract"].values]
            contract = names[0] if contract is None else contract
            check_choice("contract", contract, names)
            st = st.sel(contract=contract)
        m = {k: float(v.sum("year").mean()) if "year" in v.dims else float(v.mean())
             for k, v in st.data_vars.items() if v.dtype.kind == "f"}
    else:  # a Settlement record
        m = {k: float(np.mean(v)) for k, v in settlement.to_dict().items()
             if np.asarray(v).dtype.kind == "f"}
    raw = m["benchmark"] - m["expenditure"]
    stop = m["stop_loss_recoveries"] - m["stop_loss_premium"]
    withhold = m["gross_savings"] - (raw - m["discount"] + stop)
    shared = m["shared_before_cap"]
    steps = [("benchmark - expenditure", raw), ("discount", -m["discount"]),
             ("quality withhold (benchmark)", withhold), ("stop-loss net", stop),
             ("payer's share", shared - m["gross_savings"]),
             ("sequestration", -m["sequestration"]),
             ("caps, limits, relief", m["shared_after_cap"] - (shared - m["sequestration"])),
             ("quality, P4P, capitation", m["provider_net"] - m["shared_after_cap"])]
    scale = max(abs(raw), abs(m["provider_net"]), 1.0)
    out = [(k, v) for k, v in steps if abs(v) > 1e-9 * scale or k == "benchmark - expenditure"]
    return out + [("provider net", m["provider_net"])]


def waterfall(settlement: Any, contract: str | None = None, *, ax: Any = None) -> Any:
    """Waterfall of the mean settlement components (see :func:`waterfall_steps`).

    >>> from vbsim.presets import mssp
    >>> rec = mssp("ENHANCED", msr=0.02).settle(benchmark=240e6, expenditure=228e6)
    >>> [k for k, _ in waterfall_steps(rec)][-1]
    'provider net'
    """
    steps = waterfall_steps(settlement, contract)
    ax = _axes(ax, (7.0, 4.0))
    level = 0.0
    for i, (_label, v) in enumerate(steps):
        if i == len(steps) - 1:
            ax.bar(i, v, color="C0")
        else:
            ax.bar(i, v, bottom=level, color="C2" if v >= 0 else "C3")
            level += v
    ax.set_xticks(range(len(steps)), [k for k, _ in steps], rotation=30, ha="right",
                  fontsize="small")
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.margins(y=0.08)
    ax.set_ylabel("mean total over the period ($)")
    _money(ax, "y")
    name = f": {contract}" if contract else ""
    ax.set_title(f"Settlement waterfall{name}")
    return ax


def tornado(t: Any, contract: str | None = None, measure: str | None = None, *,
            ax: Any = None) -> Any:
    """Horizontal bars of the change from the base when each assumption moves down / up.

    >>> import pandas as pd
    >>> from vbsim.negotiate.sensitivity import Tornado
    >>> frame = pd.DataFrame({"contract": ["E", "E"], "measure": ["mean", "mean"],
    ...                       "assumption": ["trend", "panel size"], "base": [1e5, 1e5],
    ...                       "low": [2e5, 9e4], "high": [0.0, 1.1e5],
    ...                       "low_se": [1e3, 1e3], "high_se": [1e3, 1e3]})
    >>> ax = tornado(Tornado(frame, {("E", "mean"): 1e5}, 100, "provider"))
    >>> ax.get_title(), [t.get_text() for t in ax.get_yticklabels()]
    ('Tornado: E', ['panel size', 'trend'])
    """
    f = t.frame
    contract = str(f["contract"].iloc[0]) if contract is None else contract
    measure = str(f["measure"].iloc[0]) if measure is None else measure
    sub = f[(f["contract"] == contract) & (f["measure"] == measure)]
    if sub.empty:
        raise VbsimInputError(f"the tornado has no rows for {contract!r} / {measure!r}")
    sub = sub.iloc[::-1]
    ax = _axes(ax)
    y = np.arange(len(sub))
    base = float(sub["base"].iloc[0])
    ax.barh(y, sub["low"] - base, color="C0", label="assumption down")
    ax.barh(y, sub["high"] - base, color="C1", label="assumption up")
    ax.errorbar(sub["low"] - base, y, xerr=2 * sub["low_se"], fmt="none", ecolor="k", lw=0.8)
    ax.errorbar(sub["high"] - base, y, xerr=2 * sub["high_se"], fmt="none", ecolor="k", lw=0.8)
    ax.set_yticks(y, list(sub["assumption"]))
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set_xlabel(f"change in {measure} from base {base:,.4g} ($; bars ±2 SE)")
    _money(ax)
    ax.legend(fontsize="small")
    ax.set_title(f"Tornado: {contract}")
    return ax


def frontier(fr: Any, *, ax: Any = None) -> Any:
    """Expected payment against risk for a parameter grid; efficient points joined, offers
    marked with their names.

    >>> import pandas as pd
    >>> from vbsim.negotiate.frontier import Frontier
    >>> frame = pd.DataFrame({"kind": ["grid", "grid", "offer"], "name": ["r=0.5", "r=0.75", "E"],
    ...                       "mean": [1e5, 1.5e5, 1.2e5], "mean_se": [1e3, 1e3, 1e3],
    ...                       "risk": [2e5, 3e5, 2.5e5], "risk_se": [5e3, 5e3, 5e3]})
    >>> ax = frontier(Frontier(frame, ["sharing.rate"], "TVaR99", "provider", 1000))
    >>> ax.get_title()
    'Frontier over sharing.rate'
    """
    f = fr.frame
    ax = _axes(ax)
    grid = f[f["kind"] == "grid"]
    ax.scatter(grid["risk"], grid["mean"], s=14, color="0.55", label="grid")
    from vbsim.negotiate.frontier import _efficient

    eff = grid[_efficient(grid["mean"].to_numpy(), grid["risk"].to_numpy())].sort_values("risk")
    if len(eff) > 1:
        ax.plot(eff["risk"], eff["mean"], color="C0", lw=1.2, label="efficient")
    offers = f[f["kind"] == "offer"]
    ax.errorbar(offers["risk"], offers["mean"], xerr=2 * offers["risk_se"],
                yerr=2 * offers["mean_se"], fmt="o", color="C3", label="offers (±2 SE)")
    for _, r in offers.iterrows():
        ax.annotate(str(r["name"]), (r["risk"], r["mean"]), textcoords="offset points",
                    xytext=(5, 4), fontsize="small")
    ax.set_xlabel(f"{fr.risk} of the loss ($)" if fr.risk != "p_loss" else "P(loss)")
    ax.set_ylabel("expected net payment ($)")
    if fr.risk != "p_loss":
        _money(ax)
    _money(ax, "y")
    ax.legend(fontsize="small")
    ax.set_title(f"Frontier over {', '.join(fr.params)}")
    return ax


def panel_curve(pc: Any, *, axes: Sequence[Any] | None = None) -> Any:
    """Three panels against members (log x): P(loss), TVaR as % of benchmark, P(clear MSR).

    >>> import pandas as pd
    >>> from vbsim.negotiate.panel import PanelCurve
    >>> frame = pd.DataFrame({"contract": ["E", "E"], "members": [1000, 10000],
    ...                       "p_loss": [0.3, 0.1], "p_loss_se": [0.01, 0.01],
    ...                       "tvar_pct_benchmark": [4.0, 1.5],
    ...                       "p_clear_msr": [0.2, 0.4], "p_clear_msr_se": [0.01, 0.01]})
    >>> axes = panel_curve(PanelCurve(frame, 0.99, "provider", 500, []))
    >>> [ax.get_title() for ax in axes]
    ['P(loss)', 'TVaR99 (% of benchmark)', 'P(clear the MSR)']
    """
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10.0, 3.4), layout="constrained")
        axes = fig.subplots(1, 3)
    f = pc.frame.dropna(subset=["p_loss"])
    cols = (("p_loss", "p_loss_se", "P(loss)"),
            ("tvar_pct_benchmark", None, f"TVaR{100 * pc.level:g} (% of benchmark)"),
            ("p_clear_msr", "p_clear_msr_se", "P(clear the MSR)"))
    for ax, (col, se, title) in zip(axes, cols, strict=True):
        for i, (name, g) in enumerate(f.groupby("contract", sort=False)):
            ax.plot(g["members"], g[col], marker="o", ms=3, color=f"C{i}", label=name)
            if se is not None:
                ax.fill_between(g["members"], g[col] - 2 * g[se], g[col] + 2 * g[se],
                                color=f"C{i}", alpha=0.15)
        ax.set_xscale("log")
        ax.set_xlabel("aligned members")
        ax.set_title(title, fontsize="medium")
    axes[0].legend(fontsize="small")
    return axes


def fan_chart(da: xr.DataArray, ax: Any = None,
              percentiles: Sequence[float] = (5, 25, 50, 75, 95), *,
              dim: str = "scenario", x: str | None = None, label: str | None = None) -> Any:
    """Percentile bands of ``da`` over ``dim`` along its other dimension (e.g. by year).

    Bands join symmetric pairs of percentiles (5-95, 25-75, ...); an odd middle one is drawn as
    a line.

    >>> da = xr.DataArray(np.random.default_rng(0).normal(size=(200, 5)),
    ...                   dims=("scenario", "year"), coords={"year": np.arange(1, 6)})
    >>> ax = fan_chart(da)
    >>> ax.get_xlabel()
    'year'
    """
    if dim not in da.dims:
        raise VbsimInputError(f"fan_chart: da must have a {dim!r} dimension; got {da.dims}")
    rest = [d for d in da.dims if d != dim]
    if len(rest) != 1:
        raise VbsimInputError(
            f"fan_chart: da must have exactly one dimension besides {dim!r}; got {rest}")
    pct = sorted(float(p) for p in percentiles)
    if not pct or pct[0] < 0 or pct[-1] > 100:
        raise VbsimInputError(f"fan_chart: percentiles must be in [0, 100]; got {percentiles}")
    x = x or rest[0]
    xs = da[x].values if x in da.coords else np.arange(da.sizes[rest[0]])
    q = np.percentile(da.transpose(dim, rest[0]).values, pct, axis=0,
                      method="inverted_cdf")  # the lower empirical quantile, as the tables
    ax = _axes(ax)
    k = len(pct)
    for i in range(k // 2):
        alpha = 0.15 + 0.5 * (i + 1) / max(1, k // 2) * 0.5
        ax.fill_between(xs, q[i], q[k - 1 - i], color="C0", alpha=alpha, lw=0,
                        label=f"{pct[i]:g}-{pct[k - 1 - i]:g}%")
    if k % 2:
        ax.plot(xs, q[k // 2], color="C0", lw=1.5, label=f"{pct[k // 2]:g}%")
    ax.set_xlabel(x)
    if label:
        ax.set_ylabel(label)
    ax.legend(fontsize="small")
    return ax


__all__ = ["exceedance", "fan_chart", "frontier", "histogram", "panel_curve", "samples",
           "tornado", "waterfall", "waterfall_steps"]
