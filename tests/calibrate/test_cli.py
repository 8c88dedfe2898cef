"""``vbsim calibrate`` command line (through vbsim.cli, which registers calibrate_cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vbsim import calibrate_cli

DATA = Path("/work/shared/data")
if not DATA.is_dir():
    DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _run(argv):
    p = argparse.ArgumentParser(prog="vbsim")
    sub = p.add_subparsers(dest="command", required=True)
    calibrate_cli.add_parser(sub)
    args = p.parse_args(argv)
    return args.func(args)


def _claims_csv(path: Path) -> Path:
    rng = np.random.default_rng(4)
    n = 400
    z = rng.standard_normal((n, 1)) + 0.6 * rng.standard_normal((n, 2))
    t = pd.DataFrame({"ID": np.repeat(np.arange(n), 2), "year": np.tile([2021, 2022], n),
                      "PAID": np.round(np.exp(8 + z).ravel(), 2)})
    t.to_csv(path, index=False)
    return path


def test_claims_csv_with_plot(tmp_path, capsys):
    csv = _claims_csv(tmp_path / "c.csv")
    png = tmp_path / "fit.png"
    rc = _run(["calibrate", "--claims", str(csv), "--columns", "member_id=ID,cost=PAID",
               "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "top10_share" in out and "top10_stay_1yr" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_go_through_vbsim_cli(tmp_path, capsys):
    cli = pytest.importorskip("vbsim.cli")
    csv = _claims_csv(tmp_path / "c.csv")
    rc = cli.main(["calibrate", "--claims", str(csv)])  # columns not renamed
    assert rc == 2
    assert "must have columns member_id, year, cost" in capsys.readouterr().err
    rc = cli.main(["calibrate", "--claims", str(csv), "--columns", "member=ID"])
    assert rc == 2
    assert "--columns must look like" in capsys.readouterr().err


def test_source_is_required():
    with pytest.raises(SystemExit):
        _run(["calibrate"])


@pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder absent")
def test_desynpuf_needs_explicit_negative_treatment(capsys):
    cli = pytest.importorskip("vbsim.cli")
    assert cli.main(["calibrate", "--desynpuf", str(DATA)]) == 2
    assert "negative total cost" in capsys.readouterr().err
    assert cli.main(["calibrate", "--desynpuf", str(DATA), "--negatives", "clip-to-zero"]) == 0
    assert "6 negative member-year totals set to 0" in capsys.readouterr().out


@pytest.mark.parametrize("text, flags, message", [
    ("member_id,year,cost\n1,2020,100\n2,2020,200\n3,2020,abc\n", [],
     "non-numeric cost: line 4 (member 3, year 2020)"),
    ("member_id,year,cost\n1,2020,100\n2,2020,200\n1,2021,1e300\n2,2021,3\n", [],
     "|cost| above 10,000,000,000"),
    ("member_id,year,cost\n1,2020,100\n2,2020,200\n1,2021,5\n", [],
     "every year needs at least 2 member-years to measure its spread; year 2021 has 1"),
    ("member_id,year,cost\n1,2020,100\n", ["--columns", "cost=Kost"],
     "columns: 'Kost' (for cost) not in the table"),
    ("member_id,year,cost\n1,2020,100\n1,2020,50\n2,2020,1\n", [],
     "use duplicates='sum' (--duplicates sum)"),
])
def test_claims_errors_point_at_the_file(tmp_path, capsys, text, flags, message):
    """Errors name the file's own line numbers (header = line 1) and the command-line flags."""
    from vbsim.cli import main

    f = tmp_path / "claims.csv"
    f.write_text(text)
    assert main(["calibrate", "--claims", str(f), *flags]) == 2
    assert message in capsys.readouterr().err
