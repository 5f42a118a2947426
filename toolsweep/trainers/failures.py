"""Why a stage failed, in words a sweep's leaderboard can show: NaN, out of memory, or an exception.

A trial that fails must leave a reason behind rather than a silent bad model; the sweep driver records
``TrialFailure.kind`` and the message as the trial's status and moves on.
"""

from __future__ import annotations

import math

import torch

from toolsweep.errors import TrialFailure

__all__ = ["NonFiniteLossError", "TrialFailure", "classify_failure", "is_finite"]


class NonFiniteLossError(TrialFailure):
    def __init__(self, stage: str, step: int, key: str, value: float) -> None:
        super().__init__(
            "nan",
            f"{stage}: {key} became {value} at step {step}; lower the learning rate or check the data",
        )


def is_finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def classify_failure(exc: BaseException, resources: str) -> TrialFailure:
    """Wrap any exception into a TrialFailure; out-of-memory errors name the trial's resource request."""
    if isinstance(exc, TrialFailure):
        return exc
    text = str(exc)
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)) or "out of memory" in text.lower():
        return TrialFailure(
            "oom",
            f"out of memory with {resources}: {text.splitlines()[0] if text else type(exc).__name__}; "
            "lower sft/dpo batch_size or max_length, or request more memory per trial",
        )
    return TrialFailure("exception", f"{type(exc).__name__}: {text}")
