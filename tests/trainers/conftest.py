"""A tiny random model on disk with the built-in chat template, so trainer tests use the real loading path."""

from __future__ import annotations

import pytest


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
