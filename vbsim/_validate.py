"""Input checks shared by every public object.

Every check raises :class:`ValueError` (or :class:`TypeError`) whose message names the field
and the allowed range, so that a wrong number in a notebook or a scenario file is found at once.
Nothing is clipped silently.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from typing import Any

import numpy as np


class VbsimInputError(ValueError):
    """Bad user input; the message names the field and what is allowed.

    >>> from vbsim._validate import VbsimInputError, check_choice
    >>> try:
    ...     check_choice("view", "buyer", ["provider", "payer"])
    ... except VbsimInputError as err:
    ...     isinstance(err, ValueError)
    True
    """


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else ("-inf" if x == -math.inf else f"{x:g}")


def check_real(
    field: str,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is a finite number in the range.

    >>> check_real("sharing_rate", 0.5, 0, 1)
    0.5
    >>> check_real("sharing_rate", 1.5, 0, 1)
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: sharing_rate must be in [0, 1]; got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise VbsimInputError(f"{field} must be a number; got {value!r}")
    v = float(value)
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    rng = f"{left}{_fmt(lo)}, {_fmt(hi)}{right}"
    if math.isnan(v):
        raise VbsimInputError(f"{field} must be in {rng}; got NaN")
    bad_lo = v <= lo if lo_open else v < lo
    bad_hi = v >= hi if hi_open else v > hi
    if bad_lo or bad_hi or (math.isinf(v) and not (math.isinf(lo) or math.isinf(hi))):
        raise VbsimInputError(f"{field} must be in {rng}; got {value!r}")
    return v


def check_int(field: str, value: Any, lo: int = 0, hi: int | None = None) -> int:
    """Return ``value`` as an int after checking it is an integer in ``[lo, hi]``.

    >>> check_int("n_scenarios", 1000, 1)
    1000
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise VbsimInputError(f"{field} must be an integer; got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        top = "inf" if hi is None else str(hi)
        raise VbsimInputError(f"{field} must be an integer in [{lo}, {top}]; got {v}")
    return v


def _same_choice(value: Any, choice: Any) -> bool:
    """``value == choice`` for a value of the choice's kind: True is not 1, 0 is 0.0, and an
    array is no choice (nor an ambiguous truth value)."""
    if isinstance(value, np.ndarray):
        return False
    flags = (bool, np.bool_)
    if isinstance(choice, flags):
        return isinstance(value, flags) and bool(value) == bool(choice)
    if isinstance(choice, numbers.Real):
        return (isinstance(value, numbers.Real) and not isinstance(value, flags)
                and value == choice)
    if isinstance(choice, str):  # str or numpy.str_
        return isinstance(value, str) and value == choice
    return isinstance(value, type(choice)) and value == choice


def check_choice(field: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``.

    >>> check_choice("level", "E", ["A", "B", "C", "D", "E", "ENHANCED"])
    'E'
    """
    choices = list(choices)
    if not any(_same_choice(value, c) for c in choices):
        allowed = ", ".join(repr(c) for c in choices)
        raise VbsimInputError(f"{field} must be one of {allowed}; got {value!r}")
    return value


def check_array(
    field: str, value: Any, lo: float = -math.inf, hi: float = math.inf
) -> np.ndarray:
    """Return ``value`` as a float64 array after checking every entry is finite and in range.

    >>> check_array("expenditure", [1.0, 2.0], 0).tolist()
    [1.0, 2.0]
    """
    try:
        raw = np.asarray(value)
    except ValueError:  # ragged nesting
        raw = np.asarray([0], dtype=object)
    if raw.dtype.kind not in "iuf":
        raise VbsimInputError(f"{field} must be a number or a list of numbers; got {value!r}")
    a = raw.astype(float)
    if a.size and not np.all(np.isfinite(a)):
        raise VbsimInputError(f"{field} must be finite (no NaN or inf)")
    if a.size and (a.min() < lo or a.max() > hi):
        raise VbsimInputError(
            f"{field} must be in [{_fmt(lo)}, {_fmt(hi)}]; "
            f"got values from {a.min():g} to {a.max():g}"
        )
    return a


def check_list(field: str, value: Any, what: str = "values") -> list[Any]:
    """``value`` as a list, after checking it is a sequence (not a string, number or table).

    >>> check_list("levels", (0.95, 0.99))
    [0.95, 0.99]
    >>> check_list("levels", 0.95, "levels in (0, 1)")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: levels must be a list of levels in (0, 1); got 0.95
    """
    from collections.abc import Mapping

    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise VbsimInputError(f"{field} must be a list of {what}; got {value!r}")
    return list(value)


def check_output_path(field: str, path: str | os.PathLike[str] | None,
                      suffixes: Iterable[str] | None = None) -> None:
    """Check, before any long computation, that an output file can be written at ``path``.

    Its folder must exist and be writable, ``path`` must not be a folder, and with
    ``suffixes`` its extension must be one of them (e.g. the image formats matplotlib writes).
    ``None`` (no output asked for) passes.

    >>> check_output_path("--out", "result.nc")
    >>> check_output_path("--plot", "no/such/folder/x.png")
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: --plot: folder 'no/such/folder' does not exist
    >>> check_output_path("--plot", "x.xyz", ["png", "pdf"])
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: --plot: 'x.xyz' must end in one of .pdf, .png
    """
    if path is None:
        return
    p = os.fspath(path)
    folder = os.path.dirname(p) or "."
    if not os.path.isdir(folder):
        raise VbsimInputError(f"{field}: folder {folder!r} does not exist")
    if os.path.isdir(p):
        raise VbsimInputError(f"{field}: {p!r} is a folder; give a file name")
    if not os.access(folder, os.W_OK):
        raise VbsimInputError(f"{field}: folder {folder!r} is not writable")
    if suffixes is not None:
        allowed = sorted({s.lower().lstrip(".") for s in suffixes})
        ext = os.path.splitext(p)[1].lower().lstrip(".")
        if ext not in allowed:
            raise VbsimInputError(f"{field}: {p!r} must end in one of "
                                  + ", ".join(f".{a}" for a in allowed))


def image_suffixes() -> list[str]:
    """File extensions matplotlib can save a figure as (for ``--plot`` checks).

    >>> "png" in image_suffixes() and "pdf" in image_suffixes()
    True
    """
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def check_cohort_names(field: str, named: Iterable[str], cohorts: Iterable[str]) -> None:
    """A per-cohort table must name every cohort of the population, and only those.

    A cohort left out would silently go unattached (overstating the provider's risk); a name
    that is no cohort is a typo.

    >>> check_cohort_names("truncate_at", ["a", "b"], ["a", "b"])
    >>> check_cohort_names("truncate_at", ["a", "c"], ["a", "b"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: truncate_at must name every cohort ...; missing ['b'], ...
    """
    named, cohorts = list(named), list(cohorts)
    missing = [c for c in cohorts if c not in named]
    unknown = [c for c in named if c not in cohorts]
    if missing or unknown:
        raise VbsimInputError(
            f"{field} must name every cohort of the population and only those; "
            f"missing {missing}, not cohorts {unknown}; cohorts: {cohorts}")


def check_flag(field: str, value: Any) -> bool:
    """``value`` as a bool, after checking it is True or False (numpy booleans too).

    >>> check_flag("progress", True)
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise VbsimInputError(f"{field} must be true or false; got {value!r}")
    return bool(value)
