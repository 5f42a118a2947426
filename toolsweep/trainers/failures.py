"""Why a stage failed, in words a sweep's leaderboard can show: NaN, out of memory, or an exception.

A trial that fails must leave a reason behind rather than a silent bad model; the sweep driver records
``TrialFailure.kind`` and the message as the trial's status and moves on.
"""

from __future__ import annotations

import math

import torch

from toolsweep.errors import EXCEPTION, NON_FINITE, OUT_OF_MEMORY, TrialFailure

__all__ = ["NonFiniteLossError", "OutOfMemoryFailure", "TrialFailure", "classify_failure", "is_finite", "is_out_of_memory"]


class NonFiniteLossError(TrialFailure):
    def __init__(self, stage: str, step: int, key: str, value: float) -> None:
        super().__init__(
            NON_FINITE,
            f"{stage}: {key} became {value} at step {step}; lower the learning rate or check the data",
        )


def is_finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


class OutOfMemoryFailure(TrialFailure):
    """Out of memory while ``stage`` ran ('sft', 'dpo', 'evaluation', or None when unknown).

    The stage travels with the failure so that the sweep's trainable can retry a training stage with a
    smaller micro-batch (``trainers.oom_retry``); it survives pickling to the Ray driver."""

    def __init__(self, message: str, stage: str | None = None) -> None:
        super().__init__(OUT_OF_MEMORY, message)
        self.stage = stage

    def __reduce__(self) -> tuple[type, tuple[str, str | None]]:  # type: ignore[override]
        return OutOfMemoryFailure, (self.message, self.stage)


_OOM_TEXTS = ("out of memory", "can't allocate memory", "cannot allocate memory")
"""CUDA's message, and the CPU allocator's (``DefaultCPUAllocator: can't allocate memory``, errno 12)."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's OutOfMemoryError, Python's MemoryError, and allocator errors that say so in words."""
    oom_types = (getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError), MemoryError)
    return isinstance(exc, oom_types) or any(text in str(exc).lower() for text in _OOM_TEXTS)


def classify_failure(exc: BaseException, resources: str, stage: str | None = None) -> TrialFailure:
    """Wrap any exception into a TrialFailure; out-of-memory errors name the stage, the trial's resource
    request and the fields to lower."""
    if isinstance(exc, TrialFailure):
        return exc
    text = str(exc)
    if is_out_of_memory(exc):
        where = f" in {stage}" if stage else ""
        if stage in ("sft", "dpo"):
            fix = f"lower {stage}.batch_size or {stage}.max_length"
        elif stage == "evaluation":
            fix = "set a smaller eval.batch_size"
        else:
            fix = "lower sft/dpo batch_size or max_length"
        return OutOfMemoryFailure(
            f"out of memory{where} with {resources}: {text.splitlines()[0] if text else type(exc).__name__}; "
            f"{fix}, or request more memory per trial",
            stage,
        )
    return TrialFailure(EXCEPTION, f"{type(exc).__name__}: {text}")
