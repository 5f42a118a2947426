"""When2Call's multiple-choice evaluation: does the model *prefer* the right decision about calling?

When2Call (NVIDIA; Ross et al., NAACL 2025, https://github.com/NVIDIA/When2Call) gives each test question
four candidate answers, one per behaviour: ``direct`` (answer outright: always a hallucination here),
``tool_call``, ``request_for_info`` (ask for a missing required argument) and ``cannot_answer`` (no offered
tool fits). Its MCQ evaluation scores every candidate by the model's log-likelihood and takes the best,
so it needs no generation and no output parsing: one forward pass per candidate, cheap enough to run
while training (and on a model that does not yet write well-formed calls).

How a row is scored here:

* the prompt is the row's question rendered with the tokenizer's chat template and the row's tools; each
  candidate is rendered as the assistant turn that follows, through the same template (a ``tool_call``
  candidate becomes ``tool_calls``, so each model sees a call in its own format, as the official per-model
  harness tasks arrange by hand), up to its end-of-turn token;
* score = the candidate tokens' summed log-probabilities / their number (``length_norm="tokens"``);
  ``"chars"`` divides by the candidate's length in characters instead, as lm-evaluation-harness's
  ``acc_norm`` (the paper's "Acc-Norm") does; ``"none"`` keeps the sum;
* the choice is the argmax (ties: the first candidate in the row's order).

Metrics, as the paper defines them (``evaluation/mcq/.../additional_metrics.py`` of the official repo):
accuracy; macro-F1 over the answer kinds that occur as gold or prediction (scikit-learn's ``f1_score(...,
average="macro")``, which the harness task uses); and the tool-hallucination rate, the share of questions
whose right answer is ``cannot_answer`` *and* that offer no tools at all, where the model chose the tool call.
A set without such questions has no rate, and the key is left out (like every undefined metric here).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from toolsweep.data.formats import RowProblem
from toolsweep.data.when2call_format import WHEN2CALL_KINDS, when2call_mcq_item
from toolsweep.evaluation.generation import render_prompt

PREFIX = "when2call"
LengthNorm = Literal["tokens", "chars", "none"]


def _as_items(rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Accept loaded items or raw test rows (e.g. from ``datasets``)."""
    items = []
    for index, row in enumerate(rows):
        if "choices" in row:
            items.append(dict(row))
            continue
        try:
            items.append(when2call_mcq_item(dict(row), f"row-{index}"))
        except RowProblem as problem:
            raise ValueError(f"When2Call row {index}: {problem.message}; load the file with "
                             "data.loaders.load_when2call_mcq to skip and report bad rows") from problem
    return items


