"""All of vbsim's benchmarks in one command, with a summary of the targets of issue 7.

Sections:

1. machine: CPU model, cores, memory, load, library versions, numba threads;
2. engine: ns per member-year on 1 and 2 threads and for the plain-numpy reference
   (``benchmarks/engine.py``'s model and timing functions);
3. peers: one compound Poisson problem in vbsim (Monte Carlo and FFT), gemact (Monte Carlo and
   FFT) and aggregate (FFT), answers, seconds and peak memory side by side
   (``benchmarks/peers.py``; the peers run in ``benchmarks/.peers-venv``, made by
   ``bash benchmarks/setup_peers.sh``);
4. scaling and peak memory against members, scenarios and years (``benchmarks/scaling.py``,
   figure ``benchmarks/scaling.png``);
5. settlement: 20 contracts on 100,000 scenarios x 10 years, summaries, a break-even solve
   (``benchmarks/settle.py``);
6. LEAD (issue 5): the 10-year strategy's engine on its 50,000-member population and the whole
   5,000-scenario command in a fresh process (``benchmarks/lead.py``);
7. summary: each target, measured value, met or not.

The report is printed and written to ``benchmarks/RESULTS.md`` (``--results``; ``--no-write`` to
skip). Usage::

    .venv/bin/python benchmarks/run_all.py --quick     # about 3 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py             # default sizes
    .venv/bin/python benchmarks/run_all.py --full      # the big scaling grid (hours)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine as bench_engine  # noqa: E402  (benchmarks/engine.py: model and timing)
import lead  # noqa: E402
import peers  # noqa: E402
import scaling  # noqa: E402
import settle  # noqa: E402

TARGET_NS = 5.0  # issue 7: <= 5 ns per member-year end to end on the 2-core machine
TARGET_SPEEDUP = 10.0  # issue 7: >= 10x the numpy reference
MEMORY_SHARE = 0.05  # "memory does not grow with members x scenarios": growth < 5% of that store

SIZES = {  # engine section: members, scenarios, years, numpy scenarios, repeat
    "quick": (20_000, 100, 5, 4, 2),
    "default": (20_000, 400, 5, 10, 3),
    "full": (100_000, 1_000, 10, 10, 3),
}
PEER_SIMS = {"quick": 10_000, "default": 20_000, "full": 100_000}
LEAD_SIZES = {"quick": (200, 2, False), "default": (600, 3, True), "full": (2_000, 3, True)}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def machine() -> dict[str, Any]:
    """Description of this machine and software."""
    import numba
    import numpy
    import scipy
    import xarray

    import vbsim

    try:
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain",
                                "vbsim"], capture_output=True, text=True, timeout=10).stdout
        commit += " (vbsim/ has uncommitted changes)" if dirty.strip() else ""
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(), "cpus": os.cpu_count(), "cpus_usable": affinity,
        "memory_gib": round(_mem_gib(), 1), "load_average": os.getloadavg(),
        "python": platform.python_version(), "numpy": numpy.__version__,
        "numba": numba.__version__, "scipy": scipy.__version__, "xarray": xarray.__version__,
        "vbsim": vbsim.__version__, "commit": commit,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "threading_layer": numba.config.THREADING_LAYER,
    }


def numpy_vectorised(members: int, scenarios: int, years: int, seed: int = 1,
                     chunk: int = 2**19) -> float:
    """ns per member-year of a straightforward numpy version of the engine benchmark's model.

    Not the engine's specification (``vbsim.engine.reference`` replays the engine's
    counter-based random streams member block by member block, so that the two agree to
    rounding): this one draws with ``numpy.random.Generator`` and vectorises over
    (scenarios x members) chunks of about ``chunk`` member slots, the way one would write the
    model in numpy from scratch. Same cohort defaults (lognormal risk scores, AR(1) rank
    persistence, deaths with an end-of-life uplift, churn, replacement), trend index, one
    threshold and the same reductions. A second, faster numpy baseline for the speed-up.
    """
    from vbsim.drivers import Drivers, driver_paths

    cohort = bench_engine._population(members, "lognormal").cohorts[0]
    mu, sig = cohort.cost.mu, cohort.cost.sigma
    rs, rho, mort = cohort.risk_sd, cohort.persistence, cohort.mortality
    churn, uplift, repl = cohort.churn, cohort.eol_uplift, cohort.replacement
    sq = np.sqrt(1 - rho * rho)
    thr = scaling.THRESHOLD
    rng = np.random.default_rng(seed)
    trend = driver_paths(Drivers(), scenarios, years, seed).trend_index
    out = np.zeros((scenarios, years, 8))
    per = max(1, chunk // members)
    t0 = time.perf_counter()
    for s0 in range(0, scenarios, per):
        n = min(per, scenarios - s0)
        shape = (n, members)
        z = rng.standard_normal(shape)
        r = np.exp(rs * rng.standard_normal(shape) - 0.5 * rs * rs)
        occ = np.ones(shape, dtype=bool)
        for t in range(years):
            if t > 0:
                fresh = ~occ & (rng.random(shape) < repl)
                e = rng.standard_normal(shape)
                z = np.where(fresh, e, rho * z + sq * e)
                r = np.where(fresh, np.exp(rs * rng.standard_normal(shape) - 0.5 * rs * rs), r)
                occ |= fresh
                out[s0:s0 + n, t, 5] = fresh.sum(axis=1)
            x = np.exp(mu + sig * z) * r * trend[s0:s0 + n, t, None]
            m = np.minimum(mort * r, 1 - churn)
            u = rng.random(shape)
            dead = occ & (u < m)
            leave = occ & ~dead & (u < m + churn)
            f = np.where(dead, u / m, np.where(leave, (u - m) / churn, 1.0)) * occ
            x = np.where(dead, x * uplift, x * f)
            mm = 12.0 * f
            out[s0:s0 + n, t, 0] = mm.sum(axis=1)
            out[s0:s0 + n, t, 1] = x.sum(axis=1)
            out[s0:s0 + n, t, 2] = (r * mm).sum(axis=1)
            out[s0:s0 + n, t, 3] = dead.sum(axis=1)
            out[s0:s0 + n, t, 4] = occ.sum(axis=1)
            out[s0:s0 + n, t, 6] = leave.sum(axis=1)
            out[s0:s0 + n, t, 7] = np.maximum(x - thr, 0.0).sum(axis=1)
            occ &= ~(dead | leave)
    return (time.perf_counter() - t0) / (members * scenarios * years) * 1e9


def engine_section(mode: str, log=print) -> dict[str, Any]:
    """ns per member-year: numba on 1 and all threads, numpy reference."""
    import numba

    from vbsim.simulate import simulate

    members, scen, years, np_scen, repeat = SIZES[mode]
    pop = bench_engine._population(members, "lognormal")
    simulate(pop, n_scenarios=2, years=years, seed=0, progress=False)  # compile / load cache
    c = pop.cohorts[0]
    res: dict[str, Any] = {"members": members, "scenarios": scen, "years": years,
                           "numpy_scenarios": np_scen, "repeat": repeat,
                           "cohort": {"persistence": c.persistence, "risk_sd": c.risk_sd,
                                      "mortality": c.mortality, "churn": c.churn}}
    threads_all = numba.config.NUMBA_NUM_THREADS
    for threads in sorted({1, 2, threads_all} & set(range(1, threads_all + 1))):
        numba.set_num_threads(threads)
        ns = bench_engine._time_simulate(pop, scen, years, "numba", repeat)
        res[f"numba_{threads}t"] = ns
        log(f"  numba engine, {threads} thread(s): {ns:8.2f} ns per member-year", flush=True)
    numba.set_num_threads(threads_all)
    ns = bench_engine._time_simulate(pop, np_scen, years, "numpy", max(1, repeat - 1))
    res["numpy"] = ns
    res["best_numba"] = min(v for k, v in res.items() if k.startswith("numba_"))
    res["speedup"] = ns / res["best_numba"]
    log(f"  numpy reference, 1 thread: {ns:8.2f} ns per member-year; speed-up of the best "
        f"numba run: {res['speedup']:.1f}x", flush=True)
    res["numpy_vectorised"] = min(numpy_vectorised(members, np_scen * 4, years, seed=i)
                                  for i in range(max(1, repeat - 1)))
    log(f"  numpy from scratch (np.random, vectorised), 1 thread: "
        f"{res['numpy_vectorised']:8.2f} ns per member-year", flush=True)
    return res


def _engine_table(e: dict[str, Any]) -> str:
    out = [f"{e['members']:,} members x {e['scenarios']:,} scenarios x {e['years']} years "
           f"(numpy: {e['numpy_scenarios']:,} scenarios), best of {e['repeat']}", "",
           "| implementation | ns per member-year | vs numpy |", "|---|---:|---:|"]
    for k in sorted(k for k in e if k.startswith("numba_")):
        out.append(f"| vbsim engine (numba), {k.split('_')[1][:-1]} thread(s) | {e[k]:.2f} "
                   f"| {e['numpy'] / e[k]:.1f}x |")
    out.append(f"| plain-numpy reference (`backend=\"numpy\"`, the engine's streams), 1 thread "
               f"| {e['numpy']:.2f} | 1.0x |")
    if "numpy_vectorised" in e:
        nv = e["numpy_vectorised"]
        out.append(f"| numpy from scratch (`numpy.random`, vectorised over scenarios x members; "
                   f"{e['numpy_scenarios'] * 4:,} scenarios), 1 thread | {nv:.2f} "
                   f"| {e['numpy'] / nv:.1f}x |")
        out += ["", f"Best engine run against the from-scratch numpy version: "
                    f"{nv / e['best_numba']:.1f}x."]
    return "\n".join(out)


def _memory_check(rows: list[dict]) -> dict[str, Any]:
    """Peak-RSS growth across members at fixed scenarios x years, against what one float per
    member-scenario would take; and the largest growth against the engine's output arrays."""
    ok = [r for r in rows if "error" not in r]
    groups: dict[tuple[int, int], list[dict]] = {}
    for r in ok:
        groups.setdefault((r["scenarios"], r["years"]), []).append(r)
    best = None
    for grp in groups.values():
        if len({r["members"] for r in grp}) < 2:
            continue
        lo = min(grp, key=lambda r: r["members"])
        hi = max(grp, key=lambda r: r["members"])
        naive = hi["members"] * hi["scenarios"] * 8 / 2**20  # one float64 per member-scenario
        if best is None or naive > best["naive_mb"]:
            best = {"lo": lo, "at": hi, "naive_mb": naive,
                    "spread_mb": scaling.growth(hi) - scaling.growth(lo)}
    if best is None:
        return {}
    best["met"] = best["spread_mb"] < MEMORY_SHARE * best["naive_mb"]
    top = max(ok, key=scaling.growth)
    best["max_growth"] = top
    return best


