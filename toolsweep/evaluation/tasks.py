"""The evaluation task record: what to prompt with and what to score against.

Both sources of evaluation data, contract examples (``docs/data_contract.md``) and BFCL rows
(:mod:`toolsweep.evaluation.bfcl`), become :class:`EvalTask`, so generation and scoring never care
where an example came from. ``tools`` (OpenAI tool specs) are what the chat template renders;
``functions`` are what the scorer checks against, which for BFCL keep BFCL's own type names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolsweep.evaluation.ground_truth import ground_truth_from_example
from toolsweep.evaluation.scoring import GroundTruth


@dataclass
class EvalTask:
    """One prompt plus its BFCL-form ground truth."""

    id: str
    category: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    ground_truth: GroundTruth
    functions: list[dict[str, Any]] = field(default_factory=list)
    subcategory: str | None = None

    def __post_init__(self) -> None:
        if not self.functions:
            self.functions = [t.get("function", t) for t in self.tools]

    @property
    def user_text(self) -> str:
        """The last user message, for failure reports."""
        for message in reversed(self.messages):
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                return message["content"]
        return ""

    @classmethod
    def from_example(cls, example: Mapping[str, Any]) -> EvalTask:
        """A contract example: the prompt is every message before the final assistant turn."""
        messages = list(example.get("messages") or [])
        last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
        if last is None:
            raise ValueError(
                f"example {example.get('id')!r} has no assistant turn; evaluation needs the reference "
                "answer as the final assistant message (see docs/data_contract.md)"
            )
        return cls(
            id=str(example.get("id", "")),
            category=str(example.get("category", "")),
            messages=[dict(m) for m in messages[:last]],
            tools=list(example.get("tools") or []),
            ground_truth=ground_truth_from_example(example),
        )


def as_tasks(examples: Iterable[Mapping[str, Any] | EvalTask]) -> list[EvalTask]:
    """Accept contract examples, :class:`EvalTask` objects, or a mix (e.g. a ``datasets.Dataset``)."""
    return [e if isinstance(e, EvalTask) else EvalTask.from_example(e) for e in examples]
