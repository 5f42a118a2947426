"""Measured against estimated peak training memory (``toolsweep.trainers.memory_estimate``), on this CPU.

Each configuration trains a few steps of one stage through the project's own code (``trainers.stages``
with ``stages.run_stage``, the model cast to the stage's precision, PEFT LoRA or full fine-tuning) in a fresh
process, on synthetic conversations that all reach ``max_length`` (the estimate's worst case: every row
at the limit, padded batches). Measured = the process's peak resident memory (``ru_maxrss``) minus its
resident memory after the imports (DeepSpeed's too, which accelerate imports lazily when the trainer is
built: 15-26 MiB of code, not training memory), before the model is loaded. Models: the built-in tiny model and a
larger random Qwen2 built on the fly (vocabulary 16384, so the LM head's tiles matter). One thread, so a
concurrent job on the machine slows it but does not change the figures.

    python benchmarks/memory_calibration.py [--only NAME ...] [--steps 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "toolsweep" / "models" / "builtin" / "tiny-tool-lm"
RANDOM_QWEN2 = {"model_type": "qwen2", "vocab_size": 16384, "hidden_size": 512, "intermediate_size": 1408,
                "num_hidden_layers": 6, "num_attention_heads": 8, "num_key_value_heads": 2,
                "tie_word_embeddings": True}

# name: model, stage, lora rank (0: full fine-tuning), batch size, max_length, precision
CONFIGS: dict[str, tuple[str, str, int, int, int, str]] = {
    "tiny-sft-r8-b8-512-bf16": ("tiny", "sft", 8, 8, 512, "bf16"),
    "tiny-sft-r32-b8-512-bf16": ("tiny", "sft", 32, 8, 512, "bf16"),
    "tiny-sft-r8-b8-512-fp32": ("tiny", "sft", 8, 8, 512, "fp32"),
    "tiny-sft-full-b4-512-bf16": ("tiny", "sft", 0, 4, 512, "bf16"),
    "tiny-dpo-r8-b4-512-bf16": ("tiny", "dpo", 8, 4, 512, "bf16"),
    "qwen2-25m-sft-r16-b4-512-bf16": ("random", "sft", 16, 4, 512, "bf16"),
    "qwen2-25m-sft-r16-b8-256-fp32": ("random", "sft", 16, 8, 256, "fp32"),
    "qwen2-25m-sft-full-b2-512-bf16": ("random", "sft", 0, 2, 512, "bf16"),
    "qwen2-25m-dpo-r16-b2-512-bf16": ("random", "dpo", 16, 2, 512, "bf16"),
    "qwen2-25m-dpo-full-b2-256-fp32": ("random", "dpo", 0, 2, 256, "fp32"),
}


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def _random_model(directory: Path) -> Path:
    """A random Qwen2 of RANDOM_QWEN2's shape with the built-in tokenizer and chat template."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**{k: v for k, v in RANDOM_QWEN2.items() if k != "model_type"})
    Qwen2ForCausalLM(config).save_pretrained(directory)
    AutoTokenizer.from_pretrained(TINY).save_pretrained(directory)
    return directory


