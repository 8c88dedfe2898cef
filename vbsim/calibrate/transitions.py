"""Cohort transition rates from a member-year table with an enrolment type per year.

The engine moves a continuing member from cohort ``a`` to cohort ``b`` at the start of a year
with probability ``Cohort.transitions[b]`` (docs/engine.md, "Cohort transitions"). The matching
empirical estimate: among members in cohort ``a`` in year ``y`` who are still present in year
``y + 1`` (members who died or left are not at risk of a move), the share found in cohort ``b``
in year ``y + 1``, pooled over all consecutive year pairs, with its binomial standard error
``sqrt(p (1 - p) / n)``.

Who moves (``effects=``): the engine scales a member's move probabilities by
``exp(beta z + gamma zeta - (beta^2 + gamma^2) / 2)``, ``z`` its latent cost rank last year and
``zeta`` its standardised log risk score (``Cohort.transition_rank_effect``,
``transition_risk_effect``). Per origin cohort, :func:`transition_rates` fits
``P(move) = min(1, pi exp(beta z + gamma zeta - (beta^2 + gamma^2) / 2))`` by maximum
likelihood (Bernoulli, one row per member at risk), with ``z`` the normal score of the member's
risk-adjusted cost rank (``cost / risk_score``) among its cohort's members that year and
``zeta = (log r - m) / s`` with ``m, s`` the mean and sd of log risk scores in the cohort;
standard errors from the observed information.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._validate import VbsimInputError
from .claims import read_table

#: effect name -> (Cohort field, column it needs)
EFFECTS = {"rank": ("transition_rank_effect", "cost"),
           "risk": ("transition_risk_effect", "risk_score")}

__all__ = ["TransitionRates", "transition_rates"]


@dataclass(frozen=True)
class TransitionRates:
    """Estimated annual cohort transition probabilities.

    ``rows``: one tuple ``(from, to, moved, at_risk, rate, se)`` per observed move, sorted;
    ``at_risk``: members at risk of a move per origin cohort (present the next year);
    ``effects``: with ``transition_rates(..., effects=...)``, one tuple
    ``(cohort, effect, estimate, se)`` per origin cohort and effect ("rank": ``beta``,
    "risk": ``gamma``), and ``base``: ``(cohort, pi / observed rate)`` per origin cohort, the
    factor from the observed rates to the model's base probabilities.

    >>> tr = TransitionRates((("a", "b", 3, 100, 0.03, 0.017),), (("a", 100),))
    >>> tr.transitions("a"), tr.effect("a", "rank")
    ({'b': 0.03}, 0.0)
    """

    rows: tuple[tuple[str, str, int, int, float, float], ...]
    at_risk: tuple[tuple[str, int], ...]
    effects: tuple[tuple[str, str, float, float], ...] = ()
    base: tuple[tuple[str, float], ...] = ()

    def transitions(self, cohort: str) -> dict[str, float]:
        """The ``Cohort.transitions`` mapping of one origin cohort ({} if it never moves):
        the observed rates, or with fitted effects the model's base probabilities ``pi``
        split over destinations as observed (the tilt averages about 1 over the members, so
        ``pi`` is close to the observed rate).

        >>> tr = TransitionRates((("a", "b", 3, 100, 0.03, 0.017),), (("a", 100),))
        >>> tr.transitions("a"), tr.transitions("b")
        ({'b': 0.03}, {})
        """
        f = dict(self.base).get(cohort, 1.0)
        return {to: rate * f for frm, to, _, _, rate, _ in self.rows if frm == cohort}

    def effect(self, cohort: str, name: str) -> float:
        """Fitted effect ``name`` ("rank" or "risk") of an origin cohort; 0 if not fitted.

        >>> TransitionRates((), (), (("a", "rank", 0.8, 0.1),)).effect("a", "rank")
        0.8
        """
        return next((e for c, n, e, _ in self.effects if c == cohort and n == name), 0.0)

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
        fitted = {n for _, n, *_ in self.effects}
        return Population(
            replace(c, transitions=self.transitions(c.name),
                    **{EFFECTS[n][0]: self.effect(c.name, n) for n in fitted})
            for c in population.cohorts)

    def __str__(self) -> str:
        lines = [f"{'from':<16}{'to':<16}{'moved':>8}{'at risk':>10}{'rate':>9}{'± se':>9}"]
        for frm, to, moved, n, rate, se in self.rows:
            lines.append(f"{frm:<16}{to:<16}{moved:>8,}{n:>10,}{rate:>9.4f}{se:>9.4f}")
        if not self.rows:
            lines.append("(no member changed cohort between consecutive years)")
        if self.effects:
            lines.append("who moves (exp(beta z + gamma zeta - (beta^2 + gamma^2) / 2)):")
            for c, n, e, se in self.effects:
                sym = "beta (rank)" if n == "rank" else "gamma (risk score)"
                lines.append(f"  {c:<16}{sym:<20}{e:>8.3f} ± {se:.3f}")
        return "\n".join(lines)


def transition_rates(table: Any, *, columns: Mapping[str, str] | None = None,
                     effects: Sequence[str] = ()) -> TransitionRates:
    """Annual cohort transition probabilities from a member-year table.

    Parameters
    ----------
    table : str, path or pandas.DataFrame
        Columns ``member_id``, ``year`` and ``cohort`` (the member's enrolment type that year,
        e.g. aged_non_dual / aged_dual / esrd, named like the population's cohorts); other
        columns are ignored unless ``effects`` needs them. Several rows of one member-year
        (claim lines) are fine as long as they agree on the cohort (and risk score); their
        costs are summed.
    columns : mapping, optional
        ``{standard name: your column}``, e.g. ``{"member_id": "DESYNPUF_ID"}``.
    effects : sequence of "rank", "risk"
        Also estimate, per origin cohort, how the move probability depends on the member's
        cost rank ("rank": ``Cohort.transition_rank_effect``, needs column ``cost``, ranked
        after dividing by ``risk_score`` when the table has one) and on its risk score ("risk":
        ``Cohort.transition_risk_effect``, needs column ``risk_score`` > 0); module notes.

    Returns
    -------
    TransitionRates
        ``rows`` (from, to, moved, at risk, rate, se), ``effects`` (cohort, effect, estimate,
        se), ``transitions(cohort)`` and ``apply(population)``.

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

    if isinstance(effects, str) or any(e not in EFFECTS for e in effects):
        raise VbsimInputError(
            f"effects must be a list of 'rank', 'risk'; got {effects!r}")
    effects = sorted(set(effects))
    df = read_table(table, columns, "transition table")
    need = ["member_id", "year", "cohort"] + [EFFECTS[e][1] for e in effects]
    if "rank" in effects and "risk_score" in df.columns and "risk_score" not in need:
        need.append("risk_score")  # the rank is taken on risk-adjusted cost
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise VbsimInputError(
            f"transition table must have columns {', '.join(need)} (rename with "
            f"columns=); missing {missing}; has {list(df.columns)}")
    df = df[need]
    if df.isna().any().any():
        bad = df.columns[df.isna().any()].tolist()
        raise VbsimInputError(f"transition table: missing values in {bad}")
    year = pd.to_numeric(df["year"], errors="coerce")
    if year.isna().any() or (~np.isfinite(year)).any() or (year != year.round()).any():
        raise VbsimInputError("transition table: year must be an integer in every row")
    df = df.assign(member_id=df["member_id"].astype(str), year=year.astype("int64"),
                   cohort=df["cohort"].astype(str))
    for col, lo in (("cost", 0.0), ("risk_score", None)):
        if col in df.columns:
            v = pd.to_numeric(df[col], errors="coerce")
            bad = v.isna() | ~np.isfinite(v) | ((v < lo) if lo is not None else (v <= 0))
            if bad.any():
                rng = "a number >= 0" if lo is not None else "a number > 0"
                raise VbsimInputError(
                    f"transition table: {col} must be {rng} in every row; "
                    f"{int(bad.sum())} rows are not, e.g. {df[col][bad].head(3).tolist()}")
            df[col] = v.astype(float)
    keys = ["member_id", "year", "cohort"] + (["risk_score"] if "risk_score" in need else [])
    if "cost" in df.columns:  # claim lines -> member-years
        df = df.groupby(keys, as_index=False, sort=False)["cost"].sum()
    else:
        df = df.drop_duplicates()
    clash = df.duplicated(["member_id", "year"], keep=False)
    if clash.any():
        ex = df[clash].sort_values(["member_id", "year"]).head(4).to_dict("records")
        raise VbsimInputError(
            f"transition table: {int(clash.sum())} rows give one member two cohorts"
            f"{' or two risk scores' if 'risk_score' in keys else ''} in the same year, e.g. {ex}")
    if effects:
        df = _covariates(df)
    nxt = df[["member_id", "year", "cohort"]].assign(year=df["year"] - 1).rename(
        columns={"cohort": "next"})
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
    fits, base = [], []
    for frm in sorted({r[0] for r in rows}) if effects else ():
        g = pairs[pairs["cohort"] == frm]
        x = np.column_stack([g[c].to_numpy(float) for c in
                             (("z",) if "rank" in effects else ())
                             + (("zeta",) if "risk" in effects else ())])
        y = (g["next"] != frm).to_numpy()
        pi, est, se = fit_tilt(y, x)
        fits += [(frm, e, float(b), float(sb)) for e, b, sb in zip(effects, est, se, strict=True)]
        base.append((frm, float(pi / y.mean())))
    return TransitionRates(tuple(rows), tuple((str(k), int(v)) for k, v in at_risk.items()),
                           tuple(fits), tuple(base))


def _covariates(df: Any) -> Any:
    """Add ``z`` (normal score of the risk-adjusted cost rank within cohort and year; ties
    share their mid-rank) and ``zeta`` (standardised log risk score within cohort)."""
    from scipy.special import ndtri

    out = df.copy()
    if "cost" in out.columns:
        adj = out["cost"] / out["risk_score"] if "risk_score" in out.columns else out["cost"]
        grp = adj.groupby([out["cohort"], out["year"]])
        out["z"] = ndtri((grp.rank(method="average") - 0.5) / grp.transform("size"))
    if "risk_score" in out.columns:
        lr = np.log(out["risk_score"])
        by = lr.groupby(out["cohort"])
        sd = by.transform("std", ddof=0)
        if (sd <= 0).any():
            flat = sorted(out["cohort"][sd <= 0].unique())
            raise VbsimInputError(
                f"transition table: risk_score is the same for every member of {flat}; the "
                "risk effect needs risk scores that vary")
        out["zeta"] = (lr - by.transform("mean")) / sd
    return out


def fit_tilt(moved: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Maximum-likelihood ``pi`` and effects ``b`` of
    ``P(move) = min(1, pi exp(x b - |b|^2 / 2))`` (Bernoulli rows ``moved``, covariates ``x``
    with one column per effect), and the effects' standard errors (observed information).

    >>> rng = np.random.default_rng(1)
    >>> x = rng.standard_normal((40_000, 1))
    >>> moved = rng.random(40_000) < 0.05 * np.exp(0.8 * x[:, 0] - 0.32)
    >>> pi, b, se = fit_tilt(moved, x)
    >>> bool(abs(b[0] - 0.8) < 4 * se[0]), round(pi, 2)
    (True, 0.05)
    """
    from scipy.optimize import minimize

    y = np.asarray(moved, dtype=float)
    x = np.asarray(x, dtype=float)
    if y.sum() == 0 or y.sum() == y.size:
        raise VbsimInputError("fit_tilt: needs both movers and stayers")
    k = x.shape[1]

    def parts(th):
        b = th[1:]
        eta = th[0] + x @ b - 0.5 * b @ b
        p = np.minimum(np.exp(np.minimum(eta, 0.0)), 1.0 - 1e-12)
        d = np.column_stack([np.ones(y.size), x - b])  # d eta / d theta
        return b, eta, p, d

    def nll(th):  # minus the log-likelihood and its gradient
        _, _, p, d = parts(th)
        ll = y * np.log(p) + (1.0 - y) * np.log1p(-p)
        s = y - (1.0 - y) * p / (1.0 - p)  # d ll / d eta
        return -ll.sum(), -(s @ d)

    th0 = np.r_[math.log(y.mean()), np.zeros(k)]
    res = minimize(nll, th0, jac=True, method="BFGS")
    b, _, p, d = parts(res.x)
    # observed information: sum_i w_i d_i d_i' - (sum_i dll/deta_i) d2 eta / d b2 (= -I); the
    # second term is 0 at the maximum (the score of log pi), kept for a non-converged fit
    s = y - (1.0 - y) * p / (1.0 - p)
    w = (1.0 - y) * p / (1.0 - p) ** 2
    info = (d * w[:, None]).T @ d
    info[1:, 1:] += s.sum() * np.eye(k)
    se = np.sqrt(np.diag(np.linalg.inv(info))[1:])
    return float(math.exp(res.x[0])), b, se
