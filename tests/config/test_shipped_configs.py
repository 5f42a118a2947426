"""Every YAML sweep file the project ships must validate (torchtune's tests/recipes/test_configs.py idea)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolsweep.config import load_sweep

ROOT = Path(__file__).parents[2]
SWEEPS = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if "kind:" not in p.read_text() and "cluster_name:" not in p.read_text())


def test_there_are_shipped_sweeps() -> None:
    assert any(path.name == "quickstart.yaml" for path in SWEEPS)


@pytest.mark.parametrize("path", SWEEPS, ids=[str(p.relative_to(ROOT)) for p in SWEEPS])
def test_shipped_sweep_validates(path: Path) -> None:
    load_sweep(path)
