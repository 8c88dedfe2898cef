"""Scenario files: bundled ones load; bad fields get errors naming the file and field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from vbsim import scenario
from vbsim._validate import VbsimInputError

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "scenarios").glob("*.toml"))

BASE = """
[simulation]
n_scenarios = 10
[[population.cohorts]]
name = "a"
members = 100
cost = { model = "lognormal", mean = 1000.0, cv = 1.0 }
[contracts.e]
preset = "mssp"
level = "E"
msr = 0.02
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_scenarios_load(path: Path) -> None:
    sc = scenario.load(path)
    assert sc.contracts and sc.population.members > 0 and sc.n_scenarios > 0


def test_bundled_has_default_and_two_more() -> None:
    names = {p.name for p in BUNDLED}
    assert "default.toml" in names and len(names) >= 3


def test_minimal_scenario(tmp_path: Path) -> None:
    sc = scenario.load(_write(tmp_path, BASE))
    assert sc.n_scenarios == 10 and sc.name == "s" and list(sc.contracts) == ["e"]


@pytest.mark.parametrize(
    "change, fragment",
    [
        (("n_scenarios = 10", "n_scenarios = 0"), "simulation.n_scenarios must be an integer in"),
        (("n_scenarios = 10", "n_scenarios = 1.5"), "simulation.n_scenarios must be an integer"),
        (("n_scenarios = 10", "n_scenario = 10"), "simulation.n_scenario: unknown field"),
        (('level = "E"', 'level = "F"'), "contracts.e"),
        (("members = 100", "members = -5"), "population.cohorts[0]"),
        (('model = "lognormal"', 'model = "weibull"'), "population.cohorts[0].cost.model"),
        (("cv = 1.0", "cv = -1.0"), "population.cohorts[0].cost"),
        (("[simulation]", "[simulaton]"), "simulaton: unknown section"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, change: tuple[str, str], fragment: str) -> None:
    path = _write(tmp_path, BASE.replace(*change))
    with pytest.raises(VbsimInputError) as err:
        scenario.load(path)
    msg = str(err.value)
    assert str(path) in msg and fragment in msg


def test_settlement_field_range(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "\n[settlement]\nrevenue_share = -1\n")
    with pytest.raises(VbsimInputError, match=r"settlement.revenue_share must be in \[0, 10\]"):
        scenario.load(path)


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(VbsimInputError, match="not valid TOML"):
        scenario.load(_write(tmp_path, "this is = = not toml"))


def test_standard_cohort_entry(tmp_path: Path) -> None:
    text = BASE.replace(
        'name = "a"\nmembers = 100\ncost = { model = "lognormal", mean = 1000.0, cv = 1.0 }',
        'standard = "esrd"\nmembers = 40\nchurn = 0.2',
    )
    sc = scenario.load(_write(tmp_path, text))
    (c,) = sc.population.cohorts
    assert c.name == "esrd" and c.members == 40 and c.churn == 0.2
    bad = _write(tmp_path, text.replace('standard = "esrd"', 'standard = "martian"'))
    with pytest.raises(VbsimInputError, match="population.cohorts"):
        scenario.load(bad)


def test_member_dynamics_fields(tmp_path: Path) -> None:
    """Growth, ageing, end-of-life amount and the stationary start are scenario fields."""
    text = BASE.replace(
        'members = 100\n',
        'members = 100\ngrowth = 0.05\ngrowth_start = 3\nrisk_ageing = 0.03\n'
        'mortality_ageing = 0.09\neol_cost = 20000.0\nstationary_start = false\n')
    sc = scenario.load(_write(tmp_path, text))
    (c,) = sc.population.cohorts
    assert (c.growth, c.growth_start, c.risk_ageing, c.mortality_ageing, c.eol_cost,
            c.stationary_start) == (0.05, 3, 0.03, 0.09, 20000.0, False)
    assert c.slots(4).tolist() == [100, 100, 105, 110]
    bad = _write(tmp_path, text.replace("growth = 0.05", "growth = 2.0"))
    with pytest.raises(VbsimInputError, match=r"Cohort.growth must be in \[0, 1\]"):
        scenario.load(bad)


def test_trend_file(tmp_path: Path) -> None:
    (tmp_path / "trend.csv").write_text("year,trend,benchmark_trend\n1,0.05,0.04\n2,0.09,0.05\n")
    sc = scenario.load(_write(tmp_path, BASE + '\n[drivers]\ntrend_file = "trend.csv"\n'))
    assert sc.drivers.trend_mean == (0.05, 0.09)
    assert sc.drivers.benchmark_trend_mean == (0.04, 0.05)
    (tmp_path / "trend.csv").write_text("year,trend\n1,0.05\n3,0.09\n")
    with pytest.raises(VbsimInputError, match=r"trend.csv: row 3: years must run 1, 2, 3"):
        scenario.load(tmp_path / "s.toml")
    (tmp_path / "trend.csv").write_text("year,trend\n1,0.05\n2,0.9\n")
    with pytest.raises(VbsimInputError, match=r"row 3: trend must be in \[-0.2, 0.5\]"):
        scenario.load(tmp_path / "s.toml")
