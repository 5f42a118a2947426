"""Evaluate a model on tool-calling examples: generate, parse, score, aggregate.

``evaluate`` is what a sweep trial calls after training with the model still in memory;
``evaluate_path`` loads a saved checkpoint (safetensors only, no remote code unless asked) and can
use vLLM on a CUDA machine. Both return an :class:`EvalReport` whose ``to_flat_dict()`` is ready for
``tune.report``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from toolsweep.evaluation.generation import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_TOKEN_BUDGET,
    GenerationOutput,
    generate_completions,
    generate_vllm,
    render_prompt,
    vllm_available,
)
from toolsweep.evaluation.metrics import EvalMetrics, aggregate, write_failures
from toolsweep.evaluation.parsing import parse_output
from toolsweep.evaluation.scoring import ExampleResult, score_output
from toolsweep.evaluation.tasks import EvalTask, as_tasks

Backend = Literal["auto", "hf", "vllm"]


@dataclass
class EvalReport:
    """Metrics, per-example results and generation statistics of one evaluation."""

    metrics: EvalMetrics
    results: list[ExampleResult]
    generation: GenerationOutput | None = None
    failures_path: str | None = None

    @property
    def exact_match(self) -> float:
        return self.metrics.exact_match.value

    def to_flat_dict(self) -> dict[str, float]:
        flat = self.metrics.to_flat_dict()
        if self.generation is not None and self.generation.seconds > 0:
            flat["gen/tokens_per_second"] = self.generation.tokens_per_second
            flat["gen/seconds"] = self.generation.seconds
        return flat


def score_completions(
    tasks: Sequence[EvalTask],
    completions: Sequence[str],
    *,
    tokenizer: Any | None = None,
    prompts: Sequence[str] | None = None,
    irrelevance_ignores_malformed: bool | None = None,
) -> list[ExampleResult]:
    """Parse and score completions already generated for ``tasks`` (same order).

    Passing ``tokenizer`` enables its response schema for outputs that carry no ``<tool_call>``
    tag (see :func:`toolsweep.evaluation.parsing.parse_output`).
    """
    if len(tasks) != len(completions):
        raise ValueError(f"got {len(completions)} completions for {len(tasks)} tasks; they must pair up")
    results = []
    for i, (task, text) in enumerate(zip(tasks, completions)):
        parsed = parse_output(text, tokenizer, prefix=prompts[i] if prompts else "")
        result = score_output(parsed, task.ground_truth, task.functions, example_id=task.id,
                              category=task.category, subcategory=task.subcategory,
                              irrelevance_ignores_malformed=irrelevance_ignores_malformed)
        result.raw_output = text
        result.prompt = task.user_text
        results.append(result)
    return results


def _report(results: list[ExampleResult], generation: GenerationOutput | None,
            failures_path: str | os.PathLike[str] | None) -> EvalReport:
    path = None
    if failures_path is not None:
        write_failures(failures_path, results)
        path = os.fspath(failures_path)
    return EvalReport(metrics=aggregate(results), results=results, generation=generation, failures_path=path)


def evaluate_completions(examples: Iterable[Mapping[str, Any] | EvalTask], completions: Sequence[str], *,
                         failures_path: str | os.PathLike[str] | None = None) -> EvalReport:
    """Score texts produced elsewhere (an API, another server) exactly like :func:`evaluate`."""
    tasks = as_tasks(examples)
    return _report(score_completions(tasks, completions), None, failures_path)


def evaluate(
    model: Any,
    tokenizer: Any,
    examples: Iterable[Mapping[str, Any] | EvalTask],
    *,
    batch_size: int | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    token_budget: int | None = DEFAULT_TOKEN_BUDGET,
    failures_path: str | os.PathLike[str] | None = None,
    use_response_schema: bool = False,
) -> EvalReport:
    """Greedy-decode every example with ``model`` and score the tool calls.

    ``examples`` are contract examples (their final assistant turn is the reference) or
    :class:`EvalTask` (e.g. from :func:`toolsweep.data.bfcl.load_bfcl`). ``batch_size`` caps
    the batch; ``token_budget`` bounds ``batch * (prompt + max_new_tokens)`` tokens per batch.
    """
    tasks = as_tasks(examples)
    prompts = [render_prompt(tokenizer, t.messages, t.tools) for t in tasks]
    generation = generate_completions(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                                      batch_size=batch_size, token_budget=token_budget)
    results = score_completions(tasks, generation.texts, tokenizer=tokenizer if use_response_schema else None,
                                prompts=prompts)
    return _report(results, generation, failures_path)


def load_model(model_path: str | os.PathLike[str], *, trust_remote_code: bool = False,
               device: str | None = None, dtype: Any = "auto", chat_template: str | None = None) -> tuple[Any, Any]:
    """Load a checkpoint for evaluation (see :func:`toolsweep.models.loading.load_for_inference`: safetensors
    weights only, no remote code by default, an adapter directory applied to its base). ``chat_template``
    (Jinja source) replaces the tokenizer's own."""
    from toolsweep.models.loading import load_for_inference

    model, tokenizer = load_for_inference(os.fspath(model_path), trust_remote_code=trust_remote_code, dtype=dtype,
                                          chat_template=chat_template)
    return (model if device is None else model.to(device)), tokenizer


def evaluate_path(
    model_path: str | os.PathLike[str],
    examples: Iterable[Mapping[str, Any] | EvalTask],
    *,
    backend: Backend = "auto",
    trust_remote_code: bool = False,
    device: str | None = None,
    batch_size: int | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    token_budget: int | None = DEFAULT_TOKEN_BUDGET,
    failures_path: str | os.PathLike[str] | None = None,
    use_response_schema: bool = False,
    chat_template: str | None = None,
) -> EvalReport:
    """Evaluate a saved model. ``backend="auto"`` uses vLLM when it is installed and CUDA is
    available, else transformers (``"hf"``); ``"vllm"`` insists on vLLM. ``chat_template`` (Jinja
    source) replaces the tokenizer's own template for rendering prompts."""
    if backend not in ("auto", "hf", "vllm"):
        raise ValueError(f"backend must be 'auto', 'hf' or 'vllm', got {backend!r}")
    use_vllm = backend == "vllm" or (backend == "auto" and vllm_available())
    if not use_vllm:
        model, tokenizer = load_model(model_path, trust_remote_code=trust_remote_code, device=device,
                                      chat_template=chat_template)
        return evaluate(model, tokenizer, examples, batch_size=batch_size, max_new_tokens=max_new_tokens,
                        token_budget=token_budget, failures_path=failures_path,
                        use_response_schema=use_response_schema)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(os.fspath(model_path), trust_remote_code=trust_remote_code)
    tokenizer.chat_template = chat_template or tokenizer.chat_template
    tasks = as_tasks(examples)
    prompts = [render_prompt(tokenizer, t.messages, t.tools) for t in tasks]
    generation = generate_vllm(os.fspath(model_path), prompts, tokenizer=tokenizer, max_new_tokens=max_new_tokens,
                               trust_remote_code=trust_remote_code)
    results = score_completions(tasks, generation.texts, tokenizer=tokenizer if use_response_schema else None,
                                prompts=prompts)
    return _report(results, generation, failures_path)
