"""Contract records (plain dicts) → the ``datasets.Dataset`` columns TRL's trainers read.

Tools go in as a JSON string column: ``Dataset.from_list`` would otherwise merge every tool's parameter
schema into one Arrow struct and fill the others with nulls, which then appear in the rendered prompt.
Messages use datasets' JSON feature for the same reason (``on_mixed_types="use_json"``). TRL json-decodes a
string ``tools`` column before calling the chat template.
"""

from __future__ import annotations

import json
from typing import Any

from datasets import Dataset

__all__ = ["preference_dataset", "sft_dataset"]


def sft_dataset(examples: list[dict[str, Any]]) -> Dataset:
    rows = [{"messages": example["messages"], "tools": json.dumps(example["tools"])} for example in examples]
    return Dataset.from_list(rows, on_mixed_types="use_json")


def preference_dataset(pairs: list[dict[str, Any]]) -> Dataset:
    rows = [
        {"prompt": pair["prompt"], "chosen": pair["chosen"], "rejected": pair["rejected"], "tools": json.dumps(pair["tools"])}
        for pair in pairs
    ]
    return Dataset.from_list(rows, on_mixed_types="use_json")
