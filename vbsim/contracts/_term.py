"""Shared machinery for contract terms: the frozen base class, dotted-path replace and params.

Every term is a small frozen dataclass validated in ``__post_init__``; its error messages name
the field as ``ClassName.field`` so that :func:`vbsim.contracts.from_spec` can rewrite them with
the scenario-file path.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_choice, check_real

#: Relative tolerance used by MSR/MLR gates so that "exactly at the MSR" passes despite
#: float rounding of G / benchmark (a savings rate of 0.02 computed as 0.019999999999999997).
GATE_EPS = 1e-12


class Term:
    """Base of every frozen contract term (and of :class:`~vbsim.contracts.Contract`).

    >>> from vbsim.presets import mssp
    >>> [c.__name__ for c in type(mssp("E", msr=0.02)).__mro__]
    ['Contract', 'Term', 'object']
    """

    def _f(self, name: str) -> str:
        return f"{type(self).__name__}.{name}"

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _real(self, name: str, lo: float = -math.inf, hi: float = math.inf, **kw: Any) -> None:
        self._set(name, check_real(self._f(name), getattr(self, name), lo, hi, **kw))

    def _opt_real(self, name: str, lo: float = -math.inf, hi: float = math.inf, **kw: Any) -> None:
        if getattr(self, name) is not None:
            self._real(name, lo, hi, **kw)

    def _choice(self, name: str, choices: list[Any]) -> None:
        check_choice(self._f(name), getattr(self, name), choices)

    def params(self, prefix: str = "") -> dict[str, Any]:
        """Flat ``{dotted.path: value}`` of every parameter (nested terms expanded).

        >>> from vbsim.contracts import SharedSavings
        >>> SharedSavings(rate=0.5, msr=0.02, cap=0.1).params()
        {'rate': 0.5, 'msr': 0.02, 'cap': 0.1, 'scale_by_quality': False}
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            key = f"{prefix}{f.name}"
            if isinstance(v, Term):
                out.update(v.params(key + "."))
            elif isinstance(v, tuple) and v and all(isinstance(x, Term) for x in v):
                for i, x in enumerate(v):
                    out.update(x.params(f"{key}.{i}."))
            else:
                out[key] = v
        return out

    def replace(self, **changes: Any) -> Any:
        """A new, re-validated copy with ``changes`` applied; keys may be dotted paths.

        >>> from vbsim.contracts import SharedSavings
        >>> SharedSavings(rate=0.5, msr=0.02).replace(rate=0.6).rate
        0.6
        """
        return _replace(self, changes, "")


def _replace(obj: Any, changes: Mapping[str, Any], where: str) -> Any:
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, val in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = val
        else:
            direct[head] = val
    if isinstance(obj, tuple):
        items = list(obj)
        for head, sub in {**{k: None for k in direct}, **nested}.items():
            if not head.isdigit() or int(head) >= len(items):
                raise VbsimInputError(
                    f"{where or 'path'} has {len(items)} entries; index {head!r} must be one of "
                    + ", ".join(str(i) for i in range(len(items)))
                )
            i = int(head)
            items[i] = direct[head] if head in direct else _replace(items[i], sub, f"{where}.{i}")
        return tuple(items)
    if not dataclasses.is_dataclass(obj):
        raise VbsimInputError(
            f"{where} is {obj!r}, which has no fields to set ({', '.join(nested)} requested)"
        )
    names = [f.name for f in dataclasses.fields(obj)]
    for head in list(direct) + list(nested):
        if head not in names:
            path = f"{where}.{head}" if where else head
            raise VbsimInputError(
                f"{path} is not a parameter of {type(obj).__name__}; allowed: {', '.join(names)}"
            )
    new = dict(direct)
    for head, sub in nested.items():
        new[head] = _replace(getattr(obj, head), sub, f"{where}.{head}" if where else head)
    try:
        return dataclasses.replace(obj, **new)
    except VbsimInputError as e:
        msg = str(e)
        prefix = f"{type(obj).__name__}."
        if where and msg.startswith(prefix):
            raise VbsimInputError(f"{where}.{msg[len(prefix):]}") from None
        raise


