"""The vbsim command line: run prints the table and saves files; bad input exits 2."""

from __future__ import annotations

import subprocess
import sys

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
