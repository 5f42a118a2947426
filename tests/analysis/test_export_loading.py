"""Export's weights and reload go through the one loading module, without a sweep: a merged export equals the
stage's base + adapter, its tokenizer gets the pad-token fallback, and the reload honours ``model.revision``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.models.test_loading import logits, save_lora_adapter
from toolsweep.analysis import export
from toolsweep.config.schema import SweepSpec
from toolsweep.models import loading


def _spec(tiny_model_dir: Path, **model: Any) -> SweepSpec:
    return SweepSpec.model_validate({
        "model": {"name": str(tiny_model_dir), **model},
        "data": {"train_examples": 8, "preference_pairs": 4, "validation_examples": 2, "test_examples": 2},
        "eval": {"max_new_tokens": 4},
        "resources": {"precision": "fp32"},
    })


def _stage_dir(tiny_model_dir: Path, target: Path) -> Path:
    """A finished LoRA stage's ``final/``: the adapter and a saved tokenizer that has no pad token."""
    from transformers import AutoTokenizer

    save_lora_adapter(tiny_model_dir, target)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(target)
    return target


def test_a_merged_export_is_the_stage_model_and_its_tokenizer_can_pad(tiny_model_dir: Path, tmp_path: Path) -> None:
    spec = _spec(tiny_model_dir)
    stage = _stage_dir(tiny_model_dir, tmp_path / "final")
    target = tmp_path / "export"
    target.mkdir()
    assert export._write_weights(spec, stage, target, adapter_only=False) == "merged"
    assert not loading.is_adapter(target) and (target / "model.safetensors").is_file()
    saved = json.loads((target / "tokenizer_config.json").read_text())
    assert saved["pad_token"] == saved["eos_token"]
    reloaded, tokenizer = loading.load_for_inference(str(target), dtype=torch.float32)
    expected = loading.load_trained(spec.model, stage, torch.float32)
    assert torch.allclose(logits(reloaded), logits(expected), atol=1e-5)
    assert tokenizer.chat_template and tokenizer.pad_token == tokenizer.eos_token
    assert "exact_match" in export._reproduce(spec, target)


def test_the_reload_of_an_export_honours_the_model_revision(tiny_model_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(tiny_model_dir, revision="v1.2", trust_remote_code=False)
    target = tmp_path / "export"
    target.mkdir()
    assert export._write_weights(spec, _stage_dir(tiny_model_dir, tmp_path / "final"), target, adapter_only=True) == "adapter"
    assert loading.adapter_base(target) == str(tiny_model_dir)
    seen: list[dict[str, Any]] = []
    real = loading.load_for_inference

    def recording(location: str, **options: Any) -> Any:
        seen.append(options)
        return real(location, **options)

    monkeypatch.setattr(loading, "load_for_inference", recording)
    export._reproduce(spec, target)
    assert seen == [{"revision": "v1.2", "trust_remote_code": False}]


def test_a_fully_fine_tuned_winner_is_exported_and_described_as_such(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The quickstart fine-tunes every weight (lora.enabled: false): there is no adapter to merge, and the model
    card must not say there was one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toolsweep.analysis.model_card import model_card

    spec = _spec(tiny_model_dir).model_copy(update={"lora": SweepSpec().lora.model_copy(update={"enabled": False})})
    stage = tmp_path / "final"  # a full fine-tune's stage directory holds a whole model
    AutoModelForCausalLM.from_pretrained(tiny_model_dir).save_pretrained(stage)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(stage)
    target = tmp_path / "export"
    target.mkdir()
    assert export._write_weights(spec, stage, target, adapter_only=False) == "full"
    reloaded, _ = loading.load_for_inference(str(target), dtype=torch.float32)
    assert torch.allclose(logits(reloaded), logits(loading.load_trained(spec.model, stage, torch.float32)), atol=1e-5)

    provenance = {"resolved_config": spec.model_dump(mode="json"), "metrics": {"val/exact_match": 0.5}, "format": "full",
                  "sweep": "quickstart", "trial_id": "t1", "rule": "highest val/exact_match", "n_trials": 4,
                  "metric": "val/exact_match", "verification": {"reproduced": 0.5}, "searched_values": {}}
    card = model_card(provenance, [], None)
    assert "the fully fine-tuned weights" in card and "fine-tuning every weight" in card
    assert "disabled (full fine-tuning)" in card and "adapter" not in card and ", lora]" not in card
