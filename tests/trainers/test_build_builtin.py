"""A micro build (seconds) through the real build code: determinism, resume, the gate, a loadable result."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolsweep.trainers.build_builtin import BuildConfig, build, generate_data, main

MICRO = {"n_tools": 60, "n_train": 48, "n_probe": 8, "gate_test_examples": 4, "vocab_size": 320, "hidden_size": 32,
         "num_layers": 2, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 64, "steps": 20, "batch_size": 4,
         "warmup_steps": 2, "eval_every": 10, "checkpoint_every": 10, "threads": 1, "precision": "fp32",
         "gate_max_new_tokens": 8}


def _build(tmp_path: Path, name: str, resume: bool = False, **overrides) -> tuple[dict, dict[str, torch.Tensor]]:
    out = tmp_path / name
    info = build(BuildConfig(**{**MICRO, **overrides}), out, resume=resume, log=lambda _msg: None)
    return info, load_file(out / "model.safetensors") if (out / "model.safetensors").is_file() else {}


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
    assert not (tmp_path / "a" / "checkpoint").exists()  # a finished build leaves only the model


def test_an_interrupted_build_resumes_to_the_same_weights(tmp_path: Path) -> None:
    _, whole = _build(tmp_path, "whole")
    stopped, nothing = _build(tmp_path, "split", time_limit_s=1e-9)
    assert stopped["stopped_at_step"] == MICRO["eval_every"] and not nothing
    assert (tmp_path / "split" / "checkpoint" / "state.pt").is_file()
    info, resumed = _build(tmp_path, "split", resume=True)
    assert [h["step"] for h in info["history"]] == [10, 20]
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    with pytest.raises(ValueError, match="other build options"):
        _build(tmp_path, "other", time_limit_s=1e-9)
        _build(tmp_path, "other", resume=True, lr=5e-4)


def test_a_resumed_build_may_change_its_length_and_says_so(tmp_path: Path) -> None:
    _build(tmp_path, "longer", time_limit_s=1e-9)
    with pytest.raises(ValueError, match="not past the checkpoint's step 10"):
        _build(tmp_path, "longer", resume=True, steps=10)
    info, _ = _build(tmp_path, "longer", resume=True, steps=30)
    assert {"resumed_at_step": 10, "steps_changed": [20, 30]} in info["history"]
    assert info["final"]["step"] == 30 and info["config"]["steps"] == 30


def test_resume_refuses_a_checkpoint_of_other_data(tmp_path: Path) -> None:
    _build(tmp_path, "data", time_limit_s=1e-9)
    file = tmp_path / "data" / "checkpoint" / "state.pt"
    state = torch.load(file, weights_only=False)
    assert len(state["train_sha256"]) == 64
    torch.save({**state, "train_sha256": "0" * 64}, file)
    with pytest.raises(ValueError, match="training data differs"):
        _build(tmp_path, "data", resume=True)


def test_cli_writes_a_loadable_fp32_model_with_build_info_and_gate(tmp_path: Path) -> None:
    args = [f"--{k.replace('_', '-')}={v}" for k, v in MICRO.items()]
    assert main(["--out", str(tmp_path), "--steps", "3", *[a for a in args if not a.startswith("--steps")]]) == 0
    info = json.loads((tmp_path / "build_info.json").read_text())
    assert info["config"]["steps"] == 3 and info["config"]["seed"] == 0
    assert {"torch", "transformers", "tokenizers", "python"} <= set(info["versions"])
    gate = info["gate"]
    assert gate["copy_probe"]["n"] == MICRO["n_probe"] and 0.0 <= gate["copy_probe"]["exact_match"] <= 1.0
    assert gate["quickstart_test"]["n"] == MICRO["gate_test_examples"]
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert model.dtype == torch.float32
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id != tokenizer.eos_token_id


def test_the_copy_probe_offers_only_unseen_tools_with_unseen_values() -> None:
    from toolsweep.data.values import value_split

    train, probe = generate_data(BuildConfig(**{**MICRO, "n_train": 300, "n_probe": 60}))
    seen = {t["function"]["name"] for ex in train for t in ex["tools"]}
    assert not seen & {t["function"]["name"] for ex in probe for t in ex["tools"]}
    for ex in probe:
        for call in ex["messages"][-1].get("tool_calls", []):
            for value in call["function"]["arguments"].values():
                if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                    props = {t["function"]["name"]: t["function"]["parameters"]["properties"] for t in ex["tools"]}
                    if all("enum" not in p for p in props[call["function"]["name"]].values()):
                        assert value_split(value) == "validation", value


def test_config_rejects_inconsistent_sizes_and_unknown_choices() -> None:
    with pytest.raises(ValueError, match="num_heads"):
        BuildConfig(hidden_size=30, num_heads=4)
    with pytest.raises(ValueError, match="warmup_steps"):
        BuildConfig(steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="device"):
        BuildConfig(device="tpu")
    with pytest.raises(ValueError, match="precision"):
        BuildConfig(precision="fp8")
    with pytest.raises(ValueError, match=r"clarify_share in \[0, 1\) \(got 1.0\)"):
        BuildConfig(clarify_share=1.0)


def test_a_build_continues_from_a_built_models_weights_and_keeps_its_record(tmp_path: Path) -> None:
    first, weights = _build(tmp_path, "first")
    # A learning rate too small to move anything: the continued model must come back with the first's weights.
    info, continued = _build(tmp_path, "next", steps=4, lr=1e-12, init_from=str(tmp_path / "first"))
    assert all(torch.allclose(weights[k].float(), continued[k].float()) for k in weights)
    assert info["init_from"]["history"] == first["history"] and info["config"]["init_from"].endswith("first")
    assert AutoTokenizer.from_pretrained(tmp_path / "next").get_vocab() == \
        AutoTokenizer.from_pretrained(tmp_path / "first").get_vocab()
    with pytest.raises(ValueError, match="init_from: .* another shape"):
        _build(tmp_path, "wider", hidden_size=64, init_from=str(tmp_path / "first"))
    with pytest.raises(FileNotFoundError, match="init_from: .* no config.json"):
        _build(tmp_path, "lost", init_from=str(tmp_path / "missing"))
    assert BuildConfig.from_record(info["config"] | {"init_from": "gone"}).init_from == "gone"  # a record, not a path


def test_training_rows_ask_for_missing_values_and_the_probe_stays_a_copying_test() -> None:
    train, probe = generate_data(BuildConfig(**{**MICRO, "n_train": 200, "clarify_share": 0.1}))
    asked = [ex for ex in train if "clarify" in ex]
    assert len(asked) == 20 and all("tool_calls" not in ex["messages"][-1] for ex in asked)
    assert not any("clarify" in ex for ex in probe)
    assert "clarify" not in BuildConfig(clarify_share=0.0).train_categories


def test_a_record_from_before_an_option_existed_reads_as_what_that_build_did() -> None:
    old = {k: v for k, v in dataclasses.asdict(BuildConfig(**MICRO)).items()
           if k not in ("verb_synonyms", "clarify_share", "init_from")}
    cfg = BuildConfig.from_record(old)
    assert cfg.verb_synonyms == 0.0 and cfg.clarify_share == 0.0 and cfg.init_from == ""
    assert BuildConfig.from_record(dataclasses.asdict(BuildConfig(**MICRO))) == BuildConfig(**MICRO)
