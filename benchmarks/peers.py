"""One compound-distribution problem in vbsim and two peer libraries: answers and time.

The problem: a panel of ``members`` (default 1,000) members, each with a Poisson(``rate`` = 0.5)
number of claims a year, claims lognormal with mean $20,000 and cv 2. The panel's total cost ``S``
is compound Poisson with frequency mean ``members x rate`` (the sum of independent compound
Poisson(rate) members is compound Poisson(members x rate) with the same severity), so the peers,
which model an aggregate with one claim count, solve exactly the problem vbsim simulates member by
member. Each tool reports mean, sd, the 99% and 99.5% quantiles and the aggregate stop-loss premium
E[(S - a)+] at ``a`` = 110% of the exact mean.

Tools, each in a fresh subprocess (its time excludes imports; its peak memory is the
subprocess's peak RSS, ``VmHWM``, imports included):

- ``vbsim-mc``: the engine (:func:`vbsim.simulate`, ``CompoundPoisson`` members, no risk-score
  spread, deaths, churn or trend), ``sims`` scenarios, one year;
- ``vbsim-fft``: :func:`vbsim.exact.aggregate` (FFT, default grid);
- ``gemact-mc`` and ``gemact-fft``: ``gemact.lossmodel.LossModel`` (Monte Carlo, ``sims``
  simulations; FFT on 2^18 nodes);
- ``aggregate``: ``aggregate.build`` (FFT, ``log2=18``, its own bucket size).

gemact and aggregate run with the python of the separate benchmark environment made by
``bash benchmarks/setup_peers.sh`` (``benchmarks/.peers-venv``); vbsim runs with this python.
A tool that is missing or fails is reported as such in the table.

Usage::

    .venv/bin/python benchmarks/peers.py               # 20,000 simulations for the MC tools
    .venv/bin/python benchmarks/peers.py --sims 100000
    benchmarks/.peers-venv/bin/python benchmarks/peers.py --child gemact-mc   # one tool, JSON
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / ".peers-venv" / "bin" / "python"

# The problem (assumption: a mid-size panel of high-cost claims; any values would do).
PROBLEM = {"members": 1000, "rate": 0.5, "sev_mean": 20_000.0, "sev_cv": 2.0,
           "attach_factor": 1.10, "levels": [0.99, 0.995]}
TOOLS = ("vbsim-mc", "vbsim-fft", "gemact-mc", "gemact-fft", "aggregate")
PEER_TOOLS = ("gemact-mc", "gemact-fft", "aggregate")


# ------------------------------------------------------------------------------------------------
# The problem, closed form (pure python: usable in the peers' environment)
# ------------------------------------------------------------------------------------------------
def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of a lognormal with this mean and coefficient of variation."""
    sigma = math.sqrt(math.log1p(cv * cv))
    return math.log(mean) - 0.5 * sigma * sigma, sigma


def exact_moments(problem: dict = PROBLEM) -> tuple[float, float]:
    """Mean and sd of S: n rate E[X] and sqrt(n rate E[X^2])."""
    lam = problem["members"] * problem["rate"]
    m, cv = problem["sev_mean"], problem["sev_cv"]
    return lam * m, math.sqrt(lam * m * m * (1 + cv * cv))


def attachment(problem: dict = PROBLEM) -> float:
    """Aggregate stop-loss attachment: attach_factor x exact mean."""
    return problem["attach_factor"] * exact_moments(problem)[0]


def _quantile_se(ppf, q: float, n: int) -> float:
    """Monte Carlo SE of a sample quantile: sqrt(q(1-q)/n) / f(x_q), f by a central difference."""
    d = min(2.0 * math.sqrt(q * (1 - q) / n), 0.5 * (1 - q))
    slope = (float(ppf(q + d)) - float(ppf(q - d))) / (2 * d)
    return math.sqrt(q * (1 - q) / n) * slope


