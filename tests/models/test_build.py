"""A micro build (seconds) through the real build code: determinism and a loadable result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolsweep.models.build import BuildConfig, build, main

MICRO = {"n_train": 48, "n_val": 8, "vocab_size": 320, "hidden_size": 32, "num_layers": 2, "num_heads": 2,
         "num_kv_heads": 1, "intermediate_size": 64, "steps": 20, "batch_size": 4, "warmup_steps": 2,
         "eval_every": 10, "threads": 1}


def _build(tmp_path: Path, name: str, **overrides) -> tuple[dict, dict[str, torch.Tensor]]:
    out = tmp_path / name
    info = build(BuildConfig(**{**MICRO, **overrides}), out, log=lambda _msg: None)
    return info, load_file(out / "model.safetensors")


def test_same_seed_gives_identical_losses_and_weights(tmp_path: Path) -> None:
    info_a, weights_a = _build(tmp_path, "a")
    info_b, weights_b = _build(tmp_path, "b")
    losses = [(h["train_loss"], h["val_loss"]) for h in info_a["history"]]
    assert losses == [(h["train_loss"], h["val_loss"]) for h in info_b["history"]]
    assert len(losses) == 2 and losses[-1][0] < 10
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    _, weights_c = _build(tmp_path, "c", seed=1)
    assert any(not torch.equal(weights_a[k], weights_c[k]) for k in weights_a)


def test_cli_writes_a_loadable_fp32_model_with_build_info(tmp_path: Path) -> None:
    args = [f"--{k.replace('_', '-')}={v}" for k, v in MICRO.items()]
    assert main(["--out", str(tmp_path), "--steps", "3", *[a for a in args if not a.startswith("--steps")]]) == 0
    info = json.loads((tmp_path / "build_info.json").read_text())
    assert info["config"]["steps"] == 3 and info["config"]["seed"] == 0
    assert {"torch", "transformers", "tokenizers", "python"} <= set(info["versions"])
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert model.dtype == torch.float32
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id != tokenizer.eos_token_id


def test_config_rejects_inconsistent_sizes() -> None:
    with pytest.raises(ValueError, match="num_heads"):
        BuildConfig(hidden_size=30, num_heads=4)
    with pytest.raises(ValueError, match="warmup_steps"):
        BuildConfig(steps=10, warmup_steps=10)


def test_a_drill_phase_trains_on_drills_first_then_on_conversations(tmp_path: Path) -> None:
    from toolsweep.models import pretrain

    sources: list[int] = []
    original = pretrain._collate

    def spy(data, idx, pad_id, weight, device="cpu"):  # which list each batch is drawn from, by its size
        sources.append(len(data))
        return original(data, idx, pad_id, weight, device)

    pretrain._collate = spy
    try:
        _build(tmp_path, "drills", drill_steps=6, copy_drill_rate=0.5)
    finally:
        pretrain._collate = original
    drill_rows = 6 * MICRO["batch_size"]
    training = [n for n in sources if n >= drill_rows]  # drop the progress evaluations (a few val rows)
    assert training[:6] == [drill_rows] * 6
    assert all(n > drill_rows for n in training[6:]) and len(training) == MICRO["steps"]


def test_a_time_limit_stops_after_the_next_evaluation_and_says_so(tmp_path: Path) -> None:
    info, _ = _build(tmp_path, "limited", time_limit_s=1e-9)
    assert info["stopped_at_step"] == MICRO["eval_every"]
    assert info["final"]["step"] == MICRO["eval_every"]
    assert info["history"][-1]["reason"].startswith("time_limit_s")


def test_config_rejects_an_unknown_device() -> None:
    with pytest.raises(ValueError, match="device"):
        BuildConfig(device="tpu")


def test_rename_rate_renames_that_share_of_the_conversations_only() -> None:
    from toolsweep.data import pretrain_tools
    from toolsweep.models.build import generate_data

    known = {t["function"]["name"] for t in pretrain_tools()}
    plain, _, _ = generate_data(BuildConfig(**{**MICRO, "n_train": 200}))
    renamed, _, _ = generate_data(BuildConfig(**{**MICRO, "n_train": 200, "rename_rate": 0.5}))
    def is_renamed(ex: dict) -> bool:
        return not {t["function"]["name"] for t in ex["tools"]} & known
    assert not any(map(is_renamed, plain))
    assert 0.35 < sum(map(is_renamed, renamed)) / len(renamed) < 0.65
    # Renaming draws from its own random stream: the conversations themselves are the same.
    assert [ex["messages"][0] for ex in renamed] == [ex["messages"][0] for ex in plain]
