"""Benchmark: toolsweep's batched evaluation against one-example-at-a-time ``model.generate``.

Both paths decode greedily with the same model, prompts and ``max_new_tokens`` and score with the
same scorer, so the outputs must agree; the script reports wall times, the speedup and generated
tokens per second. Usage::

    python benchmarks/eval_batched.py                      # built-in model if present, 64 examples
    python benchmarks/eval_batched.py --model PATH --n 128 --max-new-tokens 64
    python benchmarks/eval_batched.py --dtype bfloat16    # as trials evaluate on a CPU with native bf16
    python benchmarks/eval_batched.py --repeats 5         # more interleaved runs per path
    python benchmarks/eval_batched.py --smoke-test
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

BUILTIN = Path(__file__).resolve().parents[1] / "toolsweep" / "models" / "builtin" / "tiny-tool-lm"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None,
                        help=f"model directory (default: {BUILTIN} if it exists, else a random tiny model)")
    parser.add_argument("--n", type=int, default=64, help="number of examples")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens generated per example at most")
    parser.add_argument("--batch-size", type=int, default=None, help="cap on the batch size (default: budget only)")
    parser.add_argument("--token-budget", type=int, default=32_768, help="batch * (prompt + new tokens) bound")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                        help="weights and compute dtype of both paths (trials on a CPU with native bf16 evaluate in bfloat16)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each path, interleaved; the medians are compared (default 3)")
    parser.add_argument("--smoke-test", action="store_true", help="8 examples, 8 new tokens")
    return parser.parse_args(argv)


def load_examples(n: int) -> tuple[list[dict[str, Any]], str]:
    """The data package's held-out split when it exists, else contract-format synthetic examples."""
    try:
        from toolsweep.data import builtin_dataset

        return builtin_dataset("test", n), "toolsweep.data.builtin_dataset('test')"
    except ImportError:
        from toolsweep.evaluation.testing import synthetic_examples

        return synthetic_examples(n), "synthetic examples"


def load_model(path: str | None, examples: list[dict[str, Any]], dtype: str = "float32") -> tuple[Any, Any, str]:
    from toolsweep.evaluation.runner import load_model as load

    if path is None and BUILTIN.is_dir():
        path = str(BUILTIN)
    if path is not None:
        model, tokenizer = load(path, dtype=dtype)
        return model, tokenizer, path
    import json

    from toolsweep.evaluation.testing import build_tiny_model, build_tiny_tokenizer

    # Train the random model's BPE on the examples' tools and messages, so prompt lengths are
    # realistic (a trained tokenizer, not one byte per token) and the benchmark measures decoding.
    corpus = [json.dumps(e["tools"]) + json.dumps(e["messages"]) for e in examples]
    tokenizer = build_tiny_tokenizer(corpus, vocab_size=2000)
    model = build_tiny_model(tokenizer, hidden_size=256, num_layers=4)
    return model, tokenizer, "random Qwen2 (hidden 256, 4 layers, BPE vocab 2000), built in the script"


def sequential(model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int) -> tuple[list[str], int, float]:
    """The naive loop: one ``model.generate`` per prompt, no padding, no batching."""
    import torch

    from toolsweep.evaluation.generation import eos_token_ids

    eos = eos_token_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    texts, n_tokens = [], 0
    start = time.perf_counter()
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, eos_token_id=eos, pad_token_id=pad)
            new = out[0, ids.shape[1]:].tolist()
            n_tokens += len(new)
            cut = next((i for i, t in enumerate(new) if t in eos), len(new))
            texts.append(tokenizer.decode(new[:cut], skip_special_tokens=False))
    return texts, n_tokens, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.smoke_test:
        args.n, args.max_new_tokens, args.repeats = 8, 8, 1
    if args.repeats < 1:
        raise SystemExit(f"--repeats must be >= 1, got {args.repeats}")
    import torch

    from toolsweep.evaluation import evaluate, render_prompt, score_completions
    from toolsweep.evaluation.metrics import aggregate
    from toolsweep.evaluation.tasks import as_tasks

    if args.threads:
        torch.set_num_threads(args.threads)
    examples, source = load_examples(args.n)
    model, tokenizer, model_name = load_model(args.model, examples, args.dtype)
    tasks = as_tasks(examples)
    prompts = [render_prompt(tokenizer, t.messages, t.tools) for t in tasks]
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    print(f"model: {model_name}\ndata: {len(examples)} x {source}; prompt tokens mean {sum(lengths) / len(lengths):.0f}"
          f" max {max(lengths)}; max_new_tokens {args.max_new_tokens}; torch threads {torch.get_num_threads()}")

    # Warm-up, untimed: the first forward passes of a process pay one-off kernel setup costs.
    from toolsweep.evaluation import generate_completions

    sequential(model, tokenizer, prompts[:2], 2)
    generate_completions(model, tokenizer, prompts[:2], max_new_tokens=2)

    # Interleaved repeats: on a shared VM the machine's speed drifts by tens of percent over minutes,
    # so each path's median is taken over runs spread across the same period.
    seq_times, batched_times = [], []
    for _ in range(args.repeats):
        seq_texts, seq_tokens, seq_s = sequential(model, tokenizer, prompts, args.max_new_tokens)
        seq_times.append(seq_s)
        start = time.perf_counter()
        report = evaluate(model, tokenizer, tasks, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                          token_budget=args.token_budget)
        batched_times.append(time.perf_counter() - start)
    seq_metrics = aggregate(score_completions(tasks, seq_texts))
    seq_s, batched_s = statistics.median(seq_times), statistics.median(batched_times)
    gen = report.generation
    assert gen is not None
    same = sum(a == b for a, b in zip(seq_texts, gen.texts))

    def spread(times: list[float]) -> str:
        return f"(runs {', '.join(f'{t:.2f}' for t in times)})"

    print(f"one-at-a-time generate : {seq_s:8.2f} s  {seq_tokens / seq_s:8.1f} generated tok/s  "
          f"exact_match {seq_metrics.exact_match.value:.3f}  {spread(seq_times)}")
    print(f"batched evaluate       : {batched_s:8.2f} s  {gen.n_generated_tokens / batched_s:8.1f} generated tok/s  "
          f"exact_match {report.exact_match:.3f}  ({gen.n_batches} batches, {gen.n_steps} decode steps)  "
          f"{spread(batched_times)}")
    print(f"speedup                : {seq_s / batched_s:8.2f}x  (median over {args.repeats} interleaved runs each)")
    print(f"identical completions  : {same}/{len(prompts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
