"""Out-of-memory retries: the trial again from its last checkpoint with half the micro-batch and twice the
gradient accumulation, so the effective batch (and with it every optimizer step) stays the same, until the
micro-batch is 1; then the trial fails with reason ``oom``.

Why plain functions here: the policy depends only on the failure and the current micro-batches, so it is
tested without Ray or torch, and the report reads the same records without either. The sweep's trainable
(``sweeps.trainable``) applies it across attempts. Memory is released between attempts because the attempt
that ran out of memory ends: the trainable re-raises, and Ray Tune restarts the trial in a fresh actor
process. Those restarts are Ray's trial retries, but they do not spend the user's crash budget: Ray is given
``ray_max_failures`` (``search.max_failures`` plus every halving a trial may need), and the trainable holds
ordinary crashes to ``search.max_failures`` itself, counting them in the attempts (``crashes``): past it, the
next attempt ends the trial with the crash's reason instead of training again (``given_up``).

The record is ``attempts.jsonl`` in the trial's directory: one line per start of the trial, holding the
micro-batches it trained with; when an attempt fails, its line is completed with the failure and either the
micro-batches of the next attempt (``retry``) or ``gave_up`` (out of memory at a micro-batch of 1, or one crash
more than ``search.max_failures`` allows).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolsweep.config.schema import SweepSpec
from toolsweep.errors import OUT_OF_MEMORY
from toolsweep.search_spaces.domains import Domain

__all__ = ["ATTEMPTS_FILE", "STAGES", "MicroBatch", "complete_last_attempt", "crashes", "describe_retries", "given_up",
           "micro_batches", "next_micro_batches", "oom_retry_budget", "planned_micro_batches", "ray_max_failures",
           "read_attempts", "smaller_micro_batch", "with_micro_batches"]

ATTEMPTS_FILE = "attempts.jsonl"
STAGES = ("sft", "dpo")


@dataclass(frozen=True)
class MicroBatch:
    """A training stage's rows per device per step and the steps accumulated per optimizer update."""

    batch_size: int
    gradient_accumulation_steps: int

    @property
    def effective(self) -> int:
        return self.batch_size * self.gradient_accumulation_steps

    def as_list(self) -> list[int]:
        return [self.batch_size, self.gradient_accumulation_steps]


