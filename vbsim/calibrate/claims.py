"""Fit the member cost model to a member-year claims extract, and read CMS DE-SynPUF files.

Treatment of messy data (also in ``docs/calibration.md``); nothing is dropped or changed
silently, and every treatment applied is listed in the fit report's notes:

- required columns ``member_id``, ``year``, ``cost`` (rename with ``columns=``); optional
  ``cohort`` and ``risk_score``. Missing required values (NaN) raise an error naming the rows
  (the DataFrame index label; for a CSV file, row ``i`` is on line ``i + 2``).
- duplicate ``(member_id, year)`` rows: ``duplicates="error"`` (default) names them;
  ``"sum"`` adds them (claim lines or adjustments of one member-year).
- negative member-year totals (after summing): ``negatives="error"`` (default) names them;
  ``"clip-to-zero"`` sets them to 0; ``"drop"`` removes those member-years.
- zero costs are kept: they are the zero mass of the model.
- members missing from some years count in the cross-sectional statistics of the years they
  appear in; persistence uses members present in every year of a window (balanced panel).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import VbsimInputError, check_choice
from .mixture import RiskMixed
from .report import Calibration, FitReport
from .stats import empirical_summary, panel_persistence
from .summary import from_summary

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["claims_statistics", "clean_claims", "from_claims", "read_desynpuf"]

_TOPS = (0.01, 0.05, 0.10, 0.20)
_MAX_LISTED = 5
# Largest believable member-year cost (assumption: the costliest members run to a few million
# dollars a year; 10^10 only rules out data errors, such as 1e300, that overflow the moments).
MAX_COST = 1e10


def _rows_msg(df, mask, what: str, rows: bool = True) -> str:
    """``what`` with the first offending rows: where they are (``rows``; the line of a CSV
    file, counting its header as line 1, or a DataFrame's index label), member and year."""
    bad = df[mask]
    csv = df.attrs.get("csv", False)
    listed = ", ".join(
        (f"{'line' if csv else 'row'} {i + 2 if csv else i} (member {m}, year {y})" if rows
         else f"member {m} year {y}")
        for i, m, y in zip(bad.index[:_MAX_LISTED], bad["member_id"], bad["year"], strict=False)
    )
    more = f" and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
    return f"{len(bad)} {what}: {listed}{more}"


def read_table(table: Any, columns: Mapping[str, str] | None, what: str) -> pd.DataFrame:
    """A copy of ``table`` (CSV path or pandas DataFrame) as a DataFrame, with ``columns``
    (``{standard name: your column}``) renamed; errors name ``what``.

    >>> import pandas as pd
    >>> read_table(pd.DataFrame({"ID": [1]}), {"member_id": "ID"}, "claims table").columns.tolist()
    ['member_id']
    """
    import pandas as pd

    if isinstance(table, (str, os.PathLike)):
        path = Path(table)
        if not path.is_file():
            raise VbsimInputError(f"{what}: no such file {str(path)!r}")
        try:
            df = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise VbsimInputError(f"{what}: cannot read {str(path)!r} as CSV: {exc}") from None
    elif isinstance(table, pd.DataFrame):
        df = table.copy()
    else:
        raise VbsimInputError(
            f"{what} must be a CSV path or a pandas DataFrame; got {type(table).__name__}")
    if columns:
        absent = [f"{v!r} (for {k})" for k, v in columns.items() if v not in df.columns]
        if absent:
            raise VbsimInputError(f"{what}: columns: {', '.join(absent)} not in the table; "
                                  f"it has {list(df.columns)}")
        df = df.rename(columns={v: k for k, v in columns.items()})
    df.attrs["csv"] = isinstance(table, (str, os.PathLike))  # row i is file line i + 2
    return df


def clean_claims(
    table: str | os.PathLike[str] | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    duplicates: str = "error",
    negatives: str = "error",
    cohort: str | None = None,
    risk_adjust: bool = False,
) -> pd.DataFrame:
    """Validate a member-year claims table and apply the chosen treatments.

    Returns ``(frame, notes)``: a DataFrame with one row per ``(member_id, year)`` and columns
    ``member_id`` (str), ``year`` (int), ``cost`` (float), and the notes on what was done.
    See the module docstring for the rules; the arguments are those of :func:`from_claims`.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"member_id": [1, 1, 2], "year": [2020, 2020, 2020],
    ...                   "cost": [100.0, -30.0, 0.0]})
    >>> frame, notes = clean_claims(t, duplicates="sum")
    >>> frame["cost"].tolist()
    [70.0, 0.0]
    """
    import pandas as pd

    check_choice("duplicates", duplicates, ["error", "sum"])
    check_choice("negatives", negatives, ["error", "clip-to-zero", "drop"])
    df = read_table(table, columns, "claims table")
    missing = [c for c in ("member_id", "year", "cost") if c not in df.columns]
    if missing:
        raise VbsimInputError(
            f"claims table must have columns member_id, year, cost (map yours with columns= or "
            f"--columns member_id=ID,year=YEAR,cost=PAID); "
            f"missing {missing}; has {list(df.columns)}"
        )
    notes: list[str] = []
    if cohort is not None:
        if "cohort" not in df.columns:
            raise VbsimInputError(f"cohort {cohort!r} asked for but the table has no 'cohort' "
                                  "column")
        df = df[df["cohort"].astype(str) == str(cohort)]
        if df.empty:
            raise VbsimInputError(f"cohort {cohort!r} has no rows in the claims table")
        notes.append(f"cohort {cohort!r} only")
    elif "cohort" in df.columns and df["cohort"].nunique() > 1:
        notes.append(f"{df['cohort'].nunique()} cohorts pooled (select one with cohort= or "
                     "--cohort)")
    if df.empty:
        raise VbsimInputError("claims table has no rows")

    for col in ("member_id", "year", "cost"):
        na = df[col].isna()
        if na.any():
            raise VbsimInputError("claims table: " + _rows_msg(df, na, f"rows with missing {col}"))
    cost = pd.to_numeric(df["cost"], errors="coerce")
    if cost.isna().any() or not np.all(np.isfinite(cost.to_numpy())):
        bad = cost.isna() | ~np.isfinite(cost.fillna(0).to_numpy())
        raise VbsimInputError("claims table: " + _rows_msg(df, bad, "rows with non-numeric cost"))
    huge = cost.abs() > MAX_COST
    if huge.any():
        raise VbsimInputError("claims table: " + _rows_msg(
            df, huge, f"rows with |cost| above {MAX_COST:,.0f} (a data error, not a claim)"))
    year = pd.to_numeric(df["year"], errors="coerce")
    bad_year = year.isna() | ~np.isfinite(year) | (year != np.round(year))
    if bad_year.any():
        msg = _rows_msg(df, bad_year, "rows with a non-integer year")
        raise VbsimInputError("claims table: " + msg)
    df = df.assign(cost=cost.astype(float), year=year.astype(np.int64),
                   member_id=df["member_id"].astype(str))
    if risk_adjust:
        if "risk_score" not in df.columns:
            raise VbsimInputError("risk adjustment (risk_adjust=True, --risk-adjust) needs a "
                                  "'risk_score' column")
        rs = pd.to_numeric(df["risk_score"], errors="coerce")
        bad = rs.isna() | ~(rs > 0)
        if bad.any():
            msg = _rows_msg(df, bad, "rows with risk_score not > 0")
            raise VbsimInputError("claims table: " + msg)
        df = df.assign(cost=df["cost"] / rs)
        notes.append("costs divided by risk_score (model of a member with risk score 1)")

    dup = df.duplicated(["member_id", "year"], keep=False)
    if dup.any():
        if duplicates == "error":
            raise VbsimInputError(
                "claims table: " + _rows_msg(df, dup, "rows share a (member_id, year)")
                + "; to add them use duplicates='sum' (--duplicates sum)"
            )
        n_pairs = df.loc[dup, ["member_id", "year"]].drop_duplicates().shape[0]
        notes.append(f"{int(dup.sum())} rows of {n_pairs} duplicated (member, year) pairs summed")
    df = df.groupby(["member_id", "year"], as_index=False, sort=True)["cost"].sum()

    neg = df["cost"] < 0
    if neg.any():
        if negatives == "error":
            raise VbsimInputError(
                "claims table: "
                + _rows_msg(df, neg, "member-years with negative total cost", rows=False)
                + "; to treat them use negatives='clip-to-zero' or 'drop' (--negatives ...)"
            )
        if negatives == "clip-to-zero":
            df.loc[neg, "cost"] = 0.0
            notes.append(f"{int(neg.sum())} negative member-year totals set to 0")
        else:
            df = df[~neg].reset_index(drop=True)
            notes.append(f"{int(neg.sum())} negative member-year totals dropped")
    return df.reset_index(drop=True), notes


def claims_statistics(frame: pd.DataFrame) -> dict[str, object]:
    """Empirical statistics of a cleaned member-year table (see :func:`clean_claims`).

    Shape statistics are computed within each calendar year and averaged over years with equal
    weight (so a change of cost level between years does not widen the distribution); the mean
    is total cost over member-years. Persistence ``top10_stay_1yr`` / ``top10_stay_2yr`` come
    from :func:`vbsim.calibrate.stats.panel_persistence` (balanced panels).
    Returns a dict: ``per_year`` (year -> summary), ``average`` (summary), ``mean``,
    ``persistence`` (key -> (share, n_top, n_windows)).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"member_id": [1, 2, 3, 1, 2, 3], "year": [2020] * 3 + [2021] * 3,
    ...                   "cost": [0.0, 100.0, 300.0, 50.0, 0.0, 250.0]})
    >>> st = claims_statistics(clean_claims(t)[0])
    >>> sorted(st), round(st["mean"], 2), sorted(st["per_year"])
    (['average', 'mean', 'per_year', 'persistence'], 116.67, [2020, 2021])
    """
    small = {int(y): len(g) for y, g in frame.groupby("year", sort=True) if len(g) < 2}
    if small:
        raise VbsimInputError(
            "claims table: every year needs at least 2 member-years to measure its spread; "
            + ", ".join(f"year {y} has {n}" for y, n in small.items()))
    per_year = {int(y): empirical_summary(g["cost"].to_numpy())
                for y, g in frame.groupby("year", sort=True)}
    keys = next(iter(per_year.values())).keys()
    average = {k: float(np.mean([s[k] for s in per_year.values()])) for k in keys}
    by_year = {int(y): dict(zip(g["member_id"], g["cost"], strict=True))
               for y, g in frame.groupby("year", sort=True)}
    pers = {}
    for h in (1, 2):
        share, n_top, n_win = panel_persistence(by_year, 0.10, h)
        if n_win:
            pers[f"top10_stay_{h}yr"] = (share, n_top, n_win)
    return {"per_year": per_year, "average": average, "mean": float(frame["cost"].mean()),
            "persistence": pers}


def from_claims(
    table: str | os.PathLike[str] | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    duplicates: str = "error",
    negatives: str = "error",
    cohort: str | None = None,
    risk_adjust: bool = False,
    risk_sd: float = 0.0,
    fit_cv: bool = True,
) -> Calibration:
    """Fit a spliced cost model and AR(1) persistence to a member-year claims extract.

    Parameters
    ----------
    table : str, path or pandas.DataFrame
        Columns ``member_id``, ``year``, ``cost``; optional ``cohort``, ``risk_score``.
    columns : mapping, optional
        ``{standard name: your column}``, e.g. ``{"member_id": "DESYNPUF_ID"}``.
    duplicates : {"error", "sum"}
        Rows sharing a ``(member_id, year)``: raise (default) or add them.
    negatives : {"error", "clip-to-zero", "drop"}
        Negative member-year totals (after ``duplicates``): raise (default), set to 0, or drop.
    cohort : str, optional
        Keep only rows of this cohort (needs a ``cohort`` column).
    risk_adjust : bool
        Divide costs by ``risk_score`` first (the model is of a risk-score-1 member).
    risk_sd : float
        Log-sd of the risk scores the engine will multiply the fitted cost by (see
        :func:`from_summary`); default 0.
    fit_cv : bool
        Include the cv among the fitted targets (it is sensitive to a few extreme members;
        without it the shape is fitted to the spending shares alone and cv is reported).

    Returns
    -------
    Calibration
        Fitted to: mean (exact), zero share (exact), cv, top 1/5/10/20 % and bottom 50 % shares
        (per-year statistics averaged over years), and ``rho`` to the empirical
        ``top10_stay_2yr`` (or ``top10_stay_1yr`` with only two consecutive years). Percentiles
        and the other persistence statistic are reported for information.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> z = rng.standard_normal((2000, 1)) + 0.5 * rng.standard_normal((2000, 3))
    >>> t = pd.DataFrame({"member_id": np.repeat(np.arange(2000), 3),
    ...                   "year": np.tile([2020, 2021, 2022], 2000),
    ...                   "cost": np.round(np.exp(8 + z).ravel())})
    >>> cal = from_claims(t)
    >>> cal.report["top10_share"].abs_error < 0.02
    True
    """
    frame, notes = clean_claims(table, columns=columns, duplicates=duplicates,
                                negatives=negatives, cohort=cohort, risk_adjust=risk_adjust)
    st = claims_statistics(frame)
    avg = st["average"]
    if st["mean"] <= 0:
        raise VbsimInputError("claims table: total cost is not positive; nothing to fit")
    if avg["share_zero"] > 0.9:
        raise VbsimInputError(
            f"claims table: zero share {avg['share_zero']:.3f} exceeds 0.9 (Spliced limit)"
        )
    pers = st["persistence"]
    key = "top10_stay_2yr" if "top10_stay_2yr" in pers else "top10_stay_1yr"
    persistence = {key: pers[key][0]} if key in pers and pers[key][0] > 0 else None
    cal = from_summary(
        mean=st["mean"],
        cv=avg["cv"] if fit_cv else None,
        zero_share=avg["share_zero"],
        top_shares={p: avg[f"top{round(100 * p)}_share"] for p in _TOPS},
        bottom_shares={0.5: avg["bottom50_share"]},
        persistence=persistence,
        risk_sd=risk_sd,
    )
    model, rho = cal.cost, cal.rho
    rows = [(r.statistic, r.target, r.achieved, r.fitted) for r in cal.report.rows]
    if not fit_cv:
        rows.append(("cv", avg["cv"], model.sd / model.mean, False))
    for k in (25, 50, 75, 90, 95, 99):
        rows.append((f"p{k}", avg[f"p{k}"], float(model.ppf(k / 100)), False))
    member = RiskMixed(model, risk_sd)
    for k, (share, _, _) in pers.items():
        if k != key or persistence is None:
            h = int(k.split("_")[2][0])
            got = member.persistence(rho, 0.1, h) if rho is not None else math.nan
            rows.append((k, share, got, False))
    years = sorted(st["per_year"])
    data_notes = [
        f"{len(frame)} member-years, {frame['member_id'].nunique()} members, years "
        f"{years[0]}-{years[-1]}; shape statistics per year, averaged over years; mean = total "
        "cost / member-years",
    ]
    for k, (share, n_top, n_win) in pers.items():
        data_notes.append(
            f"{k} = {share:.4f} from {n_top} top-decile members in {n_win} balanced window(s) "
            "(members present in every year of the window, ranked within it)"
        )
    if persistence is None:
        data_notes.append("no persistence estimated (need two consecutive years with stayers)")
    report = FitReport.build(rows, "from_claims: Spliced" + ("" if rho is None else " + AR(1)"),
                             notes + data_notes + list(cal.report.notes))
    return Calibration(cost=model, rho=rho, report=report, risk_sd=risk_sd)


_YEAR_RE = re.compile(r"(19|20)\d\d")


def read_desynpuf(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
    | Mapping[int, str | os.PathLike[str]],
    *, population: str = "all",
) -> pd.DataFrame:
    """Turn CMS DE-SynPUF beneficiary summary files into a ``(member_id, year, cost)`` table.

    Annual paid cost = ``MEDREIMB_IP + MEDREIMB_OP + MEDREIMB_CAR`` (Medicare reimbursement,
    inpatient + outpatient + carrier; ``/work/shared/data/README.md``). The year is read from
    each file name (e.g. ``desynpuf_bene_2008_sample1_subset.csv``).

    Parameters
    ----------
    paths : str, path, sequence of paths, or mapping {year: path}
        A directory (every ``*bene*<year>*.csv`` in it), files, or files by year.
    population : {"all", "full-year-ffs"}
        ``"full-year-ffs"`` keeps members with 12 months of Part A and Part B, no HMO months and
        no death date in the file (the second population of the CMS summary table).

    Returns
    -------
    pandas.DataFrame
        Columns ``member_id``, ``year``, ``cost`` (negative totals kept, as in the data).

    Examples
    --------
    >>> import pathlib
    >>> d = pathlib.Path("/work/shared/data")
    >>> t = read_desynpuf(d) if d.is_dir() else None
    >>> t is None or sorted(t["year"].unique().tolist()) == [2008, 2009, 2010]
    True
    """
    import pandas as pd

    check_choice("population", population, ["all", "full-year-ffs"])
    if isinstance(paths, Mapping):
        files = {int(y): Path(p) for y, p in paths.items()}
    else:
        if isinstance(paths, (str, os.PathLike)):
            p = Path(paths)
            plist = sorted(p.glob("*bene*.csv")) if p.is_dir() else [p]
        elif isinstance(paths, Sequence):
            plist = [Path(x) for x in paths]
        else:
            raise VbsimInputError(
                f"paths must be a directory, files or {{year: file}}; got {paths!r}"
            )
        files = {}
        for f in plist:
            m = _YEAR_RE.search(f.name)
            if not m:
                raise VbsimInputError(f"cannot read a year from file name {f.name!r}; "
                                      "pass {year: path}")
            files[int(m.group(0))] = f
    if not files:
        raise VbsimInputError(f"no DE-SynPUF beneficiary files found in {paths!r}")
    need = ["DESYNPUF_ID", "MEDREIMB_IP", "MEDREIMB_OP", "MEDREIMB_CAR"]
    frames = []
    for year, f in sorted(files.items()):
        if not f.is_file():
            raise VbsimInputError(f"DE-SynPUF file not found: {str(f)!r}")
        d = pd.read_csv(f, dtype={"DESYNPUF_ID": str, "BENE_DEATH_DT": str})
        miss = [c for c in need if c not in d.columns]
        if miss:
            raise VbsimInputError(f"{f.name}: not a DE-SynPUF beneficiary file; missing {miss}")
        if population == "full-year-ffs":
            keep = ((d["BENE_HI_CVRAGE_TOT_MONS"] == 12) & (d["BENE_SMI_CVRAGE_TOT_MONS"] == 12)
                    & (d["BENE_HMO_CVRAGE_TOT_MONS"] == 0) & d["BENE_DEATH_DT"].isna())
            d = d[keep]
        frames.append(pd.DataFrame({
            "member_id": d["DESYNPUF_ID"].to_numpy(),
            "year": year,
            "cost": (d["MEDREIMB_IP"] + d["MEDREIMB_OP"] + d["MEDREIMB_CAR"]).to_numpy(float),
        }))
    return pd.concat(frames, ignore_index=True)
