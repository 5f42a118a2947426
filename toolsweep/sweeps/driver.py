"""``toolsweep run``: the validated sweep → a Ray Tune experiment → a summary of every trial.

Layout of a run directory (``STORAGE/NAME``): ``tune/`` is Ray Tune's experiment (restorable with
``--resume``), ``trials/<id>/`` each trial's stages and results, ``stage_cache/`` the shared SFT results,
``summary.json`` the outcome (best trial, rule used, every trial's status and metrics).
``storage.path`` may be a shared path or an object-store URI (``toolsweep.cluster.storage``); for a URI the
driver keeps a local mirror of the run's small files for the summary and report, and uploads them at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from toolsweep.cluster.storage import open_run_storage
from toolsweep.cluster.workspace import mirror_trial_records, publish_run_files
from toolsweep.config.loader import Sweep
from toolsweep.config.schema import SweepSpec
from toolsweep.errors import UserError
from toolsweep.models.packaged import materialise
from toolsweep.models.registry import packaged_model
from toolsweep.records import SweepSummary
from toolsweep.sweeps.progress import EtaCallback, expected_trials, progress_reporter
from toolsweep.sweeps.ray_runtime import ensure_ray
from toolsweep.sweeps.results import summarize
from toolsweep.sweeps.searchers import build_scheduler, build_searcher, max_reports
from toolsweep.sweeps.trainable import make_trainable
from toolsweep.trainers.oom_retry import ray_max_failures

__all__ = ["EXPERIMENT", "run_sweep", "variants_cpus"]

EXPERIMENT = "tune"


def _trial_resources(sweep: Sweep) -> dict[str, float]:
    resources = sweep.spec.resources
    if resources.workers > 1:
        # The trial is only the driver of a Ray Train run, which requests its workers' resources itself.
        return {"cpu": 0.0}
    return {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial}


def _new_tuner(sweep: Sweep, trainable: Any, run_dir: str | Path) -> Any:
    from ray import tune

    spec = sweep.spec
    search = spec.search
    search_alg, param_space = build_searcher(search, sweep.space)
    horizon = max_reports(spec.sft.max_steps, spec.sft.eval_every, spec.dpo.max_steps, spec.dpo.eval_every)
    scheduler = build_scheduler(search, horizon)
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=search.metric,
            mode=search.mode,
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=search.num_samples,
            # random/grid carry the limit in their generator (Ray warns and ignores it here for them)
            max_concurrent_trials=search.max_concurrent_trials if search.algorithm in ("optuna", "hyperopt") else None,
        ),
        run_config=_run_config(sweep, run_dir),
    )


def _run_config(sweep: Sweep, run_dir: str | Path) -> Any:
    from ray import tune

    spec = sweep.spec
    return tune.RunConfig(
        name=EXPERIMENT,
        storage_path=str(run_dir),
        # Out-of-memory retries do not spend search.max_failures: Ray allows them too, the trainable counts crashes.
        failure_config=tune.FailureConfig(max_failures=ray_max_failures(spec, sweep.space)),
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=spec.storage.keep_checkpoints,
            checkpoint_score_attribute=spec.search.metric,
            checkpoint_score_order=spec.search.mode,
        ),
        progress_reporter=progress_reporter(sweep),
        callbacks=[EtaCallback(expected_trials(sweep))],
        verbose=1,
    )


def variants_cpus(spec: SweepSpec, node_cpus: list[float]) -> float:
    """CPUs for the variants task: it runs after the last trial, when the CPUs the sweep held at once are free,
    so it takes those (up to the largest node's) instead of one trial's. On the 2-core quickstart that is 2
    threads for its DPO-only run and three test evaluations, not 1 beside an idle core."""
    resources = spec.resources
    concurrent = spec.search.max_concurrent_trials or spec.search.num_samples
    held = resources.cpus_per_trial * resources.workers * concurrent
    return max(resources.cpus_per_trial, min(held, max(node_cpus, default=0.0)))


def _compute_variants_with(cpus: float, run_dir: str) -> dict[str, Any]:
    import torch

    from toolsweep.analysis.variants import compute_variants
    from toolsweep.trainers.hardware import torch_threads

    torch.set_num_threads(torch_threads(cpus))  # a reused Ray worker keeps the thread count of its last task
    return compute_variants(run_dir)


def _variants_task(sweep: Sweep) -> Any:
    """The variants table computed in a Ray task with one trial's GPUs (the driver may have none)."""
    import ray

    resources = sweep.spec.resources
    cpus = variants_cpus(sweep.spec, [n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")])
    task = ray.remote(num_cpus=cpus, num_gpus=resources.gpus_per_trial, max_retries=0)(_compute_variants_with)
    return lambda path: ray.get(task.remote(cpus, str(path)))


def run_sweep(sweep: Sweep, *, resume: bool = False, address: str | None = None, analyze: bool = True) -> SweepSummary:
    """Run (or resume) the sweep and return its summary, also written to ``RUN_DIR/summary.json``.
    With ``analyze``, then the variants table, the report files and the sweep-level W&B run."""
    from ray import tune

    from toolsweep.analysis.wandb_logging import resolve_wandb

    spec = sweep.spec
    storage = open_run_storage(spec.storage.path, spec.name)
    if not storage.is_local and spec.resources.workers > 1:
        raise UserError(f"storage.path {spec.storage.path!r}: multi-worker trials (resources.workers > 1) write their "
                        "stages from every worker; use a filesystem shared by all nodes (e.g. /mnt/efs/runs), not a URI")
    run_dir = storage.local_dir if storage.is_local else storage.scratch()  # for a URI: this driver's mirror
    experiment = storage.join(EXPERIMENT)
    exists = tune.Tuner.can_restore(experiment)
    if resume and not exists:
        raise UserError(f"--resume: no sweep to resume at {experiment}; run without --resume first")
    if not resume and exists:
        raise UserError(
            f"{storage.uri} already holds sweep {spec.name!r}; continue it with --resume, "
            "or give this run another name (--set name=NEW) or storage.path"
        )
    packaged = packaged_model(spec.model.name)
    if packaged is not None and address is None:
        materialise(packaged)  # once, here, rather than in the first trial while the others wait on its lock
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic table reporter shows our columns
    ensure_ray(address)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "sweep.json").write_text(json.dumps({"source": sweep.source, "spec": spec.model_dump(mode="json"),
                                                    "space": sorted(sweep.space)}, indent=2))
    wandb_settings = resolve_wandb(spec.wandb, spec.name, run_dir)
    trainable = tune.with_resources(make_trainable(sweep, storage, wandb_settings), _trial_resources(sweep))
    if resume:
        tuner = tune.Tuner.restore(experiment, trainable, resume_unfinished=True, resume_errored=True)
    else:
        tuner = _new_tuner(sweep, trainable, storage.uri)
    results = tuner.fit()
    mirror_trial_records(storage, run_dir)
    summary = summarize(results, sweep, run_dir, storage=storage.uri)
    (run_dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2, default=str))
    if analyze:
        from toolsweep.analysis.report import finish_sweep

        finish_sweep(run_dir, wandb_settings, _variants_task(sweep))
    publish_run_files(storage, run_dir)
    return summary
