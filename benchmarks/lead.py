"""Issue 5's speed target: LEAD's 10-year strategy, 50,000 members x 5,000 scenarios.

Two measurements, both on ``scenarios/lead_10yr.toml`` (5 standard Spliced cohorts, 50,000
members, the high-needs panel growing 5% a year; 13 simulated years = 3 base + 10 performance):

- the engine: ``vbsim.simulate`` on the scenario's multi-year population (``--scenarios``,
  default 600, best of ``--repeat``), in ns per member-year of the starting membership
  (50,000 x 13 x scenarios); the simulated slot-years are ~1% more because of the growth;
- the whole command, in a fresh process: ``vbsim run scenarios/lead_10yr.toml --n-scenarios
  5000 --no-progress`` (start-up, engine, xarray result, three strategies' multi-year
  settlement, cash flows and the printed table), unless ``--no-command``.

The budget. Issue 5 asks for the 5,000-scenario run "within the engine's speed budget"; the
engine's budget is issue 3's 10 ns per member-year on 2 cores. Counting the 13 simulated years,
that is ``10 ns x 50,000 x 13 x 5,000 = 32.5 s`` (``BUDGET_S``); counting only the 10 performance
years it would be 25 s. The reading is this project's: the issue does not say which.

Usage::

    .venv/bin/python benchmarks/lead.py [--scenarios 600] [--repeat 3] [--no-command]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "lead_10yr.toml"
MEMBERS, YEARS, SCENARIOS = 50_000, 13, 5_000
BUDGET_NS = 10.0  # issue 3: under 10 ns per member-year on 2 cores
BUDGET_S = BUDGET_NS * 1e-9 * MEMBERS * YEARS * SCENARIOS  # 32.5 s (module docstring)


def engine(scenarios: int = 600, repeat: int = 3) -> dict[str, Any]:
    """Best-of-``repeat`` wall time of ``vbsim.simulate`` on LEAD's multi-year population.

    >>> r = engine(scenarios=2, repeat=1)
    >>> sorted(r)[:3], r["members"]
    (['extrapolated_s', 'members', 'ns_per_member_year'], 50000)
    """
    from vbsim.multiyear import load_scenario
    from vbsim.simulate import simulate

    s = load_scenario(SCENARIO)
    pop, sc = s.population(), s.scenario
    simulate(pop, sc.drivers, years=sc.years, n_scenarios=2, seed=1, progress=False)  # cache
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        simulate(pop, sc.drivers, years=sc.years, n_scenarios=scenarios, seed=sc.seed,
                 progress=False)
        best = min(best, time.perf_counter() - t0)
    ns = best / (pop.members * sc.years * scenarios) * 1e9
    return {"members": pop.members, "years": sc.years, "scenarios": scenarios, "seconds": best,
            "ns_per_member_year": ns,
            "extrapolated_s": ns * 1e-9 * pop.members * sc.years * SCENARIOS}


def command(scenarios: int = SCENARIOS) -> dict[str, Any]:
    """Wall time of the whole ``vbsim run`` command in a fresh process."""
    cmd = [sys.executable, "-m", "vbsim.cli", "run", str(SCENARIO), "--n-scenarios",
           str(scenarios), "--no-progress"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    return {"scenarios": scenarios, "seconds": time.perf_counter() - t0,
            "first_line": out.stdout.splitlines()[0] if out.stdout else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-command", action="store_true")
    a = ap.parse_args()
    import numba

    print(f"{os.cpu_count()} cpus, {numba.get_num_threads()} numba threads, "
          f"load {os.getloadavg()[0]:.1f}")
    e = engine(a.scenarios, a.repeat)
    print(f"engine: {e['ns_per_member_year']:.2f} ns per member-year ({e['scenarios']:,} "
          f"scenarios, {e['seconds']:.2f} s); 5,000 scenarios extrapolated: "
          f"{e['extrapolated_s']:.1f} s against a budget of {BUDGET_S:.1f} s")
    if not a.no_command:
        c = command()
        print(f"whole command, 5,000 scenarios: {c['seconds']:.1f} s")


if __name__ == "__main__":
    main()
