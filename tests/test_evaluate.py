"""evaluate(): every contract settled on the same paths equals settling it directly."""

from __future__ import annotations

import numpy as np
import pytest

import vbsim
from vbsim import presets
from vbsim._validate import VbsimInputError
from vbsim.evaluate import evaluate, needed_thresholds
from vbsim.run import run


@pytest.fixture(scope="module")
def paths():
    pop = vbsim.Population([
        vbsim.Cohort("a", 800, vbsim.costs.Lognormal(mean=10_000.0, cv=1.5)),
        vbsim.Cohort("b", 200, vbsim.costs.Lognormal(mean=30_000.0, cv=2.0)),
    ])
    return vbsim.simulate(pop, n_scenarios=300, years=2, seed=7, thresholds=(100_000.0,))


def test_matches_direct_settlement(paths) -> None:
    c = presets.mssp("E", msr=0.02)
    st = evaluate(paths, {"e": c}, revenue_share=0.3)
    bench = paths["benchmark"].sum("cohort").transpose("scenario", "year").values
    exp = paths["cost"].sum("cohort").transpose("scenario", "year").values
    direct = c.settle(benchmark=bench, expenditure=exp, revenue=0.3 * exp,
                      quality_score=paths["quality"].transpose("scenario", "year").values,
                      assigned_beneficiaries=paths["member_months"].sum("cohort")
                      .transpose("scenario", "year").values / 12)
    np.testing.assert_allclose(st["payment"].sel(contract="e").values, direct.payment)


def test_contract_dimension_and_crn(paths) -> None:
    cs = {"basic_e": presets.mssp("E", msr=0.02), "enh": presets.mssp("ENHANCED", msr=0.02)}
    st = evaluate(paths, cs)
    assert list(st["contract"].values) == ["basic_e", "enh"]
    # Common random numbers: both contracts see the same expenditure on every path.
    e = st["expenditure"]
    np.testing.assert_array_equal(e.sel(contract="basic_e"), e.sel(contract="enh"))


def test_expected_savings_rate_scales_benchmark(paths) -> None:
    c = {"e": presets.mssp("E", msr=0.02)}
    a = evaluate(paths, c)["benchmark"]
    b = evaluate(paths, c, expected_savings_rate=0.05)["benchmark"]
    np.testing.assert_allclose(b.values, a.values / 0.95)
    with pytest.raises(VbsimInputError, match="expected_savings_rate must be in"):
        evaluate(paths, c, expected_savings_rate=0.9)


def test_stop_loss_threshold_must_be_simulated(paths) -> None:
    sl = presets.reach("global", year=2025).replace(
        **{"stop_loss": vbsim.contracts.IndividualStopLoss(attachment=50_000.0)})
    assert needed_thresholds([sl]) == (50_000.0,)
    with pytest.raises(VbsimInputError, match="lack thresholds"):
        evaluate(paths, [sl])


def test_run_collects_thresholds_and_is_reproducible(tmp_path) -> None:
    text = (
        "[simulation]\nn_scenarios = 64\nseed = 3\n"
        "[[population.cohorts]]\nname = 'a'\nmembers = 300\n"
        "cost = { model = 'lognormal', mean = 9000.0, cv = 2.0 }\n"
        "[contracts.sl]\npreset = 'reach'\noption = 'global'\n"
        "[contracts.sl.overrides]\n'stop_loss' = { type = 'individual_stop_loss', "
        "attachment = 60000.0 }\n"
        "[contracts.e]\npreset = 'mssp'\nlevel = 'E'\nmsr = 0.0\n"
    )
    p = tmp_path / "x.toml"
    p.write_text(text)
    r1, r2 = run(p, progress=False), run(p, progress=False)
    assert 60_000.0 in r1.paths["threshold"].values
    np.testing.assert_array_equal(r1.settlement["payment"], r2.settlement["payment"])
    out = tmp_path / "res.nc"
    r1.to_netcdf(out)
    import xarray as xr
    back = xr.open_dataset(out, group="settlement")
    np.testing.assert_allclose(back["payment"].values, r1.settlement["payment"].values)
    table = r1.table()
    assert "E[payment]" in table and "sl" in table


def test_truncation_is_not_a_windfall() -> None:
    """MSSP truncation applies to the benchmark too: no expected gain from truncating alone.

    Truncating only the expenditure would raise expected gross savings by E[excess] (checked to
    be many standard errors away from zero here); truncating the benchmark by the expected excess
    share leaves the expected gross savings where they were, up to Monte Carlo error.
    """
    from vbsim.population import standard_cohort

    pop = vbsim.Population([standard_cohort("aged_non_dual", 3000)])
    paths = vbsim.simulate(pop, n_scenarios=1500, seed=5, thresholds=(100_000.0,))
    st = evaluate(paths, {"plain": presets.mssp("ENHANCED", msr=0.0),
                          "trunc": presets.mssp("ENHANCED", msr=0.0, truncation=100_000.0)})
    g = st["gross_savings"].sum("year")
    diff = (g.sel(contract="trunc") - g.sel(contract="plain")).values
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    excess = paths["excess"].sum(("cohort", "year")).values.ravel()
    assert excess.mean() > 10 * excess.std(ddof=1) / np.sqrt(excess.size)
    assert abs(diff.mean()) < 4 * se
    b = st["benchmark"]
    assert bool((b.sel(contract="trunc") < b.sel(contract="plain")).all())
    # settle() itself takes the benchmark as given (already truncated by the program).
    c = presets.mssp("ENHANCED", msr=0.0, truncation=100_000.0)
    rec = c.settle(benchmark=100e6, expenditure=99e6, excess={100_000.0: 2e6})
    assert rec.final_benchmark == 100e6 and rec.counted_expenditure == 97e6


