"""Build frozen dataclasses from plain data (TOML tables), with errors that name the field path.

User files are data: this module only maps keys onto constructor arguments of known classes;
it never evaluates strings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ._validate import VbsimInputError


def build_dataclass(cls: type, spec: Mapping[str, Any], where: str, **fixed: Any) -> Any:
    """Call ``cls(**spec, **fixed)`` after checking every key is a constructor field.

    Unknown keys raise :class:`VbsimInputError` naming ``where.key`` and the allowed keys;
    errors raised by the constructor are re-raised with ``where`` in front.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class P:
    ...     a: float = 1.0
    >>> build_dataclass(P, {"a": 2.0}, "x")
    P(a=2.0)
    >>> build_dataclass(P, {"b": 2.0}, "x")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: x.b: unknown field; allowed fields: a
    """
    if not isinstance(spec, Mapping):
        raise VbsimInputError(f"{where}: expected a table of fields; got {spec!r}")
    allowed = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in spec:
        if key not in allowed:
            raise VbsimInputError(
                f"{where}.{key}: unknown field; allowed fields: {', '.join(allowed)}"
            )
    try:
        return cls(**dict(spec), **fixed)
    except VbsimInputError as exc:
        raise VbsimInputError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise VbsimInputError(f"{where}: {exc}") from None
