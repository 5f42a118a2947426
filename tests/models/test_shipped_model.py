"""The shipped built-in model loads through plain transformers and speaks the contract format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolsweep.models.registry import resolve_model
from toolsweep.models.tokenizer import EOS_TOKEN, chat_template, render

UNSEEN_TOOL = {"type": "function", "function": {
    "name": "log_water_intake", "description": "Log water drunk in millilitres.",
    "parameters": {"type": "object", "properties": {"amount_ml": {"type": "integer"}},
                   "required": ["amount_ml"]}}}
"""Not a target tool, and not one the build generated: the base must read its name from the tool list."""


@pytest.fixture(scope="module")
def shipped() -> tuple[Path, object, object]:
    path = Path(resolve_model("builtin:tiny-tool-lm"))
    return path, AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_files_and_size(shipped) -> None:
    path, model, _ = shipped
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "generation_config.json", "build_info.json"):
        assert (path / name).is_file(), name
    assert (path / "model.safetensors").stat().st_size < 8_000_000
    assert model.dtype == torch.float32  # bf16 on disk, fp32 in memory: CPUs without native bf16 emulate it slowly
    info = json.loads((path / "build_info.json").read_text())
    assert info["config"]["seed"] == 0 and info["n_params"] == sum(p.numel() for p in model.parameters())
    assert info["data"]["tools"] == "procedural" and "stopped_at_step" not in info
    gate = info["gate"]  # what the build measured before it was shipped (build.run_gate)
    assert gate["copy_probe"]["n"] >= 199 and gate["quickstart_test"]["n"] == 100
    assert gate["quickstart_test"]["exact_match"] <= 0.20  # it must not already know the target tools
    assert gate["copy_probe"]["exact_match"] >= 0.60  # the target; shipped (build v6): 0.635 on 200


def test_tokenizer_and_generation_config(shipped) -> None:
    path, model, tokenizer = shipped
    assert tokenizer.chat_template == chat_template()
    assert tokenizer.eos_token == EOS_TOKEN and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    raw = Tokenizer.from_file(str(path / "tokenizer.json"))
    text = render({"messages": [{"role": "user", "content": "Log 250 ml of water, Zoë."}], "tools": [UNSEEN_TOOL]})
    assert tokenizer(text)["input_ids"] == raw.encode(text).ids


def test_chat_with_tools_renders_calls_eos_and_generation_prompt(shipped, examples) -> None:
    _, _, tokenizer = shipped
    text = tokenizer.apply_chat_template(examples[0]["messages"], tools=examples[0]["tools"], tokenize=False)
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Lyon"}}\n</tool_call><|im_end|>' in text
    prompt = tokenizer.apply_chat_template(examples[0]["messages"][:1], tools=examples[0]["tools"],
                                           add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n") and text.startswith(prompt)
    out = tokenizer.apply_chat_template(examples[1]["messages"], tools=examples[1]["tools"], return_dict=True,
                                        return_assistant_tokens_mask=True)
    masked = tokenizer.decode([t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m])
    assert masked.startswith("<tool_call>\n") and masked.endswith("</tool_call>" + EOS_TOKEN)
    assert masked.count("<tool_call>") == 2 and "user" not in masked


def test_greedy_decoding_copies_unseen_tools_as_the_build_measured(shipped) -> None:
    """40 fresh copy-probe conversations (tools the build never offered, values it never saw), scored by the
    evaluation trials use: within sampling noise of the gate the build recorded on 200 of them."""
    from toolsweep.evaluation.runner import evaluate
    from toolsweep.trainers.build_builtin import BuildConfig, copy_probe

    path, model, tokenizer = shipped
    info = json.loads((path / "build_info.json").read_text())
    probe = copy_probe(BuildConfig.from_record(info["config"]), 40)
    report = evaluate(model, tokenizer, probe, max_new_tokens=160)
    assert report.exact_match >= info["gate"]["copy_probe"]["exact_match"] - 0.15
    # 40 rows: one malformed answer moves the rate by 0.025, so the same margin as exact match, scaled.
    assert report.metrics.to_flat_dict()["well_formed"] >= info["gate"]["copy_probe"]["well_formed"] - 0.1
