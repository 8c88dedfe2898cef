"""Every notebook in notebooks/ runs top to bottom at a small size (VBSIM_SMALL=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat", reason="pip install nbformat (test extras)")
    nbclient = pytest.importorskip("nbclient", reason="pip install nbclient (test extras)")
    pytest.importorskip("ipykernel", reason="pip install ipykernel (test extras)")
    monkeypatch.setenv("VBSIM_SMALL", "1")  # the notebooks read it to shrink their sizes
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


def test_there_is_a_notebook() -> None:
    assert any(p.name == "negotiate_offer.ipynb" for p in NOTEBOOKS), os.listdir(ROOT / "notebooks")
