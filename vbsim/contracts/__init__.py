"""Contract library: composable, validated, vectorised settlement of value-based contracts.

Build a :class:`Contract` from small frozen terms, or take one from :mod:`vbsim.presets`, and call
``contract.settle(benchmark=..., expenditure=..., **context)`` on floats, numpy arrays or
xarray DataArrays. See docs/contracts.md.

>>> from vbsim.contracts import Contract, Corridors
>>> c = Contract("corridor", sharing=Corridors(((0, 0.1, 0.5), (0.1, float("inf"), 0.2))),
...              sequestration=0.0)
>>> c.settle(benchmark=100.0, expenditure=85.0).payment  # 10% x 50% + 5% x 20% = 6%
6.0
"""

from __future__ import annotations

from .base import Contract
from .capitation import Capitation
from .corridors import Corridors
from .episodes import Bundle, CaseRate
from .quality import PayForPerformance, QualityGate, QualityWithhold
from .settlement import Settlement
from .shared_savings import QualityLossRate, SharedSavings, TwoSidedRisk, msr_from_table
from .spec import from_spec
from .stoploss import AggregateStopLoss, IndividualStopLoss

__all__ = [
    "AggregateStopLoss",
    "Bundle",
    "Capitation",
    "CaseRate",
    "Contract",
    "Corridors",
    "IndividualStopLoss",
    "PayForPerformance",
    "QualityGate",
    "QualityLossRate",
    "QualityWithhold",
    "Settlement",
    "SharedSavings",
    "TwoSidedRisk",
    "from_spec",
    "msr_from_table",
]
