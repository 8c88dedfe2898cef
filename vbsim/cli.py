"""The ``vbsim`` command line: ``run``, ``multiyear``, ``settle``, ``calibrate``, ``report``.

>>> main(["--version"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from ._validate import VbsimInputError, check_output_path, image_suffixes

# Subcommands that live in their own modules, each with add_parser(subparsers) and main(args).
_PLUGINS = ("settle_cli", "calibrate_cli", "report_cli")


def _multiyear_main(args: argparse.Namespace) -> int:
    from .multiyear.__main__ import main as my_main

    argv = [args.scenario]
    for flag, val in (("--n-scenarios", args.n_scenarios), ("--seed", args.seed),
                      ("--out", args.out), ("--plot", getattr(args, "plot", None)),
                      ("--scheduler", getattr(args, "scheduler", None)),
                      ("--checkpoint", getattr(args, "checkpoint", None)),
                      ("--block-scenarios", getattr(args, "block_scenarios", None))):
        if val is not None:
            argv += [flag, str(val)]
    if args.no_progress:
        argv.append("--no-progress")
    return my_main(argv)


def _run_main(args: argparse.Namespace) -> int:
    from .run import run
    from .scenario import has_multiyear

    if has_multiyear(args.scenario) and not getattr(args, "per_year", False):
        return _multiyear_main(args)
    check_output_path("--out", args.out)  # before the run, not after it
    check_output_path("--plot", args.plot, image_suffixes() if args.plot else None)
    cluster = args.scheduler
    res = run(args.scenario, n_scenarios=args.n_scenarios, seed=args.seed,
              progress=False if args.no_progress else None, cluster=cluster,
              checkpoint=args.checkpoint, block_scenarios=args.block_scenarios)
    sc = res.scenario
    print(f"{sc.name}: {sc.population.members:,} members, {sc.n_scenarios:,} scenarios x "
          f"{sc.years} year(s), seed {sc.seed}")
    print(res.table(by_year=False))
    print("E[payment]: expected amount the provider receives (negative: it pays). VaR/TVaR: "
          "losses at 95/99% (positive: a loss), summed over years. ± is the Monte Carlo "
          "standard error (n/a: too few scenarios in that tail to estimate one).")
    if args.plot:
        _save_plot(res, args.plot)
        print(f"saved {args.plot}")
    if args.out:
        res.to_netcdf(args.out)
        print(f"saved {args.out}")
    return 0


def add_block_arguments(p: argparse.ArgumentParser) -> None:
    """``--scheduler``, ``--checkpoint`` and ``--block-scenarios`` (scenario blocks on Dask and
    resumable runs), shared by ``vbsim run`` and ``python -m vbsim.multiyear``.

    >>> p = argparse.ArgumentParser()
    >>> add_block_arguments(p)
    >>> p.parse_args(["--checkpoint", "runs/x"]).block_scenarios
    1000
    """
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run scenario blocks on Dask: 'local' for a LocalCluster, or a "
                        "scheduler address such as tcp://host:8786")
    p.add_argument("--checkpoint", default=None, metavar="DIR",
                   help="save finished scenario blocks in DIR; a rerun resumes from them")
    p.add_argument("--block-scenarios", type=int, default=1000,
                   help="scenarios per block with --scheduler/--checkpoint (default 1000)")


def _save_plot(res: object, path: str) -> None:
    """Two panels a negotiator can paste into an e-mail: distributions and loss tails."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from . import plot

    fig = Figure(figsize=(12, 4.2), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    plot.histogram(res, ax=a1)
    plot.exceedance(res, ax=a2)
    fig.suptitle(getattr(getattr(res, "scenario", None), "name", ""))
    fig.savefig(path, dpi=110)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered.

    >>> args = build_parser().parse_args(["settle", "--contract", "mssp:E:0.02",
    ...                                   "--benchmark", "100e6", "--expenditure", "97e6"])
    >>> args.command, args.contract
    ('settle', ['mssp:E:0.02'])
    """
    p = argparse.ArgumentParser(prog="vbsim", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"vbsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="simulate a scenario and compare its contracts")
    r.add_argument("scenario", help="scenario TOML file, e.g. scenarios/default.toml")
    r.add_argument("--n-scenarios", type=int, default=None, help="override simulation size")
    r.add_argument("--seed", type=int, default=None, help="override the seed")
    r.add_argument("--out", default=None, help="save the full result as NetCDF (result.nc)")
    r.add_argument("--plot", default=None, metavar="PNG",
                   help="save histograms and loss-exceedance curves of every contract")
    r.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    add_block_arguments(r)
    r.add_argument("--per-year", action="store_true",
                   help="for a [multiyear] scenario, settle each simulated year on the engine's "
                        "benchmark instead of the multi-year benchmark rules")
    r.set_defaults(func=_run_main)
    m = sub.add_parser("multiyear", help="compare multi-year strategies (NPV, fan charts, "
                                         "guarantee breaches) of a scenario file")
    m.add_argument("scenario", help="scenario TOML file, e.g. scenarios/lead_10yr.toml")
    m.add_argument("--n-scenarios", type=int, default=None)
    m.add_argument("--seed", type=int, default=None)
    m.add_argument("--out", default=None, help="save the comparison as NetCDF")
    m.add_argument("--plot", default=None, metavar="PNG",
                   help="save fan charts of cumulative cash and the NPV distributions")
    m.add_argument("--no-progress", action="store_true")
    m.set_defaults(func=_multiyear_main)
    for name in _PLUGINS:
        try:
            mod = importlib.import_module(f"vbsim.{name}")
        except ImportError:
            continue
        mod.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vbsim`` command; returns the exit status.

    >>> main(["settle", "--contract", "mssp:E:0.02", "--benchmark", "100e6",
    ...       "--expenditure", "97e6"])  # doctest: +NORMALIZE_WHITESPACE
    row  contract      benchmark    expenditure  rate   gate  cap  payment    provider   payer
    1    MSSP BASIC E  100,000,000  97,000,000   3.00%  yes   no   1,470,000  1,470,000  1,530,000
    0
    >>> main(["settle", "--contract", "mssp:E:2", "--benchmark", "1", "--expenditure", "1"])
    2
    """
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", None)
    try:
        if func is not None:
            return int(func(args) or 0)
        return int(importlib.import_module(f"vbsim.{args.command}_cli").main(args) or 0)
    except VbsimInputError as exc:
        print(f"vbsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
