"""Build the built-in tiny tool-calling model from scratch, seeded and on a CPU.

What the pretraining teaches: the ``<tool_call>`` format, choosing a tool from the offered list
by its description, copying argument values from the request, parallel calls, and answering in
text when no offered tool fits. It sees only the *pretraining* catalogue
(``toolsweep.data.pretrain_tools()``), never the target tools, so a sweep's SFT/DPO on the target
catalogue measurably lifts its accuracy.

Steps (``build``): generate conversations with the data generator (all four categories, train and
validation splits); optionally give training conversations random argument values (``augment``,
``random_value_rate``: it removes the shortcut of recalling values, but did not make copying emerge
within 900 steps); train the tokenizer on the rendered
training conversations (so every token of the vocabulary is trained; unseen words split into
trained subwords); build a small Llama-style model; fully fine-tune it with loss on the assistant
turns; save it with ``build_info.json`` (seed, sizes, losses, wall time, versions, data hash).

The shipped model was built with::

    python -m toolsweep.models.build --out toolsweep/models/builtin/tiny-tool-lm --seed 0

(about 30 minutes on 2 busy CPU cores). Same seed, same data code, same package versions and the
same thread count give the same weights; ``build_info.json`` records a hash of the training text.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import platform
import random
import time
from pathlib import Path
from typing import Any

__all__ = ["BuildConfig", "build", "main"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """Everything that determines the built model (saved into ``build_info.json``)."""

    seed: int = 0
    """Seeds data generation, initialisation and batch order."""
    n_train: int = 20000
    """Generated pretraining conversations (pretrain catalogue, train split)."""
    n_val: int = 200
    """Held-out conversations (pretrain catalogue, validation split) for the progress log."""
    vocab_size: int = 2048
    """BPE vocabulary including the special tokens (the two tool-call tokens come on top)."""
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 512
    steps: int = 1000
    """Optimizer steps."""
    batch_size: int = 16
    lr: float = 3e-3
    """Peak learning rate (AdamW), reached after ``warmup_steps``, then cosine decay."""
    min_lr_ratio: float = 0.05
    """Final learning rate as a fraction of ``lr``."""
    warmup_steps: int = 60
    weight_decay: float = 0.01
    max_length: int = 640
    """Longer conversations are dropped (not truncated: truncation would cut the assistant turn)."""
    random_value_rate: float = 0.0
    """Fraction of training conversations whose copyable values are made random (see ``augment``)."""
    rename_rate: float = 0.0
    """Fraction of training conversations whose tool and parameter names are random (``augment.rename_tools``),
    so names must be copied from the tool list rather than recalled."""
    prompt_loss_weight: float = 0.0
    """Loss weight of non-assistant tokens relative to assistant tokens (0: assistant-only loss).

    A denser signal for learning to attend back and copy; 0.3 (with random values) was tried and did
    not make copying emerge within 900 steps either."""
    copy_drill_rate: float = 0.0
    """Copy drills added per training conversation (see ``augment.copy_drill``)."""
    drill_steps: int = 0
    """Steps at the start that train on copy drills alone (short sequences, so they are fast): a phase
    in which attention can learn to look back and copy before the tool conversations need it."""
    eval_every: int = 100
    """Steps between progress evaluations on the validation conversations."""
    threads: int = 2
    """torch CPU threads; part of what makes the build reproducible."""
    device: str = "cpu"
    """``cpu`` or ``cuda``. On a GPU the build runs in bf16 autocast, so it is many times faster but
    not bit-identical to a CPU build of the same seed (``build_info.json`` records the device)."""
    time_limit_s: float = 0.0
    """Stop early, after the next progress evaluation, once this many seconds of training have
    passed (0: no limit). A build that hits the limit records ``stopped_at_step``; it is not
    reproducible step for step, so the shipped model's ``build_info.json`` says whether it did."""
    save_dtype: str = "bfloat16"
    """Dtype of the saved weights (``config.json`` still says float32, so they load as fp32)."""

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("hidden_size must be a multiple of num_heads, and num_heads of num_kv_heads")
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be < steps ({self.steps})")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be cpu or cuda, got {self.device!r}")
        if self.save_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"save_dtype must be float32 or bfloat16, got {self.save_dtype!r}")


def generate_data(cfg: BuildConfig) -> tuple[list[dict], list[dict], str]:
    """Pretraining and held-out conversations over the pretrain catalogue, all categories.

    Returns (train, val, the split ``val`` was drawn from).
    """
    from toolsweep.data import generate_examples, pretrain_tools
    from toolsweep.models.augment import copy_drill, randomise_values, rename_tools

    tools = pretrain_tools()
    rng = random.Random(f"{cfg.seed}|random-values")
    train = [randomise_values(ex, rng) if rng.random() < cfg.random_value_rate else ex
             for ex in generate_examples(tools, "train", cfg.n_train, seed=cfg.seed)]
    if cfg.rename_rate:  # drawn from its own stream, so builds without renaming keep their data
        names = random.Random(f"{cfg.seed}|rename")
        train = [rename_tools(ex, names) if names.random() < cfg.rename_rate else ex for ex in train]
    train += [copy_drill(tools, rng) for _ in range(int(cfg.copy_drill_rate * cfg.n_train))]
    rng.shuffle(train)
    if cfg.drill_steps:
        # The drill phase's data comes first; pretrain() takes its first batches from this prefix.
        train = [copy_drill(tools, rng) for _ in range(cfg.drill_steps * cfg.batch_size)] + train
    try:
        return train, generate_examples(tools, "validation", cfg.n_val, seed=cfg.seed), "validation"
    except ValueError:  # a validation split the generator cannot fill: progress is then logged on
        # unseen train-split conversations (another seed), which still shows format and copying.
        return train, generate_examples(tools, "train", cfg.n_val, seed=cfg.seed + 10_000), "train"


