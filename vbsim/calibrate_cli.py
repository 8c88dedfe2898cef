"""``vbsim calibrate``: fit the member cost model to a claims extract and print the fit report.

    vbsim calibrate --claims claims.csv [--plot fit.png]
    vbsim calibrate --desynpuf ../shared/data --negatives clip-to-zero --plot fit.png
    vbsim calibrate --aged-defaults            # the DOMAIN.md section 5 targets (no data)

The claims CSV has columns member_id, year, cost (rename with --columns), optionally cohort and
risk_score. Treatments of duplicates and negative totals must be asked for explicitly
(docs/calibration.md).
"""

from __future__ import annotations

import argparse
from typing import Any

from ._validate import VbsimInputError, check_output_path, image_suffixes

__all__ = ["add_parser", "main"]


def _columns(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        if not sep or key.strip() not in ("member_id", "year", "cost", "cohort", "risk_score"):
            raise VbsimInputError(
                "--columns must look like member_id=ID,year=YEAR,cost=PAID (keys member_id, "
                f"year, cost, cohort, risk_score); got {text!r}"
            )
        out[key.strip()] = val.strip()
    return out


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``calibrate`` subcommand on an ``argparse`` subparsers object.

    >>> parser = argparse.ArgumentParser(prog="vbsim")
    >>> p = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["calibrate", "--aged-defaults"])
    >>> args.aged_defaults, args.negatives
    (True, 'error')
    """
    p = subparsers.add_parser(
        "calibrate", help="fit the member cost model to claims data and print the fit report",
        description=__doc__.splitlines()[0],
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--claims", metavar="FILE", help="member-year claims CSV")
    src.add_argument("--desynpuf", metavar="DIR",
                     help="folder with CMS DE-SynPUF beneficiary summary files")
    src.add_argument("--aged-defaults", action="store_true",
                     help="fit the default aged non-dual targets (DOMAIN.md section 5)")
    p.add_argument("--population", choices=["all", "full-year-ffs"], default="all",
                   help="DE-SynPUF members to keep (default all)")
    p.add_argument("--columns", default=None,
                   help="column names, e.g. member_id=ID,year=YR,cost=PAID")
    p.add_argument("--duplicates", choices=["error", "sum"], default="error",
                   help="rows sharing (member_id, year): error (default) or sum")
    p.add_argument("--negatives", choices=["error", "clip-to-zero", "drop"], default="error",
                   help="negative member-year totals: error (default), clip-to-zero or drop")
    p.add_argument("--cohort", default=None, help="fit only this cohort")
    p.add_argument("--risk-adjust", action="store_true",
                   help="divide costs by the risk_score column first")
    p.add_argument("--risk-sd", type=float, default=0.0,
                   help="log-sd of the cohort risk scores the engine will apply (default 0)")
    p.add_argument("--no-cv", action="store_true",
                   help="fit the spending shares only; report the cv")
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="save the concentration curve and persistence, fitted vs target")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Run ``vbsim calibrate`` with parsed ``args``; returns the exit status.

    >>> parser = argparse.ArgumentParser(prog="vbsim")
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> main(parser.parse_args(["calibrate", "--aged-defaults"]))  # doctest: +ELLIPSIS
    cost = Spliced(mean=11000.0, ...)
    rho = 0.7420, risk_sd = 0
    ...
    0
    """
    from .calibrate import AGED_NON_DUAL, clean_claims, from_claims, from_summary, read_desynpuf

    check_output_path("--plot", args.plot, image_suffixes() if args.plot else None)
    table = None
    if args.aged_defaults:
        cal = from_summary(**AGED_NON_DUAL, risk_sd=args.risk_sd)
    else:
        if args.desynpuf:
            source = read_desynpuf(args.desynpuf, population=args.population)
        else:
            source = args.claims
        kw = dict(columns=_columns(args.columns), duplicates=args.duplicates,
                  negatives=args.negatives, cohort=args.cohort, risk_adjust=args.risk_adjust)
        cal = from_claims(source, risk_sd=args.risk_sd, fit_cv=not args.no_cv, **kw)
        if args.plot:
            table = clean_claims(source, **kw)[0]
    print(cal)
    if args.plot:
        from .calibrate.plot import plot_fit

        plot_fit(cal, table=table, path=args.plot)
        print(f"saved {args.plot}")
    return 0
