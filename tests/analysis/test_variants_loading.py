"""The variants table loads its SFT variant through the one loading module: the finished stage's adapter on
the sweep's base, in eval mode, found by the trial directory when the stage cache no longer has it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from tests.models.test_loading import logits, save_lora_adapter
from toolsweep.analysis import variants
from toolsweep.config.schema import SweepSpec
from toolsweep.models.loading import load_trained
from toolsweep.trainers import pipeline
from toolsweep.trainers.stages import StageResult


def test_the_sft_variant_is_the_stage_adapter_on_its_base(tiny_model_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from peft import PeftModel

    spec = SweepSpec.model_validate({"model": {"name": str(tiny_model_dir)}, "resources": {"precision": "fp32"}})
    stage_dir = tmp_path / "run" / "trial_0" / "sft"
    adapter = save_lora_adapter(tiny_model_dir, stage_dir / "final")
    StageResult("sft", str(adapter), steps=4, seconds=1.0).save(stage_dir)
    run = SimpleNamespace(stage_dirs=lambda trial: {"sft": tmp_path / "run" / trial["trial_id"] / "sft"})
    seen: list[Any] = []

    def scored(model: Any, tokenizer: Any, *args: Any) -> dict[str, float]:
        seen.append(model)
        return {"test/exact_match": 0.25}

    monkeypatch.setattr(pipeline, "evaluate_test_sets", scored)
    assert variants._evaluate_sft(run, {"trial_id": "trial_0"}, spec, tmp_path / "out") == {"exact_match": 0.25}
    (model,) = seen
    assert isinstance(model, PeftModel) and not model.training
    assert torch.allclose(logits(model), logits(load_trained(spec.model, adapter, torch.float32)))