def test_chunked_settlement_equals_whole_and_variables_filter(paths, monkeypatch) -> None:
    import sys

    ev = sys.modules["vbsim.evaluate"]  # the module (vbsim.evaluate is also the function)
    cs = {"e": presets.mssp("E", msr=0.02), "g": presets.reach("global", year=2025)}
    whole = evaluate(paths, cs, revenue_share=0.3)
    monkeypatch.setattr(ev, "_CHUNK_ELEMENTS", 14)  # 7 scenarios x 2 years per chunk
    chunked = evaluate(paths, cs, revenue_share=0.3)
    for k in whole.data_vars:
        np.testing.assert_array_equal(whole[k].values, chunked[k].values, err_msg=k)
    few = evaluate(paths, cs, variables=["payment", "cap_hit"])
    assert set(few.data_vars) == {"payment", "cap_hit"}
    with pytest.raises(VbsimInputError, match="unknown settlement variables"):
        evaluate(paths, cs, variables=["pay"])


def test_msr_table_is_keyed_on_the_headcount_not_person_years():
    """5,100 members with deaths and churn give ~4,750 person-years: below MSSP's 5,000 floor
    for the size table, which is keyed on assigned beneficiaries (a headcount)."""
    from vbsim.evaluate import settlement_context
    from vbsim.presets import mssp

    pop = vbsim.Population([vbsim.Cohort("a", 5_100, vbsim.costs.Lognormal(mean=1e4, cv=1.5))])
    paths = vbsim.simulate(pop, n_scenarios=4, years=2, seed=3, progress=False)
    ctx = settlement_context(paths)
    assert np.all(ctx["assigned_beneficiaries"] == 5_100)
    assert np.all(ctx["member_months"] / 12 < 5_000)
    st = vbsim.evaluate(paths, {"a": mssp("A")})  # msr from the table; raised before
    assert st["payment"].shape == (1, 4, 2)


def test_payer_net_does_not_depend_on_truncation():
    """The payer pays every claim whatever the reconciliation counts: on the same paths,
    payer_net + provider_net = untruncated benchmark - expenditure for every contract, with
    MSSP truncation or without (it used to fall by the truncated-off share of the benchmark)."""
    from vbsim.presets import mssp

    pop = vbsim.Population([vbsim.Cohort("a", 3_000, vbsim.costs.Lognormal(mean=1e4, cv=3.0))])
    paths = vbsim.simulate(pop, n_scenarios=50, years=2, seed=5, progress=False,
                           thresholds=[1e5])
    offers = {"trunc": mssp("E", msr=0.0, truncation=1e5), "plain": mssp("E", msr=0.0)}
    st = evaluate(paths, offers)
    total = st["payer_net"] + st["provider_net"]
    np.testing.assert_allclose(total.sel(contract="trunc"), total.sel(contract="plain"),
                               rtol=1e-12, atol=1e-3)
    assert float(st["provider_net"].sel(contract="trunc").mean()) != float(
        st["provider_net"].sel(contract="plain").mean())
    # plain numbers: the truncated benchmark plus the cost truncated off stands in for it
    s = mssp("E", msr=0.0, truncation=1e5).settle(benchmark=98e6, expenditure=100e6,
                                                  excess={1e5: 2e6})
    assert s.payment == 0.0 and s.payer_net == 0.0


def test_wrong_objects_get_clear_errors_and_the_file_records_the_context(tmp_path):
    """run() given a Population and evaluate() given a Result raised AttributeError / TypeError;
    a settlement's file did not record quality_standard_met or relief; result.nc looked empty
    when opened without a group."""
    import xarray as xr

    res = run("scenarios/small_practice.toml", n_scenarios=20, progress=False)
    with pytest.raises(VbsimInputError, match="scenario must be a Scenario or a scenario file"):
        run(res.scenario.population)
    with pytest.raises(VbsimInputError, match="pass result.paths"):
        evaluate(res, res.scenario.contracts)
    st = evaluate(res.paths, {"e": presets.mssp("E", msr=0.0)}, quality_standard_met=False,
                  relief=1e5)
    import json

    assert json.loads(st.attrs["context"]) == {"quality_standard_met": False, "relief": 1e5}
    f = tmp_path / "r.nc"
    res.to_netcdf(f)
    assert "group='paths'" in xr.open_dataset(f).attrs["vbsim_result"]
    assert "context" in xr.open_dataset(f, group="settlement").attrs
