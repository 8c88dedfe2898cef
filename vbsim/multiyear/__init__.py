"""Many-year contracts: benchmark rules, per-year terms, population dynamics, cash flows, NPV.

Strategy teams commit to 10-year agreements (LEAD) or 5-year rebased agreements (MSSP); this
package turns one set of simulated cost paths into the 10-year distribution of each option.
See docs/multiyear.md for the rules, their sources and the assumptions.

>>> from vbsim.multiyear import FixedBenchmark, RebasedBenchmark, demo_paths
>>> p = demo_paths(years=13)
>>> FixedBenchmark().benchmark(p).shape  # 3 base years, 10 performance years
(2, 10)
"""

from __future__ import annotations

from .benchmark import BenchmarkRule, FixedBenchmark, RebasedBenchmark, update_index
from .cash import CashTerms, cash_flows, first_breach_distribution
from .compare import (
    compare,
    lead_global,
    lead_professional,
    mssp_basic_glide,
    mssp_enhanced,
    standard_strategies,
    summarize,
)
from .contract import MultiYearContract, by_year, year_context
from .dynamics import growth_weights, reweight_cohorts, with_risk_drift, with_savings
from .plot import fan_chart, npv_distribution
from .scenario import MultiYearScenario
from .scenario import load as load_scenario
from .synthetic import demo_paths

__all__ = [
    "BenchmarkRule",
    "CashTerms",
    "FixedBenchmark",
    "MultiYearContract",
    "MultiYearScenario",
    "RebasedBenchmark",
    "by_year",
    "cash_flows",
    "compare",
    "demo_paths",
    "fan_chart",
    "first_breach_distribution",
    "growth_weights",
    "lead_global",
    "lead_professional",
    "load_scenario",
    "mssp_basic_glide",
    "mssp_enhanced",
    "npv_distribution",
    "reweight_cohorts",
    "standard_strategies",
    "summarize",
    "update_index",
    "with_risk_drift",
    "with_savings",
    "year_context",
]
