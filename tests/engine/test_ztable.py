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
