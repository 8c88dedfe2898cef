"""``vbsim settle``: reconcile actual results under one or more contracts and print a table.

Contracts use a short preset syntax (``--contract`` may be repeated):

=============================  ==========================================================
``mssp:LEVEL[:MSR]``           MSSP PY2023+ level A-E or ENHANCED; MSR 0, 0.005, ..., 0.02 or
                               ``table`` (default: the size table, needs beneficiaries)
``mssp2018:TRACK[:MSR]``       MSSP PY2018 track 1, 1+, 2 or 3 (rate x quality score)
``reach:OPTION[:YEAR]``        ACO REACH global or professional, PY2023-2026 (default 2023)
``lead:TRACK``                 LEAD global or professional
``bpci[:TARGET_PRICE]``        BPCI-Advanced-like bundle (benchmark = target amount, or
                               target price x ``--episodes``)
=============================  ==========================================================

One row comes from flags (``--benchmark --expenditure --beneficiaries --quality-score ...``), many
from ``--csv rows.csv`` whose columns are settle() context names (``benchmark``, ``expenditure``,
``assigned_beneficiaries`` or ``beneficiaries``, ``quality_score``, ``quality_standard_met``,
``revenue``, ``relief``, ``member_months``, ``episodes``, ``excess``; an optional ``id`` column
labels rows). ``excess`` (``--excess``) is the total cost above a contract's individual stop-loss
attachment, summed over members; for a per-cohort attachment (MSSP truncation per enrolment type)
each member's cost above its own cohort's attachment.
``--scenario FILE.toml`` adds every contract of the file's ``[contracts.NAME]`` tables.
The table shows the savings rate on the final benchmark, whether the MSR/MLR gate was met and a
cap or limit bound, and the payment, provider net and payer net; ``--out`` writes every
settlement component.

>>> main(["--contract", "mssp:ENHANCED:0.02", "--benchmark", "240e6", "--expenditure", "228e6"])
row  contract       benchmark    expenditure  rate   gate  cap  payment    provider   payer
1    MSSP ENHANCED  240,000,000  228,000,000  5.00%  yes   no   8,820,000  8,820,000  3,180,000
0
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Sequence
from typing import Any

from vbsim._validate import VbsimInputError, check_output_path
from vbsim.contracts import Contract

_CONTEXT_COLUMNS = {
    "benchmark": "benchmark",
    "expenditure": "expenditure",
    "assigned_beneficiaries": "assigned_beneficiaries",
    "beneficiaries": "assigned_beneficiaries",
    "quality_score": "quality_score",
    "quality_standard_met": "quality_standard_met",
    "revenue": "revenue",
    "relief": "relief",
    "member_months": "member_months",
    "episodes": "episodes",
    "excess": "excess",
    "expected_excess": "expected_excess",
}
_TABLE = ("savings_rate", "gate_met", "cap_hit", "payment", "provider_net", "payer_net")


def parse_contract(text: str) -> Contract:
    """Build a preset contract from the short syntax ``family:arg[:arg]``.

    >>> parse_contract("reach:global:2025").name
    'ACO REACH Global PY2025'
    >>> parse_contract("mssp:E:0.01").sharing.msr
    0.01
    """
    from vbsim import presets

    parts = text.split(":")
    fam, args = parts[0].lower(), parts[1:]
    usage = ("--contract must be one of mssp:LEVEL[:MSR], mssp2018:TRACK[:MSR], "
             "reach:OPTION[:YEAR], lead:TRACK, bpci[:TARGET_PRICE]; got " + repr(text))
    try:
        if fam == "mssp" and len(args) in (1, 2):
            msr = None if len(args) == 1 else _msr(args[1])
            return presets.mssp(args[0].upper(), msr=msr)
        if fam == "mssp2018" and len(args) in (1, 2):
            msr = None if len(args) == 1 else _msr(args[1])
            return presets.mssp_2018(args[0], msr=msr)
        if fam == "reach" and len(args) in (1, 2):
            year = 2023 if len(args) == 1 else int(args[1])
            return presets.reach(args[0].lower(), year=year)
        if fam == "lead" and len(args) == 1:
            return presets.lead(args[0].lower())
        if fam == "bpci" and len(args) <= 1:
            return presets.bpci_advanced(float(args[0]) if args else None)
    except ValueError as exc:
        if isinstance(exc, VbsimInputError):
            raise VbsimInputError(f"--contract {text!r}: {exc}") from None
        raise VbsimInputError(usage) from None
    raise VbsimInputError(usage)


def scenario_contracts(path: str) -> list[Contract]:
    """The contracts of a scenario TOML file's ``[contracts.NAME]`` tables (named NAME).

    >>> import os, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "s.toml")
    >>> _ = open(f, "w").write('[contracts.e]\\npreset = "mssp"\\nlevel = "E"\\nmsr = 0.02\\n')
    >>> [(c.name, c.sharing.msr) for c in scenario_contracts(f)]
    [('e', 0.02)]
    """
    import tomllib

    from vbsim.contracts import from_spec

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise VbsimInputError(f"cannot read --scenario {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise VbsimInputError(f"{path} is not valid TOML: {exc}") from None
    table = data.get("contracts")
    if not isinstance(table, dict) or not table:
        raise VbsimInputError(f"{path} has no [contracts.NAME] tables")
    built = None
    if "population" in data and _has_percentile(table):
        # "p99" truncation points come from the file's population (vbsim.scenario)
        from pathlib import Path

        from vbsim.scenario import from_dict

        built = from_dict(data, where=path, base_dir=Path(path).parent).contracts
    out = []
    for name, spec in table.items():
        c = built[name] if built else from_spec(spec, where=f"contracts.{name}")
        out.append(c if isinstance(spec, dict) and "name" in spec else c.with_name(name))
    return out


def _has_percentile(v: Any) -> bool:
    """Whether a contract table holds a ``"pNN"`` percentile string anywhere."""
    from vbsim.scenario import _QUANTILE

    if isinstance(v, dict):
        return any(_has_percentile(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_percentile(x) for x in v)
    return isinstance(v, str) and bool(_QUANTILE.match(v.strip()))


def _msr(s: str) -> float | str:
    return s if s == "table" else float(s)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``settle`` subcommand on an argparse subparsers object.

    >>> parser = argparse.ArgumentParser(prog="vbsim")
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["settle", "--contract", "mssp:E:0.02", "--expenditure", "97e6"])
    >>> args.contract, args.expenditure, args.func is main
    (['mssp:E:0.02'], 97000000.0, True)
    """
    p = subparsers.add_parser("settle", help="reconcile actual results under one or more contracts",
                              description=__doc__.splitlines()[0])
    _add_arguments(p)
    p.set_defaults(func=main)
    return p


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--contract", action="append", default=[], metavar="SPEC",
                   help="mssp:E[:0.02], mssp2018:1, reach:global[:2025], lead:global, bpci")
    p.add_argument("--scenario", metavar="FILE.toml",
                   help="also settle every contract of this scenario file's [contracts] table")
    p.add_argument("--csv", help="CSV of rows (columns named like the settle() context)")
    p.add_argument("--benchmark", type=float, help="pre-discount benchmark total ($)")
    p.add_argument("--expenditure", type=float, help="actual expenditure total ($)")
    p.add_argument("--beneficiaries", type=float, help="assigned beneficiaries (MSR table)")
    p.add_argument("--quality-score", type=float, help="quality score in [0, 1]")
    p.add_argument("--quality-failed", action="store_true", help="quality standard not met")
    p.add_argument("--revenue", type=float, help="provider revenue (revenue loss limits)")
    p.add_argument("--relief", type=float, help="relief that reduces a shared loss ($)")
    p.add_argument("--member-months", type=float, help="member-months (PMPM terms)")
    p.add_argument("--episodes", type=float, help="episodes (bundles)")
    p.add_argument("--excess", type=float,
                   help="total cost above the stop-loss attachment(s), summed over members ($)")
    p.add_argument("--expected-excess", type=float,
                   help="expected cost above the stop-loss attachment ($), for a premium priced "
                        "as expected recoveries x (1 + premium_load)")
    p.add_argument("--out", help="write every settlement component to this CSV")


