"""from_claims and read_desynpuf: the CMS synthetic claims, and messy-data treatments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vbsim._validate import VbsimInputError
from vbsim.calibrate import clean_claims, from_claims, read_desynpuf
from vbsim.calibrate.claims import claims_statistics
from vbsim.calibrate.stats import empirical_summary

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} absent")

POPULATIONS = {"all": "all", "full-year-ffs": "FFS A&B 12m, no HMO, alive"}


@needs_data
@pytest.mark.parametrize("population", list(POPULATIONS))
def test_desynpuf_statistics_match_cms_summary(population):
    # Our reader + definitions reproduce the published summary table for every year.
    table = read_desynpuf(DATA, population=population)
    ref = pd.read_csv(DATA / "desynpuf_cost_distribution_summary.csv")
    ref = ref[ref["population"] == POPULATIONS[population]].set_index("year")
    assert sorted(ref.index) == [2008, 2009, 2010]
    for year, g in table.groupby("year"):
        s = empirical_summary(g["cost"].to_numpy())
        row = ref.loc[year]
        assert s["n"] == row["n"]
        for k in ("mean", "sd", "cv", "share_zero", "p25", "p50", "p75", "p90", "p95", "p99",
                  "max", "top1_share", "top5_share", "top10_share", "bottom50_share"):
            assert s[k] == pytest.approx(row[k], rel=1e-9, abs=1e-9), (year, k)


@pytest.fixture(scope="module")
def desynpuf_fit():
    if not DATA.is_dir():
        pytest.skip(f"shared data folder {DATA} absent")
    table = read_desynpuf(DATA)
    return table, from_claims(table, negatives="clip-to-zero")


@needs_data
def test_desynpuf_negatives_are_reported_not_clipped():
    table = read_desynpuf(DATA)
    with pytest.raises(VbsimInputError, match="6 member-years with negative total cost"):
        from_claims(table)


@needs_data
def test_desynpuf_fit_reproduces_data(desynpuf_fit):
    table, cal = desynpuf_fit
    clean = table.assign(cost=table["cost"].clip(lower=0))
    st = claims_statistics(clean)
    avg = st["average"]
    m = cal.cost
    # zero mass and mean are matched exactly
    assert float(m.cdf(0.0)) == pytest.approx(avg["share_zero"], abs=1e-12)
    assert m.mean == pytest.approx(clean["cost"].mean(), rel=1e-12)
    # concentration: within 1 point (3 free shape parameters, 6 shape targets)
    for k in ("top1_share", "top5_share", "top10_share", "top20_share", "bottom50_share"):
        assert abs(cal.report[k].achieved - avg[k]) < 0.01, k
    assert abs(m.sd / m.mean - avg["cv"]) < 0.05
    # persistence: rho matches the empirical top10_stay_2yr (one parameter, one target)
    emp = st["persistence"]["top10_stay_2yr"][0]
    assert cal.report["top10_stay_2yr"].target == pytest.approx(emp)
    assert cal.report["top10_stay_2yr"].abs_error < 1e-4
    # and that empirical value is an independent pandas computation on the 2008-10 panel
    wide = clean.pivot(index="member_id", columns="year", values="cost").dropna()
    k = int(np.floor(0.1 * len(wide)))
    top = [set(wide[y].sort_values(ascending=False, kind="stable").index[:k]) for y in wide]
    # ties at the cut can differ in tie-break order; allow one member of slack
    assert abs(len(top[0] & top[1] & top[2]) / k - emp) <= 1 / k + 1e-12


@needs_data
def test_desynpuf_report_notes_treatments(desynpuf_fit):
    _, cal = desynpuf_fit
    text = str(cal.report)
    assert "6 negative member-year totals set to 0" in text
    assert "balanced window" in text


def _toy(n=300, years=(2020, 2021, 2022), seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 1)) + 0.7 * rng.standard_normal((n, len(years)))
    cost = np.where(rng.random((n, len(years))) < 0.1, 0.0, np.round(np.exp(7 + z), 2))
    return pd.DataFrame({"member_id": np.repeat(np.arange(n), len(years)),
                         "year": np.tile(years, n), "cost": cost.ravel()})


def test_duplicates_error_or_sum(tmp_path):
    t = _toy()
    dup = pd.concat([t, t.iloc[[0, 5]]], ignore_index=True)
    with pytest.raises(VbsimInputError, match="2 rows share a .member_id, year.|4 rows share"):
        from_claims(dup)
    frame, notes = clean_claims(dup, duplicates="sum")
    assert len(frame) == len(t)
    row0 = frame[(frame.member_id == "0") & (frame.year == 2020)]["cost"].item()
    assert row0 == pytest.approx(2 * t.loc[0, "cost"])
    assert any("summed" in n for n in notes)
    # CSV path works the same as the DataFrame
    p = tmp_path / "claims.csv"
    dup.to_csv(p, index=False)
    from_csv, _ = clean_claims(p, duplicates="sum")
    pd.testing.assert_frame_equal(from_csv, frame)


def test_negative_adjustment_within_member_year_is_fine():
    t = pd.DataFrame({"member_id": ["a", "a", "b", "c", "d"], "year": [1, 1, 1, 1, 1],
                      "cost": [500.0, -200.0, 0.0, 50.0, -10.0]})
    with pytest.raises(VbsimInputError, match=r"1 member-years with negative total.*member d"):
        clean_claims(t, duplicates="sum")
    frame, _ = clean_claims(t, duplicates="sum", negatives="drop")
    assert frame["cost"].tolist() == [300.0, 0.0, 50.0]
    frame, _ = clean_claims(t, duplicates="sum", negatives="clip-to-zero")
    assert frame["cost"].tolist() == [300.0, 0.0, 50.0, 0.0]


def test_missing_years_use_balanced_panel():
    t = _toy()
    holes = t[~((t.member_id < 30) & (t.year == 2021))]  # 30 members lack 2021
    cal = from_claims(holes)
    assert "270 top" not in str(cal.report)  # sanity: note shows the counted top members
    st = claims_statistics(clean_claims(holes)[0])
    assert st["persistence"]["top10_stay_2yr"][1] == 27  # floor(0.1 x 270)


def test_single_year_gives_no_persistence():
    t = _toy(years=(2020,))
    cal = from_claims(t)
    assert cal.rho is None
    assert "no persistence" in str(cal.report)


def test_columns_cohort_and_risk_adjust():
    t = _toy().rename(columns={"member_id": "id", "cost": "paid"})
    t["cohort"] = np.where(t["id"] % 2 == 0, "aged", "esrd")
    t["risk_score"] = 2.0
    cal = from_claims(t, columns={"member_id": "id", "cost": "paid"}, cohort="aged",
                      risk_adjust=True)
    aged = t[t.cohort == "aged"]
    assert cal.cost.mean == pytest.approx(aged["paid"].mean() / 2.0)
    with pytest.raises(VbsimInputError, match="cohort 'x' has no rows"):
        from_claims(t, columns={"member_id": "id", "cost": "paid"}, cohort="x")


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda t: t.drop(columns=["cost"]), "missing \\['cost'\\]"),
        (lambda t: t.assign(cost=t["cost"].where(t.index != 3)), "missing cost"),
        (lambda t: t.assign(cost=t["cost"].astype(object).where(t.index != 4, "n/a")),
         "non-numeric cost"),
        (lambda t: t.assign(year=t["year"] + 0.5), "non-integer year"),
        (lambda t: t.iloc[:0], "no rows"),
    ],
)
def test_bad_tables(mutate, match):
    with pytest.raises(VbsimInputError, match=match):
        from_claims(mutate(_toy()))


def test_bad_arguments(tmp_path):
    with pytest.raises(VbsimInputError, match="duplicates must be one of"):
        from_claims(_toy(), duplicates="mean")
    with pytest.raises(VbsimInputError, match="negatives must be one of"):
        from_claims(_toy(), negatives="abs")
    with pytest.raises(VbsimInputError, match="no such file"):
        from_claims(tmp_path / "missing.csv")
    with pytest.raises(VbsimInputError, match="CSV path or a pandas DataFrame"):
        from_claims([1, 2, 3])
    with pytest.raises(VbsimInputError, match="cannot read a year"):
        read_desynpuf([tmp_path / "bene.csv"])


def test_fit_cv_false_reports_cv_for_information():
    cal = from_claims(_toy(), fit_cv=False)
    row = cal.report["cv"]
    assert not row.fitted
    assert row.achieved == pytest.approx(cal.cost.sd / cal.cost.mean)


def test_from_claims_recovers_a_known_model():
    # Member-year panel drawn from a known Spliced model with AR(1) ranks (numpy); from_claims
    # must land near the truth. Tolerances: 4 standard errors of the sample statistics
    # (persistence: binomial over the year-1 top decile; shares: 2 points, about 4 sd: the
    # year-averaged sample top shares vary by 0.15-0.4 points sd over 10 repeated draws with
    # independent years, a little more with correlated years).
    from scipy.special import ndtr

    from vbsim.calibrate.stats import model_top_share, persistence_ar1
    from vbsim.costs import Spliced

    true = Spliced(mean=5_000, cv=2.5, zero_share=0.15, tail_share=0.08, tail_shape=0.25)
    rho, n = 0.7, 20_000
    rng = np.random.default_rng(99)
    z = rng.standard_normal(n)
    cols = []
    for year in range(3):
        if year:
            z = rho * z + np.sqrt(1 - rho**2) * rng.standard_normal(n)
        cols.append(true.ppf(ndtr(z)))
    t = pd.DataFrame({"member_id": np.tile(np.arange(n), 3), "year": np.repeat([1, 2, 3], n),
                      "cost": np.concatenate(cols)})
    cal = from_claims(t, fit_cv=False)
    p_true = persistence_ar1(rho, 0.1, 2)
    se = np.sqrt(p_true * (1 - p_true) / (0.1 * n))
    assert abs(persistence_ar1(cal.rho, 0.1, 2) - p_true) < 4 * se
    assert float(cal.cost.cdf(0.0)) == pytest.approx(0.15, abs=4 * np.sqrt(0.15 * 0.85 / 3 / n))
    for p in (0.01, 0.1, 0.2):
        assert abs(model_top_share(cal.cost, p) - model_top_share(true, p)) < 0.02