def _rows(tokenizer, stage: str, max_length: int, count: int) -> list[dict]:
    """Conversations whose rendering passes ``max_length`` inside the answer (TRL keeps rows cut there)."""
    words = ["get_weather", "city", "Lyon", "Paris", "convert", "amount", "currency", "please", "book", "flight",
             "to", "the", "in"]

    def text(n: int, seed: int) -> str:
        return " ".join(words[(seed * 7 + i * 3) % len(words)] for i in range(n))

    per_word = max(1, len(tokenizer(text(200, 0))["input_ids"]) // 200)
    prompt_words, answer_words = max_length // (2 * per_word), max_length // per_word
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                                "parameters": {"type": "object", "properties": {}}}}]
    rows = []
    for i in range(count):
        user = [{"role": "user", "content": text(prompt_words - (i % 2) * prompt_words // 8, i)}]
        answer = [{"role": "assistant", "content": text(answer_words, i + 1)}]
        if stage == "sft":
            rows.append({"messages": user + answer, "tools": tools})
        else:
            rows.append({"prompt": user, "chosen": answer, "rejected": [{"role": "assistant", "content": text(answer_words, i + 2)}],
                         "tools": tools})
    return rows


def child(name: str, steps: int, work: Path) -> dict:
    """Train ``steps`` steps of configuration ``name`` in this process; return its estimate and measurement."""
    import torch

    from toolsweep.config.schema import SweepSpec
    from toolsweep.models.loading import load_base, load_tokenizer
    from toolsweep.trainers import stages
    from toolsweep.trainers.callbacks import MemoryTrimCallback
    from toolsweep.trainers.datasets import preference_dataset, sft_dataset
    from toolsweep.trainers.hardware import choose_precision
    from toolsweep.trainers.lora import peft_config
    from toolsweep.trainers.memory_estimate import hardware_for, stage_memory
    from toolsweep.trainers.model_architecture import read_architecture

    torch.set_num_threads(1)
    model_name, stage_name, rank, batch, max_length, precision_name = CONFIGS[name]
    location = str(TINY) if model_name == "tiny" else str(_random_model(work / "model"))
    spec = SweepSpec.model_validate({
        "model": {"name": location},
        "lora": {"enabled": rank > 0, "r": rank or 8},
        "sft": {"enabled": stage_name == "sft", "batch_size": batch, "max_length": max_length, "max_steps": steps,
                "eval_every": 1000},
        "dpo": {"enabled": stage_name == "dpo", "batch_size": batch, "max_length": max_length, "max_steps": steps,
                "eval_every": 1000},
        "resources": {"precision": precision_name},
    })
    stage = getattr(spec, stage_name)
    tokenizer = load_tokenizer(spec.model)
    rows = _rows(tokenizer, stage_name, max_length, batch * (steps + 1))
    if importlib.util.find_spec("deepspeed") is not None:
        import deepspeed  # noqa: F401  # accelerate imports it when the trainer is built: code, like the imports above
    baseline = _rss_bytes()
    precision = choose_precision(precision_name)
    model = load_base(spec.model, precision.torch_dtype)
    lora = peft_config(spec.lora) if spec.lora.enabled else None
    dataset = sft_dataset(rows) if stage_name == "sft" else preference_dataset(rows)
    stages.run_stage(stage, stages.TrainingSetup(precision, seed=0, keep_checkpoints=1), model, tokenizer, dataset,
                     work / stage_name, peft_config=lora, callbacks=[MemoryTrimCallback()])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    arch = read_architecture(location)
    estimate = stage_memory(arch, spec, stage_name, hardware_for(spec, arch.parameters(), cpu_bf16=precision.bf16))
    return {"name": name, "parameters": arch.parameters(), "measured": peak - baseline, "estimated": estimate.total,
            "parts": estimate.parts, "baseline": baseline}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), help="configurations to run (default: all)")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per configuration")
    parser.add_argument("--parts", action="store_true", help="also print the estimate's parts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        with tempfile.TemporaryDirectory(prefix="toolsweep-memcal-") as work:
            print("RESULT " + json.dumps(child(args.child, args.steps, Path(work))))
        return 0
    mib = 1024**2
    print("| configuration | parameters | estimated MiB | measured MiB, glibc default | ratio | measured MiB, "
          "mmap threshold 128 KiB | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.only or CONFIGS:
        results = [_measure(name, args.steps, fixed_threshold) for fixed_threshold in (False, True)]
        if any(isinstance(result, str) for result in results):
            print(f"| {name} | failed: {next(r for r in results if isinstance(r, str))} |")
            continue
        estimate = results[0]["estimated"]
        cells = " | ".join(f"{r['measured'] / mib:.0f} | {r['measured'] / estimate:.2f}" for r in results)
        print(f"| {name} | {results[0]['parameters'] / 1e6:.1f}M | {estimate / mib:.0f} | {cells} |")
        if args.parts:
            print("    " + ", ".join(f"{k} {v / mib:.0f}" for k, v in results[0]["parts"].items())
                  + f"; baseline {results[0]['baseline'] / mib:.0f}")
    return 0


def _measure(name: str, steps: int, fixed_threshold: bool) -> dict | str:
    """One configuration in a fresh process. ``fixed_threshold``: glibc serves every allocation of 128 KiB or
    more with its own mmap and returns it when freed, so the peak is the tensors' own; by default glibc raises
    that threshold after the first large frees and keeps freed blocks in its heap, as a trial does."""
    env = {**_env(), "OMP_NUM_THREADS": "1"}
    if fixed_threshold:
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    done = subprocess.run([sys.executable, __file__, "--child", name, "--steps", str(steps)],
                          check=False, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
    return json.loads(lines[-1][len("RESULT "):])


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
            "TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


if __name__ == "__main__":
    sys.exit(main())
