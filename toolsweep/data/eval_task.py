"""The evaluation task record: what to prompt with and what to score against.

Why in data: both sources of evaluation rows are read here, contract examples (``docs/data_contract.md``) and
BFCL's files (:mod:`toolsweep.data.bfcl`, whose rows come with their own ground truth), and both become
:class:`EvalTask`, so generation and scoring never care where an example came from. ``tools`` (OpenAI tool
specs) are what the chat template renders; ``functions`` are what the scorer checks against, which for BFCL
keep BFCL's own type names. A contract example becomes a task in ``toolsweep.evaluation.tasks``, which derives
its ground truth from the reference answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EvalTask", "GroundTruth"]

GroundTruth = list[dict[str, dict[str, list[Any]]]]
"""BFCL's form of a reference answer: per expected call, ``{tool name: {parameter: [acceptable values]}}``."""


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
