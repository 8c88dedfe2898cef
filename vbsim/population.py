"""Cohorts of members and the population the engine simulates.

A :class:`Cohort` is a group of members (aged non-dual, aged dual, disabled, ESRD, high-needs or
anything user-defined) sharing one member cost model and one set of member dynamics:

- risk score ``r`` per member, lognormal with mean 1 and log-sd ``risk_sd``, fixed while the
  member stays; the member's cost is ``r x X`` with ``X`` from the cost model;
- latent cost rank ``z`` following a stationary Gaussian AR(1) with correlation ``persistence``
  from year to year, mapped to a cost through the cost model's quantile function;
- death with annual probability ``min(mortality x r, 1 - churn)`` (sicker members die more
  often), at a uniform time in the year; the death year costs ``eol_uplift`` times the member's
  ordinary annual cost;
- leaving (``churn``) at a uniform time in the year, cost pro-rated;
- a member who died or left is replaced at the start of the next year with probability
  ``replacement`` (1.0: the panel is stable) by a new member with a fresh risk score and rank;
- net alignment growth: ``growth`` opens new member slots each year so that the cohort's slots
  number ``round(members (1 + growth)^(t-1))`` in year t (joiners draw like replacements);
- ageing: each year a member stays, its risk score (so its cost) is multiplied by
  ``1 + risk_ageing`` and its death probability by ``1 + mortality_ageing``; entrants come in
  at the base distribution, so the cohort's case mix drifts with tenure and turnover;
- an additive end-of-life amount ``eol_cost`` (year-0 dollars, trended) in the death year, on
  top of the ``eol_uplift`` multiple;
- with ageing on, starting members carry a stationary prior tenure (``stationary_start``) so a
  stable panel does not drift merely because the simulation starts;
- cohort transitions: at the start of each year a continuing member moves to another cohort
  with the probabilities in ``transitions`` (e.g. aged non-dual to high-needs), keeping its
  latent rank and risk score; from then on it is priced, aged and counted in its new cohort.

Every numeric default carries its source (``/work/shared/DOMAIN.md`` section 5, the public data
under ``shared/data``) or says "assumption"; see ``docs/engine.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_int, check_real
from vbsim.costs import (  # noqa: F401
    MAX_MEAN,
    CostModel,
    Lognormal,
    Spliced,
    cost_model_from_dict,
)

__all__ = ["Cohort", "Population", "standard_cohort"]

# Defaults (docs/engine.md "Defaults"):
RISK_SD = 0.5        # assumption: DOMAIN.md s5 says risk scores have mean 1.0 [C], spread [A]
PERSISTENCE = 0.7    # DOMAIN.md s5: 28% of the top decile stay there in each of the next two
#                      years [C]; rho 0.7 with RISK_SD 0.5 and the default Spliced gives 28%
#                      (deaths ignored; 0.6 gives 20%), see docs/engine.md
MORTALITY = 0.045    # assumption: ~4-5% annual deaths among Medicare FFS beneficiaries
EOL_UPLIFT = 5.0     # assumption after Riley & Lubitz (2010): decedents, ~5% of Medicare
#                      members, take ~25% of spending; with risk-scaled mortality 4.5% and
#                      RISK_SD 0.5, 5x gives decedents 24.5% of cost (4x: 20.6%)
CHURN = 0.10         # assumption: annual loss of assignment for reasons other than death
REPLACEMENT = 1.0    # assumption: new alignment replaces exits, so the panel is stable
# Population dynamics over many years (docs/engine.md "Dynamics"); all off by default so a
# one-year or stable-panel run is unchanged. Typical values, for scenario files:
#   growth 0.0-0.10 a year (assumption: ACO alignment growth varies widely by strategy);
#   risk_ageing ~0.03 a year (assumption: Medicare FFS per-capita spending rises about 3-4% per
#     year of age between 65 and 85, CMS age-group spending tables);
#   mortality_ageing ~0.09 a year (Gompertz: adult mortality doubles about every 8 years).
GROWTH = 0.0
RISK_AGEING = 0.0
MORTALITY_AGEING = 0.0
EOL_COST = 0.0


def start_nodes(c: Cohort, r: np.ndarray, w: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year-1 risk scores, weights and uncapped death probabilities of a cohort's starting
    members, from quadrature nodes ``r`` (weights ``w``) over the risk score ``R``: with a
    stationary start and ageing, each node is split by the prior tenure ``A``
    (:func:`vbsim.engine.kernel.prior_tenure`: ``A = floor(log U / log(1 - q))`` capped at
    ``TENURE_MAX``, so ``P(A = k) = (1 - q)^k q`` below the cap), which scales the risk score
    by ``(1 + risk_ageing)^A`` and the death probability by ``(1 + mortality_ageing)^A``.
    Nodes of zero weight are dropped.

    >>> c = Cohort("a", 10, Lognormal(mean=1.0), risk_sd=0.0, mortality=0.1, churn=0.0,
    ...            risk_ageing=0.1)
    >>> r, w, m = start_nodes(c, np.array([1.0]), np.array([1.0]))
    >>> round(float(w.sum()), 12), round(float(r[1]), 3), round(float(w[1]), 3)  # A = 1
    (1.0, 1.1, 0.09)
    """
    from vbsim.engine.kernel import TENURE_MAX

    mraw = c.mortality * r
    if not (c.stationary_start and (c.risk_ageing or c.mortality_ageing)):
        return r, w, mraw
    q = np.minimum(mraw, 1.0 - c.churn) + c.churn
    k = np.arange(int(TENURE_MAX) + 1, dtype=float)
    stay = np.where((q > 0) & (q < 1), 1.0 - q, 0.0)[:, None]  # q = 0 or 1: no tenure (A = 0)
    pk = np.where(k < TENURE_MAX, stay**k * (1.0 - stay), stay**k)
    ra, ma = (1.0 + c.risk_ageing) ** k, (1.0 + c.mortality_ageing) ** k
    wk = (w[:, None] * pk).ravel()
    keep = wk > 0.0
    return ((r[:, None] * ra).ravel()[keep], wk[keep], (mraw[:, None] * ma).ravel()[keep])


