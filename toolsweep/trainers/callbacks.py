"""Training callbacks the sweep driver consumes: metrics forwarding, NaN guard, periodic validation.

The driver passes a ``Reporter`` (a plain callable) so the trainers never import Ray: under Ray Tune it
wraps ``tune.report``; under ``toolsweep train`` it prints. Validation accuracy reported during training is
what lets ASHA stop bad trials early.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from toolsweep.trainers.failures import NonFiniteLossError, is_finite
from toolsweep.trainers.memory import TRIM_EVERY_STEPS, release_freed_memory

__all__ = ["MemoryTrimCallback", "MetricsCallback", "Reporter", "ValidationCallback"]

Reporter = Callable[[dict[str, float]], None]
# Keys TRL logs that a sweep wants to see; everything numeric is forwarded, these are checked for NaN.
_GUARDED = ("loss", "grad_norm")


class MetricsCallback(TrainerCallback):
    """Forward each log line as ``{stage}/{key}`` with tokens/s, stopping the stage on a NaN or inf loss."""

    def __init__(self, stage: str, reporter: Reporter, step_offset: int = 0) -> None:
        self.stage = stage
        self.reporter = reporter
        self.step_offset = step_offset
        self._last: tuple[float, float] | None = None  # (time, tokens)

    def on_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        logs = logs or {}
        for key in _GUARDED:
            if key in logs and not is_finite(logs[key]):
                raise NonFiniteLossError(self.stage, state.global_step, key, logs[key])
        metrics = {f"{self.stage}/{k}": float(v) for k, v in logs.items() if isinstance(v, (int, float))}
        tokens = float(state.num_input_tokens_seen or logs.get("num_tokens", 0) or 0)
        now = time.perf_counter()
        if self._last is not None and tokens > self._last[1] and now > self._last[0]:
            metrics[f"{self.stage}/tokens_per_second"] = (tokens - self._last[1]) / (now - self._last[0])
        self._last = (now, tokens)
        metrics[f"{self.stage}/step"] = float(state.global_step)
        metrics["training_iteration_step"] = float(self.step_offset + state.global_step)
        self.reporter(metrics)


class ValidationCallback(TrainerCallback):
    """Every ``every`` steps (and at the end) score tool calling on a small validation subset."""

    def __init__(self, stage: str, every: int, evaluate: Callable[[Any], dict[str, float]], reporter: Reporter) -> None:
        self.stage = stage
        self.every = every
        self.evaluate = evaluate
        self.reporter = reporter
        self.seconds = 0.0  # time spent validating, so its share of the trial can be reported
        self.history: list[dict[str, float]] = []

    def _run(self, state: TrainerState, model: Any) -> None:
        started = time.perf_counter()
        was_training = model.training
        model.eval()
        try:
            metrics = self.evaluate(model)
        finally:
            model.train(was_training)
        self.seconds += time.perf_counter() - started
        report = {f"val/{key}": value for key, value in metrics.items()}
        report[f"{self.stage}/step"] = float(state.global_step)
        report["val/seconds"] = self.seconds
        self.history.append(report)
        self.reporter(report)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        if state.global_step % self.every == 0 and state.global_step < state.max_steps:
            self._run(state, model)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        self._run(state, model)


class MemoryTrimCallback(TrainerCallback):
    """Every ``every`` steps, give the heap's freed memory back to the OS (see ``trainers/memory.py``): CPU
    trials with batches of varying length otherwise grow by gigabytes."""

    def __init__(self, every: int = TRIM_EVERY_STEPS) -> None:
        self.every = every

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.global_step % self.every == 0:
            release_freed_memory()
