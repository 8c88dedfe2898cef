"""The fit report: target against achieved for every statistic a calibration matched.

A :class:`FitReport` is a small frozen object: it prints as an aligned table in a terminal,
as an HTML table in a notebook, and converts to a pandas DataFrame with :meth:`FitReport.to_frame`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Calibration", "FitReport", "FitRow"]


@dataclass(frozen=True)
class FitRow:
    """One statistic of a fit: its name, the target, the value the fitted model achieves.

    ``target`` is ``nan`` for a statistic reported for information only (not fitted).

    >>> FitRow("top10_share", 0.600, 0.598).abs_error
    0.0020000000000000018
    """

    statistic: str
    target: float
    achieved: float
    fitted: bool = True

    @property
    def abs_error(self) -> float:
        """``|achieved - target|`` (``nan`` when there is no target)."""
        return abs(self.achieved - self.target)


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 1:
        return f"{x:.3f}"
    return f"{x:.4f}"


@dataclass(frozen=True)
class FitReport:
    """Target against achieved statistic for each row of a calibration, plus notes.

    Parameters
    ----------
    rows : sequence of FitRow
        One row per statistic.
    title : str
        What was fitted (shown above the table).
    notes : sequence of str
        How the data were treated and how statistics are defined (shown below the table).

    Examples
    --------
    >>> r = FitReport((FitRow("top1_share", 0.149, 0.151),), title="demo")
    >>> r.max_abs_error
    0.0020000000000000018
    >>> print(r)  # doctest: +NORMALIZE_WHITESPACE
    demo
    statistic   target  achieved  abs error
    top1_share  0.1490  0.1510    0.0020
    """

    rows: tuple[FitRow, ...]
    title: str = "fit report"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "notes", tuple(self.notes))

    @classmethod
    def build(
        cls,
        rows: Iterable[tuple[str, float, float] | tuple[str, float, float, bool]],
        title: str = "fit report",
        notes: Sequence[str] = (),
    ) -> FitReport:
        """Build from plain tuples ``(statistic, target, achieved[, fitted])``."""
        return cls(tuple(FitRow(*r) for r in rows), title=title, notes=tuple(notes))

    def __getitem__(self, statistic: str) -> FitRow:
        for r in self.rows:
            if r.statistic == statistic:
                return r
        raise KeyError(f"no statistic {statistic!r}; have {[r.statistic for r in self.rows]}")

    def __contains__(self, statistic: object) -> bool:
        return any(r.statistic == statistic for r in self.rows)

    @property
    def statistics(self) -> tuple[str, ...]:
        """Names of the statistics, in order."""
        return tuple(r.statistic for r in self.rows)

    @property
    def max_abs_error(self) -> float:
        """Largest absolute error over the fitted rows whose target is known."""
        errs = [r.abs_error for r in self.rows if r.fitted and not math.isnan(r.target)]
        return max(errs) if errs else 0.0

    def _table(self) -> list[list[str]]:
        out = [["statistic", "target", "achieved", "abs error"]]
        for r in self.rows:
            name = r.statistic if r.fitted else f"{r.statistic} (info)"
            out.append([name, _fmt(r.target), _fmt(r.achieved), _fmt(r.abs_error)])
        return out

    def __str__(self) -> str:
        table = self._table()
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        lines = [self.title]
        for row in table:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        table = self._table()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in table[1:]
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        notes_html = f"<ul>{notes}</ul>" if notes else ""
        return (
            f"<div><strong>{html.escape(self.title)}</strong>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"{notes_html}</div>"
        )

    def to_frame(self):  # -> pandas.DataFrame (pandas imported lazily)
        """Rows as a pandas DataFrame indexed by statistic.

        >>> FitReport.build([("cv", 2.0, 2.1)]).to_frame().columns.tolist()
        ['target', 'achieved', 'abs_error', 'fitted']
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "target": [r.target for r in self.rows],
                "achieved": [r.achieved for r in self.rows],
                "abs_error": [r.abs_error for r in self.rows],
                "fitted": [r.fitted for r in self.rows],
            },
            index=pd.Index([r.statistic for r in self.rows], name="statistic"),
        )


@dataclass(frozen=True)
class Calibration:
    """A fitted member cost model, its AR(1) persistence and the fit report.

    Attributes
    ----------
    cost : vbsim.costs.CostModel
        The fitted cost model (annual cost of one member with risk score 1).
    rho : float or None
        Lag-one correlation of the Gaussian AR(1) latent cost rank; ``None`` when no
        persistence target or data was given.
    report : FitReport
        Target against achieved for every statistic.
    risk_sd : float
        The risk-score log-sd the fit assumed (the member cost is ``R x cost``).

    Unpacks as ``cost, rho, report = calibration``.

    >>> from vbsim.costs import Lognormal
    >>> cal = Calibration(Lognormal(mean=1e4, cv=2), 0.6, FitReport((FitRow("cv", 2.0, 2.0),)))
    >>> cost, rho, report = cal
    >>> rho, cal.cohort("aged", 100).persistence
    (0.6, 0.6)
    """

    cost: object
    rho: float | None
    report: FitReport
    risk_sd: float = 0.0

    def cohort(self, name: str, members: int, **changes):
        """A :class:`vbsim.population.Cohort` with this cost model, ``persistence = rho`` and
        ``risk_sd`` as fitted; other fields from ``changes`` (mortality, churn, ...).

        The fit describes the ordinary annual cost of members present all year; the cohort's
        mortality, death-year uplift and churn act on top of it (docs/calibration.md).
        """
        from ..population import Cohort

        kw = {"risk_sd": self.risk_sd}
        if self.rho is not None:
            kw["persistence"] = self.rho
        kw.update(changes)
        return Cohort(name, members, self.cost, **kw)

    def __iter__(self):
        return iter((self.cost, self.rho, self.report))

    def __str__(self) -> str:
        rho = "None" if self.rho is None else f"{self.rho:.4f}"
        return f"cost = {self.cost!r}\nrho = {rho}, risk_sd = {self.risk_sd:g}\n{self.report}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rho = "None" if self.rho is None else f"{self.rho:.4f}"
        return (
            f"<div><code>cost = {html.escape(repr(self.cost))}</code><br>"
            f"<code>rho = {rho}</code>{self.report._repr_html_()}</div>"
        )
