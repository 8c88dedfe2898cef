"""Panel size: how the chance of a loss, the tail risk and the chance of clearing the MSR change
with the number of aligned members.

For small and rural practices deciding whether to go it alone or join a larger ACO: the same
population mix is scaled to each size (cohort shares kept), re-simulated with the same seed, and
each offer settled. Offers whose MSR follows the MSSP size table use the table at each size;
below 5,000 assigned beneficiaries the table is undefined (MSSP requires at least 5,000 to
participate at all), so those points are missing and a note says so. The tail risk is reported
both in dollars and as a share of the mean benchmark, since dollars grow with the panel.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_choice, check_int

from ._stats import influence, level_label, se_of
from .compare import _totals
from .sensitivity import scale_members, scenario_for

VIEWS = {"provider": "provider_net", "payer": "payer_net"}
# Panel sizes from a small practice to a large ACO (assumption: log-spaced, the range).
DEFAULT_SIZES = (300, 1_000, 3_000, 5_000, 10_000, 30_000, 100_000)


class PanelCurve:
    """Result of :func:`panel_curve`: ``frame`` with one row per (contract, size).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"contract": ["E", "E"], "members": [1000, 10000],
    ...                       "p_loss": [0.3, 0.1], "p_loss_se": [0.01, 0.01],
    ...                       "tvar_pct_benchmark": [4.0, 1.5],
    ...                       "p_clear_msr": [0.2, 0.4], "p_clear_msr_se": [0.01, 0.01]})
    >>> pc = PanelCurve(frame, 0.99, "provider", 500, ["demo"])
    >>> str(pc).splitlines()[0]
    'panel size (provider view, 500 scenarios per size, same seed; TVaR at 0.99)'
    """

    def __init__(self, frame: Any, level: float, view: str, n_scenarios: int,
                 notes: list[str]) -> None:
        self.frame, self.level, self.view = frame, level, view
        self.n_scenarios, self.notes = n_scenarios, notes

    def __str__(self) -> str:
        head = (f"panel size ({self.view} view, {self.n_scenarios:,} scenarios per size, same "
                f"seed; TVaR at {self.level:g})")
        tail = "".join(f"\nnote: {n}" for n in self.notes)
        return head + "\n" + self.frame.to_string(index=False) + tail

    __repr__ = __str__

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (f"<p>{html.escape(str(self).splitlines()[0])}</p>"
                + self.frame.to_html(index=False, float_format=lambda v: f"{v:,.4g}")
                + (f"<ul>{notes}</ul>" if notes else ""))

    def plot(self, axes: Any = None) -> Any:
        """P(loss), TVaR as % of benchmark and P(clear MSR) against members (log scale)."""
        from vbsim import plot

        return plot.panel_curve(self, axes=axes)


def panel_curve(
    scenario: Any,
    contracts: Sequence[str] | None = None,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    level: float = 0.99,
    view: str = "provider",
    n_scenarios: int | None = None,
    seed: int | None = None,
) -> PanelCurve:
    """P(loss), TVaR and P(clearing the MSR) of each offer at each panel size.

    Parameters
    ----------
    scenario:
        A :class:`vbsim.scenario.Scenario` or a TOML path; its cohort mix is scaled to each size.
    contracts:
        Names of the scenario's contracts (default: all).
    sizes:
        Aligned members at the start of year 1.
    level:
        TVaR level of the loss.

    Examples
    --------
    >>> pc = panel_curve("scenarios/default.toml", ["mssp_basic_e"], sizes=(500, 2000),
    ...                  n_scenarios=100)
    >>> pc.frame["members"].tolist()
    [500, 2000]
    """
    import pandas as pd

    from vbsim.run import run

    check_choice("view", view, list(VIEWS))
    var = VIEWS[view]
    sc, names = scenario_for(scenario, n_scenarios=n_scenarios, seed=seed, contracts=contracts)
    sizes = [check_int("sizes", s, 1, 10**7) for s in sizes]
    if not sizes:
        raise VbsimInputError("sizes must list at least one panel size")
    tstat = f"TVaR_{level_label(level)}"
    needed = [var, "benchmark", "gate_met", "gross_savings"]
    total = sc.population.members
    rows, notes = [], []
    for size in sizes:
        s = scale_members(sc, size / total)
        ok, skipped = {}, []
        for n in names:
            params = sc.contracts[n].params()
            if size < 5_000 and any(v == "table" for k, v in params.items()
                                    if k.endswith(("msr", "mlr"))):
                skipped.append(n)
            else:
                ok[n] = sc.contracts[n]
        for n in skipped:
            rows.append({"contract": n, "members": size})
        if skipped and not any("size table" in x for x in notes):
            notes.append(f"{', '.join(skipped)}: MSR from the MSSP size table, undefined below "
                         "5,000 assigned beneficiaries (the program's minimum): not shown there")
        if not ok:
            continue
        try:
            st = _totals(run(s.replace(contracts=ok), progress=False).settlement, needed)
            settled = {n: st.sel(contract=n) for n in ok}
        except VbsimInputError:  # one offer undefined at this size: settle one by one (CRN)
            settled = {}
            for n, c in ok.items():
                try:
                    st = _totals(run(s.replace(contracts={n: c}), progress=False).settlement,
                                 needed)
                    settled[n] = st.sel(contract=n)
                except VbsimInputError as exc:
                    rows.append({"contract": n, "members": size})
                    notes.append(f"{n} at {size:,} members: {exc}")
        for n, st in settled.items():
            x = st[var].values
            bench = float(st["benchmark"].mean())
            clear = (st["gate_met"].values & (st["gross_savings"].values > 0)).astype(float)
            pl, ipl = influence(x, "p_loss")
            tv, itv = influence(x, tstat)
            mean, imean = influence(x, "mean")
            rows.append({"contract": n, "members": size, "mean": mean, "mean_se": se_of(imean),
                         "p_loss": pl, "p_loss_se": se_of(ipl), "tvar": tv, "tvar_se": se_of(itv),
                         "tvar_pct_benchmark": 100 * tv / bench if bench > 0 else np.nan,
                         "p_clear_msr": float(clear.mean()),
                         "p_clear_msr_se": se_of(clear - clear.mean())})
    frame = pd.DataFrame(rows).sort_values(["contract", "members"], kind="stable")
    return PanelCurve(frame.reset_index(drop=True), level, view, int(sc.n_scenarios), notes)
