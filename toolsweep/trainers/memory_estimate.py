"""Predict a trial's peak training memory from its resolved spec, before any trial runs.

Why: a sweep whose largest corner cannot fit its share of a GPU loses every such trial after minutes of
start-up. ``toolsweep validate`` calls this for the search space's corners; it must answer in a blink, so it
imports neither torch nor transformers: the architecture comes from the model's ``config.json`` read as
JSON (a local or built-in directory, or the Hugging Face cache for a hub id; never downloaded), and
parameters are counted from it. The per-stage terms follow what this project's trainers actually do:

- weights in the trial's precision (the pipeline casts the base to it);
- LoRA: PEFT keeps adapters in fp32 (``autocast_adapter_dtype``), so 4 B weight + 4 B gradient + 8 B for
  AdamW's two states per adapter parameter; full fine-tuning without DeepSpeed keeps gradients and AdamW
  states in the weights' dtype (torch's AdamW uses ``zeros_like``; there is no fp32 master copy);
- DeepSpeed ZeRO: fp32 master weights and both AdamW states (12 B) and gradients are sharded over the
  workers, ZeRO-3 shards the weights too;
- DPO's reference: with LoRA, TRL disables the adapter (or, after SFT, keeps a frozen copy of the SFT
  adapter, the ``ref`` adapter); without LoRA it keeps a full second copy of the model;
- activations for every row at ``max_length`` (DPO: chosen and rejected rows, so twice the batch), per
  token and layer from the tensors autograd saves in a Llama/Qwen2 decoder layer (measured with
  ``saved_tensors_hooks``, see benchmarks/README.md), or one layer's input per layer with gradient
  checkpointing (on for models of 1B parameters and more on GPUs, as ``trainers.hardware`` decides);
- TRL's fused LM head: logits are computed in tiles of at most 4096 tokens x 32768 vocabulary entries;
  on a CPU its torch fallback keeps several fp32 copies of a tile, on a GPU Triton keeps one;
- the runtime: the CUDA context on a GPU, PyTorch's CPU runtime state on a CPU.

Calibrated on CPU against measured peaks (``benchmarks/memory_calibration.py``); GPU figures not measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from toolsweep.config.schema import SweepSpec
from toolsweep.trainers.model_architecture import Architecture, ArchitectureUnknown, read_architecture

__all__ = ["Architecture", "ArchitectureUnknown", "Hardware", "StageMemory", "hardware_for", "read_architecture",
           "stage_memory", "trial_memory"]

GIB = 1024**3
CHECKPOINTING_PARAMETERS = 1_000_000_000
"""As ``trainers.hardware``: GPU trials of models this large train with gradient checkpointing."""
LOGIT_TILE_TOKENS = 4096
LOGIT_TILE_VOCAB = 32768
"""TRL 1.16's fused LM head: ``TOKEN_CHUNK_SIZE`` x ``_CHUNKED_LOGPROB_CHUNK_SIZE``."""
CPU_TILE_FP32_COPIES = 7
"""fp32 temporaries of one logit tile alive at once in TRL's torch fallback, at the peak of its
``_backward_tile``: scaled and tempered logits, log-probabilities, probabilities, the gradient, and the two
temporaries of ``grad_logprobs * (is_target - p)`` (plus the boolean ``is_target``)."""
CUDA_CONTEXT_BYTES = 0.5 * GIB
"""CUDA context and kernels per process: a typical figure for recent PyTorch, not measured here."""
CPU_RUNTIME_BYTES = 30 * 1024**2
"""Native memory a CPU training process keeps from its first training step on, beyond its tensors: measured
as the resident memory retained after step 0 less the gradients, 28-38 MiB for the tiny model (LoRA and full)
and the 25M one alike, with no Python allocation or import behind it (PyTorch's CPU runtime: kernel and
autograd state). The CPU counterpart of ``CUDA_CONTEXT_BYTES``. Missing, it was half of why full fine-tuning
of the tiny model, the smallest peak measured, read 1.32x its estimate (benchmarks/README.md)."""


@dataclass(frozen=True)
class Hardware:
    """How a trial's worker will train: what decides bytes per value and what is sharded."""

    cuda: bool
    half: bool  # bf16/fp16 weights and autocast; False: fp32 throughout
    checkpointing: bool
    zero_stage: int  # 0 (no DeepSpeed), 2 or 3
    workers: int

    def describe(self) -> str:
        device = "GPU" if self.cuda else "CPU"
        parts = [device, "bf16/fp16" if self.half else "fp32"]
        if self.checkpointing:
            parts.append("gradient checkpointing")
        if self.zero_stage:
            parts.append(f"ZeRO-{self.zero_stage} over {self.workers} workers")
        return ", ".join(parts)


def cpu_has_native_bf16() -> bool:
    """What ``trainers.hardware.cpu_has_native_bf16`` asks torch, read from /proc/cpuinfo without importing torch:
    AVX512-BF16 or AMX tiles. Where the flags cannot be read, assume fp32 (the larger estimate)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_tile" in flags


def _zero_stage(deepspeed: str | None) -> int:
    if deepspeed is None:
        return 0
    if deepspeed in ("zero2", "zero3"):
        return int(deepspeed[-1])
    try:
        config = json.loads(Path(deepspeed).expanduser().read_text())
    except (OSError, ValueError):
        return 0
    return int((config.get("zero_optimization") or {}).get("stage", 0))


def hardware_for(spec: SweepSpec, parameters: int, cpu_bf16: bool | None = None) -> Hardware:
    """The precision and sharding a trial of ``spec`` will get, decided as ``trainers.hardware`` decides it.
    A GPU trial with precision auto is taken to get bf16 (fp16 on older GPUs is the same size)."""
    resources = spec.resources
    cuda = resources.gpus_per_trial > 0
    if resources.precision == "auto":
        half = cuda or (cpu_has_native_bf16() if cpu_bf16 is None else cpu_bf16)
    else:
        half = resources.precision in ("bf16", "fp16")
    return Hardware(cuda=cuda, half=half, checkpointing=cuda and parameters >= CHECKPOINTING_PARAMETERS,
                    zero_stage=_zero_stage(resources.deepspeed), workers=resources.workers)


@dataclass(frozen=True)
class StageMemory:
    """One stage's estimated peak per worker process, by part (bytes)."""

    stage: str
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def describe(self) -> str:
        shown = ", ".join(f"{name} {value / GIB:.2f}" for name, value in self.parts.items() if value >= 0.005 * GIB)
        return f"{self.total / GIB:.2f} GiB in {self.stage} ({shown})"


