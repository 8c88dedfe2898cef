"""Program presets: MSSP (PY2023+ and PY2018 tracks), ACO REACH, LEAD, a BPCI-Advanced-like bundle.

Each preset returns a plain :class:`~vbsim.contracts.Contract` whose ``source`` says which numbers
are confirmed and which are assumptions. Tags follow /work/shared/DOMAIN.md: [C] confirmed in a
published source, [R] from the regulation as commonly summarised (a parameter with this
default), [A] an assumption. docs/contracts.md lists every number with its tag.

>>> mssp("E").sharing.loss_limit_revenue
0.08
>>> reach("global", year=2025).discount
0.035
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vbsim._validate import VbsimInputError, check_choice, check_int, check_real
from vbsim.contracts import (
    Bundle,
    Contract,
    Corridors,
    IndividualStopLoss,
    QualityGate,
    QualityLossRate,
    QualityWithhold,
    SharedSavings,
    TwoSidedRisk,
    msr_from_table,
)
from vbsim.contracts.stoploss import cohort_values

INF = math.inf
MSSP_LEVELS = ("A", "B", "C", "D", "E", "ENHANCED")
# Two-sided ACOs elect a symmetric MSR/MLR, fixed for the agreement [C, DOMAIN.md s.2].
MSSP_MSR_CHOICES = (0.0, 0.005, 0.01, 0.015, 0.02, "table")

# level: (sharing rate, savings cap, loss rate, limit % benchmark, limit % revenue)
# DOMAIN.md s.2 table: rates and caps [C]; BASIC C-E loss rate 30% and limits [R].
_MSSP_TABLE: dict[str, tuple[float, float, Any, float | None, float | None]] = {
    "A": (0.40, 0.10, None, None, None),
    "B": (0.40, 0.10, None, None, None),
    "C": (0.50, 0.10, 0.30, 0.01, 0.02),
    "D": (0.50, 0.10, 0.30, 0.02, 0.04),  # loss rate 30% [R; one summary says 40%]
    "E": (0.50, 0.10, 0.30, 0.04, 0.08),
    # ENHANCED: loss rate clip(1 - 0.75 x QS, 0.40, 0.75) [C]; limit 15% of benchmark [R]
    "ENHANCED": (0.75, 0.20, QualityLossRate(0.75, 0.40, 0.75), 0.15, None),
}


def mssp(
    level: str,
    *,
    msr: float | str | None = None,
    assigned_beneficiaries: int | None = None,
    sequestration: float = 0.02,
    name: str | None = None,
    truncation: float | Mapping[str, float] | None = None,
) -> Contract:
    """MSSP PY2023+ BASIC level A-E or ENHANCED (DOMAIN.md s.2).

    Confirmed [C]: sharing rates 40% (A, B), 50% (C-E), 75% (ENHANCED) with the quality standard
    met (not scaled by the score); savings caps 10% / 20% of benchmark; MSR is a gate; 2%
    sequestration before the cap; ENHANCED loss rate clip(1 - 0.75 x QS, 0.40, 0.75), 75% when the
    standard is failed; no shared savings when it is failed; MSR/MLR choices.
    [R]: BASIC C-E loss rate 30%; loss limits min(2/4/8% of revenue, 1/2/4% of benchmark) for
    C/D/E and 15% of benchmark for ENHANCED; linear interpolation in the MSR size table.
    [A]: ``msr=None`` defaults to the size table (``"table"``) for every level.

    Parameters
    ----------
    level : "A", "B", "C", "D", "E" or "ENHANCED".
    msr : one-sided levels (A, B): only the size table (None or "table"). Two-sided levels: the
        symmetric MSR/MLR, one of 0, 0.005, 0.01, 0.015, 0.02 or "table".
    assigned_beneficiaries : if given with the size table, the MSR is fixed now from the table;
        otherwise ``settle`` needs context ``assigned_beneficiaries``.
    sequestration : 2% [C].
    truncation : per-member annual cost at which expenditure is truncated, in the benchmark and
        the performance year alike (the program uses the national 99th percentile of each
        enrolment type [C, DOMAIN.md s.1-2]; its dollar value is an input here): one number, or
        a mapping cohort name -> dollars naming every cohort of the population (e.g.
        :func:`cohort_truncation` of the population, the model's own 99th percentiles).
        None: no truncation.
    name : the contract's label (default "MSSP BASIC E", "MSSP ENHANCED", ...).

    Examples
    --------
    DOMAIN.md s.6 example 1: 20,000 beneficiaries x $12,000, spending $11,400 PBPY.

    >>> s = mssp("ENHANCED", msr=0.02).settle(benchmark=240e6, expenditure=228e6)
    >>> round(s.payment)  # 75% x 12M x 0.98
    8820000
    """
    check_choice("level", level, MSSP_LEVELS)
    rate, cap, loss_rate, lim_bm, lim_rev = _MSSP_TABLE[level]
    if msr is None:
        msr = "table"
    if loss_rate is None and msr != "table":
        raise VbsimInputError(
            f"msr must be 'table' (or None) for one-sided level {level!r}: one-sided ACOs use the "
            f"size table; got {msr!r}"
        )
    if msr != "table":
        msr = check_choice("msr", msr, MSSP_MSR_CHOICES)
        if assigned_beneficiaries is not None:
            raise VbsimInputError(
                "assigned_beneficiaries only sets the MSR from the size table (msr='table' or "
                f"None); with a fixed msr={msr!r} it would be ignored, so leave one of them out")
    note = ""
    if msr == "table" and assigned_beneficiaries is not None:
        n = check_int("assigned_beneficiaries", assigned_beneficiaries, 5_000)
        msr = float(msr_from_table(n))
        note = f", MSR {msr:.4%} from the size table at {n:,} beneficiaries"
    if loss_rate is None:
        sharing: Any = SharedSavings(rate=rate, msr=msr, cap=cap)
    else:
        sharing = TwoSidedRisk(rate=rate, loss_rate=loss_rate, msr=msr, mlr=None, cap=cap,
                               loss_limit_benchmark=lim_bm, loss_limit_revenue=lim_rev)
    label = "ENHANCED" if level == "ENHANCED" else f"BASIC {level}"
    if isinstance(truncation, str):
        raise VbsimInputError(
            f"truncation must be a number or a mapping cohort -> dollars; got {truncation!r} "
            "(a scenario file resolves \"p99\" from its population; in Python use "
            "truncation=presets.cohort_truncation(population))")
    if truncation is not None:
        truncation = cohort_values("truncation", truncation)
    if isinstance(truncation, tuple):
        note += ", truncation per cohort at " + ", ".join(
            f"{k} ${v:,.0f}" for k, v in truncation)
    elif truncation is not None:
        note += f", truncation at ${truncation:,.0f} per member"
    return Contract(
        name=name or f"MSSP {label}",
        sharing=sharing,
        quality_gate=QualityGate(),
        stop_loss=None if truncation is None else IndividualStopLoss.truncation(truncation),
        sequestration=sequestration,
        source=(f"MSSP PY2023+ {label} (DOMAIN.md s.2): rates, caps, gate, sequestration [C]; "
                "BASIC loss rate and loss limits [R]; MSR default = size table [A]" + note),
    )


def cohort_truncation(population: Any, q: float = 0.99, trend: float = 0.0) -> dict[str, float]:
    """Each cohort's model ``q``-quantile of a member's annual cost, ``{cohort name: dollars}``:
    the ``truncation`` of :func:`mssp` per enrolment type without typing numbers.

    MSSP truncates at the national 99th percentile of each enrolment type [C, DOMAIN.md s.1-2];
    here the quantile is the population model's own (:func:`vbsim.reality.truncation_points`),
    at cost level ``1 + trend`` (assumption: one point for every simulated year).

    >>> import vbsim
    >>> pop = vbsim.Population([vbsim.Cohort("a", 10, vbsim.costs.Lognormal(mean=1.0, cv=1.0),
    ...                                      risk_sd=0.0, mortality=0.0)])
    >>> t = cohort_truncation(pop)["a"]
    >>> round(float(pop[0].cost.cdf(t)), 6)
    0.99
    """
    from vbsim.reality import truncation_points

    pts = truncation_points(population, q, trend)
    return {c.name: float(t) for c, t in zip(population.cohorts, pts, strict=True)}


# PY2018 tracks (data/README.md): rate x QS, caps 10/10/15/20% [C]; loss side [R] (42 CFR 425
# as summarised: Track 1+ 30% loss rate, limit min(8% revenue, 4% benchmark); Track 2 loss rate
# 1 - 0.6 x QS in [40%, 60%], limit 5% of benchmark in its first year (7.5%, 10% later: [A] 5%);
# Track 3 loss rate 1 - 0.75 x QS in [40%, 75%], limit 15% of benchmark).
_MSSP_2018: dict[str, tuple[float, float, Any, float | None, float | None]] = {
    "1": (0.50, 0.10, None, None, None),
    "1+": (0.50, 0.10, 0.30, 0.04, 0.08),
    "2": (0.60, 0.15, QualityLossRate(0.60, 0.40, 0.60), 0.05, None),
    "3": (0.75, 0.20, QualityLossRate(0.75, 0.40, 0.75), 0.15, None),
}


def mssp_2018(track: str, *, msr: float | str | None = None) -> Contract:
    """MSSP PY2018 older-rules track "1", "1+", "2" or "3" (sharing rate scaled by quality score).

    [C] (data/README.md): sharing 50% x QS (Tracks 1, 1+), 60% x QS (2), 75% x QS (3); savings caps
    10/10/15/20% of benchmark; sequestration 2% before the cap; Track 1 MSR by size table.
    [R]: loss rates and limits (see the module comment). [A]: Track 2 loss limit 5% (its first
    year's value); two-sided MSR default ``"table"``; the MSR size table is the PY2023 one.

    Parameters
    ----------
    track : "1", "1+", "2" or "3".
    msr : minimum savings (and loss) rate in [0, 1), or "table" (the size table; needs context
        ``assigned_beneficiaries``). Default: the table.

    >>> c = mssp_2018("1", msr=0.02)
    >>> round(c.settle(benchmark=1_072_551_536, expenditure=960_028_237,
    ...                quality_score=0.9084).payment)  # A1001 in the PY2018 PUF: 50,087,988
    50085921
    """
    check_choice("track", track, list(_MSSP_2018))
    rate, cap, loss_rate, lim_bm, lim_rev = _MSSP_2018[track]
    msr = "table" if msr is None else msr
    if msr != "table":
        msr = check_real("msr", msr, 0, 1, hi_open=True)
    if loss_rate is None:
        sharing: Any = SharedSavings(rate=rate, msr=msr, cap=cap, scale_by_quality=True)
    else:
        sharing = TwoSidedRisk(rate=rate, loss_rate=loss_rate, msr=msr, cap=cap,
                               loss_limit_benchmark=lim_bm, loss_limit_revenue=lim_rev,
                               scale_by_quality=True)
    return Contract(
        name=f"MSSP PY2018 Track {track}",
        sharing=sharing,
        quality_gate=QualityGate(),
        source="MSSP PY2018 (data/README.md): rate x QS and caps [C]; loss side [R]/[A]",
    )


# ACO REACH corridors on |r| (DOMAIN.md s.3) [C]
REACH_PROFESSIONAL_BANDS = ((0.0, 0.05, 0.50), (0.05, 0.10, 0.35), (0.10, 0.15, 0.15),
                            (0.15, INF, 0.05))
REACH_GLOBAL_BANDS = ((0.0, 0.25, 1.00), (0.25, 0.35, 0.50), (0.35, 0.50, 0.25), (0.50, INF, 0.10))
# PY2026: the 100% band narrows to 10% [C]; the upper bands are not published here: [A] the 50%
# band widens down to 10%, the 25% and 10% bands are unchanged.
REACH_GLOBAL_BANDS_2026 = ((0.0, 0.10, 1.00), (0.10, 0.35, 0.50), (0.35, 0.50, 0.25),
                           (0.50, INF, 0.10))
# Global discount: 3% PY2023, 3.5% PY2025-26 [C]; PY2024 3% [R: the REACH Request for
# Applications, Table 6.16, lists a 3% discount for PY2024, and Milliman's "ACO REACH PY2025
# changes" (2024) describes PY2025 as an increase]. Professional: no discount [R: same sources].
REACH_DISCOUNT = {2023: 0.03, 2024: 0.03, 2025: 0.035, 2026: 0.035}
# Quality withhold: 2% PY2023-25, 5% PY2026 [C]; a share of the benchmark earned back based on the
# quality score [R: REACH RFA Table 6.16]; earned back in proportion to the score [A].
REACH_WITHHOLD = {2023: 0.02, 2024: 0.02, 2025: 0.02, 2026: 0.05}


def reach(
    option: str,
    *,
    year: int = 2023,
    discount: float | None = None,
    stop_loss: IndividualStopLoss | None = None,
    capitation: Any = None,
    withhold: float | None = None,
) -> Contract:
    """ACO REACH Global or Professional, PY2023-2026 (DOMAIN.md s.3).

    [C]: corridors (Professional <5%: 50%, 5-10%: 35%, 10-15%: 15%, >15%: 5%; Global <25%: 100%,
    25-35%: 50%, 35-50%: 25%, >50%: 10%), symmetric for savings and losses; r on the final
    (post-discount) benchmark; savings x 0.98; Global discount 3% (2023), 3.5% (2025-26); quality
    withhold 2% (2023-25), 5% (2026); PY2026 Global 100% band narrowed to 10%.
    [R]: PY2024 discount 3% and no Professional discount (REACH RFA Table 6.16); the withhold
    applies to the benchmark.
    [A]: PY2026 upper Global bands (50% from 10% to 35%); PY2026 Professional unchanged; the
    withhold is earned back in proportion to the quality score; stop-loss attachment values
    (none by default: pass ``stop_loss``).

    Parameters
    ----------
    option : "global" or "professional".
    year : 2023, 2024, 2025 or 2026.
    discount : override the Global discount (Professional: default 0).
    stop_loss : optional CMS stop-loss (e.g. ``IndividualStopLoss(attachment, ...)``).
    capitation : optional ``Capitation`` (PCC or, for Global, TCC) cash flows.
    withhold : override the quality withhold rate.

    Examples
    --------
    DOMAIN.md s.6 example 5: final benchmark $126.74M, spending $110.0M, full quality score.

    >>> c = reach("global", discount=0.0)
    >>> round(c.settle(benchmark=126.74e6, expenditure=110e6, quality_score=1.0).payment)
    16405200
    """
    check_choice("option", option, ["global", "professional"])
    check_choice("year", year, list(REACH_DISCOUNT))
    if option == "global":
        bands = REACH_GLOBAL_BANDS_2026 if year == 2026 else REACH_GLOBAL_BANDS
        d = REACH_DISCOUNT[year] if discount is None else discount
    else:
        bands = REACH_PROFESSIONAL_BANDS
        d = 0.0 if discount is None else discount
    w = REACH_WITHHOLD[year] if withhold is None else check_real("withhold", withhold, 0, 1)
    assumed = ["withhold earned back x quality score"]
    if year == 2026:
        assumed.append("PY2026 upper corridor bands" if option == "global"
                       else "PY2026 Professional corridors unchanged")
    return Contract(
        name=f"ACO REACH {option.title()} PY{year}",
        discount=d,
        sharing=Corridors(bands_savings=bands, bands_losses=None),
        quality=QualityWithhold(rate=w, applies_to="benchmark"),
        stop_loss=stop_loss,
        capitation=capitation,
        sequestration=0.02,
        source=(f"ACO REACH PY{year} (DOMAIN.md s.3): corridors, discount, withhold, "
                "sequestration [C]; assumptions [A]: " + "; ".join(assumed)),
    )


def lead(
    track: str,
    *,
    discount: float | None = None,
    withhold: float = 0.03,
    stop_loss: IndividualStopLoss | None = None,
    capitation: Any = None,
) -> Contract:
    """LEAD (PY2027-2036) Global or Professional (DOMAIN.md s.4).

    [C]: Global up to 100% risk with a discount of ~1.75-3%; Professional 50% risk, no discount;
    no MSR/MLR; quality withhold 3%.
    [A]: risk corridors (not yet published) borrowed from REACH PY2023-25 (Global and
    Professional bands); Global discount default 1.75% (the low end of the published range);
    withhold applied like REACH's; no stop-loss unless passed.

    Parameters
    ----------
    track : "global" or "professional".
    discount : Global discount (default 0.0175 [A]); Professional must be 0 [C].
    withhold : quality withhold, 3% [C].
    stop_loss : optional stop-loss (e.g. ``IndividualStopLoss(attachment, ...)``); none by
        default (LEAD's terms are not yet published).
    capitation : optional ``Capitation`` (PCC or, for Global, TCC) cash flows.

    >>> lead("professional").discount
    0.0
    """
    check_choice("track", track, ["global", "professional"])
    if track == "global":
        d = 0.0175 if discount is None else check_real("discount", discount, 0, 0.2)
        bands = REACH_GLOBAL_BANDS
    else:
        if discount not in (None, 0, 0.0):
            raise VbsimInputError(f"discount must be 0 for LEAD Professional (it has no "
                                  f"benchmark discount [C]); got {discount!r}")
        d = 0.0
        bands = REACH_PROFESSIONAL_BANDS
    check_real("withhold", withhold, 0, 1)
    return Contract(
        name=f"LEAD {track.title()}",
        discount=d,
        sharing=Corridors(bands_savings=bands),
        quality=QualityWithhold(rate=withhold, applies_to="benchmark"),
        stop_loss=stop_loss,
        capitation=capitation,
        source=("LEAD (DOMAIN.md s.4): risk level, discount range, no MSR/MLR, 3% withhold [C]; "
                "corridors borrowed from REACH, discount default 1.75% [A]"),
    )


def bpci_advanced(
    target_price: float | None = None,
    *,
    discount: float = 0.03,
    stop: float = 0.20,
    quality_adjustment: float = 0.10,
    sequestration: float = 0.0,
) -> Contract:
    """A BPCI-Advanced-like bundle (DOMAIN.md s.1, s.5).

    [C]: target = historical cost x efficiency x peer trend less a 2-3% discount (here: the
    ``benchmark`` passed, or ``target_price`` x episodes, less ``discount`` = 3%).
    [R]: stop-gain / stop-loss 20% of the target amount.
    [A]: quality adjustment up to 10% (CQS-style); no sequestration on reconciliation.

    Parameters
    ----------
    target_price : dollars per episode, used with context ``episodes`` when no benchmark is
        passed. Default None (the benchmark is the target).
    discount : share of the target removed, in [0, 1). Default 0.03 [C].
    stop : stop-gain and stop-loss as a share of the target. Default 0.20 [R].
    quality_adjustment : share of the reconciliation the quality score can move, in [0, 1].
        Default 0.10 [A].
    sequestration : reduction of positive reconciliations. Default 0 [A].

    >>> c = bpci_advanced(25_000, discount=0.0, quality_adjustment=0.0)
    >>> c.settle(expenditure=4.6e6, episodes=200).payment
    400000.0
    """
    return Contract(
        name="BPCI-Advanced-like bundle",
        discount=discount,
        sharing=Bundle(target_price=target_price, stop_gain=stop, stop_loss=stop,
                       quality_adjustment=quality_adjustment),
        sequestration=sequestration,
        source=("BPCI Advanced-like (DOMAIN.md s.1, s.5): discount 3% [C]; +/-20% limits [R]; "
                "10% quality adjustment and no sequestration [A]"),
    )


PRESETS = {"mssp": mssp, "mssp_2018": mssp_2018, "reach": reach, "lead": lead,
           "bpci_advanced": bpci_advanced}
