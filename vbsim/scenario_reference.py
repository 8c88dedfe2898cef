"""The scenario-file reference, ``docs/scenarios.md``, generated from the code that reads the files.

Every key a scenario file accepts is listed with its default and its meaning. The keys come
from the same tables and dataclass fields that :mod:`vbsim.scenario`,
:mod:`vbsim.contracts.spec` and :mod:`vbsim.multiyear.scenario` check a file against, and the
meanings from the ``Parameters`` sections of the classes and functions the values are passed
to, so the reference cannot drift from the code: ``tests/test_scenario_reference.py`` checks
that ``docs/scenarios.md`` equals :func:`reference` and that every key has a description.
Regenerate it with::

    python -m vbsim.scenario_reference > docs/scenarios.md
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["param_docs", "reference", "sections"]

_SECTION_END = re.compile(r"^\S[^\n]*\n-{3,}$", re.M)

#: Meanings of the keys read by :mod:`vbsim.scenario` itself (no class docstring to take them
#: from); the test checks that these tables list exactly the keys the reader accepts.
SIMULATION_HELP = {
    "n_scenarios": "Monte Carlo scenarios; the CLI's `--n-scenarios` overrides it.",
    "years": "simulated years (a multi-year scenario: base years + performance years).",
    "seed": "random seed: the same seed gives the same numbers on any machine, thread count or "
            "block layout.",
    "block_size": "members per cache block in the engine, a multiple of 64 (default 1,024); "
                  "changes speed only, never the numbers.",
}
SETTLEMENT_HELP = {
    "revenue_share": "provider (ACO participants') fee-for-service revenue as a share of the "
                     "population's expenditure, for revenue-based loss limits (MSSP BASIC); "
                     "omitted: only benchmark-based limits apply.",
    "quality_standard_met": "whether the quality performance standard is met (true or false; "
                            "MSSP: no shared savings when it is not).",
    "relief": "dollars by which shared losses are reduced (extreme and uncontrollable "
              "circumstances), never below zero.",
    "expected_savings_rate": "the provider's expected cost sits this share below its benchmark "
                             "(its historical efficiency); 0 puts the benchmark at expected cost.",
}
SETTLEMENT_RANGES = {"revenue_share": "[0, 10]", "quality_standard_met": "true / false",
                     "relief": ">= 0", "expected_savings_rate": "[-0.5, 0.5]"}
MULTIYEAR_HELP = {
    "savings_by_year": "the ACO's cost reduction by performance year, each in [-0.5, 0.5] "
                       "(the last value holds for later years).",
    "cohort_growth": "table cohort = annual alignment growth from PY1, in [-0.5, 1] (>= 0: "
                     "members simulated one by one; < 0: cohort totals reweighted).",
    "risk_drift": "table cohort = yearly growth of risk score and cost from PY1 (ageing), in "
                  "[-0.5, 1].",
    "coding_drift": "table cohort = yearly growth of the risk score only (coding intensity), "
                    "in [-0.5, 1].",
    "cohort_transitions": "table cohort = { destination = probability }: members moving "
                          "between cohorts (`Cohort.transitions`).",
    "cash": "cash terms shared by every strategy (keys below).",
    "strategies": "`[multiyear.strategies.NAME]`, one per `[contracts.NAME]` (keys below).",
}
STRATEGY_EXTRA_HELP = {
    "rule": '"fixed" (LEAD, REACH: no rebasing) or "rebased" (MSSP: every `agreement_years`, '
            "5 by default). Default: from the contract's preset (mssp: rebased; others: fixed).",
}


def param_docs(obj: Any) -> dict[str, str]:
    """The ``Parameters`` section of ``obj``'s docstring as ``{name: description}``.

    Entries are ``name : text`` lines (several names may share one, separated by commas) with
    indented continuation lines.

    >>> def f(a, b, c):
    ...     '''Doc.
    ...
    ...     Parameters
    ...     ----------
    ...     a : float
    ...         The first.
    ...     b, c : the other two.
    ...
    ...     Examples
    ...     --------
    ...     '''
    >>> param_docs(f)
    {'a': '*float*: The first.', 'b': 'the other two.', 'c': 'the other two.'}
    """
    doc = inspect.getdoc(obj) or ""
    m = re.search(r"^Parameters\n-{3,}\n", doc, re.M)
    if not m:
        return {}
    body = doc[m.end():]
    end = _SECTION_END.search(body)
    body = body[:end.start()] if end else body
    entries: list[tuple[list[str], list[str]]] = []
    for line in body.splitlines():
        if line and not line.startswith(" "):
            head, _, rest = line.partition(":")
            names = [n.strip().strip("`*") for n in head.split(",")]
            entries.append((names, [rest.strip()] if rest.strip() else []))
        elif entries and line.strip():
            entries[-1][1].append(line.strip())
    out = {}
    for names, text in entries:
        first, *more = text or [""]
        if more and first and len(first) <= 50 and (more[0][:1].isupper() or more[0][:2] == "``"):
            first = f"*{first}*:"  # a numpydoc type line, then the description
        desc = _markdown(" ".join([first, *more]).strip())
        for n in names:
            out[n] = desc
    return out


def _markdown(text: str) -> str:
    """reST inline markup as Markdown: ``x`` and :role:`x` (or :role:`~a.b.x`) become `x`.

    >>> _markdown("see :func:`~vbsim.metrics.tvar` and ``p99``")
    'see `tvar` and `p99`'
    """
    text = re.sub(r":[a-z]+:`~?([^`]+)`", lambda m: "`" + m.group(1).split(".")[-1] + "`"
                  if m.group(0).count("~") else f"`{m.group(1)}`", text)
    return text.replace("``", "`")


def _value(v: Any) -> str:
    """A default as it would be written in TOML (``-`` for none, ``required`` for no default)."""
    if v is inspect.Parameter.empty or v is dataclasses.MISSING:
        return "required"
    if v is None or (isinstance(v, (tuple, list, dict)) and not v):
        return "-"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:g}"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _fields(cls: type, skip: Iterable[str] = ()) -> list[tuple[str, Any]]:
    out = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name in skip:
            continue
        d = f.default
        if d is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            d = f.default_factory()
        out.append((f.name, d))
    return out


def _signature(fn: Callable[..., Any]) -> list[tuple[str, Any]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


def _table(keys: list[tuple[str, Any]], docs: dict[str, str], *, lead: str = "default"
           ) -> list[str]:
    rows = [f"| key | {lead} | meaning |", "|---|---|---|"]
    for name, default in keys:
        rows.append(f"| `{name}` | {_cell(_value(default) if lead == 'default' else default)} "
                    f"| {_cell(docs.get(name, ''))} |")
    return rows


def sections() -> list[tuple[str, list[tuple[str, Any]], dict[str, str]]]:
    """Every table of keys in the reference as ``(heading, [(key, default)], {key: meaning})``.

    The test checks that every key has a meaning.

    >>> [h for h, _, _ in sections()][:3]
    ['[simulation]', '[[population.cohorts]]', 'cost = { model = "lognormal", ... }']
    """
    from . import costs, presets
    from . import scenario as sc
    from .contracts.base import Contract
    from .contracts.spec import TERM_TYPES
    from .drivers import Drivers
    from .multiyear import scenario as my
    from .multiyear.benchmark import BenchmarkRule
    from .multiyear.cash import CashTerms
    from .multiyear.contract import MultiYearContract
    from .population import Cohort

    out: list[tuple[str, list[tuple[str, Any]], dict[str, str]]] = []
    out.append(("[simulation]", [(k, f"[{lo}, {hi}]".replace("9223372036854775807", "2^63 - 1"))
                                 for k, (lo, hi) in sc._SIM_KEYS.items()], SIMULATION_HELP))
    out.append(("[[population.cohorts]]", _fields(Cohort), param_docs(Cohort)))
    for model, cls in (("lognormal", costs.Lognormal), ("spliced", costs.Spliced),
                       ("compound_poisson", costs.CompoundPoisson)):
        out.append((f'cost = {{ model = "{model}", ... }}', _fields(cls), param_docs(cls)))
    out.append(("[drivers]", _fields(Drivers), param_docs(Drivers)))
    out.append(("[settlement]", list(SETTLEMENT_RANGES.items()), SETTLEMENT_HELP))
    for name, fn in presets.PRESETS.items():
        out.append((f'[contracts.NAME] with preset = "{name}"', _signature(fn), param_docs(fn)))
    out.append(("[contracts.NAME] with explicit terms", _fields(Contract), param_docs(Contract)))
    for typ, cls in TERM_TYPES.items():
        out.append((f'term table with type = "{typ}"', _fields(cls), param_docs(cls)))
    out.append(("[multiyear]", [(k, None) for k in my._MY_KEYS], MULTIYEAR_HELP))
    out.append(("[multiyear.cash]", _fields(CashTerms), param_docs(CashTerms)))
    strategy = ([("rule", None)] + _fields(BenchmarkRule)
                + [(k, None) for k in ("discount_by_year", "withhold_by_year")])
    docs = {**param_docs(BenchmarkRule), **param_docs(MultiYearContract), **STRATEGY_EXTRA_HELP}
    out.append(("[multiyear.strategies.NAME]", strategy, docs))
    return out


def _standard_table() -> list[str]:
    from .population import STANDARD_KINDS, standard_cohort

    rows = ["| standard | expected cost per member-year | mortality | cost cv | zero-cost share |",
            "|---|---:|---:|---:|---:|"]
    for kind in STANDARD_KINDS:
        c = standard_cohort(kind, 1)
        rows.append(f"| `{kind}` | ${c.expected_cost_pbpy():,.0f} | {c.mortality:g} "
                    f"| {c.cost.cv:g} | {c.cost.zero_share:g} |")
    return rows


_INTRO = """\
# Scenario files: every key

