"""Contract examples as evaluation tasks: the prompt, and the ground truth derived from the reference answer.

The record itself, :class:`~toolsweep.data.eval_task.EvalTask`, lives in ``toolsweep.data`` because BFCL's
rows are read there and become tasks as they are read; a contract example needs the ground-truth rules of
this package (``ground_truth.py``) to become one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from toolsweep.data.eval_task import EvalTask
from toolsweep.evaluation.ground_truth import ground_truth_from_example

__all__ = ["EvalTask", "as_tasks", "task_from_example"]


def task_from_example(example: Mapping[str, Any]) -> EvalTask:
    """A contract example: the prompt is every message before the final assistant turn."""
    messages = list(example.get("messages") or [])
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None:
        raise ValueError(
            f"example {example.get('id')!r} has no assistant turn; evaluation needs the reference "
            "answer as the final assistant message (see docs/data_contract.md)"
        )
    return EvalTask(
        id=str(example.get("id", "")),
        category=str(example.get("category", "")),
        messages=[dict(m) for m in messages[:last]],
        tools=list(example.get("tools") or []),
        ground_truth=ground_truth_from_example(example),
    )


def as_tasks(examples: Iterable[Mapping[str, Any] | EvalTask]) -> list[EvalTask]:
    """Accept contract examples, :class:`EvalTask` objects, or a mix (e.g. a ``datasets.Dataset``)."""
    return [e if isinstance(e, EvalTask) else task_from_example(e) for e in examples]
