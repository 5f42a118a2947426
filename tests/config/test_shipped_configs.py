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


def test_tiny_long_is_the_quickstart_with_a_larger_budget() -> None:
    """configs/tiny_long.yaml says it is the quickstart with four times the SFT; only the budget may differ,
    so that its figures beside the quickstart's (README, docs/builtin_model_research.md) compare like with like."""
    quick, long = load_sweep(ROOT / "configs" / "quickstart.yaml"), load_sweep(ROOT / "configs" / "tiny_long.yaml")
    assert long.space == quick.space
    budget = {"name": True, "sft": {"max_steps", "eval_every"}, "data": {"train_examples"},
              "search": {"scheduler_options"}}
    assert long.spec.model_dump(exclude=budget) == quick.spec.model_dump(exclude=budget)
    for sweep in (quick, long):  # one pass: every SFT row is new, none repeated
        assert sweep.spec.data.train_examples == sweep.spec.sft.max_steps * sweep.spec.sft.batch_size
    assert long.spec.sft.max_steps == 4 * quick.spec.sft.max_steps
