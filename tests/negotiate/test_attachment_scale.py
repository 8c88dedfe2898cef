"""Break-even over a per-cohort attachment: a common factor, never a silent single number."""

from __future__ import annotations

import pytest

import vbsim
from vbsim import presets
from vbsim._validate import VbsimInputError
from vbsim.negotiate import attachment_scale, threshold_grid
from vbsim.population import standard_cohort

POP = vbsim.Population([standard_cohort("aged_non_dual", 1_500), standard_cohort("esrd", 40)])
TRUNC = {"aged_non_dual": 100_000.0, "esrd": 450_000.0}


@pytest.fixture(scope="module")
def paths():
    grid = threshold_grid(50_000, 1.5e6, n=61)
    return vbsim.simulate(POP, n_scenarios=300, seed=3, thresholds=sorted({*grid, *TRUNC.values()}))


def test_scaling_keeps_the_proportions_between_cohorts():
    c = presets.mssp("E", msr=0.02, truncation=TRUNC)
    got = dict(attachment_scale()(c, 1.25).params()["stop_loss.0.attachment"])
    assert got == {k: 1.25 * v for k, v in TRUNC.items()}
    with pytest.raises(VbsimInputError, match="factor"):
        attachment_scale()(c, 0.0)
    with pytest.raises(VbsimInputError, match="no stop_loss.1.attachment"):
        attachment_scale(1)(c, 1.1)


def test_breakeven_recovers_the_factor_of_an_otherwise_identical_offer(paths):
    """Offer = the reference with every truncation point scaled by 1/1.4: the root is 1.4."""
    ref = presets.mssp("E", msr=0.02, truncation={k: 1.4 * v for k, v in TRUNC.items()})
    offer = presets.mssp("E", msr=0.02, truncation=TRUNC)
    be = vbsim.breakeven(paths, offer, ref, attachment_scale(), bracket=(1.0, 2.0))
    assert be.value == pytest.approx(1.4, rel=1e-9)  # the solver's tolerance (xtol 1e-12)


def test_a_single_number_cannot_silently_replace_a_per_cohort_attachment(paths):
    offer = presets.mssp("E", msr=0.02, truncation=TRUNC)
    ref = presets.mssp("ENHANCED", msr=0.02, truncation=TRUNC)
    with pytest.raises(VbsimInputError, match="attachment_scale"):
        vbsim.breakeven(paths, offer, ref, "stop_loss.0.attachment", bracket=(1e5, 1e6))
