"""One self-contained HTML report a negotiator can send by e-mail.

:func:`report` runs (or takes) a result and writes one HTML file with every table inline and
every figure embedded as a base64 PNG: no external files, scripts or fonts. A short inline script
marks, once the page has loaded, how many figures rendered (``#vbsim-check``); the test suite
opens the file in headless Chromium and reads that mark.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._validate import VbsimInputError, check_int, check_output_path

SENSITIVITY_SCENARIOS = 1000  # re-simulations for tornado and panel curve (assumption: enough
#                               for paired changes; the report says how many were used)
PANEL_SIZES = (300, 1_000, 3_000, 10_000, 30_000, 100_000)
_FRONTIER_CANDIDATES = ("sharing.rate", "sharing.loss_rate", "discount", "sharing.msr",
                        "sharing.loss_limit_benchmark", "quality.rate")
_BREAKEVEN_CANDIDATES = (("sharing.rate", (0.0, 1.0)), ("discount", (0.0, 0.3)),
                         ("sharing.msr", (0.0, 0.2)))

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}
td,th{border:1px solid #ddd;padding:.25em .5em}th{background:#f4f4f4}
caption{text-align:left;font-weight:600;padding:.3em 0}
img{max-width:100%;display:block;margin:.5em 0}.note{color:#555;font-size:.9em}
.fig{display:inline-block;vertical-align:top;max-width:49%}
"""

_CHECK_JS = """
var vbsimErrors = 0;
window.addEventListener('error', function () { vbsimErrors++; }, true);
window.addEventListener('load', function () {
  var imgs = document.getElementsByTagName('img'), ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  var el = document.getElementById('vbsim-check');
  el.setAttribute('data-images', String(imgs.length));
  el.setAttribute('data-rendered', String(ok));
  el.setAttribute('data-errors', String(vbsimErrors));
  el.textContent = ok + ' of ' + imgs.length + ' figures rendered';
});
"""


def png_base64(ax_or_fig: Any, dpi: int = 96) -> str:
    """The figure of ``ax_or_fig`` as a base64 PNG string.

    >>> from matplotlib.figure import Figure
    >>> ax = Figure(figsize=(1, 1)).add_subplot()
    >>> s = png_base64(ax, dpi=20)
    >>> base64.b64decode(s)[1:4]
    b'PNG'
    """
    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    if isinstance(ax_or_fig, (list, tuple, np.ndarray)):
        fig = np.ravel(ax_or_fig)[0].figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(ax: Any, alt: str, cls: str = "") -> str:
    c = f" class='{cls}'" if cls else ""
    return (f"<div{c}><img alt='{html.escape(alt)}' src='data:image/png;base64,"
            f"{png_base64(ax)}'></div>")


def _contracts_table(contracts: dict[str, Any]) -> str:
    from .negotiate import ContractTable

    return ("<p><b>Offers on the table</b> (cells differing from the first offer shaded)</p>"
            + ContractTable(contracts)._repr_html_())


def _section(build: Any) -> str:
    """The HTML of one optional section, or the reason it cannot be computed."""
    try:
        return build()
    except VbsimInputError as exc:
        return f"<p class='note'>not available for this scenario: {html.escape(str(exc))}</p>"


def _frontier_grid(contract: Any) -> dict[str, list[float]]:
    params = contract.params()
    grid: dict[str, list[float]] = {}
    for k in _FRONTIER_CANDIDATES:
        v = params.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if v > 0:
            hi = min(1.0, 1.5 * v) if k != "discount" else 2 * v
            grid[k] = [float(x) for x in np.linspace(0.5 * v, hi, 5)]
        else:
            grid[k] = [0.0, 0.01, 0.02, 0.03, 0.05]
        if len(grid) == 2:
            break
    return grid


