"""The vbsim command line: run prints the table and saves files; bad input exits 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
import xarray as xr

from vbsim.cli import main


def test_run_prints_table_and_saves(tmp_path, capsys) -> None:
    png, nc = tmp_path / "r.png", tmp_path / "r.nc"
    rc = main(["run", "scenarios/default.toml", "--n-scenarios", "60", "--no-progress",
               "--plot", str(png), "--out", str(nc)])
    out = capsys.readouterr().out
    assert rc == 0
    for word in ("E[payment]", "TVaR99", "mssp_enhanced", "reach_global", "60 scenarios"):
        assert word in out
    assert png.stat().st_size > 10_000
    st = xr.open_dataset(nc, group="settlement")
    assert st.sizes["scenario"] == 60 and "provider_net" in st


def test_bad_scenario_exits_2_with_field(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[simulation]\nn_scenarios = -1\n")
    rc = main(["run", str(bad), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "simulation.n_scenarios" in err and str(bad) in err


def test_console_script_help() -> None:
    out = subprocess.run([sys.executable, "-m", "vbsim.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for sub in ("run", "settle", "calibrate", "report"):
        assert sub in out


def test_run_on_multiyear_scenario_compares_strategies(tmp_path, capsys) -> None:
    png = tmp_path / "lead.png"
    rc = main(["run", "scenarios/lead_10yr.toml", "--n-scenarios", "30", "--no-progress",
               "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0
    for word in ("NPV mean", "P(breach)", "lead_global", "mssp_enhanced", "first breach"):
        assert word in out
    assert png.stat().st_size > 20_000


@pytest.mark.parametrize("args, message", [
    (["run", "scenarios/default.toml", "--out", "no/such/dir/x.nc"], "--out: folder"),
    (["run", "scenarios/default.toml", "--plot", "x.xyz"], "--plot: 'x.xyz' must end in one of"),
    (["run", "scenarios/lead_10yr.toml", "--plot", "no/such/dir/x.png"], "--plot: folder"),
    (["settle", "--contract", "mssp:E:0.02", "--benchmark", "1e8", "--expenditure", "9e7",
      "--out", "no/such/dir/x.csv"], "--out: folder"),
    (["report", "scenarios/default.toml", "--out", "no/such/dir/r.html"], "out: folder"),
    (["run", "scenarios/default.toml", "--n-scenarios", "1"], "n_scenarios must be an integer"),
])
def test_bad_outputs_and_sizes_fail_before_the_run(args, message, capsys, monkeypatch):
    """An output that cannot be written is an error up front, not a traceback after the run."""
    import importlib

    def no_run(*a, **k):
        raise AssertionError("simulated before checking the outputs")

    monkeypatch.setattr(importlib.import_module("vbsim.simulate"), "simulate", no_run)
    assert main(args) == 2
    assert message in capsys.readouterr().err
