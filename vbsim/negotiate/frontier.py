"""Frontier: expected payment against tail risk over a grid of contract parameters.

Every grid point is the base contract with some parameters replaced, re-settled on the cached
paths (common random numbers), so the points differ only through the contract. The offers on
the table are added as marked points. A point is *efficient* (for the party whose view is taken)
when no other point has both a higher expected payment and a lower risk.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_choice

from ._stats import influence, measure_stat, se_of
from .breakeven import setter
from .resettle import as_resettler

VIEWS = {"provider": "provider_net", "payer": "payer_net"}


class Frontier:
    """Result of :func:`frontier`: ``frame`` with one row per grid point or offer.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"kind": ["grid", "grid", "offer"], "name": ["r=0.5", "r=0.75", "E"],
    ...                       "mean": [1e5, 1.5e5, 1.2e5], "mean_se": [1e3, 1e3, 1e3],
    ...                       "risk": [2e5, 3e5, 2.5e5], "risk_se": [5e3, 5e3, 5e3]})
    >>> fr = Frontier(frame, ["sharing.rate"], "TVaR99", "provider", 1000)
    >>> str(fr).splitlines()[0]
    'frontier (provider view, 1,000 scenarios): E[payment] vs TVaR99 of the loss'
    """

    def __init__(self, frame: Any, params: list[str], risk: str, view: str,
                 n_scenarios: int) -> None:
        self.frame, self.params, self.risk = frame, params, risk
        self.view, self.n_scenarios = view, n_scenarios

    def __str__(self) -> str:
        return (f"frontier ({self.view} view, {self.n_scenarios:,} scenarios): E[payment] vs "
                f"{self.risk} of the loss\n" + self.frame.to_string(index=False))

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (f"<p>{html.escape(str(self).splitlines()[0])}</p>"
                + self.frame.to_html(index=False, float_format=lambda v: f"{v:,.4g}"))

    def plot(self, ax: Any = None) -> Any:
        """Scatter of the grid with the efficient points joined and the offers marked."""
        from vbsim import plot

        return plot.frontier(self, ax=ax)


def _efficient(mean: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Not dominated: no other point with mean >= and risk <= and one strictly better."""
    out = np.ones(mean.size, bool)
    for i in range(mean.size):
        dom = (mean >= mean[i]) & (risk <= risk[i]) & ((mean > mean[i]) | (risk < risk[i]))
        out[i] = not dom.any()
    return out


def frontier(
    result: Any,
    contract: Any,
    grid: Mapping[str | Callable[[Any, float], Any], Sequence[float]],
    *,
    risk: str = "tvar99",
    view: str = "provider",
    offers: Mapping[str, Any] | None = None,
) -> Frontier:
    """Expected payment and ``risk`` (with SEs) for every combination of ``grid`` values.

    Parameters
    ----------
    result:
        A :class:`vbsim.run.Result`, a ``CostPaths`` Dataset or a ``Resettler``.
    contract:
        The base contract, or the name of one of ``result.scenario.contracts``.
    grid:
        ``{parameter: values}``; a parameter is a dotted path of ``contract.params()`` or a
        setter function (e.g. :func:`~vbsim.negotiate.corridor_width`).
    risk:
        ``"tvar99"`` (any level), ``"p_loss"`` or ``"sd"``.
    offers:
        Contracts to mark (default: every contract of ``result.scenario``).

    Examples
    --------
    >>> from vbsim.run import run
    >>> res = run("scenarios/default.toml", n_scenarios=100, progress=False)
    >>> f = frontier(res, "mssp_enhanced", {"sharing.rate": [0.5, 0.75]})
    >>> f.frame["kind"].tolist()
    ['grid', 'grid', 'offer', 'offer', 'offer']
    """
    import pandas as pd

    check_choice("view", view, list(VIEWS))
    var = VIEWS[view]
    rs = as_resettler(result)
    contracts = dict(getattr(getattr(result, "scenario", None), "contracts", {}) or {})
    if isinstance(contract, str):
        check_choice("contract", contract, list(contracts))
        contract = contracts[contract]
    if not grid:
        raise VbsimInputError("grid must name at least one parameter with values")
    stat = "sd" if risk == "sd" else measure_stat(risk, None)
    setters = [setter(p) for p in grid]
    names = [n for n, _ in setters]
    rows = []
    for combo in itertools.product(*[list(v) for v in grid.values()]):
        c = contract
        for (_, fn), v in zip(setters, combo, strict=True):
            c = fn(c, float(v))
        x = rs.totals(c, var)
        rows.append({**dict(zip(names, map(float, combo), strict=True)), "kind": "grid",
                     "name": "", **_point(x, stat)})
    for name, c in (contracts if offers is None else dict(offers)).items():
        x = rs.totals(c, var)
        rows.append({**{n: np.nan for n in names}, "kind": "offer", "name": name,
                     **_point(x, stat)})
    frame = pd.DataFrame(rows)
    frame["efficient"] = _efficient(frame["mean"].to_numpy(), frame["risk"].to_numpy())
    return Frontier(frame, names, stat, view, rs.n_scenarios)


def _point(x: np.ndarray, stat: str) -> dict[str, float]:
    m, im = influence(x, "mean")
    r, ir = influence(x, stat)
    return {"mean": m, "mean_se": se_of(im), "risk": r, "risk_se": se_of(ir)}
