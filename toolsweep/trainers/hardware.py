"""Precision and memory settings chosen from the hardware, not from TRL's defaults.

TRL's configs default to ``bf16=True`` and gradient checkpointing. Checkpointing only trades speed for
memory that a small model does not need, so it is kept for models large enough to need it (on GPUs).
bf16 is chosen where the hardware computes it natively: GPUs that support it (fp16 on older ones), and
CPUs with AVX512-BF16 or AMX. There it is faster: on this project's 2-core AVX512-BF16 CPU, bf16 trained
the built-in model at 1.5x the tokens/s of fp32 in SFT and in DPO (``benchmarks/train_throughput.py``), for
about 0.5-1 GB more peak memory per trial. A CPU without them emulates bf16 products, so it gets fp32.

Fused kernels are chosen the same way: Liger's Triton kernels (RMSNorm, RoPE, SwiGLU) need a CUDA GPU and
the ``liger-kernel`` package, so ``auto`` uses them exactly when both are there. TRL now points to the Hub
kernels (``use_kernels``) instead, but those are fetched from the Hub when the model loads, which a
cluster without internet cannot do; Liger is an ordinary pip install.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace

import torch

from toolsweep.errors import UserError

__all__ = ["Precision", "choose_kernels", "choose_precision", "cpu_has_native_bf16", "liger_available",
           "torch_threads"]

# Above this many parameters activations start to dominate GPU memory for our sequence lengths.
_CHECKPOINTING_PARAMS = 1_000_000_000


@dataclass(frozen=True)
class Precision:
    """The TrainingArguments fields that depend on the hardware."""

    bf16: bool
    fp16: bool
    gradient_checkpointing: bool
    use_cpu: bool
    liger_kernel: bool = False

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.bf16 else torch.float16 if self.fp16 else torch.float32

    def training_kwargs(self) -> dict[str, bool]:
        return {
            "bf16": self.bf16,
            "fp16": self.fp16,
            "activation_checkpointing": self.gradient_checkpointing,
            "use_cpu": self.use_cpu,
            "use_liger_kernel": self.liger_kernel,
        }


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 matrix products in hardware (AVX512-BF16 or AMX tiles).

    torch exposes the probes only privately (``torch.cpu._is_*_supported``); a torch without them
    counts as no native bf16, which falls back to the always-correct fp32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def torch_threads(cpus: float) -> int:
    """torch's CPU threads for a task holding ``cpus`` Ray CPUs: the whole CPUs it holds, and at least one.

    Why one rule for trials and the variants task: a fractional share must never start more threads than
    cores it holds (0.66 -> 1, 1.5 -> 1), yet a sum of shares such as 3 x 0.66 = 1.98 is two cores, so the
    floor forgives a few hundredths."""
    return max(1, int(cpus + 0.05))


def choose_precision(requested: str = "auto", num_parameters: int = 0) -> Precision:
    """``auto`` → bf16 on GPUs that support it, fp16 on older GPUs; bf16 on CPUs with native bf16, else fp32."""
    cuda = torch.cuda.is_available()
    big = num_parameters >= _CHECKPOINTING_PARAMS
    if requested == "auto":
        if not cuda:
            return Precision(bf16=cpu_has_native_bf16(), fp16=False, gradient_checkpointing=False, use_cpu=True)
        bf16 = torch.cuda.is_bf16_supported()
        return Precision(bf16=bf16, fp16=not bf16, gradient_checkpointing=big, use_cpu=False)
    if requested == "fp32":
        return Precision(bf16=False, fp16=False, gradient_checkpointing=big and cuda, use_cpu=not cuda)
    if not cuda and requested == "fp16":
        raise UserError("resources.precision: fp16 needs a CUDA GPU; use 'auto' or 'fp32' on the CPU")
    if requested == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise UserError("resources.precision: this GPU has no bf16 support; use 'auto' (fp16) or 'fp32'")
    return Precision(bf16=requested == "bf16", fp16=requested == "fp16", gradient_checkpointing=big and cuda, use_cpu=not cuda)


def liger_available() -> bool:
    """True when ``liger_kernel`` is installed (checked without importing it: it imports triton)."""
    return importlib.util.find_spec("liger_kernel") is not None


def choose_kernels(precision: Precision, requested: str = "auto") -> Precision:
    """``precision`` with Liger's fused kernels switched on where ``requested`` and the hardware allow.

    ``auto`` → on for a CUDA run with ``liger-kernel`` installed, off otherwise; ``liger`` → on, or an
    error saying what is missing; ``none`` → off."""
    cuda = not precision.use_cpu  # choose_precision set it from torch.cuda.is_available()
    if requested == "none":
        return replace(precision, liger_kernel=False)
    if requested == "auto":
        return replace(precision, liger_kernel=cuda and liger_available())
    if not cuda:
        raise UserError("resources.kernels: liger needs a CUDA GPU (its kernels are Triton); "
                        "use 'auto' or 'none' on the CPU")
    if not liger_available():
        raise UserError("resources.kernels: liger is not installed; `pip install liger-kernel` "
                        "(or `pip install 'toolsweep[gpu]'`), or set kernels: auto")
    return replace(precision, liger_kernel=True)