<!-- Generated by `python -m vbsim.scenario_reference > docs/scenarios.md`; do not edit by hand:
tests/test_scenario_reference.py fails when this file and the code disagree. -->

A scenario file is TOML, read with the standard library's `tomllib` and never evaluated.
`scenarios/*.toml` are worked examples. An unknown key, a wrong type or a value out of range
stops the run with an error that names the file, the key's path and what is allowed; nothing
is clipped. The tables below list every key, its default ("required" when it has none, "-" for
none) and its meaning, taken from the docstring of the class the value is passed to (the
ranges are checked there). Sources of the numeric defaults: docs/engine.md, docs/contracts.md,
docs/multiyear.md.

Top level: `name` and `description` (strings, for the printed table), then the sections
below. Only `[[population.cohorts]]` and at least one `[contracts.NAME]` are required.
"""

_NOTES = {
    "[simulation]": "Integers; the column gives the allowed range.",
    "[[population.cohorts]]": (
        "One table per cohort. Either a standard enrolment type, `standard = \"esrd\"` with "
        "`members` and any of the keys below as overrides (its `name` defaults to the type), or "
        "`name`, `members` and a `cost` table (next sections). Standard types (their cost "
        "model is `Spliced`, its mean solved so that the expected cost per member-year matches "
        "the type's spend; sources in docs/calibration.md):"),
    "[drivers]": (
        "Scenario-level drivers, shared by every cohort. `trend_file = \"trend.csv\"` (columns "
        "`year,trend[,benchmark_trend]`, relative to the scenario file) gives `trend_mean` and "
        "`benchmark_trend_mean` year by year instead."),
    "[settlement]": "Context passed to every contract's settlement; the column gives the range.",
    '[contracts.NAME] with preset = "mssp"': (
        "Each `[contracts.NAME]` table is either a preset with its options, plus `name` (a "
        "label) and `overrides` (a table of dotted paths into the contract's terms, e.g. "
        "`\"sharing.msr\" = 0.01`), or a contract written term by term (further below). A "
        "truncation or stop-loss `attachment` may be dollars, a table cohort = dollars naming "
        "every cohort, or `\"pNN\"`: each cohort's NN-th percentile of annual member cost."),
    "[contracts.NAME] with explicit terms": (
        "`sharing`, `quality`, `quality_gate`, `p4p`, `stop_loss` (a table or a list of "
        "tables) and `capitation` are term tables with a `type` key, listed next."),
    "[multiyear]": (
        "Optional; read by `vbsim run` when present (and by `vbsim multiyear`). The simulated "
        "years are the base years plus the performance years."),
    "[multiyear.strategies.NAME]": (
        "Benchmark rule and cash terms of one contract over the years; keys of "
        "`[multiyear.cash]` may also be set here, per strategy."),
}


def reference() -> str:
    """The Markdown text of ``docs/scenarios.md``.

    >>> text = reference()
    >>> "| `persistence` |" in text and "## [drivers]" in text
    True
    """
    lines = [_INTRO]
    for heading, keys, docs in sections():
        lines.append(f"## {heading}\n")
        if heading in _NOTES:
            lines.append(_NOTES[heading] + "\n")
        if heading == "[[population.cohorts]]":
            lines += _standard_table() + [""]
        lead = "allowed" if heading in ("[simulation]", "[settlement]") else "default"
        lines += _table(keys, docs, lead=lead) + [""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """Print the reference (``python -m vbsim.scenario_reference > docs/scenarios.md``)."""
    print(reference(), end="")


if __name__ == "__main__":
    main()