@lru_cache(maxsize=1)
def _hermite_nodes() -> tuple[np.ndarray, np.ndarray]:
    """80-point Gauss-Hermite (probabilists') nodes and normalised weights, computed once."""
    x, w = np.polynomial.hermite_e.hermegauss(80)
    return x, w / w.sum()


@dataclass(frozen=True)
class Cohort:
    """A group of members with one cost model and one set of member dynamics.

    Parameters
    ----------
    name : str
        Label (unique within a population), e.g. ``"aged_non_dual"``.
    members : int
        Number of members (slots) at the start of year 1, >= 1.
    cost : CostModel
        Annual cost of a member with risk score 1 at year-0 cost level (:mod:`vbsim.costs`).
    risk_sd : float
        Log-sd of the lognormal risk score (mean 1), in [0, 2]. Default 0.5 (assumption).
    persistence : float
        Year-to-year correlation of the latent cost rank, in [0, 0.999]. Default 0.7: reproduces
        the 28% top-decile persistence of DOMAIN.md section 5 (with the default risk spread).
    mortality : float
        Annual death probability of a member with risk score 1, in [0, 0.5]. Default 0.045
        (assumption).
    eol_uplift : float
        Death-year cost as a multiple of the ordinary annual cost, in [0, 50]. Default 5.0
        (assumption: decedents then take ~25% of cost, as in Riley & Lubitz 2010).
    churn : float
        Annual probability of leaving for other reasons, in [0, 0.5]. Default 0.10 (assumption).
    replacement : float
        Probability that an exit is replaced by a new member next year, in [0, 1]. Default 1.0.
    growth : float
        Net alignment growth a year, in [0, 1]: new slots open so that the cohort holds
        ``round(members (1 + growth)^k)`` slots in simulated year ``y``, with
        ``k = max(0, y - growth_start + 1)``. Default 0.
    growth_start : int
        First simulated year with grown membership, in [2, 50]. Default 2 (growth from year
        2 on); a multi-year scenario with 3 base years sets 4 (growth from PY1).
    risk_ageing : float
        Yearly relative growth of a staying member's risk score (and cost), in [-0.5, 1].
        Default 0 (see the module notes for typical values).
    mortality_ageing : float
        Yearly relative growth of a staying member's death probability, in [-0.5, 1].
        Default 0.
    eol_cost : float
        Additive death-year cost in year-0 dollars (trended like all costs), >= 0. Default 0.
    stationary_start : bool
        With ageing on, each starting member has already been aligned for a prior tenure drawn
        from the stationary distribution of a slot (geometric with the member's exit
        probability, at most 40 years) and starts with that many years of ageing, so a stable
        panel's case mix does not drift merely because the simulation starts. False: everyone
        starts at tenure 0 (a newly formed panel). Default True.
    transitions : mapping of cohort name to probability
        Annual probability that a continuing member moves to another cohort of the
        population, e.g. ``{"high_needs": 0.03}``; each in [0, 1], summing to at most 1. A
        moved member keeps its latent cost rank and risk score (the sick stay sick) and takes
        its new cohort's cost model, persistence, death and exit rates (its accumulated
        mortality ageing is kept), ageing and end-of-life cost; it is counted in the new
        cohort (``new_members`` there in the year it moves) and may move on by the new
        cohort's own ``transitions``. Its slot stays with this cohort: when it dies or
        leaves, this cohort's ``replacement`` refills it. Moves start in year 2; a starting
        member's prior tenure (``stationary_start``) ignores them, and the closed-form helpers
        (:meth:`expected_cost_pbpy`, :func:`vbsim.reality.truncation_points`, :mod:`vbsim.exact`)
        describe a cohort's own members without moves. Default: none.
    transition_rank_effect : float
        ``beta`` in [-3, 3]: a member whose latent cost rank last year was ``z`` moves out of
        this cohort with the probabilities of ``transitions`` times ``exp(beta z - beta^2 / 2)``
        (mean 1 over the stationary ranks, so the average rate is kept while the probabilities
        stay below 1; each capped at 1). Positive: members who cost more are likelier to move
        (e.g. into high-needs). Default 0: movers are drawn whatever their cost (assumption).
    transition_risk_effect : float
        ``gamma`` in [-3, 3]: the same tilt by the member's risk score ``r`` instead of its
        cost rank: the probabilities are multiplied by ``exp(gamma zeta - gamma^2 / 2)``, with
        ``zeta = (log r + s^2 / 2) / s`` its standardised log risk score (``s`` the
        ``risk_sd`` of the cohort it is in; ``zeta ~ N(0, 1)`` for new members, so the average
        rate is kept for them; with ``risk_ageing`` it rises with tenure and so do moves).
        Combines with ``transition_rank_effect`` (the factors multiply; rank and risk score
        are independent). Needs ``risk_sd > 0``. Default 0 (assumption).
    benchmark_pbpy : float or None
        Benchmark per beneficiary-year at risk score 1 and year-0 cost level. None: the cohort's
        expected cost per member-year divided by its expected risk score
        (:meth:`expected_pbpy`), so the benchmark is fair on average in year 1.

    Examples
    --------
    >>> c = Cohort("aged", 1000, Lognormal(mean=11_000, cv=2.0), mortality=0.0, churn=0.0)
    >>> round(c.expected_pbpy())
    11000
    """

    name: str
    members: int
    cost: CostModel
    risk_sd: float = RISK_SD
    persistence: float = PERSISTENCE
    mortality: float = MORTALITY
    eol_uplift: float = EOL_UPLIFT
    churn: float = CHURN
    replacement: float = REPLACEMENT
    benchmark_pbpy: float | None = None
    growth: float = GROWTH
    growth_start: int = 2
    risk_ageing: float = RISK_AGEING
    mortality_ageing: float = MORTALITY_AGEING
    eol_cost: float = EOL_COST
    stationary_start: bool = True
    transitions: Mapping[str, float] | tuple[tuple[str, float], ...] = ()
    transition_rank_effect: float = 0.0
    transition_risk_effect: float = 0.0

    def __post_init__(self) -> None:
        f = object.__setattr__
        if not isinstance(self.name, str) or not self.name:
            raise VbsimInputError(f"Cohort.name must be a non-empty string; got {self.name!r}")
        if isinstance(self.cost, dict):
            f(self, "cost", cost_model_from_dict(self.cost))
        if not isinstance(self.cost, CostModel):
            raise VbsimInputError(
                f"Cohort.cost must be a vbsim.costs model (Lognormal, Spliced, CompoundPoisson); "
                f"got {self.cost!r}")
        f(self, "members", check_int("Cohort.members", self.members, 1, 10**9))
        f(self, "risk_sd", check_real("Cohort.risk_sd", self.risk_sd, 0, 2))
        f(self, "persistence", check_real("Cohort.persistence", self.persistence, 0, 0.999))
        f(self, "mortality", check_real("Cohort.mortality", self.mortality, 0, 0.5))
        f(self, "eol_uplift", check_real("Cohort.eol_uplift", self.eol_uplift, 0, 50))
        f(self, "churn", check_real("Cohort.churn", self.churn, 0, 0.5))
        f(self, "replacement", check_real("Cohort.replacement", self.replacement, 0, 1))
        f(self, "growth", check_real("Cohort.growth", self.growth, 0, 1))
        f(self, "growth_start", check_int("Cohort.growth_start", self.growth_start, 2, 50))
        f(self, "risk_ageing", check_real("Cohort.risk_ageing", self.risk_ageing, -0.5, 1))
        f(self, "mortality_ageing",
          check_real("Cohort.mortality_ageing", self.mortality_ageing, -0.5, 1))
        f(self, "eol_cost", check_real("Cohort.eol_cost", self.eol_cost, 0, 1e8))
        if not isinstance(self.stationary_start, bool):
            raise VbsimInputError("Cohort.stationary_start must be true or false; got "
                                  f"{self.stationary_start!r}")
        f(self, "transitions", _check_transitions(self.name, self.transitions))
        # |beta| <= 3 (assumption): beyond it almost every move comes from the extreme ranks
        f(self, "transition_rank_effect",
          check_real("Cohort.transition_rank_effect", self.transition_rank_effect, -3, 3))
        # |gamma| <= 3 (assumption, as for beta)
        f(self, "transition_risk_effect",
          check_real("Cohort.transition_risk_effect", self.transition_risk_effect, -3, 3))
        if self.transition_risk_effect != 0.0 and self.risk_sd == 0.0:
            raise VbsimInputError(
                f"Cohort.transition_risk_effect needs Cohort.risk_sd > 0 (cohort {self.name!r}: "
                "with equal risk scores there is no risk score to select movers by); got "
                f"transition_risk_effect={self.transition_risk_effect:g}, risk_sd=0")
        if self.benchmark_pbpy is not None:
            f(self, "benchmark_pbpy",
              check_real("Cohort.benchmark_pbpy", self.benchmark_pbpy, 0, MAX_MEAN,
                         lo_open=True))

    def _risk_nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Gauss-Hermite nodes (risk scores) and weights for E over the risk score."""
        x, w = _hermite_nodes()
        s = self.risk_sd
        return np.exp(s * x - 0.5 * s * s), w

    def expected_cost_pbpy(self) -> float:
        """Expected cost per member-year of a year-1 member (risk mix, deaths, churn).

        With a stationary start and ageing, over the starting members' prior tenures
        (:func:`start_nodes`): their risk scores and death probabilities have aged already.

        >>> c = Cohort("a", 10, Lognormal(mean=100.0, cv=1.0), risk_sd=0.0, mortality=0.1,
        ...            eol_uplift=3.0, churn=0.0)
        >>> round(c.expected_cost_pbpy(), 6)  # (0.9 x 100 + 0.1 x 300) / (0.9 + 0.1 x 0.5)
        126.315789
        """
        r, w, mraw = start_nodes(self, *self._risk_nodes())
        m = np.minimum(mraw, 1.0 - self.churn)
        stay = 1.0 - m - self.churn
        cost = (self.cost.mean * np.dot(w, r * (m * self.eol_uplift + 0.5 * self.churn + stay))
                + self.eol_cost * np.dot(w, m))
        years = np.dot(w, 0.5 * (m + self.churn) + stay)
        return float(cost / years)

    def expected_pbpy(self) -> float:
        """Default benchmark PBPY: E[year-1 cost] / E[risk score x member-years], over the
        starting members' prior tenures with a stationary start and ageing (:func:`start_nodes`;
        their aged death probabilities raise cost more than risk scores, so the tenure-0
        formula put the benchmark 19-39% low with 9% mortality ageing)."""
        r, w, mraw = start_nodes(self, *self._risk_nodes())
        m = np.minimum(mraw, 1.0 - self.churn)
        stay = 1.0 - m - self.churn
        cost = (self.cost.mean * np.dot(w, r * (m * self.eol_uplift + 0.5 * self.churn + stay))
                + self.eol_cost * np.dot(w, m))
        ry = np.dot(w, r * (0.5 * (m + self.churn) + stay))
        return float(cost / ry)

    @property
    def pbpy(self) -> float:
        """The benchmark PBPY used: ``benchmark_pbpy`` or :meth:`expected_pbpy`."""
        return self.benchmark_pbpy if self.benchmark_pbpy is not None else self.expected_pbpy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"name": self.name, "members": self.members, "cost": self.cost.to_dict(),
                "risk_sd": self.risk_sd, "persistence": self.persistence,
                "mortality": self.mortality, "eol_uplift": self.eol_uplift, "churn": self.churn,
                "replacement": self.replacement, "benchmark_pbpy": self.benchmark_pbpy,
                "growth": self.growth, "growth_start": self.growth_start,
                "risk_ageing": self.risk_ageing,
                "mortality_ageing": self.mortality_ageing, "eol_cost": self.eol_cost,
                "stationary_start": self.stationary_start,
                "transitions": dict(self.transitions),
                "transition_rank_effect": self.transition_rank_effect,
                "transition_risk_effect": self.transition_risk_effect}

    def slots(self, years: int) -> np.ndarray:
        """Member slots open in each year 1..``years`` (``members`` grown by ``growth``).

        >>> Cohort("a", 100, Lognormal(mean=1.0, cv=1.0), growth=0.1).slots(3).tolist()
        [100, 110, 121]
        >>> Cohort("a", 100, Lognormal(mean=1.0, cv=1.0), growth=0.1, growth_start=3).slots(3)
        array([100, 100, 110])
        """
        steps = np.maximum(0, np.arange(1, years + 1) - self.growth_start + 1)
        n = self.members * (1.0 + self.growth) ** steps
        if n[-1] > 10**9:  # the members bound; beyond it int64 overflows soon after
            y = int(np.argmax(n > 10**9)) + 1
            raise VbsimInputError(
                f"Cohort {self.name!r} would grow to {n[y - 1]:,.0f} members by year {y} "
                f"(members {self.members:,}, growth {self.growth:g} a year); at most 10^9")
        return np.maximum(np.rint(n).astype(np.int64), self.members)


def _check_transitions(name: str, trans: Any) -> tuple[tuple[str, float], ...]:
    """``Cohort.transitions`` as a tuple of (destination, probability) pairs, validated."""
    if isinstance(trans, Mapping):
        items = list(trans.items())
    elif isinstance(trans, (tuple, list)) and all(
            isinstance(x, (tuple, list)) and len(x) == 2 for x in trans):
        items = [tuple(x) for x in trans]
    else:
        raise VbsimInputError("Cohort.transitions must map cohort names to annual probabilities, "
                              f"e.g. {{'high_needs': 0.03}}; got {trans!r}")
    out = []
    for dest, prob in items:
        if not isinstance(dest, str) or not dest:
            raise VbsimInputError(f"Cohort.transitions: keys must be cohort names; got {dest!r}")
        if dest == name:
            raise VbsimInputError(f"Cohort.transitions[{dest!r}]: a cohort cannot move to itself")
        out.append((dest, check_real(f"Cohort.transitions[{dest!r}]", prob, 0, 1)))
    if len({d for d, _ in out}) < len(out):
        raise VbsimInputError(f"Cohort.transitions: repeated destination in {trans!r}")
    total = sum(p for _, p in out)
    if total > 1.0 + 1e-12:
        raise VbsimInputError(f"Cohort.transitions: probabilities must sum to at most 1 "
                              f"(they are annual probabilities of one move); got {total:g}")
    return tuple(sorted((d, p) for d, p in out if p > 0.0))


class Population:
    """An immutable tuple of cohorts with unique names.

    Parameters
    ----------
    cohorts : iterable of Cohort
        At least one cohort.

    Examples
    --------
    >>> pop = Population([Cohort("aged", 800, Lognormal(mean=11_000, cv=2.0)),
    ...                   Cohort("esrd", 20, Lognormal(mean=89_000, cv=1.0))])
    >>> pop.members, pop.names
    (820, ('aged', 'esrd'))
    """

    __slots__ = ("cohorts",)

    def __init__(self, cohorts: Iterable[Cohort]) -> None:
        if isinstance(cohorts, Cohort):
            cohorts = [cohorts]
        cs = tuple(cohorts)
        if not cs:
            raise VbsimInputError("Population.cohorts must hold at least one Cohort")
        for i, c in enumerate(cs):
            if not isinstance(c, Cohort):
                raise VbsimInputError(f"Population.cohorts[{i}] must be a Cohort; got {c!r}")
        names = [c.name for c in cs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise VbsimInputError(f"Population.cohorts names must be unique; repeated: {dup}")
        for c in cs:
            unknown = sorted(d for d, _ in c.transitions if d not in names)
            if unknown:
                raise VbsimInputError(
                    f"Cohort {c.name!r}: transitions to unknown cohorts {unknown}; the "
                    f"population has {names}")
        object.__setattr__(self, "cohorts", cs)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("Population is immutable")

    @property
    def members(self) -> int:
        """Total members at the start of year 1."""
        return sum(c.members for c in self.cohorts)

    @property
    def names(self) -> tuple[str, ...]:
        """Cohort names in order."""
        return tuple(c.name for c in self.cohorts)

    def __len__(self) -> int:
        return len(self.cohorts)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.cohorts)

    def __getitem__(self, key: int | str) -> Cohort:
        if isinstance(key, str):
            for c in self.cohorts:
                if c.name == key:
                    return c
            raise KeyError(key)
        return self.cohorts[key]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Population) and self.cohorts == other.cohorts

    def __hash__(self) -> int:
        return hash(self.cohorts)

    def __repr__(self) -> str:
        lines = [f"Population({self.members:,} members in {len(self.cohorts)} cohorts)"]
        for c in self.cohorts:
            lines.append(f"  {c.name}: {c.members:,} members, {c.cost!r}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"cohorts": [c.to_dict() for c in self.cohorts]}

    def to_json(self) -> str:
        """JSON string (stored in ``CostPaths.attrs['population']``)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Population:
        """Inverse of :meth:`to_dict`."""
        return cls(Cohort(**c) for c in d["cohorts"])


