"""``toolsweep eval``: score any loadable model on our held-out data, a JSONL file, or the BFCL suite.

A model is a directory with full weights, a LoRA adapter directory (its base is read from
``adapter_config.json``), ``builtin:tiny-tool-lm`` or a hub id. Results are printed as a table and, with
``--out``, written as ``metrics.json`` and ``failures.jsonl``. For BFCL, ``overall`` is the unweighted
mean of the category accuracies, as the leaderboard summarises its AST categories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolsweep.errors import UserError
from toolsweep.evaluation.generation import DEFAULT_MAX_NEW_TOKENS

__all__ = ["choose_backend", "load_eval_examples", "load_for_eval", "locate_model", "run_eval"]


def load_eval_examples(data: str, n: int | None, strict: bool = False) -> list[Any]:
    """``builtin:test`` / ``builtin:validation`` (held-out bundled data, worded as in training),
    ``builtin:unseen_phrasing`` (test values, wordings training never saw), a JSONL file, or ``hub:NAME``."""
    if data.startswith("builtin:"):
        from toolsweep.data.prepare import UNSEEN_PHRASING, evaluation_split

        split = data.split(":", 1)[1]
        if split == UNSEEN_PHRASING:
            return evaluation_split("test", n or 200, "unseen")
        if split not in ("validation", "test"):
            raise UserError(f"--data: use builtin:validation, builtin:test or builtin:{UNSEEN_PHRASING}, got {data!r}")
        return evaluation_split(split, n or 200)
    import sys

    from toolsweep.data.checks import FileCheck, load_hub_report
    from toolsweep.data.loaders import load_jsonl, open_data_file
    from toolsweep.data.reports import DataValidationError, require_rows

    if data.startswith("hub:"):
        report = load_hub_report("--data", data[4:], "train", "auto")
    else:  # the same answers as a sweep's check: a missing file, an empty one, bad rows by reason and line
        report = load_jsonl(open_data_file(data, "--data"), strict=False)
    if report.errors:
        if strict:
            raise DataValidationError(report.errors)
        print("\n".join(FileCheck("--data", report.path, report).lines()), file=sys.stderr)
    examples = require_rows(report, "--data")
    return examples[:n] if n else examples


def load_for_eval(model: str, trust_remote_code: bool = False, chat_template: str | None = None) -> tuple[Any, Any]:
    """Model and tokenizer for evaluation (``model`` as ``--model`` takes it); adapter directories are applied to
    their recorded base.

    ``chat_template`` (a built-in template name or a .jinja file) replaces the tokenizer's own template."""
    from toolsweep.models.loading import load_for_inference

    return load_for_inference(locate_model(model), trust_remote_code=trust_remote_code,
                              chat_template=_template_text(chat_template))


def _template_text(chat_template: str | None) -> str | None:
    """The Jinja source behind ``--chat-template``, or None to keep the model's own template."""
    if chat_template is None:
        return None
    from toolsweep.models.chat_templates import chat_template_text

    try:
        return chat_template_text(chat_template)
    except ValueError as exc:
        raise UserError(f"--chat-template: {exc}") from None


def locate_model(model: str) -> str:
    """The directory or hub id behind ``--model`` (``builtin:`` names resolved); a missing path is a
    :class:`UserError` naming the flag."""
    from toolsweep.models.registry import resolve_model

    try:
        return resolve_model(model)
    except ValueError as exc:
        raise UserError(f"--model: {exc}") from None


def choose_backend(location: str, backend: str) -> str:
    """``hf`` or ``vllm`` for ``--backend`` and a located model; a request that cannot be met is a
    :class:`UserError`.

    LoRA adapter directories always use ``hf``: vLLM would need the adapter merged first (``toolsweep
    export`` writes merged weights)."""
    from toolsweep.evaluation.generation import vllm_available

    if backend not in ("auto", "hf", "vllm"):
        raise UserError(f"--backend: use auto, hf or vllm, got {backend!r}")
    if backend == "hf":
        return "hf"
    from toolsweep.models.loading import is_adapter

    adapter = is_adapter(location)
    if backend == "vllm":
        if adapter:
            raise UserError(f"--backend vllm: {location} is a LoRA adapter; export merged weights with `toolsweep export "
                            "RUN_DIR OUT` (without --adapter-only) and evaluate OUT, or use --backend hf")
        if not vllm_available():
            raise UserError("--backend vllm needs `pip install vllm` and a CUDA GPU, and this machine lacks one or "
                            "both; use --backend hf (or auto)")
        return "vllm"
    return "vllm" if not adapter and vllm_available() else "hf"


def _bfcl_tasks(source: str | None, categories: tuple[str, ...], n: int | None) -> list[Any]:
    from toolsweep.data.bfcl import load_bfcl

    try:
        return load_bfcl(categories, source=source, limit=n)
    except (FileNotFoundError, OSError) as exc:
        raise UserError(
            f"--suite bfcl: BFCL data not found ({exc}); run `pip download --no-deps bfcl-eval -d DIR` and pass "
            "--bfcl-source DIR/bfcl_eval-*.whl, or `pip install --no-deps bfcl-eval`"
        ) from None


