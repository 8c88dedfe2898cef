"""Member-level panel of one cohort in one scenario: a diagnostic, not the production path.

:func:`member_panel` runs the engine's member model (the executable specification in
:mod:`vbsim.engine.reference`: same formulas, same counter-based random streams of
:mod:`vbsim.engine.rng`) for ONE cohort and ONE scenario and keeps every member-year: annual
cost, member-months, status and a stable member identity. Its totals over members equal the
``cost`` and ``member_months`` of :func:`vbsim.simulate` for that scenario (to rounding).

Memory is O(members x years) for one scenario, so it serves calibration and checks of member
statistics (top spending shares, persistence, zero shares: :mod:`vbsim.calibrate.defaults`);
the engine itself keeps only per-scenario reductions and never builds such a panel.

The random draws and the exits do not depend on the cost model or on ``persistence``
(deaths depend on the risk score and the exit uniform only), so :func:`panel_draws` computes
them once and :func:`panel_costs` prices them for any cost model and ``rho``: a fit by
simulation then uses common random numbers at the cost of one pricing per candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_array, check_int
from vbsim.engine import rng, ztable
from vbsim.engine.reference import member_cost_np, prior_tenure_np
from vbsim.population import Cohort

__all__ = ["ABSENT", "DIED", "LEFT", "STAYED", "PanelDraws", "member_panel", "panel_costs",
           "panel_draws"]

#: Status codes of a member-year (``status`` array of :func:`member_panel`).
ABSENT, STAYED, DIED, LEFT = 0, 1, 2, 3


@dataclass(frozen=True)
class PanelDraws:
    """Random draws and exits of one cohort-scenario panel (arrays of shape (members, years)).

    ``e``: standard normal latent innovations; ``risk``: risk score of the member in the slot;
    ``new``: the member joined this year; ``status``: ABSENT / STAYED / DIED / LEFT;
    ``frac``: fraction of the year enrolled (1, or the exit time); ``member_id``: stable identity
    (``generation x members + slot``); ``claim_keys``: per-year claim stream keys (CompoundPoisson);
    ``uplift``, ``eol_cost``: the cohort's end-of-life multiple and additive amount.

    >>> from vbsim.population import standard_cohort
    >>> d = panel_draws(standard_cohort("aged_non_dual", 4), n_members=4, years=3, seed=1)
    >>> d.e.shape, d.member_id.shape, len(d.claim_keys)
    ((4, 3), (4, 3), 3)
    """

    e: np.ndarray
    risk: np.ndarray
    new: np.ndarray
    status: np.ndarray
    frac: np.ndarray
    member_id: np.ndarray
    claim_keys: tuple[int, ...]
    uplift: float
    eol_cost: float = 0.0


def panel_draws(cohort: Cohort, *, n_members: int, years: int, seed: int, scenario: int = 0,
                cohort_index: int = 0) -> PanelDraws:
    """Draws, exits and identities of ``n_members`` slots of ``cohort`` over ``years``.

    Exactly the streams and exit rule of :func:`vbsim.engine.reference.simulate_reference`
    for cohort position ``cohort_index`` in scenario ``scenario``.

    >>> from vbsim.population import standard_cohort
    >>> d = panel_draws(standard_cohort("aged_non_dual", 10), n_members=10, years=2, seed=1)
    >>> d.status.shape, bool(d.new[:, 0].all())
    ((10, 2), True)
    """
    n = check_int("n_members", n_members, 1, 10**8)
    years = check_int("years", years, 1, 50)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    s = check_int("scenario", scenario, 0, 2**40)
    c = check_int("cohort_index", cohort_index, 0, 2**16)
    if cohort.transitions:
        raise VbsimInputError(
            f"panel_draws: cohort {cohort.name!r} has transitions {dict(cohort.transitions)}; "
            "the one-cohort panel does not follow members into other cohorts (use "
            "dataclasses.replace(cohort, transitions={}) for the cohort's own dynamics)")
    sr = float(cohort.risk_sd)
    mc, cc, rep = cohort.mortality, cohort.churn, cohort.replacement
    ra, ma = 1.0 + cohort.risk_ageing, 1.0 + cohort.mortality_ageing
    idx = np.arange(n, dtype=np.uint64)
    shape = (n, years)
    e, risk, frac = np.empty(shape), np.empty(shape), np.empty(shape)
    new = np.zeros(shape, dtype=bool)
    status = np.zeros(shape, dtype=np.int8)
    member_id = np.full(shape, -1, dtype=np.int64)
    occ = np.full(n, 2, dtype=np.int8)
    gen = np.zeros(n, dtype=np.int64)
    r = np.ones(n)
    mraw = np.zeros(n)
    keys = []
    for t in range(years):
        def words(stream: int, t: int = t) -> np.ndarray:
            return rng.words_np(rng.key_int(seed, s, t + 1, c, stream), idx)

        act = occ != 0
        nw = occ == 2
        w = words(rng.LATENT)
        e[:, t] = rng.znorm32_np(w)
        rn = np.exp(sr * rng.znorm32_np(words(rng.RISK)) - 0.5 * sr * sr)
        if t > 0:
            r = np.where(act & ~nw, r * ra, r)
            mraw = np.where(act & ~nw, mraw * ma, mraw)
        r = np.where(nw, rn, r)
        mraw = np.where(nw, mc * rn, mraw)
        if t == 0 and cohort.stationary_start and (ra != 1.0 or ma != 1.0):
            a = prior_tenure_np(rng.unit32_np(rng.lo32_np(words(rng.RISK))),
                                np.minimum(mraw, 1.0 - cc) + cc)
            r, mraw = r * ra**a, mraw * ma**a
        mort = np.minimum(mraw, 1.0 - cc)
        keys.append(rng.key_int(seed, s, t + 1, c, rng.CLAIM))
        ue = rng.unit32_np(rng.lo32_np(w))
        dead = act & (ue < mort)
        left = act & ~dead & (ue < mort + cc)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac[:, t] = np.where(dead, ue / mort, np.where(left, (ue - mort) / cc, 1.0))
        risk[:, t] = r
        new[:, t] = nw & act
        status[:, t] = np.where(~act, ABSENT, np.where(dead, DIED, np.where(left, LEFT, STAYED)))
        if t > 0:
            gen = gen + (nw & act)
        member_id[:, t] = np.where(act, gen * n + idx.astype(np.int64), -1)
        gone = dead | left
        refill = gone if rep >= 1.0 else gone & (
            rng.unit32_np(rng.hi32_np(words(rng.REPLACE))) < rep)
        occ = np.where(act & ~gone, 1, np.where(refill, 2, 0)).astype(np.int8)
    frac[status == ABSENT] = 0.0
    return PanelDraws(e=e, risk=risk, new=new, status=status, frac=frac, member_id=member_id,
                      claim_keys=tuple(keys), uplift=float(cohort.eol_uplift),
                      eol_cost=float(cohort.eol_cost))


def panel_costs(draws: PanelDraws, cost: Any, rho: float, trend: np.ndarray | None = None,
                years: int | None = None) -> np.ndarray:
    """Annual cost per member-year (0 where absent) for cost model ``cost`` and AR(1) ``rho``.

    ``trend``: cost index per year (default 1: year-0 cost level). ``years``: price only the
    first ``years`` years (default all).

    >>> from vbsim.population import standard_cohort
    >>> co = standard_cohort("aged_non_dual", 5)
    >>> d = panel_draws(co, n_members=5, years=1, seed=3)
    >>> panel_costs(d, co.cost, co.persistence).shape
    (5, 1)
    """
    fam, p = cost.kernel_spec()
    p = np.asarray(p, dtype=float)
    n, ny = draws.e.shape
    ny = ny if years is None else min(ny, int(years))
    tr = np.ones(ny) if trend is None else np.asarray(trend, dtype=float)
    ac = math.sqrt(1.0 - rho * rho)
    idx = np.arange(n, dtype=np.uint64)
    out = np.zeros((n, ny))
    z = np.zeros(n)
    row = ztable.spliced_table(p) if int(fam) == 1 else None  # the engine's tabulated map
    for t in range(ny):
        nw = draws.new[:, t] if t > 0 else np.ones(n, dtype=bool)
        z = np.where(nw, draws.e[:, t], rho * z + ac * draws.e[:, t])
        x = member_cost_np(int(fam), p, z, draws.claim_keys[t], idx, row) * draws.risk[:, t] * tr[t]
        st, f = draws.status[:, t], draws.frac[:, t]
        x = np.where(st == DIED, x * draws.uplift + draws.eol_cost * tr[t],
                     np.where(st == LEFT, x * f, x))
        out[:, t] = np.where(st == ABSENT, 0.0, x)
    return out


def member_panel(cohort: Cohort, *, n_members: int, years: int, seed: int, scenario: int = 0,
                 trend: Any = None, cohort_index: int = 0) -> dict[str, np.ndarray]:
    """Member-level costs of one cohort in one scenario (diagnostic; O(members x years) memory).

    Parameters
    ----------
    cohort : Cohort
        The cohort (its ``members`` is ignored: ``n_members`` slots are simulated).
    n_members : int
        Slots at the start of year 1 (as ``Cohort.members`` in :func:`vbsim.simulate`).
    years : int
        Performance years, in [1, 50].
    seed : int
        Seed of :func:`vbsim.simulate`.
    scenario : int
        Scenario index (the random streams are keyed by it).
    trend : None, Drivers or array of shape (years,)
        Cost index per year. None: the default :class:`vbsim.drivers.Drivers` trend of this
        scenario, as :func:`vbsim.simulate` uses with no drivers; an array: that index.
    cohort_index : int
        Position of the cohort in the simulated population (keys its streams); default 0.

    Returns
    -------
    dict
        Arrays of shape (n_members, years): ``cost`` (annual cost as observed: death-year
        uplift and pro-rated partial years included; 0 where absent), ``member_months``,
        ``status`` (``ABSENT`` 0, ``STAYED`` 1 = enrolled to year end, ``DIED`` 2, ``LEFT`` 3),
        ``new`` (joined this year: all of year 1, replacements later), ``member_id`` (stable
        identity, ``generation x n_members + slot``; -1 where absent) and ``risk_score``;
        and ``trend_index`` of shape (years,).

    Examples
    --------
    >>> from vbsim.population import standard_cohort
    >>> p = member_panel(standard_cohort("aged_non_dual", 100), n_members=100, years=2, seed=7)
    >>> p["cost"].shape, int((p["status"][:, 0] > 0).sum())
    ((100, 2), 100)
    """
    from vbsim.drivers import Drivers, driver_paths

    if not isinstance(cohort, Cohort):
        raise VbsimInputError(f"cohort must be a vbsim.population.Cohort; got {cohort!r}")
    years = check_int("years", years, 1, 50)
    if trend is None or isinstance(trend, Drivers):
        dp = driver_paths(Drivers() if trend is None else trend, 1, years,
                          check_int("seed", seed, 0, 2**63 - 1),
                          first_scenario=check_int("scenario", scenario, 0, 2**40))
        tr = np.asarray(dp.trend_index[0], dtype=float)
    else:
        tr = check_array("trend", trend, 0.0, 1e6)
        if tr.shape != (years,):
            raise VbsimInputError(f"trend must have shape ({years},); got {tr.shape}")
    d = panel_draws(cohort, n_members=n_members, years=years, seed=seed, scenario=scenario,
                    cohort_index=cohort_index)
    return {"cost": panel_costs(d, cohort.cost, cohort.persistence, tr),
            "member_months": 12.0 * d.frac, "status": d.status, "new": d.new,
            "member_id": d.member_id, "risk_score": np.where(d.status > 0, d.risk, 0.0),
            "trend_index": tr}
