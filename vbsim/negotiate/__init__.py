"""The negotiation workbench: compare offers, solve break-evens, stress-test assumptions.

Everything here works on paths simulated once: offers are re-settled on the cached paths
(common random numbers), so differences between offers carry far less Monte Carlo noise than
either offer alone. See docs/negotiation.md.
"""

from __future__ import annotations

from .breakeven import BreakEven, attachment_scale, breakeven, corridor_width
from .compare import Comparison, compare
from .display import ContractTable
from .frontier import Frontier, frontier
from .panel import PanelCurve, panel_curve
from .resettle import Resettler, threshold_grid
from .sensitivity import Assumption, Tornado, standard_assumptions, tornado

__all__ = [
    "Assumption", "BreakEven", "Comparison", "ContractTable", "Frontier", "PanelCurve",
    "Resettler", "Tornado", "attachment_scale", "breakeven", "compare", "corridor_width",
    "frontier", "panel_curve",
    "standard_assumptions", "threshold_grid", "tornado",
]
