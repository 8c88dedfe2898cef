"""Every field of the public model and contract objects set, in turn, to a value of the wrong
type or range: the object is built, or a VbsimInputError names the field (never a TypeError,
ZeroDivisionError or an ambiguous array truth value from inside)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vbsim import costs
from vbsim._validate import VbsimInputError
from vbsim.contracts.spec import TERM_TYPES
from vbsim.drivers import Drivers
from vbsim.population import Cohort

BAD = ["x", -1, -1e300, 1e300, 0, 1e-300, True, [], [1, 2], {}, {"a": 1}, 2**70,
       float("nan"), float("inf"), 0.5, 3, None, np.float64(0.3), np.array([1.0, 2.0]), (1, 2)]
# a valid instance of each class; every field is then broken in turn
VALID = {
    costs.Lognormal: dict(mean=1000.0, cv=1.0),
    costs.Spliced: dict(mean=1000.0),
    costs.CompoundPoisson: dict(rate=1.0, severity=costs.Lognormal(mean=100.0, cv=1.0)),
    Cohort: dict(name="a", members=10, cost=costs.Lognormal(mean=1000.0, cv=1.0)),
    Drivers: {},
    **{cls: {f.name: (0.5 if "rate" in f.name or "share" in f.name else 1000.0)
             for f in dataclasses.fields(cls)
             if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
       for name, cls in TERM_TYPES.items() if name not in ("corridors", "p4p", "case_rate")},
    TERM_TYPES["corridors"]: dict(bands_savings=[(0.0, 0.05, 0.5)]),
    TERM_TYPES["p4p"]: dict(thresholds=[0.5], amounts=[0.0, 10.0]),
    TERM_TYPES["case_rate"]: dict(rates={"low": 1000.0}),
}


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
def test_each_field_broken_in_turn_gives_a_named_error(cls):
    kw = VALID[cls]
    cls(**kw)  # the base is valid
    n_errors = 0
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        for value in BAD:
            try:
                cls(**{**kw, f.name: value})
            except VbsimInputError as exc:
                n_errors += 1
                assert f.name in str(exc), (f.name, value, str(exc))
    assert n_errors > 0


def test_tiny_tail_share_is_refused_not_divided_by_zero():
    with pytest.raises(VbsimInputError, match=r"tail_share must be 0 \(no tail\) or in"):
        costs.Spliced(mean=1000.0, tail_share=1e-300)
    assert costs.Spliced(mean=1000.0, tail_share=1e-12).threshold > 0


def test_flags_are_booleans_and_numeric_choices_take_ints():
    ss = TERM_TYPES["shared_savings"]
    with pytest.raises(VbsimInputError, match="scale_by_quality must be one of False, True"):
        ss(rate=0.5, scale_by_quality=1)
    with pytest.raises(VbsimInputError, match="scale_by_quality must be one of False, True"):
        ss(rate=0.5, scale_by_quality=np.array([True, False]))
    assert ss(rate=0.5, scale_by_quality=np.True_).scale_by_quality
    from vbsim.presets import mssp

    assert mssp("E", msr=0).sharing.msr == 0.0  # an int where the choices are floats
