"""The tabulated Spliced quantile map against the exact one (scipy)."""

from __future__ import annotations

import numpy as np
import pytest

from vbsim.costs import Spliced
from vbsim.engine import ztable
from vbsim.engine.reference import member_cost_np
from vbsim.population import STD_CV, STD_TAIL_SHAPE, STD_TAIL_SHARE, STD_ZERO_SHARE

MODELS = [
    Spliced(mean=11_000, cv=STD_CV, zero_share=STD_ZERO_SHARE, tail_share=STD_TAIL_SHARE,
            tail_shape=STD_TAIL_SHAPE),
    Spliced(mean=11_000, cv=2.0, zero_share=0.15, tail_share=0.05, tail_shape=0.3),
    Spliced(mean=89_000, cv=1.0, zero_share=0.02, tail_share=0.263, tail_shape=0.0),
    Spliced(mean=9_000, cv=1.5, zero_share=0.0, tail_share=0.1, tail_shape=0.0),
    Spliced(mean=9_000, cv=1.5, zero_share=0.1, tail_share=0.0),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"z{m.zero_share}-t{m.tail_share}")
def test_table_matches_exact_map(model):
    _, p = model.kernel_spec()
    row = ztable.spliced_table(p)
    z_lo, z_hi = row[0], row[3]
    assert z_hi >= ztable.Z_HI
    z = np.linspace(z_lo, z_hi - 1e-9, 300_001)
    exact = ztable.exact_cost_np(p, z)
    tab = ztable.table_cost_np(row, z)
    far = z >= (p[7] if model.zero_share > 0 else -np.inf) + ztable.DELTA + 0.3
    assert np.max(np.abs(tab[far] / exact[far] - 1)) < 2e-8
    # near z0 the cost has an infinite slope: larger relative errors, on near-zero costs
    if (~far).any():
        assert np.max(np.abs(tab[~far] - exact[~far])) < 1e-5 * model.mean
    # the interpolated quantile map is non-decreasing and positive
    assert tab.min() > 0 and np.all(np.diff(tab) >= 0)
    # the engine's map: zero below z0, table inside, exact outside, continuous at the edges
    zz = np.array([p[7] - 1e-6, z_lo - 1e-9, z_lo, 0.0, z_hi - 1e-9, z_hi, 12.0])
    got = member_cost_np(1, p, zz, 0, np.zeros(zz.size, np.uint64), row)
    want = ztable.exact_cost_np(p, zz)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * model.mean)


def test_packing_pads_other_families():
    _, p = MODELS[0].kernel_spec()
    packed = ztable.pack_tables([None, ztable.spliced_table(p)])
    assert packed[0, 2] == 0 and packed[1, 2] > 0


@pytest.mark.parametrize("model", MODELS[:3], ids=lambda m: f"z{m.zero_share}-t{m.tail_share}")
def test_hand_vectorised_cubic_matches_the_table_bit_for_bit(model):
    """kernel.spliced_cubic4 (four lanes in LLVM vector registers) against the numpy twin of the
    table, bit for bit, and its mask of members outside the table lane by lane."""
    from numba import njit

    from vbsim.engine.kernel import spliced_cubic4

    @njit
    def cubic_all(zt, z, z0):
        n = z.size
        cell = np.empty(n, np.int64)
        out = np.empty(n)
        mask = np.zeros(n, np.int64)
        for j in range(n):
            v = min(max((z[j] - zt[0]) * zt[1], 0.0), zt[2] - 1e-9)
            k = np.int32(v)
            out[j] = v - float(k)
            cell[j] = 4 + 4 * k
        for q in range(n // 4):
            m = spliced_cubic4(zt, cell, out, z, q * 4, z0, zt[0], zt[3])
            for lane in range(4):
                mask[q * 4 + lane] = (m >> lane) & 1
        return out, mask

    _, p = model.kernel_spec()
    row = ztable.spliced_table(p)
    z0, z_lo, z_hi = p[7], row[0], row[3]
    rng = np.random.default_rng(4)
    z = rng.normal(0.0, 2.5, 40_000)
    # members outside the table at every lane position: just above z0 and at the top
    z[1::7] = z0 + rng.uniform(0.0, z_lo - z0, z[1::7].size) if z0 > -1e300 else z[1::7]
    z[3::11] = z_hi + rng.uniform(0.0, 1.0, z[3::11].size)
    out, mask = cubic_all(row, z, z0)
    outside = ((z >= z0) & (z < z_lo)) | (z >= z_hi)
    assert np.array_equal(mask.astype(bool), outside)
    assert outside[1::7].all() == (z0 > -1e300) and outside[3::11].all()
    inside = ~outside
    assert np.array_equal(out[inside], ztable.table_cost_np(row, z[inside]))