def run_eval(
    model: str,
    data: str = "builtin:test",
    *,
    suite: str | None = None,
    bfcl_source: str | None = None,
    live: bool = False,
    categories: str | None = None,
    n: int | None = None,
    out: str | None = None,
    batch_size: int | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    trust_remote_code: bool = False,
    backend: str = "auto",
    chat_template: str | None = None,
) -> dict[str, float]:
    """Evaluate and return the flat metrics (also written to ``out/metrics.json`` when given).

    ``backend``: ``hf`` (transformers, batched greedy decoding), ``vllm`` (needs vLLM and a GPU), or
    ``auto``: vLLM when it is installed, a GPU is visible and the model is full weights, else ``hf``.
    """
    from toolsweep.evaluation.runner import evaluate, evaluate_path

    if suite == "when2call":
        metrics = _when2call(model, data, n, batch_size, trust_remote_code, chat_template)
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            (Path(out) / "metrics.json").write_text(json.dumps({"model": model, "data": data, "suite": suite,
                                                                "metrics": metrics}, indent=2))
        return metrics
    chosen_categories = _bfcl_names(live, categories)
    examples = _bfcl_tasks(bfcl_source, chosen_categories, n) if suite == "bfcl" else load_eval_examples(data, n)
    if not examples:
        raise UserError(f"--data {data}: no examples to evaluate")
    failures = Path(out) / "failures.jsonl" if out else None
    location = locate_model(model)
    chosen = choose_backend(location, backend)
    if chosen == "vllm":
        report = evaluate_path(location, examples, backend="vllm", trust_remote_code=trust_remote_code,
                               max_new_tokens=max_new_tokens, failures_path=failures,
                               chat_template=_template_text(chat_template))
    else:
        loaded, tokenizer = load_for_eval(location, trust_remote_code, chat_template)
        report = evaluate(loaded, tokenizer, examples, batch_size=batch_size, max_new_tokens=max_new_tokens,
                          failures_path=failures)
    metrics = report.metrics.to_flat_dict()
    if suite == "bfcl":
        per_category = [v for k, v in metrics.items() if k.startswith("exact_match/") and k.count("/") == 1
                        and k.split("/")[1] in chosen_categories]
        metrics["overall"] = sum(per_category) / len(per_category) if per_category else 0.0
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "metrics.json").write_text(json.dumps({"model": model, "data": suite or data, "backend": chosen,
                                                            "metrics": metrics}, indent=2))
    return metrics


def _when2call(model: str, data: str, n: int | None, batch_size: int | None, trust_remote_code: bool,
               chat_template: str | None) -> dict[str, float]:
    """When2Call's multiple-choice score (no generation): ``data`` is a When2Call test file."""
    from toolsweep.data.loaders import load_when2call_mcq
    from toolsweep.evaluation.when2call import multiple_choice_eval

    if not Path(data).is_file():
        raise UserError(f"--data {data}: --suite when2call needs a When2Call test file (when2call_test_mcq.jsonl), "
                        "e.g. from `huggingface-cli download nvidia/When2Call`")
    report = load_when2call_mcq(data)
    if report.errors:
        print(report.summary())
    rows = report.examples[:n] if n else report.examples
    if not rows:
        raise UserError(f"--data {data}: no usable When2Call rows")
    loaded, tokenizer = load_for_eval(model, trust_remote_code, chat_template)
    return multiple_choice_eval(loaded, tokenizer, rows, batch_size=batch_size or 8)


def _bfcl_names(live: bool, categories: str | None = None) -> tuple[str, ...]:
    """``--categories`` (comma-separated BFCL names) or the default set, plus the live ones with ``--live``."""
    from toolsweep.data.bfcl import CATEGORY_GROUPS, LIVE_CATEGORIES, NON_LIVE_CATEGORIES

    if categories:
        chosen = tuple(c.strip() for c in categories.split(",") if c.strip())
        unknown = [c for c in chosen if c not in CATEGORY_GROUPS]
        if unknown or not chosen:
            raise UserError(f"--categories: unknown BFCL categories {unknown or categories!r}; use some of "
                            f"{', '.join(CATEGORY_GROUPS)}")
        return chosen
    return NON_LIVE_CATEGORIES + (LIVE_CATEGORIES if live else ())


def print_metrics(metrics: dict[str, float], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(metrics, key=lambda k: (k.startswith("errors/"), "/" in k, k)):
        value = metrics[key]
        table.add_row(key, f"{value:.0f}" if key.startswith("errors/") or key == "n_examples" else f"{value:.3f}")
    Console(width=None if Console().is_terminal else 120).print(table)
