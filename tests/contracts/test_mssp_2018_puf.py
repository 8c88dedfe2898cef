"""Calibration check: the PY2018 preset reproduces every ACO's published shared savings / losses.

Data: /work/shared/data/mssp_puf_py2018.csv (CMS MSSP PY2018 PUF, see data/README.md). Inputs
per ACO: benchmark ABtotBnchmk, expenditure ABtotExp, MSR/MLR MinSavPerc, quality score
QualScore (published rounded to 4 digits), quality standard Met_QPS, and the extreme-and-
uncontrollable-circumstances adjustment DisAdj (negative: relief of a shared loss).
Tolerance: the quality score's rounding (+-0.00005) moves the rate by <= 0.0056% relative;
we allow 0.02% or $50.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vbsim.presets import mssp_2018

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "mssp_puf_py2018.csv"
TRACKS = {"Current_Track_1": "1", "Current_Track_1_Plus": "1+", "Current_Track_2": "2",
          "Current_Track_3": "3"}


@pytest.mark.skipif(not DATA.exists(), reason=f"public data not found at {DATA}")
def test_py2018_puf_reproduced():
    pd = pytest.importorskip("pandas")
    d = pd.read_csv(DATA)
    n = 0
    for col, track in TRACKS.items():
        x = d[d[col] == 1]
        for msr in sorted(x["MinSavPerc"].unique()):
            g = x[x["MinSavPerc"] == msr]
            s = mssp_2018(track, msr=float(msr)).settle(
                benchmark=g["ABtotBnchmk"].to_numpy(float),
                expenditure=g["ABtotExp"].to_numpy(float),
                quality_score=g["QualScore"].to_numpy(float),
                quality_standard_met=(g["Met_QPS"] == 1).to_numpy(),
                relief=-g["DisAdj"].fillna(0.0).to_numpy(float),
            )
            published = g["EarnSaveLoss"].fillna(0.0).to_numpy(float)
            np.testing.assert_allclose(s.payment, published, rtol=2e-4, atol=50,
                                       err_msg=f"track {track}, MSR {msr}")
            n += len(g)
    assert n == len(d)  # every ACO belongs to one track
