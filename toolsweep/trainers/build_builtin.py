"""Build the built-in tiny tool-calling model from scratch: seeded, resumable, on a CPU or a GPU.

What the pretraining teaches: the ``<tool_call>`` format, and above all to *read*: pick the tool whose name
and description fit the request from the offered list, copy its name and its parameter names from the
schema, and copy the argument values from the request. It never sees the target catalogue: every
conversation offers procedurally generated tools (``toolsweep.data.procedural``), thousands of them, with
values drawn from very large spaces, so recalling a name or a value never pays and copying is the only way
to lower the loss. Refusing requests no offered tool fits is left to SFT, apart from a small share of
"that tool is not offered" rows.

Steps (``build``): generate conversations; train the tokenizer on them (so every token of the vocabulary is
trained; unseen words split into trained subwords); build a small Llama-style model; fully fine-tune it
with loss on the assistant turns (``pretrain``), checkpointing every ``checkpoint_every`` steps so that an
interrupted build continues with ``--resume``; then run the gate: greedy exact match on a copy probe (200
conversations over tools the build never saw, values it never saw) and on the quickstart's test split,
where the base must stay low because it must not know the target tools. ``build_info.json`` records the
configuration, data hash, history, gate, wall time and versions.

    python -m toolsweep.trainers.build_builtin --out toolsweep/models/builtin/tiny-tool-lm --seed 0 [--resume]

``--init-from DIR`` starts from a built model's weights and tokenizer instead of a random initialisation:
the shipped model is one build continued by another (README, "Built-in models").

It lives in ``trainers/`` (not beside the model in ``models/``) because it trains and evaluates: it uses the
trainer's hardware and memory helpers and the evaluation runner for its gate.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["PRETRAIN_CATEGORIES", "BuildConfig", "build", "copy_probe", "generate_data", "main", "run_gate"]

PRETRAIN_CATEGORIES: dict[str, float] = {"simple": 0.35, "multiple": 0.35, "parallel": 0.22, "irrelevance": 0.08}
"""The copying mix, which the copy probe also draws: irrelevance rows only ask for a tool that is not offered;
chit-chat refusals are SFT's to teach. Training adds ``clarify_share`` of clarify rows on top."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """Everything that determines the built model (saved into ``build_info.json``)."""

    seed: int = 0
    """Seeds tool and data generation, initialisation and batch order."""
    n_tools: int = 4000
    """Procedurally generated tools the training conversations offer."""
    n_train: int = 60000
    """Training conversations (train-split values)."""
    n_probe: int = 200
    """Copy-probe conversations over tools and values the build never saw (progress log and gate)."""
    gate_test_examples: int = 100
    """Quickstart test examples the gate scores the finished base on."""
    gate_max_new_tokens: int = 160
    """Generation limit per answer in the gate."""
    vocab_size: int = 2048
    """BPE vocabulary including the special tokens (the two tool-call tokens come on top)."""
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    """Four heads of 64: the 8-head shapes tried ran markedly slower per step on 2 CPU cores."""
    num_kv_heads: int = 2
    intermediate_size: int = 512
    steps: int = 4500
    """Optimizer steps (1.2-2 s each at batch 32 on 2 CPU cores with native bf16: 1.5-2.5 h)."""
    batch_size: int = 32
    lr: float = 1e-3
    """Peak learning rate (AdamW), reached after ``warmup_steps``, then cosine decay. Induction-style copying
    formed in ~500 steps at 1e-3 and far more slowly at 3e-3 (docs/builtin_model_research.md)."""
    min_lr_ratio: float = 0.1
    """Final learning rate as a fraction of ``lr``."""
    warmup_steps: int = 200
    weight_decay: float = 0.01
    max_length: int = 512
    """Longer conversations are dropped (not truncated: truncation would cut the assistant turn)."""
    prompt_loss_weight: float = 0.0
    """Loss weight of non-assistant tokens relative to assistant tokens (0: assistant-only loss)."""
    eval_every: int = 250
    """Steps between progress evaluations (teacher-forced, on the copy probe)."""
    checkpoint_every: int = 250
    """Steps between resumable checkpoints (``OUT/checkpoint``, removed when the build completes)."""
    threads: int = 2
    """torch CPU threads; part of what makes the build reproducible."""
    device: str = "cpu"
    """``cpu`` or ``cuda``."""
    precision: str = "auto"
    """``auto``: bf16 autocast on a GPU and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32; or ``fp32``
    / ``bf16``. Weights and the optimizer stay fp32 either way."""
    time_limit_s: float = 0.0
    """Stop early, after the next progress evaluation, once this many seconds of training have passed in this
    process (0: no limit); ``--resume`` continues from there."""
    save_dtype: str = "bfloat16"
    """Dtype of the saved weights (``config.json`` still says float32, so they load as fp32)."""
    verb_synonyms: float = 0.3
    """Share of a procedural tool's request templates that say a synonym of its verb ("remove" for
    ``delete_ticket``), so that a request need not repeat the tool's name (0: the tools of builds before it)."""
    clarify_share: float = 0.08
    """Share of training rows that leave out a required value, answered by asking for it: a skill that 120
    SFT steps on the quickstart never taught (clarify exact 0.00); it reads the signature, not a catalogue."""
    init_from: str = ""
    """A built model's directory to continue from (its weights and tokenizer) instead of a random
    initialisation; its ``build_info.json`` is kept under ``init_from`` in the new one."""

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("hidden_size must be a multiple of num_heads, and num_heads of num_kv_heads")
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be < steps ({self.steps})")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be cpu or cuda, got {self.device!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.save_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"save_dtype must be float32 or bfloat16, got {self.save_dtype!r}")
        if not (0.0 <= self.verb_synonyms <= 1.0 and 0.0 <= self.clarify_share < 1.0):
            raise ValueError(f"verb_synonyms must be in [0, 1] (got {self.verb_synonyms}) and clarify_share in "
                             f"[0, 1) (got {self.clarify_share})")

    @classmethod
    def from_record(cls, config: dict[str, Any]) -> BuildConfig:
        """The configuration a ``build_info.json`` records; a field newer than that build takes the value that
        reproduces it (no synonyms, no clarify rows), not today's default."""
        return cls(**{**_ADDED_LATER, **config})

    @property
    def train_categories(self) -> dict[str, float]:
        """The copying mix scaled to ``1 - clarify_share``, plus the clarify rows."""
        mix = {k: v * (1.0 - self.clarify_share) for k, v in PRETRAIN_CATEGORIES.items()}
        return {**mix, "clarify": self.clarify_share} if self.clarify_share else mix

    @property
    def autocast_bf16(self) -> bool:
        if self.precision != "auto":
            return self.precision == "bf16"
        from toolsweep.trainers.hardware import cpu_has_native_bf16

        return self.device == "cuda" or cpu_has_native_bf16()


