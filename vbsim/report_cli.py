"""``vbsim report scenario.toml --out report.html``: the negotiation report as one HTML file.

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
>>> p = add_parser(sub)
>>> p.parse_args(["s.toml", "--out", "r.html"]).out
'r.html'
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``report`` subcommand.

    >>> sub = argparse.ArgumentParser(prog="vbsim").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["scenarios/default.toml", "--no-panel"])
    >>> args.out, args.no_panel, args.func is main
    ('report.html', True, True)
    """
    p = subparsers.add_parser(
        "report", help="write a self-contained HTML negotiation report",
        description="Simulate a scenario and write one HTML file (tables and embedded figures: "
                    "exceedance, histograms, waterfalls, break-evens, frontier, tornado, panel "
                    "size) that can be sent by e-mail.")
    p.add_argument("scenario", help="scenario TOML file, e.g. scenarios/default.toml")
    p.add_argument("--out", default="report.html", help="HTML file to write (report.html)")
    p.add_argument("--n-scenarios", type=int, default=None, help="override simulation size")
    p.add_argument("--seed", type=int, default=None, help="override the seed")
    p.add_argument("--baseline", default=None, help="offer to compare with (default: first)")
    p.add_argument("--sensitivity-scenarios", type=int, default=None,
                   help="scenarios per re-simulation for tornado and panel curve (default 1000)")
    p.add_argument("--no-sensitivity", action="store_true", help="leave out the tornado")
    p.add_argument("--no-panel", action="store_true", help="leave out the panel-size curve")
    p.add_argument("--per-year", action="store_true",
                   help="for a [multiyear] scenario, report each simulated year settled on the "
                        "engine's benchmark (without it such a file is refused)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Run the scenario, write the report, print where it is.

    Writing a report takes a few seconds, so the call is shown, not run:

    >>> import os, tempfile
    >>> sub = argparse.ArgumentParser(prog="vbsim").add_subparsers(dest="command")
    >>> out = os.path.join(tempfile.mkdtemp(), "r.html")
    >>> args = add_parser(sub).parse_args(["scenarios/default.toml", "--out", out,
    ...                                    "--n-scenarios", "50", "--no-sensitivity", "--no-panel"])
    >>> main(args)  # doctest: +SKIP
    wrote .../r.html (0.2 MB)
    0
    """
    from .report import SENSITIVITY_SCENARIOS, report

    path = report(
        args.scenario, args.out, n_scenarios=args.n_scenarios, seed=args.seed,
        baseline=args.baseline, sensitivity=not args.no_sensitivity, panel=not args.no_panel,
        sensitivity_scenarios=(SENSITIVITY_SCENARIOS if args.sensitivity_scenarios is None
                               else args.sensitivity_scenarios),
        per_year=args.per_year,
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
