"""A tiny random model on disk with the built-in chat template, so trainer tests use the real loading path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

TEMPLATE = Path(__file__).parents[2] / "toolsweep" / "models" / "chat_template.jinja"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from toolsweep.evaluation.testing import build_tiny_lm

    model, tokenizer = build_tiny_lm(seed=0, hidden_size=32, num_layers=2)
    tokenizer.chat_template = TEMPLATE.read_text()
    path = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def examples() -> list[dict]:
    from toolsweep.evaluation.testing import synthetic_examples

    return synthetic_examples(32)


def pairs_from(examples: list[dict]) -> list[dict]:
    """Preference pairs whose rejected answer names a tool that does not exist: easy for DPO to learn."""
    pairs = []
    for example in examples:
        chosen = example["messages"][-1]
        rejected = {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "no_such_tool", "arguments": {"x": 1}}}]}
        pairs.append({"id": example["id"], "category": example["category"], "tools": example["tools"],
                      "prompt": example["messages"][:-1], "chosen": [chosen], "rejected": [rejected],
                      "rejection_kind": "wrong_tool"})
    return pairs
