"""Build contracts from plain data (as read from a TOML scenario file), with errors that name the
file path of the bad field (``contracts.reach_global.level``)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping
from typing import Any

from vbsim._validate import VbsimInputError

from .base import Contract
from .capitation import Capitation
from .corridors import Corridors
from .episodes import Bundle, CaseRate
from .quality import PayForPerformance, QualityGate, QualityWithhold
from .shared_savings import QualityLossRate, SharedSavings, TwoSidedRisk
from .stoploss import AggregateStopLoss, IndividualStopLoss

#: ``type`` names accepted in explicit term tables.
TERM_TYPES: dict[str, type] = {
    "shared_savings": SharedSavings,
    "two_sided": TwoSidedRisk,
    "corridors": Corridors,
    "bundle": Bundle,
    "quality_withhold": QualityWithhold,
    "quality_gate": QualityGate,
    "p4p": PayForPerformance,
    "individual_stop_loss": IndividualStopLoss,
    "aggregate_stop_loss": AggregateStopLoss,
    "capitation": Capitation,
    "case_rate": CaseRate,
    "quality_loss_rate": QualityLossRate,
}
# default type for a slot given as a table without "type"
_SLOT_DEFAULT = {"quality": "quality_withhold", "quality_gate": "quality_gate", "p4p": "p4p"}
_SLOTS = ("sharing", "quality", "quality_gate", "p4p", "stop_loss", "capitation")


def _rewrite(err: VbsimInputError, prefix: str) -> VbsimInputError:
    """Replace a leading ``ClassName.`` (or bare field) in a message with ``prefix.``."""
    msg = str(err)
    m = re.match(r"^([A-Z][A-Za-z]+)\.", msg)
    if m:
        return VbsimInputError(prefix + "." + msg[m.end():])
    m = re.match(r"^([a-z_][a-z_0-9]*)\b", msg)
    if m and not msg.startswith(("context", "inputs", "unknown")):
        return VbsimInputError(prefix + "." + msg)
    return VbsimInputError(f"{prefix}: {msg}")


def _term(spec: Any, where: str, default_type: str | None = None) -> Any:
    if not isinstance(spec, Mapping):
        raise VbsimInputError(f"{where} must be a table with a 'type' key; got {spec!r}")
    spec = dict(spec)
    typ = spec.pop("type", default_type)
    if not isinstance(typ, str) or typ not in TERM_TYPES:
        raise VbsimInputError(
            f"{where}.type must be one of {', '.join(map(repr, TERM_TYPES))}; got {typ!r}"
        )
    cls = TERM_TYPES[typ]
    names = [f.name for f in dataclasses.fields(cls)]
    for k in spec:
        if k not in names:
            raise VbsimInputError(
                f"{where}.{k} is not a parameter of {typ}; allowed: type, {', '.join(names)}"
            )
    missing = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in spec
               and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise VbsimInputError(f"{where}.{missing[0]} is required by {typ}")
    if cls is TwoSidedRisk and isinstance(spec.get("loss_rate"), Mapping):
        spec["loss_rate"] = _term(spec["loss_rate"], f"{where}.loss_rate", "quality_loss_rate")
    try:
        return cls(**spec)
    except VbsimInputError as e:
        raise _rewrite(e, where) from None


def _preset(spec: dict[str, Any], where: str) -> Contract:
    from vbsim.presets import PRESETS

    name = spec.pop("preset")
    if not isinstance(name, str) or name not in PRESETS:
        raise VbsimInputError(
            f"{where}.preset must be one of {', '.join(map(repr, PRESETS))}; got {name!r}"
        )
    overrides = spec.pop("overrides", {}) or {}
    new_name = spec.pop("name", None)
    fn = PRESETS[name]
    params = inspect.signature(fn).parameters
    for k in spec:
        if k not in params:
            raise VbsimInputError(
                f"{where}.{k} is not an option of preset {name!r}; allowed: preset, name, "
                f"overrides, {', '.join(params)}"
            )
    for k, v in spec.items():  # a term given as a table, e.g. stop_loss = { type = ... }
        if k in _SLOTS and isinstance(v, Mapping):
            spec[k] = _term(v, f"{where}.{k}", _SLOT_DEFAULT.get(k))
    first = next(iter(params))
    if first not in spec and params[first].default is inspect.Parameter.empty:
        raise VbsimInputError(f"{where}.{first} is required by preset {name!r}")
    try:
        contract = fn(**spec)
    except VbsimInputError as e:
        raise _rewrite(e, where) from None
    if not isinstance(overrides, Mapping):
        raise VbsimInputError(f"{where}.overrides must be a table of dotted.path = value")
    if overrides:
        contract = replace(contract, overrides, where=f"{where}.overrides")
    if new_name is not None:
        contract = contract.with_name(str(new_name))
    return contract


def from_spec(spec: Mapping[str, Any], *, where: str = "contract") -> Contract:
    """Build a :class:`Contract` from plain data.

    Either a preset with its options and ``overrides`` (dotted paths into the terms), or explicit
    terms: ``{"name": ..., "discount": ..., "sharing": {"type": "corridors", ...}, ...}``.
    Term types: shared_savings, two_sided, corridors, bundle, quality_withhold, quality_gate, p4p,
    individual_stop_loss, aggregate_stop_loss, capitation, case_rate (``stop_loss`` may be a list).

    Examples
    --------
    >>> from_spec({"preset": "mssp", "level": "E", "msr": 0.02}).sharing.msr
    0.02
    >>> c = from_spec({"name": "upside", "sharing": {"type": "shared_savings", "rate": 0.5}})
    >>> c.sharing.rate
    0.5
    >>> try:
    ...     from_spec({"preset": "mssp", "level": "F"}, where="contracts.x")
    ... except ValueError as e:
    ...     print(e)
    contracts.x.level must be one of 'A', 'B', 'C', 'D', 'E', 'ENHANCED'; got 'F'
    """
    if not isinstance(spec, Mapping):
        raise VbsimInputError(f"{where} must be a table; got {spec!r}")
    spec = dict(spec)
    if "preset" in spec:
        return _preset(spec, where)
    names = [f.name for f in dataclasses.fields(Contract)]
    for k in spec:
        if k not in names:
            raise VbsimInputError(
                f"{where}.{k} is not a contract field; allowed: preset (with its options) or "
                + ", ".join(names)
            )
    if "name" not in spec:
        raise VbsimInputError(f"{where}.name is required (a label for the contract)")
    kwargs: dict[str, Any] = {}
    for k, v in spec.items():
        if k in _SLOTS and v is not None:
            if k == "stop_loss" and isinstance(v, (list, tuple)):
                kwargs[k] = tuple(_term(x, f"{where}.stop_loss[{i}]") for i, x in enumerate(v))
            else:
                kwargs[k] = _term(v, f"{where}.{k}", _SLOT_DEFAULT.get(k))
        else:
            kwargs[k] = v
    try:
        return Contract(**kwargs)
    except VbsimInputError as e:
        raise _rewrite(e, where) from None


def replace(contract: Contract, changes: Mapping[str, Any], *, where: str = "contract") -> Contract:
    """``contract.replace(**changes)`` with errors prefixed by ``where``; a table value for a slot
    (e.g. ``{"stop_loss": {"type": ...}}``) is built with :func:`from_spec` rules.

    >>> from vbsim.presets import reach
    >>> replace(reach("global"), {"discount": 0.05}).discount
    0.05
    """
    built = {}
    for k, v in changes.items():
        if k in _SLOTS and isinstance(v, Mapping):
            v = _term(v, f"{where}.{k}", _SLOT_DEFAULT.get(k))
        elif k == "stop_loss" and isinstance(v, (list, tuple)):
            v = tuple(x if not isinstance(x, Mapping) else _term(x, f"{where}.stop_loss[{i}]")
                      for i, x in enumerate(v))
        built[k] = v
    try:
        return contract.replace(**built)
    except VbsimInputError as e:
        msg = str(e)
        m = re.match(r"^([A-Z][A-Za-z]+)\.", msg)
        raise VbsimInputError(f"{where}.{msg[m.end():] if m else msg}") from None