def encode(tokenizer: Any, examples: list[dict], max_length: int) -> list[tuple[list[int], list[int]]]:
    """(input_ids, assistant_mask) per example, through the chat template; over-long ones dropped."""
    out = []
    for ex in examples:
        enc = tokenizer.apply_chat_template(ex["messages"], tools=ex["tools"], return_dict=True,
                                            return_assistant_tokens_mask=True)
        if len(enc["input_ids"]) <= max_length:
            out.append((list(enc["input_ids"]), list(enc["assistant_masks"])))
    return out


def build_model(cfg: BuildConfig, tokenizer: Any) -> Any:
    """A randomly initialised Llama-style causal LM sized by ``cfg`` (tied embeddings)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_kv_heads,
        intermediate_size=cfg.intermediate_size, max_position_embeddings=cfg.max_length * 2,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, rope_theta=10000.0,
    )
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


def build(cfg: BuildConfig, out_dir: str | Path, *, log: Any = print) -> dict[str, Any]:
    """Run the whole build into ``out_dir``; returns the ``build_info.json`` contents."""
    import torch

    from toolsweep.models.pretrain import pretrain
    from toolsweep.models.tokenizer import render, train_tokenizer

    start = time.time()
    torch.set_num_threads(cfg.threads)
    train, val, val_split = generate_data(cfg)
    corpus = [render(ex) for ex in train]
    tokenizer = train_tokenizer(corpus, vocab_size=cfg.vocab_size)
    train_ids, val_ids = encode(tokenizer, train, cfg.max_length), encode(tokenizer, val, cfg.max_length)
    log(f"data: {len(train_ids)} train / {len(val_ids)} val conversations, vocab {len(tokenizer)}, "
        f"mean length {sum(len(i) for i, _ in train_ids) / len(train_ids):.0f} tokens "
        f"({time.time() - start:.0f}s)")
    model = build_model(cfg, tokenizer).to(cfg.device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters")
    history = pretrain(model, train_ids, val_ids, cfg, pad_id=tokenizer.pad_token_id, log=log)
    info = {
        "config": dataclasses.asdict(cfg),
        "n_params": n_params,
        "data": {"catalogue": "pretrain", "train_conversations": len(train_ids),
                 "val_conversations": len(val_ids), "val_split": val_split, "vocab_size": len(tokenizer),
                 "train_sha256": hashlib.sha256("\x00".join(corpus).encode()).hexdigest(),
                 "mean_train_tokens": round(sum(len(i) for i, _ in train_ids) / len(train_ids), 1)},
        "final": next((h for h in reversed(history) if "step" in h), {}),
        "stopped_at_step": next((h["stopped_at_step"] for h in history if "stopped_at_step" in h), None),
        "history": history,
        "wall_time_s": round(time.time() - start, 1),
        "versions": _versions(),
    }
    save(model.cpu(), tokenizer, out_dir, info, cfg.save_dtype)
    log(f"saved to {out_dir} ({info['wall_time_s']}s)")
    return info


def save(model: Any, tokenizer: Any, out_dir: str | Path, info: dict[str, Any], save_dtype: str) -> None:
    """Write weights, tokenizer, generation config and ``build_info.json`` into ``out_dir``."""
    import torch
    from transformers import GenerationConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, do_sample=False, max_new_tokens=256,
    )
    model.save_pretrained(out)  # config.json says float32: loads as fp32 (bf16 is emulated, and slow, on CPUs without native bf16)
    if save_dtype == "bfloat16":  # halve the shipped file; only the stored tensors change
        from safetensors.torch import load_file, save_file

        weights = out / "model.safetensors"
        tensors = {k: v.to(torch.bfloat16) for k, v in load_file(weights).items()}
        save_file(tensors, weights, metadata={"format": "pt"})
    tokenizer.save_pretrained(out)
    (out / "build_info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def _versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def main(argv: list[str] | None = None) -> int:
    """``python -m toolsweep.models.build --out DIR [--seed N] [--FIELD VALUE ...]``."""
    parser = argparse.ArgumentParser(prog="python -m toolsweep.models.build", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory to write the model into")
    for f in dataclasses.fields(BuildConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                            dest=f.name, help=f"(default {f.default})")
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    build(BuildConfig(**args), out, log=lambda msg: print(msg, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
