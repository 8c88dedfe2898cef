"""Per-cohort (per enrolment type) stop-loss attachments and MSSP truncation points.

MSSP truncates each beneficiary's cost at the national 99th percentile of its enrolment type
(DOMAIN.md s.1-2); ``IndividualStopLoss(attachment={cohort: dollars})`` settles on the sum over
cohorts of each cohort's excess at its own attachment. Checks: the all-equal mapping is the scalar
form bit for bit; recoveries and the truncated benchmark match sums taken by hand from the
CostPaths; validation messages name the field; the fused kernel falls back to numpy.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import vbsim
from vbsim import presets
from vbsim._validate import VbsimInputError
from vbsim.contracts import Contract, IndividualStopLoss, TwoSidedRisk, _fast

ev = importlib.import_module("vbsim.evaluate")  # the module (vbsim.evaluate is the function)
T_LO, T_HI = 40_000.0, 150_000.0


@pytest.fixture(scope="module")
def paths():
    pop = vbsim.Population([
        vbsim.Cohort("aged", 300, vbsim.costs.Lognormal(mean=1.1e4, cv=2.0)),
        vbsim.Cohort("esrd", 30, vbsim.costs.Lognormal(mean=8e4, cv=1.2)),
    ])
    return vbsim.simulate(pop, n_scenarios=40, years=2, seed=11, thresholds=[T_LO, T_HI])


def _two_sided(sl) -> Contract:
    return Contract("c", sharing=TwoSidedRisk(rate=0.5, loss_rate=0.5, msr=0.0, cap=0.2,
                                              loss_limit_benchmark=0.1), stop_loss=sl)


def _by_hand(paths, att: dict) -> np.ndarray:
    """sum over cohorts of excess(cohort, att[cohort]), (scenario, year), plain numpy."""
    e = paths["excess"].transpose("scenario", "year", "cohort", "threshold").values
    thr = list(paths["threshold"].values)
    cohorts = [str(c) for c in paths["cohort"].values]
    return sum(e[:, :, cohorts.index(c), thr.index(t)] for c, t in att.items())


@pytest.mark.parametrize("make", [
    lambda a: IndividualStopLoss.truncation(a),
    lambda a: IndividualStopLoss(attachment=a, coinsurance=0.2, premium_load=0.1),
    lambda a: IndividualStopLoss(attachment=a, coinsurance=0.0, premium_pmpm=3.0),
])
def test_all_equal_mapping_is_the_scalar_form_bit_for_bit(paths, make):
    scalar, mapped = make(T_LO), make({"aged": T_LO, "esrd": T_LO})
    assert mapped.thresholds == scalar.thresholds == (T_LO,)
    st = ev.evaluate(paths, {"s": _two_sided(scalar), "m": _two_sided(mapped)})
    for v in st.data_vars:
        np.testing.assert_array_equal(st[v].sel(contract="s").values,
                                      st[v].sel(contract="m").values, err_msg=v)
    assert float(np.abs(st["stop_loss_recoveries"]).max()) > 0  # the test bites


def test_recoveries_are_each_cohorts_excess_at_its_own_attachment(paths):
    att = {"aged": T_LO, "esrd": T_HI}
    sl = IndividualStopLoss(attachment=att, coinsurance=0.25)
    st = ev.evaluate(paths, _two_sided(sl))
    want = 0.75 * _by_hand(paths, att)
    got = st["stop_loss_recoveries"].isel(contract=0).transpose("scenario", "year").values
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # different from either single attachment, so the cohorts really are told apart
    for t in (T_LO, T_HI):
        single = 0.75 * _by_hand(paths, {"aged": t, "esrd": t})
        assert not np.allclose(got, single)
    ctx = ev.settlement_context(paths, contracts=[_two_sided(sl)])
    np.testing.assert_allclose(ctx["expected_excess"][sl.attachment],
                               np.broadcast_to(_by_hand(paths, att).mean(0), got.shape))


def test_benchmark_truncated_by_the_per_cohort_excess_share(paths):
    att = {"aged": T_LO, "esrd": T_HI}
    c = _two_sided(IndividualStopLoss.truncation(att))
    st = ev.evaluate(paths, c)
    exc = _by_hand(paths, att)
    cost = paths["cost"].sum("cohort").transpose("scenario", "year").values
    bench = paths["benchmark"].sum("cohort").transpose("scenario", "year").values
    want = bench * (1.0 - exc.mean(0) / cost.mean(0))
    got = st["benchmark"].isel(contract=0).transpose("scenario", "year").values
    np.testing.assert_allclose(got, want, rtol=1e-12)
    counted = st["counted_expenditure"].isel(contract=0).transpose("scenario", "year").values
    np.testing.assert_allclose(counted, cost - exc, rtol=1e-12)


def test_fast_kernel_falls_back_and_matches_numpy(paths):
    c = presets.mssp("E", msr=0.0, truncation={"aged": T_LO, "esrd": T_HI})
    ctx = ev.settlement_context(paths, contracts=[c], revenue_share=0.3)
    assert _fast.compile_contract(c, ctx) is None
    ref = c.settle(**ev.context_for(c, ctx)).to_dict()
    st = ev.evaluate(paths, {"m": c, "s": presets.mssp("E", msr=0.0, truncation=T_LO)},
                     revenue_share=0.3)
    for k, v in ref.items():
        np.testing.assert_array_equal(st[k].sel(contract="m").values, np.asarray(v), err_msg=k)
    shape = ctx["benchmark"].shape
    arr = ev.settle_arrays(c, ev.context_for(c, ctx), shape, ["payment"])
    np.testing.assert_array_equal(arr["payment"], np.asarray(ref["payment"]))


@pytest.mark.parametrize("att, msg", [
    ({"aged": -1.0}, r"IndividualStopLoss.attachment\['aged'\] must be in \(0, inf\)"),
    ({"aged": float("nan")}, r"IndividualStopLoss.attachment\['aged'\] must be in"),
    ({"aged": float("inf")}, r"IndividualStopLoss.attachment\['aged'\] must be in"),
    ({"aged": "lots"}, r"IndividualStopLoss.attachment\['aged'\] must be a number"),
    ({}, r"IndividualStopLoss.attachment must name at least one cohort"),
    ({3: 1e5}, r"IndividualStopLoss.attachment keys must be cohort names"),
    (0.0, r"IndividualStopLoss.attachment must be in \(0, inf\]"),
])
def test_validation_names_the_field(att, msg):
    with pytest.raises(VbsimInputError, match=msg):
        IndividualStopLoss(attachment=att)


def test_stored_form_is_hashable_and_round_trips():
    sl = IndividualStopLoss({"esrd": 4e5, "aged": 1e5})
    assert sl.attachment == (("aged", 1e5), ("esrd", 4e5))
    assert sl.by_cohort == {"aged": 1e5, "esrd": 4e5} and IndividualStopLoss(1e5).by_cohort is None
    assert hash(sl) == hash(IndividualStopLoss(sl.attachment))
    assert sl.replace(coinsurance=0.1).attachment == sl.attachment
    assert sl.replace(attachment={"aged": 2e5}).thresholds == (2e5,)


def test_cohorts_must_match_the_population(paths):
    for att, names in [({"aged": T_LO}, r"missing \['esrd'\]"),
                       ({"aged": T_LO, "esrd": T_HI, "disabled": T_HI}, r"\['disabled'\]")]:
        with pytest.raises(VbsimInputError, match=names):
            ev.evaluate(paths, _two_sided(IndividualStopLoss(att)))
    with pytest.raises(VbsimInputError, match=r"simulate with thresholds"):
        ev.evaluate(paths, _two_sided(IndividualStopLoss({"aged": T_LO, "esrd": 99_000})))


def test_settle_on_plain_numbers_needs_the_explicit_entry():
    sl = IndividualStopLoss({"aged": 1e5, "esrd": 4e5}, coinsurance=0.2)
    c = _two_sided(sl)
    with pytest.raises(VbsimInputError, match=r"excess=\{stop_loss.attachment: amount\}"):
        c.settle(benchmark=100e6, expenditure=97e6, excess={1e5: 1e6})
    s = c.settle(benchmark=100e6, expenditure=97e6, excess={sl.attachment: 1e6})
    assert s.stop_loss_recoveries == pytest.approx(0.8e6)
    loaded = _two_sided(sl.replace(premium_load=0.1))
    s = loaded.settle(benchmark=100e6, expenditure=97e6, excess={sl.attachment: 1e6},
                      expected_excess={sl.attachment: 2e6})
    assert s.stop_loss_premium == pytest.approx(0.8 * 2e6 * 1.1)
    with pytest.raises(VbsimInputError, match=r"expected_excess' has no entry for .*premium_load"):
        loaded.settle(benchmark=100e6, expenditure=97e6, excess={sl.attachment: 1e6},
                      expected_excess={1e5: 2e6})
    with pytest.raises(VbsimInputError, match=r"settlement_context\(paths, contracts"):
        ev.context_for(_two_sided(IndividualStopLoss.truncation(dict(sl.attachment))),
                       {"benchmark": np.ones((2, 1)), "expenditure": np.ones((2, 1)),
                        "excess": {1e5: np.zeros((2, 1))}})


# ----------------------------------------------------------------- scenario files and specs
TOML = """
[contracts.by_type]
preset = "mssp"
level = "E"
msr = 0.0
truncation = { aged_non_dual = 95000, esrd = 420000.0 }
[contracts.terms]
name = "terms"
[contracts.terms.stop_loss]
type = "individual_stop_loss"
coinsurance = 0.1
attachment = { esrd = 4e5, aged_non_dual = 1e5 }
[contracts.override]
preset = "mssp"
level = "E"
truncation = 2e5
overrides = { "stop_loss.0.attachment" = { aged_non_dual = 1.5e5, esrd = 5e5 } }
[contracts.table]
preset = "reach"
option = "global"
overrides = { stop_loss = [{ type = "individual_stop_loss", attachment = { esrd = 1e6 } }] }
"""


def test_toml_contract_specs_accept_per_cohort_values():
    import tomllib

    from vbsim.contracts import from_spec

    specs = tomllib.loads(TOML)["contracts"]
    c = {k: from_spec(v, where=f"contracts.{k}") for k, v in specs.items()}
    sl = c["by_type"].stop_loss[0]
    assert sl.by_cohort == {"aged_non_dual": 95_000.0, "esrd": 420_000.0}
    assert sl.truncates_benchmark and "per cohort" in c["by_type"].source
    assert c["terms"].stop_loss[0].attachment == (("aged_non_dual", 1e5), ("esrd", 4e5))
    assert c["override"].stop_loss[0].by_cohort == {"aged_non_dual": 1.5e5, "esrd": 5e5}
    assert c["override"].stop_loss[0].truncates_benchmark
    assert c["table"].stop_loss[0].attachment == (("esrd", 1e6),)
    with pytest.raises(VbsimInputError, match=r"^contracts.r.truncation\['esrd'\] must be in"):
        from_spec({"preset": "mssp", "level": "E", "truncation": {"esrd": -1}},
                  where="contracts.r")
    with pytest.raises(VbsimInputError, match=r"contracts.r.stop_loss.attachment\['a'\] must"):
        from_spec({"name": "x", "stop_loss": {"type": "individual_stop_loss",
                                              "attachment": {"a": "big"}}}, where="contracts.r")


def _scenario(truncation, **extra):
    return {
        "simulation": {"n_scenarios": 20, "years": 1, "seed": 3},
        "population": {"cohorts": [{"standard": "aged_non_dual", "members": 300},
                                   {"standard": "esrd", "members": 10}]},
        "drivers": {"trend_mean": 0.04},
        "contracts": {"t": {"preset": "mssp", "level": "E", "msr": 0.0,
                            "truncation": truncation, **extra}},
    }


def test_scenario_p99_is_each_cohorts_model_quantile():
    from vbsim import scenario
    from vbsim.reality import truncation_points

    sc = scenario.from_dict(_scenario("p99"), where="s.toml")
    want = truncation_points(sc.population, 0.99, trend=0.04)
    got = sc.contracts["t"].stop_loss[0].by_cohort
    assert list(got) == ["aged_non_dual", "esrd"]
    np.testing.assert_allclose([got["aged_non_dual"], got["esrd"]], want, rtol=1e-12)
    sc = scenario.from_dict(_scenario(1e5, overrides={"stop_loss.0.attachment": "p95"}))
    assert set(sc.contracts["t"].stop_loss[0].by_cohort) == {"aged_non_dual", "esrd"}
    for bad, msg in [("q99", r"s.toml: contracts.t.truncation must be a number, a table"),
                     ("p100", r"contracts.t.truncation must be"),
                     ({"aged_non_dual": 1e5}, r"s.toml: contracts.t: stop_loss\[0\] per-cohort "
                                              r"truncation .* missing \['esrd'\]")]:
        with pytest.raises(VbsimInputError, match=msg):
            scenario.from_dict(_scenario(bad), where="s.toml")
    with pytest.raises(VbsimInputError, match=r"cohort_truncation\(population\)"):
        presets.mssp("E", truncation="p99")


# ----------------------------------------------------------------- re-settlement, multi-year
def test_resettler_matches_evaluate_and_interpolates_per_cohort(paths):
    from vbsim.negotiate import Resettler

    rs = Resettler(paths)
    c = _two_sided(IndividualStopLoss.truncation({"aged": T_LO, "esrd": T_HI}))
    st = ev.evaluate(paths, c)
    for k, v in rs.arrays(c).items():
        np.testing.assert_array_equal(v, st[k].isel(contract=0).values, err_msg=k)
    # between simulated thresholds: each cohort interpolated on its own grid, then summed
    mid = 0.5 * (T_LO + T_HI)
    e = paths["excess"].transpose("scenario", "year", "cohort", "threshold").values
    want = 0.5 * (e[:, :, 0, 0] + e[:, :, 0, 1]) + e[:, :, 1, 1]
    np.testing.assert_allclose(rs.cohort_excess({"aged": mid, "esrd": T_HI}), want, rtol=1e-12)
    np.testing.assert_array_equal(rs.cohort_excess({"aged": mid, "esrd": mid}), rs.excess(mid))
    with pytest.raises(VbsimInputError, match=r"missing \['aged'\]"):
        rs.totals(_two_sided(IndividualStopLoss({"esrd": T_HI})))


def test_multiyear_truncate_at_and_stop_loss_per_cohort():
    from vbsim.multiyear import FixedBenchmark, MultiYearContract

    pop = vbsim.Population([
        vbsim.Cohort("aged", 200, vbsim.costs.Lognormal(mean=1.1e4, cv=2.0)),
        vbsim.Cohort("esrd", 20, vbsim.costs.Lognormal(mean=8e4, cv=1.2)),
    ])
    att = {"aged": T_LO, "esrd": T_HI}
    rule = FixedBenchmark(truncate_at=att)
    assert rule.thresholds == (T_LO, T_HI)
    m = MultiYearContract(rule, _two_sided(IndividualStopLoss(att, coinsurance=0.5)))
    assert m.thresholds == (T_LO, T_HI)
    p = vbsim.simulate(pop, n_scenarios=10, years=4, seed=2, thresholds=m.thresholds)
    capped = p["cost_capped"].transpose("scenario", "year", "cohort", "threshold").values
    want = np.stack([capped[:, :, 0, 0], capped[:, :, 1, 1]], axis=2)
    np.testing.assert_array_equal(rule.expenditure_by_cohort(p), want)
    st = m.settle_paths(p)
    np.testing.assert_allclose(st["expenditure"].values, want.sum(axis=2)[:, 3:], rtol=1e-12)
    # a stop-loss at the truncation points finds nothing above them: truncation removed it
    assert not st["stop_loss_recoveries"].values.any()
    # below them it recovers the truncated costs' layer: excess at the attachment less the
    # excess at the truncation point, cohort by cohort (aged: 40k to 150k; esrd: none)
    top = {"aged": T_HI, "esrd": T_HI}
    m2 = MultiYearContract(FixedBenchmark(truncate_at=top),
                           _two_sided(IndividualStopLoss(att, coinsurance=0.5)))
    st2 = m2.settle_paths(p)
    layer = (_by_hand(p, {"aged": T_LO}) - _by_hand(p, {"aged": T_HI}))[:, 3:]
    assert layer.min() >= 0 and layer.max() > 0
    np.testing.assert_allclose(st2["stop_loss_recoveries"].values, 0.5 * layer, rtol=1e-12,
                               atol=1e-6)
    assert np.all(st2["counted_expenditure"].values >= 0)
    with pytest.raises(VbsimInputError, match=r"FixedBenchmark|BenchmarkRule.truncate_at"):
        FixedBenchmark(truncate_at={"aged": 0.0})
    with pytest.raises(VbsimInputError, match=r"truncate_at: .*must name every cohort.*\['esrd'\]"):
        FixedBenchmark(truncate_at={"aged": T_LO}).expenditure_by_cohort(p)


def test_settle_cli_reads_excess_for_per_cohort_truncation(tmp_path, capsys):
    from vbsim import settle_cli

    f = tmp_path / "s.toml"
    f.write_text('[contracts.t]\npreset = "mssp"\nlevel = "E"\nmsr = 0.0\n'
                 'truncation = { aged_non_dual = 95000, esrd = 420000 }\n')
    args = ["--scenario", str(f), "--benchmark", "100e6", "--expenditure", "99e6"]
    assert settle_cli.main(args) == 2
    assert "add --excess" in capsys.readouterr().err
    assert settle_cli.main([*args, "--excess", "2e6", "--out", str(tmp_path / "o.csv")]) == 0
    c = settle_cli.scenario_contracts(str(f))[0]
    want = c.settle(benchmark=100e6, expenditure=99e6,
                    excess={c.stop_loss[0].attachment: 2e6})
    rec = settle_cli.settle_rows([c], [("1", {"benchmark": 100e6, "expenditure": 99e6,
                                              "excess": 2e6})])[0]
    assert rec["payment"] == want.payment and rec["counted_expenditure"] == 97e6
    rec = settle_cli.settle_rows([presets.mssp("E", msr=0.0)],
                                 [("1", {"benchmark": 100e6, "expenditure": 99e6,
                                         "excess": 2e6})])[0]
    assert rec["counted_expenditure"] == 99e6  # no stop-loss: the excess is not used
    f.write_text('[contracts.t]\npreset = "mssp"\nlevel = "E"\nmsr = 0.0\ntruncation = "p99"\n'
                 '[[population.cohorts]]\nstandard = "esrd"\nmembers = 10\n')
    sl = settle_cli.scenario_contracts(str(f))[0].stop_loss[0]
    assert list(sl.by_cohort) == ["esrd"] and sl.by_cohort["esrd"] > 1e5