def smaller_micro_batch(current: MicroBatch) -> MicroBatch | None:
    """Half the micro-batch with the accumulation raised to match, or None at a micro-batch of 1.

    For an odd size, the largest divisor at most half of it (9 -> 3 with 3x the accumulation), so the
    effective batch is always exactly the same."""
    size = current.batch_size
    if size <= 1:
        return None
    smaller = next(d for d in range(size // 2, 0, -1) if size % d == 0)
    return MicroBatch(smaller, current.gradient_accumulation_steps * (size // smaller))


def micro_batches(spec: SweepSpec) -> dict[str, MicroBatch]:
    """The micro-batches of ``spec``'s enabled training stages."""
    return {name: MicroBatch(getattr(spec, name).batch_size, getattr(spec, name).gradient_accumulation_steps)
            for name in STAGES if getattr(spec, name).enabled}


def with_micro_batches(spec: SweepSpec, plan: dict[str, MicroBatch]) -> SweepSpec:
    """``spec`` with each stage of ``plan`` set to its micro-batch (the effective batch is the plan's to keep)."""
    updates = {name: getattr(spec, name).model_copy(update={"batch_size": micro.batch_size,
                                                             "gradient_accumulation_steps": micro.gradient_accumulation_steps})
               for name, micro in plan.items()}
    return spec.model_copy(update=updates)


def next_micro_batches(kind: str, stage: str | None, current: dict[str, MicroBatch]) -> dict[str, MicroBatch] | None:
    """The micro-batches for the next attempt after a failure of ``kind`` in ``stage``, or None when a retry
    with smaller micro-batches cannot help: not out of memory, not in a training stage, or already at 1."""
    if kind != OUT_OF_MEMORY or stage not in current:
        return None
    smaller = smaller_micro_batch(current[stage])
    return None if smaller is None else {**current, stage: smaller}


def _halvings(batch_size: int) -> int:
    """How many times ``smaller_micro_batch`` can shrink a micro-batch of ``batch_size`` before it reaches 1."""
    count = 0
    step: MicroBatch | None = MicroBatch(batch_size, 1)
    while (step := smaller_micro_batch(step)) is not None:
        count += 1
    return count


def oom_retry_budget(spec: SweepSpec, space: dict[str, Domain] | None = None) -> int:
    """How many out-of-memory retries a trial can take at most: every halving of every training stage, for the
    largest micro-batch any trial of the search ``space`` may have (a searched ``batch_size``: each halving at
    least halves it, so at most log2 of its largest candidate)."""
    space = space or {}
    budget = 0
    for name in STAGES:
        stage = getattr(spec, name)
        if not stage.enabled and f"{name}.enabled" not in space:
            continue
        searched = space.get(f"{name}.batch_size")
        if searched is None:
            budget += _halvings(stage.batch_size)
        else:
            budget += max(0, max(int(value) for value in searched.candidates()).bit_length() - 1)
    return budget


def ray_max_failures(spec: SweepSpec, space: dict[str, Domain] | None = None) -> int:
    """The trial restarts Ray Tune should allow: ``search.max_failures`` for crashes plus every out-of-memory
    halving (``oom_retry_budget``). The trainable enforces both limits itself."""
    return spec.search.max_failures + oom_retry_budget(spec, space)


def read_attempts(trial_dir: Path) -> list[dict[str, Any]]:
    """The trial's attempts, oldest first; a line cut off by a crash mid-write is skipped."""
    path = Path(trial_dir) / ATTEMPTS_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def planned_micro_batches(spec: SweepSpec, attempts: list[dict[str, Any]]) -> dict[str, MicroBatch]:
    """The micro-batches the next attempt trains with: ``spec``'s, replaced by the last retry plan recorded."""
    plan = micro_batches(spec)
    for attempt in attempts:
        for name, pair in (attempt.get("retry") or {}).items():
            if name in plan:
                plan[name] = MicroBatch(*pair)
    return plan


def crashes(attempts: list[dict[str, Any]]) -> int:
    """Attempts that failed for a reason a smaller micro-batch does not address: what ``search.max_failures``
    counts (an out-of-memory retry with a ``retry`` plan does not)."""
    return sum(1 for attempt in attempts if attempt.get("failure") and not attempt.get("retry"))


def given_up(attempts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The failure of an attempt that gave up (out of memory at a micro-batch of 1, or a crash past
    ``search.max_failures``), or None: every later attempt ends the trial with it instead of training."""
    return next((attempt["failure"] for attempt in reversed(attempts) if attempt.get("gave_up")), None)


def complete_last_attempt(trial_dir: Path, fields: dict[str, Any]) -> None:
    """Add ``fields`` to the last line of ``attempts.jsonl``, replacing the file atomically."""
    path = Path(trial_dir) / ATTEMPTS_FILE
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    lines[-1] = json.dumps({**last, **fields}, default=str)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)


def describe_retries(attempts: list[dict[str, Any]]) -> str | None:
    """``2 out-of-memory retries: sft micro-batch 8 -> 4 -> 2 (accumulation 1 -> 2 -> 4)``, or None."""
    retried = [attempt for attempt in attempts if attempt.get("retry")]
    if not retried:
        return None
    first = attempts[0].get("micro_batches") or {}
    paths: dict[str, list[list[int]]] = {}
    for attempt in retried:
        stage = (attempt.get("failure") or {}).get("stage")
        if stage in attempt["retry"]:
            paths.setdefault(stage, [first.get(stage) or attempt.get("micro_batches", {}).get(stage)]).append(attempt["retry"][stage])
    steps = "; ".join(
        f"{stage} micro-batch {' -> '.join(str(p[0]) for p in path)} (accumulation {' -> '.join(str(p[1]) for p in path)})"
        for stage, path in paths.items())
    outcome = " then gave up" if given_up(attempts) else ""
    noun = "retry" if len(retried) == 1 else "retries"
    return f"{len(retried)} out-of-memory {noun}{outcome}: {steps}"
