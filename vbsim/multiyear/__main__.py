"""``python -m vbsim.multiyear SCENARIO.toml``: simulate once, compare the multi-year strategies.

Prints, per strategy, the 10-year NPV (mean, 5/50/95% quantiles, TVaR95 of the loss),
P(NPV < 0), P(guarantee breach), each with its Monte Carlo standard error, and the distribution of
the first breach year. ``--out FILE.nc`` saves the comparison Dataset.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vbsim._validate import VbsimInputError, check_output_path, image_suffixes


def _table(summary) -> str:  # type: ignore[no-untyped-def]
    from vbsim.metrics import format_pm

    cols = [("NPV mean $M", "npv_mean", 1e6), ("NPV 5% $M", "npv_q05", 1e6),
            ("NPV median $M", "npv_q50", 1e6), ("NPV 95% $M", "npv_q95", 1e6),
            ("TVaR95 loss $M", "npv_tvar95", 1e6), ("P(NPV<0)", "p_npv_negative", 1.0),
            ("P(breach)", "p_breach", 1.0)]
    rows = [["strategy"] + [c[0] for c in cols]]
    for name, r in summary.iterrows():
        cells = [str(name)]
        for _, key, scale in cols:
            cells.append(format_pm(r[key] / scale, r[key + "_se"] / scale))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in rows)


def save_plot(cmp, path: str, *, title: str = "") -> None:  # type: ignore[no-untyped-def]
    """Fan charts of cumulative net cash by cash year, one panel per strategy, and the NPVs.

    A strategy team's one picture: where cumulative cash can go each year (median, 50% and
    90% bands) and the spread of the 10-year NPV.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plot import fan_chart, npv_distribution

    names = [str(n) for n in cmp["contract"].values]
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(4.2 * (len(names) + 1), 4.0),
                             layout="constrained")
    lo = float(cmp["cumulative"].quantile(0.02)) / 1e6
    hi = float(cmp["cumulative"].quantile(0.98)) / 1e6
    for i, (ax, name) in enumerate(zip(axes[:-1], names, strict=True)):
        fan_chart(cmp["cumulative"].sel(contract=name), dim="cash_year", ax=ax, scale=1e6,
                  color=f"C{i}", label=name, ylabel="cumulative net cash ($M)")
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_ylim(lo, hi)
        ax.set_title(name)
        ax.set_xlabel("cash year")
    npv_distribution(cmp, ax=axes[-1])
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    from . import first_breach_distribution, load_scenario, summarize

    ap = argparse.ArgumentParser(prog="python -m vbsim.multiyear", description=__doc__)
    ap.add_argument("scenario", help="scenario TOML file (base years + performance years)")
    ap.add_argument("--n-scenarios", type=int, default=None)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=None, help="save the comparison as NetCDF")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--plot", default=None, metavar="PNG",
                    help="save fan charts of cumulative cash by strategy and the NPV histograms")
    from vbsim.cli import add_block_arguments

    add_block_arguments(ap)
    a = ap.parse_args(argv)
    try:
        check_output_path("--out", a.out)  # before the run, not after it
        check_output_path("--plot", a.plot, image_suffixes() if a.plot else None)
        s = load_scenario(a.scenario)
        _, cmp = s.run(n_scenarios=a.n_scenarios, seed=a.seed,
                       progress=False if a.no_progress else None, cluster=a.scheduler,
                       checkpoint=a.checkpoint, block_scenarios=a.block_scenarios)
    except VbsimInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sc = s.scenario
    print(f"{sc.name}: {sc.population.members:,} members, {cmp.sizes['scenario']:,} scenarios, "
          f"{s.base_years} base + {s.performance_years} performance years")
    print(_table(summarize(cmp)))
    print("\nfirst breach of the guarantee, share of scenarios by cash year (0 = never):")
    for name in cmp["contract"].values:
        d = first_breach_distribution(cmp.sel(contract=name))["share"].values
        print(f"  {name}: " + " ".join(f"{x:.3f}" for x in d))
    if a.plot:
        save_plot(cmp, a.plot, title=sc.name)
        print(f"saved {a.plot}")
    if a.out:
        out = cmp.copy()
        for k, v in out.data_vars.items():
            if v.dtype.kind == "b":
                out[k] = v.astype("i1")
        out.to_netcdf(a.out)
        print(f"saved {a.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
