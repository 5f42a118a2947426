"""Multi-worker trials: the trial's pipeline runs on N Ray Train workers (DeepSpeed ZeRO across them).

This is Ray's current pattern for distributed training inside Tune: the Tune trial is a driver function
that builds and fits a ``TorchTrainer`` (Ray Train V2); passing a Trainer to ``Tuner`` is deprecated. Ray
Train starts the workers, sets RANK/WORLD_SIZE/MASTER_ADDR and the process group (gloo on CPU, NCCL on
GPUs); the HF Trainer and DeepSpeed pick that up. Rank 0 reports metrics, which a Tune driver forwards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from toolsweep.config.schema import SweepSpec

__all__ = ["scaling_config", "train_distributed"]


def scaling_config(spec: SweepSpec) -> Any:
    """One worker per training process, each with the sweep file's per-worker CPUs and GPUs."""
    from ray.train import ScalingConfig

    resources = spec.resources
    per_worker: dict[str, float] = {"CPU": resources.cpus_per_trial}
    if resources.gpus_per_trial:
        per_worker["GPU"] = resources.gpus_per_trial
    return ScalingConfig(num_workers=resources.workers, use_gpu=resources.gpus_per_trial > 0, resources_per_worker=per_worker)


def _worker_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker: the ordinary pipeline; rank 0 reports the metrics."""
    import ray.train

    from toolsweep.trainers.pipeline import run_pipeline

    spec = SweepSpec.model_validate(config["spec"])
    rank = ray.train.get_context().get_world_rank()
    last: dict[str, float] = {}

    def report(metrics: dict[str, float]) -> None:
        last.update(metrics)

    result = run_pipeline(
        spec, Path(config["out_dir"]), report if rank == 0 else None,
        evaluate_base=config["evaluate_base"], evaluate_test=config["evaluate_test"],
    )
    if rank == 0 and result.model_dir:
        # Ray Train V2 keeps the metrics of reports that carry a checkpoint; the final weights are that checkpoint.
        ray.train.report(dict(last), checkpoint=ray.train.Checkpoint.from_directory(result.model_dir))
    else:
        ray.train.report(dict(last))


def train_distributed(
    spec: SweepSpec,
    out_dir: Path,
    *,
    evaluate_base: bool = False,
    evaluate_test: bool = False,
) -> dict[str, float]:
    """Fit the pipeline on ``spec.resources.workers`` workers and return rank 0's final metrics."""
    from ray.train import RunConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from toolsweep.sweeps.ray_runtime import ensure_ray

    ensure_ray()
    out_dir = Path(out_dir).resolve()
    backend = "nccl" if spec.resources.gpus_per_trial > 0 else "gloo"
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"spec": spec.model_dump(mode="json"), "out_dir": str(out_dir), "evaluate_base": evaluate_base,
                           "evaluate_test": evaluate_test},
        scaling_config=scaling_config(spec),
        torch_config=TorchConfig(backend=backend),
        run_config=RunConfig(name="train", storage_path=tempfile.mkdtemp(prefix="toolsweep-train-")),
    )
    result = trainer.fit()
    if result.error is not None:
        raise result.error
    metrics = {k: float(v) for k, v in (result.metrics or {}).items() if isinstance(v, (int, float))}
    return metrics
