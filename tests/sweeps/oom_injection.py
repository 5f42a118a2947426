"""Test-only: an out-of-memory error from SFT's training step from a chosen step on, for micro-batches above 1
(``install``), or an ordinary crash there at every micro-batch (``install_crash``).

Installed by a test in its own process (with monkeypatch), or in every Ray worker through Ray's own
``worker_process_setup_hook``, so the production code carries no hook for it. What it raises is torch's
real ``OutOfMemoryError``, which the pipeline then classifies like any other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FAIL_FROM_STEP = 3
"""The first optimizer step that fails; the tiny sweeps checkpoint every 2 steps, so retries resume from 2."""


def failing_training_step(original: Callable[..., Any]) -> Callable[..., Any]:
    def training_step(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.args.per_device_train_batch_size > 1 and self.state.global_step >= FAIL_FROM_STEP:
            import torch

            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate 2.00 GiB (injected by a test at step "
                                         f"{self.state.global_step}, micro-batch {self.args.per_device_train_batch_size})")
        return original(self, *args, **kwargs)

    return training_step


def install() -> None:
    """Patch TRL's SFTTrainer in this process (the Ray worker setup hook)."""
    from trl import SFTTrainer

    SFTTrainer.training_step = failing_training_step(SFTTrainer.training_step)


def crashing_training_step(original: Callable[..., Any]) -> Callable[..., Any]:
    def training_step(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.state.global_step >= FAIL_FROM_STEP:
            raise RuntimeError(f"injected crash at step {self.state.global_step}")
        return original(self, *args, **kwargs)

    return training_step


def install_crash() -> None:
    """Patch TRL's SFTTrainer in this process to crash from FAIL_FROM_STEP on (the Ray worker setup hook)."""
    from trl import SFTTrainer

    SFTTrainer.training_step = crashing_training_step(SFTTrainer.training_step)
