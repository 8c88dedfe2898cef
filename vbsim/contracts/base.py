"""The :class:`Contract`: optional term slots composed by one settlement pipeline.

Pipeline (docs/contracts.md):

1. final benchmark = benchmark x (1 - discount); a benchmark-type quality withhold then removes
   rate x that and adds back the part earned by quality score;
2. stop-loss (individual, then aggregate, in the order given): counted expenditure =
   expenditure - recoveries + premiums;
3. G = final benchmark - counted expenditure, r = G / final benchmark;
4. sharing rule (gate, rate, sequestration on savings before the cap, relief, caps / limits);
5. quality gate (voids positive shared savings), payment-type withhold, P4P;
6. capitation / case-rate cash flows;
7. provider_net, payer_net = (benchmark - expenditure) - provider_net (with truncation, the
   untruncated benchmark: context ``payer_benchmark``, else the truncated one plus the cost
   truncated off).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError

from ._term import Term
from .capitation import Capitation
from .corridors import Corridors
from .episodes import Bundle, CaseRate
from .quality import PayForPerformance, QualityGate, QualityWithhold
from .settlement import Settlement, prepare
from .shared_savings import SharedSavings, TwoSidedRisk
from .stoploss import AggregateStopLoss, IndividualStopLoss

SHARING_TYPES = (SharedSavings, TwoSidedRisk, Corridors, Bundle)
STOP_LOSS_TYPES = (IndividualStopLoss, AggregateStopLoss)
CAPITATION_TYPES = (Capitation, CaseRate)
# The engine's excess is of each member's whole cost; a partial capitation's provider bears only
# the covered services, whose cost above an attachment is not simulated.
_PARTIAL_STOP_LOSS = (
    "Contract.stop_loss with a partial capitation (covered share < 1) and no sharing rule is not "
    "modelled: the excess above an attachment is of each member's whole cost, not of the "
    "covered services the provider bears (it could exceed the covered spend); use a global "
    "capitation or a sharing rule")


def _slot(name: str, value: Any, types: tuple[type, ...]) -> None:
    if value is not None and not isinstance(value, types):
        allowed = ", ".join(t.__name__ for t in types)
        raise VbsimInputError(f"Contract.{name} must be one of {allowed} or None; got {value!r}")


@dataclasses.dataclass(frozen=True)
class Contract(Term):
    """A value-based contract: a discount and optional term slots, settled by one pipeline.

    Parameters
    ----------
    name : a label.
    discount : share of the benchmark removed before settlement (REACH Global 3-3.5% [C]).
    sharing : SharedSavings, TwoSidedRisk, Corridors, Bundle or None.
    quality : QualityWithhold or None.
    quality_gate : QualityGate or None (voids shared savings when failed).
    p4p : PayForPerformance or None.
    stop_loss : IndividualStopLoss, AggregateStopLoss, a tuple of them, or None.
    capitation : Capitation, CaseRate or None.
    sequestration : reduction of shared-savings payments (not losses), before caps; 2% [C].
    source : a note on where the numbers come from (presets fill it in).

    Examples
    --------
    >>> c = Contract("upside", sharing=SharedSavings(rate=0.5, msr=0.02, cap=0.1))
    >>> c.settle(benchmark=100.0, expenditure=90.0).payment  # 50% x 10 x 0.98
    4.9
    >>> c.replace(**{"sharing.rate": 0.6}).sharing.rate
    0.6
    """

    name: str
    discount: float = 0.0
    sharing: Any = None
    quality: QualityWithhold | None = None
    quality_gate: QualityGate | None = None
    p4p: PayForPerformance | None = None
    stop_loss: Any = None
    capitation: Any = None
    sequestration: float = 0.02  # Medicare sequestration of savings payments [C, DOMAIN.md s.1]
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise VbsimInputError(f"Contract.name must be a string; got {self.name!r}")
        self._real("discount", 0, 1, hi_open=True)
        self._real("sequestration", 0, 1, hi_open=True)
        _slot("sharing", self.sharing, SHARING_TYPES)
        _slot("quality", self.quality, (QualityWithhold,))
        _slot("quality_gate", self.quality_gate, (QualityGate,))
        _slot("p4p", self.p4p, (PayForPerformance,))
        _slot("capitation", self.capitation, CAPITATION_TYPES)
        sl = self.stop_loss
        if isinstance(sl, list):
            sl = tuple(sl)
        if isinstance(sl, tuple):
            for x in sl:
                _slot("stop_loss", x, STOP_LOSS_TYPES)
            sl = sl or None
        else:
            _slot("stop_loss", sl, STOP_LOSS_TYPES)
            sl = None if sl is None else (sl,)
        self._set("stop_loss", sl)
        if (self.quality is not None and self.quality.applies_to == "benchmark"
                and self.sharing is None):
            raise VbsimInputError(
                "Contract.quality.applies_to must be 'payment' when there is no sharing rule "
                "(a benchmark withhold needs a reconciliation); got 'benchmark'"
            )
        if (sl and self.sharing is None and isinstance(self.capitation, Capitation)
                and self.capitation.covered_share < 1):
            raise VbsimInputError(_PARTIAL_STOP_LOSS)
        if not isinstance(self.source, str):
            raise VbsimInputError(f"Contract.source must be a string; got {self.source!r}")

    @property
    def thresholds(self) -> tuple[float, ...]:
        """Per-member dollar thresholds the engine must report ``excess`` at (sorted).

        >>> Contract("x", stop_loss=IndividualStopLoss(250_000)).thresholds
        (250000.0,)
        >>> Contract("x", stop_loss=IndividualStopLoss({"a": 9e4, "b": 4e5})).thresholds
        (90000.0, 400000.0)
        """
        return tuple(sorted({float(t) for s in self.stop_loss or ()
                             if isinstance(s, IndividualStopLoss) for t in s.thresholds}))

    def settle(self, benchmark: Any = None, expenditure: Any = None, **context: Any) -> Settlement:
        """Settle one performance year (vectorised over arrays / DataArrays).

        Parameters
        ----------
        benchmark : pre-discount benchmark total (optional for a bundle with ``target_price`` and
            ``episodes``, and for a contract without a sharing rule, where it defaults to the
            expenditure, i.e. the payer's fee-for-service cost).
        expenditure : actual total cost of care.
        **context : quality_score, quality_standard_met, assigned_beneficiaries, member_months,
            revenue, relief, excess, expected_excess, expected_cost, episodes, cases,
            risk_score, covered_spend, covered_share.

        Returns
        -------
        Settlement with the same kind as the inputs (floats, arrays or DataArrays).
        """
        if expenditure is None:
            raise VbsimInputError("expenditure is required (actual total cost of care)")
        derived_benchmark = benchmark is None
        if benchmark is None:
            if isinstance(self.sharing, Bundle) and self.sharing.target_price is not None:
                if context.get("episodes") is None:
                    raise VbsimInputError(
                        "context 'episodes' is required by Bundle.target_price when no benchmark "
                        "is passed"
                    )
                benchmark = 0.0
            elif self.sharing is None:
                benchmark = 0.0
            else:
                raise VbsimInputError("benchmark is required (pre-discount benchmark total, >= 0)")
        ctx = prepare(benchmark, expenditure, context)
        E = ctx.get("expenditure")
        if derived_benchmark:
            if isinstance(self.sharing, Bundle):
                B0 = self.sharing.target_price * ctx.get("episodes")
            else:
                B0 = E
        else:
            B0 = ctx.get("benchmark")
        return Settlement.build(ctx, self._pipeline(B0, E, ctx))

    def _pipeline(self, B0: np.ndarray, E: np.ndarray, ctx: Any) -> dict[str, np.ndarray]:
        shape = ctx.shape
        zero = np.zeros(shape)
        v: dict[str, Any] = {"benchmark": B0, "expenditure": E}
        # 1. discount and benchmark-type withhold
        v["discount"] = B0 * self.discount
        B = B0 - v["discount"]
        v["withhold"] = v["withhold_earned"] = zero
        if self.quality is not None:
            q = ctx.need("quality_score", "Contract.quality (withhold earned back by score)")
            v["withhold"], v["withhold_earned"] = self.quality.amounts(B, q)
            if self.quality.applies_to == "benchmark":
                B = B - v["withhold"] + v["withhold_earned"]
        v["final_benchmark"] = B
        # 2. stop-loss
        rec_total, prem_total, counted, truncated = zero, zero, E, zero
        for sl in self.stop_loss or ():
            rec, prem = sl.apply(counted, B, ctx)
            counted = counted - rec
            rec_total, prem_total = rec_total + rec, prem_total + prem
            if getattr(sl, "truncates_benchmark", False):
                truncated = truncated + rec
        counted = counted + prem_total
        v["stop_loss_recoveries"], v["stop_loss_premium"] = rec_total, prem_total
        v["stop_loss_hit"] = rec_total > 0
        v["counted_expenditure"] = counted
        # 3. gross savings on the final benchmark
        G = B - counted
        r = np.divide(G, B, out=np.zeros(shape), where=B > 0)
        v["gross_savings"], v["savings_rate"] = G, r
        # 4. sharing rule
        if self.sharing is not None:
            v.update(self.sharing.share(G, B, r, ctx, self.sequestration))
        else:
            v.update(gate_met=np.zeros(shape, bool), shared_before_cap=zero, sequestration=zero,
                     relief=zero, shared_after_cap=zero, cap_hit=np.zeros(shape, bool),
                     quality_adjustment=zero)
        # 5. quality gate, payment withhold, P4P
        ok = np.ones(shape, bool)
        if self.quality_gate is not None:
            q = ctx.get("quality_score")
            if self.quality_gate.min_score > 0 and q is None:
                ctx.need("quality_score", "QualityGate.min_score")
            ok = self.quality_gate.passed(q, ctx.get("quality_standard_met"))
            v["shared_after_cap"] = np.where(ok, v["shared_after_cap"],
                                             np.minimum(v["shared_after_cap"], 0.0))
        v["quality_gate_met"] = ok
        payment = v["shared_after_cap"]
        if self.quality is not None and self.quality.applies_to == "payment":
            payment = payment - v["withhold"] + v["withhold_earned"]
        v["p4p"] = zero
        if self.p4p is not None:
            v["p4p"] = self.p4p.amount(ctx.need("quality_score", "Contract.p4p"), B, ctx)
            payment = payment + v["p4p"]
        # 6. capitation cash flows
        v["capitation"] = v["covered_spend"] = zero
        if self.capitation is not None:
            v["capitation"], v["covered_spend"] = self.capitation.cash(E, ctx)
        # 7. nets
        if self.sharing is None:
            payment = payment + v["capitation"] + rec_total - prem_total
            provider_net = payment - v["covered_spend"]
        else:
            provider_net = payment
        v["payment"], v["provider_net"] = payment, provider_net
        # The payer pays every claim: its gain is measured against the untruncated benchmark,
        # given on simulated paths as payer_benchmark; on plain numbers the truncated benchmark
        # plus the truncated-off cost stands in for it (the same in expectation).
        payer_b = ctx.get("payer_benchmark") if ctx.has("payer_benchmark") else B0 + truncated
        v["payer_net"] = (payer_b - E) - provider_net
        return v

    def _repr_html_(self) -> str:
        """The contract as an HTML table in Jupyter (every term and parameter)."""
        from vbsim.negotiate import ContractTable

        return ContractTable(self)._repr_html_()

    def __str__(self) -> str:
        """A readable multi-line summary: name, source and every set parameter.

        >>> print(Contract("upside", sharing=SharedSavings(rate=0.5, msr=0.02)))
        Contract 'upside'
          discount                 0.0
          sharing                  SharedSavings
          sharing.rate             0.5
          sharing.msr              0.02
          sharing.cap              None
          sharing.scale_by_quality False
          sequestration            0.02
        """
        lines = [f"Contract {self.name!r}"]
        if self.source:
            lines.append(f"  ({self.source})")
        items: list[tuple[str, Any]] = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("name", "source") or v is None:
                continue
            if isinstance(v, Term):
                items.append((f.name, type(v).__name__))
                items += [(f"{f.name}.{k}", x) for k, x in v.params().items()]
            elif isinstance(v, tuple):
                for i, x in enumerate(v):
                    items.append((f"{f.name}.{i}", type(x).__name__))
                    items += [(f"{f.name}.{i}.{k}", y) for k, y in x.params().items()]
            else:
                items.append((f.name, v))
        w = max(len(k) for k, _ in items)
        return "\n".join(lines + [f"  {k:<{w}} {x}" for k, x in items])

    def with_name(self, name: str) -> Contract:
        """A copy under another name."""
        return dataclasses.replace(self, name=name)

