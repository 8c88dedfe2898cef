"""Stop-loss: individual (specific) attachment per member, and aggregate attachment on the total.

Settlement consumes per-scenario statistics, never member arrays: an individual stop-loss reads
context ``excess[attachment]`` = sum over members of (annual cost - attachment)+, which the engine
computes for every threshold in ``contract.thresholds``. Recoveries reduce, and premiums add to,
the expenditure counted against the benchmark (the payer offers the stop-loss, as in REACH).

The attachment may also be a mapping cohort name -> attachment (MSSP truncates each beneficiary
at the national 99th percentile *of its enrolment type* [C, DOMAIN.md s.1-2]). It is stored as a
sorted tuple of ``(cohort, attachment)`` pairs, and that tuple is the key of the stop-loss's
``excess`` entry: the sum over cohorts of each cohort's excess at its own attachment, which
:func:`vbsim.evaluate.settlement_context` builds from the engine's per-cohort excess.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_real

from ._term import Term
from .settlement import Context


@dataclasses.dataclass(frozen=True)
class IndividualStopLoss(Term):
    """Per-member attachment; the excess above it is reimbursed except for the coinsurance.

    Parameters
    ----------
    attachment : dollars of annual cost per member above which costs are reimbursed; or a
        mapping cohort name -> dollars (one attachment per cohort, e.g. per enrolment type),
        stored as a sorted tuple of ``(cohort, attachment)`` pairs. On simulated paths every
        cohort of the population must be named, and only those (an error lists the others).
        ``settle`` on plain numbers then needs the total excess as ``excess={sl.attachment: x}``.
    coinsurance : share of the excess the provider still bears (0: all of it reimbursed).
    premium_pmpm : fixed premium per member-month (needs context ``member_months``).
    premium_load : if set, premium = expected recoveries x (1 + load), where expected recoveries
        come from context ``expected_excess[attachment]`` or, for DataArray inputs with a
        ``scenario`` dimension, the mean excess over scenarios. Exclusive with ``premium_pmpm``.

    truncates_benchmark : the benchmark was built on costs truncated at the same point (MSSP
        truncation). ``settle`` takes the benchmark it is given as already truncated; on
        simulated paths, :func:`vbsim.evaluate` truncates the engine's (untruncated) benchmark by
        the expected excess share, so that truncation does not turn into a windfall.

    ``IndividualStopLoss.truncation(t)`` is the MSSP-style special case: costs above the
    threshold are simply not counted (coinsurance 0, no premium) in the performance year or in
    the benchmark [C, DOMAIN.md s.2].

    Examples
    --------
    >>> sl = IndividualStopLoss(attachment=100_000, coinsurance=0.2, premium_pmpm=5.0)
    >>> rec, prem = sl.apply(np.array(1e7), None, _ctx(1e7, excess={100_000: 500_000.0},
    ...                      member_months=12_000.0))
    >>> float(rec), float(prem)  # 80% x 500k; 5 x 12,000
    (400000.0, 60000.0)

    One attachment per enrolment type (MSSP truncation [C, DOMAIN.md s.1]):

    >>> t = IndividualStopLoss.truncation({"esrd": 420_000, "aged_non_dual": 95_000})
    >>> t.attachment, t.thresholds
    ((('aged_non_dual', 95000.0), ('esrd', 420000.0)), (95000.0, 420000.0))
    """

    attachment: float | tuple[tuple[str, float], ...]
    coinsurance: float = 0.0
    premium_pmpm: float = 0.0
    premium_load: float | None = None
    truncates_benchmark: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.truncates_benchmark, bool):
            raise VbsimInputError(
                f"IndividualStopLoss.truncates_benchmark must be true or false; "
                f"got {self.truncates_benchmark!r}")
        self._set("attachment", cohort_values(self._f("attachment"), self.attachment))
        self._real("coinsurance", 0, 1)
        self._real("premium_pmpm", 0, math.inf)
        self._opt_real("premium_load", 0, math.inf)
        if self.premium_load is not None and self.premium_pmpm:
            raise VbsimInputError(
                "IndividualStopLoss: set premium_pmpm or premium_load, not both; got "
                f"premium_pmpm={self.premium_pmpm:g}, premium_load={self.premium_load:g}"
            )

    @classmethod
    def truncation(cls, threshold: float | Mapping[str, float]) -> IndividualStopLoss:
        """MSSP-style truncation at ``threshold`` per member (e.g. the national 99th percentile),
        or at one threshold per cohort (``{"esrd": 420_000, ...}``: per enrolment type).

        >>> IndividualStopLoss.truncation(250_000).coinsurance
        0.0
        """
        return cls(attachment=threshold, coinsurance=0.0, premium_pmpm=0.0,
                   truncates_benchmark=True)

    @property
    def by_cohort(self) -> dict[str, float] | None:
        """``{cohort: attachment}`` for a per-cohort attachment; None for a single one.

        >>> IndividualStopLoss({"b": 2.0, "a": 1.0}).by_cohort
        {'a': 1.0, 'b': 2.0}
        """
        return dict(self.attachment) if isinstance(self.attachment, tuple) else None

    @property
    def thresholds(self) -> tuple[float, ...]:
        """The distinct per-member thresholds the engine must compute ``excess`` at (sorted).

        >>> IndividualStopLoss({"a": 5.0, "b": 5.0, "c": 1.0}).thresholds
        (1.0, 5.0)
        """
        if isinstance(self.attachment, tuple):
            return tuple(sorted({v for _, v in self.attachment}))
        return (float(self.attachment),)

    def _label(self) -> str:
        if isinstance(self.attachment, tuple):
            inner = ", ".join(f"{k!r}: {v:g}" for k, v in self.attachment)
            return f"IndividualStopLoss(attachment={{{inner}}})"
        return f"IndividualStopLoss(attachment={self.attachment:g})"

    def apply(self, counted: np.ndarray, base: np.ndarray | None,
              ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        """Return (recoveries, premium) as arrays."""
        by = self._label()
        if isinstance(self.attachment, tuple) and not any(
                k == self.attachment for k in (ctx.get("excess") or {})):
            raise VbsimInputError(
                f"{by} needs context 'excess' at its per-cohort attachment: the sum over cohorts "
                "of each cohort's excess at its own attachment. On simulated paths "
                "vbsim.evaluate builds it (or settlement_context(paths, contracts=[...])); "
                "with plain numbers pass excess={stop_loss.attachment: amount}")
        excess = ctx.lookup("excess", self.attachment, by)
        rec = (1.0 - self.coinsurance) * excess
        if self.premium_load is not None:
            mapped_da = (isinstance(self.attachment, tuple) and ctx.kind == "dataarray"
                         and not any(k == self.attachment for k in ctx.get("expected_excess")
                                     or {}))
            if ctx.has("expected_excess") and not mapped_da:
                expected = ctx.lookup("expected_excess", self.attachment, by + ".premium_load")
            elif ctx.kind == "dataarray" and "scenario" in ctx.template.dims:
                ax = ctx.template.dims.index("scenario")
                expected = np.mean(excess, axis=ax, keepdims=True)
            else:
                ctx.need("expected_excess", by + ".premium_load")
            prem = (1.0 - self.coinsurance) * expected * (1.0 + self.premium_load)
        elif self.premium_pmpm:
            prem = self.premium_pmpm * ctx.need("member_months", by + ".premium_pmpm")
        else:
            prem = np.zeros(np.shape(rec))
        return rec, prem


@dataclasses.dataclass(frozen=True)
class AggregateStopLoss(Term):
    """Aggregate stop-loss on the total counted expenditure.

    Recoveries = (1 - coinsurance) x clip(spend - attachment x base, 0, (limit - attachment) x
    base), with base = context ``expected_cost`` (``basis="expected"``) or the final benchmark
    (``basis="benchmark"``). Spend is net of any individual stop-loss recoveries applied first.

    Parameters
    ----------
    attachment : e.g. 1.10 for 110% of the base.
    limit : upper end of the reimbursed layer as a multiple of the base (None: unlimited).
    basis : "expected" or "benchmark".
    coinsurance : share of the layer the provider still bears.
    premium_rate : premium as a share of the base.

    Examples
    --------
    >>> agg = AggregateStopLoss(attachment=1.10, limit=1.30, basis="benchmark")
    >>> rec, _ = agg.apply(np.array(125.0), np.array(100.0), _ctx())
    >>> round(float(rec), 6)  # 125 - 110, within the 20-wide layer
    15.0
    """

    attachment: float
    limit: float | None = None
    basis: str = "expected"
    coinsurance: float = 0.0
    premium_rate: float = 0.0

    def __post_init__(self) -> None:
        self._real("attachment", 0, math.inf)
        self._opt_real("limit", self.attachment, math.inf, lo_open=True)
        self._choice("basis", ["expected", "benchmark"])
        self._real("coinsurance", 0, 1)
        self._real("premium_rate", 0, 1)

    def apply(self, counted: np.ndarray, base: np.ndarray | None,
              ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        if self.basis == "expected":
            base = ctx.need("expected_cost", "AggregateStopLoss(basis='expected')")
        layer_top = np.inf if self.limit is None else (self.limit - self.attachment) * base
        layer = np.clip(counted - self.attachment * base, 0.0, layer_top)
        return (1.0 - self.coinsurance) * layer, self.premium_rate * base + 0.0 * counted


def cohort_values(field: str, value: Any) -> float | tuple[tuple[str, float], ...]:
    """A positive finite number, or a mapping cohort -> positive finite number as a sorted tuple
    of ``(cohort, value)`` pairs (a tuple of pairs, the stored form, is accepted too).

    >>> cohort_values("attachment", {"esrd": 4e5, "aged": 1e5})
    (('aged', 100000.0), ('esrd', 400000.0))
    >>> cohort_values("attachment", {"esrd": -1})
    Traceback (most recent call last):
    ...
    vbsim._validate.VbsimInputError: attachment['esrd'] must be in (0, inf); got -1
    """
    pairs = None
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, tuple) and value and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in value):
        pairs = list(value)
    if pairs is None:
        return check_real(field, value, 0, math.inf, lo_open=True)
    if not pairs:
        raise VbsimInputError(f"{field} must name at least one cohort (cohort -> attachment)")
    out = {}
    for k, v in pairs:
        if not isinstance(k, str) or not k:
            raise VbsimInputError(f"{field} keys must be cohort names (strings); got {k!r}")
        if k in out:
            raise VbsimInputError(f"{field} names cohort {k!r} twice")
        out[k] = check_real(f"{field}[{k!r}]", v, 0, math.inf, lo_open=True, hi_open=True)
    return tuple(sorted(out.items()))


def stop_loss_thresholds(contract: Any) -> tuple[float, ...]:
    """Every per-member threshold a contract needs the engine to compute (sorted floats).

    Reads the individual stop-losses of a :class:`~vbsim.contracts.Contract` (per-cohort
    attachments contribute each distinct value); any other object's ``thresholds``.

    >>> from vbsim.contracts import Contract, IndividualStopLoss as ISL
    >>> stop_loss_thresholds(Contract("x", stop_loss=ISL({"a": 2e5, "b": 1e5})))
    (100000.0, 200000.0)
    """
    sls = getattr(contract, "stop_loss", None)
    if hasattr(contract, "stop_loss") and hasattr(contract, "sharing"):
        sls = () if sls is None else (sls if isinstance(sls, (tuple, list)) else (sls,))
        return tuple(sorted({float(t) for s in sls for t in getattr(s, "thresholds", ())}))
    return tuple(sorted({float(t) for t in getattr(contract, "thresholds", ())}))


def _ctx(expenditure: float = 0.0, **context: object) -> Context:
    """A Context from keyword inputs (doctest helper)."""
    from .settlement import prepare

    return prepare(0.0, expenditure, context)
