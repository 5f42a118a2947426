"""The memory lines of ``toolsweep validate``: each corner of the search space's estimated peak, and a warning
naming the fields to change when a corner cannot fit its share of a GPU.

Why corners: the space is plain data, and memory grows monotonically with each memory-relevant field (rank,
batch sizes, lengths, LoRA on or off...), so the largest candidate of every such field together is the
worst trial the sweep can sample and the smallest together the best. Each field's worst and best candidate
is found by estimating it alone (a list of target modules has no order of its own). The estimate itself is
``toolsweep.trainers.memory_estimate``: no torch, no download.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from toolsweep.config.loader import Sweep
from toolsweep.config.schema import SweepSpec
from toolsweep.trainers.memory_estimate import GIB, StageMemory, hardware_for, stage_memory, trial_memory
from toolsweep.trainers.model_architecture import Architecture, ArchitectureUnknown, read_architecture
from toolsweep.trainers.oom_retry import STAGES, MicroBatch, smaller_micro_batch, with_micro_batches

__all__ = ["MEMORY_FIELDS", "Corner", "memory_corners", "memory_lines"]

MEMORY_FIELDS = frozenset({
    "model.name", "model.revision", "lora.enabled", "lora.r", "lora.target_modules", "sft.enabled", "dpo.enabled",
    "sft.batch_size", "dpo.batch_size", "sft.max_length", "dpo.max_length", "resources.precision",
    "resources.deepspeed", "resources.workers",
})
"""Searched paths that change a trial's memory; the others (learning rates, beta, weights...) do not."""


@dataclass(frozen=True)
class Corner:
    """A corner of the space: the searched values that pick it, its resolved spec and its estimated peak."""

    values: dict[str, Any]
    spec: SweepSpec
    memory: StageMemory | None

    def label(self) -> str:
        return ", ".join(f"{path}={value}" for path, value in self.values.items()) or "every trial"


@functools.lru_cache(maxsize=16)
def _architecture(name: str, revision: str | None) -> Architecture:
    return read_architecture(name, revision)


def _estimate(spec: SweepSpec) -> StageMemory | None:
    arch = _architecture(spec.model.name, spec.model.revision)
    return trial_memory(arch, spec, hardware_for(spec, arch.parameters()))


def _total(spec: SweepSpec) -> float:
    memory = _estimate(spec)
    return memory.total if memory else 0.0


def memory_corners(sweep: Sweep) -> tuple[Corner, Corner]:
    """The worst and the best corner of the sweep's memory-relevant searched fields."""
    worst: dict[str, Any] = {}
    best: dict[str, Any] = {}
    for path, domain in sweep.space.items():
        if path not in MEMORY_FIELDS:
            continue
        ranked = sorted(domain.candidates(), key=lambda value, p=path: _total(sweep.resolve({p: value})))
        best[path], worst[path] = ranked[0], ranked[-1]
    return tuple(Corner(values, spec := sweep.resolve(values), _estimate(spec)) for values in (worst, best))  # type: ignore[return-value]


def _share(spec: SweepSpec) -> float | None:
    """Bytes of GPU memory one worker may use, or None where no GPU size is stated (or no GPU is used)."""
    resources = spec.resources
    if resources.gpu_memory_gb is None or resources.gpus_per_trial <= 0:
        return None
    return resources.gpu_memory_gb * GIB * min(resources.gpus_per_trial, 1.0)


def _stage_total(spec: SweepSpec, name: str) -> float:
    arch = _architecture(spec.model.name, spec.model.revision)
    return stage_memory(arch, spec, name, hardware_for(spec, arch.parameters())).total


def _micro_batch_fix(spec: SweepSpec, share: float) -> str | None:
    """The largest micro-batch of each stage over ``share`` that fits (halving, as the out-of-memory retry
    does, so the effective batch is kept), or None when a stage does not fit even at a micro-batch of 1."""
    changes = []
    restarts = 0
    for name in STAGES:
        stage = getattr(spec, name)
        if not stage.enabled or _stage_total(spec, name) <= share:
            continue
        micro: MicroBatch | None = MicroBatch(stage.batch_size, stage.gradient_accumulation_steps)
        while micro is not None:
            trial = with_micro_batches(spec, {name: micro})
            if _stage_total(trial, name) <= share:
                break
            micro = smaller_micro_batch(micro)
            restarts += 1
        if micro is None:
            return None
        changes.append(f"{name}.batch_size {micro.batch_size} with {name}.gradient_accumulation_steps "
                       f"{micro.gradient_accumulation_steps}")
    if not changes:
        return None
    return (" and ".join(changes) + f" (the same effective batch; a trial that runs out of memory gets there by "
            f"itself after {restarts} failed attempt(s), restarts that search.max_failures does not count)")


