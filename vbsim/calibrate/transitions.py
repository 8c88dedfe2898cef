"""Cohort transition rates from a member-year table with an enrolment type per year.

The engine moves a continuing member from cohort ``a`` to cohort ``b`` at the start of a year
with probability ``Cohort.transitions[b]`` (docs/engine.md, "Cohort transitions"). The matching
empirical estimate: among members in cohort ``a`` in year ``y`` who are still present in year
``y + 1`` (members who died or left are not at risk of a move), the share found in cohort ``b``
in year ``y + 1``, pooled over all consecutive year pairs, with its binomial standard error
``sqrt(p (1 - p) / n)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .._validate import VbsimInputError
from .claims import read_table

__all__ = ["TransitionRates", "transition_rates"]


@dataclass(frozen=True)
class TransitionRates:
    """Estimated annual cohort transition probabilities.

    ``rows``: one tuple ``(from, to, moved, at_risk, rate, se)`` per observed move, sorted;
    ``at_risk``: members at risk of a move per origin cohort (present the next year).
    """

    rows: tuple[tuple[str, str, int, int, float, float], ...]
    at_risk: tuple[tuple[str, int], ...]

    def transitions(self, cohort: str) -> dict[str, float]:
        """The ``Cohort.transitions`` mapping of one origin cohort ({} if it never moves).

        >>> tr = TransitionRates((("a", "b", 3, 100, 0.03, 0.017),), (("a", 100),))
        >>> tr.transitions("a"), tr.transitions("b")
        ({'b': 0.03}, {})
        """
        return {to: rate for frm, to, _, _, rate, _ in self.rows if frm == cohort}

    def apply(self, population: Any) -> Any:
        """``population`` with each cohort's ``transitions`` set from these rates.

        Every cohort named in the rates must be a cohort of the population (the error lists
        the others); cohorts without observed moves keep no transitions.
        """
        from vbsim.population import Population

        names = set(population.names)
        seen = {frm for frm, *_ in self.rows} | {to for _, to, *_ in self.rows}
        unknown = sorted(seen - names)
        if unknown:
            raise VbsimInputError(
                f"transition rates name cohorts {unknown} that are not in the population "
                f"{sorted(names)}; rename the cohort column's values or the cohorts")
        return Population(replace(c, transitions=self.transitions(c.name))
                          for c in population.cohorts)

    def __str__(self) -> str:
        lines = [f"{'from':<16}{'to':<16}{'moved':>8}{'at risk':>10}{'rate':>9}{'± se':>9}"]
        for frm, to, moved, n, rate, se in self.rows:
            lines.append(f"{frm:<16}{to:<16}{moved:>8,}{n:>10,}{rate:>9.4f}{se:>9.4f}")
        if not self.rows:
            lines.append("(no member changed cohort between consecutive years)")
        return "\n".join(lines)


def transition_rates(table: Any, *, columns: Mapping[str, str] | None = None) -> TransitionRates:
    """Annual cohort transition probabilities from a member-year table.

    Parameters
    ----------
    table : str, path or pandas.DataFrame
        Columns ``member_id``, ``year`` and ``cohort`` (the member's enrolment type that year,
        e.g. aged_non_dual / aged_dual / esrd, named like the population's cohorts); other
        columns (``cost``...) are ignored, and several rows of one member-year are fine as long
        as they agree on the cohort.
    columns : mapping, optional
        ``{standard name: your column}``, e.g. ``{"member_id": "DESYNPUF_ID"}``.

    Returns
    -------
    TransitionRates
        ``rows`` (from, to, moved, at risk, rate, se), ``transitions(cohort)`` and
        ``apply(population)``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"member_id": [1, 1, 2, 2, 3, 3, 4],
    ...                   "year": [2020, 2021, 2020, 2021, 2020, 2021, 2020],
    ...                   "cohort": ["aged", "dual", "aged", "aged", "aged", "aged", "aged"]})
    >>> tr = transition_rates(t)   # 3 aged members at risk (member 4 left), 1 moved
    >>> tr.transitions("aged")
    {'dual': 0.3333333333333333}
    """
    import pandas as pd

    df = read_table(table, columns, "transition table")
    missing = [c for c in ("member_id", "year", "cohort") if c not in df.columns]
    if missing:
        raise VbsimInputError(
            f"transition table must have columns member_id, year, cohort (rename with "
            f"columns=); missing {missing}; has {list(df.columns)}")
    df = df[["member_id", "year", "cohort"]]
    if df.isna().any().any():
        bad = df.columns[df.isna().any()].tolist()
        raise VbsimInputError(f"transition table: missing values in {bad}")
    year = pd.to_numeric(df["year"], errors="coerce")
    if year.isna().any() or (year != year.round()).any():
        raise VbsimInputError("transition table: year must be an integer in every row")
    df = df.assign(member_id=df["member_id"].astype(str), year=year.astype("int64"),
                   cohort=df["cohort"].astype(str)).drop_duplicates()
    clash = df.duplicated(["member_id", "year"], keep=False)
    if clash.any():
        ex = df[clash].sort_values(["member_id", "year"]).head(4).to_dict("records")
        raise VbsimInputError(
            f"transition table: {int(clash.sum())} rows give one member two cohorts in the "
            f"same year, e.g. {ex}")
    nxt = df.assign(year=df["year"] - 1).rename(columns={"cohort": "next"})
    pairs = df.merge(nxt, on=["member_id", "year"], how="inner")  # present in y and y + 1
    if pairs.empty:
        raise VbsimInputError("transition table: no member is present in two consecutive years")
    at_risk = pairs.groupby("cohort").size()
    moves = pairs[pairs["cohort"] != pairs["next"]].groupby(["cohort", "next"]).size()
    rows = []
    for (frm, to), moved in sorted(moves.items()):
        n = int(at_risk[frm])
        p = moved / n
        rows.append((str(frm), str(to), int(moved), n, float(p), math.sqrt(p * (1 - p) / n)))
    return TransitionRates(tuple(rows), tuple((str(k), int(v)) for k, v in at_risk.items()))