def _breakevens(res: Any, baseline: str) -> str:
    from .negotiate import breakeven

    rows = []
    for name, c in res.scenario.contracts.items():
        if name == baseline:
            continue
        params = c.params()
        for p, bracket in _BREAKEVEN_CANDIDATES:
            if isinstance(params.get(p), bool) or not isinstance(params.get(p), (int, float)):
                continue
            try:
                be = breakeven(res, name, baseline, p, bracket=bracket)
                lo, hi = be.ci
                cell = (f"{be.value:.4g} ± {be.se:.2g} (95% CI {lo:.4g} to {hi:.4g}); "
                        f"now {params[p]:.4g}")
            except VbsimInputError as exc:
                cell = f"no break-even: {exc}"
            rows.append(f"<tr><th>{html.escape(name)}</th><td>{html.escape(p)}</td>"
                        f"<td>{html.escape(cell)}</td></tr>")
            break
    if not rows:
        return ""
    return ("<table><caption>Break-even against the baseline " + html.escape(baseline)
            + " (expected provider payment equal; delta-method SE)</caption><tr><th>offer</th>"
            "<th>parameter</th><th>break-even value</th></tr>" + "".join(rows) + "</table>")


def build_report(
    result: Any,
    *,
    baseline: str | None = None,
    sensitivity: bool = True,
    panel: bool = True,
    sensitivity_scenarios: int = SENSITIVITY_SCENARIOS,
) -> str:
    """The report as an HTML string (see :func:`report`).

    A full report takes a few seconds (figures, frontier; see the example of :func:`report`,
    which runs in the test suite), so this call is shown, not run:

    >>> from vbsim.run import run
    >>> res = run("scenarios/default.toml", n_scenarios=100, progress=False)  # doctest: +SKIP
    >>> build_report(res, sensitivity=False, panel=False)[:15]  # doctest: +SKIP
    '<!DOCTYPE html>'
    """
    from . import plot
    from .negotiate import compare, frontier, panel_curve, tornado

    sc = result.scenario
    names = list(sc.contracts)
    baseline = names[0] if baseline is None else baseline
    n_sens = min(int(sc.n_scenarios), check_int("sensitivity_scenarios", sensitivity_scenarios,
                                                 10, 10**7))
    prov = compare(result, baseline, view="provider")
    payer = compare(result, baseline, view="payer")
    members = sc.population.members
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"<h1>{html.escape(sc.name or 'vbsim report')}</h1>",
        f"<p>{html.escape(sc.description)}</p>" if sc.description else "",
        f"<p class='note'>{members:,} aligned members; {sc.n_scenarios:,} simulated scenarios x "
        f"{sc.years} year(s), seed {sc.seed}; vbsim {__version__}; {stamp}. Every number is a "
        "Monte Carlo estimate shown as value ± standard error; offers are settled on the same "
        "scenarios, so their differences are measured far more precisely than each level.</p>",
        _contracts_table(sc.contracts),
        "<h2>Provider view</h2>", prov._repr_html_(),
        "<h2>Payer view</h2>", payer._repr_html_(),
        "<h2>Distributions</h2>",
        _img(plot.exceedance(result), "exceedance curves", "fig"),
        _img(plot.histogram(result), "histograms", "fig"),
        "<h2>Where the money goes (mean settlement bridge)</h2>",
    ]
    parts += [_img(plot.waterfall(result, n), f"waterfall {n}", "fig") for n in names]
    parts += ["<h2>Break-even</h2>", _breakevens(result, baseline) or
              "<p class='note'>no offer has a rate, discount or MSR to solve for</p>"]
    grid = _frontier_grid(sc.contracts[baseline])
    if grid:
        parts.append(f"<h2>Frontier: variations of {html.escape(baseline)}</h2>")
        parts.append(_section(lambda: _img(plot.frontier(frontier(result, baseline, grid)),
                                           "frontier")))
    if sensitivity:
        def tornado_figs() -> str:
            t = tornado(sc, [baseline], n_scenarios=n_sens)
            notes = sorted({n for n in t.frame["note"] if n})
            return (_img(t.plot(baseline, "mean"), "tornado mean", "fig")
                    + _img(t.plot(baseline, "TVaR_99"), "tornado TVaR", "fig")
                    + "".join(f"<p class='note'>not defined: {html.escape(n)}</p>"
                              for n in notes))

        parts += [f"<h2>Sensitivity of {html.escape(baseline)} to the assumptions</h2>",
                  f"<p class='note'>Each assumption moved down and up and the scenario "
                  f"re-simulated with the same seed ({n_sens:,} scenarios); bars show the "
                  "change with ±2 paired SE.</p>", _section(tornado_figs)]
    if panel:
        def panel_figs() -> str:
            pc = panel_curve(sc, sizes=PANEL_SIZES, n_scenarios=n_sens)
            notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in pc.notes)
            return _img(plot.panel_curve(pc), "panel size") + notes

        parts += ["<h2>Panel size: go it alone or join a larger ACO?</h2>",
                  _section(panel_figs)]
    parts += [
        "<h2>How to read this report</h2>",
        "<ul><li>Payments are what the provider receives (negative: owes); the payer view is "
        "the payer's gain against the benchmark.</li><li>VaR and TVaR are of the loss "
        "(positive = a loss); TVaR99 is the mean of the worst 1% of outcomes.</li>"
        "<li>CE is the certainty equivalent under exponential utility: the sure amount worth as "
        "much as the risky settlement.</li><li>Bold differences exceed 2 paired standard "
        "errors; notes flag rankings within the noise.</li><li>Methods: docs/negotiation.md."
        "</li></ul>",
        "<p id='vbsim-check' class='note'></p>",
    ]
    body = "\n".join(p for p in parts if p)
    title = html.escape(sc.name or "vbsim report")
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_CSS}</style><script>{_CHECK_JS}</script></head><body>\n{body}\n"
            "</body></html>\n")


