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

__all__ = ["LengthReport", "answer_length_report", "length_report", "preference_dataset", "sft_dataset"]


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
    """How many rows a token limit cuts. For a training stage's ``max_length``, TRL truncates those rows (keeping
    the start) and drops those whose answer is cut away entirely, so a limit that does not fit the data
    under-trains the longest examples. For ``eval.max_new_tokens``, a reference answer longer than the limit can
    never be matched: those rows score 0 whatever the model learned."""

    stage: str
    max_length: int
    rows: int
    over: int
    longest: int
    field: str = "max_length"

    def message(self) -> str:
        if self.stage == "eval":
            return (f"eval.{self.field}={self.max_length} cuts {self.over} of {self.rows} reference answers (longest "
                    f"{self.longest} tokens), so those rows score 0 whatever the model learns: set "
                    f"eval.{self.field}: {self.longest} to score them")
        return (f"{self.stage}.{self.field}={self.max_length} cuts {self.over} of {self.rows} rows (longest "
                f"{self.longest} tokens); TRL truncates them and drops those whose answer is cut away: set "
                f"{self.stage}.{self.field}: {self.longest} to keep them whole")

    def metrics(self) -> dict[str, float]:
        return {f"data/{self.stage}_rows_over_{self.field}": float(self.over),
                f"data/{self.stage}_longest_tokens": float(self.longest)}


def _rendered_length(tokenizer: Any, messages: list[dict[str, Any]], tools: Any, **kwargs: Any) -> int:
    return len(tokenizer.apply_chat_template(messages, tools=tools, **kwargs)["input_ids"])


def length_report(stage: str, tokenizer: Any, examples: list[dict[str, Any]], max_length: int) -> LengthReport:
    """Token lengths of ``examples`` (SFT conversations, or DPO pairs: prompt plus the longer answer) as the
    chat template renders them, against ``max_length``."""
    lengths = []
    for example in examples:
        if "messages" in example:
            conversations = [example["messages"]]
        else:
            conversations = [example["prompt"] + example["chosen"], example["prompt"] + example["rejected"]]
        lengths.append(max(_rendered_length(tokenizer, c, example["tools"]) for c in conversations))
    return LengthReport(stage, max_length, len(lengths), sum(n > max_length for n in lengths), max(lengths, default=0))


def answer_length_report(tokenizer: Any, examples: list[dict[str, Any]], max_new_tokens: int) -> LengthReport:
    """Token lengths of evaluation rows' reference answers (the rendered conversation minus its generation
    prompt: what the model must generate to match) against ``eval.max_new_tokens``."""
    lengths = []
    for example in examples:
        messages, tools = example["messages"], example["tools"]
        prompt = _rendered_length(tokenizer, messages[:-1], tools, add_generation_prompt=True)
        lengths.append(_rendered_length(tokenizer, messages, tools) - prompt)
    return LengthReport("eval", max_new_tokens, len(lengths), sum(n > max_new_tokens for n in lengths),
                        max(lengths, default=0), field="max_new_tokens")
