"""Offers side by side on the same simulated scenarios, with paired standard errors.

:func:`compare` takes a :class:`vbsim.run.Result` (or a settlement Dataset with a ``contract``
dim), sums each scenario over years, and reports for every offer the expected payment, its sd,
P(loss), VaR and TVaR of the loss at 95 / 99 / 99.5%, P(cap or loss limit hit) and the
certainty equivalent under exponential utility, each with its Monte Carlo standard error. Every
offer is also compared with a baseline scenario by scenario (common random numbers), and a note
is written wherever the ranking of two offers is within the simulation noise.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError, check_choice, check_real
from vbsim.metrics import total_over_years

from ._stats import influence, level_label, se_of

DEFAULT_LEVELS = (0.95, 0.99, 0.995)  # the levels the negotiation issue asks for
# Risk tolerance T (a = 1 / T) when none is given: 1% of the mean benchmark total over the period
# (assumption: an organisation that would pay about 0.5% of its benchmark to avoid a fair 50/50
# bet of +-1% of benchmark). Without a benchmark variable: the baseline's sd (assumption).
DEFAULT_RISK_TOLERANCE_SHARE = 0.01
SIGNIFICANCE_Z = 2.0  # |difference| > 2 SE is called significant (~95% two-sided)

VIEWS = {"provider": "provider_net", "payer": "payer_net"}

COLUMNS = {
    "mean": "E[payment]", "sd": "sd", "p_loss": "P(loss)", "CE": "CE",
    "VaR_95": "VaR95", "VaR_99": "VaR99", "VaR_99.5": "VaR99.5",
    "TVaR_95": "TVaR95", "TVaR_99": "TVaR99", "TVaR_99.5": "TVaR99.5",
    "p_cap_hit": "P(cap/limit)", "p_stop_loss_hit": "P(stop-loss)",
}


def _decimals(se: float) -> int:
    """Decimals showing two significant digits of ``se`` (as vbsim.metrics tables do)."""
    if not math.isfinite(se) or se <= 0:
        return 0
    return int(min(6, max(0, 1 - math.floor(math.log10(se)))))


def _totals(settlement: xr.Dataset, names: list[str]) -> xr.Dataset:
    """Sum the variables ``names`` (those present) over years; a flag counts if set in any
    year."""
    return total_over_years(settlement, [n for n in names if n in settlement])


def settlement_of(result: Any) -> xr.Dataset:
    """The settlement Dataset of a Result (or the Dataset itself), checked for a contract dim.

    >>> ds = xr.Dataset({"provider_net": (("contract", "scenario"), np.zeros((2, 3)))},
    ...                 coords={"contract": ["a", "b"]})
    >>> settlement_of(ds) is ds
    True
    >>> settlement_of(ds.isel(contract=0))
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: the settlement needs 'contract' and 'scenario' dims; ...
    """
    st = getattr(result, "settlement", result)
    if not isinstance(st, xr.Dataset):
        raise VbsimInputError(
            f"result must be a vbsim Result or a settlement Dataset; got {type(result).__name__}"
        )
    if "contract" not in st.dims or "scenario" not in st.dims:
        raise VbsimInputError(
            f"the settlement needs 'contract' and 'scenario' dims; got {tuple(st.dims)}"
        )
    return st


def default_risk_aversion(totals: xr.Dataset, baseline: str, var: str) -> float:
    """a = 1 / (1% of the mean benchmark total), or 1 / sd of the baseline without a benchmark.

    >>> ds = xr.Dataset({"benchmark": (("contract", "scenario"), np.full((1, 3), 1e8))},
    ...                 coords={"contract": ["a"]})
    >>> default_risk_aversion(ds, "a", "provider_net")  # 1 / (1% of $100M)
    1e-06
    """
    if "benchmark" in totals:
        b = float(totals["benchmark"].sel(contract=baseline).mean())
        if b > 0:
            return 1.0 / (DEFAULT_RISK_TOLERANCE_SHARE * b)
    s = float(totals[var].sel(contract=baseline).std())
    return 1.0 / s if s > 0 else 1.0


class Comparison:
    """Offers compared on common scenarios; see :func:`compare`.

    Attributes
    ----------
    stats : xarray.Dataset
        ``value`` and ``se`` with dims (contract, stat).
    differences : xarray.Dataset
        Each offer minus the baseline: ``value``, ``se`` (paired), ``se_independent`` and
        ``significant`` with dims (contract, stat).
    notes : list of str
        Rankings that are not significant, and other caveats.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(0, 1e6, 500)
    >>> ds = xr.Dataset({"provider_net": (("contract", "scenario"), np.stack([z, z + 1e5]))},
    ...                 coords={"contract": ["a", "b"]})
    >>> c = compare(ds, "a")
    >>> c.stats["value"].dims, round(float(c.differences["value"].sel(contract="b", stat="mean")))
    (('contract', 'stat'), 100000)
    >>> bool(c.differences["significant"].sel(contract="b", stat="mean"))
    True
    """

    def __init__(self, x: dict[str, np.ndarray], flags: dict[str, dict[str, np.ndarray]],
                 stat_list: list[str], baseline: str, view: str, risk_aversion: float,
                 n_years: int, z: float) -> None:
        self._x, self._flags = x, flags
        self.baseline, self.view, self.risk_aversion = baseline, view, risk_aversion
        self.n_scenarios = next(iter(x.values())).size
        self.n_years, self.z = n_years, z
        self.stat_list = stat_list
        names = list(x)
        val = np.zeros((len(names), len(stat_list)))
        se = np.zeros_like(val)
        dv, dse, dind = np.zeros_like(val), np.zeros_like(val), np.zeros_like(val)
        for j, s in enumerate(stat_list):
            vb, ib = self._infl(baseline, s)
            for i, c in enumerate(names):
                v, ic = (vb, ib) if c == baseline else self._infl(c, s)
                val[i, j], se[i, j] = v, se_of(ic)
                dv[i, j] = v - vb
                dse[i, j] = se_of(ic - ib) if c != baseline else 0.0
                dind[i, j] = math.hypot(se_of(ic), se_of(ib)) if c != baseline else 0.0
        coords = {"contract": names, "stat": stat_list}
        attrs = {"var": VIEWS[view], "view": view, "n_scenarios": self.n_scenarios,
                 "risk_aversion": risk_aversion, "baseline": baseline}
        dims = ("contract", "stat")
        self.stats = xr.Dataset({"value": (dims, val), "se": (dims, se)}, coords=coords,
                                attrs=attrs)
        self.differences = xr.Dataset(
            {"value": (dims, dv), "se": (dims, dse), "se_independent": (dims, dind),
             "significant": (dims, np.abs(dv) > z * dse)}, coords=coords, attrs=attrs)
        self.notes = self._ranking_notes()

    # ---------------------------------------------------------------------------------------
    def _infl(self, contract: str, stat: str) -> tuple[float, np.ndarray]:
        if stat == "CE":
            return influence(self._x[contract], f"CE_{self.risk_aversion!r}")
        if stat.startswith("p_") and stat != "p_loss":
            return influence(self._x[contract], stat, self._flags[contract][stat[2:]])
        return influence(self._x[contract], stat)

    def difference(self, a: str, b: str, stat: str = "mean") -> tuple[float, float]:
        """``stat(a) - stat(b)`` and its paired standard error.

        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(0, 1, 2000)
        >>> ds = xr.Dataset({"provider_net": (("contract", "scenario"), np.stack([z, z + 0.01]))},
        ...                 coords={"contract": ["a", "b"]})
        >>> d, se = compare(ds, risk_aversion=0.5).difference("b", "a")
        >>> round(d, 4), se < 1e-12
        (0.01, True)
        """
        check_choice("a", a, list(self._x))
        check_choice("b", b, list(self._x))
        check_choice("stat", stat, self.stat_list)
        va, ia = self._infl(a, stat)
        vb, ib = self._infl(b, stat)
        return va - vb, se_of(ia - ib)

    def pairwise(self, stat: str = "mean"):
        """All pairs: a DataFrame of ``row - column`` as ``value ± se`` strings."""
        import pandas as pd

        from vbsim.metrics import format_pm

        names = list(self._x)
        cells = [[format_pm(*self.difference(a, b, stat)) if a != b else "" for b in names]
                 for a in names]
        return pd.DataFrame(cells, index=pd.Index(names, name=f"{stat}: row - column"),
                            columns=names)

    def _ranking_notes(self) -> list[str]:
        notes = []
        for stat, label, higher_better in (("mean", "expected payment", True),
                                           ("CE", "certainty equivalent", True),
                                           ("TVaR_99", "TVaR99", False)):
            if stat not in self.stat_list:
                continue
            vals = self.stats["value"].sel(stat=stat).values
            order = np.argsort(-vals if higher_better else vals, kind="stable")
            names = [str(c) for c in self.stats["contract"].values[order]]
            for a, b in zip(names[:-1], names[1:], strict=True):
                d, se = self.difference(a, b, stat)
                if not np.isfinite(se):
                    notes.append(
                        f"{a} vs {b} on {label}: difference {d:,.4g} has no error bar at "
                        f"{self.n_scenarios:,} scenarios (too few in the tail): the ranking is "
                        "not established (simulate more)")
                elif abs(d) <= self.z * se:
                    notes.append(
                        f"{a} vs {b} on {label}: difference {d:,.4g} ± {se:,.2g} is within "
                        f"{self.z:g} SE: the ranking is not significant at "
                        f"{self.n_scenarios:,} scenarios (simulate more to separate them)"
                    )
        return notes

    # ---------------------------------------------------------------------------------------
    def to_frame(self, which: str = "stats"):
        """A DataFrame: rows = contract, columns = (stat, "value" | "se").

        ``which="differences"`` gives each offer minus the baseline (paired SEs).
        """
        from vbsim.metrics import summary_to_frame

        check_choice("which", which, ["stats", "differences"])
        ds = self.stats if which == "stats" else self.differences[["value", "se"]]
        return summary_to_frame(ds)

    def _columns(self) -> dict[str, str]:
        cols = {k: v for k, v in COLUMNS.items() if k in self.stat_list}
        if self.view != "provider" and "mean" in cols:  # not what the provider receives
            cols["mean"] = f"E[{self.view} net]"
        for s in self.stat_list:
            cols.setdefault(s, s)
        return cols

    def _header(self) -> str:
        yrs = f" summed over {self.n_years} years" if self.n_years > 1 else ""
        return (f"{self.view} view ({VIEWS[self.view]}{yrs}), {self.n_scenarios:,} scenarios; "
                f"CE at risk aversion {self.risk_aversion:.3g} per $; "
                f"VaR/TVaR are of the loss (positive = loss)")

    def __str__(self) -> str:
        from vbsim.metrics import format_table

        cols = self._columns()
        parts = [self._header(), format_table(self.stats, cols), "",
                 f"difference from baseline {self.baseline!r} (same scenarios, paired SE):",
                 format_table(self.differences[["value", "se"]].drop_sel(
                     contract=self.baseline), cols) if len(self._x) > 1 else "(one offer)"]
        if self.notes:
            parts += ["", "notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(parts)

    __repr__ = __str__

    def _html_table(self, ds: xr.Dataset, caption: str) -> str:
        from vbsim.metrics import format_pm

        cols = self._columns()
        money = [k for k in cols if not k.startswith("p_")]
        top = float(np.max(np.abs(ds["value"].sel(stat=money).values))) if money else 0.0
        scale, unit = next(((s, u) for s, u in ((1e9, "$B"), (1e6, "$M"), (1e3, "$k"))
                            if top >= s * (10 if s == 1e3 else 1)), (1.0, "$"))
        head = "".join(f"<th>{html.escape(t)} ({'%' if k.startswith('p_') else unit})</th>"
                       for k, t in cols.items())
        factor = {k: 100.0 if k.startswith("p_") else 1.0 / scale for k in cols}
        decimals = {}
        for k in cols:  # one number of decimals per column: two digits of its smallest SE
            se = ds["se"].sel(stat=k).values * factor[k]
            nz = se[se > 0]
            decimals[k] = _decimals(float(nz.min())) if nz.size else (1 if k.startswith("p_")
                                                                      else 2)
        rows = []
        for c in ds["contract"].values:
            cells = []
            for k in cols:
                v = float(ds["value"].sel(contract=c, stat=k)) * factor[k]
                s = float(ds["se"].sel(contract=c, stat=k)) * factor[k]
                bold = ("significant" in ds and bool(ds["significant"].sel(contract=c, stat=k)))
                txt = html.escape(format_pm(v, s, decimals[k]))
                cells.append(f"<td style='text-align:right;white-space:nowrap'>"
                             f"{'<b>' + txt + '</b>' if bold else txt}</td>")
            rows.append(f"<tr><th>{html.escape(str(c))}</th>{''.join(cells)}</tr>")
        return (f"<table class='vbsim'><caption>{html.escape(caption)}</caption>"
                f"<thead><tr><th>contract</th>{head}</tr></thead><tbody>{''.join(rows)}"
                "</tbody></table>")

    def _repr_html_(self) -> str:
        out = [f"<p>{html.escape(self._header())}</p>",
               self._html_table(self.stats, "offers (value ± Monte Carlo SE)")]
        if len(self._x) > 1:
            out.append(self._html_table(
                self.differences.drop_sel(contract=self.baseline),
                f"minus baseline {self.baseline} (paired SE; bold: |d| > {self.z:g} SE)"))
        if self.notes:
            out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
                       + "</ul>")
        return "\n".join(out)


def compare(
    result: Any,
    baseline: str | None = None,
    *,
    view: str = "provider",
    levels: Sequence[float] = DEFAULT_LEVELS,
    risk_aversion: float | None = None,
    z: float = SIGNIFICANCE_Z,
) -> Comparison:
    """Compare the offers of a result on the same scenarios.

    Parameters
    ----------
    result:
        A :class:`vbsim.run.Result` or a settlement Dataset (dims contract, scenario[, year]).
    baseline:
        The offer the others are compared with (default: the first).
    view:
        ``"provider"`` (``provider_net``) or ``"payer"`` (``payer_net``).
    levels:
        VaR / TVaR levels of the loss.
    risk_aversion:
        ``a`` (per dollar) of the exponential utility u(x) = -exp(-a x); the certainty equivalent
        is CE = -(1/a) log E[exp(-a X)], computed by log-sum-exp, its SE by the delta method.
        Default: 1 / (1% of the mean benchmark total) -- an assumption, see docs/negotiation.md.
    z:
        A ranking is called significant when |difference| > z paired SEs.

    Returns
    -------
    Comparison
        Prints as a plain table, shows as HTML in Jupyter, ``.to_frame()`` gives a DataFrame.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 1e6, (2, 1000))
    >>> ds = xr.Dataset({"provider_net": (("contract", "scenario"), z)},
    ...                 coords={"contract": ["a", "b"]})
    >>> c = compare(ds, "a")
    >>> bool(c.stats["value"].sel(contract="a", stat="mean") == z[0].mean())
    True
    """
    check_choice("view", view, list(VIEWS))
    var = VIEWS[view]
    st = settlement_of(result)
    if var not in st:
        raise VbsimInputError(f"the settlement has no {var!r} variable for the {view} view")
    names = [str(c) for c in st["contract"].values]
    baseline = names[0] if baseline is None else baseline
    check_choice("baseline", baseline, names)
    levels = [check_real("levels", p, 0.0, 1.0, lo_open=True, hi_open=True) for p in levels]
    z = check_real("z", z, 0.0, 10.0, lo_open=True)
    n_years = int(st.sizes.get("year", 1))
    tot = _totals(st, [var, "benchmark", "cap_hit", "stop_loss_hit"])
    if risk_aversion is None:
        risk_aversion = default_risk_aversion(tot, baseline, var)
    risk_aversion = check_real("risk_aversion", risk_aversion, 0.0, math.inf, lo_open=True)
    # P(cap or limit hit) always; P(stop-loss hit) only where some offer has a stop-loss
    flag_names = [f for f in ("cap_hit", "stop_loss_hit") if f in tot
                  and (f == "cap_hit" or bool(tot[f].any()))]
    x, flags = {}, {}
    for c in names:
        xc = tot[var].sel(contract=c).transpose("scenario").values.astype(float)
        if not np.isfinite(xc).all():
            raise VbsimInputError(f"{var} of contract {c!r} has NaN or inf values")
        x[c] = xc
        flags[c] = {f: tot[f].sel(contract=c).transpose("scenario").values for f in flag_names}
    if x[baseline].size < 2:
        raise VbsimInputError("compare needs at least 2 scenarios")
    stats = ["mean", "sd", "p_loss", "CE"]
    stats += [f"VaR_{level_label(p)}" for p in levels] + [f"TVaR_{level_label(p)}" for p in levels]
    stats += [f"p_{f}" for f in flag_names]
    return Comparison(x, flags, stats, baseline, view, float(risk_aversion), n_years, z)
