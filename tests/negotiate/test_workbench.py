"""Tornado, frontier and panel curve on small simulated scenarios; plots render headless."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

from vbsim import plot
from vbsim._validate import VbsimInputError
from vbsim.negotiate import (
    Assumption,
    frontier,
    panel_curve,
    standard_assumptions,
    tornado,
)
from vbsim.run import run
from vbsim.scenario import load

N = 400  # scenarios: small, the checks below are exact or paired


@pytest.fixture(scope="module")
def small():
    sc = load("scenarios/default.toml")
    from vbsim.negotiate.sensitivity import scale_members

    return scale_members(sc, 0.15).replace(n_scenarios=N)  # ~3,000 members


@pytest.fixture(scope="module")
def result(small):
    return run(small, progress=False)


def test_tornado_common_random_numbers_and_directions(small):
    names = ["mssp_basic_e"]
    zero = Assumption("nothing", -1.0, 1.0, lambda sc, v: sc, "identity")
    t = tornado(small, names, assumptions=[zero] + standard_assumptions(small)[:2])
    f = t.frame.set_index(["measure", "assumption"])
    # same seed, same scenario: the identity move reproduces the base exactly (CRN)
    assert f.loc[("mean", "nothing"), "low"] == f.loc[("mean", "nothing"), "base"]
    assert f.loc[("mean", "nothing"), "low_se"] == 0.0
    # higher cost trend lowers the provider's expected payment; a richer benchmark raises it
    tr = f.loc[("mean", "trend")]
    assert tr["low"] - tr["base"] > 3 * tr["low_se"] and tr["base"] - tr["high"] > 3 * tr["high_se"]
    bu = f.loc[("mean", "benchmark update")]
    assert bu["high"] - bu["base"] > 3 * bu["high_se"]
    assert "trend" in str(t) and "<table" in t._repr_html_()
    ax = t.plot("mssp_basic_e", "TVaR_99")
    assert len(ax.patches) == 2 * 3


def test_frontier_grid_offers_and_efficiency(result):
    fr = frontier(result, "mssp_enhanced", {"sharing.rate": [0.25, 0.5, 0.75]})
    grid = fr.frame[fr.frame["kind"] == "grid"]
    # a higher sharing rate pays more on the same paths; at 0.75 it is the offer itself
    assert np.all(np.diff(grid["mean"].to_numpy()) > 0)
    offer = fr.frame[fr.frame["name"] == "mssp_enhanced"].iloc[0]
    assert grid["mean"].iloc[2] == pytest.approx(offer["mean"], rel=1e-12)
    assert fr.frame["efficient"].any()
    assert len(plot.frontier(fr).collections) > 0
    with pytest.raises(VbsimInputError, match="grid"):
        frontier(result, "mssp_enhanced", {})


def test_panel_curve_risk_falls_with_size(small):
    pc = panel_curve(small, ["mssp_basic_e"], sizes=(300, 20_000), n_scenarios=N)
    f = pc.frame.set_index("members")
    # relative tail risk shrinks with the panel: far more than the Monte Carlo noise
    assert f.loc[300, "tvar_pct_benchmark"] > 2 * f.loc[20_000, "tvar_pct_benchmark"]
    assert f.loc[300, "p_loss"] > f.loc[20_000, "p_loss"] + 3 * f.loc[300, "p_loss_se"]
    assert (f["p_clear_msr"].between(0, 1)).all()
    axes = pc.plot()
    assert len(axes) == 3


def test_panel_curve_table_msr_below_program_minimum(small):
    from vbsim.presets import mssp

    sc = small.replace(contracts={"table": mssp("E"), "fixed": mssp("E", msr=0.02)})
    pc = panel_curve(sc, sizes=(1000, 6000), n_scenarios=50)
    f = pc.frame.set_index(["contract", "members"])
    assert np.isnan(f.loc[("table", 1000), "p_loss"]) and np.isfinite(f.loc[("table", 6000),
                                                                             "p_loss"])
    assert np.isfinite(f.loc[("fixed", 1000), "p_loss"])
    assert any("5,000" in n for n in pc.notes)


def test_plots_from_result(result, tmp_path):
    ax = plot.exceedance(result)
    ax.figure.savefig(tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 1000
    assert len(plot.histogram(result, bins=20).patches) == 20 * 3
    steps = plot.waterfall_steps(result, "reach_global")
    mean_net = float(result.settlement["provider_net"].sel(contract="reach_global").sum(
        "year").mean())
    assert sum(v for _, v in steps[:-1]) == pytest.approx(mean_net, rel=1e-9, abs=1e-3)
    assert steps[-1] == ("provider net", pytest.approx(mean_net))
    assert "discount" in [k for k, _ in steps]
    plot.waterfall(result, "reach_global")


def test_fan_chart_bands():
    rng = np.random.default_rng(0)
    da = xr.DataArray(rng.normal(size=(500, 4)) * np.arange(1, 5), dims=("scenario", "year"),
                      coords={"year": [1, 2, 3, 4]})
    ax = plot.fan_chart(da, percentiles=(10, 50, 90))
    assert len(ax.collections) == 1 and len(ax.lines) == 1
    lower_median = np.sort(da.values, axis=0)[249]  # x_(ceil(n/2)), the tables' median
    np.testing.assert_allclose(ax.lines[0].get_ydata(), lower_median)
    with pytest.raises(VbsimInputError, match="scenario"):
        plot.fan_chart(da.rename(scenario="s"))


def test_assumption_is_frozen():
    a = Assumption("x", 0, 1, lambda sc, v: sc)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.low = 2  # type: ignore[misc]


def test_tornado_marks_offers_undefined_after_a_move():
    # a 5,500-member practice on the MSSP size table: halving the panel leaves the table's range
    sc = load("scenarios/small_practice.toml").replace(n_scenarios=40)
    sc = sc.replace(contracts={k: sc.contracts[k] for k in ("basic_a", "basic_e")})
    panel = [a for a in standard_assumptions(sc) if a.name == "panel size"]
    f = tornado(sc, assumptions=panel, measures=("mean",)).frame.set_index("contract")
    assert np.isnan(f.loc["basic_a", "low"]) and "size table" in f.loc["basic_a", "note"]
    assert np.isfinite(f.loc["basic_e", "low"]) and f.loc["basic_e", "note"] == ""