# Standard cohorts (docs/calibration.md "Default cohorts"). Aged non-dual shape and end-of-life
# cost FITTED on the full member model (deaths, end-of-life cost, churn, risk scores) by
# `python -m vbsim.calibrate.defaults` (fit_aged_default(n_members=600_000, seed=20240), ENGINE
# v2 streams) to DOMAIN.md s5: Wallis et al. 2021 top 1/5/10/20% shares 14.9/41.5/60.0/79.1%
# -> 15.7/41.1/59.8/79.3%, Commonwealth Fund 2019 top-decile persistence 28% -> 28.0%, and
# decedents' share of cost ~25% (Riley & Lubitz 2010) -> 25.0% exactly in expectation (eol_cost
# solved in closed form; 24.9% on the fit panel). Compromise (model limit): with decedents at
# 25%, no shape hits all four Wallis shares; least squares with equal weights leaves the top 1%
# 0.8 points high and the top 5% 0.4 points low (the tail shape sits at its lower bound 0).
STD_ZERO_SHARE = 0.15    # DOMAIN.md s5: 13-17% zero-cost full-year members (CMS synthetic
#                          claims [C, shape only]; DE-SynPUF 2008-10 full-year alive: 14.7% mean)
STD_CV = 1.882           # fitted (see above); zero-cost members included
STD_TAIL_SHARE = 0.077   # fitted (see above)
STD_TAIL_SHAPE = 0.0     # fitted: at its bound 0 (exponential tail; a lighter tail would lower
#                          the top-1% share, Spliced offers none)
STD_PERSISTENCE = 0.784  # fitted (see above): 28% top-decile persistence among members present
#                          all 3 years, with deaths (and their end-of-life cost in year 3) and
#                          churn; higher than the class default 0.7, which ignored deaths
STD_EOL_UPLIFT = 2.0     # chosen by scan, unchanged: refits at uplifts 0.5-5 (each with its own
#                          eol_cost) miss the Wallis shares least at 2 (sum of squared errors
#                          0.9 points^2; 1.5: 1.2, top 5% 0.8 points low; 3: 4.2, top 1% 1.7
#                          points high; 5: 28); `python -m vbsim.calibrate.defaults --scan-uplift`
STD_EOL_COST = 34_700.0  # solved (see above): additive death-year cost, year-0 dollars; with
#                          the uplift decedents take 25.0% of cost (Riley & Lubitz 2010). The
#                          fit's 44,500 at a cost-model mean of 11,000 (per-capita cost 14,111),
#                          scaled with the mean by 11,000 / 14,111 so the aged non-dual
#                          per-capita cost is the cited 11,000 (shares are scale-free). Other
#                          kinds take the same dollar amount (assumption: care at the end of
#                          life costs about the same whatever the enrolment type)
# Per-capita spend PBPY (DOMAIN.md s5, MSSP PY2023 medians [C]); high-needs mean is an
# assumption. It is the cohort's expected cost per member-year (risk mix, deaths with their
# uplift and end-of-life cost, churn): standard_cohort solves the cost model's mean for it.
# Mortality by type: assumption (ESRD and high-needs much higher than aged). Aged
# dual, disabled and high-needs take the aged non-dual shape (assumption: no published shape).
# ESRD: assumption cv 1.0 and 2% zero cost (dialysis gives nearly every member a high floor).
_STANDARD = {
    "aged_non_dual": dict(mean=11_000.0, mortality=MORTALITY),
    "aged_dual": dict(mean=18_000.0, mortality=0.06),
    "disabled": dict(mean=11_000.0, mortality=0.02),
    "esrd": dict(mean=89_000.0, mortality=0.15, cv=1.0, zero_share=0.02),
    "high_needs": dict(mean=50_000.0, mortality=0.12),
}
#: The enrolment types :func:`standard_cohort` knows.
STANDARD_KINDS = tuple(_STANDARD)