def _adapted(arch: Architecture, target_modules: list[str] | str) -> list[str]:
    """The Linears LoRA wraps in one decoder layer: 'all-linear' is all of them (PEFT leaves out only the LM
    head, which is not in a decoder layer); a list matches the last name component."""
    return [name for name in arch.linears() if target_modules == "all-linear" or name in target_modules]


def _separate_copies(arch: Architecture, names: list[str]) -> int:
    """Extra residual-width copies under autocast with LoRA: PEFT casts each adapter's input on its own, so
    q/k/v (and gate/up) keep one copy each where the frozen base layers shared a single input."""
    groups = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))
    return sum(max(0, sum(name in names for name in group) - 1) for group in groups) * arch.hidden_size


def _activations_per_token(arch: Architecture, hw: Hardware, seq: int, lora_rank: int, adapted: list[str]) -> float:
    """Bytes autograd keeps per token for the whole decoder stack.

    Per layer, the tensors a Llama/Qwen2 layer saves (``saved_tensors_hooks`` on a forward, this project's code
    path): four MLP-width tensors (gate, up, their activation and product), four attention-width ones (query,
    key and value expanded to every head, and the attention output), four residual-width ones in the activation
    dtype and two fp32 copies inside the RMSNorms, plus the padding mask (one row of ``seq`` per token), plus
    each adapter's rank-wide intermediate. With gradient checkpointing only each layer's input is kept, plus
    one layer recomputed during the backward pass."""
    a = 2 if hw.half else 4
    layer = (a * (4 * arch.intermediate_size + 4 * arch.num_heads * arch.head_dim + seq + 4 * arch.hidden_size)
             + 8 * arch.hidden_size + a * lora_rank * len(adapted)
             + (a * _separate_copies(arch, adapted) if hw.half and adapted else 0))
    if hw.checkpointing:
        return arch.num_layers * a * arch.hidden_size + layer
    return arch.num_layers * layer + (4 * a + 8) * arch.hidden_size  # + embeddings, final norm, head input


def _logit_tile(arch: Architecture, hw: Hardware, tokens: int) -> float:
    a = 2 if hw.half else 4
    tile = min(tokens, LOGIT_TILE_TOKENS) * min(arch.vocab_size, LOGIT_TILE_VOCAB)
    grad_hidden = tokens * arch.hidden_size * 4  # the fused head accumulates the hidden states' gradient in fp32
    return tile * (a if hw.cuda else a + 1 + 4 * CPU_TILE_FP32_COPIES) + grad_hidden


def stage_memory(arch: Architecture, spec: SweepSpec, stage_name: str, hw: Hardware) -> StageMemory:
    """Peak memory of one worker while ``stage_name`` ('sft' or 'dpo') trains, every row at ``max_length``."""
    stage = getattr(spec, stage_name)
    params = arch.parameters()
    wbytes = 2 if hw.half else 4
    shards = hw.workers if hw.zero_stage else 1
    weight_shards = shards if hw.zero_stage == 3 else 1
    parts: dict[str, float] = {"weights": params * wbytes / weight_shards}
    lora = spec.lora
    adapted = _adapted(arch, lora.target_modules) if lora.enabled else []
    if lora.enabled:
        shapes = arch.linears()
        adapter = arch.num_layers * sum(lora.r * sum(shapes[name]) for name in adapted)
        parts["adapter"] = 4 * adapter
        parts["gradients"] = 4 * adapter / shards
        parts["optimizer"] = (12 if hw.zero_stage else 8) * adapter / shards
        if stage_name == "dpo" and spec.sft.enabled:
            parts["reference"] = 4 * adapter  # TRL's frozen copy of the SFT adapter
    else:
        parts["gradients"] = params * wbytes / shards
        parts["optimizer"] = (12 if hw.zero_stage else 2 * wbytes) * params / shards
        if stage_name == "dpo":
            parts["reference"] = params * wbytes / weight_shards
    rows = stage.batch_size * (2 if stage_name == "dpo" else 1)
    tokens = rows * stage.max_length
    rank = lora.r if lora.enabled else 0
    parts["activations"] = tokens * _activations_per_token(arch, hw, stage.max_length, rank, adapted)
    parts["LM head"] = _logit_tile(arch, hw, tokens)
    parts["CUDA context" if hw.cuda else "CPU runtime"] = CUDA_CONTEXT_BYTES if hw.cuda else CPU_RUNTIME_BYTES
    return StageMemory(stage_name, parts)


def trial_memory(arch: Architecture, spec: SweepSpec, hw: Hardware) -> StageMemory | None:
    """The larger of the enabled stages' peaks (a trial's stages run one after the other), None if none runs."""
    stages = [stage_memory(arch, spec, name, hw) for name in ("sft", "dpo") if getattr(spec, name).enabled]
    return max(stages, key=lambda s: s.total) if stages else None
