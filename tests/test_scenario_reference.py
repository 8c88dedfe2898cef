"""docs/scenarios.md lists every key a scenario file accepts, each with a meaning, and matches the
code that reads the files (vbsim.scenario_reference generates it from that code)."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from vbsim import presets
from vbsim import scenario as sc
from vbsim._validate import VbsimInputError
from vbsim.contracts.spec import TERM_TYPES
from vbsim.multiyear import scenario as my
from vbsim.population import Cohort
from vbsim.scenario_reference import (
    SETTLEMENT_HELP,
    SETTLEMENT_RANGES,
    SIMULATION_HELP,
    param_docs,
    reference,
    sections,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenarios.md"


def test_doc_is_up_to_date():
    assert DOC.read_text() == reference(), (
        "docs/scenarios.md is stale: python -m vbsim.scenario_reference > docs/scenarios.md")


def test_every_key_has_a_meaning():
    missing = [(h, k) for h, keys, docs in sections() for k, _ in keys if not docs.get(k)]
    assert not missing


def test_hand_written_tables_list_exactly_the_accepted_keys():
    assert set(SIMULATION_HELP) == set(sc._SIM_KEYS)
    assert set(SETTLEMENT_HELP) == set(SETTLEMENT_RANGES) == set(sc._SETTLE_KEYS)


def _keys(heading: str) -> set[str]:
    return {k for h, keys, _ in sections() if h == heading for k, _ in keys}


def test_sections_cover_what_the_readers_accept():
    assert _keys("[[population.cohorts]]") == {f.name for f in dataclasses.fields(Cohort)}
    for name, fn in presets.PRESETS.items():
        assert _keys(f'[contracts.NAME] with preset = "{name}"') == set(
            inspect.signature(fn).parameters)
    for typ, cls in TERM_TYPES.items():
        assert _keys(f'term table with type = "{typ}"') == {
            f.name for f in dataclasses.fields(cls) if f.init}
    assert _keys("[multiyear]") == set(my._MY_KEYS)
    assert _keys("[multiyear.strategies.NAME]") == set(my._STRATEGY_KEYS) - set(my._CASH_KEYS)


def test_param_docs_reads_both_styles():
    docs = param_docs(Cohort)
    assert docs["risk_sd"].startswith("*float*: Log-sd of the lognormal risk score")
    assert param_docs(TERM_TYPES["two_sided"])["cap"] == "savings side, as in `SharedSavings`."


def test_block_size_checked_at_load():
    base = {"population": {"cohorts": [{"standard": "esrd", "members": 10}]},
            "contracts": {"m": {"preset": "mssp", "level": "E"}}}
    assert sc.from_dict({**base, "simulation": {"block_size": 128}}).block_size == 128
    with pytest.raises(VbsimInputError, match=r"simulation.block_size must be a multiple of 64"):
        sc.from_dict({**base, "simulation": {"block_size": 100}}, where="x.toml")
    with pytest.raises(VbsimInputError, match=r"block_size must be an integer in \[64, 1048576\]"):
        sc.from_dict({**base, "simulation": {"block_size": 32}}, where="x.toml")


def test_preset_option_given_as_a_term_table():
    base = {"population": {"cohorts": [{"standard": "aged_non_dual", "members": 10}]}}
    s = sc.from_dict({**base, "contracts": {"g": {
        "preset": "reach", "option": "global",
        "stop_loss": {"type": "individual_stop_loss", "attachment": "p99", "coinsurance": 0.1},
        "capitation": {"type": "capitation", "pmpm": 900.0}}}})
    (sl,) = s.contracts["g"].stop_loss
    assert sl.coinsurance == 0.1 and sl.attachment[0][0] == "aged_non_dual"
    assert s.contracts["g"].capitation.pmpm == 900.0
    with pytest.raises(VbsimInputError, match=r"contracts.g.stop_loss.attachment must be in"):
        sc.from_dict({**base, "contracts": {"g": {
            "preset": "reach", "option": "global",
            "stop_loss": {"type": "individual_stop_loss", "attachment": -1.0}}}})
