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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

from toolsweep.cluster.storage import RunStorage
from toolsweep.cluster.workspace import TrialWorkspace, shared_sft_stage
from toolsweep.config.loader import Sweep

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


def _record_attempt(trial_dir: Path, values: dict[str, Any], reused: bool) -> None:
    """One line per start of this trial, so retries after crashes (and the node each ran on) are visible."""
    import ray

    trial_dir.mkdir(parents=True, exist_ok=True)
    record = {"started": time.time(), "values": values, "reused_result": reused, "node_ip": ray.util.get_node_ip_address()}
    with (trial_dir / "attempts.jsonl").open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


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

        from toolsweep.trainers.pipeline import run_pipeline

        values = {path: value for path, value in config.items() if value is not None}
        spec = sweep.resolve(values)
        torch.set_num_threads(max(1, int(spec.resources.cpus_per_trial)))
        workspace = TrialWorkspace(storage, tune.get_context().get_trial_id())
        workspace.pull()  # URI storage: a retry on another node continues from the last pushed checkpoint
        trial_dir = workspace.local_dir
        finished = _finished_result(trial_dir)
        _record_attempt(trial_dir, values, reused=finished is not None)
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
            sft_dir, sft_lock = shared_sft_stage(storage, spec) if spec.storage.share_stages else (None, None)
            result = run_pipeline(spec, trial_dir, reporter, sft_dir=sft_dir, evaluate_test=True, sft_lock=sft_lock)
            reporter.final(result.metrics, result.model_dir)
        except BaseException as exc:  # the trial's W&B run ends as failed; Tune still sees the error
            if hasattr(reporter, "close"):
                reporter.close(error=exc)
            raise

    return trainable
