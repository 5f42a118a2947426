"""The Ray Tune trainable: a function from a trial's sampled values to reports, via the plain pipeline.

Ray gives each trial its own worker process, so GPU memory is returned between trials. A trial's work
lives in ``STORAGE/NAME/trials/<trial id>``, which survives retries and ``toolsweep run --resume``, so a
retried trial continues from its last stage checkpoint. SFT results go to the sweep's stage cache.
Validation reports become ``tune.report`` calls (one ``training_iteration`` each, the unit ASHA counts);
the final report carries the trial's weights as a Tune checkpoint and its cost in resource-seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ray import tune

from toolsweep.config.loader import Sweep
from toolsweep.sweeps.stage_cache import sft_stage_dir, stage_lock

__all__ = ["TuneReporter", "make_trainable"]


class TuneReporter:
    """Collects everything the pipeline reports and forwards it to Tune at each validation point."""

    def __init__(self, started: float, cpus: float, gpus: float) -> None:
        self.latest: dict[str, float] = {}
        self.started = started
        self.cpus = cpus
        self.gpus = gpus

    def cost(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        return {"cost/wall_seconds": wall, "cost/cpu_seconds": wall * self.cpus, "cost/gpu_seconds": wall * self.gpus}

    def __call__(self, metrics: dict[str, float]) -> None:
        self.latest.update(metrics)
        if "val/seconds" in metrics:  # a validation point: one scheduler step
            tune.report({**self.latest, **self.cost()})

    def final(self, metrics: dict[str, float], model_dir: str | None) -> None:
        self.latest.update(metrics)
        checkpoint = tune.Checkpoint.from_directory(model_dir) if model_dir else None
        tune.report({**self.latest, **self.cost(), "trial/completed": 1.0}, checkpoint=checkpoint)


def _record_attempt(trial_dir: Path, values: dict[str, Any], reused: bool) -> None:
    """One line per start of this trial, so retries after crashes are visible afterwards."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    with (trial_dir / "attempts.jsonl").open("a") as handle:
        handle.write(json.dumps({"started": time.time(), "values": values, "reused_result": reused}, default=str) + "\n")


def _finished_result(trial_dir: Path) -> dict[str, Any] | None:
    path = trial_dir / "result.json"
    return json.loads(path.read_text()) if path.is_file() else None


def make_trainable(sweep: Sweep, run_dir: Path) -> Any:
    """A Tune function trainable closed over the validated sweep (it ships to workers by pickling)."""
    run_dir = Path(run_dir).resolve()

    def trainable(config: dict[str, Any]) -> None:
        import torch

        from toolsweep.trainers.pipeline import run_pipeline

        values = {path: value for path, value in config.items() if value is not None}
        spec = sweep.resolve(values)
        torch.set_num_threads(max(1, int(spec.resources.cpus_per_trial)))
        trial_dir = run_dir / "trials" / tune.get_context().get_trial_id()
        finished = _finished_result(trial_dir)
        _record_attempt(trial_dir, values, reused=finished is not None)
        if finished is not None:
            # Tune saves its state every ~10 s: a trial that finished just before the driver was killed
            # is restarted on --resume. Its result is on disk, so report it instead of training again.
            reporter = TuneReporter(time.perf_counter(), 0.0, 0.0)
            reporter.final(finished["metrics"], finished["model_dir"])
            return
        reporter = TuneReporter(time.perf_counter(), spec.resources.cpus_per_trial * spec.resources.workers,
                                spec.resources.gpus_per_trial * spec.resources.workers)
        if spec.resources.workers > 1:
            from toolsweep.sweeps.distributed import train_distributed

            metrics = train_distributed(spec, trial_dir, evaluate_test=True)
            reporter.final(metrics, None)
            return
        sft_dir = sft_stage_dir(run_dir / "stage_cache", spec) if spec.storage.share_stages else None
        result = run_pipeline(spec, trial_dir, reporter, sft_dir=sft_dir, evaluate_test=True, sft_lock=stage_lock)
        reporter.final(result.metrics, result.model_dir)

    return trainable