def summary_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(target, measured, threshold, met) rows."""
    rows = []
    e = res.get("engine")
    if e:
        two = e.get("numba_2t", e["best_numba"])
        rows.append(("engine end to end, 2 threads (lognormal, persistence, risk, deaths, churn, "
                     "1 threshold)", f"{two:.2f} ns/member-year", f"<= {TARGET_NS:g}",
                     "met" if two <= TARGET_NS else "NOT met"))
        rows.append(("engine vs plain-numpy reference", f"{e['speedup']:.1f}x",
                     f">= {TARGET_SPEEDUP:g}x",
                     "met" if e["speedup"] >= TARGET_SPEEDUP else "NOT met"))
        if "numpy_vectorised" in e:
            rows.append(("engine vs numpy written from scratch (np.random, vectorised)",
                         f"{e['numpy_vectorised'] / e['best_numba']:.1f}x", "(no target)",
                         "info"))
    s = res.get("settle")
    if s:
        rows.append((f"{s['contracts']} contracts settled on {s['scenarios']:,} scenarios x "
                     f"{s['years']} years", f"{s['evaluate_s']:.2f} s",
                     f"< {settle.TARGET_SETTLE_S:g} s",
                     "met" if s["evaluate_s"] < settle.TARGET_SETTLE_S else "NOT met"))
        rows.append(("break-even solve (same paths, end to end)", f"{s['breakeven_s']:.2f} s",
                     f"< {settle.TARGET_BREAKEVEN_S:g} s",
                     "met" if s["breakeven_s"] < settle.TARGET_BREAKEVEN_S else "NOT met"))
    ld = res.get("lead")
    if ld:
        e = ld["engine"]
        rows.append(("LEAD engine (issue 5: 5 Spliced cohorts, 13 simulated years), 2 threads",
                     f"{e['ns_per_member_year']:.2f} ns/member-year",
                     f"<= {lead.BUDGET_NS:g} (issue 3's budget)",
                     "met" if e["ns_per_member_year"] <= lead.BUDGET_NS else "NOT met"))
        c = ld.get("command")
        if c:
            rows.append(("LEAD command, 50,000 members x 13 years x 5,000 scenarios (fresh "
                         "process, all included)", f"{c['seconds']:.1f} s",
                         f"<= {lead.BUDGET_S:.1f} s (10 ns x member-years)",
                         "met" if c["seconds"] <= lead.BUDGET_S else "NOT met"))
    m = res.get("memory")
    if m:
        lo, at = m["lo"], m["at"]
        rows.append((f"memory does not grow with members (members {lo['members']:,} -> "
                     f"{at['members']:,} at {at['scenarios']:,} scenarios x {at['years']} years)",
                     f"peak RSS growth changes by {m['spread_mb']:+.1f} MiB",
                     f"< {MEMORY_SHARE:.0%} of {m['naive_mb']:,.0f} MiB (1 float/member-scenario)",
                     "met" if m["met"] else "NOT met"))
    p = res.get("peers")
    if p:
        by = {r["tool"]: r for r in p if "error" not in r}
        fft = by.get("vbsim-fft")
        mcs = [r for r in by.values() if "se" in r]
        if fft and mcs:
            zs = {r["tool"]: max(abs(r[k] - fft[k]) / r["se"][k] for k in r["se"]) for r in mcs}
            rows.append(("Monte Carlo answers agree with vbsim's FFT (mean, quantiles, "
                         "stop-loss)", "; ".join(f"{t}: max abs z {z:.1f}" for t, z in zs.items()),
                         "<= 4 SE", "met" if max(zs.values()) <= 4 else "NOT met"))
        agree = peers.fft_agreement(p)
        if agree is not None:
            rows.append(("FFT tools agree (vbsim.exact, gemact FFT, aggregate: sd, quantiles, "
                         "stop-loss)", f"max relative difference {agree:.1e}", "(no target)",
                         "info"))
        failed = [r["tool"] for r in p if "error" in r]
        rows.append(("peers ran (gemact, aggregate)", ", ".join(failed) + " failed" if failed
                     else "all ran", "", "met" if not failed else "NOT met"))
    return rows


def _summary_table(rows) -> str:
    out = ["| target | measured | threshold | result |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | **{d}** |" for a, b, c, d in rows]
    return "\n".join(out)


def report(res: dict[str, Any], mode: str, png: Path | None) -> str:
    """RESULTS.md text."""
    m = res["machine"]
    la = ", ".join(f"{v:.1f}" for v in m["load_average"])
    la_end = ", ".join(f"{v:.1f}" for v in res.get("load_end", m["load_average"]))
    lines = [
        "# vbsim benchmark results",
        "",
        f"Generated by `{res['command']}` on {m['date_utc']} in {res['seconds']:.0f} s.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cpus']} logical CPUs ({m['cpus_usable']} usable), "
        f"{m['memory_gib']} GiB memory",
        f"- load average at start: {la}; at the end: {la_end}; 1-minute load at the start of "
        "each section: " + ", ".join(f"{k} {v:.1f}" for k, v in res.get("section_load",
                                                                       {}).items()),
        f"- Python {m['python']}, numpy {m['numpy']}, numba {m['numba']} "
        f"({m['numba_threads']} threads, threading layer {m['threading_layer']}), "
        f"scipy {m['scipy']}, xarray {m['xarray']}; vbsim {m['vbsim']} at {m['commit']}",
        "",
        "**Noise.** " + res["noise_note"],
        "",
        "## Summary of the targets (issues 5 and 7)",
        "",
        _summary_table(summary_rows(res)),
    ]
    if "engine" in res:
        c = res["engine"].get("cohort", {})
        lines += ["", "## Engine: ns per member-year", "",
                  "Model of `benchmarks/engine.py`: lognormal member (mean 11,000, cv 2) with "
                  f"AR(1) rank persistence {c.get('persistence', '?')}, lognormal risk scores "
                  f"(log-sd {c.get('risk_sd', '?')}), deaths ({c.get('mortality', '?')} a year "
                  f"at risk 1), churn ({c.get('churn', '?')}) and replacement, default drivers, "
                  "one stop-loss threshold; wall-clock time of `vbsim.simulate` (sampling, "
                  "thresholds, reductions, the xarray result).", "",
                  _engine_table(res["engine"])]
    if "peers" in res:
        p = peers.PROBLEM
        lines += ["", "## Peers: one compound Poisson problem", "",
                  f"A panel of {p['members']:,} members, each with Poisson({p['rate']}) claims a "
                  f"year, lognormal claims (mean {p['sev_mean']:,.0f}, cv {p['sev_cv']}). The "
                  f"panel total S is compound Poisson with {p['members'] * p['rate']:,.0f} "
                  "expected claims: gemact and aggregate model S directly with one claim count; "
                  "vbsim's engine simulates the members one by one (the sum of independent "
                  "compound Poisson members is compound Poisson with the summed rate, so the "
                  "problems are the same) and vbsim.exact builds it by FFT from the member model. "
                  f"a = {p['attach_factor']:.0%} of the exact mean. Monte Carlo answers carry "
                  "± one standard error. Seconds exclude imports and a small warm-up call; peak "
                  "RSS is the whole subprocess (imports included).", "",
                  peers.table(res["peers"])]
    if "scaling" in res:
        mem = res.get("memory", {})
        lines += ["", "## Scaling and peak memory", "",
                  "Each point in a fresh process; peak RSS of the run alone (the peak mark is "
                  "reset after imports and a warm-up run), next to the RSS before it and the size "
                  "of the engine's output arrays (scenarios x years x (7 statistics + 1 "
                  "threshold) floats). Small runs carry fixed overheads (thread pool, xarray "
                  "result), so their ns per member-year is higher.", "",
                  scaling.table(res["scaling"])]
        if png is not None:
            lines += ["", f"![scaling]({png.name})"]
        if mem:
            top = mem["max_growth"]
            lines += ["", f"From {mem['lo']['members']:,} to {mem['at']['members']:,} members (at "
                          f"{mem['at']['scenarios']:,} scenarios x {mem['at']['years']} years) the "
                          f"run's peak RSS growth changes by {mem['spread_mb']:+.1f} MiB, where "
                          f"one float per member-scenario would take {mem['naive_mb']:,.0f} MiB. "
                          f"The largest growth, {scaling.growth(top):.1f} MiB at "
                          f"{top['scenarios']:,} scenarios x {top['years']} years, is "
                          f"{scaling.growth(top) / max(top['outputs_mb'], 1e-9):.1f} x the "
                          f"engine's output arrays ({top['outputs_mb']:.1f} MiB): memory follows "
                          "scenarios x years (the outputs and their xarray copy), not members."]
    if "settle" in res:
        s = res["settle"]
        how = ("resampled by whole scenario from 1,000 simulated scenarios of a 6,000-member ACO"
               if s["resampled"] else "simulated (6,000 members)")
        lines += ["", "## Settlement, summaries and break-even", "",
                  f"Paths {how}; 20 presets (MSSP A-E and ENHANCED with several MSRs, MSSP 2018 "
                  "tracks, REACH Global/Professional by year and one with an individual "
                  "stop-loss, LEAD Global/Professional). Break-even: the ENHANCED sharing rate "
                  "whose expected provider payment equals level E's (both MSR 0) = "
                  f"{s['breakeven_value']:.4f} ± {s['breakeven_se']:.4f}.", "",
                  settle.table(s)]
    if "lead" in res:
        e = res["lead"]["engine"]
        c = res["lead"].get("command")
        lines += ["", "## LEAD: the 10-year strategy (issue 5)", "",
                  "`scenarios/lead_10yr.toml`: 50,000 members in 5 standard Spliced cohorts, 13 "
                  "simulated years (3 base + 10 performance), the high-needs panel growing 5% a "
                  "year. The budget counts the 13 simulated years at issue 3's 10 ns "
                  f"(`benchmarks/lead.py`: {lead.BUDGET_S:.1f} s; 25 s if only the 10 "
                  "performance years counted).", "",
                  "| measurement | value |", "|---|---:|",
                  f"| engine, {e['scenarios']:,} scenarios, best of the runs | "
                  f"{e['seconds']:.2f} s = {e['ns_per_member_year']:.2f} ns per member-year |",
                  f"| engine extrapolated to 5,000 scenarios | {e['extrapolated_s']:.1f} s |"]
        if c:
            lines.append(f"| whole command, 5,000 scenarios, fresh process | "
                         f"{c['seconds']:.1f} s |")
    lines += ["", "## How to reproduce", "",
              "```", "bash benchmarks/setup_peers.sh        # once: the peers' environment",
              ".venv/bin/python benchmarks/run_all.py --quick   # or no flag, or --full", "```",
              ""]
    return "\n".join(lines)


QUIET = ("The 1-minute load average was below 1 when the run started (no other jobs; the later "
         "loads are the benchmark's own), so the numbers represent the 2-core machine; single "
         "runs still vary by 10-20%.")
NOISE = ("These timings were taken on a shared 2-core machine while other engineers' test "
         "suites were running (see the load averages above: a load above 2 means the benchmark "
         "got only part of the two cores), so they are noisy and pessimistic; re-run on a quiet "
         "machine before quoting them.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="small sizes, about 3 minutes")
    g.add_argument("--full", action="store_true", help="big sizes and the full scaling grid")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["engine", "peers", "scaling", "settle", "lead"])
    ap.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--png", type=Path, default=scaling.PNG)
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--json", type=Path, default=None, help="also dump the raw results here")
    ap.add_argument("--noise-note", default=None,
                    help="text of the noise note (default: chosen from the load at the start)")
    a = ap.parse_args()
    mode = "quick" if a.quick else "full" if a.full else "default"
    t0 = time.perf_counter()
    res: dict[str, Any] = {"command": "python benchmarks/run_all.py"
                           + {"quick": " --quick", "full": " --full"}.get(mode, ""),
                           "noise_note": a.noise_note or (
                               # assumption: a 1-minute load below 1 on 2 cores means no
                               # other job holds a core when the run starts
                               QUIET if os.getloadavg()[0] < 1.0 else NOISE)}

    print("== machine", flush=True)
    res["machine"] = machine()
    for k, v in res["machine"].items():
        print(f"  {k}: {v}")
    loads = res["section_load"] = {}
    if "engine" not in a.skip:
        loads["engine"] = os.getloadavg()[0]
        print("== engine: ns per member-year", flush=True)
        res["engine"] = engine_section(mode)
    if "peers" not in a.skip:
        loads["peers"] = os.getloadavg()[0]
        print(f"== peers: compound Poisson, {PEER_SIMS[mode]:,} Monte Carlo simulations",
              flush=True)
        res["peers"] = peers.run_all_tools(PEER_SIMS[mode])
        print(peers.table(res["peers"]))
    png = None
    if "scaling" not in a.skip:
        loads["scaling"] = os.getloadavg()[0]
        print(f"== scaling and peak memory ({mode} grid)", flush=True)
        res["scaling"] = scaling.run(mode)
        res["memory"] = _memory_check(res["scaling"])
        if not a.no_write:
            png = scaling.plot(res["scaling"], a.png,
                               f"vbsim engine scaling ({res['machine']['cpu']}, "
                               f"{res['machine']['numba_threads']} threads; noisy: shared machine)")
            print(f"  figure: {png}")
    if "settle" not in a.skip:
        loads["settle"] = os.getloadavg()[0]
        print("== settlement: 20 contracts, 100,000 scenarios x 10 years", flush=True)
        res["settle"] = settle.run(repeat=2 if mode == "quick" else 3)  # best of >= 2: the
        # first evaluate in a process touches fresh pages (slow on VMs), later ones reuse them
    if "lead" not in a.skip:
        loads["lead"] = os.getloadavg()[0]
        n, rep, run_cmd = LEAD_SIZES[mode]
        print(f"== LEAD: engine on {n:,} scenarios" + (", then the 5,000-scenario command"
                                                      if run_cmd else ""), flush=True)
        res["lead"] = {"engine": lead.engine(n, rep)}
        print(f"  engine: {res['lead']['engine']['ns_per_member_year']:.2f} ns per member-year",
              flush=True)
        if run_cmd:
            res["lead"]["command"] = lead.command()
            print(f"  command: {res['lead']['command']['seconds']:.1f} s", flush=True)
    res["load_end"] = os.getloadavg()
    res["seconds"] = time.perf_counter() - t0
    print("== summary", flush=True)
    print(_summary_table(summary_rows(res)))
    print(f"total {res['seconds']:.0f} s; load average now "
          f"{', '.join(f'{v:.1f}' for v in res['load_end'])}")
    if not a.no_write:
        a.results.write_text(report(res, mode, png))
        print(f"wrote {a.results}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