def candidate_texts(tokenizer: Any, item: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """``(prompt, {kind: continuation})``: what the model is conditioned on and what each candidate adds."""
    prompt = render_prompt(tokenizer, item["prompt"], item["tools"])
    out = {}
    for kind, message in item["choices"].items():
        full = tokenizer.apply_chat_template([*item["prompt"], message], tools=list(item["tools"]) or None,
                                             tokenize=False)
        if not full.startswith(prompt):
            raise ValueError(f"the chat template renders When2Call row {item['id']}'s prompt differently once an "
                             f"assistant turn follows it (the {kind!r} answer), so that answer cannot be scored on "
                             "its own; use a template whose generation prompt is a prefix of the rendered answer")
        out[kind] = full[len(prompt):].rstrip()
    return prompt, out


def _encode(tokenizer: Any, prompt: str, continuation: str) -> tuple[list[int], int]:
    """Token ids of prompt + continuation and where the continuation starts; a token that merges across the
    boundary counts as the continuation's (lm-evaluation-harness splits the same way)."""
    context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    whole = tokenizer(prompt + continuation, add_special_tokens=False)["input_ids"]
    start = 0
    while start < min(len(context), len(whole)) and context[start] == whole[start]:
        start += 1
    if start == 0 or start == len(whole):
        raise ValueError("a When2Call candidate has no tokens to score after its prompt (or the prompt is empty)")
    return whole, start


def _accepts_logits_to_keep(model: Any) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def _forward_logprobs(model: Any, sequences: list[tuple[list[int], int]], pad_id: int) -> list[float]:
    """Summed log-probability of each sequence's continuation, all in one forward pass.

    Left padding puts every continuation at the end, so only the last ``K`` positions need logits (the
    vocabulary-sized tensor is what costs memory); positions count from each row's first real token, so
    padding changes no row's result."""
    import torch

    device = next(model.parameters()).device
    width = max(len(ids) for ids, _ in sequences)
    keep = max(len(ids) - start for ids, start in sequences) + 1
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, (ids, _) in enumerate(sequences):
        input_ids[row, width - len(ids):] = torch.tensor(ids)
        mask[row, width - len(ids):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    kwargs = {"logits_to_keep": keep} if _accepts_logits_to_keep(model) else {}
    out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                use_cache=False, **kwargs)
    logits = out.logits[:, -keep:, :].float()
    logprobs = torch.log_softmax(logits[:, :-1, :], dim=-1)
    targets = input_ids[:, width - keep + 1:].to(device)
    token_logprobs = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    answer_lengths = torch.tensor([len(ids) - start for ids, start in sequences], device=device)
    target_index = torch.arange(keep - 1, device=device).unsqueeze(0)
    in_answer = target_index >= (keep - 1 - answer_lengths).unsqueeze(1)
    return (token_logprobs * in_answer).sum(-1).tolist()


def score_candidates(model: Any, tokenizer: Any, rows: Sequence[Mapping[str, Any]], batch_size: int = 8,
                     length_norm: LengthNorm = "tokens") -> list[dict[str, float]]:
    """Per row, ``{kind: length-normalised log-likelihood}`` of every candidate answer.

    ``batch_size`` counts candidates per forward pass (a row has four). Candidates are batched longest first,
    so a batch pads little. The model is put in eval mode (dropout off) and back in its former mode after."""
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if length_norm not in ("tokens", "chars", "none"):
        raise ValueError(f"length_norm must be 'tokens', 'chars' or 'none', not {length_norm!r}")
    items = _as_items(rows)
    keys, sequences, chars = [], [], []
    for index, item in enumerate(items):
        prompt, continuations = candidate_texts(tokenizer, item)
        for kind, text in continuations.items():
            keys.append((index, kind))
            sequences.append(_encode(tokenizer, prompt, text))
            chars.append(len(text))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i][0]))
    sums = [0.0] * len(sequences)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with torch.no_grad():
            for begin in range(0, len(order), batch_size):
                batch = order[begin:begin + batch_size]
                for i, value in zip(batch, _forward_logprobs(model, [sequences[i] for i in batch], pad_id),
                                    strict=True):
                    sums[i] = value
    finally:
        model.train(was_training)
    scores: list[dict[str, float]] = [{} for _ in items]
    for i, (index, kind) in enumerate(keys):
        ids, start = sequences[i]
        divisor = {"tokens": len(ids) - start, "chars": max(chars[i], 1), "none": 1}[length_norm]
        scores[index][kind] = sums[i] / divisor
    return scores


def choose(scores: Sequence[Mapping[str, float]]) -> list[str]:
    """The argmax kind of each row (ties: the first in the row's order)."""
    return [max(row, key=row.__getitem__) for row in scores]


def mc_metrics(rows: Sequence[Mapping[str, Any]], predictions: Sequence[str], prefix: str = PREFIX
               ) -> dict[str, float]:
    """Accuracy, macro-F1 over the kinds seen as gold or prediction, per-kind F1, the tool-hallucination rate
    (left out when no row has gold ``cannot_answer`` and no tools) and ``n_examples``."""
    if len(rows) != len(predictions) or not rows:
        raise ValueError(f"need one prediction per row and at least one row (got {len(rows)} rows, "
                         f"{len(predictions)} predictions)")
    gold = [row["correct_answer"] for row in rows]
    metrics = {f"{prefix}/accuracy": sum(g == p for g, p in zip(gold, predictions, strict=True)) / len(gold),
               f"{prefix}/n_examples": float(len(gold))}
    labels = [k for k in WHEN2CALL_KINDS if k in gold or k in predictions]
    labels += sorted((set(gold) | set(predictions)) - set(labels))
    f1s = []
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, predictions, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predictions, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predictions, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        metrics[f"{prefix}/f1/{label}"] = f1s[-1]
    metrics[f"{prefix}/macro_f1"] = sum(f1s) / len(f1s)
    toolless = [p for row, p in zip(rows, predictions, strict=True)
                if row["correct_answer"] == "cannot_answer" and not row["tools"]]
    if toolless:
        metrics[f"{prefix}/tool_hallucination_rate"] = sum(p == "tool_call" for p in toolless) / len(toolless)
    return metrics


def multiple_choice_eval(model: Any, tokenizer: Any, rows: Sequence[Mapping[str, Any]], batch_size: int = 8,
                         length_norm: LengthNorm = "tokens", prefix: str = PREFIX) -> dict[str, float]:
    """When2Call's MCQ evaluation of ``model`` on ``rows`` (items of ``load_when2call_mcq`` or raw test rows):
    flat metrics ``when2call/accuracy``, ``when2call/macro_f1``, ``when2call/tool_hallucination_rate``,
    ``when2call/f1/<kind>`` and ``when2call/n_examples``, ready for Ray Tune or W&B."""
    items = _as_items(rows)
    if not items:
        raise ValueError("no When2Call rows to evaluate; check the file given (load_when2call_mcq reports "
                         "the rows it skipped)")
    return mc_metrics(items, choose(score_candidates(model, tokenizer, items, batch_size, length_norm)), prefix)
