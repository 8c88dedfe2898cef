"""vbsim: Monte Carlo simulation and contract negotiation for value-based health care.

Simulate member-level costs once, settle every contract on the same paths, and report the
distribution of what each contract pays, with Monte Carlo error bars.

>>> import vbsim
>>> res = vbsim.run("scenarios/default.toml", n_scenarios=100, progress=False)
>>> sorted(res.settlement["contract"].values.tolist())
['mssp_basic_e', 'mssp_enhanced', 'reach_global']
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import contracts, costs, metrics, multiyear, presets  # noqa: E402
from .drivers import Drivers  # noqa: E402
from .evaluate import evaluate  # noqa: E402
from .negotiate import breakeven, compare  # noqa: E402
from .population import Cohort, Population  # noqa: E402
from .run import Result, run  # noqa: E402
from .scenario import Scenario, load  # noqa: E402
from .simulate import simulate  # noqa: E402

__all__ = [
    "Cohort",
    "Drivers",
    "Population",
    "Result",
    "Scenario",
    "breakeven",
    "calibrate",
    "compare",
    "contracts",
    "costs",
    "evaluate",
    "load",
    "metrics",
    "multiyear",
    "presets",
    "run",
    "simulate",
]


def __getattr__(name: str):  # PEP 562: vbsim.calibrate loads scipy.stats (~1 s) on first use
    if name == "calibrate":
        import importlib

        return importlib.import_module(".calibrate", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