def _fixes(sweep: Sweep, worst: Corner, share: float) -> list[str]:
    """Changes that make the worst corner fit, each on its own: a searched field's smaller candidates, smaller
    micro-batches, shorter rows, a larger GPU share."""
    fixes = []
    for path in worst.values:
        fitting = [value for value in sweep.space[path].candidates()
                   if _total(sweep.resolve({**worst.values, path: value})) <= share]
        if fitting:
            fixes.append(f"{path} at {', '.join(map(str, fitting))} (searched: "
                         f"{', '.join(map(str, sweep.space[path].candidates()))})")
    micro = _micro_batch_fix(worst.spec, share)
    if micro:
        fixes.append(micro)
    over = [name for name in STAGES if getattr(worst.spec, name).enabled and _stage_total(worst.spec, name) > share]
    fixes.append(" and ".join(f"a lower {name}.max_length than {getattr(worst.spec, name).max_length}" for name in over)
                 + " (rows are assumed to reach it; shorter data needs less)")
    gpu = worst.spec.resources
    if gpu.gpu_memory_gb and worst.memory is not None:
        needed = worst.memory.total / (gpu.gpu_memory_gb * GIB)
        if needed <= 1:
            fixes.append(f"resources.gpus_per_trial {math.ceil(needed * 20) / 20:g} or more")
    return fixes


def _header(spec: SweepSpec, arch: Architecture) -> str:
    hw = hardware_for(spec, arch.parameters())
    where = f"{arch.source}" + (f"; {arch.note}" if arch.note else "")
    lines = [(f"  memory     estimated training peak per worker, every row at max_length ({hw.describe()}; "
              f"{spec.model.name}: {arch.parameters() / 1e6:.1f}M parameters from {where})")]
    if not hw.cuda:
        lines.append("             on a CPU, resident memory also holds the freed blocks glibc keeps "
                     "(measured beside the estimate in benchmarks/README.md, memory estimate)")
    return "\n".join(lines)


def memory_lines(sweep: Sweep) -> list[str]:
    """What ``toolsweep validate`` prints about memory, warnings included (never raises for an unknown model)."""
    spec = sweep.spec
    try:
        arch = _architecture(spec.model.name, spec.model.revision)
        worst, best = memory_corners(sweep)
    except ArchitectureUnknown as exc:
        return [f"  memory     {exc}"]
    lines = [_header(spec, arch)]
    if worst.memory is None:
        return lines + ["    no stage is enabled"]
    if worst.values:
        lines.append(f"    worst corner  {worst.label()}: {worst.memory.describe()}")
        lines.append(f"    best corner   {best.label()}: {best.memory.describe() if best.memory else 'no stage'}")
    else:
        lines.append(f"    every trial   {worst.memory.describe()}")
    share = _share(worst.spec)
    if share is None or worst.memory.total <= share:
        return lines
    resources = worst.spec.resources
    lines.append(f"  WARNING    memory: the {'worst corner' if worst.values else 'trial'} needs ~{worst.memory.total / GIB:.1f} GiB "
                 f"per worker, more than its share of the GPU, {share / GIB:.1f} GiB (resources.gpus_per_trial "
                 f"{resources.gpus_per_trial:g} x resources.gpu_memory_gb {resources.gpu_memory_gb:g}); it fits with "
                 + ("; or with ".join(_fixes(sweep, worst, share)) or "none of the searched values: use a smaller model or more GPU memory"))
    if best.memory is not None and worst.values and best.memory.total > share:
        lines.append(f"  WARNING    memory: even the best corner needs ~{best.memory.total / GIB:.1f} GiB per worker, "
                     f"more than {share / GIB:.1f} GiB: every trial whose rows reach max_length would run out of memory "
                     "at these batch sizes")
    return lines
