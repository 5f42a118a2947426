"""Contract records (plain dicts) → the ``datasets.Dataset`` columns TRL's trainers read.

Tools go in as a JSON string column: ``Dataset.from_list`` would otherwise merge every tool's parameter
schema into one Arrow struct and fill the others with nulls, which then appear in the rendered prompt.
Messages use datasets' JSON feature for the same reason (``on_mixed_types="use_json"``). TRL json-decodes a
string ``tools`` column before calling the chat template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from datasets import Dataset

__all__ = ["LengthReport", "length_report", "preference_dataset", "sft_dataset"]


def sft_dataset(examples: list[dict[str, Any]]) -> Dataset:
    rows = [{"messages": example["messages"], "tools": json.dumps(example["tools"])} for example in examples]
    return Dataset.from_list(rows, on_mixed_types="use_json")


def preference_dataset(pairs: list[dict[str, Any]]) -> Dataset:
    rows = [
        {"prompt": pair["prompt"], "chosen": pair["chosen"], "rejected": pair["rejected"], "tools": json.dumps(pair["tools"])}
        for pair in pairs
    ]
    return Dataset.from_list(rows, on_mixed_types="use_json")


@dataclass(frozen=True)
class LengthReport:
    """How many rows a stage's ``max_length`` cuts: TRL truncates them (keeping the start) and drops those whose
    answer is cut away entirely, so a limit that does not fit the data under-trains the longest examples."""

    stage: str
    max_length: int
    rows: int
    over: int
    longest: int

    def message(self) -> str:
        return (f"{self.stage}.max_length={self.max_length} cuts {self.over} of {self.rows} rows (longest "
                f"{self.longest} tokens); TRL truncates them and drops those whose answer is cut away: set "
                f"{self.stage}.max_length: {self.longest} to keep them whole")

    def metrics(self) -> dict[str, float]:
        return {f"data/{self.stage}_rows_over_max_length": float(self.over),
                f"data/{self.stage}_longest_tokens": float(self.longest)}


def length_report(stage: str, tokenizer: Any, examples: list[dict[str, Any]], max_length: int) -> LengthReport:
    """Token lengths of ``examples`` (SFT conversations, or DPO pairs: prompt plus the longer answer) as the
    chat template renders them, against ``max_length``."""
    lengths = []
    for example in examples:
        if "messages" in example:
            conversations = [example["messages"]]
        else:
            conversations = [example["prompt"] + example["chosen"], example["prompt"] + example["rejected"]]
        lengths.append(max(len(tokenizer.apply_chat_template(c, tools=example["tools"])["input_ids"])
                           for c in conversations))
    return LengthReport(stage, max_length, len(lengths), sum(n > max_length for n in lengths), max(lengths, default=0))
