"""Cash flows of a multi-year contract: capitation in the year, reconciliation later; NPV;
the financial guarantee and the first year cumulative losses breach it.

Timing model (assumptions, docs/multiyear.md):

* Performance year ``t`` (1-based) runs from ``t - 1`` to ``t`` in years after the start of PY1.
* Capitation (PCC, TCC) is an advance: each month the provider receives 1/12 of the year's
  capitation and pays 1/12 of the covered spend (claims for capitated services paid as incurred),
  so in-year cash is ``capitation - covered_spend``, spread evenly over the 12 months.
* The annual reconciliation is paid ``reconciliation_lag_months`` after the year ends (assumption:
  9; CMS pays MSSP and REACH results some 8-9 months after the performance year). It settles the
  year's result net of the advance already received: ``provider_net - (capitation -
  covered_spend)``. Over a year the two add up to the settlement's ``provider_net``.
* A provider without capitation only receives or pays the reconciliation.

Capitation either comes from the contract's own ``Capitation`` term (reported in the settlement)
or from :attr:`CashTerms.capitation_share`: the share of the final (post-discount) benchmark
paid as capitation, with the same share of expenditure covered (TCC: 1, PCC: the primary-care
share of spend, an input).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import xarray as xr

from vbsim._validate import VbsimInputError, check_choice, check_real

__all__ = ["CashTerms", "cash_flows", "first_breach_distribution"]

RECONCILIATION_LAG_MONTHS = 9.0  # assumption: results paid ~8-9 months after the year ends
GUARANTEE_SHARE = 0.03  # LEAD financial guarantee 2-4% of prior spend [C, DOMAIN.md s.4]: midpoint


@dataclasses.dataclass(frozen=True)
class CashTerms:
    """Parameters of the cash-flow model.

    Parameters
    ----------
    reconciliation_lag_months:
        Months after a performance year ends until its reconciliation is paid (assumption: 9).
    capitation_share:
        Share of the final benchmark paid monthly as capitation, with the same share of
        expenditure covered (TCC 1.0, PCC e.g. 0.1 [A]); ``None``: use the contract's own
        capitation term (none if it has none).
    discount_rate:
        Annual rate for the NPV (assumption: 5%, a provider's cost of capital; an input).
    guarantee_share:
        Financial guarantee as a share of prior spend (LEAD 2-4% [C, DOMAIN.md s.4]; default 3%).
    guarantee_basis:
        ``"base"``: prior spend = the last base year's expenditure, fixed for the run;
        ``"prior_year"``: the guarantee tested at the end of cash year k is sized on the spend
        of performance year k - 1 (the last base year for k = 1, the last performance year after
        the run). Which one LEAD uses is not published here [A]; default "base".
    reserve:
        A dollar reserve used instead of the guarantee when given.

    Examples
    --------
    >>> CashTerms(capitation_share=1.0).reconciliation_lag_months
    9.0
    """

    reconciliation_lag_months: float = RECONCILIATION_LAG_MONTHS
    capitation_share: float | None = None
    discount_rate: float = 0.05
    guarantee_share: float = GUARANTEE_SHARE
    guarantee_basis: str = "base"
    reserve: float | None = None

    def __post_init__(self) -> None:
        n = type(self).__name__
        object.__setattr__(self, "reconciliation_lag_months", check_real(
            f"{n}.reconciliation_lag_months", self.reconciliation_lag_months, 0.0, 60.0))
        if self.capitation_share is not None:
            object.__setattr__(self, "capitation_share", check_real(
                f"{n}.capitation_share", self.capitation_share, 0.0, 1.0))
        object.__setattr__(self, "discount_rate", check_real(
            f"{n}.discount_rate", self.discount_rate, -0.5, 1.0, lo_open=True))
        object.__setattr__(self, "guarantee_share", check_real(
            f"{n}.guarantee_share", self.guarantee_share, 0.0, 1.0))
        check_choice(f"{n}.guarantee_basis", self.guarantee_basis, ["base", "prior_year"])
        if self.reserve is not None:
            object.__setattr__(self, "reserve", check_real(f"{n}.reserve", self.reserve, 0.0,
                                                           math.inf))

    def replace(self, **changes: Any) -> CashTerms:
        """A re-validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _advance(settlement: xr.Dataset, terms: CashTerms) -> tuple[np.ndarray, np.ndarray]:
    """(capitation received, covered spend), arrays (scenario, year)."""
    if terms.capitation_share is not None:
        s = terms.capitation_share
        return (s * _sy(settlement, "final_benchmark"), s * _sy(settlement, "expenditure"))
    if "capitation" in settlement:
        return _sy(settlement, "capitation"), _sy(settlement, "covered_spend")
    z = np.zeros_like(_sy(settlement, "provider_net"))
    return z, z


def _sy(ds: xr.Dataset, name: str) -> np.ndarray:
    if name not in ds:
        raise VbsimInputError(f"settlement has no variable {name!r}; settle with "
                              "MultiYearContract.settle_paths")
    return np.asarray(ds[name].transpose("scenario", "year").values, dtype=float)


def cash_flows(settlement: xr.Dataset, terms: CashTerms | None = None) -> xr.Dataset:
    """Monthly cash flows of a settled multi-year contract, summarised by year; NPV; breaches.

    Parameters
    ----------
    settlement:
        Output of :meth:`MultiYearContract.settle_paths` (dims scenario, year).
    terms:
        :class:`CashTerms` (default: no capitation, 9-month lag, 5% NPV rate, 3% guarantee).

    Returns
    -------
    xarray.Dataset
        dims (scenario, cash_year), cash years 1..Y + lag (calendar years from the start of PY1):
        ``in_year`` (capitation less covered spend), ``reconciliation``, ``net_cash`` (their sum),
        ``cumulative`` (cumulative net cash at the end of the cash year), ``reserve`` (the
        guarantee or reserve tested that year), ``breach`` (cumulative < -reserve at the end
        of the year);
        dims (scenario): ``npv`` (at ``discount_rate``, monthly timing), ``total`` (undiscounted),
        ``first_breach_year`` (0: never), ``ever_breached``.

    Examples
    --------
    >>> from vbsim.contracts import Contract, TwoSidedRisk
    >>> from vbsim.multiyear import FixedBenchmark, MultiYearContract, demo_paths, with_savings
    >>> c = Contract("full risk", sharing=TwoSidedRisk(rate=1.0, loss_rate=1.0), sequestration=0)
    >>> p = with_savings(demo_paths(years=5, trend=0.0), -0.05, first_year=4)  # 5% over
    >>> cf = cash_flows(MultiYearContract(FixedBenchmark(), c).settle_paths(p))
    >>> (cf["reconciliation"].values[0] / 1e6).round(2).tolist()  # paid in the following year
    [0.0, -7.5, -7.5]
    >>> int(cf["first_breach_year"][0])  # cumulative -7.5M < -3% x 150M = -4.5M in year 2
    2
    """
    terms = terms or CashTerms()
    net = _sy(settlement, "provider_net")
    cap, covered = _advance(settlement, terms)
    adv = cap - covered
    recon = net - adv
    S, Y = net.shape
    lag = terms.reconciliation_lag_months
    n_cash = Y + int(math.ceil(lag / 12.0 - 1e-12))
    # monthly timing: in-year flows at the end of each month of year t; reconciliation at
    # 12 t + lag months (t = 1..Y).
    months = np.arange(1, 13)
    in_year = np.zeros((S, n_cash))
    rec_by_year = np.zeros((S, n_cash))
    disc_in = np.zeros(Y)
    disc_rec = np.zeros(Y)
    v = 1.0 / (1.0 + terms.discount_rate)
    for t in range(Y):
        in_year[:, t] = adv[:, t]
        paid_at = 12.0 * (t + 1) + lag  # months after the start of PY1
        k = int(math.ceil(paid_at / 12.0 - 1e-12)) - 1  # cash year that contains the payment
        rec_by_year[:, k] += recon[:, t]
        disc_in[t] = np.mean(v ** ((12.0 * t + months) / 12.0))
        disc_rec[t] = v ** (paid_at / 12.0)
    net_cash = in_year + rec_by_year
    cum = np.cumsum(net_cash, axis=1)
    if terms.reserve is not None:
        reserve = np.full((S, n_cash), terms.reserve)
    else:
        if "base_expenditure" not in settlement:
            raise VbsimInputError("settlement lacks base_expenditure; pass CashTerms(reserve=...)")
        base = np.asarray(settlement["base_expenditure"].values, float)
        if terms.guarantee_basis == "base":
            spend = np.repeat(base[:, None], n_cash, axis=1)
        else:
            spend = np.concatenate([base[:, None], _sy(settlement, "expenditure")], axis=1)
            spend = spend[:, np.minimum(np.arange(n_cash), Y)]
        reserve = terms.guarantee_share * spend
    breach = cum < -reserve
    first = np.where(breach.any(axis=1), breach.argmax(axis=1) + 1, 0)
    npv = adv @ disc_in + recon @ disc_rec
    ds = xr.Dataset(
        {
            "in_year": (("scenario", "cash_year"), in_year),
            "reconciliation": (("scenario", "cash_year"), rec_by_year),
            "net_cash": (("scenario", "cash_year"), net_cash),
            "cumulative": (("scenario", "cash_year"), cum),
            "breach": (("scenario", "cash_year"), breach),
            "reserve": (("scenario", "cash_year"), reserve),
            "npv": (("scenario",), npv),
            "total": (("scenario",), net.sum(axis=1)),
            "first_breach_year": (("scenario",), first.astype(np.int64)),
            "ever_breached": (("scenario",), breach.any(axis=1)),
        },
        coords={"scenario": settlement["scenario"].values,
                "cash_year": np.arange(1, n_cash + 1)},
    )
    ds.attrs["cash_terms"] = repr(terms)
    return ds


def first_breach_distribution(cash: xr.Dataset) -> xr.Dataset:
    """Share of scenarios whose first breach is in each cash year (0: never), with MC errors.

    >>> import xarray as xr, numpy as np
    >>> cf = xr.Dataset({"first_breach_year": ("scenario", np.array([0, 2, 2, 0]))},
    ...                 coords={"cash_year": [1, 2, 3]})
    >>> first_breach_distribution(cf)["share"].values.tolist()
    [0.5, 0.0, 0.5, 0.0]
    """
    f = np.asarray(cash["first_breach_year"].values)
    years = np.concatenate([[0], np.asarray(cash["cash_year"].values)])
    n = f.size
    share = np.array([(f == y).mean() for y in years])
    se = np.sqrt(share * (1 - share) / max(n - 1, 1))
    return xr.Dataset({"share": ("first_breach_year", share), "se": ("first_breach_year", se)},
                      coords={"first_breach_year": years})