def _rows(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    if args.csv:
        if args.expenditure is not None or args.benchmark is not None:
            raise VbsimInputError("use either --csv or --benchmark/--expenditure, not both")
        return read_rows(args.csv)
    if args.expenditure is None:
        raise VbsimInputError("--expenditure is required (or --csv rows.csv)")
    row: dict[str, Any] = {name: getattr(args, dest, None) for name, dest in _ARGS.items()}
    if args.quality_failed:
        row["quality_standard_met"] = False
    return [("1", {k: v for k, v in row.items() if v is not None})]


def read_rows(path: str) -> list[tuple[str, dict[str, Any]]]:
    """Rows of a settle CSV as ``(label, context)``; unknown columns are an error.

    >>> import os, tempfile
    >>> f = os.path.join(tempfile.mkdtemp(), "rows.csv")
    >>> _ = open(f, "w").write("id,benchmark,expenditure\\naco1,100e6,97e6\\n,50e6,\\n")
    >>> for label, ctx in read_rows(f):
    ...     print(label, ctx)
    aco1 {'benchmark': 100000000.0, 'expenditure': 97000000.0}
    2 {'benchmark': 50000000.0}
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = reader.fieldnames or []
            bad = [c for c in cols if c not in _CONTEXT_COLUMNS and c != "id"]
            if bad:
                raise VbsimInputError(
                    f"{path}: unknown column(s) {', '.join(bad)}; allowed: id, "
                    + ", ".join(_CONTEXT_COLUMNS)
                )
            out = []
            for i, rec in enumerate(reader, start=1):
                if None in rec:  # more cells than header columns
                    raise VbsimInputError(
                        f"{path} row {i}: {len(cols) + len(rec[None])} cells but the header "
                        f"names {len(cols)} columns")
                ctx: dict[str, Any] = {}
                for col, val in rec.items():
                    if col == "id" or val is None or val.strip() == "":
                        continue
                    key = _CONTEXT_COLUMNS[col]
                    ctx[key] = _bool(val, f"{path} row {i} {col}") if key == \
                        "quality_standard_met" else _float(val, f"{path} row {i} {col}")
                out.append((rec.get("id") or str(i), ctx))
    except OSError as exc:
        raise VbsimInputError(f"cannot read --csv {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise VbsimInputError(f"cannot read --csv {path} as UTF-8 CSV: {exc}") from None
    if not out:
        raise VbsimInputError(f"{path} has no rows")
    return out


def _float(v: str, field: str) -> float:
    try:
        return float(v.replace(",", ""))
    except ValueError:
        raise VbsimInputError(f"{field} must be a number; got {v!r}") from None


def _bool(v: str, field: str) -> bool:
    t = v.strip().lower()
    if t in ("1", "true", "yes", "y", "t"):
        return True
    if t in ("0", "false", "no", "n", "f"):
        return False
    raise VbsimInputError(f"{field} must be true or false; got {v!r}")


def _fmt(key: str, v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if key == "savings_rate":
        return f"{v:.2%}"
    return f"{v:,.0f}"


def settle_rows(contracts: list[Contract], rows: list[tuple[str, dict[str, Any]]]
                ) -> list[dict[str, Any]]:
    """Settle every row under every contract; one flat record per (row, contract).

    >>> rec = settle_rows([parse_contract("mssp:E:0.02")],
    ...                   [("a", {"benchmark": 100e6, "expenditure": 97e6})])
    >>> rec[0]["row"], rec[0]["contract"], round(rec[0]["payment"])
    ('a', 'MSSP BASIC E', 1470000)
    """
    out = []
    for label, ctx in rows:
        for c in contracts:
            try:
                s = c.settle(**_excess_for(c, ctx))
            except VbsimInputError as exc:
                raise VbsimInputError(f"row {label}, {c.name}: {_cli_hint(str(exc))}") from None
            out.append({"row": label, "contract": c.name, **s.to_dict()})
    return out


# settle() context name -> the argparse dest of its flag (``--`` + dest with dashes)
_ARGS = {"benchmark": "benchmark", "expenditure": "expenditure",
         "assigned_beneficiaries": "beneficiaries", "quality_score": "quality_score",
         "revenue": "revenue", "relief": "relief", "member_months": "member_months",
         "episodes": "episodes", "excess": "excess", "expected_excess": "expected_excess"}


def _cli_hint(msg: str) -> str:
    """A settle() error's advice in command-line terms.

    >>> _cli_hint("context 'quality_score' is required by X; pass quality_score=... to settle()")
    "context 'quality_score' is required by X; add --quality-score (or a quality_score column)"
    """
    def flag(m: re.Match[str]) -> str:
        name = m.group(1)
        col = f"{'an' if name[0] in 'aeiou' else 'a'} {name} column"
        if name not in _ARGS:
            return f"add {col}"
        return f"add --{_ARGS[name].replace('_', '-')} (or {col})"

    return re.sub(r"pass (\w+)=\.\.\. to settle\(\)", flag, msg)


def _excess_for(contract: Contract, ctx: dict[str, Any]) -> dict[str, Any]:
    """The row's context for one contract: a number ``excess`` becomes the entry its individual
    stop-loss reads (keyed by its attachment, per-cohort or not); dropped where none."""
    sls = [s for s in (getattr(contract, "stop_loss", None) or ())
           if hasattr(s, "thresholds")]  # individual stop-losses
    if "excess" not in ctx:
        if sls:
            raise VbsimInputError(
                "its individual stop-loss needs the total cost above its attachment, summed "
                "over members: add --excess (or an excess column)")
        return ctx
    out = dict(ctx)
    if len(sls) > 1:
        raise VbsimInputError("one excess value cannot settle several individual stop-losses; "
                              "settle this contract in Python with excess={attachment: amount}")
    for key in ("excess", "expected_excess"):  # a number: the entry keyed by the attachment
        if key in out:
            v = out.pop(key)
            if sls:
                out[key] = {sls[0].attachment: v}
    return out


def format_table(records: list[dict[str, Any]]) -> str:
    """A plain aligned text table of the main components.

    >>> rec = settle_rows([parse_contract("mssp:E:0.02")],
    ...                   [("a", {"benchmark": 100e6, "expenditure": 97e6})])
    >>> print(format_table(rec))
    row  contract      benchmark    expenditure  rate   gate  cap  payment    provider   payer
    a    MSSP BASIC E  100,000,000  97,000,000   3.00%  yes   no   1,470,000  1,470,000  1,530,000
    """
    head = ["row", "contract", "benchmark", "expenditure", "rate", "gate", "cap", "payment",
            "provider", "payer"]
    keys = ["row", "contract", "benchmark", "expenditure", *_TABLE]
    lines = [head] + [[str(r[k]) if k in ("row", "contract") else _fmt(k, r[k]) for k in keys]
                      for r in records]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def main(argv: Sequence[str] | argparse.Namespace | None = None) -> int:
    """Run ``vbsim settle``; ``argv`` is a list of arguments or a parsed Namespace.

    >>> main(["--contract", "mssp:E:0.02", "--benchmark", "100e6", "--expenditure", "103e6"])
    row  contract      benchmark    expenditure  rate    gate  cap  payment   provider  payer
    1    MSSP BASIC E  100,000,000  103,000,000  -3.00%  yes   no   -900,000  -900,000  -2,100,000
    note: without --revenue, MSSP BASIC E: revenue loss limit not applied
    0
    >>> main(["--benchmark", "100e6", "--expenditure", "97e6"])  # no contract: error, status 2
    2
    """
    if isinstance(argv, argparse.Namespace):
        args = argv
    else:
        p = argparse.ArgumentParser(prog="vbsim settle", description=__doc__.splitlines()[0])
        _add_arguments(p)
        args = p.parse_args(argv)
    try:
        check_output_path("--out", args.out)
        contracts = [parse_contract(t) for t in args.contract]
        if getattr(args, "scenario", None):
            contracts += scenario_contracts(args.scenario)
        if not contracts:
            raise VbsimInputError("give at least one --contract (or --scenario FILE.toml)")
        rows = _rows(args)
        records = settle_rows(contracts, rows)
    except VbsimInputError as exc:
        if isinstance(argv, argparse.Namespace):
            raise
        print(f"vbsim settle: error: {exc}", file=sys.stderr)
        return 2
    print(format_table(records))
    no_rev_rows = {label for label, ctx in rows if "revenue" not in ctx}
    limited = {c.name for c in contracts
               if getattr(c.sharing, "loss_limit_revenue", None) is not None}
    no_revenue = sorted({r["contract"] for r in records if r["contract"] in limited
                         and r["row"] in no_rev_rows and r["payment"] < 0})  # owes a loss
    if no_revenue:
        print(f"note: without --revenue, {', '.join(no_revenue)}: revenue loss limit not applied")
    if args.out:
        with open(args.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(records[0]))
            w.writeheader()
            w.writerows(records)
        print(f"saved {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
