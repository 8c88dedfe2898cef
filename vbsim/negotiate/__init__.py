"""The negotiation workbench: compare offers, solve break-evens, stress-test assumptions.

Everything here works on paths simulated once: offers are re-settled on the cached paths
(common random numbers), so differences between offers carry far less Monte Carlo noise than
either offer alone. See docs/negotiation.md.
"""

from __future__ import annotations

from .breakeven import BreakEven, breakeven, corridor_width
from .compare import Comparison, compare
from .resettle import Resettler, threshold_grid

__all__ = ["BreakEven", "Comparison", "Resettler", "breakeven", "compare", "corridor_width",
           "threshold_grid"]
