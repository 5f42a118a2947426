"""On-policy rejections for DPO: the SFT model's own wrong answers replace the synthetic ones.

Why: the synthetic rejections of :mod:`toolsweep.data.preferences` aim at errors small models make in
general (a confusable tool, a dropped argument, a call where none fits). The errors *this* SFT model makes
are known only after SFT: declining a request it should serve, asking for a value the request gives,
inventing a tool name, writing a key twice. DPO learns from the difference between chosen and rejected,
and its loss is largest where the policy already puts its mass; a rejection the policy would never write
teaches it little. So with ``dpo.rejected: on_policy`` each pair's prompt is answered greedily by the model
DPO starts from, the answer is scored like an evaluation row, and where it is wrong its exact text becomes
the rejected turn. Where the model is already right the synthetic rejection stays, so every pair still
pushes a margin. The share replaced is reported as ``dpo/on_policy_rejected`` (the SFT model's error rate on
the pairs' prompts).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolsweep.data.formats import RowProblem
from toolsweep.errors import UserError

__all__ = ["ON_POLICY", "OnPolicyPairs", "on_policy_pairs", "read_saved_pairs"]

ON_POLICY = "on_policy:"
"""Prefix of a replaced pair's ``rejection_kind`` (then the error the model made, e.g. ``on_policy:wrong_tool``)."""


@dataclass(frozen=True)
class OnPolicyPairs:
    """The pairs DPO trains on, and the seconds spent answering their prompts (0 when read back from disk)."""

    pairs: list[dict[str, Any]]
    seconds: float

    @property
    def replaced(self) -> int:
        """Pairs whose rejection is the model's own answer."""
        return sum(pair["rejection_kind"].startswith(ON_POLICY) for pair in self.pairs)

    def metrics(self) -> dict[str, float]:
        n = len(self.pairs)
        return {"dpo/on_policy_rejected": self.replaced / n if n else 0.0, "dpo/on_policy_seconds": self.seconds}


def on_policy_pairs(model: Any, tokenizer: Any, pairs: list[dict[str, Any]], *, max_new_tokens: int,
                    batch_size: int | None = None) -> OnPolicyPairs:
    """``pairs`` with each rejected turn replaced by ``model``'s greedy answer where that answer is wrong.

    A pair's prompt and chosen turn form an evaluation row (the chosen turn is its reference, over the
    pair's own tools), so "wrong" means what it means in the trial's test metrics. The model's text goes in
    verbatim as the assistant's content, so DPO scores exactly the tokens the model wrote."""
    from toolsweep.evaluation.runner import evaluate

    if not pairs:
        return OnPolicyPairs([], 0.0)
    rows = [{"id": pair["id"], "category": pair.get("category", ""), "tools": pair["tools"],
             "messages": [*pair["prompt"], *pair["chosen"]]} for pair in pairs]
    report = evaluate(model, tokenizer, rows, batch_size=batch_size, max_new_tokens=max_new_tokens)
    out = []
    for pair, result in zip(pairs, report.results):
        pair = copy.deepcopy(pair)
        if not result.passed and result.raw_output is not None:  # saying nothing is a mistake to push down too
            pair["rejected"] = [{"role": "assistant", "content": result.raw_output}]
            pair["rejection_kind"] = f"{ON_POLICY}{result.error_kind or 'wrong'}"
        out.append(pair)
    return OnPolicyPairs(out, report.generation.seconds if report.generation is not None else 0.0)


def read_saved_pairs(path: Path) -> OnPolicyPairs:
    """The pairs a DPO stage saved before it trained, read with the project's JSONL reader (``load_rows``).

    A damaged row is an error, not a skipped row: the stage's checkpoints were trained on every pair."""
    from toolsweep.data.loaders import load_rows

    report = load_rows(path, _saved_pair)
    if report.errors:
        raise UserError(f"{report.errors[0]}; delete the file and the DPO stage answers the pairs' prompts again")
    return OnPolicyPairs(report.examples, 0.0)


def _saved_pair(row: Any, path: str, line: int) -> dict[str, Any]:
    if not isinstance(row, dict) or not {"prompt", "chosen", "rejected", "rejection_kind"} <= set(row):
        raise RowProblem("missing_field", "a pair needs prompt, chosen, rejected and rejection_kind")
    return row