def report(
    scenario: Any,
    out: str | Path,
    *,
    n_scenarios: int | None = None,
    seed: int | None = None,
    baseline: str | None = None,
    sensitivity: bool = True,
    panel: bool = True,
    sensitivity_scenarios: int = SENSITIVITY_SCENARIOS,
    per_year: bool = False,
) -> Path:
    """Simulate (or take) a result and write the self-contained HTML report to ``out``.

    Parameters
    ----------
    scenario:
        A scenario TOML path, a :class:`~vbsim.scenario.Scenario` or a :class:`~vbsim.run.Result`.
    out:
        The HTML file to write.
    baseline:
        The offer the others are compared with (default: the first).
    sensitivity, panel:
        Include the tornado and the panel-size curve (each re-simulates the scenario).
    sensitivity_scenarios:
        Scenarios per re-simulation for tornado and panel curve (at most the scenario's own).
    per_year:
        A scenario file with a ``[multiyear]`` section is refused (the report covers one-year
        offers; ``vbsim run`` applies the multi-year rules) unless this is True: each simulated
        year, base years included, is then settled on the engine's benchmark.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = report("scenarios/default.toml", os.path.join(d, "r.html"), n_scenarios=100,
    ...                sensitivity=False, panel=False)
    ...     p.read_text().startswith("<!DOCTYPE html>")
    True
    """
    from .run import Result, run
    from .scenario import has_multiyear

    check_output_path("out", out)  # before the run, not after it
    if isinstance(scenario, (str, Path)) and has_multiyear(scenario) and not per_year:
        raise VbsimInputError(
            f"{scenario}: a [multiyear] scenario; the report covers offers settled year by year "
            "on the engine's benchmark, which would sum base and performance years without the "
            "multi-year rules. Use `vbsim run` for its multi-year comparison (NPV, fan charts), "
            "or pass --per-year (per_year=True) for the per-year report")
    if isinstance(scenario, Result):
        res = scenario
    else:
        res = run(scenario, n_scenarios=n_scenarios, seed=seed, progress=False)
    text = build_report(res, baseline=baseline, sensitivity=sensitivity, panel=panel,
                        sensitivity_scenarios=sensitivity_scenarios)
    path = Path(out)
    path.write_text(text, encoding="utf-8")
    return path


__all__ = ["build_report", "png_base64", "report"]
