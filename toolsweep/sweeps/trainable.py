"""The Ray Tune trainable: a function from a trial's sampled values to reports, via the plain pipeline.

Ray gives each trial its own worker process, so GPU memory is returned between trials. A trial's work
lives in ``STORAGE/NAME/trials/<trial id>``, which survives retries and ``toolsweep run --resume``, so a
retried trial continues from its last stage checkpoint. SFT results go to the sweep's stage cache.
Validation reports become ``tune.report`` calls (one ``training_iteration`` each, the unit ASHA counts);
the final report carries the trial's weights as a Tune checkpoint and its cost in resource-seconds.

A trial that runs out of memory in a training stage is retried by Ray with half that stage's micro-batch
and twice its gradient accumulation (``trainers.oom_retry``): the attempt records the plan in
``attempts.jsonl`` and re-raises, so its process ends and frees the memory; the next attempt reads the plan
and resumes from the last checkpoint. The SFT stage keeps the cache key of the sweep's own recipe, so the
retry finds its checkpoints and other trials with that recipe reuse the result. Those retries do not spend
``search.max_failures``: Ray allows that plus every halving, and the trainable counts ordinary crashes in
``attempts.jsonl`` itself; the crash that goes past ``search.max_failures`` marks the trial given up, and any
restart Ray still makes ends at once with that crash's reason.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

from toolsweep.cluster.storage import RunStorage
from toolsweep.cluster.workspace import TrialWorkspace, shared_sft_stage
from toolsweep.config.loader import Sweep
from toolsweep.errors import EXCEPTION, OUT_OF_MEMORY, TrialFailure
from toolsweep.trainers.oom_retry import (
    MicroBatch,
    complete_last_attempt,
    crashes,
    given_up,
    next_micro_batches,
    planned_micro_batches,
    read_attempts,
    with_micro_batches,
)

__all__ = ["TuneReporter", "make_trainable"]


class TuneReporter:
    """Collects everything the pipeline reports and forwards it to Tune at each validation point."""

    def __init__(self, started: float, cpus: float, gpus: float, sync: Callable[[], None] | None = None) -> None:
        self.latest: dict[str, float] = {}
        self.started = started
        self.cpus = cpus
        self.gpus = gpus
        self.sync = sync  # pushes the trial's workspace to URI storage before Tune records the report

    def cost(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        return {"cost/wall_seconds": wall, "cost/cpu_seconds": wall * self.cpus, "cost/gpu_seconds": wall * self.gpus}

    def __call__(self, metrics: dict[str, float]) -> None:
        self.latest.update(metrics)
        if "val/seconds" in metrics:  # a validation point: one scheduler step
            if self.sync:
                self.sync()
            tune.report({**self.latest, **self.cost()})

    def final(self, metrics: dict[str, float], model_dir: str | None) -> None:
        self.latest.update(metrics)
        checkpoint = tune.Checkpoint.from_directory(model_dir) if model_dir and Path(model_dir).is_dir() else None
        if self.sync:
            self.sync()
        tune.report({**self.latest, **self.cost(), "trial/completed": 1.0}, checkpoint=checkpoint)


def _record_attempt(trial_dir: Path, values: dict[str, Any], reused: bool, plan: dict[str, MicroBatch]) -> None:
    """One line per start of this trial, so retries after crashes (and the node and process each ran in, and
    the micro-batches each trained with) are visible."""
    import ray

    trial_dir.mkdir(parents=True, exist_ok=True)
    record = {"started": time.time(), "values": values, "reused_result": reused, "node_ip": ray.util.get_node_ip_address(),
              "pid": os.getpid(), "micro_batches": {name: micro.as_list() for name, micro in plan.items()}}
    with (trial_dir / "attempts.jsonl").open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def _failure_of(exc: BaseException) -> TrialFailure | None:
    """The TrialFailure behind ``exc``: itself, one it was raised from, or, for a multi-worker trial, one of
    the workers' (Ray Train's ``WorkerGroupError.worker_failures``; an out-of-memory one first)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    found: list[TrialFailure] = []
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TrialFailure):
            found.append(current)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        pending += [e for e in (getattr(current, "worker_failures", None) or {}).values() if isinstance(e, BaseException)]
    return next((f for f in found if f.kind == OUT_OF_MEMORY), found[0] if found else None)


