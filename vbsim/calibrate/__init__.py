"""Calibration of the member cost model to summary statistics or a claims extract.

- :func:`from_summary`: fit a :class:`vbsim.costs.Spliced` model and the AR(1) persistence
  ``rho`` to published statistics (mean, cv or percentiles, zero share, top spending shares,
  persistence of the top decile).
- :func:`from_claims`: the same from a member-year claims table (CSV path or DataFrame).
- :func:`read_desynpuf`: CMS DE-SynPUF beneficiary summary files -> member-year cost table.
- :func:`plot_fit`: concentration curve and persistence, fitted against target (PNG).
- :func:`transition_rates`: annual cohort transition probabilities (``Cohort.transitions``)
  from a member-year table with an enrolment type per year, and optionally how they depend on
  cost rank and risk score (``effects=``).

Each returns a :class:`Calibration` (``cost``, ``rho``, ``report``); the :class:`FitReport` lists
target against achieved for every statistic. Methods and sources: ``docs/calibration.md``.
"""

from __future__ import annotations

from .claims import clean_claims, from_claims, read_desynpuf
from .plot import plot_fit
from .report import Calibration, FitReport, FitRow
from .summary import AGED_NON_DUAL, from_summary
from .transitions import TransitionRates, transition_rates

__all__ = [
    "AGED_NON_DUAL",
    "Calibration",
    "FitReport",
    "FitRow",
    "TransitionRates",
    "clean_claims",
    "from_claims",
    "from_summary",
    "plot_fit",
    "read_desynpuf",
    "transition_rates",
]
