"""Contracts side by side as a readable table (plain text and HTML for Jupyter)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, tuple) and v and all(isinstance(b, tuple) for b in v):
        return ", ".join("[" + ", ".join(_fmt(x) for x in b) + "]" for b in v)
    return str(v)


class ContractTable:
    """One column per contract, one row per parameter (dotted paths of ``contract.params()``).

    Rows where all contracts are None are dropped; cells that differ from the first contract
    are marked in the HTML view.

    >>> from vbsim.presets import mssp
    >>> t = ContractTable({"E": mssp("E", msr=0.02), "ENH": mssp("ENHANCED", msr=0.02)})
    >>> print(str(t).splitlines()[2].split())
    ['sharing.rate', '0.5', '0.75']
    """

    def __init__(self, contracts: Mapping[str, Any] | Any) -> None:
        if hasattr(contracts, "params"):
            contracts = {getattr(contracts, "name", "") or "contract": contracts}
        self.contracts = dict(contracts)
        params = {n: c.params() for n, c in self.contracts.items()}
        keys: list[str] = []
        for p in params.values():
            keys += [k for k in p if k not in keys and k not in ("name", "source")]
        heads = list(dict.fromkeys(k.split(".")[0] for k in keys))  # keep terms together
        keys.sort(key=lambda k: heads.index(k.split(".")[0]))
        self.rows = [(k, [params[n].get(k) for n in self.contracts]) for k in keys
                     if any(params[n].get(k) is not None for n in self.contracts)]
        self.sources = [str(params[n].get("source", "")) for n in self.contracts]

    def to_frame(self):
        """A DataFrame: rows = parameters, columns = contracts."""
        import pandas as pd

        return pd.DataFrame({n: [v[i] for _, v in self.rows]
                             for i, n in enumerate(self.contracts)},
                            index=pd.Index([k for k, _ in self.rows], name="parameter"))

    def __str__(self) -> str:
        cells = [["parameter", *self.contracts]] + [[k, *(_fmt(v) for v in vals)]
                                                    for k, vals in self.rows]
        w = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
        return "\n".join("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in cells)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(n)}</th>" for n in self.contracts)
        body = []
        for k, vals in self.rows:
            tds = []
            for i, v in enumerate(vals):
                same = i == 0 or _same(v, vals[0])
                style = "" if same else " style='background:#fff3cd'"
                tds.append(f"<td{style}>{html.escape(_fmt(v))}</td>")
            body.append(f"<tr><th style='text-align:left'>{html.escape(k)}</th>{''.join(tds)}</tr>")
        src = "".join(f"<td class='note' style='font-size:.8em'>{html.escape(s)}</td>"
                      for s in self.sources)
        return (f"<table class='vbsim'><thead><tr><th>parameter</th>{head}</tr></thead><tbody>"
                f"{''.join(body)}<tr><th style='text-align:left'>source</th>{src}</tr>"
                "</tbody></table>")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(a == b))
    except (TypeError, ValueError):
        return a is b