def standard_cohort(kind: str, members: int, **changes: Any) -> Cohort:
    """A cohort of a standard enrolment type with documented defaults.

    ``kind`` is one of aged_non_dual, aged_dual, disabled, esrd, high_needs. The cost model is
    :class:`~vbsim.costs.Spliced` whose mean is solved so that the cohort's expected cost per
    member-year (:meth:`Cohort.expected_cost_pbpy`: risk mix, deaths with their uplift and
    end-of-life amount, churn) equals the type's per-capita spend (DOMAIN.md section 5;
    high_needs spend and all per-type mortality are assumptions; a ``cost`` in ``changes`` is
    used as given), with the shape fitted for aged non-dual members on the
    full member model (``STD_CV``, ``STD_TAIL_SHARE``, ``STD_TAIL_SHAPE``, ``STD_ZERO_SHARE``;
    ESRD: cv 1.0 and zero share 0.02, assumptions); ``persistence`` is ``STD_PERSISTENCE``,
    ``eol_uplift`` ``STD_EOL_UPLIFT`` and ``eol_cost`` ``STD_EOL_COST`` (the same dollars for
    every kind; docs/calibration.md "Default cohorts"). ``changes`` override fields.

    >>> c = standard_cohort("esrd", 50)
    >>> round(c.expected_cost_pbpy()), c.cost.cv, c.persistence, c.eol_cost
    (89000, 1.0, 0.784, 34700.0)
    """
    if not isinstance(kind, str) or kind not in _STANDARD:
        raise VbsimInputError(
            f"kind must be one of {', '.join(repr(k) for k in _STANDARD)}; got {kind!r}")
    d = _STANDARD[kind]
    kw: dict[str, Any] = {"mortality": d["mortality"], "persistence": STD_PERSISTENCE,
                          "eol_uplift": STD_EOL_UPLIFT, "eol_cost": STD_EOL_COST}
    kw.update(changes)
    given = kw.pop("cost", None)
    if given is not None:
        return Cohort(kind, members, given, **kw)

    def model(mean: float) -> Spliced:
        return Spliced(mean=mean, cv=d.get("cv", STD_CV),
                       zero_share=d.get("zero_share", STD_ZERO_SHARE),
                       tail_share=STD_TAIL_SHARE, tail_shape=STD_TAIL_SHAPE)

    # expected cost per member-year is linear in the cost-model mean: E(m) = A m + B
    target = d["mean"]
    probe = Cohort(kind, members, model(target), **kw)
    with_eol = probe.expected_cost_pbpy()
    a = replace(probe, eol_cost=0.0).expected_cost_pbpy() / target
    mean = (target - (with_eol - a * target)) / a
    if mean <= 0:
        raise VbsimInputError(
            f"standard_cohort({kind!r}): eol_cost {kw['eol_cost']} alone exceeds the "
            f"per-capita spend {target:,.0f}; lower eol_cost")
    return Cohort(kind, members, model(mean), **kw)

