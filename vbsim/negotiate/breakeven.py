"""Break-even: the value of one contract parameter that makes offer B as good as offer A.

The objective is D(theta) = M(B(theta)) - M(A) for a measure M of the party's net payment
(expected value, TVaR of the loss, P(loss) or the certainty equivalent), computed on the already
simulated paths: B(theta) is ``B.replace(parameter=theta)`` re-settled on the cached context
(:class:`~vbsim.negotiate.resettle.Resettler`), so each evaluation costs milliseconds and A and
B(theta) share the same scenarios (common random numbers).

Root finding: Brent's method (``scipy.optimize.brentq``) on a bracket where D changes sign. The
sample P(loss) is a step function of theta (it moves only when a scenario crosses zero or a gate
switches a scenario from no payment to a loss; smoothing the payment would not smooth the gate
jumps), so for ``measure="p_loss"`` the root is the jump where D changes sign, found by bisection;
D there is at most a few scenarios' worth (k / n) from zero.

Uncertainty of the root: by the delta method, SE(theta*) = SE(D(theta*)) / |D'(theta*)|, where
SE(D) is the paired (scenario-by-scenario) standard error of the difference and D' is a central
finite difference on the same paths (for P(loss), a secant over a window widened until D moves by
max(4 SE, 10 / n), so that it averages over the steps); or, with ``uncertainty="bootstrap"``, the
sd of the roots re-solved on scenario bootstrap resamples (slower; no linearisation).
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from vbsim._validate import VbsimInputError, check_choice, check_int, check_list, check_real

from ._stats import influence, measure_stat, se_of
from .resettle import as_resettler

VIEWS = {"provider": "provider_net", "payer": "payer_net"}
N_SCAN = 12  # bracket scan points (assumption: enough to see a second root; each costs a settle)


# ------------------------------------------------------------------------------------------------
# Parameters: dotted paths or setter functions
# ------------------------------------------------------------------------------------------------
def setter(parameter: str | Callable[[Any, float], Any]) -> tuple[str, Callable[[Any, float], Any]]:
    """(name, function(contract, value) -> contract) for a dotted path or a setter function.

    >>> from vbsim.presets import mssp
    >>> name, f = setter("sharing.rate")
    >>> name, f(mssp("E", msr=0.02), 0.6).sharing.rate
    ('sharing.rate', 0.6)
    """
    if callable(parameter):
        return getattr(parameter, "__name__", "parameter"), parameter
    if not isinstance(parameter, str) or not parameter:
        raise VbsimInputError(
            "parameter must be a dotted path such as 'sharing.rate' or a function; "
            f"got {parameter!r}"
        )

    def set_path(contract: Any, value: float) -> Any:
        cur = contract.params().get(parameter) if hasattr(contract, "params") else None
        if isinstance(cur, tuple) and cur and isinstance(cur[0], tuple):
            raise VbsimInputError(
                f"{parameter} is a per-cohort attachment {dict(cur)}; a single number would "
                "replace every cohort's value: solve for a common factor with "
                "parameter=attachment_scale(index) (vbsim.negotiate.attachment_scale)")
        return contract.replace(**{parameter: float(value)})

    set_path.__name__ = parameter
    return parameter, set_path


def attachment_scale(index: int = 0) -> Callable[[Any, float], Any]:
    """A setter multiplying the attachment of stop-loss ``index`` by a factor.

    For a per-cohort attachment (MSSP truncation per enrolment type) every cohort's value is
    scaled, so the proportions between enrolment types are kept; solve with a ``bracket`` of
    factors, e.g. ``breakeven(paths, a, b, attachment_scale(), bracket=(0.5, 2.0))``.

    >>> from vbsim.presets import mssp
    >>> c = mssp("E", msr=0.02, truncation={"aged": 100_000, "esrd": 400_000})
    >>> attachment_scale()(c, 1.5).params()["stop_loss.0.attachment"]
    (('aged', 150000.0), ('esrd', 600000.0))
    """
    index = check_int("index", index, 0, 100)
    key = f"stop_loss.{index}.attachment"

    def scale(contract: Any, value: float) -> Any:
        cur = contract.params().get(key)
        if cur is None:
            raise VbsimInputError(f"the contract has no {key}")
        f = check_real("attachment_scale factor", value, 0.0, math.inf, lo_open=True)
        new = ({k: v * f for k, v in cur} if isinstance(cur, tuple) else float(cur) * f)
        return contract.replace(**{key: new})

    scale.__name__ = f"{key} x factor"
    return scale


def corridor_width(band: int = 0, path: str = "sharing") -> Callable[[Any, float], Any]:
    """A setter moving the upper edge of corridor ``band`` (and the lower edge of the next).

    Applies to the savings bands and, when they are separate, the loss bands, so
    ``corridor_width(0)`` is the width of the first (full-risk) corridor, e.g. REACH Global's 25%
    band that PY2026 narrows to 10%.

    >>> from vbsim.presets import reach
    >>> narrow = corridor_width(0)(reach("global", year=2025), 0.10)
    >>> narrow.params()["sharing.bands_savings"][:2]
    ((0.0, 0.1, 1.0), (0.1, 0.35, 0.5))
    """
    band = check_int("band", band, 0, 100)

    def width(contract: Any, value: float) -> Any:
        params = contract.params()
        changes = {}
        for side in ("bands_savings", "bands_losses"):
            key = f"{path}.{side}"
            bands = params.get(key)
            if bands is None:
                continue
            b = [list(x) for x in bands]
            if band >= len(b):
                raise VbsimInputError(f"{key} has {len(b)} bands; band must be < {len(b)}")
            b[band][1] = float(value)
            if band + 1 < len(b):
                b[band + 1][0] = float(value)
            changes[key] = tuple(tuple(x) for x in b)
        if not changes:
            raise VbsimInputError(f"{path} has no corridor bands (no {path}.bands_savings)")
        return contract.replace(**changes)

    width.__name__ = f"{path}.bands[{band}].width"
    return width


# Parameters that are shares or rates in [0, 1], by their last path component (a substring
# test took capitation.pmpm for a cap and an aggregate stop-loss's limit, a multiple, for one).
# (names ending in _rate or _share are shares too; MSR/MLR and discounts have their own below)
_UNIT_PARAMS = ("rate", "share", "coinsurance", "cap", "savings_cap", "loss_limit",
                "loss_limit_benchmark", "loss_limit_revenue", "withhold", "stop_gain",
                "stop_loss", "quality_adjustment", "floor", "ceiling", "slope")


def _default_bracket(name: str, current: Any) -> tuple[float, float]:
    leaf = name.lower().split(".")[-1]
    if leaf in ("msr", "mlr"):  # below 1; MSSP's size table tops out at 12.2% (DOMAIN.md s.2)
        return (0.0, 0.2)
    if leaf in ("discount", "sequestration"):  # below 1; 0.5 is an assumption (far above 3.5%)
        return (0.0, 0.5)
    if leaf in _UNIT_PARAMS or leaf.endswith(("_rate", "_share")) or "width" in leaf \
            or "bands" in name.lower():
        return (0.0, 1.0)
    if isinstance(current, (int, float)) and current > 0:
        return (current / 4.0, current * 4.0)
    raise VbsimInputError(
        f"no default bracket for parameter {name!r}; pass bracket=(low, high)"
    )


@dataclasses.dataclass(frozen=True)
class BreakEven:
    """The break-even parameter value and its Monte Carlo uncertainty (see :func:`breakeven`).

    >>> be = BreakEven("sharing.rate", 0.6, 0.05, "expected payment (provider)", "B", "A", 1e5,
    ...                0.0, 1e3, 2e5, (0.0, 1.0), "delta", 1000)
    >>> [round(x, 3) for x in be.ci]
    [0.502, 0.698]
    >>> print(be)  # doctest: +NORMALIZE_WHITESPACE
    B: sharing.rate = 0.6 ± 0.05 (95% CI 0.502 to 0.698, delta) makes its expected payment
    (provider) equal to A's (100,000); difference there 0 ± 1e+03; 1,000 scenarios
    """

    parameter: str
    value: float
    se: float
    measure: str
    offer: str
    reference: str
    reference_value: float
    difference: float
    difference_se: float
    slope: float
    bracket: tuple[float, float]
    uncertainty: str
    n_scenarios: int
    contract: Any = dataclasses.field(repr=False, default=None)
    note: str = ""

    @property
    def ci(self) -> tuple[float, float]:
        """95% interval value ± 1.96 se."""
        return (self.value - 1.96 * self.se, self.value + 1.96 * self.se)

    def __str__(self) -> str:
        lo, hi = self.ci
        if math.isnan(self.se) and self.note.startswith("no break-even"):
            s = (f"{self.offer}: no {self.parameter} makes its {self.measure} equal to "
                 f"{self.reference}'s ({self.reference_value:,.6g}); the difference changes sign "
                 f"by a jump at {self.value:.6g}; {self.n_scenarios:,} scenarios")
            return s + f"\nnote: {self.note}"
        s = (f"{self.offer}: {self.parameter} = {self.value:.6g} ± {self.se:.2g} "
             f"(95% CI {lo:.5g} to {hi:.5g}, {self.uncertainty}) makes its {self.measure} equal "
             f"to {self.reference}'s ({self.reference_value:,.6g}); difference there "
             f"{self.difference:,.3g} ± {self.difference_se:,.3g}; {self.n_scenarios:,} scenarios")
        return s + (f"\nnote: {self.note}" if self.note else "")

    def _repr_html_(self) -> str:
        return "<p>" + html.escape(str(self)).replace("\n", "<br>") + "</p>"


def _resolve(rs_obj: Any, c: Any, what: str) -> tuple[str, Any]:
    if isinstance(c, str):
        contracts = getattr(getattr(rs_obj, "scenario", None), "contracts", None) or {}
        if c not in contracts:
            raise VbsimInputError(
                f"{what} {c!r} is not a contract of the result; have "
                f"{', '.join(contracts) or 'none'}"
            )
        return c, contracts[c]
    if not hasattr(c, "settle"):
        raise VbsimInputError(f"{what} must be a contract or a contract name; got {c!r}")
    return getattr(c, "name", "") or what, c


def breakeven(
    result: Any,
    offer: Any,
    reference: Any,
    parameter: str | Callable[[Any, float], Any],
    *,
    bracket: tuple[float, float] | None = None,
    measure: str = "mean",
    view: str = "provider",
    risk_aversion: float | None = None,
    uncertainty: str = "delta",
    n_boot: int = 200,
    seed: int = 0,
) -> BreakEven:
    """Solve for the ``parameter`` of ``offer`` at which it equals ``reference`` in ``measure``.

    Parameters
    ----------
    result:
        A :class:`vbsim.run.Result`, a ``CostPaths`` Dataset or a :class:`Resettler`.
    offer, reference:
        Contracts, or names of contracts in ``result.scenario.contracts``. ``offer`` is varied.
    parameter:
        Dotted path of ``offer.params()`` (``"sharing.rate"``, ``"sharing.msr"``,
        ``"stop_loss.0.attachment"``, ...) or a setter ``f(contract, value) -> contract`` such as
        :func:`corridor_width`.
    bracket:
        (low, high) containing the root; default (0, 1) for rates and shares ((0, 0.2) for an
        MSR or MLR, (0, 0.5) for a discount or sequestration), else a factor 4
        around the current value. Scanned on a grid when the ends do not change sign.
    measure:
        ``"mean"``, ``"tvar99"`` (any level: ``"tvar95"``, ``"tvar99.5"``), ``"p_loss"`` or
        ``"ce"`` (with ``risk_aversion``).
    view:
        ``"provider"`` or ``"payer"``.
    uncertainty:
        ``"delta"`` (default) or ``"bootstrap"`` (``n_boot`` scenario resamples, ``seed``).

    Returns
    -------
    BreakEven
        ``value``, ``se``, ``ci``, the difference at the root with its paired SE, the slope.

    Examples
    --------
    >>> from vbsim import costs, presets
    >>> from vbsim.population import Cohort
    >>> from vbsim.simulate import simulate
    >>> paths = simulate(Cohort("all", 2000, costs.Lognormal(mean=1e4, cv=2)),
    ...                  n_scenarios=300, seed=3)
    >>> a, b = presets.mssp("E", msr=0.0), presets.mssp("ENHANCED", msr=0.0)
    >>> be = breakeven(paths, b, a, "sharing.rate", bracket=(0.05, 1.0))
    >>> abs(be.difference) < 2 * be.difference_se + 1e-6
    True
    """
    from scipy.optimize import brentq

    check_choice("view", view, list(VIEWS))
    check_choice("uncertainty", uncertainty, ["delta", "bootstrap"])
    var = VIEWS[view]
    rs = as_resettler(result)
    name_b, b = _resolve(result, offer, "offer")
    name_a, a = _resolve(result, reference, "reference")
    pname, set_value = setter(parameter)
    if risk_aversion is not None:  # checked even when the measure does not use it
        risk_aversion = check_real("risk_aversion", risk_aversion, 0.0, math.inf, lo_open=True)
    stat = measure_stat(measure, risk_aversion)
    if bracket is None:
        bracket = _default_bracket(pname, b.params().get(pname) if isinstance(parameter, str)
                                   else None)
    bracket = check_list("bracket", bracket, "two numbers (low, high)")
    if len(bracket) != 2:
        raise VbsimInputError(f"bracket must be two numbers (low, high); got {bracket!r}")
    lo = check_real("bracket[0]", bracket[0], -math.inf, math.inf)
    hi = check_real("bracket[1]", bracket[1], lo, math.inf, lo_open=True)

    x_a = rs.totals(a, var)
    cache: dict[float, np.ndarray] = {}

    def x_b(theta: float) -> np.ndarray:
        if theta not in cache:
            if len(cache) > 64:  # bounded memory during bootstrap root finding
                cache.clear()
            cache[theta] = rs.totals(set_value(b, theta), var)
        return cache[theta]

    def stat_of(x: np.ndarray) -> tuple[float, np.ndarray]:
        return influence(x, stat)

    m_a, if_a = stat_of(x_a)

    def diff(theta: float, idx: np.ndarray | None = None) -> float:
        if idx is None:
            return stat_of(x_b(theta))[0] - m_a
        return stat_of(x_b(theta)[idx])[0] - stat_of(x_a[idx])[0]

    step_fn = stat == "p_loss"
    lo_b, hi_b, n_changes = _sign_change(diff, lo, hi, pname, measure)
    flat = ""
    if diff(lo_b) == 0.0 and diff(hi_b) == 0.0:
        root = 0.5 * (lo_b + hi_b)  # D is exactly zero on a grid run: its midpoint
        if hi_b > lo_b:
            flat = (f"the sample difference is exactly zero for {pname} from {lo_b:.6g} to "
                    f"{hi_b:.6g} (at least): any value there breaks even; the midpoint is shown")
    elif step_fn:
        root = _bisect(diff, lo_b, hi_b)
    else:
        root = brentq(diff, lo_b, hi_b, xtol=1e-12, rtol=4 * np.finfo(float).eps, maxiter=200)
    v_b, if_b = stat_of(x_b(root))
    d_root = v_b - m_a
    d_se = se_of(if_b - if_a)
    # A jump: D is far from 0 at its sign change (a gate such as the MSR/MLR moves many
    # scenarios at once), so no value equalises the offers: the jump is shown without an
    # error bar. Elsewhere the sample D of a tail measure is still a staircase (each scenario
    # crossing a gate is a step), so the slope is a secant over a window in which D moves by
    # at least 4 of its standard errors, not a central difference that may sit on one step.
    jump = not step_fn and not flat and math.isfinite(d_se) and abs(d_root) > 2 * d_se
    slope = _slope(diff, root, lo, hi,
                   min_change=max(4 * d_se, 10 / x_a.size) if step_fn else 4 * d_se)
    if jump:
        se = math.nan
    elif uncertainty == "delta":
        se = d_se / abs(slope) if slope != 0 else math.inf
    else:
        se = _bootstrap_se(diff, lo_b, hi_b, lo, hi, root, x_a.size,
                           check_int("n_boot", n_boot, 10, 10**5), seed, step_fn)
    note = flat
    if jump:
        eps = 1e-9 * (hi - lo)
        left, right = diff(max(lo, root - eps)), diff(min(hi, root + eps))
        note += ("; " if note else "") + (
            f"no break-even: the difference jumps at {pname} = {root:.6g}, from {left:,.4g} to "
            f"{right:,.4g} ({abs(d_root) / d_se:.1f} standard errors from zero there), as "
            "scenarios cross a gate (such as the MSR/MLR) together; the jump is shown")
    if n_changes > 1:
        note += ("; " if note else "") + (
            f"the difference changes sign {n_changes} times on a {N_SCAN}-point scan of the "
            "bracket: the root nearest its low end is shown; narrow the bracket for another")
    if step_fn:
        note += ("; " if note else "") + (
            "the sample P(loss) is a step function of the parameter (it moves when a scenario "
            "crosses zero or a gate): the root is the jump found by bisection, and the delta "
            "method uses a secant slope over a window wide enough to average the steps")
    label = {"mean": "expected payment", "p_loss": "P(loss)"}.get(stat, stat.split("_")[0]
                                                                  if stat.startswith("CE")
                                                                  else stat)
    return BreakEven(
        parameter=pname, value=float(root), se=float(se), measure=f"{label} ({view})",
        offer=name_b, reference=name_a, reference_value=float(m_a), difference=float(d_root),
        difference_se=float(d_se), slope=float(slope), bracket=(lo, hi), uncertainty=uncertainty,
        n_scenarios=int(x_a.size), contract=set_value(b, root), note=note,
    )


def _sign_change(diff: Callable[[float], float], lo: float, hi: float, pname: str,
                 measure: str) -> tuple[float, float, int]:
    """The first sub-bracket of a grid scan of [lo, hi] where diff changes sign (or is zero),
    and the number of sign changes seen on the grid."""
    grid = np.linspace(lo, hi, N_SCAN + 1)
    vals, errors = [], []
    for t in grid:
        try:
            vals.append(diff(float(t)))
        except VbsimInputError as exc:
            vals.append(math.nan)
            errors.append(str(exc))
    if len(errors) == len(grid):
        raise VbsimInputError(f"{pname} cannot be set in [{lo:g}, {hi:g}]: {errors[0]}")
    vals = np.array(vals)
    fin = vals[np.isfinite(vals)]
    if fin.size and np.all(fin == 0.0):
        raise VbsimInputError(
            f"the {measure} difference is exactly zero for every {pname} in [{lo:g}, {hi:g}]: the "
            "measure does not depend on this parameter here; choose another parameter or measure"
        )
    if fin.size > 1 and np.all(fin == fin[0]):
        raise VbsimInputError(
            f"the {measure} difference is {fin[0]:,.4g} for every {pname} in [{lo:g}, {hi:g}]: "
            "the measure does not depend on this parameter here (e.g. a capitation inside a "
            "sharing rule is an advance, netted in the reconciliation); choose another parameter"
        )
    sgn = np.sign(vals)
    changes = int(np.sum((sgn[:-1] * sgn[1:] < 0) | ((sgn[:-1] == 0) & (sgn[1:] != 0))))
    for i in range(len(grid) - 1):
        if np.isfinite(vals[i]) and vals[i] == 0.0:
            j = i
            while j + 1 < len(grid) and vals[j + 1] == 0.0:
                j += 1
            return float(grid[i]), float(grid[j]), changes  # a zero, or a run of zeros
        if np.isfinite(vals[i]) and np.isfinite(vals[i + 1]) and vals[i] * vals[i + 1] < 0:
            return float(grid[i]), float(grid[i + 1]), changes
    fin = vals[np.isfinite(vals)]
    rng = f"{fin.min():,.4g} to {fin.max():,.4g}" if fin.size else "undefined"
    raise VbsimInputError(
        f"no break-even for {pname} in bracket [{lo:g}, {hi:g}]: the {measure} difference ranges "
        f"{rng} without changing sign; widen the bracket or choose another parameter"
    )


def _bisect(f: Callable[[float], float], a: float, b: float, tol: float = 1e-12) -> float:
    """The sign change of a step function (bisection; no continuity assumed).

    When f is exactly zero on an interval (ties on a finite sample), returns its midpoint.
    """
    fa = f(a)

    def edge(lo: float, hi: float, zero_at_hi: bool) -> float:
        # the boundary between nonzero and zero values of f in [lo, hi]
        for _ in range(200):
            if hi - lo <= tol * max(1.0, abs(lo)):
                break
            m = 0.5 * (lo + hi)
            if (f(m) == 0.0) == zero_at_hi:
                hi = m
            else:
                lo = m
        return 0.5 * (lo + hi)

    for _ in range(200):
        if b - a <= tol * max(1.0, abs(a)):
            break
        m = 0.5 * (a + b)
        fm = f(m)
        if fm == 0.0:
            return 0.5 * (edge(a, m, True) + edge(m, b, False))
        if (fm < 0) == (fa < 0):
            a, fa = m, fm
        else:
            b = m
    return 0.5 * (a + b)


def _slope(diff: Callable[[float], float], root: float, lo: float, hi: float,
           min_change: float = 0.0) -> float:
    """dD/dtheta at the root: a central difference; for step functions a secant over a window
    widened (doubling) until D changes by at least ``min_change``."""
    step = max(1e-6, 1e-4 * (hi - lo)) if min_change == 0 else (hi - lo) / 256
    while True:
        t1, t2 = max(lo, root - step), min(hi, root + step)
        d = diff(t2) - diff(t1)
        if abs(d) >= min_change or (t1 == lo and t2 == hi):
            return d / (t2 - t1)
        step *= 2


def _bootstrap_se(diff: Callable[..., float], lo_b: float, hi_b: float, lo: float, hi: float,
                  root: float, n: int, n_boot: int, seed: int, step_fn: bool) -> float:
    """sd of the roots re-solved on scenario resamples (resamples without a root are skipped)."""
    from scipy.optimize import brentq

    rng = np.random.default_rng(seed)
    width = hi - lo
    roots = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)

        def f(t: float, idx: np.ndarray = idx) -> float:
            return diff(t, idx)

        for a, b in ((max(lo, root - width / 8), min(hi, root + width / 8)), (lo, hi)):
            try:
                if f(a) * f(b) <= 0:
                    roots.append(_bisect(f, a, b, 1e-9) if step_fn else brentq(f, a, b, xtol=1e-10))
                    break
            except (VbsimInputError, ValueError):
                continue
    if len(roots) < max(5, n_boot // 2):
        return math.inf
    return float(np.std(roots, ddof=1))


__all__ = ["BreakEven", "breakeven", "corridor_width", "setter"]
