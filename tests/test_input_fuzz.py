"""Every field of the public model and contract objects set, in turn, to a value of the wrong
type or range: the object is built, or a VbsimInputError names the field (never a TypeError,
ZeroDivisionError or an ambiguous array truth value from inside)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from vbsim import costs
from vbsim._validate import VbsimInputError
from vbsim.contracts.spec import TERM_TYPES
from vbsim.drivers import Drivers
from vbsim.population import Cohort

BAD = ["x", -1, -1e300, 1e300, 0, 1e-300, True, [], [1, 2], {}, {"a": 1}, 2**70,
       float("nan"), float("inf"), 0.5, 3, None, np.float64(0.3), np.array([1.0, 2.0]), (1, 2)]
# a valid instance of each class; every field is then broken in turn
VALID = {
    costs.Lognormal: dict(mean=1000.0, cv=1.0),
    costs.Spliced: dict(mean=1000.0),
    costs.CompoundPoisson: dict(rate=1.0, severity=costs.Lognormal(mean=100.0, cv=1.0)),
    Cohort: dict(name="a", members=10, cost=costs.Lognormal(mean=1000.0, cv=1.0)),
    Drivers: {},
    **{cls: {f.name: (0.5 if "rate" in f.name or "share" in f.name else 1000.0)
             for f in dataclasses.fields(cls)
             if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
       for name, cls in TERM_TYPES.items() if name not in ("corridors", "p4p", "case_rate")},
    TERM_TYPES["corridors"]: dict(bands_savings=[(0.0, 0.05, 0.5)]),
    TERM_TYPES["p4p"]: dict(thresholds=[0.5], amounts=[0.0, 10.0]),
    TERM_TYPES["case_rate"]: dict(rates={"low": 1000.0}),
}


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
def test_each_field_broken_in_turn_gives_a_named_error(cls):
    kw = VALID[cls]
    cls(**kw)  # the base is valid
    n_errors = 0
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        for value in BAD:
            try:
                cls(**{**kw, f.name: value})
            except VbsimInputError as exc:
                n_errors += 1
                assert f.name in str(exc), (f.name, value, str(exc))
    assert n_errors > 0


def test_tiny_tail_share_is_refused_not_divided_by_zero():
    with pytest.raises(VbsimInputError, match=r"tail_share must be 0 \(no tail\) or in"):
        costs.Spliced(mean=1000.0, tail_share=1e-300)
    assert costs.Spliced(mean=1000.0, tail_share=1e-12).threshold > 0


def test_flags_are_booleans_and_numeric_choices_take_ints():
    ss = TERM_TYPES["shared_savings"]
    with pytest.raises(VbsimInputError, match="scale_by_quality must be one of False, True"):
        ss(rate=0.5, scale_by_quality=1)
    with pytest.raises(VbsimInputError, match="scale_by_quality must be one of False, True"):
        ss(rate=0.5, scale_by_quality=np.array([True, False]))
    assert ss(rate=0.5, scale_by_quality=np.True_).scale_by_quality
    from vbsim.presets import mssp

    assert mssp("E", msr=0).sharing.msr == 0.0  # an int where the choices are floats


def _claims() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame({
        "member_id": np.repeat(np.arange(n), 3), "year": np.tile([2020, 2021, 2022], n),
        "cost": rng.lognormal(8, 1.5, 3 * n) * (rng.random(3 * n) > 0.15),
        "cohort": "aged", "risk_score": np.repeat(rng.lognormal(0, 0.4, n), 3)})


REQUIRED = {"clean_claims": ["member_id", "year", "cost"],
            "transition_rates": ["member_id", "year", "cohort", "cost", "risk_score"]}
CELLS = ["x", "", None, np.nan, -5.0, 1e300, -1e300, np.inf, -np.inf, True, 2**70, 2020.5]


@pytest.mark.parametrize("reader", ["clean_claims", "transition_rates"])
def test_claims_tables_with_one_bad_cell_or_column_give_input_errors(reader):
    """A bad cell in any column, a missing column, or an unreadable file: VbsimInputError."""
    from vbsim import calibrate

    fn = {"clean_claims": calibrate.clean_claims,
          "transition_rates": lambda t: calibrate.transition_rates(t, effects=["rank", "risk"])
          }[reader]
    base = _claims()
    n_errors = 0
    for col in base.columns:
        for value in CELLS:
            t = base.astype(object)
            t.loc[5, col] = value
            try:
                fn(t)
            except VbsimInputError:
                n_errors += 1
    for col in REQUIRED[reader]:
        with pytest.raises(VbsimInputError, match=col):
            fn(base.drop(columns=col))
    assert n_errors > 10


@pytest.mark.parametrize("content", ["", "a,b\n1,2\n\x00,,,\n", "\udcff"])
def test_unreadable_csv_files_are_input_errors(tmp_path, content):
    from vbsim.calibrate import from_claims, transition_rates

    f = tmp_path / "claims.csv"
    f.write_bytes(content.encode("utf-8", "surrogateescape"))
    for fn in (from_claims, transition_rates):
        with pytest.raises(VbsimInputError, match="claims.csv"):
            fn(str(f))


def test_settle_and_trend_csv_with_a_long_row_or_bad_bytes(tmp_path):
    from vbsim.drivers import read_trend_file
    from vbsim.settle_cli import read_rows

    long_row = tmp_path / "rows.csv"
    long_row.write_text("id,benchmark,expenditure\naco1,100e6,97e6,5\n")
    with pytest.raises(VbsimInputError, match="4 cells but the header names 3 columns"):
        read_rows(str(long_row))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"\xff\xfe,benchmark\n1,2\n")
    with pytest.raises(VbsimInputError, match="as UTF-8 CSV"):
        read_rows(str(latin))
    with pytest.raises(VbsimInputError, match="as UTF-8 CSV"):
        read_trend_file(latin)
    trend = tmp_path / "trend.csv"
    trend.write_text("year,trend\n1,0.04,5\n")
    with pytest.raises(VbsimInputError, match="more cells than the header"):
        read_trend_file(trend)


def test_function_arguments_broken_in_turn_give_named_errors():
    """simulate, evaluate, summarize and breakeven with each keyword argument broken in turn."""
    import inspect

    import vbsim
    from vbsim import metrics, presets
    from vbsim.negotiate import breakeven

    # 500 members x 100 scenarios: enough that E's sharing rate has a break-even with ENHANCED
    # in [0, 1] (checked below), so an error can only come from the broken argument (with 50
    # members x 20 scenarios, whether one exists depended on the draws)
    pop = vbsim.Population([Cohort("a", 500, costs.Lognormal(mean=1e4, cv=1.5))])
    paths = vbsim.simulate(pop, n_scenarios=100, years=1, seed=1, thresholds=[5e4])
    cs = {"e": presets.mssp("E", msr=0.02), "enh": presets.mssp("ENHANCED", msr=0.02)}
    assert 0.0 < breakeven(paths, cs["e"], cs["enh"], "sharing.rate").value < 1.0
    st = vbsim.evaluate(paths, cs)
    calls = [
        (vbsim.simulate, (pop,), dict(n_scenarios=4, years=1, seed=1, thresholds=[5e4],
                                      block_size=64, progress=False, scenario_start=0)),
        (vbsim.evaluate, (paths, cs), {}),
        (metrics.summarize, (st,), {}),
        (breakeven, (paths, cs["e"], cs["enh"], "sharing.rate"), {}),
    ]
    for fn, args, kw in calls:
        names = list(inspect.signature(fn).parameters)[len(args):]
        for name in names:
            for value in BAD:
                try:
                    fn(*args, **{**kw, name: value})
                except VbsimInputError as exc:
                    assert name in str(exc), (fn.__name__, name, value, str(exc))