def _sample_answers(x, n: int, a: float, levels: list[float]) -> dict:
    """Answers and Monte Carlo SEs from a simulated sample (numpy only)."""
    import numpy as np

    x = np.sort(np.asarray(x, dtype=float))

    def ppf(q: float) -> float:  # lower quantile: smallest x with F(x) >= q
        return float(x[min(max(math.ceil(q * n) - 1, 0), n - 1)])

    xs = np.maximum(x - a, 0.0)
    out = {"mean": float(x.mean()), "sd": float(x.std(ddof=1)),
           "stop_loss": float(xs.mean()),
           "se": {"mean": float(x.std(ddof=1) / math.sqrt(n)),
                  "stop_loss": float(xs.std(ddof=1) / math.sqrt(n))}}
    for q in levels:
        out[f"q{q * 100:g}"] = ppf(q)
        out["se"][f"q{q * 100:g}"] = _quantile_se(ppf, q, n)
    return out


# ------------------------------------------------------------------------------------------------
# Children: one tool each, run in a subprocess; each returns answers and seconds
# ------------------------------------------------------------------------------------------------
def _child_vbsim_mc(p: dict, sims: int, seed: int) -> dict:
    import numba

    from vbsim.costs import CompoundPoisson, Lognormal
    from vbsim.drivers import Drivers
    from vbsim.population import Cohort, Population
    from vbsim.simulate import simulate

    cost = CompoundPoisson(rate=p["rate"], severity=Lognormal(mean=p["sev_mean"], cv=p["sev_cv"]))
    pop = Population([Cohort("panel", p["members"], cost, risk_sd=0.0, mortality=0.0,
                             churn=0.0)])
    drivers = Drivers(trend_mean=0.0, trend_sd=0.0, shock_prob=0.0)  # year-1 index exactly 1
    simulate(pop, drivers, n_scenarios=4, seed=0, progress=False)  # load the compiled kernel
    t0 = time.perf_counter()
    paths = simulate(pop, drivers, n_scenarios=sims, years=1, seed=seed, progress=False)
    s = paths["cost"].values.reshape(sims)
    dt = time.perf_counter() - t0
    out = _sample_answers(s, sims, attachment(p), p["levels"])
    out.update(seconds=dt, method=f"Monte Carlo, {sims:,} scenarios x {p['members']:,} members",
               threads=numba.get_num_threads(),
               ns_per_member_year=dt / (sims * p["members"]) * 1e9)
    return out


def _child_vbsim_fft(p: dict, sims: int, seed: int) -> dict:
    from vbsim import exact
    from vbsim.costs import CompoundPoisson, Lognormal

    cost = CompoundPoisson(rate=p["rate"], severity=Lognormal(mean=p["sev_mean"], cv=p["sev_cv"]))
    exact.aggregate([(10, cost)])  # warm-up (imports inside)
    t0 = time.perf_counter()
    d = exact.aggregate([(p["members"], cost)])
    out = {"mean": d.mean, "sd": d.sd, "stop_loss": float(d.stop_loss(attachment(p)))}
    for q in p["levels"]:
        out[f"q{q * 100:g}"] = float(d.quantile(q))
    out.update(seconds=time.perf_counter() - t0, ok=bool(d.ok),
               method=f"FFT, {d.pmf.size:,} points, step {d.h:,.0f}")
    return out


def _gemact_model(p: dict, method: str, sims: int, seed: int):
    from gemact.lossmodel import Frequency, LossModel, Severity

    mu, sigma = lognormal_params(p["sev_mean"], p["sev_cv"])
    kw = {"n_sim": sims, "random_state": seed} if method == "mc" else {
        "n_aggr_dist_nodes": 2**18, "sev_discr_method": "massdispersal",
        "sev_discr_step": p["sev_mean"] / 100}  # 2^18 x $200 = $52M window
    return LossModel(frequency=Frequency(dist="poisson", par={"mu": p["members"] * p["rate"]}),
                     severity=Severity(dist="lognormal",
                                       par={"scale": math.exp(mu), "shape": sigma}),
                     aggr_loss_dist_method=method, **kw)