_ADDED_LATER: dict[str, Any] = {"verb_synonyms": 0.0, "clarify_share": 0.0, "init_from": ""}
"""Build options that builds before them did not have, with the values those builds amount to."""


def generate_data(cfg: BuildConfig) -> tuple[list[dict], list[dict]]:
    """Training conversations over ``cfg.n_tools`` procedural tools, and the copy probe: conversations over
    tools whose names training never offers, with validation-split values."""
    from toolsweep.data.generator import generate_examples
    from toolsweep.data.procedural import procedural_tools

    tools = procedural_tools(cfg.n_tools, cfg.seed, cfg.verb_synonyms)
    train = generate_examples(tools, "train", cfg.n_train, cfg.train_categories, seed=cfg.seed, off_topic=False)
    return train, copy_probe(cfg, cfg.n_probe, seen={t.name for t in tools})


def copy_probe(cfg: BuildConfig, n: int, seen: set[str] | None = None) -> list[dict]:
    """``n`` conversations over procedural tools the build's training never offers (``seen``: the names it
    offers), with validation-split values: only a model that copies from its prompt gets them right."""
    from toolsweep.data.generator import generate_examples
    from toolsweep.data.procedural import procedural_tools

    if seen is None:
        seen = {t.name for t in procedural_tools(cfg.n_tools, cfg.seed)}
    fresh = [t for t in procedural_tools(cfg.n_tools // 4 + 400, cfg.seed + 1, cfg.verb_synonyms)
             if t.name not in seen][:300]
    return generate_examples(fresh, "validation", n, PRETRAIN_CATEGORIES, seed=cfg.seed, off_topic=False)


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
    """A randomly initialised Llama-style causal LM sized by ``cfg`` (tied embeddings), or the weights of
    ``cfg.init_from``, whose shape must be the one ``cfg`` asks for."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if cfg.init_from:
        model = AutoModelForCausalLM.from_pretrained(cfg.init_from, dtype=torch.float32)
        c = model.config
        found = {"hidden_size": c.hidden_size, "num_layers": c.num_hidden_layers, "num_heads": c.num_attention_heads,
                 "num_kv_heads": c.num_key_value_heads, "intermediate_size": c.intermediate_size}
        wrong = {k: v for k, v in found.items() if getattr(cfg, k) != v}
        if wrong or c.vocab_size != len(tokenizer):
            raise ValueError(f"init_from: {cfg.init_from} has another shape ({wrong or {'vocab_size': c.vocab_size}}); "
                             "pass those values, or build from scratch without --init-from")
        return model

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_kv_heads,
        intermediate_size=cfg.intermediate_size, max_position_embeddings=max(2048, cfg.max_length * 2),
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, rope_theta=10000.0,
    )
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


def run_gate(model: Any, tokenizer: Any, probe: list[dict], test_examples: int = 100,
             max_new_tokens: int = 160) -> dict[str, Any]:
    """Greedy exact match on the copy probe (target: >= 0.60) and on the quickstart test split (target:
    <= 0.20: the base must not already know the target tools)."""
    from toolsweep.data.prepare import evaluation_split
    from toolsweep.evaluation.runner import evaluate

    model.eval()
    probe_report = evaluate(model, tokenizer, probe, max_new_tokens=max_new_tokens)
    test_report = evaluate(model, tokenizer, evaluation_split("test", test_examples), max_new_tokens=max_new_tokens)
    model.train()
    return {
        "copy_probe": {"exact_match": probe_report.exact_match, "n": len(probe),
                       "well_formed": probe_report.metrics.to_flat_dict().get("well_formed"), "target": ">= 0.60"},
        "quickstart_test": {"exact_match": test_report.exact_match, "n": test_examples,
                            "well_formed": test_report.metrics.to_flat_dict().get("well_formed"), "target": "<= 0.20"},
    }


def build(cfg: BuildConfig, out_dir: str | Path, *, resume: bool = False, log: Any = print) -> dict[str, Any]:
    """Run the whole build into ``out_dir`` (continuing its checkpoint with ``resume``); returns the
    ``build_info.json`` contents."""
    import torch
    from transformers import AutoTokenizer

    from toolsweep.models.tokenizer import render, train_tokenizer
    from toolsweep.trainers.pretrain_builtin import Checkpoint, pretrain

    if cfg.init_from and not (Path(cfg.init_from) / "config.json").is_file():
        raise FileNotFoundError(f"init_from: {cfg.init_from} holds no config.json; give a built model's directory")
    start = time.time()
    out = Path(out_dir)
    torch.set_num_threads(cfg.threads)
    checkpoint = Checkpoint(out / "checkpoint")
    state = checkpoint.load(cfg) if resume else None
    if resume and state is None:
        log(f"--resume: no checkpoint in {checkpoint.path}; starting from step 0")
    train, probe = generate_data(cfg)
    corpus = [render(ex) for ex in train]
    if state is not None:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint.path / "tokenizer")
    elif cfg.init_from:
        tokenizer = AutoTokenizer.from_pretrained(cfg.init_from)
        tokenizer.save_pretrained(checkpoint.path / "tokenizer")
    else:
        tokenizer = train_tokenizer(corpus, vocab_size=cfg.vocab_size)
        checkpoint.path.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(checkpoint.path / "tokenizer")
    train_sha256 = hashlib.sha256("\x00".join(corpus).encode()).hexdigest()
    if state is not None and state.get("train_sha256") != train_sha256:
        if "train_sha256" in state:
            raise ValueError(f"--resume: the training data differs from the checkpoint's ({train_sha256[:12]} vs "
                             f"{state['train_sha256'][:12]}): a changed generator or Faker version; start over")
        log("--resume: this checkpoint does not record its data's hash; continuing on today's data")
        state["history"].append({"resumed_at_step": state["step"], "data_unverified": True})
    train_ids, probe_ids = encode(tokenizer, train, cfg.max_length), encode(tokenizer, probe, cfg.max_length)
    mean_tokens = sum(len(i) for i, _ in train_ids) / len(train_ids)
    log(f"data: {len(train_ids)} train / {len(probe_ids)} probe conversations ({len(train) - len(train_ids)} over "
        f"{cfg.max_length} tokens dropped), vocab {len(tokenizer)}, mean length {mean_tokens:.0f} tokens "
        f"({time.time() - start:.0f}s)")
    model = build_model(cfg, tokenizer).to(cfg.device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters, bf16 autocast {cfg.autocast_bf16}")
    history = pretrain(model, train_ids, probe_ids, cfg, pad_id=tokenizer.pad_token_id, log=log,
                       checkpoint=checkpoint, state=state, data_sha256=train_sha256)
    if history and "stopped_at_step" in history[-1]:
        log(f"stopped at step {history[-1]['stopped_at_step']}; continue with --resume")
        return {"config": dataclasses.asdict(cfg), "history": history, "stopped_at_step": history[-1]["stopped_at_step"]}
    model = model.cpu().float()
    gate = run_gate(model, tokenizer, probe, cfg.gate_test_examples, cfg.gate_max_new_tokens)
    log(f"gate: copy probe exact {gate['copy_probe']['exact_match']:.3f} (target >= 0.60), quickstart test exact "
        f"{gate['quickstart_test']['exact_match']:.3f} (target <= 0.20)")
    info = {
        "config": dataclasses.asdict(cfg),
        "n_params": n_params,
        "data": {"tools": "procedural", "n_tools": cfg.n_tools, "train_conversations": len(train_ids),
                 "probe_conversations": len(probe_ids), "vocab_size": len(tokenizer),
                 "categories": {k: round(v, 4) for k, v in cfg.train_categories.items()},
                 "train_sha256": train_sha256,
                 "mean_train_tokens": round(mean_tokens, 1)},
        "final": next((h for h in reversed(history) if "step" in h), {}),
        "gate": gate,
        "history": history,
        "train_seconds": round(sum(h.get("segment_s", 0.0) for h in history if "segment_s" in h), 1),
        "versions": _versions(),
        "machine": platform.processor() or platform.machine(),
    }
    if cfg.init_from:
        previous = Path(cfg.init_from) / "build_info.json"
        info["init_from"] = json.loads(previous.read_text(encoding="utf-8")) if previous.is_file() else None
    save(model, tokenizer, out, info, cfg.save_dtype)
    checkpoint.remove()
    log(f"saved to {out} ({time.time() - start:.0f}s in this process)")
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
    """``python -m toolsweep.trainers.build_builtin --out DIR [--seed N] [--FIELD VALUE ...] [--resume]``."""
    parser = argparse.ArgumentParser(prog="python -m toolsweep.trainers.build_builtin",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory to write the model into")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint (same options)")
    for f in dataclasses.fields(BuildConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                            dest=f.name, help=f"(default {f.default})")
    args = vars(parser.parse_args(argv))
    out, resume = args.pop("out"), args.pop("resume")
    build(BuildConfig(**args), out, resume=resume, log=lambda msg: print(msg, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
