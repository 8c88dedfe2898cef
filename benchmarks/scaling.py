"""Scaling of the engine: time and peak memory against members, scenarios and years.

Each point runs in a fresh subprocess: import vbsim, load the compiled kernel with a tiny run,
reset the process's peak-RSS mark (``/proc/self/clear_refs``), then time one
:func:`vbsim.simulate` of the engine benchmark's model (``benchmarks/engine.py``: lognormal member
with persistence, risk scores, deaths, churn, one stop-loss threshold) and read the peak RSS of that
run (``VmHWM``). Memory should follow scenarios x years (the outputs), never members x scenarios.

Default grid: one-at-a-time sweeps around a base point (members 1k..1M, scenarios 1k..100k,
years 1..10); ``--quick`` uses smaller bases (a minute or two); ``--full`` runs the whole product
of members {1k, 10k, 100k, 1M} x scenarios {1k, 10k, 100k} x years {1, 2, 5, 10} up to
``--max-member-years`` (points above it are listed as skipped).

Usage::

    .venv/bin/python benchmarks/scaling.py [--quick | --full] [--threads 2] [--png PATH]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PNG = HERE / "scaling.png"
THRESHOLD = 100_000.0  # one stop-loss threshold, as in benchmarks/engine.py

MEMBERS = (1_000, 10_000, 100_000, 1_000_000)
SCENARIOS = (1_000, 10_000, 100_000)
YEARS = (1, 2, 5, 10)


def sweeps(mode: str) -> list[tuple[str, int, int, int]]:
    """(sweep, members, scenarios, years) points of the one-at-a-time grid for ``mode``."""
    if mode == "quick":  # about 2e8 member-years in all
        m_base, s_base, y_base = (20, 5), (100, 5), (10_000, 100)
    else:  # about 2e9 member-years in all
        m_base, s_base, y_base = (200, 5), (1_000, 5), (10_000, 1_000)
    pts = [("members", m, m_base[0], m_base[1]) for m in MEMBERS]
    pts += [("scenarios", s_base[0], s, s_base[1]) for s in SCENARIOS]
    pts += [("years", y_base[0], y_base[1], y) for y in YEARS]
    return pts


def full_grid() -> list[tuple[str, int, int, int]]:
    """The whole product grid."""
    return [("grid", m, s, y) for m, s, y in itertools.product(MEMBERS, SCENARIOS, YEARS)]


def _vm() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


def point(members: int, scenarios: int, years: int, threads: int | None = None) -> dict:
    """Time one simulate() in this process; peak RSS of that run alone (MiB)."""
    import numba

    sys.path.insert(0, str(HERE))
    from engine import _population  # the engine benchmark's model (benchmarks/engine.py)

    from vbsim.simulate import N_STATS, simulate

    if threads:
        numba.set_num_threads(threads)
    pop = _population(members, "lognormal")
    simulate(_population(64, "lognormal"), n_scenarios=2, years=years, seed=0,
             thresholds=[THRESHOLD], progress=False)  # load the compiled kernel
    reset = True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak-RSS mark (Linux)
    except OSError:
        reset = False
    before = _vm()
    t0 = time.perf_counter()
    paths = simulate(pop, n_scenarios=scenarios, years=years, seed=1, thresholds=[THRESHOLD],
                     progress=False)
    dt = time.perf_counter() - t0
    after = _vm()
    del paths
    work = members * scenarios * years
    return {
        "members": members, "scenarios": scenarios, "years": years,
        "threads": numba.get_num_threads(), "seconds": dt, "ns": dt / work * 1e9,
        "rss_before_mb": before.get("VmRSS", float("nan")),
        "peak_mb": after.get("VmHWM", float("nan")),
        "peak_is_run_only": reset,
        # the engine's output arrays: stats + excess (scenario x year x cohort x columns)
        "outputs_mb": scenarios * years * (N_STATS + 1) * 8 / 2**20,
    }


def run_point(members: int, scenarios: int, years: int, threads: int | None,
              timeout: float | None = None) -> dict:
    """``point`` in a fresh subprocess; ``{"error": ...}`` on failure. Default timeout: 20
    minutes or 200 ns per member-year, whichever is longer."""
    if timeout is None:
        timeout = max(1200.0, members * scenarios * years * 200e-9)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--point", str(members),
           str(scenarios), str(years)] + (["--threads", str(threads)] if threads else [])
    base = {"members": members, "scenarios": scenarios, "years": years}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, PYTHONWARNINGS="ignore"))
    except subprocess.TimeoutExpired:
        return dict(base, error=f"timed out after {timeout:.0f} s")
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        err = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return dict(base, error=f"exit {r.returncode}: {err[:200]}")
    return json.loads(lines[-1])


def run(mode: str = "default", threads: int | None = None, max_member_years: float = 2e10,
        log=print) -> list[dict]:
    """Run the grid of ``mode`` ("quick", "default", "full"); one dict per point."""
    pts = full_grid() if mode == "full" else sweeps(mode)
    rows = []
    for sweep, m, s, y in pts:
        if m * s * y > max_member_years:
            rows.append({"sweep": sweep, "members": m, "scenarios": s, "years": y,
                         "error": f"skipped (> {max_member_years:.0e} member-years)"})
            continue
        r = run_point(m, s, y, threads)
        r["sweep"] = sweep
        rows.append(r)
        if "error" in r:
            log(f"  {sweep:9s} {m:>9,} x {s:>7,} x {y:>2}: {r['error']}", flush=True)
        else:
            log(f"  {sweep:9s} {m:>9,} x {s:>7,} x {y:>2}: {r['seconds']:8.2f} s "
                f"{r['ns']:8.2f} ns/member-year, RSS growth {growth(r):6.1f} MiB", flush=True)
    return rows


def growth(r: dict) -> float:
    """Peak RSS of the run above the RSS before it (MiB)."""
    return r["peak_mb"] - r["rss_before_mb"]


def table(rows: list[dict]) -> str:
    """Markdown table of the points."""
    out = ["| sweep | members | scenarios | years | member-years | seconds | ns/member-year "
           "| RSS before MiB | peak RSS of the run MiB | growth MiB | engine outputs MiB |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lead = (f"| {r.get('sweep', '')} | {r['members']:,} | {r['scenarios']:,} | {r['years']} "
                f"| {r['members'] * r['scenarios'] * r['years']:.1e} ")
        if "error" in r:
            out.append(lead + f"| {r['error']} | | | | | |")
        else:
            out.append(lead + f"| {r['seconds']:.2f} | {r['ns']:.2f} | {r['rss_before_mb']:.0f} "
                              f"| {r['peak_mb']:.1f} | {growth(r):.1f} | {r['outputs_mb']:.1f} |")
    return "\n".join(out)


def plot(rows: list[dict], path: Path = PNG, title: str = "") -> Path:
    """2x2 PNG: ns/member-year against members, scenarios and years; peak RSS against work."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if "error" not in r]
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5), dpi=80)
    for ax, dim in zip(axes.flat[:3], ("members", "scenarios", "years"), strict=True):
        pts = sorted((r for r in ok if r.get("sweep") in (dim, "grid")), key=lambda r: r[dim])
        if any(r.get("sweep") == "grid" for r in pts):  # full grid: one line per other dims
            others = [d for d in ("members", "scenarios", "years") if d != dim]
            keys = sorted({tuple(r[o] for o in others) for r in pts})
            for k in keys:
                line = [r for r in pts if tuple(r[o] for o in others) == k]
                ax.plot([r[dim] for r in line], [r["ns"] for r in line], "o-", ms=3, lw=0.8)
        elif pts:
            fixed = ", ".join(f"{d} {pts[0][d]:,}" for d in ("members", "scenarios", "years")
                              if d != dim)
            ax.plot([r[dim] for r in pts], [r["ns"] for r in pts], "o-", label=fixed)
            ax.legend(fontsize=8)
        ax.set_xscale("log" if dim != "years" else "linear")
        ax.set_xlabel(dim)
        ax.set_ylabel("ns per member-year")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    ax = axes.flat[3]
    for sweep in dict.fromkeys(r.get("sweep") for r in ok):
        pts = sorted((r for r in ok if r.get("sweep") == sweep),
                     key=lambda r: r["members"] * r["scenarios"])
        ax.plot([r["members"] * r["scenarios"] for r in pts],
                [max(growth(r), 0.05) for r in pts], "o" if sweep == "grid" else "o-", ms=4,
                lw=0.8, label=f"{sweep} sweep" if sweep != "grid" else "grid points")
    if ok:
        xs = sorted({r["members"] * r["scenarios"] for r in ok})
        ax.plot(xs, [x * 8 / 2**20 for x in xs], "k--", lw=0.8,
                label="one float per member-scenario")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("members x scenarios")
    ax.set_ylabel("peak RSS growth during the run, MiB")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle(title or "vbsim engine scaling", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="small bases (a minute or two)")
    g.add_argument("--full", action="store_true", help="the whole product grid")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    ap.add_argument("--max-member-years", type=float, default=2e10)
    ap.add_argument("--png", type=Path, default=PNG)
    ap.add_argument("--point", type=int, nargs=3, metavar=("MEMBERS", "SCENARIOS", "YEARS"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.point:
        print(json.dumps(point(*a.point, threads=a.threads)))
        return
    mode = "quick" if a.quick else "full" if a.full else "default"
    rows = run(mode, a.threads, a.max_member_years)
    print(table(rows))
    print(f"figure: {plot(rows, a.png)}")


if __name__ == "__main__":
    main()