def bands_tuple(owner: str, name: str, bands: Any) -> tuple[tuple[float, float, float], ...]:
    """Validate marginal bands ``((lower, upper, share), ...)`` on |savings rate|.

    Bands must start at 0, be contiguous and non-overlapping, with ``upper > lower`` and shares in
    [0, 1]; ``upper`` may be ``inf``. Above the last upper bound nothing more is shared.

    >>> bands_tuple("Corridors", "bands_savings", [(0, 0.05, 0.5), (0.05, float("inf"), 0.1)])
    ((0.0, 0.05, 0.5), (0.05, inf, 0.1))
    """
    field = f"{owner}.{name}"
    if isinstance(bands, (str, bytes)) or not hasattr(bands, "__iter__"):
        raise VbsimInputError(
            f"{field} must be a list of (lower, upper, share) bands; got {bands!r}"
        )
    bands = list(bands)  # once: an iterator would be used up by the checks below
    out = []
    prev_hi = 0.0
    for i, b in enumerate(bands):
        if isinstance(b, Mapping):
            b = (b.get("lower"), b.get("upper"), b.get("share"))
        if isinstance(b, (str, bytes)) or not hasattr(b, "__iter__"):
            raise VbsimInputError(f"{field}[{i}] must be (lower, upper, share); got {b!r}")
        b = tuple(b)
        if len(b) != 3:
            raise VbsimInputError(f"{field}[{i}] must be (lower, upper, share); got {b!r}")
        lo = check_real(f"{field}[{i}].lower", b[0], 0, math.inf, hi_open=True)
        hi = b[1]
        if isinstance(hi, (int, float)) and not isinstance(hi, bool) and hi == math.inf:
            hi = math.inf
        else:
            hi = check_real(f"{field}[{i}].upper", hi, 0, math.inf, lo_open=True)
        share = check_real(f"{field}[{i}].share", b[2], 0, 1)
        if hi <= lo:
            raise VbsimInputError(f"{field}[{i}].upper must be > lower ({lo:g}); got {hi:g}")
        if lo < prev_hi:
            raise VbsimInputError(
                f"{field}: bands overlap: band {i} starts at {lo:g} but band {i - 1} ends at "
                f"{prev_hi:g}; each lower must equal the previous upper"
            )
        if lo > prev_hi:
            raise VbsimInputError(
                f"{field}: gap between {prev_hi:g} and {lo:g} before band {i}; bands must start "
                "at 0 and each lower must equal the previous upper"
            )
        out.append((lo, hi, share))
        prev_hi = hi
        if hi == math.inf and i != len(bands) - 1:
            raise VbsimInputError(f"{field}[{i}] is unbounded (upper = inf) but is not the last")
    if not out:
        raise VbsimInputError(f"{field} must have at least one band")
    return tuple(out)


def marginal(x: np.ndarray, bands: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    """Sum over bands of share x (part of ``x`` inside the band): a tax-bracket schedule.

    >>> marginal(np.array([5.0, 15.0]), ((0.0, 10.0, 0.5), (10.0, np.inf, 0.2))).tolist()
    [2.5, 6.0]
    """
    total = np.zeros_like(x, dtype=float)
    for lo, hi, share in bands:
        total = total + share * np.clip(x - lo, 0.0, hi - lo)
    return total


def as_rate_or_table(owner: str, name: str, value: Any, *, allow_none: bool = False) -> Any:
    """Validate a minimum savings/loss rate: a number in [0, 1) or the string ``"table"``.

    >>> as_rate_or_table("Sharing", "msr", 0.02), as_rate_or_table("Sharing", "msr", "table")
    (0.02, 'table')
    """
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        check_choice(f"{owner}.{name}", value, ["table"])
        return value
    return check_real(f"{owner}.{name}", value, 0, 1, hi_open=True)
