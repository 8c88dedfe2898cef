"""``vbsim settle`` through settle_cli.main and as a module."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from vbsim._validate import VbsimInputError
from vbsim.settle_cli import main, parse_contract


def test_one_row_two_contracts(capsys):
    rc = main(["--contract", "mssp:ENHANCED:0.02", "--contract", "mssp:E:0", "--benchmark",
               "240e6", "--expenditure", "252e6", "--quality-score", "0.8", "--revenue", "30e6"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "-4,800,000" in out  # DOMAIN.md example 2
    # BASIC E: -12M x 30% = -3.6M; limit min(8% x 30M, 4% x 240M) = 2.4M
    assert "-2,400,000" in out


def test_csv_rows_and_out(tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text("id,benchmark,expenditure,beneficiaries,quality_score\n"
                    "aco1,132000000,126720000,12000,0.9\n"
                    "aco2,132000000,129360000,12000,0.9\n")
    out = tmp_path / "out.csv"
    assert main(["--contract", "mssp:A", "--contract", "reach:global:2025", "--csv", str(rows),
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2,069,760" in text and "aco2" in text  # DOMAIN.md example 3
    recs = list(csv.DictReader(out.open()))
    assert len(recs) == 4 and {"payment", "cap_hit", "payer_net"} <= set(recs[0])
    assert float(recs[0]["payment"]) == pytest.approx(2_069_760)


@pytest.mark.parametrize("argv, msg", [
    (["--contract", "mssp:Z", "--expenditure", "1", "--benchmark", "1"], "level must be one of"),
    (["--contract", "foo:1", "--expenditure", "1"], "--contract must be one of"),
    (["--contract", "reach:global:20x5", "--expenditure", "1"], "--contract must be one of"),
    (["--contract", "mssp:E:0.02", "--benchmark", "1"], "--expenditure is required"),
])
def test_errors_exit_2(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err


def test_bad_csv_column(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("benchmark,spend\n1,2\n")
    with pytest.raises(VbsimInputError, match="unknown column"):
        from vbsim.settle_cli import read_rows

        read_rows(str(p))


def test_parse_contract_presets():
    assert parse_contract("lead:professional").discount == 0.0
    assert parse_contract("bpci:25000").sharing.target_price == 25_000
    assert parse_contract("mssp2018:3").sharing.scale_by_quality


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "vbsim.settle_cli",
                        "--contract", "reach:professional", "--benchmark", "126.74e6",
                        "--expenditure", "111531200",
                        "--quality-score", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "5,651,337" in r.stdout  # DOMAIN.md example 6


def test_scenario_contracts(tmp_path, capsys):
    p = tmp_path / "s.toml"
    p.write_text('[contracts.enh]\npreset = "mssp"\nlevel = "ENHANCED"\nmsr = 0.02\n'
                 '[contracts.custom]\nname = "custom"\n'
                 'sharing = { type = "corridors", bands_savings = [[0, inf, 0.5]] }\n')
    assert main(["--scenario", str(p), "--benchmark", "240e6", "--expenditure", "228e6"]) == 0
    out = capsys.readouterr().out
    assert "enh" in out and "8,820,000" in out and "custom" in out
    assert main(["--benchmark", "1", "--expenditure", "1"]) == 2
    p.write_text('[contracts.bad]\npreset = "mssp"\nlevel = "Q"\n')
    assert main(["--scenario", str(p), "--benchmark", "1", "--expenditure", "1"]) == 2
    assert "contracts.bad.level" in capsys.readouterr().err


def test_loaded_premium_takes_expected_excess(capsys):
    """The bundled stop-loss offer (premium = expected recoveries x 1.25) settles from the
    command line: --expected-excess (or an expected_excess column) feeds its premium."""
    from vbsim.settle_cli import main

    base = ["--scenario", "scenarios/reach_stop_loss.toml", "--benchmark", "1e8",
            "--expenditure", "9.5e7", "--quality-score", "0.9", "--excess", "5e6"]
    assert main(base) == 2
    assert "add --expected-excess (or an expected_excess column)" in capsys.readouterr().err
    assert main([*base, "--expected-excess", "2e6", "--out", "/dev/null"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[1]: ln.split() for ln in out.splitlines()[1:] if ln.startswith("1 ")}
    from vbsim.settle_cli import scenario_contracts

    (c,) = [c for c in scenario_contracts("scenarios/reach_stop_loss.toml")
            if c.name == "global_stop_loss"]
    a = c.stop_loss[0].attachment
    want = c.settle(benchmark=1e8, expenditure=9.5e7, quality_score=0.9, excess={a: 5e6},
                    expected_excess={a: 2e6})
    # recoveries 0.9 x 5M = 4.5M, premium 0.9 x 2M x 1.25 = 2.25M: counted spend 2.25M lower
    assert want.counted_expenditure == pytest.approx(9.5e7 - 4.5e6 + 2.25e6)
    assert rows["global_stop_loss"][7] == f"{want.payment:,.0f}"