def _after_failure(trial_dir: Path, exc: BaseException, plan: dict[str, MicroBatch], max_failures: int) -> BaseException:
    """Complete this attempt's record with why it failed and what the next attempt does; return what to raise.

    Out of memory in a training stage: the next attempt halves that stage's micro-batch (the record's
    ``retry``), and the error raised says so; at a micro-batch of 1 the trial gives up with reason ``oom``.
    Any other failure is a crash: once there are more than ``max_failures`` of them, the trial gives up."""
    failure = _failure_of(exc)
    kind = failure.kind if failure is not None else EXCEPTION
    stage = getattr(failure, "stage", None)
    message = failure.message if failure is not None else f"{type(exc).__name__}: {exc}"
    record: dict[str, Any] = {"ended": time.time(), "failure": {"kind": kind, "stage": stage, "message": message[:2000]}}
    following = next_micro_batches(kind, stage, plan)
    raised: BaseException = exc
    if following is not None and stage is not None:
        now, then = plan[stage], following[stage]
        record["retry"] = {name: micro.as_list() for name, micro in following.items()}
        raised = TrialFailure(OUT_OF_MEMORY, f"{stage}: out of memory at micro-batch {now.batch_size}; the next attempt resumes "
                              f"from the last checkpoint at micro-batch {then.batch_size} x {then.gradient_accumulation_steps} "
                              f"accumulation (same effective batch {then.effective})")
    elif kind == OUT_OF_MEMORY and stage in plan:
        record["gave_up"] = True
        raised = TrialFailure(OUT_OF_MEMORY, f"{stage}: out of memory even at micro-batch 1 ({message}); lower {stage}.max_length, "
                              "train LoRA instead of the full model, or request more memory (resources.gpus_per_trial)")
        record["failure"]["message"] = raised.message
    elif crashes(read_attempts(trial_dir)) + 1 > max_failures:  # this attempt's line is not complete yet
        record["gave_up"] = True
    complete_last_attempt(trial_dir, record)
    return raised


def _finished_result(trial_dir: Path) -> dict[str, Any] | None:
    path = trial_dir / "result.json"
    return json.loads(path.read_text()) if path.is_file() else None


def make_trainable(sweep: Sweep, run_dir: Path | RunStorage, wandb_settings: Any = None) -> Any:
    """A Tune function trainable closed over the validated sweep (it ships to workers by pickling).
    ``wandb_settings`` (``analysis.wandb_logging.WandbSettings``) makes each trial a W&B run.
    ``run_dir`` is a local/shared directory or a ``RunStorage`` (which may be an object-store URI)."""
    storage = run_dir if isinstance(run_dir, RunStorage) else RunStorage.at_path(run_dir)

    def trainable(config: dict[str, Any]) -> None:
        import torch

        from toolsweep.trainers.hardware import torch_threads
        from toolsweep.trainers.pipeline import run_pipeline

        values = {path: value for path, value in config.items() if value is not None}
        recipe = sweep.resolve(values)
        torch.set_num_threads(torch_threads(recipe.resources.cpus_per_trial))
        workspace = TrialWorkspace(storage, tune.get_context().get_trial_id())
        workspace.pull()  # URI storage: a retry on another node continues from the last pushed checkpoint
        trial_dir = workspace.local_dir
        finished = _finished_result(trial_dir)
        attempts = read_attempts(trial_dir)
        plan = planned_micro_batches(recipe, attempts)  # smaller micro-batches after an out-of-memory attempt
        spec = with_micro_batches(recipe, plan)
        _record_attempt(trial_dir, values, reused=finished is not None, plan=plan)
        gave_up = given_up(attempts) if finished is None else None
        if gave_up is not None:  # Ray's budget covers every halving as well: a restart past ours does not train
            complete_last_attempt(trial_dir, {"ended": time.time(), "failure": gave_up, "gave_up": True})
            workspace.push()
            raise TrialFailure(gave_up["kind"], gave_up["message"])
        if finished is not None:
            # Tune saves its state every ~10 s: a trial that finished just before the driver was killed
            # is restarted on --resume. Its result is on disk, so report it instead of training again.
            reporter = TuneReporter(time.perf_counter(), 0.0, 0.0, workspace.push)
            reporter.final(finished["metrics"], finished["model_dir"])
            return
        from toolsweep.analysis.wandb_logging import wrap_reporter

        reporter = wrap_reporter(TuneReporter(time.perf_counter(), spec.resources.cpus_per_trial * spec.resources.workers,
                                              spec.resources.gpus_per_trial * spec.resources.workers, workspace.push),
                                 wandb_settings, spec, values, trial_dir)
        try:
            if spec.resources.workers > 1:
                from toolsweep.sweeps.distributed import train_distributed

                metrics = train_distributed(spec, trial_dir, evaluate_test=True)
                reporter.final(metrics, None)
                return
            # The recipe's key, not the retry's micro-batches: same effective batch, same stage and checkpoints.
            sft_dir, sft_lock = shared_sft_stage(storage, recipe) if spec.storage.share_stages else (None, None)
            result = run_pipeline(spec, trial_dir, reporter, sft_dir=sft_dir, evaluate_test=True, sft_lock=sft_lock)
            reporter.final(result.metrics, result.model_dir)
        except Exception as exc:  # the trial's W&B run ends as failed; Tune still sees the error
            raised = _after_failure(trial_dir, exc, plan, recipe.search.max_failures)
            workspace.push()
            if hasattr(reporter, "close"):
                reporter.close(error=raised)
            if raised is exc:
                raise
            raise raised from exc
        except BaseException as exc:
            if hasattr(reporter, "close"):
                # Tune stops a trial (ASHA) by raising SystemExit(0) from its next report: not a failure.
                if isinstance(exc, SystemExit) and not exc.code:
                    reporter.close(stopped=True)
                else:
                    reporter.close(error=exc)
            raise

    return trainable