def _child_gemact(p: dict, sims: int, seed: int, method: str) -> dict:
    import logging

    import gemact

    logging.disable(logging.INFO)
    small = dict(p, members=10)
    _gemact_model(small, method, 100, seed)  # warm-up
    t0 = time.perf_counter()
    lm = _gemact_model(p, method, sims, seed)
    a = attachment(p)
    dist = lm.dist[0]
    out = {"mean": float(lm.mean()), "sd": float(lm.std()),
           "stop_loss": float(lm.mean()) - _scalar(dist.lev(a))}
    for q in p["levels"]:
        out[f"q{q * 100:g}"] = _scalar(lm.ppf(q=q))
    out["seconds"] = time.perf_counter() - t0
    if method == "mc":
        n = sims
        xs_mean, xs2 = (float(v) for v in _pwc_excess_moments(dist, a))
        out["se"] = {"mean": out["sd"] / math.sqrt(n),
                     "stop_loss": math.sqrt(max(xs2 - xs_mean**2, 0.0) / n)}
        for q in p["levels"]:
            out["se"][f"q{q * 100:g}"] = _quantile_se(lambda u: _scalar(lm.ppf(q=u)), q, n)
        out["method"] = f"Monte Carlo, {sims:,} simulations"
    else:
        out["method"] = "FFT, 2^18 nodes, step $200"
    out["version"] = getattr(gemact, "__version__", "?")
    return out


def _scalar(v) -> float:
    """A float from a scalar or a one-element array (gemact returns either)."""
    import numpy as np

    return float(np.asarray(v, dtype=float).ravel()[0])


def _pwc_excess_moments(dist, a: float) -> tuple[float, float]:
    """E[(S-a)+] and E[(S-a)+^2] of gemact's piecewise-constant (empirical) distribution."""
    import numpy as np

    x = np.asarray(dist.nodes, dtype=float)
    f = np.diff(np.concatenate([[0.0], np.asarray(dist.cumprobs, dtype=float)]))
    e = np.maximum(x - a, 0.0)
    return float(np.dot(f, e)), float(np.dot(f, e * e))


def _child_aggregate(p: dict, sims: int, seed: int) -> dict:
    import aggregate
    import numpy as np

    spec = (f"agg Panel {p['members'] * p['rate']:g} claims sev lognorm {p['sev_mean']:g} "
            f"cv {p['sev_cv']:g} poisson")
    aggregate.build("agg Warm 5 claims sev lognorm 10 cv 1 poisson", log2=10)  # warm-up
    t0 = time.perf_counter()
    ag = aggregate.build(spec, log2=18)
    df = ag.density_df
    x, f = df["loss"].to_numpy(), df["p_total"].to_numpy()
    out = {"mean": float(ag.est_m), "sd": float(ag.est_sd),
           "stop_loss": float(np.dot(f, np.maximum(x - attachment(p), 0.0)))}
    for q in p["levels"]:
        out[f"q{q * 100:g}"] = float(ag.q(q))
    out["seconds"] = time.perf_counter() - t0
    out["method"] = f"FFT, 2^18 points, bucket {ag.bs:g}"
    out["version"] = getattr(aggregate, "__version__", "?")
    validation = getattr(ag, "explain_validation", None)
    if callable(validation):
        out["note"] = f"aggregate's self-check: {validation()}"
    return out


