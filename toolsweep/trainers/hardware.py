"""Precision and memory settings chosen from the hardware, not from TRL's defaults.

TRL's configs default to ``bf16=True`` and gradient checkpointing. On a CPU, bf16 autocast is about 20x
slower than fp32 and checkpointing only trades speed for memory that a small model does not need, so the
CPU gets fp32 without checkpointing; a GPU with bf16 support gets bf16 (and checkpointing only for models
large enough to need it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toolsweep.errors import UserError

__all__ = ["Precision", "choose_precision"]

# Above this many parameters activations start to dominate GPU memory for our sequence lengths.
_CHECKPOINTING_PARAMS = 1_000_000_000


@dataclass(frozen=True)
class Precision:
    """The TrainingArguments fields that depend on the hardware."""

    bf16: bool
    fp16: bool
    gradient_checkpointing: bool
    use_cpu: bool

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.bf16 else torch.float16 if self.fp16 else torch.float32

    def training_kwargs(self) -> dict[str, bool]:
        return {
            "bf16": self.bf16,
            "fp16": self.fp16,
            "activation_checkpointing": self.gradient_checkpointing,
            "use_cpu": self.use_cpu,
        }


def choose_precision(requested: str = "auto", num_parameters: int = 0) -> Precision:
    """``auto`` → bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU."""
    cuda = torch.cuda.is_available()
    big = num_parameters >= _CHECKPOINTING_PARAMS
    if requested == "auto":
        if not cuda:
            return Precision(bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True)
        bf16 = torch.cuda.is_bf16_supported()
        return Precision(bf16=bf16, fp16=not bf16, gradient_checkpointing=big, use_cpu=False)
    if requested == "fp32":
        return Precision(bf16=False, fp16=False, gradient_checkpointing=big and cuda, use_cpu=not cuda)
    if not cuda and requested == "fp16":
        raise UserError("resources.precision: fp16 needs a CUDA GPU; use 'auto' or 'fp32' on the CPU")
    if requested == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise UserError("resources.precision: this GPU has no bf16 support; use 'auto' (fp16) or 'fp32'")
    return Precision(bf16=requested == "bf16", fp16=requested == "fp16", gradient_checkpointing=big and cuda, use_cpu=not cuda)
