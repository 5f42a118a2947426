"""A 2-worker DeepSpeed ZeRO-2 trial on the CPU through Ray Train (gloo backend), SFT then DPO."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolsweep.config.schema import SweepSpec

pytestmark = pytest.mark.slow


def test_two_worker_zero2_sft_and_dpo_complete(tiny_model_dir: Path, tmp_path: Path, ray_local) -> None:
    from toolsweep.sweeps.distributed import train_distributed

    spec = SweepSpec.model_validate({
        "name": "ds",
        "model": {"name": str(tiny_model_dir)},
        "data": {"train_examples": 16, "preference_pairs": 8, "validation_examples": 4, "test_examples": 4},
        "lora": {"r": 4},
        "sft": {"max_steps": 3, "batch_size": 2, "eval_every": 3},
        "dpo": {"max_steps": 2, "batch_size": 2, "eval_every": 2},
        "eval": {"max_new_tokens": 4},
        "resources": {"workers": 2, "cpus_per_trial": 1, "deepspeed": "zero2"},
    })
    metrics = train_distributed(spec, tmp_path / "trial")
    assert "val/exact_match" in metrics and "sft/exact_match" in metrics
    sft = json.loads((tmp_path / "trial" / "sft" / "stage.json").read_text())
    dpo = json.loads((tmp_path / "trial" / "dpo" / "stage.json").read_text())
    assert sft["steps"] == 3 and dpo["steps"] == 2
    for stage in (sft, dpo):
        assert stage["metrics"]["world_size"] == 2 and stage["metrics"]["zero_stage"] == 2
    assert (Path(dpo["model_dir"]) / "adapter_model.safetensors").is_file()