def child(tool: str, sims: int, seed: int) -> dict:
    """Run one tool in this process and return its answers, seconds and peak memory."""
    p = PROBLEM
    if tool == "vbsim-mc":
        out = _child_vbsim_mc(p, sims, seed)
    elif tool == "vbsim-fft":
        out = _child_vbsim_fft(p, sims, seed)
    elif tool in ("gemact-mc", "gemact-fft"):
        out = _child_gemact(p, sims, seed, tool.split("-")[1])
    elif tool == "aggregate":
        out = _child_aggregate(p, sims, seed)
    else:
        raise ValueError(f"tool must be one of {TOOLS}; got {tool!r}")
    if tool.startswith("vbsim"):
        import vbsim

        out["version"] = vbsim.__version__
    out["tool"] = tool
    out["maxrss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """Peak RSS of this process in MiB: VmHWM (per address space, so not inherited from a
    parent across fork + exec, unlike ``ru_maxrss``); ``ru_maxrss`` where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------------
# Parent: one subprocess per tool, a table
# ------------------------------------------------------------------------------------------------
def run_tool(tool: str, sims: int, seed: int = 1, peers_python: Path | None = None,
             timeout: float = 900) -> dict:
    """Run ``tool`` in a subprocess; on failure return ``{"tool", "error"}`` (never raises)."""
    py = Path(sys.executable)
    if tool in PEER_TOOLS:
        py = Path(peers_python or os.environ.get("VBSIM_PEERS_PYTHON", PEERS_PYTHON))
        if not py.exists():
            return {"tool": tool, "error": f"no peers environment at {py}; run "
                                           "bash benchmarks/setup_peers.sh"}
    cmd = [str(py), str(Path(__file__).resolve()), "--child", tool, "--sims", str(sims),
           "--seed", str(seed)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        err = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return {"tool": tool, "error": f"exit {r.returncode}: {err[:200]}"}
    return json.loads(lines[-1])


def run_all_tools(sims: int, seed: int = 1, tools=TOOLS, peers_python: Path | None = None,
                  log=print) -> list[dict]:
    """Every tool, one subprocess each, in order."""
    rows = []
    for t in tools:
        log(f"  running {t} ...", flush=True)
        rows.append(run_tool(t, sims, seed, peers_python))
    return rows


def _fmt_money(v: float | None) -> str:
    return "" if v is None else f"{v:,.0f}"


def table(rows: list[dict], problem: dict = PROBLEM) -> str:
    """Markdown table: one row per tool, answers (with MC SE) and time and memory."""
    mean, sd = exact_moments(problem)
    keys = ["mean", "sd"] + [f"q{q * 100:g}" for q in problem["levels"]] + ["stop_loss"]
    head = ["tool", "version", "method", "mean", "sd"] + [
        f"{q * 100:g}% quantile" for q in problem["levels"]] + [
        f"E[(S-a)+], a={attachment(problem):,.0f}", "seconds", "peak RSS MB"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out.append("| exact (closed form) | | | " + _fmt_money(mean) + " | " + _fmt_money(sd)
               + " |" + " |" * (len(keys) - 2) + " | |")
    for r in rows:
        if "error" in r:
            out.append(f"| {r['tool']} | | **failed**: {r['error']} |" + " |" * (len(head) - 3))
            continue
        cells = []
        for k in keys:
            v = _fmt_money(r.get(k))
            se = r.get("se", {}).get(k)
            cells.append(v + (f" ± {se:,.0f}" if se is not None else ""))
        out.append(f"| {r['tool']} | {r.get('version', '')} | {r.get('method', '')} | "
                   + " | ".join(cells) + f" | {r['seconds']:.2f} | {r['maxrss_mb']:.0f} |")
    notes = [f"- {r['tool']}: {r['note']}" for r in rows if r.get("note")]
    for r in rows:
        if "ns_per_member_year" in r:
            notes.append(f"- {r['tool']}: {r['ns_per_member_year']:.1f} ns per member-year "
                         f"({r.get('threads', '?')} threads; a compound Poisson member draws a "
                         "Poisson count and that many lognormal claims)")
    notes.append("- Quantiles: Monte Carlo tools give the lower empirical quantile; FFT tools give "
                 "a lattice point, so they differ by up to one grid step (vbsim.exact's step is "
                 "in the method column).")
    return "\n".join(out + [""] + notes)


def fft_agreement(rows: list[dict], problem: dict = PROBLEM) -> float | None:
    """Largest relative difference between the FFT tools (vbsim-fft, gemact-fft, aggregate) in
    sd, the quantiles and the stop-loss premium; None when fewer than two ran."""
    ffts = [r for r in rows if "error" not in r and r["tool"] in ("vbsim-fft", "gemact-fft",
                                                                  "aggregate")]
    if len(ffts) < 2:
        return None
    keys = ["sd", "stop_loss"] + [f"q{q * 100:g}" for q in problem["levels"]]
    return max(abs(a[k] / b[k] - 1) for k in keys for a in ffts for b in ffts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", choices=TOOLS, help="run one tool here and print JSON")
    ap.add_argument("--sims", type=int, default=20_000, help="Monte Carlo scenarios/simulations")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    ap.add_argument("--peers-python", type=Path, default=None,
                    help=f"python of the peers' environment (default {PEERS_PYTHON})")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.sims, a.seed)))
        return
    p = PROBLEM
    print(f"compound Poisson: {p['members']:,} members x Poisson({p['rate']}) claims, lognormal "
          f"severity mean {p['sev_mean']:,.0f} cv {p['sev_cv']}; a = {attachment(p):,.0f}")
    print(table(run_all_tools(a.sims, a.seed, a.tools, a.peers_python)))


if __name__ == "__main__":
    main()
